"""pinn_models: registration of the 2x2 ablations, fair variants, loss parts per switch, gradients
reaching the physics, and training on lenses (the PSF of lens-synthesis: test_pinn_instrument.py).

The data set is made here with ``lensing.render``: 32 images per class, 32 x 32 at 0.15"/px,
SIE + shear lenses with random parameters and a Sersic source; class ``cdm`` adds 5 point-mass
subhalos near the Einstein ring; Gaussian noise; per-image standardised like the trainer's input.
Models are built at ``width=8`` to keep the file fast; the architecture is the registered one.
"""

from __future__ import annotations

import math

import pytest
import torch

from lensbench.lensing import render
from lensbench.lensing.instruments import Instrument
from lensbench.pinn_models import catalog
from lensbench.pinn_models.common import (
    AUX_COLUMNS,
    LENS_NAMES,
    Geometry,
    aux_param_loss,
    lens_bounds,
    source_bounds,
)
from lensbench.specs import Budget, Preset, SpecError, TaskSpec

NPIX, PS = 32, 0.15
PAIRS = ("lens-inversion", "lens-synthesis", "lensiformer")
SPECS = {s.name: s for s in catalog.specs()}
SUFFIXES = {"": (True, True), "-noaux": (True, False), "-nophys-aux": (False, True), "-nophys": (False, False)}
VARIANTS = [(p, f"{p}{suffix}", phys, aux) for p in PAIRS for suffix, (phys, aux) in SUFFIXES.items()]


def make_task(kind: str = "classification", npix: int = NPIX, pixel_scale: float = PS, size=None,
              dataset: str = "none") -> TaskSpec:
    budget = Budget(epochs=1, batch_size=64)
    classes = ("no_sub", "cdm")
    return TaskSpec(
        id=f"test/pinn-{kind}", version=1, kind=kind, dataset=dataset, description="test",
        classes=classes, target=("theta_E",) if kind == "regression" else ("label",),
        primary_metric="auc", higher_is_better=True,
        presets={"quick": Preset({"train": 1, "val": 1, "test": 1}, budget)},
        input_shape=size or (1, npix, npix), pixel_scale=pixel_scale,
        normal_classes=("no_sub",) if kind == "anomaly" else ())


def lens_dataset(n_per_class: int = 32, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    n = 2 * n_per_class

    def u(lo, hi, *shape):
        return lo + (hi - lo) * torch.rand(*(shape or (n,)), generator=g)

    labels = torch.arange(n) % 2
    lens = {"theta_E": u(0.8, 1.2), "e1": u(-0.15, 0.15), "e2": u(-0.15, 0.15), "center_x": u(-0.05, 0.05),
            "center_y": u(-0.05, 0.05), "gamma1": u(-0.05, 0.05), "gamma2": u(-0.05, 0.05)}
    source = {"amp": torch.ones(n), "R_sersic": u(0.15, 0.3), "n_sersic": u(0.8, 1.5), "e1": u(-0.2, 0.2),
              "e2": u(-0.2, 0.2), "center_x": u(-0.2, 0.2), "center_y": u(-0.2, 0.2)}
    k = 5
    ang, rad = u(0, 2 * math.pi, n, k), lens["theta_E"][:, None] + u(-0.2, 0.2, n, k)
    sub = {"sub_theta_E": u(0.1, 0.2, n, k), "sub_x": rad * torch.cos(ang), "sub_y": rad * torch.sin(ang),
           "sub_mask": (labels[:, None] == 1).expand(n, k)}
    inst = Instrument(name="test", npix=NPIX, pixel_scale=PS, psf_fwhm=0.2, supersample=2)
    img = render.render({**lens, **sub}, source, inst)
    img = img / img.amax(dim=(1, 2), keepdim=True) + 0.03 * torch.randn(img.shape, generator=g)
    flat = img.flatten(1)
    img = ((img - flat.mean(1)[:, None, None]) / flat.std(1)[:, None, None]).unsqueeze(1)
    names = {"R_sersic": "src_R", "n_sersic": "src_n", "e1": "src_e1", "e2": "src_e2", "center_x": "src_x",
             "center_y": "src_y", "amp": "src_amp"}
    aux = {**lens, **{names[k]: v for k, v in source.items()}}  # column names of lensing.recipes
    return {"image": img, "label": labels, "aux": aux}


@pytest.fixture(scope="module")
def data():
    torch.manual_seed(0)
    return lens_dataset()


def _batch(task, d, idx=slice(None), aux=True):
    x = d["image"][idx]
    if task.kind == "classification":
        target = d["label"][idx]
    elif task.kind == "regression":
        t = d["aux"]["theta_E"]
        target = ((t - t.mean()) / t.std())[idx, None]
    else:
        target = torch.zeros(len(x), dtype=torch.long)
    b = {"image": x, "target": target}
    if aux:
        b["aux"] = {k: v[idx] for k, v in d["aux"].items()}
    return b


def _build(name: str, task, **over):
    torch.manual_seed(0)
    return SPECS[name].factory(task, **{"width": 8, **over})


def test_catalog_registers_each_pinn_with_its_twin():
    # the v1 PINNs here; later ones (grav-imaging) have their own test file
    assert {n for n, s in SPECS.items() if s.config["ablation_of"] in PAIRS} == {name for _, name, _, _ in VARIANTS}
    for p in PAIRS:
        pinn, twin = SPECS[p], SPECS[f"{p}-nophys"]
        assert (pinn.family, pinn.twin, twin.family, twin.twin) == ("pinn", twin.name, "ablation", p)
        assert pinn.kinds == twin.kinds and {"classification", "regression"} <= set(pinn.kinds)
        assert pinn.config["physics"] is True and twin.config["physics"] is False
    assert "anomaly" in SPECS["lens-synthesis"].kinds


def test_catalog_registers_the_2x2_ablation_of_each_pinn():
    """v1 names keep their meaning (P: both on; P-nophys: both off); the two new variants split the
    switches; config names the switches and the group; twin = the physics-flipped variant. Every PINN of
    the catalog, the v2 ones too."""
    groups = sorted({s.config["ablation_of"] for s in SPECS.values()})
    assert set(PAIRS) | {"grav-imaging", "grav-resnet"} <= set(groups)
    for p, name, phys, aux in [(p, f"{p}{sfx}", *sw) for p in groups for sfx, sw in SUFFIXES.items()]:
        spec = SPECS[name]
        assert (spec.config["physics"], spec.config["aux_params"], spec.config["ablation_of"]) == (phys, aux, p)
        assert spec.family == ("pinn" if name == p else "ablation")
        assert spec.kinds == SPECS[p].kinds and spec.source == SPECS[p].source
        twin = SPECS[spec.twin]
        assert twin.config["ablation_of"] == p and twin.config["physics"] is not phys
        if name not in (p, f"{p}-nophys"):  # the v1 pair is linked as before; the new ones at equal aux
            assert twin.config["aux_params"] is aux
        # the same network: only the switches and the optimisation keys tuned per physics setting differ
        fixed = ("physics", "aux_params", *catalog.TUNABLE_PER_PHYSICS)
        hyper = {k: v for k, v in spec.config.items() if k not in fixed}
        assert hyper == {k: v for k, v in SPECS[p].config.items() if k not in fixed}
        partner = SPECS[catalog.ablation_names(p)[(phys, not aux)]]  # same physics setting: same tuning
        assert {k: spec.config.get(k) for k in catalog.TUNABLE_PER_PHYSICS} == {
            k: partner.config.get(k) for k in catalog.TUNABLE_PER_PHYSICS}
        assert catalog.ablation_names(p)[(phys, aux)] == name


@pytest.mark.parametrize("kind", ["classification", "regression", "anomaly"])
def test_twins_have_the_same_trainable_parameter_count(kind):
    task = make_task(kind)
    for p in PAIRS:
        if kind not in SPECS[p].kinds:
            continue
        counts = [sum(q.numel() for q in SPECS[n].factory(task).parameters() if q.requires_grad)
                  for n in (p, f"{p}-nophys", f"{p}-noaux", f"{p}-nophys-aux")]
        assert max(counts) - min(counts) <= 0.01 * counts[0], (p, counts)
        shapes = [{k: q.shape for k, q in SPECS[n].factory(task).named_parameters()}
                  for n in (p, f"{p}-nophys-aux")]
        assert shapes[0] == shapes[1]  # the same modules, not only the same count


@pytest.mark.parametrize("name,kind", [(v, k) for p, v, phys, _ in VARIANTS if phys for k in SPECS[p].kinds])
def test_every_physics_parameter_gets_a_finite_nonzero_gradient(data, name, kind):
    task = make_task(kind)
    model = _build(name, task).train()
    batch = _batch(task, data, slice(0, 8))
    out = model(batch["image"])
    params = model._cache[1]["params"]
    for v in params.values():
        v.retain_grad()
    parts = model.loss(batch, out)
    assert torch.isfinite(parts["loss"])
    parts["loss"].backward()
    for k, v in params.items():
        assert v.grad is not None and torch.isfinite(v.grad).all() and v.grad.abs().sum() > 0, k
    for module in (model.lens_encoder, model.param_head):
        for pname, q in module.named_parameters():
            assert q.grad is not None and torch.isfinite(q.grad).all() and q.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", PAIRS)
def test_physics_terms_alone_drive_the_lens_parameters(data, name):
    """Through the physics path only (no task head), every lens parameter receives a gradient:
    the mapping is differentiable in the ray positions, not rounded."""
    task = make_task("classification")
    model = _build(name, task).train()
    batch = _batch(task, data, slice(0, 8))
    out = model(batch["image"])
    params = model._cache[1]["params"]
    parts = model.loss(batch, out)
    term = "reconstruction" if name == "lens-synthesis" else "consistency"
    assert {term, "prior", "aux_params"} <= set(parts)
    grads = torch.autograd.grad(parts[term], [params[k] for k in LENS_NAMES])
    for k, gr in zip(LENS_NAMES, grads):
        assert torch.isfinite(gr).all() and gr.abs().sum() > 0, k


@pytest.mark.parametrize("name", PAIRS)
def test_twin_has_no_physics_terms_and_zero_deflection(data, name):
    task = make_task("classification")
    twin = _build(f"{name}-nophys", task).train()
    batch = _batch(task, data, slice(0, 8))
    out = twin(batch["image"])
    params = twin._cache[1]["params"]
    parts = twin.loss(batch, out)
    assert set(parts) == {"task", "loss"} and torch.equal(parts["task"], parts["loss"])
    if name != "lens-synthesis":
        bx, by = twin.lensing.rays(params, 8)
        assert torch.equal(bx[0], twin.lensing.x) and torch.equal(by[3], twin.lensing.y)


@pytest.mark.parametrize("p,name,physics,aux", VARIANTS)
def test_loss_parts_follow_the_two_switches(data, p, name, physics, aux):
    """Physics terms (consistency or reconstruction, prior) exactly when physics is on; the
    supervised parameter term exactly when aux_params is on and the batch carries the truth."""
    task = make_task("classification")
    model = _build(name, task).train()
    term = "reconstruction" if p == "lens-synthesis" else "consistency"
    for with_aux in (True, False):
        batch = _batch(task, data, slice(0, 8), aux=with_aux)
        parts = model.loss(batch, model(batch["image"]))
        expected = {"task", "loss"} | ({term, "prior"} if physics else set()) | (
            {"aux_params"} if aux and with_aux else set())
        assert set(parts) == expected, (name, with_aux, sorted(parts))
        weights = {term: 1.0, "prior": 1e-2, "aux_params": 0.1, "task": 1.0}
        total = sum(weights[k] * v for k, v in parts.items() if k != "loss")
        assert torch.allclose(parts["loss"], total, rtol=1e-5)
    assert parts["task"].item() > 0


@pytest.mark.parametrize("name", [n for _, n, phys, _ in VARIANTS if not phys])
def test_physics_off_variants_still_train_the_parameter_head(data, name):
    """With physics off the lens encoder and parameter head exist and receive gradients (through the
    task head, and through the aux term when it is on); the lens equation is not used."""
    task = make_task("classification")
    model = _build(name, task).train()
    batch = _batch(task, data, slice(0, 8))
    model.loss(batch, model(batch["image"]))["loss"].backward()
    for module in (model.lens_encoder, model.param_head):
        for pname, q in module.named_parameters():
            assert q.grad is not None and torch.isfinite(q.grad).all() and q.grad.abs().sum() > 0, pname


def test_aux_term_reaches_the_parameter_head_not_the_task_head(data):
    """The aux switch alone: with physics off, the gradient of the aux part reaches the parameter
    head and lens encoder and nothing downstream (the task head)."""
    task = make_task("classification")
    model = _build("lens-inversion-nophys-aux", task).train()
    batch = _batch(task, data, slice(0, 8))
    parts = model.loss(batch, model(batch["image"]))
    grads = torch.autograd.grad(parts["aux_params"], [*model.param_head.parameters(), *model.head.parameters()],
                                allow_unused=True)
    n_head = len(list(model.param_head.parameters()))
    assert all(g is not None and g.abs().sum() > 0 for g in grads[:n_head])
    assert all(g is None or g.abs().sum() == 0 for g in grads[n_head:])


def _train(name: str, task, d, steps: int = 20) -> list[dict[str, float]]:
    """``steps`` full-batch AdamW steps on the 64 simulated lenses; the logged parts per step."""
    small = {"width": 8, **({"tokens_per_side": 4, "d_model": 32} if name.startswith("lensiformer") else {})}
    model = _build(name, task, **small).train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    batch = _batch(task, d)
    log = []
    for _ in range(steps):
        parts = model.loss(batch, model(batch["image"]))
        opt.zero_grad()
        parts["loss"].backward()
        opt.step()
        log.append({k: v.item() for k, v in parts.items()})
    return log


@pytest.mark.parametrize("name,kind", [(n, "classification") for p in PAIRS for n in (p, f"{p}-nophys")]
                         + [("lens-inversion", "regression"), ("lens-synthesis", "anomaly")])
def test_model_trains_on_simulated_lenses(data, name, kind):
    losses = [p["loss"] for p in _train(name, make_task(kind), data)]
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert all(math.isfinite(v) for v in losses)
    assert last < 0.8 * first, f"{name}/{kind}: loss {first:.4f} -> {last:.4f}"


def test_lensed_synthesis_explains_lenses_better_than_its_lens_free_twin(data):
    """Anomaly training (reconstruction of the image by the smooth model): a lensed Sersic fits
    rings and arcs, an unlensed one cannot (measured after 20 steps: about 0.2 vs 0.98)."""
    task = make_task("anomaly")
    pinn = _train("lens-synthesis", task, data)[-1]["task"]
    twin = _train("lens-synthesis-nophys", task, data)[-1]["task"]
    assert pinn < 0.5 * twin, (pinn, twin)


def test_eval_without_aux_and_anomaly_score(data):
    task = make_task("anomaly")
    model = _build("lens-synthesis", task).eval()
    batch = _batch(task, data, slice(0, 6), aux=False)
    with torch.no_grad():
        out = model(batch["image"])
        parts = model.loss(batch, out)
        score = model.anomaly_score(batch["image"])
    assert out.shape == batch["image"].shape and "aux_params" not in parts
    assert score.shape == (6,) and torch.all(score >= 0)
    assert torch.allclose(score.mean(), parts["task"], rtol=1e-5)


def test_bfloat16_autocast_keeps_physics_in_float32(data):
    task = make_task("classification")
    model = _build("lens-inversion", task).eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(data["image"][:4])
    assert torch.isfinite(out.float()).all()
    assert model._cache[1]["source"].dtype == torch.float32


def test_geometry_from_task_and_errors():
    g = Geometry.from_task(make_task(pixel_scale=0.0))
    assert g.nominal and g.pixel_scale == 0.1 and g.fov == pytest.approx(3.2)
    assert not Geometry.from_task(make_task()).nominal
    with pytest.raises(ValueError, match="square"):
        Geometry.from_task(make_task(size=(1, 32, 48)))
    with pytest.raises(ValueError, match="anomaly"):
        SPECS["lensiformer"].factory(make_task("anomaly"))


def test_multichannel_input(data):
    task = make_task("classification", size=(3, NPIX, NPIX))
    model = _build("lensiformer", task).train()
    x = data["image"][:4].expand(4, 3, NPIX, NPIX).contiguous()
    out = model(x)
    assert out.shape == (4, 2) and model._cache[1]["source"].shape[:2] == (4, 3)


def test_aux_loss_reads_the_recipe_columns():
    bounds = {**lens_bounds(4.8), **{f"src_{k}": v for k, v in source_bounds(4.8).items()}}
    values = {n: torch.full((3,), b[2]) for n, b in bounds.items()}
    aux = {AUX_COLUMNS[n]: torch.full((3,), b[2]) for n, b in bounds.items()}
    assert aux_param_loss(values, bounds, None) is None
    assert aux_param_loss(values, bounds, {"snr": torch.ones(3)}) is None
    assert aux_param_loss(values, bounds, aux).item() == 0.0
    assert aux_param_loss(values, bounds, {**aux, "src_x": aux["src_x"] + 0.5}).item() > 0
    assert aux_param_loss(values, bounds, {**aux, "theta_E": aux["theta_E"] + 0.5}).item() > 0
    no_sersic = {k: v for k, v in aux.items() if k != "src_n"}  # real-galaxy source: src_* not Sersic
    assert aux_param_loss(values, bounds, {**no_sersic, "src_x": aux["src_x"] + 0.5}).item() == 0.0


def test_aux_loss_skips_unknown_truth():
    """Non-lens rows of the lens-finding training set carry NaN lens columns: they must add neither
    loss nor gradient, and the mean runs over the known entries only."""
    bounds = lens_bounds(4.8)
    raw = torch.zeros(4, requires_grad=True)
    values = {n: b[2] + raw for n, b in bounds.items()}
    truth = {n: torch.full((4,), b[2]) for n, b in bounds.items()}
    truth["theta_E"] = truth["theta_E"] + torch.tensor([0.48, 0.0, 0.0, 0.0])  # 0.48 arcsec off
    nan_rows = {n: torch.cat([v[:2], torch.full((2,), float("nan"))]) for n, v in truth.items()}
    loss = aux_param_loss(values, bounds, nan_rows)
    half = 0.5 * (bounds["theta_E"][1] - bounds["theta_E"][0])
    assert torch.isfinite(loss)
    assert loss.item() == pytest.approx((0.48 / half) ** 2 / (2 * len(bounds)), rel=1e-5)
    loss.backward()
    assert torch.isfinite(raw.grad).all() and raw.grad[2:].eq(0).all() and raw.grad[0] != 0
    all_nan = {n: torch.full((4,), float("nan")) for n in bounds}
    assert aux_param_loss(values, bounds, all_nan) is None


def test_per_physics_tuning_may_change_optimisation_keys_only(monkeypatch):
    monkeypatch.setitem(catalog.PER_PHYSICS, "grav-imaging", {False: {"width": 64}})
    with pytest.raises(SpecError, match="only \\['head_lr'\\] may differ"):
        catalog.specs()
