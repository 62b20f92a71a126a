"""Render noiseless lensed images: ray shooting, source light, supersampling, PSF.

The pipeline reproduces lenstronomy's ``ImSim.image_model.ImageModel.image`` (regular grid,
``supersampling_convolution=False``):

1. image-plane grid with ``supersample`` sub-pixels per axis (``lensing.grid.pixel_grid``);
2. ``beta = theta - alpha(theta)`` (``lensing.mass.ray_shoot``);
3. source surface brightness at beta: Sersic (``source`` dict) plus, optionally, an interpolated
   pixel source (``source_image`` dict, keys of ``lensing.light.interpolated``);
4. mean over sub-pixel blocks (``lensing.grid.downsample``);
5. PSF: ``psf=True`` uses the instrument's Gaussian kernel with edge-replicating padding
   (lenstronomy's Gaussian PSF = ``scipy.ndimage.gaussian_filter(mode='nearest')``); a tensor
   ``psf`` (k, k) or (B, k, k) is a pixelised kernel applied with zero padding (lenstronomy 'PIXEL'
   PSF, ``fftconvolve(mode='same')``); ``psf=False``/``None`` skips it;
6. multiply by the pixel area ``pixel_scale**2`` (lenstronomy returns flux per pixel).

dtype and device follow the tensors in ``lens``.
"""

from __future__ import annotations

import functools

import torch

from . import grid as _grid
from . import light as _light
from . import mass as _mass
from . import psf as _psf
from .instruments import Instrument

__all__ = ["render", "SOURCE_KEYS"]

SOURCE_KEYS = ("amp", "R_sersic", "n_sersic", "e1", "e2", "center_x", "center_y")


@functools.lru_cache(maxsize=32)
def _cached_grid(npix, pixel_scale, s, dtype, device):
    return _grid.pixel_grid(npix, pixel_scale, s, dtype=dtype, device=device)


@functools.lru_cache(maxsize=32)
def _cached_kernel(inst: Instrument, dtype, device):
    return inst.psf_kernel(dtype=dtype, device=device)


def _ref_tensor(lens: dict) -> torch.Tensor:
    for v in lens.values():
        if torch.is_tensor(v) and v.is_floating_point():
            return v
    raise TypeError("lensing.render.render: lens dict must contain floating torch tensors")


def render(lens: dict, source: dict | None, instrument: Instrument, *, source_image: dict | None = None,
           supersample: int | None = None, psf=True) -> torch.Tensor:
    """Noiseless (B, H, W) image of ``source`` (+ ``source_image``) lensed by ``lens``."""
    if not isinstance(instrument, Instrument):
        raise TypeError("lensing.render.render: instrument must be a lensing.instruments.Instrument")
    if source is None and source_image is None:
        raise ValueError("lensing.render.render: give a Sersic `source` dict and/or a `source_image` dict")
    ref = _ref_tensor(lens)
    s = int(supersample if supersample is not None else instrument.supersample)
    x, y = _cached_grid(instrument.npix, float(instrument.pixel_scale), s, ref.dtype, ref.device)
    bx, by = _mass.ray_shoot(x, y, lens)
    sb = None
    if source is not None:
        missing = [k for k in SOURCE_KEYS if k not in source]
        if missing:
            raise KeyError(f"lensing.render.render: source dict missing keys {missing}; expected {SOURCE_KEYS}")
        sb = _light.sersic_ellipse(bx, by, **{k: source[k] for k in SOURCE_KEYS})
    if source_image is not None:
        sbi = _light.interpolated(bx, by, **source_image)
        sb = sbi if sb is None else sb + sbi
    img = _grid.downsample(sb, s)
    if psf is True:
        kernel = _cached_kernel(instrument, ref.dtype, ref.device)
        if kernel is not None:
            img = _psf.convolve(img, kernel, padding="nearest")
    elif torch.is_tensor(psf):
        img = _psf.convolve(img, psf, padding="zeros")
    elif psf not in (False, None):
        raise TypeError("lensing.render.render: psf must be True, False/None or a kernel tensor")
    return img * (instrument.pixel_scale ** 2)
