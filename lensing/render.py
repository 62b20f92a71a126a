"""Render noiseless lensed images: ray shooting, source light, supersampling, PSF; eager or compiled.

The pipeline (``render_block``) reproduces lenstronomy's ``ImSim.image_model.ImageModel.image``
(regular grid, ``supersampling_convolution=False``):

1. image-plane grid with ``supersample`` sub-pixels per axis (``lensing.grid.pixel_grid``);
2. ``beta = theta - alpha(theta)`` for the lens dict (``lensing.lens_model.ray_shoot``: SIE, shear,
   point masses, TNFW, line masses and the closed-form axion vortex);
3. source surface brightness at beta: Sersic (``source`` dict) plus, optionally, an interpolated
   pixel source (``source_image`` dict, keys of ``lensing.light.interpolated``);
4. mean over sub-pixel blocks (``lensing.grid.downsample``);
5. PSF: ``psf=True`` uses the instrument's Gaussian kernel with edge-replicating padding
   (lenstronomy's Gaussian PSF = ``scipy.ndimage.gaussian_filter(mode='nearest')``), applied as
   two banded matmuls (``lensing.psf.convolve_separable``); a tensor
   ``psf`` (k, k) or (B, k, k) is a pixelised kernel applied with zero padding (lenstronomy 'PIXEL'
   PSF, ``fftconvolve(mode='same')``); ``psf=False``/``None`` skips it;
6. multiply by the pixel area ``pixel_scale**2`` (lenstronomy returns flux per pixel).

``render`` checks its arguments once (``check``, with ``lensing.lens_model.check``), then runs
``render_block`` on blocks of about ``BLOCK_PIXELS`` super-sampled pixels (so that the elementwise
passes stay in the CPU cache), in one of two ways:

* ``compile=False`` (the default): eagerly, block by block;
* ``compile=True``: through one ``torch.compile``d copy of ``render_block``, which fuses the SIE,
  shear, point masses (up to ``lensing.mass.FUSED_POINT_MASSES`` per image), vortex and source light
  into a few elementwise loops: 3-4x the eager speed at 64x64 on a CPU (``perf/README.md``). Every
  block has the same size (the last one padded by repeating the last image; a batch smaller than a
  block padded to a power of two) and point-mass groups are padded with masked masses to a multiple
  of ``POINT_MASS_BUCKET``, so that other batch sizes and subhalo counts reuse the compiled code.
  The first call for a new (grid, supersampling, lens groups, block size, dtype, device) compiles
  (3-60 s on a CPU, where inductor needs a C++ compiler; Triton on CUDA); inductor's on-disk cache
  serves later processes. If compiling fails, the call warns once and the process renders eagerly
  from then on (the same images, at eager speed).

Both ways return the same images to float rounding (float32: within about 1e-5 of the peak).
Images are independent of the batch they are rendered in except for float rounding; the same call
is bit-identical run to run. The dataset builders (``lensing.recipes``) choose between the two with
``compile_default`` (``$LENSBENCH_COMPILE``: compiled for builds of ``COMPILE_MIN_IMAGES`` or more
images per call unless set to 0). dtype and device follow the tensors in ``lens``.
"""

from __future__ import annotations

import functools
import os
import warnings

import torch

from lensbench.lensing import lens_model
from lensbench.lensing.grid import downsample, pixel_grid
from lensbench.lensing.instruments import Instrument
from lensbench.lensing.light import interpolated, sersic_ellipse
from lensbench.lensing.psf import convolve, convolve_separable

__all__ = ["BLOCK_PIXELS", "COMPILE_ENV", "COMPILE_MIN_IMAGES", "POINT_MASS_BUCKET", "SOURCE_KEYS", "check",
           "compile_default", "render", "render_block"]

BLOCK_PIXELS = 1 << 18  # super-sampled pixels per block of images (1 MB per float32 pass)
SOURCE_KEYS = ("amp", "R_sersic", "n_sersic", "e1", "e2", "center_x", "center_y")
POINT_MASS_BUCKET = 8   # compiled: point-mass groups padded to a multiple of this many masses
COMPILE_ENV = "LENSBENCH_COMPILE"
COMPILE_MIN_IMAGES = 256  # compile_default: builds of fewer images per call stay eager unless asked
# One compiled function serves every configuration (each is a recompile); torch's default limit of 8
# per function would silently send the 9th configuration of a process to eager mode.
RECOMPILE_LIMIT = 64

_state = {"compiled": None, "failed": False}


def compile_default(n_images: int) -> bool:
    """Whether a dataset builder that renders ``n_images`` images in one call compiles.

    ``$LENSBENCH_COMPILE``: ``0`` (or false, no, off) never, ``1`` (or true, yes, on) always; unset
    (or ``auto``) when ``n_images >= COMPILE_MIN_IMAGES``: each new configuration compiles for 3-20 s,
    which pays only over hundreds of images, so small builds (tests, CI) stay eager.
    """
    value = os.environ.get(COMPILE_ENV, "auto").strip().lower()
    if value in ("0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("", "auto"):
        return int(n_images) >= COMPILE_MIN_IMAGES
    raise ValueError(f"${COMPILE_ENV}={os.environ[COMPILE_ENV]!r}: expected 0, 1 or auto")


@functools.lru_cache(maxsize=32)
def _cached_grid(npix, pixel_scale, s, dtype, device):
    return pixel_grid(npix, pixel_scale, s, dtype=dtype, device=device)


@functools.lru_cache(maxsize=32)
def _cached_psf(inst: Instrument, dtype, device):
    return inst.psf_matrices(dtype=dtype, device=device)


def _ref_tensor(lens: dict) -> torch.Tensor:
    for v in lens.values():
        if torch.is_tensor(v) and v.is_floating_point():
            return v
    raise TypeError("lensing.render.render: lens dict must contain floating torch tensors")


def _batch_size(lens: dict, source: dict | None, source_image: dict | None) -> int:
    """B: the leading size of the per-image parameters (a 2-D source image is shared, not per image)."""
    image = {k: v for k, v in (source_image or {}).items() if not (k == "image" and torch.is_tensor(v) and v.ndim == 2)}
    sizes = {v.shape[0] for d in (lens, source or {}, image) for v in d.values() if torch.is_tensor(v) and v.ndim >= 1}
    return max(sizes, default=1)


def _rows(d: dict | None, rows, B: int, keep_2d: tuple[str, ...] = ()) -> dict | None:
    """The images ``rows`` (a slice or an index tensor) of a parameter dict: per-image tensors (leading
    dim B) are indexed; scalars and shared tensors (and 2-D ``keep_2d`` entries, e.g. one source image
    or one PSF kernel for all) are kept."""
    if d is None:
        return None
    return {k: (v[rows] if torch.is_tensor(v) and v.ndim >= 1 and v.shape[0] == B
                and not (k in keep_2d and v.ndim == 2) else v) for k, v in d.items()}


def _pad_point_masses(lens: dict) -> dict:
    """The point-mass group padded with masked masses (theta_E 0: exact zeros) to a multiple of
    ``POINT_MASS_BUCKET`` per image."""
    if "sub_theta_E" not in lens:
        return lens
    ref = _ref_tensor(lens)
    cols = {k: torch.as_tensor(lens[k], dtype=ref.dtype, device=ref.device) for k in ("sub_theta_E", "sub_x", "sub_y")}
    cols["sub_mask"] = torch.as_tensor(lens.get("sub_mask", True), dtype=torch.bool, device=ref.device)
    cols = {k: t[:, None] if t.ndim == 1 else t for k, t in cols.items()}  # (B,) -> (B, 1)
    shape = torch.broadcast_shapes(*(t.shape for t in cols.values()))
    if len(shape) != 2 or shape[1] % POINT_MASS_BUCKET == 0:
        return lens
    pad = -shape[1] % POINT_MASS_BUCKET
    return {**lens, **{k: torch.cat([t.expand(shape), t.new_zeros(shape[0], pad)], dim=1) for k, t in cols.items()}}


def check(lens: dict, source: dict | None, source_image: dict | None, instrument, psf=True) -> None:
    """The checks of ``render``'s arguments (``lensing.lens_model.check`` for the lens dict)."""
    if not isinstance(instrument, Instrument):
        raise TypeError("lensing.render.render: instrument must be a lensing.instruments.Instrument")
    if source is None and source_image is None:
        raise ValueError("lensing.render.render: give a Sersic `source` dict and/or a `source_image` dict")
    if source is not None:
        missing = [k for k in SOURCE_KEYS if k not in source]
        if missing:
            raise KeyError(f"lensing.render.render: source dict missing keys {missing}; expected {SOURCE_KEYS}")
    if not (psf is True or psf is False or psf is None or (torch.is_tensor(psf) and psf.ndim in (2, 3))):
        raise TypeError("lensing.render.render: psf must be True, False/None or a (k, k) or (B, k, k) kernel tensor")
    lens_model.check(lens)


def render_block(x, y, lens: dict, source: dict | None, source_image: dict | None, supersample: int, psf,
                 area: float) -> torch.Tensor:
    """Steps 2-6 of the pipeline for one block of images on the super-sampled grid ``(x, y)``:
    (B, H, W) images. ``psf``: the (A_H, A_W) matrices of ``lensing.psf.convolve_separable``, a
    kernel tensor or None; ``area``: the pixel area. Arguments are not checked (``render`` checks
    them once); this is the function that ``render(..., compile=True)`` compiles."""
    bx, by = lens_model.ray_shoot(x, y, lens)
    sb = None
    if source is not None:
        sb = sersic_ellipse(bx, by, **{k: source[k] for k in SOURCE_KEYS})
    if source_image is not None:
        sbi = interpolated(bx, by, **source_image)
        sb = sbi if sb is None else sb + sbi
    img = downsample(sb, supersample)
    if isinstance(psf, tuple):
        img = convolve_separable(img, None, matrices=psf)
    elif psf is not None:
        img = convolve(img, psf, padding="zeros")
    return img * area


def _recompile_limit():
    """A context raising torch's recompile limit to ``RECOMPILE_LIMIT`` (dynamo is imported only when
    compiling: importing it takes about a second)."""
    import torch._dynamo

    config = torch._dynamo.config
    name = "recompile_limit" if hasattr(config, "recompile_limit") else "cache_size_limit"  # torch < 2.6
    return config.patch(**{name: RECOMPILE_LIMIT})


def compile_failed() -> bool:
    """Whether ``torch.compile`` failed in this process (every later render is eager)."""
    return bool(_state["failed"])


def _run(args: tuple, compile: bool) -> torch.Tensor:
    """``render_block(*args)``, compiled when asked and possible (eager after a compile failure)."""
    if not compile or _state["failed"]:
        return render_block(*args)
    if _state["compiled"] is None:
        _state["compiled"] = torch.compile(render_block, dynamic=False)
    try:
        with _recompile_limit():
            return _state["compiled"](*args)
    except Exception as err:  # noqa: BLE001 (any compiler failure; a caller error re-raises below)
        out = render_block(*args)  # raises here too if the error is the caller's, not the compiler's
        _state["failed"] = True
        warnings.warn(f"lensing.render.render: torch.compile failed ({type(err).__name__}: {err}); "
                      "rendering eagerly from now on", RuntimeWarning, stacklevel=3)
        return out


def render(lens: dict, source: dict | None, instrument: Instrument, *, source_image: dict | None = None,
           supersample: int | None = None, psf=True, compile: bool = False) -> torch.Tensor:
    """Noiseless (B, H, W) images of ``source`` (+ ``source_image``) lensed by ``lens``.

    ``lens``: a lens dict (``lensing.lens_model.LENS_KEYS``); ``source``: a Sersic dict
    (``SOURCE_KEYS``); ``source_image``: keys of ``lensing.light.interpolated``; ``supersample``:
    sub-pixels per axis (default the instrument's); ``psf``: see the module docstring; ``compile``:
    run the blocks through ``torch.compile`` (see the module docstring) or eagerly.
    """
    check(lens, source, source_image, instrument, psf)
    s = int(supersample if supersample is not None else instrument.supersample)
    ref = _ref_tensor(lens)
    x, y = _cached_grid(instrument.npix, float(instrument.pixel_scale), s, ref.dtype, ref.device)
    kernel = _cached_psf(instrument, ref.dtype, ref.device) if psf is True else (psf if torch.is_tensor(psf) else None)
    area = float(instrument.pixel_scale) ** 2
    B = _batch_size(lens, source, source_image)
    block = max(1, BLOCK_PIXELS // (instrument.npix * instrument.npix * s * s))
    if compile:
        block = min(block, 1 << (B - 1).bit_length())
        lens = _pad_point_masses(lens)
    outs = []
    for a in range(0, B, block):
        rows = torch.arange(a, a + block).clamp_(max=B - 1) if compile else slice(a, a + block)
        blk = kernel if not torch.is_tensor(kernel) else _rows({"psf": kernel}, rows, B, ("psf",))["psf"]
        args = (x, y, _rows(lens, rows, B), _rows(source, rows, B), _rows(source_image, rows, B, ("image",)), s,
                blk, area)
        outs.append(_run(args, compile)[: min(block, B - a)])
    return outs[0] if len(outs) == 1 else torch.cat(outs)
