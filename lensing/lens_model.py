"""The composite lens: a lens dict of mass components, checked in one place, summed into one deflection.

A *lens dict* maps parameter names to tensors. Its keys come in groups (``LENS_KEYS``), one per
mass component; any group may be absent, but a group is given whole or not at all:

========== ================================================================== =====================
group      keys                                                               profile
========== ================================================================== =====================
sie        theta_E, e1, e2, center_x, center_y                                ``mass.sie``
shear      gamma1, gamma2                                                     ``mass.shear``
point_mass sub_theta_E, sub_x, sub_y (+ optional sub_mask)                    ``mass.point_mass``
tnfw       tnfw_Rs, tnfw_alpha_Rs, tnfw_r_trunc, tnfw_x, tnfw_y (+ tnfw_mask) ``mass.tnfw``
line       line_theta_E, line_x, line_y, line_half_length, line_angle         ``mass.line_mass``
           (+ line_mask)
vortex     vortex_theta_E, vortex_x, vortex_y, vortex_half_length,            ``vortex.vortex``
           vortex_angle, vortex_n
annulus    ann_theta2, ann_r_in, ann_r_out, ann_x, ann_y                      ``compensation.uniform_annulus``
seg_mono   segm_theta2, segm_half_length, segm_d, segm_u0, segm_x, segm_y     ``compensation.segment_monopole``
========== ================================================================== =====================

``check(lens)`` is the one validation of a lens dict (unknown keys, partial groups, no mass at all,
a bad ``vortex_n``); ``deflection`` sums the components present and ``ray_shoot`` returns the
source-plane positions ``beta = theta - alpha``. Inside ``torch.compile`` (``lensing.render``) the
check is skipped: the caller checks the whole batch once before compiling.
"""

from __future__ import annotations

import torch

from lensbench.lensing import compensation, mass
from lensbench.lensing.vortex import VORTEX_KEYS, valid_n, vortex

__all__ = ["LENS_KEYS", "MASK_KEYS", "check", "deflection", "ray_shoot"]

LENS_KEYS = {
    "sie": ("theta_E", "e1", "e2", "center_x", "center_y"),
    "shear": ("gamma1", "gamma2"),
    "point_mass": ("sub_theta_E", "sub_x", "sub_y"),
    "tnfw": ("tnfw_Rs", "tnfw_alpha_Rs", "tnfw_r_trunc", "tnfw_x", "tnfw_y"),
    "line": ("line_theta_E", "line_x", "line_y", "line_half_length", "line_angle"),
    "vortex": VORTEX_KEYS,
    # mass compensation of the substructure (negative theta2): lensing/RECIPES.md, lensbench-v2
    "annulus": ("ann_theta2", "ann_r_in", "ann_r_out", "ann_x", "ann_y"),
    "seg_mono": ("segm_theta2", "segm_half_length", "segm_d", "segm_u0", "segm_x", "segm_y"),
}
# The optional (B, K) bool mask of each group with per-subhalo parameters.
MASK_KEYS = {"point_mass": "sub_mask", "tnfw": "tnfw_mask", "line": "line_mask"}


def check(lens: dict) -> None:
    """Raise KeyError for unknown keys, a partial group or no mass component, ValueError for a
    ``vortex_n`` that is not made of integers >= 2."""
    known = {k for ks in LENS_KEYS.values() for k in ks} | set(MASK_KEYS.values())
    unknown = set(lens) - known
    if unknown:
        raise KeyError(f"lensing.lens_model: unknown lens dict keys {sorted(unknown)}; expected groups {LENS_KEYS}")
    for name, ks in LENS_KEYS.items():
        present = [k for k in ks if k in lens]
        if present and len(present) != len(ks):
            raise KeyError(f"lensing.lens_model: lens dict has part of the {name!r} group; "
                           f"missing {[k for k in ks if k not in lens]}")
    if not any(all(k in lens for k in ks) for ks in LENS_KEYS.values()):
        raise KeyError(f"lensing.lens_model: lens dict has no mass component; expected groups {LENS_KEYS}")
    if "vortex_n" in lens and not valid_n(lens["vortex_n"]):
        raise ValueError(f"lensing.lens_model: vortex_n must be integers >= 2, got {lens['vortex_n']}")


def deflection(x, y, lens: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Total deflection ``(alpha_x, alpha_y)``, (B, H, W) each, of the components in ``lens``."""
    if not torch.compiler.is_compiling():
        check(lens)
    profiles = {"sie": mass.sie, "shear": mass.shear, "point_mass": mass.point_mass, "tnfw": mass.tnfw,
                "line": mass.line_mass, "vortex": vortex, "annulus": compensation.uniform_annulus,
                "seg_mono": compensation.segment_monopole}
    ax = ay = None
    for name, ks in LENS_KEYS.items():
        if ks[0] not in lens:
            continue
        extra = (lens.get(MASK_KEYS[name]),) if name in MASK_KEYS else ()
        px, py = profiles[name](x, y, *(lens[k] for k in ks), *extra)
        ax, ay = (px, py) if ax is None else (ax + px, ay + py)
    return ax, ay


def ray_shoot(x, y, lens: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Source-plane positions ``beta = theta - alpha(theta)``; (B, H, W) each."""
    ax, ay = deflection(x, y, lens)
    return x - ax, y - ay
