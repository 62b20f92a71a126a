"""Image-plane pixel grids with lenstronomy's orientation, and block averaging.

The grid matches lenstronomy's ``Util.util.make_grid_with_coordtransform(..., inverse=True)``
(``transform_pix2angle = diag(-pixel_scale, pixel_scale)``, origin at the image centre):
for an image array indexed ``img[row, col]``

    x[row, col] = -(col - (n - 1) / 2) * pixel_scale      (ra increases to the left)
    y[row, col] =  (row - (n - 1) / 2) * pixel_scale      (dec increases with the row index)

A supersampled grid (factor ``s``) is the same construction with ``n * s`` pixels of size
``pixel_scale / s``; this equals lenstronomy's ``make_subgrid`` sub-pixel positions, and
``downsample`` (mean over ``s x s`` blocks) equals ``Util.image_util.re_size``.
"""

from __future__ import annotations

import torch

__all__ = ["downsample", "pixel_grid"]


def pixel_grid(npix: int, pixel_scale: float, supersample: int = 1,
               dtype: torch.dtype = torch.float32, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(x, y)`` angular coordinates (arcsec), each ``(npix*s, npix*s)``.

    Computed in float64 and cast, so float32 grids are exactly rounded.
    """
    if int(npix) != npix or npix < 1:
        raise ValueError(f"lensing.grid.pixel_grid: npix must be a positive int, got {npix!r}")
    if int(supersample) != supersample or supersample < 1:
        raise ValueError(f"lensing.grid.pixel_grid: supersample must be a positive int, got {supersample!r}")
    n = int(npix) * int(supersample)
    d = float(pixel_scale) / int(supersample)
    idx = torch.arange(n, dtype=torch.float64, device=device) - (n - 1) / 2.0
    x1 = -idx * d
    y1 = idx * d
    y, x = torch.meshgrid(y1, x1, indexing="ij")
    return x.to(dtype).contiguous(), y.to(dtype).contiguous()


def downsample(img: torch.Tensor, s: int) -> torch.Tensor:
    """Mean over ``s x s`` blocks of the last two axes: ``(..., H*s, W*s) -> (..., H, W)``."""
    s = int(s)
    if s == 1:
        return img
    *lead, hs, ws = img.shape
    if hs % s or ws % s:
        raise ValueError(f"lensing.grid.downsample: image shape {(hs, ws)} not divisible by factor {s}")
    return img.reshape(*lead, hs // s, s, ws // s, s).mean(dim=(-3, -1))


def per_image(v, ref: torch.Tensor) -> torch.Tensor:
    """A per-image parameter (scalar or (B,)) as a tensor broadcastable against (B, H, W)."""
    t = torch.as_tensor(v, dtype=ref.dtype, device=ref.device)
    if t.ndim == 0:
        return t
    if t.ndim == 1:
        return t.view(-1, 1, 1)
    raise ValueError(f"lensing: per-image parameter must be scalar or (B,), got shape {tuple(t.shape)}")


def batch3(a: torch.Tensor) -> torch.Tensor:
    """(H, W) -> (1, H, W); (B, H, W) unchanged."""
    return a if a.ndim == 3 else a.unsqueeze(0)
