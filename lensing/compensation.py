"""Mass-compensation profiles: negative axisymmetric components that take substructure mass from the
host instead of adding it (the ``lensbench-v2`` recipes, ``lensing/RECIPES.md``).

A substructure component added to a macro lens moves the Einstein ring outwards, a global change a
classifier can read without seeing any substructure. Each profile here has the *monopole* (the
enclosed-mass profile about a centre c) of a substructure population; given a negative mass it
cancels that monopole, so the azimuthally averaged deflection, hence the ring, stays the macro
lens's. Masses are written as a signed Einstein radius^2 ``theta2`` (the Einstein radius^2 of a point
mass of equal mass). By Gauss's law an axisymmetric component deflects by
alpha = theta2 f(r) (x - c) / r^2, f(r) the fraction of its mass inside radius r; r is clipped at
``COMP_R_MIN``.

* ``uniform_annulus``: uniform surface density over r_in <= r <= r_out,
  f = (clip(r, r_in, r_out)^2 - r_in^2) / (r_out^2 - r_in^2): the mean profile of subhalos placed
  uniformly in area over that annulus.
* ``segment_monopole``: the azimuthal average of a uniform segment of half-length L whose midpoint
  lies at (u0, d) from c (u0 along the segment, d >= 0 perpendicular to it): f = chord(r) / (2 L),
  chord(r) = [min(u0 + L, s) - max(u0 - L, -s)]_+ the length of the segment inside radius r,
  s = sqrt(max(r^2 - d^2, 0)) (continuous in r). With ``theta2 < 0`` it removes the monopole of
  ``mass.line_mass`` exactly.

Neither is a lenstronomy profile. Parameters are (B,) (python floats broadcast); x, y are (H, W) or
(B, H, W) floating tensors; outputs are (B, H, W) pairs ``(alpha_x, alpha_y)``.
"""

from __future__ import annotations

import torch

from lensbench.lensing.grid import batch3, per_image
from lensbench.lensing.mass import LINE_L_MIN

__all__ = ["COMP_R_MIN", "segment_monopole", "uniform_annulus"]

COMP_R_MIN = 1e-6  # arcsec


def _radius2(x, y, center_x, center_y):
    """(dx, dy, r^2) about the centre, r clipped at COMP_R_MIN."""
    if not (torch.is_tensor(x) and torch.is_tensor(y) and x.is_floating_point()):
        raise TypeError("lensing.compensation: x and y must be floating torch tensors")
    dx, dy = x - per_image(center_x, x), y - per_image(center_y, x)
    return dx, dy, (dx * dx + dy * dy).clamp(min=COMP_R_MIN ** 2)


def uniform_annulus(x, y, theta2, r_in, r_out, center_x=0.0, center_y=0.0):
    """Uniform annulus r_in <= r <= r_out of total (signed) Einstein radius^2 ``theta2``.

    ``theta2 < 0`` gives the negative sheet that compensates a subhalo population spread uniformly
    in area over the same annulus.
    """
    dx, dy, r2 = _radius2(x, y, center_x, center_y)
    w, a, b = per_image(theta2, x), per_image(r_in, x), per_image(r_out, x)
    rc = torch.minimum(torch.maximum(torch.sqrt(r2), a), b)
    f = w * (rc * rc - a * a) / (b * b - a * a).clamp(min=1e-12) / r2
    return batch3(f * dx), batch3(f * dy)


def segment_monopole(x, y, theta2, half_length, d, u0, center_x=0.0, center_y=0.0):
    """Monopole about the centre of a uniform segment of (signed) Einstein radius^2 ``theta2``.

    half_length: L; d >= 0 and u0: the midpoint's distance perpendicular to / along the segment from
    the centre.
    """
    dx, dy, r2 = _radius2(x, y, center_x, center_y)
    w, L = per_image(theta2, x), per_image(half_length, x).clamp(min=LINE_L_MIN)
    dd, uu = per_image(d, x), per_image(u0, x)
    s = torch.sqrt((r2 - dd * dd).clamp(min=0.0))
    chord = (torch.minimum(uu + L, s) - torch.maximum(uu - L, -s)).clamp(min=0.0)
    f = w * chord / (2 * L) / r2
    return batch3(f * dx), batch3(f * dy)
