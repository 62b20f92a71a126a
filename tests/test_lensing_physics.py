"""Physics, batching, masking and gradient checks of the torch lensing simulator (no lenstronomy)."""

from __future__ import annotations

import math

import pytest
import torch
from torch.autograd import gradcheck

from lensbench.lensing import grid, instruments, lens_model, light, mass, noise, psf, render

D = torch.float64


def _g(n=6, pix=0.3):
    return grid.pixel_grid(n, pix, dtype=D)


def _t(*v):
    return torch.tensor(v, dtype=D, requires_grad=True)


# ------------------------------------------------------------------------------ grid
def test_grid_orientation_and_supersampling():
    x, y = grid.pixel_grid(4, 1.0, dtype=D)
    assert x[0, 0] == 1.5 and x[0, -1] == -1.5          # ra decreases with column
    assert y[0, 0] == -1.5 and y[-1, 0] == 1.5          # dec increases with row
    xs, ys = grid.pixel_grid(4, 1.0, supersample=3, dtype=D)
    assert xs.shape == (12, 12)
    # block means of the sub-pixel coordinates are the pixel centres
    torch.testing.assert_close(grid.downsample(xs[None], 3)[0], x)
    torch.testing.assert_close(grid.downsample(ys[None], 3)[0], y)
    with pytest.raises(ValueError):
        grid.downsample(torch.zeros(1, 7, 7), 2)


# ------------------------------------------------------------------------------ mass
def test_sis_equals_round_sie_and_point_mass_limit_of_line():
    x, y = grid.pixel_grid(16, 0.2, dtype=D)
    te = torch.tensor([1.1, 0.7], dtype=D)
    ax, ay = mass.sis(x, y, te, 0.05, -0.02)
    bx, by = mass.sie(x, y, te, torch.zeros(2, dtype=D), torch.zeros(2, dtype=D), 0.05, -0.02)
    torch.testing.assert_close(ax, bx, rtol=0, atol=1e-7)
    torch.testing.assert_close(ay, by, rtol=0, atol=1e-7)
    # a very short segment is a point mass of the same total mass
    px, py = mass.point_mass(x, y, torch.tensor([0.1], dtype=D), 0.33, 0.21)
    lx, ly = mass.line_mass(x, y, torch.tensor([0.1], dtype=D), 0.33, 0.21, 1e-5, 0.7)
    torch.testing.assert_close(lx, px, rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(ly, py, rtol=1e-6, atol=1e-9)


def test_line_mass_equals_many_point_masses_away_from_segment():
    x, y = grid.pixel_grid(20, 0.2, dtype=D)
    L, ang, te, cx, cy = 0.8, 0.6, 0.3, 0.1, -0.2
    n = 4000
    t = (torch.arange(n, dtype=D) + 0.5) / n * 2 * L - L   # midpoint rule along the segment
    sx, sy = cx + t * math.cos(ang), cy + t * math.sin(ang)
    pte = torch.full((1, n), te / math.sqrt(n), dtype=D)
    px, py = mass.point_mass(x, y, pte, sx[None], sy[None])
    lx, ly = mass.line_mass(x, y, torch.tensor([te], dtype=D), cx, cy, L, ang)
    u = (x - cx) * math.cos(ang) + (y - cy) * math.sin(ang)
    v = -(x - cx) * math.sin(ang) + (y - cy) * math.cos(ang)
    far = (v.abs() > 0.15) | (u.abs() > L + 0.15)
    peak = torch.hypot(lx, ly).max()
    assert ((lx - px)[0][far].abs().max() / peak) < 1e-4
    assert ((ly - py)[0][far].abs().max() / peak) < 1e-4


def test_total_deflection_and_ray_shoot_sum_components():
    x, y = grid.pixel_grid(10, 0.3, dtype=D)
    lens = {"theta_E": torch.tensor([1.2], dtype=D), "e1": torch.tensor([0.1], dtype=D),
                "e2": torch.tensor([0.0], dtype=D), "center_x": torch.tensor([0.0], dtype=D),
                "center_y": torch.tensor([0.0], dtype=D), "gamma1": torch.tensor([0.05], dtype=D),
                "gamma2": torch.tensor([0.0], dtype=D)}
    ax, ay = lens_model.deflection(x, y, lens)
    s1 = mass.sie(x, y, 1.2, 0.1, 0.0, 0.0, 0.0)
    s2 = mass.shear(x, y, 0.05, 0.0)
    torch.testing.assert_close(ax, s1[0] + s2[0])
    bx, by = lens_model.ray_shoot(x, y, lens)
    torch.testing.assert_close(bx, x - ax)
    torch.testing.assert_close(by, y - ay)
    with pytest.raises(KeyError, match="missing"):
        lens_model.deflection(x, y, {"theta_E": lens["theta_E"]})
    with pytest.raises(KeyError, match="unknown"):
        lens_model.deflection(x, y, {**lens, "thetaE": lens["theta_E"]})


def test_sie_einstein_ring_of_round_lens():
    # round SIS: |alpha| = theta_E everywhere except the centre
    x, y = grid.pixel_grid(12, 0.25, dtype=D)
    ax, ay = mass.sie(x, y, 1.3, 0.0, 0.0, 0.0, 0.0)
    torch.testing.assert_close(torch.hypot(ax, ay), torch.full_like(ax, 1.3), rtol=1e-7, atol=0)


@pytest.mark.parametrize("kind", ["point_mass", "tnfw", "line"])
def test_masked_subhalos_change_nothing_and_batches_equal_single_calls(kind):
    x, y = grid.pixel_grid(12, 0.25, dtype=D)
    g = torch.Generator().manual_seed(0)
    B, K = 3, 5
    counts = [5, 2, 0]
    mask = torch.tensor([[k < c for k in range(K)] for c in counts])
    cx = torch.rand(B, K, generator=g, dtype=D) * 3 - 1.5
    cy = torch.rand(B, K, generator=g, dtype=D) * 3 - 1.5
    if kind == "point_mass":
        p = [torch.rand(B, K, generator=g, dtype=D) * 0.1 + 0.01]
        fn = mass.point_mass
        args = lambda sl, b: [q[b:b + 1, sl] for q in p] + [cx[b:b + 1, sl], cy[b:b + 1, sl]]
    elif kind == "tnfw":
        p = [torch.rand(B, K, generator=g, dtype=D) * 0.3 + 0.05, torch.rand(B, K, generator=g, dtype=D) * 0.05,
             torch.rand(B, K, generator=g, dtype=D) + 0.3]
        fn = mass.tnfw
        args = lambda sl, b: [q[b:b + 1, sl] for q in p] + [cx[b:b + 1, sl], cy[b:b + 1, sl]]
    else:
        p = [torch.rand(B, K, generator=g, dtype=D) * 0.1 + 0.01]
        hl = torch.rand(B, K, generator=g, dtype=D) * 0.5 + 0.05
        an = torch.rand(B, K, generator=g, dtype=D) * 3

        def fn(x, y, te, cx_, cy_, hl_, an_, mask=None):
            return mass.line_mass(x, y, te, cx_, cy_, hl_, an_, mask=mask)
        args = lambda sl, b: [p[0][b:b + 1, sl], cx[b:b + 1, sl], cy[b:b + 1, sl], hl[b:b + 1, sl],
                              an[b:b + 1, sl]]
    all_args = [torch.cat([args(slice(None), b)[i] for b in range(B)]) for i in range(len(args(slice(None), 0)))]
    # garbage (NaN) in masked entries must not leak
    garbage = [torch.where(mask, a, torch.full_like(a, float("nan"))) for a in all_args]
    ax, ay = fn(x, y, *garbage, mask=mask)
    assert torch.isfinite(ax).all() and torch.isfinite(ay).all()
    for b, c in enumerate(counts):
        if c == 0:
            assert (ax[b] == 0).all() and (ay[b] == 0).all()
            continue
        sx, sy = fn(x, y, *args(slice(0, c), b))
        torch.testing.assert_close(ax[b], sx[0], rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(ay[b], sy[0], rtol=1e-12, atol=1e-14)
    # gradients: finite, and exactly zero for masked entries
    leaves = [a.detach().clone().requires_grad_(True) for a in all_args]
    ax, ay = fn(x, y, *leaves, mask=mask)
    (ax.sum() + (ay ** 2).sum()).backward()
    for leaf in leaves:
        assert torch.isfinite(leaf.grad).all()
        assert (leaf.grad[~mask] == 0).all()


def test_chunked_point_mass_sum_equals_unchunked(monkeypatch):
    x, y = grid.pixel_grid(8, 0.3, dtype=D)
    g = torch.Generator().manual_seed(1)
    te, cx, cy = (torch.rand(2, 37, generator=g, dtype=D) for _ in range(3))
    ref = mass.point_mass(x, y, te, cx, cy)                       # separable-grid path
    gen = mass.point_mass(x[None].expand(2, 8, 8), y[None].expand(2, 8, 8), te, cx, cy)  # general path
    torch.testing.assert_close(gen[0], ref[0])
    torch.testing.assert_close(gen[1], ref[1])
    monkeypatch.setattr(mass, "_CHUNK_ELEMENTS", 2 * 64 * 5)
    for xx, yy in ((x, y), (x[None].expand(2, 8, 8), y[None].expand(2, 8, 8))):
        out = mass.point_mass(xx, yy, te, cx, cy)
        torch.testing.assert_close(out[0], ref[0])
        torch.testing.assert_close(out[1], ref[1])


def test_point_mass_at_pixel_centre_is_finite():
    x, y = grid.pixel_grid(5, 0.1, dtype=torch.float32)
    te = torch.tensor([[0.05]], requires_grad=True)
    ax, ay = mass.point_mass(x, y, te, torch.zeros(1, 1), torch.zeros(1, 1))
    (ax.sum() + ay.sum()).backward()
    assert torch.isfinite(ax).all() and torch.isfinite(te.grad).all()
    assert ax[0, 2, 2] == 0


# ------------------------------------------------------------------------------ gradchecks
def test_gradcheck_mass_profiles():
    x, y = _g()
    checks = [
        (lambda te, cx, cy: mass.sis(x, y, te, cx, cy), (_t(1.1, 0.9), _t(0.05, -0.1), _t(0.02, 0.11))),
        (lambda te, e1, e2, cx, cy: mass.sie(x, y, te, e1, e2, cx, cy),
         (_t(1.1, 0.9), _t(0.12, -0.2), _t(0.05, 0.1), _t(0.05, -0.1), _t(0.02, 0.11))),
        (lambda g1, g2: mass.shear(x, y, g1, g2), (_t(0.05, -0.02), _t(0.01, 0.03))),
        (lambda te, cx, cy: mass.point_mass(x, y, te, cx, cy),
         (_t(0.1, 0.2, 0.05, 0.1).view(2, 2), _t(0.3, -0.4, 0.2, 0.01).view(2, 2), _t(0.1, 0.5, -0.3, 0.2).view(2, 2))),
        (lambda rs, ars, rt, cx, cy: mass.tnfw(x, y, rs, ars, rt, cx, cy),
         (_t(0.2, 0.5), _t(0.05, 0.02), _t(1.0, 2.0), _t(0.13, -0.4), _t(0.1, 0.5))),
        (lambda te, cx, cy, hl, an: mass.line_mass(x, y, te, cx, cy, hl, an),
         (_t(0.2, 0.1), _t(0.13, -0.4), _t(0.1, 0.5), _t(0.5, 0.3), _t(0.4, 2.0))),
    ]
    for fn, inputs in checks:
        assert gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-4)


def test_gradient_of_sie_at_zero_ellipticity_is_finite():
    x, y = _g()
    e1, e2 = _t(0.0, 0.0), _t(0.0, 0.0)
    ax, ay = mass.sie(x, y, 1.0, e1, e2, 0.0, 0.0)
    (ax.sum() + ay.sum()).backward()
    assert torch.isfinite(e1.grad).all() and torch.isfinite(e2.grad).all()


def test_gradcheck_light_and_psf(monkeypatch):
    x, y = _g()
    assert gradcheck(lambda a, r, n, e1, e2, cx, cy: light.sersic_ellipse(x, y, a, r, n, e1, e2, cx, cy),
                     (_t(2.0, 5.0), _t(0.5, 0.8), _t(1.0, 2.5), _t(0.1, -0.2), _t(0.05, 0.2), _t(0.1, -0.1),
                      _t(0.0, 0.2)), eps=1e-6, atol=1e-5, rtol=1e-4)
    g = torch.Generator().manual_seed(2)
    img = torch.rand(2, 5, 7, generator=g, dtype=D).requires_grad_(True)
    assert gradcheck(lambda im, s, cx, cy, ph: light.interpolated(x, y, im, s, cx, cy, ph),
                     (img, _t(0.31, 0.27), _t(0.07, -0.05), _t(0.03, 0.04), _t(0.3, -1.0)), eps=1e-6, atol=1e-5)
    im = torch.rand(2, 5, 6, generator=g, dtype=D).requires_grad_(True)
    k = torch.rand(3, 3, generator=g, dtype=D).requires_grad_(True)
    kb = torch.rand(2, 3, 4, generator=g, dtype=D).requires_grad_(True)
    assert gradcheck(lambda a, b: psf.convolve(a, b), (im, k), fast_mode=True)
    assert gradcheck(lambda a, b: psf.convolve(a, b, padding="nearest"), (im, kb), fast_mode=True)
    monkeypatch.setattr(psf, "DIRECT_MAX", 0)   # FFT path
    assert gradcheck(lambda a, b: psf.convolve(a, b, padding="nearest"), (im, k), fast_mode=True)


def test_gradcheck_full_render():
    inst = instruments.Instrument(name="tiny", npix=6, pixel_scale=0.4, psf_fwhm=0.5, psf_truncation=3.0,
                                  supersample=2)

    def f(te, e1, g1, sx, sy, cx, r):
        lens = {"theta_E": te, "e1": e1, "e2": torch.zeros_like(e1), "center_x": torch.zeros_like(e1),
                    "center_y": torch.zeros_like(e1), "gamma1": g1, "gamma2": torch.zeros_like(g1),
                    "sub_theta_E": torch.full((2, 2), 0.1, dtype=D), "sub_x": sx, "sub_y": sy}
        src = {"amp": torch.ones(2, dtype=D), "R_sersic": r, "n_sersic": torch.ones(2, dtype=D),
                   "e1": torch.zeros(2, dtype=D), "e2": torch.zeros(2, dtype=D), "center_x": cx, "center_y": torch.zeros(2, dtype=D)}
        return render.render(lens, src, inst)

    inputs = (_t(1.0, 1.2), _t(0.1, -0.05), _t(0.05, 0.02), _t(0.47, -0.63, 0.33, 0.88).view(2, 2),
              _t(0.21, 0.74, -0.42, 0.13).view(2, 2), _t(0.1, -0.2), _t(0.3, 0.5))
    assert gradcheck(f, inputs, eps=1e-6, atol=1e-5, rtol=1e-4, fast_mode=True)


# ------------------------------------------------------------------------------ light / psf
def test_sersic_amp_is_brightness_at_R_sersic():
    x = torch.tensor([[0.7]], dtype=D)
    y = torch.tensor([[0.0]], dtype=D)
    v = light.sersic_ellipse(x, y, 3.0, 0.7, 1.7, 0.0, 0.0, 0.0, 0.0)
    torch.testing.assert_close(v, torch.full((1, 1, 1), 3.0, dtype=D))


def test_interpolated_hits_pixel_values_and_orientation():
    img = torch.arange(12, dtype=D).view(3, 4)
    # source pixel (row 2, col 3) sits at (x, y) = ((3 - 1.5) * s, (2 - 1) * s)
    s = 0.1
    x = torch.tensor([[1.5 * s, -1.5 * s, 0.0]], dtype=D)
    y = torch.tensor([[1.0 * s, -1.0 * s, 5.0]], dtype=D)
    v = light.interpolated(x, y, img, s)
    torch.testing.assert_close(v[0, 0], torch.tensor([11.0, 0.0, 0.0], dtype=D))


def test_psf_kernel_and_convolution_paths_agree():
    k = psf.gaussian_kernel(0.16, 0.101, 5.0, dtype=D)
    assert k.shape == (7, 7) and abs(float(k.sum()) - 1) < 1e-12
    torch.testing.assert_close(k, k.T)
    g = torch.Generator().manual_seed(3)
    img = torch.rand(3, 20, 24, generator=g, dtype=D)
    big = torch.rand(17, 17, generator=g, dtype=D)   # > DIRECT_MAX: FFT path
    small = big[4:13, 2:11].contiguous()              # direct path, asymmetric
    for kern in (big, small, torch.rand(3, 4, 6, generator=g, dtype=D)):
        for pad in ("zeros", "nearest"):
            out = psf.convolve(img, kern, padding=pad)
            # reference: explicit sum over kernel taps (true convolution, 'same' like fftconvolve)
            kk = kern if kern.ndim == 3 else kern.expand(3, *kern.shape)
            kh, kw = kk.shape[-2:]
            ch, cw = (kh - 1) // 2, (kw - 1) // 2
            P = torch.nn.functional.pad(img[:, None], (kw - 1 - cw, cw, kh - 1 - ch, ch),
                                        mode="constant" if pad == "zeros" else "replicate")[:, 0]
            ref = torch.zeros_like(img)
            for i in range(kh):
                for j in range(kw):
                    ref += kk[:, i, j, None, None] * P[:, kh - 1 - i:kh - 1 - i + 20, kw - 1 - j:kw - 1 - j + 24]
            torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)
    # flux is conserved away from edges, and a delta function returns the kernel
    delta = torch.zeros(1, 21, 21, dtype=D)
    delta[0, 10, 10] = 1
    torch.testing.assert_close(psf.convolve(delta, k)[0, 7:14, 7:14], k)


# ------------------------------------------------------------------------------ noise, instruments, render
def test_noise_is_seeded_and_has_right_variance():
    img = torch.full((4, 64, 64), 2.0)
    a = noise.add_noise(img, 100.0, 0.05, torch.Generator().manual_seed(7))
    b = noise.add_noise(img, 100.0, 0.05, torch.Generator().manual_seed(7))
    c = noise.add_noise(img, 100.0, 0.05, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    var_expected = 2.0 / 100.0 + 0.05 ** 2
    assert abs(float((a - img).var()) / var_expected - 1) < 0.05
    assert abs(float((a - img).mean())) < 0.01
    assert noise.add_noise(img, 100.0, 0.05, None, noiseless=True) is img
    t = torch.tensor([1e6, 1.0, 1e6, 1.0])
    d = noise.add_noise(img, t, 0.0, torch.Generator().manual_seed(1)) - img
    assert d[0].std() < 0.01 < d[1].std()
    with pytest.raises(ValueError, match="Generator"):
        noise.add_noise(img, 100.0, 0.05, None)


def test_instrument_presets():
    assert instruments.get("model_i").npix == 150 and instruments.get("MODEL_I").pixel_scale == 0.05
    e = instruments.get("euclid")
    assert (e.npix, e.pixel_scale, e.psf_fwhm) == (64, 0.101, 0.16)
    h = instruments.get("model_iii")
    assert h.npix == 64 and h.pixel_scale == 0.08 and 0.08 <= h.psf_fwhm <= 0.1
    assert instruments.MODEL_I.psf_fwhm == 0.087
    with pytest.raises(KeyError, match="expected one of"):
        instruments.get("jwst")


def test_render_shapes_dtype_flux_and_psf_switch():
    inst = instruments.EUCLID
    B = 3
    lens = {"theta_E": torch.full((B,), 1.2), "e1": torch.full((B,), 0.1), "e2": torch.zeros(B),
                "center_x": torch.zeros(B), "center_y": torch.zeros(B), "gamma1": torch.full((B,), 0.05), "gamma2": torch.zeros(B)}
    src = {"amp": torch.full((B,), 20.0), "R_sersic": torch.full((B,), 0.25), "n_sersic": torch.ones(B),
               "e1": torch.full((B,), -0.1), "e2": torch.full((B,), 0.1), "center_x": torch.tensor([0.0, 0.2, -0.3]),
               "center_y": torch.zeros(B)}
    img = render.render(lens, src, inst)
    assert img.shape == (B, 64, 64) and img.dtype == torch.float32 and torch.isfinite(img).all()
    nopsf = render.render(lens, src, inst, psf=False)
    # Gaussian PSF with edge replication conserves the total flux up to edge effects, and blurs
    assert abs(float(img.sum() / nopsf.sum()) - 1) < 1e-3
    assert float(img.max()) < float(nopsf.max())
    img64 = render.render({k: v.double() for k, v in lens.items()}, {k: v.double() for k, v in src.items()}, inst)
    assert img64.dtype == torch.float64
    assert float((img64 - img.double()).abs().max() / img64.abs().max()) < 1e-5
    # lensing conserves surface brightness: the brightest pixel is not above the source peak * area
    peak_sb = 20.0 * math.exp(light.b_n(torch.tensor(1.0)).item())
    assert float(nopsf.max()) <= peak_sb * inst.pixel_scale ** 2 * 1.0001
    with pytest.raises(KeyError, match="source dict missing"):
        render.render(lens, {"amp": src["amp"]}, inst)


def test_separable_psf_equals_2d_convolution_and_is_differentiable():
    g = psf.gaussian_kernel_1d(0.16, 0.101, 5.0, dtype=D)
    k2 = psf.gaussian_kernel(0.16, 0.101, 5.0, dtype=D)
    torch.testing.assert_close(torch.outer(g, g), k2)
    img = torch.rand(3, 12, 17, dtype=D)
    for pad in ("zeros", "nearest"):
        torch.testing.assert_close(psf.convolve_separable(img, g, pad), psf.convolve(img, k2, padding=pad),
                                   rtol=1e-12, atol=1e-12)
    # an asymmetric kernel checks orientation (true convolution, not correlation)
    a = torch.tensor([0.1, 0.2, 0.7], dtype=D)
    torch.testing.assert_close(psf.convolve_separable(img, a, "zeros"), psf.convolve(img, torch.outer(a, a)),
                               rtol=1e-12, atol=1e-12)
    im = torch.rand(2, 6, 5, dtype=D, requires_grad=True)
    gg = torch.tensor([0.25, 0.5, 0.25], dtype=D, requires_grad=True)
    assert gradcheck(lambda a, b: psf.convolve_separable(a, b, "nearest"), (im, gg), fast_mode=True)
    with pytest.raises(ValueError, match="1-D kernel"):
        psf.convolve_separable(img, k2)


def test_render_blocks_do_not_change_any_image(monkeypatch):
    """render() works through big batches in blocks; each image must come out as when rendered alone
    (to float rounding: vectorised and scalar code paths round differently), with point masses and a
    mask, a shared source image and per-image PSFs; the same call twice is bit-identical."""
    g = torch.Generator().manual_seed(3)
    B, K = 7, 5
    u = lambda *s: torch.rand(*s, generator=g)
    lens = {"theta_E": 1 + 0.3 * u(B), "e1": 0.2 * u(B) - 0.1, "e2": 0.2 * u(B) - 0.1, "center_x": 0.05 * u(B),
                "center_y": 0.05 * u(B), "gamma1": 0.05 * u(B), "gamma2": 0.05 * u(B), "sub_theta_E": 0.05 * u(B, K),
                "sub_x": 2 * u(B, K) - 1, "sub_y": 2 * u(B, K) - 1, "sub_mask": u(B, K) > 0.3}
    src = {"amp": 10 + u(B), "R_sersic": 0.2 + 0.1 * u(B), "n_sersic": 1 + u(B), "e1": 0.1 * u(B), "e2": 0.1 * u(B),
               "center_x": 0.2 * u(B) - 0.1, "center_y": 0.2 * u(B) - 0.1}
    image = {"image": u(12, 12), "scale": torch.full((B,), 0.05), "center_x": torch.zeros(B), "center_y": torch.zeros(B)}
    inst = instruments.Instrument(name="t", npix=16, pixel_scale=0.2, psf_fwhm=0.3)
    kernels = torch.rand(B, 3, 3, generator=g)
    one = [render.render({k: v[i:i + 1] for k, v in lens.items()}, {k: v[i:i + 1] for k, v in src.items()}, inst,
                         source_image={**image, **{k: image[k][i:i + 1] for k in ("scale", "center_x", "center_y")}})
           for i in range(B)]
    monkeypatch.setattr(render, "BLOCK_PIXELS", 2 * 16 * 16)   # blocks of 2 images
    blocked = render.render(lens, src, inst, source_image=image)
    torch.testing.assert_close(blocked, torch.cat(one), rtol=1e-5, atol=1e-6 * float(blocked.max()))
    assert torch.equal(blocked, render.render(lens, src, inst, source_image=image))
    per_psf = render.render(lens, src, inst, psf=kernels)
    torch.testing.assert_close(per_psf[4], render.render({k: v[4:5] for k, v in lens.items()},
                                                         {k: v[4:5] for k, v in src.items()}, inst, psf=kernels[4:5])[0])
