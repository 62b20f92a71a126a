"""The DeepLense axion vortex in closed form: n equal point masses on a segment, at a cost
independent of n.

DeepLense (``deeplense/lens.py: make_vortex``) draws the vortex as ``n`` (100) lenstronomy
``POINT_MASS`` profiles of equal Einstein radius ``theta_E`` at ``center + t (cos angle, sin angle)``,
``t = linspace(-L, L, n)``. ``lensing.mass.point_mass`` sums them directly (cost ~ n per pixel);
``vortex`` sums them exactly through the digamma function psi:

    z = x + i y, u = exp(i angle), d = 2 L / (n - 1) (the spacing),
    s = ((z - c) conj(u) + L) / d          (position in spacings from the first mass),
    S = sum_{k=0}^{n-1} 1 / (s - k) = psi(1 + s) - psi(1 + s - n),
    alpha_x + i alpha_y = theta_E^2 / d * u * conj(S).

Each psi is taken at an argument with real part >= 1/2 through the reflection
psi(z) = psi(1 - z) - pi cot(pi z); the two cotangents cancel except beside the segment
(-1/2 <= Re s < n - 1/2), so S = psi(p1) - psi(p2) + [beside] pi cot(pi s) with p1 = 1 + s or -s
and p2 = 1 + s - n or n - s. psi(p1) - psi(p2) uses a few recurrence steps, then the asymptotic
series, with one log and one atan2 for the pair. pi cot(pi s) is written so that it neither
overflows far from the segment nor cancels at a mass, where it carries the 1/r pole (its
denominator is kept >= its value at ``POINT_MASS_R_MIN``, as ``point_mass`` clips r).

Equal to ``lensing.mass.point_mass`` on the same n masses to rounding (1e-13 arcsec in float64; in
float32 within a few 1e-6 arcsec of it, see ``tests/test_lensing_fast.py``). Branch-free elementwise
arithmetic: ``torch.compile`` fuses it into one loop (``lensing.render.render(..., compile=True)``).
It is the ``vortex`` group of a lens dict (``lensing.lens_model``); the dataset recipes render the
DeepLense point-mass vortex with it.
"""

from __future__ import annotations

import math

import torch

from lensbench.lensing.grid import per_image
from lensbench.lensing.mass import POINT_MASS_R_MIN

__all__ = ["VORTEX_KEYS", "valid_n", "vortex"]

# The keys of the ``vortex`` group of a lens dict (``lensing.lens_model.LENS_KEYS``).
VORTEX_KEYS = ("vortex_theta_E", "vortex_x", "vortex_y", "vortex_half_length", "vortex_angle", "vortex_n")

# psi(q) ~ ln q - 1/(2q) - sum_k B_2k / (2k q^2k): the coefficients of (1/q^2)^k, k = 1, 2, ...
_PSI_SERIES = (-1 / 12, 1 / 120, -1 / 252, 1 / 240, -1 / 132, 691 / 32760)
# (recurrence steps, series terms) per dtype: |q| >= steps + 1/2 when the series starts. float32:
# the first omitted term is < 1e-6 at |q| = 2.5; float64: < 1e-14 at |q| = 10.5.
_PSI_PLAN = {torch.float32: (2, 5), torch.float64: (10, 6)}


def valid_n(n) -> bool:
    """True when ``n`` (a python int or a tensor) is made of integers >= 2."""
    nt = torch.as_tensor(n)
    return not (bool((nt < 2).any()) or bool((nt != torch.round(nt)).any()))


def _psi_diff(ar, ai, br, bi, gr, gi, steps: int, terms: int):
    """psi(a) - psi(b) for Re a, Re b >= 1/2, as (real, imag); g = a - b, given exactly by the caller
    (far from the segment a and b are large and nearly equal, and a - b from their rounded values
    would lose digits)."""
    sr = si = 0.0
    for j in range(steps):  # psi(p) = psi(p + 1) - 1/p
        pr, qr = ar + j, br + j
        da, db = pr * pr + ai * ai, qr * qr + bi * bi
        sr = sr + qr / db - pr / da
        si = si - bi / db + ai / da
    ar, br = ar + steps, br + steps
    da, db = ar * ar + ai * ai, br * br + bi * bi
    # ln a - ln b: |a|^2 / |b|^2 - 1 = (g conj(a + b)).real / |b|^2, and arg(a conj(b)) (both
    # arguments lie in (-pi/2, pi/2), so this is their difference) has imag part gi br - gr bi
    # (log1p where the ratio is near 1, far from the segment; log of the ratio elsewhere)
    rel = (gr * (ar + br) + gi * (ai + bi)) / db
    lr = 0.5 * torch.where(rel.abs() < 0.5, torch.log1p(rel), torch.log(da / db))
    li = torch.atan2(gi * br - gr * bi, ar * br + ai * bi)
    out = []
    for qr, qi, d in ((ar, ai, da), (br, bi, db)):
        ir, ii = qr / d, -qi / d                       # 1/q
        tr, ti = ir * ir - ii * ii, 2 * ir * ii        # 1/q^2
        hr, hi = tr * _PSI_SERIES[terms - 1], ti * _PSI_SERIES[terms - 1]
        for c in reversed(_PSI_SERIES[:terms - 1]):    # Horner in 1/q^2, ending with a factor 1/q^2
            hr, hi = (hr + c) * tr - hi * ti, (hr + c) * ti + hi * tr
        out.append((hr - 0.5 * ir, hi - 0.5 * ii))
    (ha, hai), (hb, hbi) = out
    return lr + ha - hb + sr, li + hai - hbi + si


def _pi_cot_pi(x: torch.Tensor, y: torch.Tensor, den_min: torch.Tensor):
    """pi cot(pi (x + i y)) as (real, imag), with e = exp(-2 pi |y|) and xf = x - round(x):
    (2 pi e sin(2 pi xf) - i pi sign(y) (1 - e^2)) / ((1 - e)^2 + 4 e sin^2(pi xf))."""
    xf = x - torch.round(x)
    em = torch.expm1((-2 * math.pi) * y.abs())   # e - 1, exact near the segment
    e = 1 + em
    sx, cx = torch.sin(math.pi * xf), torch.cos(math.pi * xf)
    den = torch.maximum(em * em + 4 * e * sx * sx, den_min)
    re = (4 * math.pi) * e * sx * cx / den
    im = math.pi * torch.sign(y) * em * (2 + em) / den
    return re, im


def vortex(x, y, theta_E, center_x, center_y, half_length, angle, n):
    """Deflection (alpha_x, alpha_y), each (B, H, W), of ``n`` equal point masses (Einstein radius
    ``theta_E`` each) evenly spaced on the segment ``center +- half_length (cos angle, sin angle)``.

    x, y: (H, W) or (B, H, W) arcsec; theta_E, center_x, center_y, half_length, angle: scalars or
    (B,); n: an integer >= 2, a python int or a (B,) tensor. Differentiable in every float argument.
    """
    if not torch.is_tensor(x) or not x.is_floating_point():
        raise TypeError("lensing.vortex.vortex: x must be a floating torch tensor")
    steps, terms = _PSI_PLAN.get(x.dtype, _PSI_PLAN[torch.float64])
    if not torch.compiler.is_compiling() and not valid_n(n):
        raise ValueError(f"lensing.vortex.vortex: n must be an integer >= 2, got {n}")
    te, cx, cy = per_image(theta_E, x), per_image(center_x, x), per_image(center_y, x)
    L, ang, nn = per_image(half_length, x), per_image(angle, x), per_image(n, x)
    d = 2 * L / (nn - 1)
    ca, sa = torch.cos(ang), torch.sin(ang)
    dx, dy = x - cx, y - cy
    sr = (dx * ca + dy * sa + L) / d          # along the segment, in spacings from its first mass
    si = (dy * ca - dx * sa) / d              # across it
    start = sr >= -0.5
    end = sr >= nn - 0.5
    a_r, a_i = torch.where(start, 1 + sr, -sr), torch.where(start, si, -si)
    b_r, b_i = torch.where(end, 1 + sr - nn, nn - sr), torch.where(end, si, -si)
    beside = start & ~end
    zero = torch.zeros((), dtype=x.dtype, device=x.device)
    g_r = torch.where(beside, 1 + 2 * sr - nn, torch.where(start, nn, -nn))   # a - b, exactly
    g_i = torch.where(beside, 2 * si, zero)
    Sr, Si = _psi_diff(a_r, a_i, b_r, b_i, g_r, g_i, steps, terms)
    c_r, c_i = _pi_cot_pi(sr, si, (2 * math.pi * POINT_MASS_R_MIN / d) ** 2)  # den ~ (2 pi r / d)^2
    Sr = torch.where(beside, Sr + c_r, Sr)
    Si = torch.where(beside, Si + c_i, Si)
    k = te * te / d
    ax = k * (Sr * ca + Si * sa)
    ay = k * (Sr * sa - Si * ca)
    if ax.ndim == 2:
        ax, ay = ax.unsqueeze(0), ay.unsqueeze(0)
    return ax, ay
