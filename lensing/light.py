"""Source light profiles in torch (surface brightness), batched and differentiable.

* ``sersic_ellipse``: lenstronomy ``SERSIC_ELLIPSE`` exactly (``LightModel/Profiles/sersic.py`` and
  ``LensModel/Profiles/sersic_utils.py``): ``amp`` is the surface brightness at ``R_sersic``;
  ``b_n = max(1.9992 n - 0.3271, 1e-5)``; the elliptical radius uses lenstronomy's
  ``transform_e1e2_product_average`` (x' = ((1 - e1) dx - e2 dy) / norm, y' = (-e2 dx + (1 + e1) dy)
  / norm, norm = sqrt(max(|1 - e1^2 - e2^2|, 1e-6))); R and R_sersic are smoothed as
  ``max(R, 1e-4)`` (lenstronomy's ``smoothing``); zero beyond ``max_R_frac = 1000`` R_sersic.
* ``interpolated``: a pixelised source image (real galaxies), lenstronomy ``INTERPOL`` conventions:
  source pixel coordinates ``(col, row) = rotate(((x - cx) / scale, (y - cy) / scale), phi_G)``
  measured from the image centre (so ``+x`` goes to increasing column, ``+y`` to increasing row),
  bilinear interpolation between pixel centres with zero outside the image, ``amp`` multiplies.
  lenstronomy pads the image with one ring of zeros and evaluates a linear ``RectBivariateSpline``
  clamped to the padded box; that is exactly bilinear interpolation with zero padding, which is what
  ``torch.nn.functional.grid_sample(mode='bilinear', padding_mode='zeros', align_corners=True)``
  computes, so the two agree to rounding. Differences: lenstronomy caches one interpolator per
  image; here every image in the batch has its own source image (B, h, w) and the result is
  differentiable w.r.t. the image, the coordinates and (scale, centre, phi_G).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lensbench.lensing.grid import batch3, per_image

__all__ = ["SERSIC_SMOOTHING", "b_n", "interpolated", "sersic_ellipse"]

SERSIC_SMOOTHING = 1e-4
SERSIC_MAX_R_FRAC = 1000.0






def b_n(n: torch.Tensor) -> torch.Tensor:
    """lenstronomy's Sersic b_n approximation (Ciotti & Bertin style linear fit)."""
    return (1.9992 * n - 0.3271).clamp(min=1e-5)


def sersic_ellipse(x, y, amp, R_sersic, n_sersic, e1, e2, center_x=0.0, center_y=0.0):
    """Elliptical Sersic surface brightness (lenstronomy ``SERSIC_ELLIPSE``) -> (B, H, W)."""
    if not torch.is_tensor(x) or not x.is_floating_point():
        raise TypeError("lensing.light.sersic_ellipse: x must be a floating torch tensor")
    amp, Rs, n = per_image(amp, x), per_image(R_sersic, x), per_image(n_sersic, x)
    e1, e2 = per_image(e1, x), per_image(e2, x)
    dx, dy = x - per_image(center_x, x), y - per_image(center_y, x)
    norm = torch.sqrt((1 - e1 * e1 - e2 * e2).abs().clamp(min=1e-6))
    xe = dx * ((1 - e1) / norm) - dy * (e2 / norm)
    ye = dy * ((1 + e1) / norm) - dx * (e2 / norm)
    R2 = (xe * xe + ye * ye).clamp(min=SERSIC_SMOOTHING ** 2)
    Rs_ = Rs.clamp(min=SERSIC_SMOOTHING)
    bn = b_n(n)
    # (R / Rs)^(1/n) = exp(log(R^2) / (2n) - log(Rs) / n); I = amp exp(-bn ((R/Rs)^(1/n) - 1))
    t = torch.exp(torch.log(R2) * (0.5 / n) - torch.log(Rs_) / n)
    if torch.compiler.is_compiling() or not bool((amp > 0).all()):
        # branch-free (no data-dependent test inside torch.compile): amp folded into the exponent
        # where amp > 0, multiplied elsewhere
        pos = amp > 0
        val = torch.exp(torch.where(pos, bn + torch.log(torch.where(pos, amp, 1.0)), bn) - bn * t)
        val = torch.where(pos, val, amp * val)
    else:
        val = torch.exp(bn + torch.log(amp) - bn * t)
    return batch3(val.masked_fill(R2 > (SERSIC_MAX_R_FRAC * Rs_) ** 2, 0.0))


def interpolated(x, y, image, scale, center_x=0.0, center_y=0.0, phi_G=0.0, amp=1.0):
    """Bilinearly interpolated pixel source (lenstronomy ``INTERPOL``) -> (B, H, W).

    image: (B, h, w) or (h, w) surface brightness; scale: arcsec per source pixel ((B,) or float);
    phi_G: rotation (radians). x, y: (H, W) or (B, H, W) source-plane positions.
    """
    if not torch.is_tensor(image) or image.ndim not in (2, 3):
        raise ValueError("lensing.light.interpolated: image must be a (B, h, w) or (h, w) tensor")
    img = image if image.ndim == 3 else image.unsqueeze(0)
    img = img.to(dtype=x.dtype, device=x.device)
    scale, cx, cy, phi = per_image(scale, x), per_image(center_x, x), per_image(center_y, x), per_image(phi_G, x)
    xs = (x - cx) / scale
    ys = (y - cy) / scale
    c, s = torch.cos(phi), torch.sin(phi)
    col = xs * c + ys * s
    row = -xs * s + ys * c
    col, row = batch3(col), batch3(row)
    B = max(img.shape[0], col.shape[0])
    h, w = img.shape[-2:]
    gx = col / ((w - 1) / 2.0) if w > 1 else col * 0
    gy = row / ((h - 1) / 2.0) if h > 1 else row * 0
    grid = torch.stack([gx, gy], dim=-1).expand(B, *col.shape[1:], 2)
    out = F.grid_sample(img.expand(B, h, w).unsqueeze(1), grid, mode="bilinear",
                        padding_mode="zeros", align_corners=True)[:, 0]
    return per_image(amp, x) * out
