"""lensbench.run.augment: the 8 dihedral symmetries of lensing images and their targets.

The key check renders an image with ``lensbench.lensing``, transforms it, and compares it with the
image rendered from the transformed parameters, for all 8 elements."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from lensbench.lensing import render
from lensbench.lensing.instruments import EUCLID
from lensbench.lensing.recipes import all_recipes
from lensbench.run.augment import (
    apply_dihedral,
    compose,
    random_dihedral,
    random_elements,
    sky_matrices,
    transform_targets,
)

ELEMENTS = [(k, f) for f in (False, True) for k in range(4)]
LENS = ("theta_E", "e1", "e2", "gamma1", "gamma2", "center_x", "center_y")
SOURCE = {"src_amp": "amp", "src_R": "R_sersic", "src_n": "n_sersic", "src_e1": "e1", "src_e2": "e2",
          "src_x": "center_x", "src_y": "center_y"}


def _recipe(name: str):
    return {r.name: r for r in all_recipes()}[name]


def _batch_elements(n: int):
    e = torch.arange(n) % 8
    return e % 4, e >= 4


# ----------------------------------------------------------------------------- physics
def _render(cols: dict, sub: dict | None = None) -> torch.Tensor:
    lens = {c: cols[c] for c in LENS}
    if sub is not None:
        lens.update(sub)
    source = {key: cols[c] for c, key in SOURCE.items()}
    return render.render(lens, source, EUCLID, supersample=2)


def test_render_of_transformed_parameters_equals_transformed_image():
    """SIE + shear + elliptical Sersic source + point-mass subhalos (lensbench-v1 priors, float64):
    all 8 elements, image side vs parameter side."""
    p = _recipe("lensbench-v1").sample("cdm", 16, seed=0)
    cols = {c: p[c] for c in (*LENS, *SOURCE) if c != "src_amp"} | {"src_amp": torch.ones(16, dtype=torch.float64)}
    sub = {"sub_theta_E": p["sub_theta_E"], "sub_x": p["sub_x"], "sub_y": p["sub_y"], "sub_mask": p["sub_mask"]}
    k, flip = _batch_elements(16)
    image = _render(cols, sub)
    # subhalo positions (B, K) are not targets; they move like every position: R @ (x, y)
    R = sky_matrices(k, flip)[:, None]
    sub_t = dict(sub, sub_x=R[..., 0, 0] * sub["sub_x"] + R[..., 0, 1] * sub["sub_y"],
                 sub_y=R[..., 1, 0] * sub["sub_x"] + R[..., 1, 1] * sub["sub_y"])
    expected = _render(transform_targets(cols, k, flip), sub_t)
    got = apply_dihedral(image, k, flip)
    scale = image.abs().amax(dim=(-2, -1))
    assert ((got - expected).abs().amax(dim=(-2, -1)) / scale).max() < 1e-9
    # the check has power: untransformed parameters do not reproduce a transformed image
    wrong = _render(cols, sub)
    moved = ((k != 0) | flip)
    assert (((got - wrong).abs().amax(dim=(-2, -1)) / scale)[moved] > 0.05).all()


def test_real_source_rotation_angle_follows_rotations():
    """An interpolated (COSMOS-like) source with rotation phi_G: src_x, src_y, src_phi rotate with
    the 4 rotations; a mirror is refused for src_phi (it would mirror the galaxy)."""
    g = torch.Generator().manual_seed(0)
    n = 8
    src_img = torch.rand(n, 12, 12, generator=g, dtype=torch.float64)
    cols = {"theta_E": torch.full((n,), 1.2, dtype=torch.float64), "e1": torch.full((n,), 0.1, dtype=torch.float64),
            "e2": torch.full((n,), -0.2, dtype=torch.float64), "gamma1": torch.full((n,), 0.03, dtype=torch.float64),
            "gamma2": torch.full((n,), 0.02, dtype=torch.float64),
            "center_x": torch.full((n,), 0.04, dtype=torch.float64),
            "center_y": torch.full((n,), -0.02, dtype=torch.float64),
            "src_x": torch.full((n,), 0.12, dtype=torch.float64), "src_y": torch.full((n,), 0.05, dtype=torch.float64),
            "src_phi": torch.linspace(0.0, 6.0, n, dtype=torch.float64)}

    def draw(c):
        lens = {key: c[key] for key in LENS}
        source = {"image": src_img, "scale": 0.05, "center_x": c["src_x"], "center_y": c["src_y"], "phi_G": c["src_phi"]}
        return render.render(lens, None, EUCLID, source_image=source, supersample=2)

    k = torch.arange(n) % 4
    flip = torch.zeros(n, dtype=torch.bool)
    got = apply_dihedral(draw(cols), k, flip)
    assert (got - draw(transform_targets(cols, k, flip))).abs().max() < 1e-9 * got.abs().max()
    with pytest.raises(ValueError, match="flips=False"):
        transform_targets(cols, k, torch.ones(n, dtype=torch.bool))


def test_targets_transform_by_the_tensor_rule():
    """Positions by R, spin-2 pairs by R S R^T, for every element (independent of the code's signs)."""
    g = torch.Generator().manual_seed(1)
    cols = {c: torch.randn(8, generator=g, dtype=torch.float64)
            for c in ("e1", "e2", "gamma1", "gamma2", "center_x", "center_y")}
    k, flip = _batch_elements(8)
    out = transform_targets(cols, k, flip)
    R = sky_matrices(k, flip)
    pos = R @ torch.stack([cols["center_x"], cols["center_y"]], dim=1)[..., None]
    assert torch.allclose(torch.stack([out["center_x"], out["center_y"]], dim=1), pos[..., 0])
    for a, b in (("e1", "e2"), ("gamma1", "gamma2")):
        S = torch.stack([torch.stack([cols[a], cols[b]], -1), torch.stack([cols[b], -cols[a]], -1)], -2)
        St = R @ S @ R.transpose(-1, -2)
        assert torch.allclose(out[a], St[:, 0, 0]) and torch.allclose(out[b], St[:, 0, 1])
    # a 90 degree turn maps (x, y) -> (-y, x) and reverses the spin-2 pair; the column flip maps x -> -x
    assert torch.equal(sky_matrices(1, False), torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=torch.float64))
    assert torch.equal(sky_matrices(0, True), torch.tensor([[-1.0, 0.0], [0.0, 1.0]], dtype=torch.float64))


# ----------------------------------------------------------------------------- the group
def test_elements_form_the_dihedral_group():
    x = torch.arange(25.0).view(1, 5, 5)
    images = {e: apply_dihedral(x, *e) for e in ELEMENTS}
    assert len({tuple(v.flatten().tolist()) for v in images.values()}) == 8  # 8 distinct elements
    assert torch.equal(images[(0, False)], x)
    for g1, g2 in itertools.product(ELEMENTS, ELEMENTS):
        k, f = compose(*g1, *g2)
        g12 = (int(k), bool(f))
        assert g12 in images  # closure
        assert torch.equal(apply_dihedral(images[g2], *g1), images[g12])
        assert torch.equal(sky_matrices(*g12), sky_matrices(*g1) @ sky_matrices(*g2))  # same group on the sky
    for g in ELEMENTS:  # every element has an inverse
        assert any(torch.equal(apply_dihedral(images[g], *h), x) for h in ELEMENTS)


def test_per_image_elements_match_one_element_at_a_time():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(16, 3, 6, 6, generator=g, requires_grad=True)
    k, flip = _batch_elements(16)
    out = apply_dihedral(x, k, flip)
    for i in range(16):
        assert torch.equal(out[i], apply_dihedral(x[i], int(k[i]), bool(flip[i])))
    out.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))  # a permutation of pixels
    with pytest.raises(ValueError, match="square"):
        apply_dihedral(torch.zeros(2, 1, 4, 5), 1)
    with pytest.raises(ValueError, match=r"\(B,\)"):
        apply_dihedral(torch.zeros(2, 1, 4, 4), torch.tensor([0, 1, 2]))


def test_host_rot_composes_with_the_augmentation():
    """host_rot (lensfinding-des-v1) is an element in the same encoding: it becomes g o host_rot."""
    x = torch.arange(16.0).view(1, 4, 4).expand(8, 4, 4)
    host_rot = torch.arange(8.0).flip(0)
    k, flip = _batch_elements(8)
    new = transform_targets({"host_rot": host_rot}, k, flip)["host_rot"]
    h = host_rot.long()
    twice = apply_dihedral(apply_dihedral(x, h % 4, h >= 4), k, flip)
    assert torch.equal(twice, apply_dihedral(x, new.long() % 4, new.long() >= 4))


# ----------------------------------------------------------------------------- the API
def test_random_dihedral_keeps_labels_and_is_reproducible():
    x = torch.randn(64, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    labels = torch.randint(0, 3, (64,), generator=torch.Generator().manual_seed(1))
    out, lab = random_dihedral(x, labels, ("label",), torch.Generator().manual_seed(5))
    assert lab is labels  # invariant targets come back untouched
    again, _ = random_dihedral(x, labels, ("label",), torch.Generator().manual_seed(5))
    assert torch.equal(out, again)
    k, flip = random_elements(64, torch.Generator().manual_seed(5))
    assert torch.equal(out, apply_dihedral(x, k, flip))
    assert len(set((k + 4 * flip.long()).tolist())) == 8
    k4, flip4 = random_elements(400, torch.Generator().manual_seed(0), flips=False)
    assert not flip4.any() and set(k4.tolist()) == {0, 1, 2, 3}
    assert random_dihedral(x, generator=torch.Generator().manual_seed(5))[1] is None


def test_standardised_tensor_targets():
    g = torch.Generator().manual_seed(3)
    columns = ("theta_E", "e1", "e2", "center_x", "center_y")
    raw = torch.randn(32, 5, generator=g, dtype=torch.float64)
    mean = torch.tensor([1.2, 0.01, -0.02, 0.003, 0.0], dtype=torch.float64)
    std = torch.tensor([0.1, 0.1, 0.12, 0.03, 0.029], dtype=torch.float64)
    k, flip = random_elements(32, g)
    z = transform_targets((raw - mean) / std, k, flip, columns, mean=mean, std=std)
    expected = transform_targets(raw, k, flip, columns)
    assert torch.allclose(z, (expected - mean) / std)
    assert torch.equal(expected[:, 0], raw[:, 0])  # theta_E is invariant
    x, t = random_dihedral(torch.zeros(32, 1, 4, 4), raw, columns, torch.Generator().manual_seed(0))
    assert t.shape == raw.shape and x.shape == (32, 1, 4, 4)


def test_unknown_or_incomplete_columns_are_refused():
    x = torch.zeros(4, 1, 4, 4)
    with pytest.raises(ValueError, match=r"no dihedral transformation is defined for target columns \['my_angle'\]"):
        random_dihedral(x, {"my_angle": torch.zeros(4)}, generator=torch.Generator().manual_seed(0))
    out = transform_targets({"my_scalar": torch.ones(4)}, 1, False, invariant=("my_scalar",))
    assert torch.equal(out["my_scalar"], torch.ones(4))
    with pytest.raises(ValueError, match="need their partner"):
        transform_targets({"center_x": torch.ones(4)}, 1, False)
    with pytest.raises(ValueError, match="flips=False"):
        random_dihedral(x, {"src_phi": torch.zeros(4)}, generator=torch.Generator().manual_seed(0))
    _, t = random_dihedral(x, {"src_phi": torch.zeros(4)}, generator=torch.Generator().manual_seed(0), flips=False)
    assert ((t["src_phi"] / (math.pi / 2)).round() * (math.pi / 2) - t["src_phi"]).abs().max() < 1e-6
    with pytest.raises(ValueError, match="name the columns"):
        random_dihedral(x, torch.zeros(4, 2))
    with pytest.raises(ValueError, match="one column name per column"):
        transform_targets(torch.zeros(4, 2), 0, False, ("e1",))


def test_every_recipe_column_has_a_rule():
    """A new recipe column must be classified here before it can be an augmented target."""
    for recipe in all_recipes():
        cols = {c: torch.zeros(3) for c in recipe.columns} | {"label": torch.zeros(3)}
        transform_targets(cols, torch.tensor([0, 1, 2]), torch.zeros(3, dtype=torch.bool))
        mirror_safe = {c: v for c, v in cols.items() if c not in ("src_phi", "src_index")}
        transform_targets(mirror_safe, torch.tensor([0, 1, 2]), torch.ones(3, dtype=torch.bool))
