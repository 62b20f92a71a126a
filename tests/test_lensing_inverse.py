"""lensing.inverse: grid maths, gradients (gradcheck), adjointness, and source reconstruction.

Reconstruction tolerance. A noiseless 64x64 image (0.08"/px, float64, point-sampled: no PSF, no
supersampling, so every pixel value is exactly the source at its ray position) of a Sersic source
(R = 0.25", n = 1) behind SIE + shear is inverted with the TRUE lens on a 32 x 32 source grid of
half-width 1" (0.0625"/node). Each node then holds a bilinear-weighted mean of the source values at
rays within one node spacing, i.e. the source smoothed over about 1/4 of R_sersic; for a smooth
profile that smoothing error is a few per cent (measured 3.7 %). We require relative L2 < 0.1 on the
nodes covered by rays (coverage weight > 0.5), and that a lens off by 0.1" in theta_E or 0.08" in
centre gives an error at least 2.5 times larger (measured 25 % and 11 %) and a larger re-lensing
residual.
"""

from __future__ import annotations

import pytest
import torch

from lensbench.lensing import inverse, lens_model, render
from lensbench.lensing.instruments import Instrument

NPIX, PS = 64, 0.08
TRUE_LENS = {"theta_E": 1.2, "e1": 0.1, "e2": -0.05, "center_x": 0.02, "center_y": -0.03,
             "gamma1": 0.03, "gamma2": -0.02}
SOURCE = {"amp": 1.0, "R_sersic": 0.25, "n_sersic": 1.0, "e1": 0.05, "e2": -0.1,
          "center_x": 0.1, "center_y": -0.05}


def _t(d: dict, dtype=torch.float64, **over) -> dict:
    return {k: torch.tensor([over.get(k, v)], dtype=dtype) for k, v in d.items()}


def _image(dtype=torch.float64) -> torch.Tensor:
    inst = Instrument(name="test", npix=NPIX, pixel_scale=PS, psf_fwhm=None)
    img = render.render(_t(TRUE_LENS, dtype), _t(SOURCE, dtype), inst, supersample=1, psf=False)
    return (img / PS ** 2).unsqueeze(1)  # surface brightness: (1, 1, H, W)


def _reconstruct(lens: dict, n_src: int = 32, half_width: float = 1.0):
    from lensbench.lensing.grid import pixel_grid
    from lensbench.lensing.light import sersic_ellipse

    x, y = pixel_grid(NPIX, PS, dtype=torch.float64)
    img = _image()
    sx, sy = inverse.source_grid(n_src, half_width, dtype=torch.float64)
    bx, by = lens_model.ray_shoot(x, y, lens)
    source, weight = inverse.reconstruct_source(img, bx, by, sx, sy)
    truth = sersic_ellipse(sx, sy, **_t(SOURCE))[0]
    covered = weight[0] > 0.5
    err = ((source[0, 0] - truth)[covered].norm() / truth[covered].norm()).item()
    residual = ((img - inverse.relens(source, bx, by, sx, sy)) ** 2).mean().item()
    return err, residual, covered.float().mean().item()


def test_grid_affine_roundtrip_on_lenstronomy_grid():
    from lensbench.lensing.grid import pixel_grid

    x, y = pixel_grid(5, 0.2, dtype=torch.float64)
    col, row = inverse.angle_to_pixel(x, y, x, y)
    rr, cc = torch.meshgrid(torch.arange(5.0, dtype=torch.float64), torch.arange(5.0, dtype=torch.float64),
                            indexing="ij")
    assert torch.allclose(col, cc) and torch.allclose(row, rr)
    with pytest.raises(ValueError, match="grid x, y"):
        inverse.grid_affine(x[0], y[0])


def test_splat_puts_a_node_value_on_that_node_and_drops_outside():
    vals = torch.tensor([[[2.0, 5.0, 7.0]]])
    col = torch.tensor([[1.0, 2.5, 10.0]])  # on a node, between two nodes, outside
    row = torch.tensor([[1.0, 0.0, 1.0]])
    out = inverse.bilinear_splat(vals, col, row, 3, 4)[0, 0]
    expect = torch.zeros(3, 4)
    expect[1, 1] = 2.0
    expect[0, 2] = expect[0, 3] = 2.5
    assert torch.allclose(out, expect)


def test_splat_is_the_adjoint_of_resampling():
    """<splat(v, p), s> == <v, resample(s, p)> for any values v, positions p and source image s."""
    g = torch.Generator().manual_seed(0)
    sx, sy = inverse.source_grid(6, 0.6, dtype=torch.float64)
    bx = (torch.rand(2, 4, 5, generator=g, dtype=torch.float64) - 0.5) * 1.6  # some fall outside
    by = (torch.rand(2, 4, 5, generator=g, dtype=torch.float64) - 0.5) * 1.6
    v = torch.randn(2, 3, 4, 5, generator=g, dtype=torch.float64)
    s = torch.randn(2, 3, 6, 6, generator=g, dtype=torch.float64)
    col, row = inverse.angle_to_pixel(bx, by, sx, sy)
    splat = inverse.bilinear_splat(v.reshape(2, 3, -1), col.reshape(2, -1), row.reshape(2, -1), 6, 6)
    lhs = (splat * s).sum()
    rhs = (v * inverse.resample(s, bx, by, sx, sy)).sum()
    assert torch.allclose(lhs, rhs, rtol=1e-10)


def test_gradcheck_splat_and_resample():
    g = torch.Generator().manual_seed(1)
    vals = torch.randn(2, 2, 6, generator=g, dtype=torch.float64, requires_grad=True)
    col = (torch.rand(2, 6, generator=g, dtype=torch.float64) * 4.6 - 0.8).requires_grad_()
    row = (torch.rand(2, 6, generator=g, dtype=torch.float64) * 3.6 - 0.8).requires_grad_()
    assert torch.autograd.gradcheck(lambda v, c, r: inverse.bilinear_splat(v, c, r, 4, 5), (vals, col, row))

    sx, sy = inverse.source_grid(4, 0.5, dtype=torch.float64)
    src = torch.randn(1, 1, 4, 4, generator=g, dtype=torch.float64, requires_grad=True)
    bx = ((torch.rand(1, 3, 3, generator=g, dtype=torch.float64) - 0.5) * 0.9).requires_grad_()
    by = ((torch.rand(1, 3, 3, generator=g, dtype=torch.float64) - 0.5) * 0.9).requires_grad_()
    assert torch.autograd.gradcheck(lambda s, a, b: inverse.resample(s, a, b, sx, sy), (src, bx, by))


def test_true_lens_reconstructs_source_and_wrong_lens_does_not():
    err, res, cover = _reconstruct(_t(TRUE_LENS))
    assert cover > 0.8, f"only {cover:.0%} of the source grid is covered by rays"
    assert err < 0.1, f"relative L2 error with the true lens {err:.3f}"
    for wrong in ({"theta_E": 1.3}, {"center_x": 0.1}):
        err_w, res_w, _ = _reconstruct(_t(TRUE_LENS, **wrong))
        assert err_w > 2.5 * err and err_w > 0.1, f"{wrong}: error {err_w:.3f} vs {err:.3f} (true lens)"
        assert res_w > 2.0 * res, f"{wrong}: re-lensing residual {res_w:.4g} vs {res:.4g}"


@pytest.mark.parametrize("offset", [0.05, -0.05])
def test_consistency_gradient_points_to_the_true_einstein_radius(offset):
    """d(residual)/d(theta_E) is non-zero and its sign moves theta_E towards the truth: the gradient
    passes through the ray positions (no rounding) and carries the right information."""
    from lensbench.lensing.grid import pixel_grid

    x, y = pixel_grid(NPIX, PS, dtype=torch.float64)
    img = _image()
    sx, sy = inverse.source_grid(32, 1.0, dtype=torch.float64)
    lens = _t(TRUE_LENS, theta_E=TRUE_LENS["theta_E"] + offset)
    for v in lens.values():
        v.requires_grad_(True)
    bx, by = inverse.ray_shoot(x, y, lens)
    source, _ = inverse.reconstruct_source(img, bx, by, sx, sy)
    loss = ((img - inverse.relens(source, bx, by, sx, sy)) ** 2).mean()
    loss.backward()
    grads = {k: v.grad.item() for k, v in lens.items()}
    assert all(g != 0 and torch.isfinite(torch.tensor(g)) for g in grads.values()), grads
    assert grads["theta_E"] * offset > 0, f"gradient {grads['theta_E']} does not point back to the truth"


def test_zero_lens_rays_are_the_image_grid():
    from lensbench.lensing.grid import pixel_grid

    x, y = pixel_grid(8, 0.1)
    bx, by = inverse.zero_lens_rays(x, y, 3)
    assert bx.shape == (3, 8, 8) and torch.equal(bx[2], x) and torch.equal(by[1], y)


def test_float32_reconstruction_matches_float64():
    from lensbench.lensing.grid import pixel_grid

    out = []
    for dt in (torch.float32, torch.float64):
        x, y = pixel_grid(NPIX, PS, dtype=dt)
        sx, sy = inverse.source_grid(32, 1.0, dtype=dt)
        bx, by = lens_model.ray_shoot(x, y, _t(TRUE_LENS, dt))
        out.append(inverse.reconstruct_source(_image(dt), bx, by, sx, sy)[0].double())
    assert torch.allclose(out[0], out[1], atol=1e-3 * out[1].abs().max().item())
