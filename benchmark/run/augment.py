"""Dihedral (D4) augmentation of lensing images, with the matching transformation of the targets.

Why it is valid. Lensing is invariant under rotations and reflections of the sky: rotating (or
mirroring) every mass and every source rotates (mirrors) the lensed image, and the image of the
transformed scene is exactly the transformed image. The 8 symmetries of a square (rotations by
0/90/180/270 degrees, each with or without a mirror) map the pixel grid onto itself, pixel centre to
pixel centre (``lensing.grid``: origin at the image centre, square pixels), so no interpolation is
needed, the noise stays independent per pixel and the sub-pixel (supersampling) grid maps onto
itself too. The PSF must be D4-symmetric as well: every recipe uses a round Gaussian PSF
(``lensing.psf.gaussian_kernel``: separable, symmetric, edge-replicating padding that commutes
with flips and transposes), so simulated images are exactly equivariant (``tests/test_augment.py``
renders both sides). Real images satisfy it only as far as their PSF is round; an elongated or
asymmetric PSF breaks the symmetry. Intrinsic properties of the population (galaxy shapes,
subhalo positions, vortex orientations) are drawn isotropically by every recipe, so the
transformed image is as likely as the original one.

Convention (``lensing.grid``): an image ``img[..., row, col]`` has sky coordinates
``x = -(col - c) * pixel_scale``, ``y = (row - c) * pixel_scale``, c = (n - 1) / 2. An element is
``(k, flip)``: ``torch.rot90(img, k, dims=(-2, -1))`` then, if ``flip``, ``torch.flip(img, (-1,))``
(the encoding ``k + 4 * flip`` is that of the ``host_rot`` column of ``lensfinding-des-v1``). In
the sky frame ``rot90`` is a counter-clockwise rotation by 90 degrees, (x, y) -> (-y, x), and the
column flip is the mirror x -> -x; element (k, flip) acts on sky positions by the matrix
``F**flip @ R90**k`` (``sky_matrices``).

Targets (recipe column names; values in physical units, or standardised with ``mean``/``std``):

* invariant scalars (``INVARIANT``): Einstein radius, masses and mass fractions, axion mass,
  Sersic radius/index, amplitudes, magnitudes, magnification, SNR, exposure time, the class label;
* positions (``VECTORS``: lens centre, source centre) rotate as vectors: (x, y) -> R (x, y); the
  two components mix under odd rotations, so both must be present;
* ellipticities and shear (``SPIN2``: e1/e2, gamma1/gamma2, src_e1/src_e2; lenstronomy
  ``e = (1 - q)/(1 + q) (cos 2 phi, sin 2 phi)``, phi from +x) are spin-2: the traceless tensor
  [[e1, e2], [e2, -e1]] goes to R S R^T, i.e. they rotate by twice the angle and a mirror flips
  e2. For the 8 elements this is a sign per component: e1 -> (-1)**k e1, e2 -> (-1)**(k + flip) e2;
* ``ROTATION_ONLY``: ``src_phi`` (rotation of a real COSMOS source image; it rotates with the sky,
  phi -> phi + k pi/2 mod 2 pi) and ``src_index`` (which real galaxy). A mirror turns the galaxy
  into its mirror image, which no rotation angle or index describes: with these targets only the
  4 rotations may be used (``flips=False``);
* ``host_rot`` (``DIHEDRAL``, the D4 element already applied to the real DES host) composes:
  ``compose(element, host_rot)``.

Any other column is refused unless the caller declares it invariant (``invariant=...``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence

import torch

__all__ = [
    "DIHEDRAL", "INVARIANT", "ROTATION_ONLY", "SPIN2", "VECTORS", "apply_dihedral", "compose",
    "random_dihedral", "random_elements", "sky_matrices", "transform_targets",
]

INVARIANT = frozenset({
    "label", "theta_E", "src_amp", "src_R", "src_n", "n_sub", "sub_mass_total", "sub_mass_fraction",
    "log10_m_a", "snr", "exposure_time", "src_mag", "mu", "arc_snr", "host_index",
})
VECTORS = (("center_x", "center_y"), ("src_x", "src_y"))
SPIN2 = (("e1", "e2"), ("gamma1", "gamma2"), ("src_e1", "src_e2"))
ROTATION_ONLY = frozenset({"src_phi", "src_index"})
DIHEDRAL = frozenset({"host_rot"})

_R90 = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=torch.float64)   # rot90 in the sky frame (x, y)
_MIRROR = torch.tensor([[-1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)  # column flip: x -> -x
_SKY = torch.stack([torch.linalg.matrix_power(_MIRROR, e // 4) @ torch.linalg.matrix_power(_R90, e % 4)
                    for e in range(8)])                                 # (8, 2, 2), element e = k + 4 flip
_VECTOR_OF = {c: pair for pair in VECTORS for c in pair}
_SPIN2_OF = {c: pair for pair in SPIN2 for c in pair}


# ----------------------------------------------------------------------------- elements
def _index(k, flip) -> torch.Tensor:
    """Elements as a long tensor e = k mod 4 + 4 flip (scalars give a 0-d tensor)."""
    k = torch.as_tensor(k)
    flip = torch.as_tensor(flip)
    if k.is_floating_point() or flip.is_floating_point():
        raise TypeError(f"augment: k must be an int and flip a bool (or tensors of them), got {k.dtype}, {flip.dtype}")
    return torch.remainder(k.long(), 4) + 4 * flip.long().to(k.device)


def random_elements(n: int, generator: torch.Generator | None = None, *, flips: bool = True,
                    device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` uniform random elements ``(k (n,) long, flip (n,) bool)`` from ``generator``; only the
    4 rotations when ``flips=False``."""
    gen_device = generator.device if generator is not None else "cpu"
    e = torch.randint(0, 8 if flips else 4, (int(n),), generator=generator, device=gen_device)
    e = e.to(device) if device is not None else e
    return e % 4, e >= 4


def compose(k1, flip1, k2, flip2) -> tuple[torch.Tensor, torch.Tensor]:
    """The element ``g1 o g2`` (apply g2, then g1) as ``(k, flip)``: with F R F = R^-1,
    F^f1 R^k1 F^f2 R^k2 = F^(f1 xor f2) R^(k2 + (-1)^f2 k1)."""
    f1, f2 = torch.as_tensor(flip1).bool(), torch.as_tensor(flip2).bool()
    k = torch.remainder(torch.as_tensor(k2).long() + torch.where(f2, -1, 1) * torch.as_tensor(k1).long(), 4)
    return k, f1 ^ f2


def sky_matrices(k, flip) -> torch.Tensor:
    """The sky-frame matrices (float64, (..., 2, 2)) of the elements: a position (x, y) of the
    original image is at ``R @ (x, y)`` in the transformed one."""
    return _SKY[_index(k, flip).cpu()]


# ----------------------------------------------------------------------------- images
def _op(img: torch.Tensor, k: int, flip: bool) -> torch.Tensor:
    out = torch.rot90(img, k % 4, dims=(-2, -1)) if k % 4 else img
    return torch.flip(out, dims=(-1,)) if flip else out


@functools.lru_cache(maxsize=16)
def _gather_table(n: int, device: str) -> torch.Tensor:
    """(8, n*n): flat pixel p of element e's output is flat pixel table[e, p] of its input."""
    base = torch.arange(n * n).view(n, n)
    return torch.stack([_op(base, e % 4, e >= 4).reshape(-1) for e in range(8)]).to(device)


def apply_dihedral(x: torch.Tensor, k, flip=False) -> torch.Tensor:
    """Apply element ``(k, flip)`` to square images ``x (..., H, H)``.

    ``k``, ``flip``: python ints/bools (one element for all) or ``(B,)`` tensors (one element per
    image, x then (B, ..., H, H)), applied in one gather. Differentiable; returns a new tensor.
    """
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"augment.apply_dihedral: expected square images (..., H, H), got shape {tuple(x.shape)}")
    e = _index(k, flip)
    if e.ndim == 0:
        return _op(x, int(e) % 4, bool(e >= 4)).clone()
    if e.ndim != 1 or x.ndim < 3 or e.shape[0] != x.shape[0]:
        raise ValueError(f"augment.apply_dihedral: per-image elements must be (B,) for images (B, ..., H, H), "
                         f"got {tuple(e.shape)} for {tuple(x.shape)}")
    n = x.shape[-1]
    flat = x.reshape(x.shape[0], -1, n * n)
    idx = _gather_table(n, str(x.device))[e.to(x.device)]                   # (B, n*n)
    return torch.gather(flat, 2, idx[:, None, :].expand_as(flat)).view_as(x)


# ----------------------------------------------------------------------------- targets
def _check_columns(names: Sequence[str], flips: bool, invariant) -> None:
    known = INVARIANT | ROTATION_ONLY | DIHEDRAL | set(_VECTOR_OF) | set(_SPIN2_OF) | set(invariant)
    unknown = [c for c in names if c not in known]
    if unknown:
        raise ValueError(f"augment: no dihedral transformation is defined for target columns {unknown}; known: "
                         f"{sorted(known)}; declare a column that does not change under rotations and mirrors with "
                         f"invariant=(...)")
    lonely = [c for c in names if c in _VECTOR_OF and c not in invariant
              and any(p not in names for p in _VECTOR_OF[c])]
    if lonely:
        raise ValueError(f"augment: position columns {lonely} need their partner ({[_VECTOR_OF[c] for c in lonely]}): "
                         f"a rotation by 90 degrees mixes x and y")
    mirrored = [c for c in names if c in ROTATION_ONLY and c not in invariant]
    if flips and mirrored:
        raise ValueError(f"augment: target columns {mirrored} cannot follow a mirror (it turns the real source galaxy "
                         f"into its mirror image); use rotations only (flips=False)")


def _transform_columns(cols: dict[str, torch.Tensor], e: torch.Tensor, invariant) -> dict[str, torch.Tensor]:
    out = dict(cols)
    if not cols:
        return out
    ref = next(iter(cols.values()))
    R = _SKY[e.cpu()].to(device=ref.device)                                 # (B, 2, 2)
    k, f = (e % 4).to(ref.device), (e >= 4).to(ref.device)
    for cx, cy in VECTORS:
        if cx in cols and cx not in invariant:
            x, y = cols[cx], cols[cy]
            out[cx] = (R[:, 0, 0] * x.double() + R[:, 0, 1] * y.double()).to(x.dtype)
            out[cy] = (R[:, 1, 0] * x.double() + R[:, 1, 1] * y.double()).to(y.dtype)
    for c1, c2 in SPIN2:  # R S R^T with R a signed permutation: a sign per component (module docstring)
        if c1 in cols and c1 not in invariant:
            out[c1] = cols[c1] * torch.where(k % 2 == 1, -1, 1).to(cols[c1].dtype)
        if c2 in cols and c2 not in invariant:
            out[c2] = cols[c2] * torch.where((k + f) % 2 == 1, -1, 1).to(cols[c2].dtype)
    if "src_phi" in cols and "src_phi" not in invariant:
        phi = cols["src_phi"]
        out["src_phi"] = torch.remainder(phi.double() + k.double() * (math.pi / 2), 2 * math.pi).to(phi.dtype)
    if "host_rot" in cols and "host_rot" not in invariant:
        h = cols["host_rot"].long()
        hk, hf = compose(k, f, h % 4, h >= 4)
        out["host_rot"] = (hk + 4 * hf.long()).to(cols["host_rot"].dtype)
    return out


def transform_targets(targets, k, flip, columns: Sequence[str] | None = None, *, invariant: Sequence[str] = (),
                      mean=None, std=None):
    """The targets of the images transformed by elements ``(k, flip)`` ((B,) tensors or scalars).

    ``targets``: a dict column -> (B,) tensor, or a (B, T) tensor (or (B,) for T = 1) whose
    columns are named by ``columns``. Values are physical; for standardised values ``z = (v - mean)
    / std`` pass ``mean`` and ``std`` (T,) aligned with ``columns`` (tensor targets only). Returns
    the same kind of object. Unknown columns, lone position components and mirrored
    ``ROTATION_ONLY`` columns are refused (ValueError).
    """
    as_tensor = torch.is_tensor(targets)
    if as_tensor:
        if columns is None or targets.ndim not in (1, 2) or (targets.shape[1] if targets.ndim == 2 else 1) != len(columns):
            raise ValueError(f"augment.transform_targets: a target tensor needs one column name per column, got shape "
                             f"{tuple(targets.shape)} and columns {columns}")
        names = list(columns)
    elif isinstance(targets, Mapping):
        if mean is not None or std is not None:
            raise ValueError("augment.transform_targets: mean/std apply to tensor targets only")
        names = list(targets)
    else:
        raise TypeError(f"augment.transform_targets: targets must be a tensor or a dict, got {type(targets).__name__}")
    e = _index(k, flip)
    _check_columns(names, bool((e >= 4).any()), invariant)
    if all(c in INVARIANT or c in invariant for c in names):
        return targets
    n = targets.shape[0] if as_tensor else len(next(iter(targets.values())))
    if e.ndim > 1 or (e.ndim == 1 and e.shape[0] != n):
        raise ValueError(f"augment.transform_targets: expected one element or {n} elements, got shape {tuple(e.shape)}")
    e = e.expand(n)
    if not as_tensor:
        return _transform_columns(dict(targets), e, invariant)
    t = targets if targets.ndim == 2 else targets[:, None]
    m = torch.zeros(len(names), dtype=t.dtype, device=t.device) if mean is None else torch.as_tensor(mean).to(t)
    s = torch.ones(len(names), dtype=t.dtype, device=t.device) if std is None else torch.as_tensor(std).to(t)
    raw = t * s + m
    cols = _transform_columns({c: raw[:, i] for i, c in enumerate(names)}, e, invariant)
    out = (torch.stack([cols[c] for c in names], dim=1) - m) / s
    return out if targets.ndim == 2 else out[:, 0]


def random_dihedral(x: torch.Tensor, targets=None, columns: Sequence[str] | None = None,
                    generator: torch.Generator | None = None, *, flips: bool = True, invariant: Sequence[str] = (),
                    mean=None, std=None):
    """One uniform random element per image of ``x (B, C, H, H)`` (from ``generator``): returns
    ``(x', targets')`` with the targets transformed to match (``transform_targets``; None stays
    None). ``flips=False`` draws rotations only. Columns are checked before anything is drawn."""
    if targets is not None:
        names = columns if columns is not None else list(targets) if isinstance(targets, Mapping) else None
        if names is None:
            raise ValueError("augment.random_dihedral: name the columns of a target tensor (columns=...)")
        _check_columns(list(names), flips, invariant)
    k, flip = random_elements(x.shape[0], generator, flips=flips, device=x.device)
    out = apply_dihedral(x, k, flip)
    if targets is None:
        return out, None
    return out, transform_targets(targets, k, flip, columns, invariant=invariant, mean=mean, std=std)
