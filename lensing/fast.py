"""Fast rendering: the images of ``lensing.render.render``, fused into a few loops by ``torch.compile``,
with the closed-form axion vortex (``lensing.vortex``).

``render(lens, source, instrument, ...)`` takes the same arguments and returns the same images as
``lensing.render.render`` (to float rounding: in float32 both are within about 1e-5 of the peak of
the float64 image, and within 1e-4 of lenstronomy, see ``perf/README.md``), and also accepts the
lens-dict group ``vortex`` (``lensing.vortex.VORTEX_KEYS``: n equal point masses on a segment, the
DeepLense axion vortex, at a cost independent of n). It runs the pipeline of ``render.render``
(ray shooting, Sersic and pixelised sources, sub-pixel mean, PSF, pixel area) on fixed-size blocks
of images through one ``torch.compile``d function, so that the SIE, shear, point masses (up to
``FUSED_POINT_MASSES`` per image), vortex and source light become a few fused elementwise loops.
Gradients flow as in eager mode.

Costs and caveats:

* the first call for a new (instrument, lens groups, number of point masses, block size, dtype,
  device) compiles, which takes 3-60 s on a CPU (inductor generates C++ and needs a C++ compiler;
  on CUDA it generates Triton); later calls, and later processes on the same machine (inductor's
  on-disk cache), reuse it. Batches smaller than a block are padded to a power of two;
* without a working compiler the first call warns once and the process renders eagerly (the same
  numbers, at eager speed); ``compile=False`` asks for eager mode;
* the datasets of version 1 are built by ``render.render`` (the dataset fingerprints,
  ``lensbench.data.store.SIMULATOR_CORE``, cover that path, not this one), so this is for throughput
  outside the frozen datasets: on-the-fly simulation, PINN physics layers, new dataset versions.

Speed against lenstronomy and caustics: ``perf/simulator.py`` (results in ``perf/README.md``).
"""

from __future__ import annotations

import warnings

import torch

from . import grid as _grid
from . import light as _light
from . import mass as _mass
from . import psf as _psf
from . import render as _render
from .instruments import Instrument
from .vortex import VORTEX_KEYS, valid_n, vortex

__all__ = ["BLOCK_PIXELS", "render"]

BLOCK_PIXELS = _render.BLOCK_PIXELS  # super-sampled pixels per compiled block (images are padded to it)

_state = {"compiled": None, "failed": False}
# Up to this many point masses per image are summed as an unrolled chain of elementwise terms, which
# inductor fuses into the one loop over pixels (measured on 2 CPU cores at 64x64: 3x faster than the
# chunked sum of ``mass.point_mass`` at K = 25 and 2.4x at K = 100, where a (B, K, H, W) reduction
# was 5x slower than it); the compile time grows with K, so above it ``mass.point_mass`` sums them.
FUSED_POINT_MASSES = 128
_POINT_KEYS = _mass.LENS_KEYS["point_mass"]


def _point_masses(x, y, te, cx, cy, mask):
    """Sum of K point masses (B, K) as K elementwise terms (one fused loop when compiled)."""
    if mask is not None:
        zero = torch.zeros((), dtype=te.dtype, device=te.device)
        te, cx, cy = (torch.where(mask, t, zero) for t in (te, cx, cy))  # te = 0: no contribution
    ax = ay = None
    for k in range(te.shape[1]):
        px, py = _mass._point_mass_kernel(x, y, te[:, k, None, None], cx[:, k, None, None], cy[:, k, None, None])
        ax, ay = (px, py) if ax is None else (ax + px, ay + py)
    return ax, ay


def _image(x, y, lens: dict, source: dict | None, source_image: dict | None, s: int, psf, area: float):
    """The pipeline of ``lensing.render._render``, plus the vortex group."""
    lens = dict(lens)
    parts = []
    if all(k in lens for k in VORTEX_KEYS):
        parts.append(vortex(x, y, *(lens.pop(k) for k in VORTEX_KEYS)))
    if all(k in lens for k in _POINT_KEYS) and lens["sub_theta_E"].ndim == 2 \
            and lens["sub_theta_E"].shape[1] <= FUSED_POINT_MASSES:
        te, cx, cy = (lens.pop(k) for k in _POINT_KEYS)
        parts.append(_point_masses(x, y, te, cx, cy, lens.pop("sub_mask", None)))
    if any(k in lens for ks in _mass.LENS_KEYS.values() for k in ks):
        parts.append(_mass.deflection(x, y, lens))
    ax, ay = parts[0]
    for px, py in parts[1:]:
        ax, ay = ax + px, ay + py
    bx, by = x - ax, y - ay
    sb = None
    if source is not None:
        sb = _light.sersic_ellipse(bx, by, **{k: source[k] for k in _render.SOURCE_KEYS})
    if source_image is not None:
        sbi = _light.interpolated(bx, by, **source_image)
        sb = sbi if sb is None else sb + sbi
    img = _grid.downsample(sb, s)
    if isinstance(psf, tuple):
        img = _psf.convolve_separable(img, None, matrices=psf)
    elif torch.is_tensor(psf):
        img = _psf.convolve(img, psf, padding="zeros")
    return img * area


def _check(lens: dict, source: dict | None, source_image: dict | None, instrument) -> None:
    if not isinstance(instrument, Instrument):
        raise TypeError("lensing.fast.render: instrument must be a lensing.instruments.Instrument")
    if source is None and source_image is None:
        raise ValueError("lensing.fast.render: give a Sersic `source` dict and/or a `source_image` dict")
    if source is not None:
        missing = [k for k in _render.SOURCE_KEYS if k not in source]
        if missing:
            raise KeyError(f"lensing.fast.render: source dict missing keys {missing}; expected {_render.SOURCE_KEYS}")
    groups = {**_mass.LENS_KEYS, "vortex": VORTEX_KEYS}
    known = {k for ks in groups.values() for k in ks} | {"sub_mask", "tnfw_mask", "line_mask"}
    unknown = set(lens) - known
    if unknown:
        raise KeyError(f"lensing.fast.render: unknown lens dict keys {sorted(unknown)}; expected groups {groups}")
    for name, ks in groups.items():
        present = [k for k in ks if k in lens]
        if present and len(present) != len(ks):
            raise KeyError(f"lensing.fast.render: lens dict has part of the {name!r} group; "
                           f"missing {[k for k in ks if k not in lens]}")
    if not any(all(k in lens for k in ks) for ks in groups.values()):
        raise KeyError(f"lensing.fast.render: lens dict has no mass component; expected groups {groups}")
    if "vortex_n" in lens and not valid_n(lens["vortex_n"]):  # checked here: vortex() cannot while compiling
        raise ValueError(f"lensing.fast.render: vortex_n must be integers >= 2, got {lens['vortex_n']}")


def _block_rows(d: dict | None, start: int, B: int, block: int, keep_2d=()) -> dict | None:
    """Rows ``start .. start + block`` of a parameter dict (``render._rows`` with an index), rows past
    the batch repeating its last one."""
    idx = torch.arange(start, start + block).clamp_(max=B - 1)
    return _render._rows(d, idx, B, keep_2d)


def _runner(compile: bool):
    if not compile or _state["failed"]:
        return _image
    if _state["compiled"] is None:
        _state["compiled"] = torch.compile(_image, dynamic=False)
    return _state["compiled"]


def render(lens: dict, source: dict | None, instrument: Instrument, *, source_image: dict | None = None,
           supersample: int | None = None, psf=True, compile: bool = True) -> torch.Tensor:
    """Noiseless (B, H, W) images, as ``lensing.render.render`` (same arguments, plus the ``vortex``
    lens group), computed in compiled blocks of ``BLOCK_PIXELS`` super-sampled pixels.

    ``compile=False`` runs the same pipeline eagerly. Images are independent of the batch they are
    rendered in except for float rounding; the same call is bit-identical run to run.
    """
    _check(lens, source, source_image, instrument)
    s = int(supersample if supersample is not None else instrument.supersample)
    ref = _render._ref_tensor(lens)
    x, y = _render._cached_grid(instrument.npix, float(instrument.pixel_scale), s, ref.dtype, ref.device)
    if psf is True:
        psf_arg = _render._cached_psf(instrument, ref.dtype, ref.device)
    elif psf is False or psf is None:
        psf_arg = None
    elif torch.is_tensor(psf) and psf.ndim == 2:
        psf_arg = psf
    elif torch.is_tensor(psf) and psf.ndim == 3:
        raise NotImplementedError("lensing.fast.render: per-image PSF kernels; use lensing.render.render")
    else:
        raise TypeError("lensing.fast.render: psf must be True, False/None or a kernel tensor")
    area = float(instrument.pixel_scale) ** 2
    B = _render._batch_size(lens, source, source_image)
    block = max(1, BLOCK_PIXELS // (instrument.npix * instrument.npix * s * s))
    block = min(block, 1 << (B - 1).bit_length())  # small batches: padded to a power of two (few compiles)
    outs = []
    for a in range(0, B, block):
        args = (x, y, _block_rows(lens, a, B, block), _block_rows(source, a, B, block),
                _block_rows(source_image, a, B, block, ("image",)), s, psf_arg, area)
        run = _runner(compile)
        try:
            out = run(*args)
        except Exception as err:
            if run is _image:
                raise
            out = _image(*args)  # raises here too if the error is the caller's, not the compiler's
            _state["failed"] = True
            warnings.warn(f"lensing.fast.render: torch.compile failed ({type(err).__name__}: {err}); "
                          "rendering eagerly from now on", RuntimeWarning, stacklevel=2)
        outs.append(out[: min(block, B - a)])
    return outs[0] if len(outs) == 1 else torch.cat(outs)
