"""Pixel-by-pixel agreement of lensing/ with lenstronomy (deflections, light, whole images).

Metric: max|ours - lenstronomy| / max|lenstronomy| over all pixels and draws; required <= 1e-6 in
float64 and <= 1e-4 in float32 (lenstronomy always runs in float64). The comparison helpers here are
reused by ``perf/validate_lenstronomy.py`` with >= 50 draws per profile.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("lenstronomy")

import lenstronomy.Util.util as lutil
from lenstronomy.Data.imaging_data import ImageData
from lenstronomy.Data.psf import PSF
from lenstronomy.ImSim.image_model import ImageModel
from lenstronomy.LensModel.lens_model import LensModel
from lenstronomy.LightModel.light_model import LightModel

from lensbench.lensing import grid, instruments, light, mass, psf, render, vortex

TOL = {torch.float64: 1e-6, torch.float32: 1e-4}
DEFLECTION_PROFILES = ("SIE", "SIS", "SHEAR", "POINT_MASS", "TNFW")
LIGHT_PROFILES = ("SERSIC_ELLIPSE", "INTERPOL")


def draw(profile: str, rng: np.random.Generator) -> dict:
    """One random lenstronomy kwargs dict for ``profile``."""
    u = rng.uniform
    if profile == "SIE":
        return {"theta_E": u(0.5, 2.0), "e1": u(-0.4, 0.4), "e2": u(-0.4, 0.4), "center_x": u(-0.3, 0.3), "center_y": u(-0.3, 0.3)}
    if profile == "SIS":
        return {"theta_E": u(0.5, 2.0), "center_x": u(-0.3, 0.3), "center_y": u(-0.3, 0.3)}
    if profile == "SHEAR":
        return {"gamma1": u(-0.2, 0.2), "gamma2": u(-0.2, 0.2), "ra_0": 0.0, "dec_0": 0.0}
    if profile == "POINT_MASS":
        return {"theta_E": u(0.005, 0.3), "center_x": u(-2, 2), "center_y": u(-2, 2)}
    if profile == "TNFW":
        return {"Rs": u(0.05, 1.0), "alpha_Rs": u(0.001, 0.2), "r_trunc": u(0.1, 5.0), "center_x": u(-2, 2), "center_y": u(-2, 2)}
    if profile == "SERSIC_ELLIPSE":
        return {"amp": u(1, 30), "R_sersic": u(0.1, 1.0), "n_sersic": u(0.5, 4.0), "e1": u(-0.4, 0.4), "e2": u(-0.4, 0.4),
                    "center_x": u(-0.5, 0.5), "center_y": u(-0.5, 0.5)}
    if profile == "INTERPOL":
        return {"image": rng.random((17, 23)), "amp": u(0.5, 2), "center_x": u(-0.3, 0.3), "center_y": u(-0.3, 0.3),
                    "phi_G": u(-np.pi, np.pi), "scale": u(0.05, 0.2)}
    raise KeyError(profile)


def _col(kws: list[dict], key: str, dtype) -> torch.Tensor:
    return torch.tensor([k[key] for k in kws], dtype=dtype)


def ours_deflection(profile: str, x, y, kws: list[dict], dtype):
    c = lambda k: _col(kws, k, dtype)
    if profile == "SIE":
        return mass.sie(x, y, c("theta_E"), c("e1"), c("e2"), c("center_x"), c("center_y"))
    if profile == "SIS":
        return mass.sis(x, y, c("theta_E"), c("center_x"), c("center_y"))
    if profile == "SHEAR":
        return mass.shear(x, y, c("gamma1"), c("gamma2"), c("ra_0"), c("dec_0"))
    if profile == "POINT_MASS":
        return mass.point_mass(x, y, c("theta_E"), c("center_x"), c("center_y"))
    if profile == "TNFW":
        return mass.tnfw(x, y, c("Rs"), c("alpha_Rs"), c("r_trunc"), c("center_x"), c("center_y"))
    raise KeyError(profile)


def ours_light(profile: str, x, y, kws: list[dict], dtype):
    c = lambda k: _col(kws, k, dtype)
    if profile == "SERSIC_ELLIPSE":
        return light.sersic_ellipse(x, y, c("amp"), c("R_sersic"), c("n_sersic"), c("e1"), c("e2"),
                                    c("center_x"), c("center_y"))
    if profile == "INTERPOL":
        img = torch.tensor(np.stack([k["image"] for k in kws]), dtype=dtype)
        return light.interpolated(x, y, img, c("scale"), c("center_x"), c("center_y"), c("phi_G"), amp=c("amp"))
    raise KeyError(profile)


def worst_profile_ratio(profile: str, n: int, dtype, seed: int = 0, npix: int = 40, pix: float = 0.1) -> float:
    """Worst max|diff|/peak over n random draws (all draws evaluated in one batched call)."""
    rng = np.random.default_rng(seed)
    kws = [draw(profile, rng) for _ in range(n)]
    x, y = grid.pixel_grid(npix, pix, dtype=dtype)
    xn, yn = grid.pixel_grid(npix, pix, dtype=torch.float64)
    xn, yn = xn.numpy(), yn.numpy()
    if profile in DEFLECTION_PROFILES:
        ax, ay = ours_deflection(profile, x, y, kws, dtype)
        lm = LensModel([profile])
        worst = 0.0
        for i, kw in enumerate(kws):
            rx, ry = lm.alpha(xn, yn, [kw])
            peak = max(np.abs(rx).max(), np.abs(ry).max())
            d = max(np.abs(ax[i].double().numpy() - rx).max(), np.abs(ay[i].double().numpy() - ry).max())
            worst = max(worst, d / peak)
        return worst
    out = ours_light(profile, x, y, kws, dtype)
    worst = 0.0
    for i, kw in enumerate(kws):
        lmod = LightModel([profile])   # new instance per draw: lenstronomy INTERPOL caches its image
        ref = lmod.surface_brightness(xn, yn, [kw])
        worst = max(worst, np.abs(out[i].double().numpy() - ref).max() / np.abs(ref).max())
    return worst


def vortex_draw(rng: np.random.Generator) -> dict:
    """A DeepLense-like axion vortex: equal point masses on a segment through the centre region."""
    u = rng.uniform
    return {"theta_E": u(0.005, 0.05), "center_x": u(-0.3, 0.3), "center_y": u(-0.3, 0.3),
            "half_length": 10 ** u(-1.5, 0.5), "angle": u(0, np.pi), "n": int(rng.choice([2, 7, 25, 100]))}


def vortex_point_masses(v: dict) -> list[dict]:
    """The lenstronomy POINT_MASS kwargs of a vortex draw (DeepLense ``make_vortex``)."""
    t = np.linspace(-v["half_length"], v["half_length"], v["n"])
    return [{"theta_E": v["theta_E"], "center_x": v["center_x"] + ti * np.cos(v["angle"]),
             "center_y": v["center_y"] + ti * np.sin(v["angle"])} for ti in t]


def worst_vortex_ratio(n: int, dtype, seed: int = 0, npix: int = 40, pix: float = 0.1) -> float:
    """Worst max|diff|/peak of ``lensing.vortex.vortex`` against the sum of lenstronomy POINT_MASS."""
    rng = np.random.default_rng(seed)
    x, y = grid.pixel_grid(npix, pix, dtype=dtype)
    xn, yn = (a.numpy() for a in grid.pixel_grid(npix, pix, dtype=torch.float64))
    worst = 0.0
    for _ in range(n):
        v = vortex_draw(rng)
        ax, ay = vortex.vortex(x, y, *(torch.tensor([v[k]], dtype=dtype) for k in
                                       ("theta_E", "center_x", "center_y", "half_length", "angle")), v["n"])
        kws = vortex_point_masses(v)
        rx, ry = LensModel(["POINT_MASS"] * len(kws)).alpha(xn, yn, kws)
        peak = max(np.abs(rx).max(), np.abs(ry).max())
        d = max(np.abs(ax[0].double().numpy() - rx).max(), np.abs(ay[0].double().numpy() - ry).max())
        worst = max(worst, d / peak)
    return worst


# ------------------------------------------------------------------------------ whole images
def lenstronomy_image_model(inst, supersample: int, kernel: np.ndarray | None, lens_models, source_models):
    _, _, ra0, dec0, _, _, pix2ang, _ = lutil.make_grid_with_coordtransform(
        inst.npix, inst.pixel_scale, center_ra=0, center_dec=0, subgrid_res=1, inverse=True)
    data = ImageData(image_data=np.zeros((inst.npix, inst.npix)), ra_at_xy_0=ra0, dec_at_xy_0=dec0,
                     transform_pix2angle=pix2ang)
    if kernel is None:
        p = PSF(psf_type="GAUSSIAN", fwhm=inst.psf_fwhm, pixel_size=inst.pixel_scale, truncation=inst.psf_truncation)
    else:
        p = PSF(psf_type="PIXEL", kernel_point_source=kernel.copy())
    return ImageModel(data, p, lens_model_class=LensModel(lens_models),
                      source_model_class=LightModel(source_models),
                      kwargs_numerics={"supersampling_factor": supersample})


def image_draw(rng, sub: str, k_sub: int) -> tuple[list, list, dict, dict]:
    """Recipe-like random draw: SIE + shear + substructure (+ Sersic source)."""
    u = rng.uniform
    main = {"theta_E": u(0.9, 1.6), "e1": u(-0.3, 0.3), "e2": u(-0.3, 0.3), "center_x": u(-0.1, 0.1), "center_y": u(-0.1, 0.1)}
    sh = {"gamma1": u(-0.1, 0.1), "gamma2": u(-0.1, 0.1), "ra_0": 0.0, "dec_0": 0.0}
    lens_kw, models = [main, sh], ["SIE", "SHEAR"]
    extra = {}
    if sub == "cdm":
        subs = [{"theta_E": u(0.002, 0.08), "center_x": u(-2, 2), "center_y": u(-2, 2)} for _ in range(k_sub)]
        models += ["POINT_MASS"] * k_sub
        extra = {"sub": subs}
    elif sub == "axion":
        L, ang = 10 ** u(-1.5, 0.5), u(0, np.pi)
        t = np.linspace(-L, L, k_sub)
        subs = [{"theta_E": 0.022, "center_x": ti * np.cos(ang), "center_y": ti * np.sin(ang)} for ti in t]
        models += ["POINT_MASS"] * k_sub
        extra = {"sub": subs, "vortex": {"vortex_theta_E": 0.022, "vortex_x": 0.0, "vortex_y": 0.0,
                                         "vortex_half_length": L, "vortex_angle": ang, "vortex_n": k_sub}}
    elif sub == "tnfw":
        subs = [{"Rs": u(0.05, 0.3), "alpha_Rs": u(0.001, 0.02), "r_trunc": u(0.2, 2), "center_x": u(-2, 2),
                     "center_y": u(-2, 2)} for _ in range(k_sub)]
        models += ["TNFW"] * k_sub
        extra = {"tnfw": subs}
    else:
        subs = []
    lens_kw += subs
    src = {"amp": u(5, 30), "R_sersic": u(0.1, 0.5), "n_sersic": u(0.7, 3), "e1": u(-0.3, 0.3), "e2": u(-0.3, 0.3),
               "center_x": u(-0.35, 0.35), "center_y": u(-0.35, 0.35)}
    return models, lens_kw, src, extra


def ours_lens_dict(lens_kw: list, extra: dict, dtype, as_vortex: bool = False) -> dict:
    """The lens dict of a draw; ``as_vortex``: an axion draw as the closed-form ``vortex`` group
    (``lensing.vortex``) instead of its point masses."""
    T = lambda v: torch.tensor([v], dtype=dtype)
    main, sh = lens_kw[0], lens_kw[1]
    d = {k: T(main[k]) for k in ("theta_E", "e1", "e2", "center_x", "center_y")}
    d.update(gamma1=T(sh["gamma1"]), gamma2=T(sh["gamma2"]))
    R = lambda lst, k: torch.tensor([[s[k] for s in lst]], dtype=dtype)
    if as_vortex and "vortex" in extra:
        d.update({k: (v if k == "vortex_n" else T(v)) for k, v in extra["vortex"].items()})
    elif "sub" in extra:
        s = extra["sub"]
        d.update(sub_theta_E=R(s, "theta_E"), sub_x=R(s, "center_x"), sub_y=R(s, "center_y"))
    if "tnfw" in extra:
        s = extra["tnfw"]
        d.update(tnfw_Rs=R(s, "Rs"), tnfw_alpha_Rs=R(s, "alpha_Rs"), tnfw_r_trunc=R(s, "r_trunc"),
                 tnfw_x=R(s, "center_x"), tnfw_y=R(s, "center_y"))
    return d


def worst_image_ratio(n: int, dtype, inst, supersample: int, sub: str, k_sub: int = 25, pixel_psf: bool = False,
                      seed: int = 0, renderer: str = "render") -> float:
    """Worst max|diff|/peak of whole images against lenstronomy. ``renderer``: "render"
    (``lensing.render.render``, eager, axions as point masses), "compiled" (``render(...,
    compile=True)``, axions as the closed-form vortex group) or "vortex" (the same, eager)."""
    rng = np.random.default_rng(seed)
    worst = 0.0
    kernel = None
    if pixel_psf:
        kernel = rng.random((7, 7)) + 0.5
        kernel /= kernel.sum()
    for _ in range(n):
        models, lens_kw, src, extra = image_draw(rng, sub, k_sub)
        im = lenstronomy_image_model(inst, supersample, kernel, models, ["SERSIC_ELLIPSE"])
        ref = im.image(lens_kw, [src])
        lens = ours_lens_dict(lens_kw, extra, dtype, as_vortex=renderer != "render")
        source = {k: torch.tensor([v], dtype=dtype) for k, v in src.items()}
        p = True if kernel is None else torch.tensor(kernel, dtype=dtype)
        out = render.render(lens, source, inst, supersample=supersample, psf=p, compile=renderer == "compiled")
        out = out[0].double().numpy()
        worst = max(worst, np.abs(out - ref).max() / np.abs(ref).max())
    return worst


# ------------------------------------------------------------------------------ tests
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("profile", DEFLECTION_PROFILES + LIGHT_PROFILES)
def test_profile_matches_lenstronomy(profile, dtype):
    assert worst_profile_ratio(profile, 6, dtype, seed=1) <= TOL[dtype]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_vortex_matches_lenstronomy_point_masses(dtype):
    assert worst_vortex_ratio(8, dtype, seed=2) <= TOL[dtype]


def test_sie_round_limit_matches_lenstronomy():
    x, y = grid.pixel_grid(20, 0.1, dtype=torch.float64)
    ax, ay = mass.sie(x, y, torch.tensor([1.2]), torch.tensor([0.0]), torch.tensor([0.0]), 0.0, 0.0)
    rx, ry = LensModel(["SIE"]).alpha(x.numpy(), y.numpy(), [{"theta_E": 1.2, "e1": 0.0, "e2": 0.0}])
    assert np.abs(ax[0].numpy() - rx).max() / np.abs(rx).max() < 1e-6
    assert np.abs(ay[0].numpy() - ry).max() / np.abs(ry).max() < 1e-6


def test_gaussian_kernel_matches_lenstronomy_psf():
    from lenstronomy.Util import kernel_util
    for fwhm, pix, trunc in [(0.16, 0.101, 5.0), (0.087, 0.05, 3.0), (0.08, 0.08, 5.0)]:
        k = psf.gaussian_kernel(fwhm, pix, trunc, dtype=torch.float64).numpy()
        r = max(round(trunc * fwhm / 2.3548200450309493 / pix), 1)
        ref = kernel_util.kernel_gaussian(2 * r + 1, pix, fwhm)
        assert k.shape == ref.shape
        np.testing.assert_allclose(k, ref, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("case", [
    ("euclid", 1, "cdm", False), ("euclid", 2, "axion", False), ("hst", 1, "tnfw", False),
    ("euclid", 1, "none", True), ("model_i", 2, "cdm", False),
])
def test_image_matches_lenstronomy(case, dtype):
    name, s, sub, pixel_psf = case
    k_sub = 100 if sub == "axion" else (5 if sub == "tnfw" else 25)
    inst = instruments.get(name)
    assert worst_image_ratio(2, dtype, inst, s, sub, k_sub=k_sub, pixel_psf=pixel_psf, seed=3) <= TOL[dtype]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("case", [("euclid", 1, "axion"), ("model_i", 2, "axion"), ("hst", 1, "cdm")])
def test_vortex_image_matches_lenstronomy(case, dtype):
    """Images with axions as the closed-form vortex group (eager here; compiled == eager is tested
    in test_lensing_fast.py) against lenstronomy's 100 POINT_MASS profiles."""
    name, s, sub = case
    inst = instruments.get(name)
    k_sub = 100 if sub == "axion" else 25
    assert worst_image_ratio(2, dtype, inst, s, sub, k_sub=k_sub, seed=4, renderer="vortex") <= TOL[dtype]
