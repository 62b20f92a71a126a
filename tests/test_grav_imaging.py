"""grav-imaging (``pinn_models.grav_imaging``): registration as a 2x2 ablation, gradients reaching
every physics parameter (lens, Sersic and the pixel source), the true-parameter fit at the noise
level (direct renders with known noise, and a lensbench-v1 recipe), the identity mapping with
physics off, loss parts per switch, and training.

Data as in ``test_pinn_models`` (32 x 32 at 0.15"/px, SIE + shear + Sersic, ``cdm`` with 5 point
masses, Gaussian noise, standardised); models at ``width=8``.
"""

from __future__ import annotations

import math

import pytest
import torch
from test_pinn_models import NPIX, PS, lens_dataset, make_task

from lensbench import registry
from lensbench.lensing import render
from lensbench.lensing.instruments import Instrument
from lensbench.pinn_models import catalog
from lensbench.pinn_models.common import LENS_NAMES
from lensbench.pinn_models.grav_imaging import border_noise

P = "grav-imaging"
SPECS = {s.name: s for s in catalog.specs()}
VARIANTS = {f"{P}{suffix}": switches for suffix, switches in
            {"": (True, True), "-noaux": (True, False), "-nophys-aux": (False, True), "-nophys": (False, False)}.items()}
WEIGHTS = {"task": 1.0, "reconstruction": 0.1, "prior": 1e-2, "aux_params": 0.1}


@pytest.fixture(scope="module")
def data():
    torch.manual_seed(0)
    return lens_dataset(n_per_class=12, seed=3)


def _build(name: str, task, **over):
    torch.manual_seed(0)
    return SPECS[name].factory(task, **{"width": 8, **over})


def _truth(d: dict, n: int) -> tuple[dict, dict]:
    """The lens and Sersic source dicts (``lensing.render`` keys) of the first ``n`` images of ``d``."""
    lens = {k: d["aux"][k][:n] for k in LENS_NAMES}
    source = {k: d["aux"][c][:n] for k, c in (("amp", "src_amp"), ("R_sersic", "src_R"), ("n_sersic", "src_n"),
                                               ("e1", "src_e1"), ("e2", "src_e2"), ("center_x", "src_x"),
                                               ("center_y", "src_y"))}
    return lens, source


def _params(lens: dict, source: dict) -> dict:
    return {**lens, **{f"src_{k}": v for k, v in source.items() if k != "amp"}}


def _labelled(d: dict, n: int | None = None, aux: bool = True) -> dict:
    """A classification batch of the first ``n`` images, with the true parameters when ``aux``."""
    idx = slice(0, n)
    return {"image": d["image"][idx], "target": d["label"][idx],
            **({"aux": {k: v[idx] for k, v in d["aux"].items()}} if aux else {})}


def test_catalog_registers_the_2x2_ablation():
    for name, (phys, aux) in VARIANTS.items():
        spec = SPECS[name]
        assert (spec.config["physics"], spec.config["aux_params"], spec.config["ablation_of"]) == (phys, aux, P)
        assert spec.family == ("pinn" if name == P else "ablation")
        assert set(spec.kinds) == {"classification", "regression"}
        assert SPECS[spec.twin].config["physics"] is not phys
        assert catalog.ablation_names(P)[(phys, aux)] == name
    assert SPECS[P].config["supersample"] == 1 and SPECS[P].source.endswith("grav_imaging:build")
    with pytest.raises(ValueError, match="supervised"):
        SPECS[P].factory(make_task("anomaly"))


@pytest.mark.parametrize("kind", ["classification", "regression"])
def test_four_variants_have_identical_parameters(kind):
    task = make_task(kind)
    shapes = [{k: q.shape for k, q in SPECS[n].factory(task).named_parameters()} for n in VARIANTS]
    assert all(s == shapes[0] for s in shapes)
    counts = {sum(q.numel() for q in SPECS[n].factory(task).parameters() if q.requires_grad) for n in VARIANTS}
    synthesis = sum(q.numel() for q in SPECS["lens-synthesis"].factory(task).parameters())
    assert len(counts) == 1 and abs(counts.pop() - synthesis) < 0.05 * synthesis  # the same ballpark


def test_gradients_reach_every_physics_parameter(data):
    """From the whole loss and from the reconstruction term alone: every lens and Sersic parameter and
    the pixel source grid get finite, non-zero gradients (the render is differentiable in the ray
    positions and the source sampling, not rounded), and so do the heads that predict them."""
    task = make_task("classification")
    model = _build(P, task).train()
    batch = _labelled(data, 8)
    out = model(batch["image"])
    extras = model._cache[1]
    leaves = {**extras["params"], "pixels": extras["pixels"]}
    parts = model.loss(batch, out)
    grads = torch.autograd.grad(parts["reconstruction"], list(leaves.values()), retain_graph=True)
    for k, gr in zip(leaves, grads):
        assert torch.isfinite(gr).all() and gr.abs().sum() > 0, k
    assert (grads[-1].abs().sum(dim=0) > 0).float().mean() > 0.5  # most source pixels are seen by rays
    assert set(extras["params"]) >= set(LENS_NAMES) and len(extras["params"]) == 13
    parts["loss"].backward()
    for module in (model.lens_encoder, model.param_head, model.pixel_head, model.feature_encoder, model.head):
        for name, q in module.named_parameters():
            assert q.grad is not None and torch.isfinite(q.grad).all() and q.grad.abs().sum() > 0, name


@pytest.mark.parametrize("supersample", [1, 2])
def test_true_parameters_leave_a_residual_at_the_noise_level(data, supersample):
    """Images rendered by ``lensing.render`` (64 x 64 at 0.075"/px, 2x2 supersampled, PSF 0.2") with
    known parameters and Gaussian noise of known sigma, standardised: the model's render of the true
    parameters leaves a normalised residual of mean square ~1 (the border estimate finds the true
    sigma); a lens 0.1" too large does not."""
    n, sigma, npix, ps = 6, 0.03, 64, 0.075
    lens, source = _truth(data, n)
    inst = Instrument(name="test", npix=npix, pixel_scale=ps, psf_fwhm=0.2, supersample=2)
    clean = render.render(lens, source, inst)
    clean = clean / clean.amax(dim=(1, 2), keepdim=True)
    g = torch.Generator().manual_seed(5)
    noisy = clean + sigma * torch.randn(clean.shape, generator=g)
    mean, std = noisy.mean(dim=(1, 2), keepdim=True), noisy.std(dim=(1, 2), keepdim=True)
    x = ((noisy - mean) / std).unsqueeze(1)
    task = make_task("classification", npix=npix, pixel_scale=ps)
    model = _build(P, task, psf_fwhm=0.2, supersample=supersample)
    fit = model.fit(x, _params(lens, source))
    chi2 = fit["nres"].pow(2).mean(dim=(1, 2, 3))
    assert torch.all((chi2 > 0.8) & (chi2 < 1.25)), chi2
    assert torch.allclose(fit["sigma"].flatten(), sigma / std.flatten(), rtol=0.08)
    wrong = model.fit(x, _params({**lens, "theta_E": lens["theta_E"] + 0.1}, source))
    assert torch.all(wrong["nres"].pow(2).mean(dim=(1, 2, 3)) > 1.5 * chi2)


def test_true_parameters_on_the_lensbench_recipe():
    """lensbench-v1 ``no_sub`` images (Euclid-like PSF, Poisson + sky noise) fitted with their true
    parameters: chi^2 per pixel near 1 (a little above: Poisson noise on the arcs exceeds the sky
    noise the border measures)."""
    recipe = registry.recipes.get("lensbench-v1")
    images, cols = recipe.generate("no_sub", n=8, seed=0, data_root=None, device=None)
    x = torch.as_tensor(images)
    x = (x - x.mean(dim=(2, 3), keepdim=True)) / x.std(dim=(2, 3), keepdim=True)
    c = {k: torch.as_tensor(v) for k, v in cols.items()}
    params = {**{k: c[k] for k in LENS_NAMES}, "src_R_sersic": c["src_R"], "src_n_sersic": c["src_n"],
              "src_e1": c["src_e1"], "src_e2": c["src_e2"], "src_center_x": c["src_x"], "src_center_y": c["src_y"]}
    model = _build(P, make_task("classification", npix=64, pixel_scale=0.101, dataset="lensbench-v1"))
    assert "euclid" in model.psf_origin
    chi2 = model.fit(x, params)["nres"].pow(2).mean(dim=(1, 2, 3))
    assert torch.all((chi2 > 0.8) & (chi2 < 1.3)) and 0.95 < chi2.mean() < 1.2, chi2


def test_border_noise_is_robust_and_floored():
    g = torch.Generator().manual_seed(0)
    x = 0.5 * torch.randn(4, 2, 48, 48, generator=g)
    x[..., 10:38, 10:38] += 20.0  # a bright object inside the border
    x[..., 0, :3] += 50.0  # a few outliers on it
    assert torch.allclose(border_noise(x, 4).flatten(), torch.full((8,), 0.5), rtol=0.1)
    flat = torch.zeros(2, 1, 16, 16)
    flat[..., 6:10, 6:10] = 1.0
    floor = border_noise(flat, 2, floor=0.01)
    assert torch.allclose(floor.flatten(), 0.01 * flat.flatten(1).std(dim=1))


def test_physics_off_is_the_identity_mapping(data):
    """The physics-off variants render the source unlensed (the same image as lensing.render with no
    lens) and back-project by resampling; with identical weights the forward differs from physics on."""
    task = make_task("classification")
    on, off = _build(P, task, psf_fwhm=0.2), _build(f"{P}-nophys", task, psf_fwhm=0.2)
    off.load_state_dict(on.state_dict())
    lens, source = _truth(data, 3)
    inst = Instrument(name="test", npix=NPIX, pixel_scale=PS, psf_fwhm=0.2, psf_truncation=5.0)
    zero = {"gamma1": torch.zeros(3), "gamma2": torch.zeros(3)}
    unlensed = render.render(zero, source, inst, supersample=1) / PS ** 2
    lensed = render.render(lens, source, inst, supersample=1) / PS ** 2
    tol = 1e-5 * unlensed.abs().max()
    assert torch.allclose(off.render(_params(lens, source))[:, 0], unlensed, rtol=1e-4, atol=tol)
    assert torch.allclose(on.render(_params(lens, source))[:, 0], lensed, rtol=1e-4, atol=tol)
    bx, by = off.lensing.rays(lens, 3)
    assert torch.equal(bx[1], off.lensing.x) and torch.equal(by[2], off.lensing.y)
    x = data["image"][:8]
    with torch.no_grad():  # train mode: batch statistics in the BatchNorms
        assert not torch.allclose(on(x), off(x), atol=1e-4)
        assert not torch.allclose(on._cache[1]["fitted"], off._cache[1]["fitted"], atol=1e-3)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_loss_parts_follow_the_two_switches(data, name):
    physics, aux = VARIANTS[name]
    task = make_task("classification")
    model = _build(name, task).train()
    for with_aux in (True, False):
        batch = _labelled(data, 6, aux=with_aux)
        parts = model.loss(batch, model(batch["image"]))
        expected = {"task", "loss"} | ({"reconstruction", "prior"} if physics else set()) | (
            {"aux_params"} if aux and with_aux else set())
        assert set(parts) == expected, (name, with_aux, sorted(parts))
        total = sum(WEIGHTS[k] * v for k, v in parts.items() if k != "loss")
        assert torch.allclose(parts["loss"], total, rtol=1e-5)
        if physics:
            assert parts["reconstruction"].item() > 1.0  # an untrained fit is above the noise


def test_regression_output_and_bfloat16_autocast(data):
    model = _build(P, make_task("regression")).eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(data["image"][:3])
    assert out.shape == (3, 1) and torch.isfinite(out.float()).all()
    assert model._cache[1]["nres"].dtype == torch.float32 and model.chi2(data["image"][:3]).shape == (3,)


@pytest.mark.parametrize("name", [P, f"{P}-nophys"])
def test_training_reduces_the_loss(data, name):
    task = make_task("classification")
    model = _build(name, task).train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    batch = _labelled(data)
    losses, recon = [], []
    for _ in range(12):
        parts = model.loss(batch, model(batch["image"]))
        opt.zero_grad()
        parts["loss"].backward()
        opt.step()
        losses.append(parts["loss"].item())
        recon.append(parts.get("reconstruction", parts["loss"]).item())
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert all(math.isfinite(v) for v in losses)
    assert last < 0.8 * first, f"{name}: loss {first:.4f} -> {last:.4f}"
    assert recon[-1] < recon[0]


R = "grav-resnet"


def test_grav_resnet_is_grav_imaging_with_a_resnet_head_at_its_own_lr(data):
    """``grav-resnet``: the same class and physics config as ``grav-imaging``, its head's image encoder a
    timm ResNet-10-T on the four channels, trained at ``head_lr`` x the model's lr (the trainer's
    ``param_groups``); the 2x2 keeps identical parameters, and the task loss reaches the ResNet."""
    from lensbench.run.trainer import param_groups

    base, spec = SPECS[P].config, SPECS[R].config
    assert {k: v for k, v in spec.items() if k not in ("head_arch", "head_lr", "ablation_of")} == {
        k: v for k, v in base.items() if k != "ablation_of"}
    task = make_task("classification")
    models = {n: SPECS[f"{R}{s}"].factory(task) for n, s in (("on", ""), ("off", "-nophys"), ("aux", "-nophys-aux"))}
    shapes = [{k: q.shape for k, q in m.named_parameters()} for m in models.values()]
    assert all(s == shapes[0] for s in shapes)
    model = models["on"].train()
    assert type(model.feature_encoder).__name__ == "ResNet" and model.feature_encoder.out_dim == 512
    groups = param_groups(model, 1e-3)
    assert [g["lr"] for g in groups] == [1e-3, 16e-3, 16e-3]
    # the physics-off pair takes its own head_lr (tuned on val per physics setting; catalog.PER_PHYSICS)
    twin_lr = catalog.PER_PHYSICS[R][False]["head_lr"]
    assert twin_lr < 16 and SPECS[f"{R}-nophys"].config["head_lr"] == SPECS[f"{R}-nophys-aux"].config["head_lr"]
    assert [g["lr"] for g in param_groups(models["aux"], 1e-3)] == [1e-3, twin_lr * 1e-3, twin_lr * 1e-3]
    ids = [id(q) for g in groups for q in g["params"]]
    assert sorted(ids) == sorted(id(q) for q in model.parameters()) and len(set(ids)) == len(ids)
    assert {id(q) for q in groups[1]["params"]} == {id(q) for q in model.feature_encoder.parameters()}
    batch = _labelled(data, 6, aux=False)
    model.loss(batch, model(batch["image"]))["task"].backward()
    for name, q in model.feature_encoder.named_parameters():
        assert q.grad is not None and torch.isfinite(q.grad).all(), name
    plain = _build(P, task)  # no multipliers: one group, every parameter at the model's lr
    (only,) = param_groups(plain, 1e-3)
    assert only["lr"] == 1e-3 and [id(q) for q in only["params"]] == [id(q) for q in plain.parameters()]
