"""lensing.vortex (closed-form axion vortex) and the compiled path of lensing.render
(``render(..., compile=True)``): numbers against the direct point-mass sum and the eager render,
gradients, blocks, errors, the compile fallback, the builders' switch. Agreement with lenstronomy is
in test_lensing_vs_lenstronomy.py."""

from __future__ import annotations

import math
import shutil
import warnings

import pytest
import torch

from lensbench.lensing import grid, instruments, mass, render, vortex
from lensbench.lensing.instruments import Instrument

SMALL = Instrument(name="small", npix=16, pixel_scale=0.2, psf_fwhm=0.3, psf_truncation=3.0)


def _vortex_params(B: int, dtype, seed: int = 0, n=100):
    g = torch.Generator().manual_seed(seed)
    u = lambda lo, hi: lo + (hi - lo) * torch.rand(B, generator=g, dtype=torch.float64)
    p = {"theta_E": u(0.005, 0.05), "center_x": u(-0.3, 0.3), "center_y": u(-0.3, 0.3),
         "half_length": 10 ** u(-1.5, 0.5), "angle": u(0, math.pi)}
    return {k: v.to(dtype) for k, v in p.items()}, n


def _as_point_masses(p: dict, n) -> dict:
    """The same vortex as (B, max n) point masses with a mask (n may differ per image)."""
    nn = torch.as_tensor(n).expand(p["theta_E"].shape[0])
    K = int(nn.max())
    k = torch.arange(K, dtype=p["theta_E"].dtype)
    t = (-1 + 2 * k / (nn[:, None] - 1).to(k.dtype)) * p["half_length"][:, None]
    mask = k[None] < nn[:, None]
    return {"sub_theta_E": p["theta_E"][:, None].expand(-1, K), "sub_mask": mask,
            "sub_x": p["center_x"][:, None] + t * torch.cos(p["angle"])[:, None],
            "sub_y": p["center_y"][:, None] + t * torch.sin(p["angle"])[:, None]}


def _vortex(x, y, p, n):
    return vortex.vortex(x, y, p["theta_E"], p["center_x"], p["center_y"], p["half_length"], p["angle"], n)


@pytest.mark.parametrize("n", [2, 3, 100, torch.tensor([2, 7, 25, 100, 60, 11])])
def test_vortex_equals_direct_point_mass_sum_float64(n):
    x, y = grid.pixel_grid(40, 0.1, dtype=torch.float64)
    p, n = _vortex_params(6, torch.float64, seed=1, n=n)
    ax, ay = _vortex(x, y, p, n)
    pm = _as_point_masses(p, n)
    rx, ry = mass.point_mass(x, y, pm["sub_theta_E"], pm["sub_x"], pm["sub_y"], pm["sub_mask"])
    peak = torch.maximum(rx.abs().amax((1, 2)), ry.abs().amax((1, 2)))
    err = torch.maximum((ax - rx).abs().amax((1, 2)), (ay - ry).abs().amax((1, 2)))
    assert ax.shape == (6, 40, 40)
    assert float((err / peak).max()) < 1e-10


def test_vortex_float32_close_to_float64_and_finite_on_the_segment():
    # a row of pixel centres on the segment, between masses (0.0202" apart; 0.003" from the nearest)
    x, y = grid.pixel_grid(41, 0.05, dtype=torch.float64)
    p = {"theta_E": torch.tensor([0.022]), "center_x": torch.tensor([0.013]), "center_y": torch.tensor([0.0]),
         "half_length": torch.tensor([1.0]), "angle": torch.tensor([0.0])}
    a64 = _vortex(x, y, {k: v.double() for k, v in p.items()}, 100)
    a32 = _vortex(x.float(), y.float(), p, 100)
    for a, b in zip(a32, a64):
        assert torch.isfinite(a).all()
        assert float((a.double() - b).abs().max()) < 1e-4 * float(b.abs().max())


def test_vortex_gradcheck():
    x, y = grid.pixel_grid(6, 0.25, dtype=torch.float64)
    p, _ = _vortex_params(2, torch.float64, seed=3)
    names = ("theta_E", "center_x", "center_y", "half_length", "angle")
    args = [p[k].clone().requires_grad_(True) for k in names]

    def f(*a):
        ax, ay = vortex.vortex(x, y, *a, 25)
        return torch.stack([ax, ay])

    assert torch.autograd.gradcheck(f, args, eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("bad", [1, 2.5, torch.tensor([3, 0])])
def test_vortex_rejects_bad_n(bad):
    x, y = grid.pixel_grid(8, 0.1)
    with pytest.raises(ValueError, match="integer >= 2"):
        vortex.vortex(x, y, 0.02, 0.0, 0.0, 0.5, 0.3, bad)


# ------------------------------------------------------------------------------ render(compile=True)
def _recipe(B: int, dtype, sub: str, seed: int = 0, K: int = 5):
    g = torch.Generator().manual_seed(seed)
    u = lambda lo, hi, *s: (lo + (hi - lo) * torch.rand(*(s or (B,)), generator=g, dtype=torch.float64)).to(dtype)
    lens = {"theta_E": u(0.9, 1.4), "e1": u(-0.2, 0.2), "e2": u(-0.2, 0.2), "center_x": u(-0.05, 0.05),
            "center_y": u(-0.05, 0.05), "gamma1": u(-0.05, 0.05), "gamma2": u(-0.05, 0.05)}
    if sub == "cdm":
        lens.update(sub_theta_E=u(0.005, 0.1, B, K), sub_x=u(-1.5, 1.5, B, K), sub_y=u(-1.5, 1.5, B, K),
                    sub_mask=torch.rand(B, K, generator=g) < 0.7)
    elif sub == "tnfw":
        lens.update(tnfw_Rs=u(0.05, 0.3, B, K), tnfw_alpha_Rs=u(0.001, 0.02, B, K), tnfw_r_trunc=u(0.2, 2, B, K),
                    tnfw_x=u(-1.5, 1.5, B, K), tnfw_y=u(-1.5, 1.5, B, K))
    src = {"amp": u(5, 30), "R_sersic": u(0.1, 0.5), "n_sersic": u(0.7, 3), "e1": u(-0.3, 0.3), "e2": u(-0.3, 0.3),
           "center_x": u(-0.3, 0.3), "center_y": u(-0.3, 0.3)}
    return lens, src


@pytest.fixture
def traced(monkeypatch):
    """``render(..., compile=True)`` with ``torch.compile`` replaced by its own branches run eagerly:
    the compiled function is ``render_block`` called with ``torch.compiler.is_compiling()`` True (the
    fused point-mass chain, no checks inside). Returns the list of (images, point masses) of the
    blocks it was called with."""
    seen = []

    def block(*args):
        lens = args[2]
        seen.append((lens["theta_E"].shape[0], lens["sub_theta_E"].shape[1] if "sub_theta_E" in lens else 0))
        with monkeypatch.context() as m:
            m.setattr(torch.compiler, "is_compiling", lambda: True)
            return render.render_block(*args)

    monkeypatch.setitem(render._state, "compiled", block)
    monkeypatch.setitem(render._state, "failed", False)
    return seen


PIXEL_PSF = torch.tensor([[0.05, 0.1, 0.05], [0.1, 0.4, 0.1], [0.05, 0.1, 0.05]], dtype=torch.float64)


@pytest.mark.parametrize("sub,K,s,psf", [("none", 0, 1, True), ("cdm", 5, 2, True), ("cdm", 140, 1, False),
                                         ("tnfw", 4, 1, True), ("cdm", 5, 1, "pixel"), ("cdm", 3, 1, "per-image")])
def test_compile_mode_equals_eager(traced, sub, K, s, psf):
    """The compile-mode branches (fused point masses for K <= FUSED_POINT_MASSES, chunked above,
    point masses padded to POINT_MASS_BUCKET, blocks padded), masks, TNFW, supersampling, no PSF, a
    pixelised PSF and per-image PSFs give the eager images."""
    lens, src = _recipe(5, torch.float64, sub, seed=K, K=max(K, 1))
    p = {"pixel": PIXEL_PSF, "per-image": PIXEL_PSF * torch.linspace(0.5, 1.5, 5, dtype=torch.float64)[:, None, None]
         }.get(psf, psf)
    ref = render.render(lens, src, SMALL, supersample=s, psf=p)
    out = render.render(lens, src, SMALL, supersample=s, psf=p, compile=True)
    assert traced == [(8, -(-K // 8) * 8 if sub == "cdm" else 0)]  # 5 images padded to 8, K to a multiple of 8
    assert out.shape == ref.shape == (5, 16, 16)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12 * float(ref.abs().max()))


def test_vortex_group_equals_point_mass_render():
    lens, src = _recipe(4, torch.float64, "none", seed=5)
    p, n = _vortex_params(4, torch.float64, seed=6, n=torch.tensor([100, 2, 30, 77]))
    pm = _as_point_masses(p, n)
    ref = render.render({**lens, **pm}, src, instruments.EUCLID)
    vl = {**lens, "vortex_theta_E": p["theta_E"], "vortex_x": p["center_x"], "vortex_y": p["center_y"],
          "vortex_half_length": p["half_length"], "vortex_angle": p["angle"], "vortex_n": n}
    out = render.render(vl, src, instruments.EUCLID)
    assert float((out - ref).abs().max() / ref.abs().max()) < 1e-10


def test_compiled_blocks_pad_the_last_one(traced, monkeypatch):
    lens, src = _recipe(7, torch.float64, "cdm", seed=7)
    whole = render.render(lens, src, SMALL)
    monkeypatch.setattr(render, "BLOCK_PIXELS", 3 * 16 * 16)  # blocks of 3 images: 3 + 3 + 1 (padded to 3)
    blocked = render.render(lens, src, SMALL, compile=True)
    assert traced == [(3, 8)] * 3
    torch.testing.assert_close(blocked, whole, rtol=1e-12, atol=0.0)
    monkeypatch.setattr(render, "BLOCK_PIXELS", 64 * 16 * 16)  # a batch of 5 in one block, padded to 8
    traced.clear()
    first5 = [{k: v[:5] for k, v in d.items()} for d in (lens, src)]
    torch.testing.assert_close(render.render(*first5, SMALL, compile=True), whole[:5], rtol=1e-12, atol=0.0)
    assert traced == [(8, 8)]


def test_gradients_flow_to_vortex_and_source():
    lens, src = _recipe(2, torch.float64, "none", seed=8)
    p, n = _vortex_params(2, torch.float64, seed=9, n=50)
    L = p["half_length"].clone().requires_grad_(True)
    amp = src["amp"].clone().requires_grad_(True)
    vl = {**lens, "vortex_theta_E": p["theta_E"] * 5, "vortex_x": p["center_x"], "vortex_y": p["center_y"],
          "vortex_half_length": L, "vortex_angle": p["angle"], "vortex_n": n}
    img = render.render(vl, {**src, "amp": amp}, SMALL)
    img.square().sum().backward()
    assert torch.isfinite(L.grad).all() and float(L.grad.abs().min()) > 0
    assert torch.isfinite(amp.grad).all() and float(amp.grad.abs().min()) > 0


@pytest.mark.parametrize("compile", [False, True])
@pytest.mark.parametrize("lens_update,err,match", [
    ({"bogus": torch.zeros(2)}, KeyError, "unknown lens dict keys"),
    ({"vortex_theta_E": torch.zeros(2)}, KeyError, "part of the 'vortex' group"),
    ({"vortex_theta_E": torch.full((2,), 0.02), "vortex_x": torch.zeros(2), "vortex_y": torch.zeros(2),
      "vortex_half_length": torch.ones(2), "vortex_angle": torch.zeros(2), "vortex_n": 1}, ValueError, "integers >= 2"),
])
def test_rejects_bad_lens_dicts(traced, lens_update, err, match, compile):
    lens, src = _recipe(2, torch.float32, "none")
    with pytest.raises(err, match=match):
        render.render({**lens, **lens_update}, src, SMALL, compile=compile)
    assert traced == []  # checked before any block


def test_rejects_bad_arguments():
    lens, src = _recipe(2, torch.float32, "none")
    with pytest.raises(KeyError, match="source dict missing"):
        render.render(lens, {"amp": src["amp"]}, SMALL, compile=True)
    with pytest.raises(KeyError, match="no mass component"):
        render.render({}, src, SMALL, compile=True)
    with pytest.raises(TypeError, match="Instrument"):
        render.render(lens, src, "euclid", compile=True)
    with pytest.raises(TypeError, match="psf must be"):
        render.render(lens, src, SMALL, psf=torch.ones(2, 2, 3, 3) / 9, compile=True)


def test_falls_back_to_eager_once_when_compiling_fails(monkeypatch):
    lens, src = _recipe(3, torch.float64, "none", seed=10)
    ref = render.render(lens, src, SMALL)

    def broken(*a):
        raise RuntimeError("no C++ compiler")

    monkeypatch.setitem(render._state, "compiled", broken)
    monkeypatch.setitem(render._state, "failed", False)
    with pytest.warns(RuntimeWarning, match="torch.compile failed .*no C\\+\\+ compiler"):
        out = render.render(lens, src, SMALL, compile=True)
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    assert render._state["failed"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        render.render(lens, src, SMALL, compile=True)  # eager from now on, silently
    # an error of the caller's is raised, not swallowed as a compiler failure
    monkeypatch.setitem(render._state, "failed", False)
    with pytest.raises(ValueError, match="per-image parameter"):
        render.render({**lens, "theta_E": torch.ones(2, 2, 2)}, src, SMALL, compile=True)
    assert not render._state["failed"]


@pytest.mark.parametrize("value,small,large", [(None, False, True), ("auto", False, True), ("1", True, True),
                                               ("on", True, True), ("0", False, False), ("False", False, False)])
def test_compile_default_reads_the_environment(monkeypatch, value, small, large):
    if value is None:
        monkeypatch.delenv(render.COMPILE_ENV, raising=False)
    else:
        monkeypatch.setenv(render.COMPILE_ENV, value)
    assert render.compile_default(render.COMPILE_MIN_IMAGES - 1) is small
    assert render.compile_default(render.COMPILE_MIN_IMAGES) is large
    monkeypatch.setenv(render.COMPILE_ENV, "sometimes")
    with pytest.raises(ValueError, match="LENSBENCH_COMPILE='sometimes': expected 0, 1 or auto"):
        render.compile_default(10)


@pytest.mark.skipif(shutil.which("c++") is None and shutil.which("g++") is None,
                    reason="torch.compile on CPU needs a C++ compiler")
def test_compiled_equals_eager():
    """One real compile (small grid, float32): the vortex + SIE + shear + Sersic + PSF graph."""
    lens, src = _recipe(3, torch.float32, "none", seed=11)
    p, n = _vortex_params(3, torch.float32, seed=12, n=100)
    vl = {**lens, "vortex_theta_E": p["theta_E"] * 3, "vortex_x": p["center_x"], "vortex_y": p["center_y"],
          "vortex_half_length": p["half_length"], "vortex_angle": p["angle"], "vortex_n": n}
    eager = render.render(vl, src, SMALL)
    with torch.no_grad():
        compiled = render.render(vl, src, SMALL, compile=True)
    assert not render._state["failed"], "torch.compile fell back to eager"
    assert float((compiled - eager).abs().max()) <= 1e-5 * float(eager.abs().max())
