"""Seeding and brightness helpers of recipe generation: stable per-stage generators, the Sersic
unit flux, the matched-filter SNR and the source amplitude that reaches a target SNR."""

from __future__ import annotations

import hashlib
import math

import torch


def stage_generator(*parts) -> torch.Generator:
    """A CPU generator seeded from a stable hash of ``parts``."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    g = torch.Generator(device="cpu")
    g.manual_seed(int.from_bytes(digest[:8], "little") & ((1 << 63) - 1))
    return g


def sersic_unit_flux(R: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
    """Total flux of a lenstronomy SERSIC_ELLIPSE with amp = 1 (product-average radius)."""
    bn = torch.clamp(1.9992 * n - 0.3271, min=1e-5)
    return R**2 * 2 * math.pi * n * torch.exp(bn + torch.lgamma(2 * n)) / bn ** (2 * n)


def matched_snr(img: torch.Tensor, exposure_time: torch.Tensor, background_rms: float) -> torch.Tensor:
    """sqrt(sum s^2 / (s/t + sigma^2)) per image; img (B, H, W), exposure_time (B,)."""
    s = img.clamp(min=0).double()
    var = s / exposure_time.double().view(-1, 1, 1) + background_rms**2
    return torch.sqrt((s * s / var).sum(dim=(-2, -1)))


def solve_amp_for_snr(unit_img: torch.Tensor, target: torch.Tensor, exposure_time: torch.Tensor,
                      background_rms: float, iters: int = 48) -> torch.Tensor:
    """Scale ``a`` (B,) with matched_snr(a * unit_img) = target (monotone in a; bisection in log a).

    Bracket: the background-only SNR a sqrt(sum s^2) / sigma is an upper bound, so
    a >= a0 = target sigma / sqrt(sum s^2); the solution lies below a0 * 1e6 for any sane image.
    """
    s = unit_img.clamp(min=0).double()
    t = exposure_time.double().view(-1, 1, 1)
    target = target.double()
    a0 = target * background_rms / torch.sqrt((s * s).sum(dim=(-2, -1))).clamp(min=1e-300)
    lo, hi = torch.log(a0), torch.log(a0) + math.log(1e6)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        a = torch.exp(mid).view(-1, 1, 1)
        snr = torch.sqrt(((a * s) ** 2 / (a * s / t + background_rms**2)).sum(dim=(-2, -1)))
        below = snr < target
        lo = torch.where(below, mid, lo)
        hi = torch.where(below, hi, mid)
    return torch.exp(0.5 * (lo + hi))
