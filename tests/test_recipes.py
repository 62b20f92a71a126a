"""Tests of the dataset recipes (lensing.recipes, found in lensbench.registry.recipes), the cosmology
helper and the dataset registry."""

from __future__ import annotations

import math
import shutil
import warnings

import numpy as np
import pytest
import torch
from conftest import REAL_DATA

from lensbench import registry
from lensbench.lensing import cosmo
from lensbench.lensing.recipes import brightness, components
from lensbench.lensing.recipes.base import LENS_COLUMNS
from lensbench.lensing.recipes.brightness import matched_snr, solve_amp_for_snr
from lensbench.lensing.recipes.components import CosmosSource
from lensbench.lensing.recipes.priors import LogUniform, Polar, PowerLaw, TruncNormal, Uniform
from lensbench.lensing.sources import RealDataError

torch.set_num_threads(2)

REAL_ROOT = REAL_DATA
from lensbench.lensing.recipes import deeplense as _dl
from lensbench.lensing.recipes import lensbench as _lb

OWN = [r.name for r in (*_dl.RECIPES, *_lb.RECIPES)]  # the substructure recipes tested here
SIM_RECIPES = [n for n in OWN if not registry.recipes.get(n).needs_data_root]
MACRO_SOURCE = ("theta_E", "e1", "e2", "gamma1", "gamma2", "center_x", "center_y",
                "src_R", "src_n", "src_e1", "src_e2", "src_x", "src_y", "brightness", "exposure_time")


def test_registry_lists_the_published_and_lensbench_recipes():
    expected = {"deeplense-model1", "deeplense-model2", "deeplense-model3",
                "lensbench-v1", "lensbench-v1-hst", "lensbench-v1-realsrc", "lensbench-v2", "lensbench-v2-hst"}
    assert expected <= set(registry.recipes.names()) and set(OWN) == expected
    with pytest.raises(KeyError, match="unknown recipe"):
        registry.recipes.get("lensbench-v0")
    r = registry.recipes.get("lensbench-v1")
    assert r.image_shape == (1, 64, 64) and r.pixel_scale == pytest.approx(0.101)
    assert registry.recipes.get("deeplense-model1").image_shape == (1, 150, 150)
    assert registry.recipes.get("lensbench-v1-hst").pixel_scale == pytest.approx(0.08)
    with pytest.raises(ValueError, match="unknown class"):
        r.generate("sphere", 2, 0)


def test_dataset_specs_mirror_recipes():
    from lensbench.tasks.datasets import specs

    sp = {s.name: s for s in specs() if s.recipe is not None}
    assert set(sp) == set(registry.recipes.names())
    for name, s in sp.items():
        r = registry.recipes.get(name)
        assert s.recipe == name and s.version == r.version and s.adapter is None
        assert s.classes == tuple(r.classes)
        assert s.columns == tuple(r.columns) and s.image_shape == tuple(r.image_shape)
        assert s.pixel_scale == pytest.approx(r.pixel_scale)
        assert s.citation
    for name in OWN:
        assert sp[name].classes == ("no_sub", "cdm", "axion")


def test_cosmology_matches_astropy_and_deeplense_quirk():
    from astropy.cosmology import FlatLambdaCDM

    ap = FlatLambdaCDM(H0=70, Om0=0.3)
    for z in (0.5, 1.0, 2.0):
        assert cosmo.DEFAULT_COSMO.angular_diameter_distance(z) / cosmo.MPC_M == pytest.approx(
            ap.angular_diameter_distance(z).value, rel=1e-9)
    # the main halo of DeepLense: 1e12 Msun -> 1.28" with luminosity distances, 1.66" with angular ones
    assert cosmo.mass_to_theta_E(1e12, convention="deeplense") == pytest.approx(1.2815, abs=2e-4)
    assert cosmo.mass_to_theta_E(1e12, convention="angular") == pytest.approx(1.6645, abs=2e-4)
    assert cosmo.theta_E_to_mass(cosmo.mass_to_theta_E(3e8)) == pytest.approx(3e8, rel=1e-12)
    assert cosmo.mass_to_theta_E(3e8, convention="deeplense") == pytest.approx(0.0222, abs=1e-4)


@pytest.mark.parametrize("name", SIM_RECIPES)
def test_generate_shapes_dtypes_columns(name):
    r = registry.recipes.get(name)
    n = 2
    for c in r.classes:
        im, cols = r.generate(c, n, seed=5)
        assert im.shape == (n, *r.image_shape) and im.dtype == np.float32
        assert np.isfinite(im).all()
        assert im.std() > 0
        assert set(cols) == set(r.columns)
        for k, v in cols.items():
            assert v.shape == (n,) and v.dtype == np.float32, k
        finite = [k for k in r.columns if k != "log10_m_a"]
        assert all(np.isfinite(cols[k]).all() for k in finite)
        if c == "axion":
            assert ((cols["log10_m_a"] >= -24) & (cols["log10_m_a"] <= -22)).all()
        else:
            assert np.isnan(cols["log10_m_a"]).all()
        if c == "no_sub":
            assert (cols["n_sub"] == 0).all() and (cols["sub_mass_total"] == 0).all()
        else:
            assert (cols["sub_mass_total"] > 0).all() and (cols["sub_mass_fraction"] > 0).all()


@pytest.mark.parametrize("name", ["lensbench-v1", "lensbench-v2", "deeplense-model2"])
def test_determinism_per_seed_and_class(name):
    r = registry.recipes.get(name)
    a, ca = r.generate("cdm", 4, seed=11)
    b, cb = r.generate("cdm", 4, seed=11)
    assert np.array_equal(a, b)
    assert all(np.array_equal(ca[k], cb[k], equal_nan=True) for k in ca)
    c, _ = r.generate("cdm", 4, seed=12)
    assert not np.array_equal(a, c)
    d, _ = r.generate("no_sub", 4, seed=11)
    assert not np.array_equal(a, d)


def test_deeplense_model1_is_integer_counts_and_fixed_macro():
    r = registry.recipes.get("deeplense-model1")
    im, cols = r.generate("no_sub", 2, seed=0)
    assert np.array_equal(im, np.round(im)) and im.min() >= 0
    assert (cols["exposure_time"] >= 1e3).all() and (cols["exposure_time"] <= 10**3.5 + 1e-3).all()
    p = r.sample("cdm", 200, 1)
    assert torch.all(p["theta_E"] == p["theta_E"][0]) and float(p["theta_E"][0]) == pytest.approx(1.2815, abs=2e-4)
    assert torch.all(p["e1"] == 0.1) and torch.all(p["gamma1"] == 0.05)
    assert torch.all(p["src_x"].abs() <= 0.35) and p["src_x"].std() > 0.1


def test_deeplense_cdm_mass_function_and_positions():
    r = registry.recipes.get("deeplense-model2")
    p = r.sample("cdm", 400, 3)
    m = p["sub_mass"]
    assert m.shape == (400, 25) and bool(p["sub_mask"].all())
    assert float(m.min()) >= 1e6 and float(m.max()) <= 1e10
    # pdf ~ m^-0.9 on [1e6, 1e10]: mean 1.51e9, median 2.8e8
    assert float(m.mean()) == pytest.approx(PowerLaw(1e6, 1e10, -0.9).mean(), rel=0.08)
    assert float(m.median()) == pytest.approx(2.8e8, rel=0.15)
    r_sub = torch.hypot(p["sub_x"], p["sub_y"])
    assert float(r_sub.min()) >= 0.25 - 1e-9 and float(r_sub.max()) <= 2.0 + 1e-9
    k = cosmo.mass_to_theta_E_factor(convention="deeplense")
    assert torch.allclose(p["sub_theta_E"], k * m.sqrt())


def test_lensbench_cdm_is_poisson_and_within_bounds():
    r = registry.recipes.get("lensbench-v1")
    spec = r.substructure["cdm"]
    p = r.sample("cdm", 600, 4)
    n_sub = p["n_sub"]
    assert float(n_sub.mean()) == pytest.approx(spec.count, rel=0.1)
    assert float(n_sub.var()) == pytest.approx(spec.count, rel=0.3)  # Poisson: var = mean
    mask = p["sub_mask"]
    assert torch.equal(mask.sum(1).double(), n_sub)
    m = p["sub_mass"][mask]
    assert float(m.min()) >= spec.mass.low and float(m.max()) <= spec.mass.high
    assert torch.all(p["sub_mass"][~mask] == 0)
    dist = torch.hypot(p["sub_x"] - p["center_x"][:, None], p["sub_y"] - p["center_y"][:, None])[mask]
    assert float(dist.min()) >= spec.radius.low - 1e-9 and float(dist.max()) <= spec.radius.high + 1e-9


def test_axion_length_law():
    assert components.vortex_half_length(1e-22) == pytest.approx(0.03)
    assert components.vortex_half_length(1e-23) == pytest.approx(0.3)
    assert components.vortex_half_length(1e-24) == pytest.approx(3.0)
    # DeepLense: 100 equal point masses (3e10 Msun in total) on a line through the image centre
    p = registry.recipes.get("deeplense-model2").sample("axion", 50, 2)
    L = 0.06e-22 / (2 * 10 ** p["log10_m_a"])
    r = torch.hypot(p["sub_x"], p["sub_y"])
    assert torch.allclose(r.max(dim=1).values, L, rtol=1e-9)
    assert torch.allclose(p["sub_mass"].sum(1), torch.full((50,), 3e10, dtype=torch.float64))
    # collinear: cross product of each point with the end point vanishes
    cross = p["sub_x"] * p["sub_y"][:, -1:] - p["sub_y"] * p["sub_x"][:, -1:]
    assert float(cross.abs().max()) < 1e-9
    # lensbench-v1: continuous line mass through the lens centre, same length law
    q = registry.recipes.get("lensbench-v1").sample("axion", 200, 2)
    assert torch.allclose(q["line_half_length"], 0.06e-22 / (2 * 10 ** q["log10_m_a"]), rtol=1e-9)
    assert torch.equal(q["line_x"], q["center_x"]) and torch.equal(q["line_y"], q["center_y"])
    lm = q["log10_m_a"]
    assert float(lm.min()) >= -24 and float(lm.max()) <= -22 and float(lm.std()) == pytest.approx(2 / 12**0.5, rel=0.15)


@pytest.mark.parametrize("name", ["lensbench-v1", "lensbench-v1-hst", "lensbench-v2", "lensbench-v2-hst"])
def test_lensbench_priors_in_range_and_varying(name):
    r = registry.recipes.get(name)
    p = r.sample("no_sub", 800, 7)
    for key, prior in r.lens.items():
        if isinstance(prior, Polar):
            a, b = p[key[0]], p[key[1]]
            mod = torch.hypot(a, b)
            qlo, qhi = prior.modulus.bounds()
            if prior.kind == "ellipticity":
                assert float(mod.max()) <= (1 - qlo) / (1 + qlo) + 1e-9
            else:
                assert float(mod.max()) <= qhi + 1e-9
            assert float(a.std()) > 0.005 and float(b.std()) > 0.005
        else:
            lo, hi = prior.bounds()
            assert float(p[key].min()) >= lo - 1e-9 and float(p[key].max()) <= hi + 1e-9
            assert float(p[key].std()) > 0
    src = r.source
    assert float(p["src_R"].min()) >= src.R_sersic.low and float(p["src_R"].max()) <= src.R_sersic.high
    off = torch.hypot(p["src_x"] - p["center_x"], p["src_y"] - p["center_y"])
    assert float(off.max()) <= src.position.modulus.bounds()[1] + 1e-9
    lo, hi = r.brightness.value.bounds()
    assert float(p["brightness"].min()) >= lo and float(p["brightness"].max()) <= hi


@pytest.mark.parametrize("name", ["lensbench-v1", "lensbench-v1-hst", "lensbench-v2"])
def test_macro_and_source_priors_identical_across_classes(name):
    from scipy.stats import ks_2samp

    r = registry.recipes.get(name)
    draws = {c: r.sample(c, 1500, 21) for c in r.classes}
    for key in MACRO_SOURCE:
        ref = draws["no_sub"][key].numpy()
        for c in ("cdm", "axion"):
            other = draws[c][key].numpy()
            if np.ptp(ref) == 0:
                assert np.array_equal(ref, other), key
            else:
                assert ks_2samp(ref, other).pvalue > 1e-3, (key, c)
    # and the draws are not the same numbers (each class has its own seeded stream)
    assert not torch.equal(draws["no_sub"]["theta_E"], draws["cdm"]["theta_E"])


def test_lensbench_v2_takes_the_substructure_mass_from_the_host():
    """v2 = v1's priors plus compensating components; v1 draws none of them."""
    from lensbench.lensing.recipes.base import COMP_KEYS

    v1, v2 = registry.recipes.get("lensbench-v1"), registry.recipes.get("lensbench-v2")
    assert v2.version == 2 and v2.lens == v1.lens and v2.source == v1.source and v2.brightness == v1.brightness
    assert v2.noise == v1.noise and v2.substructure["no_sub"] == v1.substructure["no_sub"]
    for c in v1.classes:
        assert not set(COMP_KEYS) & set(v1.sample(c, 5, 1))
    assert not set(COMP_KEYS) & set(v2.sample("no_sub", 5, 1))
    k2 = v2.theta_E_factor() ** 2
    p = v2.sample("cdm", 300, 4)
    torch.testing.assert_close(p["ann_theta2"], -k2 * p["sub_mass"].sum(1))
    assert float(p["ann_r_in"].min()) == 0.5 and float(p["ann_r_out"].max()) == 2.0
    assert torch.equal(p["ann_x"], p["center_x"]) and torch.equal(p["ann_y"], p["center_y"])
    q = v2.sample("axion", 2000, 4)
    torch.testing.assert_close(q["segm_theta2"], -q["line_theta_E"] ** 2)
    m = q["sub_mass"][:, 0]
    assert float(m.min()) >= 1e10 and float(m.max()) <= 3e10
    off = torch.hypot(q["line_x"] - q["center_x"], q["line_y"] - q["center_y"])
    # midpoint uniform in area in a 2" disk: P(r < 1") = 1/4
    assert float(off.max()) <= 2.0 + 1e-9 and abs(float((off < 1.0).double().mean()) - 0.25) < 0.04
    ox, oy = q["line_x"] - q["center_x"], q["line_y"] - q["center_y"]
    torch.testing.assert_close(q["segm_d"] ** 2 + q["segm_u0"] ** 2, ox**2 + oy**2)
    assert torch.equal(q["segm_half_length"], q["line_half_length"])


def test_snr_target_is_met_and_class_independent():
    g = torch.Generator().manual_seed(0)
    img = torch.rand(5, 16, 16, generator=g, dtype=torch.float64) ** 4
    target = torch.tensor([5.0, 20.0, 50.0, 100.0, 400.0], dtype=torch.float64)
    t = torch.full((5,), 2260.0, dtype=torch.float64)
    a = solve_amp_for_snr(img, target, t, 0.006)
    assert torch.allclose(matched_snr(a.view(-1, 1, 1) * img, t, 0.006), target, rtol=1e-6)
    r = registry.recipes.get("lensbench-v1")
    lo, hi = r.brightness.value.bounds()
    _, cols = r.generate("no_sub", 4, seed=3)
    assert ((cols["snr"] >= lo) & (cols["snr"] <= hi)).all() and (cols["src_amp"] > 0).all()


def test_sersic_unit_flux_matches_rendered_flux():
    from lensbench.lensing import grid, light

    x, y = grid.pixel_grid(200, 0.02)
    R = torch.tensor([0.2, 0.3], dtype=torch.float32)
    n = torch.tensor([1.0, 2.0], dtype=torch.float32)
    sb = light.sersic_ellipse(x, y, torch.ones(2), R, n, torch.tensor([0.1, -0.2]), torch.zeros(2), 0.0, 0.0)
    flux = sb.double().sum(dim=(-2, -1)) * 0.02**2
    expected = brightness.sersic_unit_flux(R.double(), n.double())
    assert torch.allclose(flux, expected, rtol=0.03)


def test_priors_sample_their_laws():
    g = torch.Generator().manual_seed(1)
    x = LogUniform(1e-2, 1e2).sample(g, 20000).log10()
    assert float(x.mean()) == pytest.approx(0.0, abs=0.05)
    y = TruncNormal(0.0, 1.0, -1.0, 2.0).sample(g, 20000)
    assert float(y.min()) >= -1 and float(y.max()) <= 2
    pl = PowerLaw(1e6, 1e10, -0.9)
    z = pl.sample(g, 50000)
    assert float(z.mean()) == pytest.approx(pl.mean(), rel=0.05)
    u = Uniform(2.0, 3.0).sample(g, 1000)
    assert float(u.min()) >= 2 and float(u.max()) <= 3


def test_realsrc_requires_data_root_with_clear_error(tmp_path):
    r = registry.recipes.get("lensbench-v1-realsrc")
    assert isinstance(r.source, CosmosSource) and r.needs_data_root
    with pytest.raises(RealDataError, match="cosmos-hst-acs-f814w-cutouts"):
        r.generate("no_sub", 2, 0)
    with pytest.raises(RealDataError, match="cosmos-hst-acs-f814w-cutouts"):
        r.generate("no_sub", 2, 0, data_root=tmp_path)


def test_realsrc_generates_from_real_galaxies():
    if not (REAL_ROOT / "cosmos-hst-acs-f814w-cutouts").is_dir():
        pytest.skip(f"real data not found at {REAL_ROOT} (set LENSBENCH_REAL_DATA)")
    from lensbench.lensing.sources import load_cosmos

    gals = load_cosmos(REAL_ROOT)
    assert len(gals.ids) >= 20
    assert np.allclose(gals.images.sum(axis=(1, 2)), 1.0, atol=1e-4) and gals.images.min() >= 0
    r = registry.recipes.get("lensbench-v1-realsrc")
    for c in r.classes:
        im, cols = r.generate(c, 2, seed=1, data_root=REAL_ROOT)
        assert im.shape == (2, 1, 64, 64) and np.isfinite(im).all()
        assert ((cols["src_index"] >= 0) & (cols["src_index"] < len(gals.ids))).all()
        assert np.array_equal(cols["src_index"], np.round(cols["src_index"]))
    a, _ = r.generate("cdm", 2, seed=1, data_root=REAL_ROOT)
    b, _ = r.generate("cdm", 2, seed=1, data_root=REAL_ROOT)
    assert np.array_equal(a, b)


def test_recipe_descriptions_list_every_class():
    for r in map(registry.recipes.get, OWN):
        text = r.describe()
        assert all(f"class `{c}`" in text for c in r.classes)
        assert set(LENS_COLUMNS) <= set(r.columns)
        assert math.isfinite(r.theta_E_factor())


@pytest.mark.skipif(shutil.which("c++") is None and shutil.which("g++") is None,
                    reason="torch.compile on CPU needs a C++ compiler")
def test_generate_compiled_matches_eager(monkeypatch):
    """The builders' compiled path (``generate(compile=True)``: ``lensing.render`` in torch.compile'd
    blocks, the 25 point masses padded to 32) gives the eager images and columns to float rounding.
    Pixel noise is off: a Poisson draw on a rate that differs in the last bit can shift the generator's
    stream, so the comparison is of the noiseless images that the noise is added to."""
    from lensbench.lensing import noise

    monkeypatch.setattr(noise, "add_noise", lambda img, *a, **k: img)
    r = registry.recipes.get("deeplense-model2")
    eager, cols_eager = r.generate("cdm", 6, seed=2, compile=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a compile failure (eager fallback) fails the test
        compiled, cols = r.generate("cdm", 6, seed=2, compile=True)
    assert compiled.shape == eager.shape == (6, 1, 64, 64)
    assert np.abs(compiled - eager).max() <= 1e-5 * np.abs(eager).max()
    assert set(cols) == set(cols_eager)
    for k in cols:
        np.testing.assert_allclose(cols[k], cols_eager[k], rtol=1e-5, err_msg=k)


def test_lensbench_v2_compiled_matches_eager(monkeypatch):
    """The compensation groups (``annulus``, ``seg_mono``) on the builders' compiled path."""
    from lensbench.lensing import noise

    monkeypatch.setattr(noise, "add_noise", lambda img, *a, **k: img)
    r = registry.recipes.get("lensbench-v2")
    for c in ("cdm", "axion"):
        eager, _ = r.generate(c, 4, seed=2, compile=False)
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            compiled, _ = r.generate(c, 4, seed=2, compile=True)
        assert np.isfinite(eager).all() and np.abs(compiled - eager).max() <= 1e-5 * np.abs(eager).max(), c
