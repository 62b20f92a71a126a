"""lens-synthesis renders through the PSF of the instrument its task's dataset was simulated with
(``pinn_models.instrument``), compared with ``lensing.render`` through the same PSF."""

from __future__ import annotations

import pytest
import torch
from test_pinn_models import NPIX, PS, SPECS, make_task

from lensbench.lensing import instruments, render
from lensbench.lensing.instruments import Instrument
from lensbench.pinn_models.common import Geometry
from lensbench.pinn_models.instrument import task_instrument


def _truth(n: int = 4) -> tuple[dict, dict]:
    g = torch.Generator().manual_seed(1)

    def u(lo, hi):
        return lo + (hi - lo) * torch.rand(n, generator=g)

    lens = {"theta_E": u(0.8, 1.2), "e1": u(-0.15, 0.15), "e2": u(-0.15, 0.15), "center_x": u(-0.05, 0.05),
            "center_y": u(-0.05, 0.05), "gamma1": u(-0.05, 0.05), "gamma2": u(-0.05, 0.05)}
    source = {"amp": torch.ones(n), "R_sersic": u(0.15, 0.3), "n_sersic": u(0.8, 1.5), "e1": u(-0.2, 0.2),
              "e2": u(-0.2, 0.2), "center_x": u(-0.2, 0.2), "center_y": u(-0.2, 0.2)}
    return lens, source


def _render(name: str, task, lens: dict, source: dict, **over) -> torch.Tensor:
    """The model's render of these parameters, (B, H, W), per unit pixel area."""
    model = SPECS[name].factory(task, width=8, **over)
    params = {**lens, **{f"src_{k}": v for k, v in source.items() if k != "amp"}}
    return model.render(params)[:, 0]


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.allclose(a, b, rtol=1e-4, atol=1e-5 * b.abs().max())


def test_lens_synthesis_renders_through_the_dataset_instrument_psf():
    """Built for a task on lensbench-v1 (Euclid-like), the render is lensing.render's image with the
    Euclid PSF (per unit pixel area), and differs from the render without PSF; physics off renders
    the same source unlensed through the same PSF."""
    task = make_task("classification", npix=64, pixel_scale=0.101, dataset="lensbench-v1")
    model = SPECS["lens-synthesis"].factory(task, width=8)
    euclid = instruments.get("euclid")
    assert model.instrument.psf_fwhm == euclid.psf_fwhm == 0.16 and model.instrument.psf_truncation == 5.0
    assert "euclid" in model.psf_origin
    lens, source = _truth()
    area = euclid.pixel_scale ** 2
    ours = _render("lens-synthesis", task, lens, source)
    assert _close(ours, render.render(lens, source, euclid, supersample=2) / area)
    no_psf = render.render(lens, source, euclid, supersample=2, psf=False) / area
    assert (ours - no_psf).abs().max() > 0.05 * no_psf.abs().max()
    zero = {"gamma1": torch.zeros(4), "gamma2": torch.zeros(4)}  # the identity mapping
    unlensed = render.render(zero, source, euclid, supersample=2) / area
    assert _close(_render("lens-synthesis-nophys-aux", task, lens, source), unlensed)


def test_lens_synthesis_psf_given_or_absent():
    lens, source = _truth()
    task = make_task("classification")  # 32 x 32 at 0.15"/px, dataset not registered: no PSF
    model = SPECS["lens-synthesis"].factory(task, width=8)
    assert model.instrument.psf_fwhm is None and "no PSF" in model.psf_origin
    inst = Instrument(name="test", npix=NPIX, pixel_scale=PS, psf_fwhm=0.3, psf_truncation=5.0)
    given = _render("lens-synthesis", task, lens, source, psf_fwhm=0.3)
    assert _close(given, render.render(lens, source, inst, supersample=2) / PS ** 2)
    raw = render.render(lens, source, inst, supersample=2, psf=False) / PS ** 2
    assert _close(_render("lens-synthesis", task, lens, source), raw)
    assert _close(_render("lens-synthesis", task, lens, source, psf_fwhm=0), raw)


@pytest.mark.parametrize("dataset,shape,ps,fwhm", [
    ("lensbench-v1-hst", (1, 64, 64), 0.08, 0.08),          # recipe instrument hst
    ("deeplense-model1", (1, 150, 150), 0.05, 0.087),       # model_i, truncation 3
    ("lensfinding-des-v1", (3, 64, 64), 0.168, None),       # PSF applied inside the recipe, not its instrument
    ("deeplense-hsc-lensfinding-sample", (3, 64, 64), 0.168, None),  # a file dataset: no recipe
])
def test_task_instrument_follows_the_dataset_recipe(dataset, shape, ps, fwhm):
    task = make_task("classification", size=shape, pixel_scale=ps, dataset=dataset)
    inst, why = task_instrument(task, Geometry.from_task(task))
    assert (inst.npix, inst.pixel_scale, inst.psf_fwhm) == (shape[1], ps, fwhm), why
    assert inst.psf_truncation == (3.0 if dataset == "deeplense-model1" else 5.0)
    nominal = make_task("classification", size=shape, pixel_scale=0.0, dataset=dataset)
    assert task_instrument(nominal, Geometry.from_task(nominal))[0].psf_fwhm is None
