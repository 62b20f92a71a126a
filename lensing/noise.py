"""Observation noise: Poisson photon noise from an exposure time plus Gaussian background.

``noisy = Poisson(clip(img, 0) * t) / t + N(0, background_rms^2)`` with an explicit, seeded
``torch.Generator`` (reproducible per seed on one machine and device), ``noiseless=True`` returns the
input unchanged. ``exposure_time`` and ``background_rms`` are floats or per-image (B,) tensors;
``exposure_time <= 0`` or ``None`` disables the Poisson part. Not differentiable (sampling).
"""

from __future__ import annotations

import torch

__all__ = ["add_noise"]


def _per_image(v, img: torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(v, dtype=img.dtype, device=img.device)
    if t.ndim == 1:
        t = t.view(-1, *([1] * (img.ndim - 1)))
    elif t.ndim != 0:
        raise ValueError(f"lensing.noise.add_noise: parameter must be a float or (B,), got shape {tuple(t.shape)}")
    return t


def add_noise(img: torch.Tensor, exposure_time=None, background_rms=0.0,
              generator: torch.Generator | None = None, noiseless: bool = False) -> torch.Tensor:
    """Add Poisson + Gaussian background noise to a (B, H, W) noiseless image."""
    if noiseless:
        return img
    if generator is None:
        raise ValueError("lensing.noise.add_noise: pass a seeded torch.Generator (or noiseless=True)")
    out = img
    if exposure_time is not None:
        t = _per_image(exposure_time, img)
        if bool((t < 0).any()):
            raise ValueError("lensing.noise.add_noise: exposure_time must be >= 0")
        t_safe = torch.where(t > 0, t, torch.ones_like(t))
        counts = torch.poisson((img.clamp(min=0) * t_safe).detach(), generator=generator)
        out = torch.where(t > 0, counts / t_safe, img)
    bkg = _per_image(background_rms, img)
    if bool((bkg != 0).any()):
        noise = torch.randn(img.shape, dtype=img.dtype, device=img.device, generator=generator)
        out = out + bkg * noise
    return out
