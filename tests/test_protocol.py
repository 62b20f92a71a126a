"""Protocol v2: the medium preset (images-seen budget), warm-up + cosine lr, per-model lr scale,
dihedral augmentation of training batches only, and the learning curve in the record."""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import pytest
import torch
from conftest import REPO, make_task, toy_split
from torch import nn

from lensbench import records, registry
from lensbench.data.taskdata import TargetScaler, TaskSplit, preprocess
from lensbench.run import augment, runner, trainer
from lensbench.run.provenance import seed_everything
from lensbench.specs import Budget, ModelSpec, Preset, SpecError

sys.path.insert(0, str(REPO / "examples" / "lensbench-example-plugin"))
from lensbench_example import TinyCNN, tiny_cnn

CPU = torch.device("cpu")


def _with_budget(task, **changes):
    quick = task.preset("quick")
    return dataclasses.replace(task, presets={"quick": Preset(quick.sizes, dataclasses.replace(quick.budget,
                                                                                               **changes))})


def _fit(task, seed=0, model=None, n_train=64, **kw):
    seed_everything(seed)
    train = toy_split(task, n_train, seed=1)
    val = toy_split(task, 32, seed=2, scaler=train.scaler)
    model = model or TinyCNN(1, max(task.n_outputs, 1), width=8)
    return trainer.fit(task, model, task.preset("quick").budget, train, val, seed=seed, device=CPU,
                       progress=False, **kw)


# ----------------------------------------------------------------------------- schedule
def test_warmup_rises_then_cosine_falls_to_zero():
    budget = Budget(epochs=1, batch_size=8, lr=1e-2, schedule="cosine", warmup=0.1)
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=budget.lr)
    sched = trainer.make_scheduler(opt, budget, total_steps=100)
    lrs = []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(1e-3)                      # 1/10 of the peak at the first step
    assert np.all(np.diff(lrs[:10]) > 0) and lrs[9] == pytest.approx(1e-2)
    assert np.all(np.diff(lrs[10:]) < 0)                      # cosine, monotone down
    assert lrs[55] == pytest.approx(0.5e-2, rel=0.05)         # half-way through the decay: half the peak
    assert 0 < lrs[-1] < 1e-4 and opt.param_groups[0]["lr"] == pytest.approx(0, abs=1e-12)
    assert trainer.make_scheduler(opt, Budget(epochs=1, batch_size=8), 100) is None
    assert trainer.lr_factor(0, 10, 0.0) == pytest.approx(0.5 * (1 + np.cos(np.pi / 11)))


def test_budget_length_is_epochs_or_images_seen():
    b = Budget(epochs=None, images_seen=1000, batch_size=10)
    assert b.epochs_for(300) == 4 and b.epochs_for(1000) == 1 and b.epochs_for(5000) == 1
    assert Budget(epochs=3, batch_size=10).epochs_for(10_000) == 3
    for bad in ({"epochs": None}, {"epochs": 2, "images_seen": 100}, {"epochs": 2, "warmup": 0.1},
                {"epochs": 2, "schedule": "step"}, {"epochs": 2, "schedule": "cosine", "warmup": 1.0}):
        with pytest.raises(SpecError):
            Budget(batch_size=8, **bad)


def test_images_seen_budget_sets_epochs_and_the_curve_counts_images():
    task = _with_budget(make_task(epochs=1), epochs=None, images_seen=150, schedule="cosine", warmup=0.2)
    res = _fit(task, n_train=64)
    assert res.epochs_run == 3 and [c["images_seen"] for c in res.curve] == [64, 128, 192]
    assert [c["epoch"] for c in res.curve] == [1, 2, 3]
    assert [c["val_auc_macro"] for c in res.curve] == [h["val_auc_macro"] for h in res.history]
    assert [c["train_loss"] for c in res.curve] == [h["train_loss"] for h in res.history]
    assert res.curve[-1]["lr"] == pytest.approx(0, abs=1e-12)  # 12 steps of 16: the cosine ran to its end


def test_lr_scales_multiply_their_presets_lr_and_are_hashed_only_when_set():
    task = make_task(epochs=1)
    assert _fit(task, lr_scale=0.5).curve[0]["lr"] == pytest.approx(0.5 * 3e-3)
    a = ModelSpec("m", tiny_cnn, "user", ("classification",), "tiny")
    tuned = dataclasses.replace(a, lr_scales={"medium": 4.0})
    assert a.lr_scale("medium") == 1.0 and tuned.lr_scale("medium") == 4.0 and tuned.lr_scale("quick") == 1.0
    assert dataclasses.replace(a, lr_scales={}).config_hash("medium") == a.config_hash("medium")
    assert tuned.config_hash("medium") != a.config_hash("medium")
    assert tuned.config_hash("quick") == a.config_hash("quick")  # tuning medium leaves quick records current
    for bad in ({"medium": 0}, {"medium": float("inf")}, {"medium": "x"}):
        with pytest.raises(SpecError, match="lr_scales"):
            dataclasses.replace(a, lr_scales=bad)


# ----------------------------------------------------------------------------- presets
def test_medium_preset_on_the_main_tasks():
    main = registry.tasks.get("substructure/lensbench-v1")
    medium, quick = main.preset("medium"), main.preset("quick")
    assert medium.budget.images_seen == 96_000 and medium.budget.epochs is None
    assert medium.budget.schedule == "cosine" and medium.budget.warmup == 0.05 and medium.budget.augment
    assert medium.train_per_class == 2000 and medium.budget.epochs_for(3 * 2000) == 16 and medium.budget.precision == "bf16"
    assert (quick.budget.schedule, quick.budget.augment, quick.budget.epochs) == ("constant", False, 5)
    assert main.preset("standard").budget.augment and main.preset("standard").budget.schedule == "cosine"
    low = registry.tasks.get("lowdata/lensbench-v1-250").preset("medium")
    assert low.train_per_class == 250 and low.budget.epochs_for(3 * 250) == 128  # same images seen, more epochs
    for task_id in ("regression/macro-lens", "anomaly/lensbench-v1", "domain-shift/euclid-to-hst",
                    "substructure/model1", "lens-finding/hsc"):
        assert registry.tasks.get(task_id).preset("medium").budget.images_seen == 96_000


# ----------------------------------------------------------------------------- augmentation
class Recorder(TinyCNN):
    """TinyCNN that keeps every input it sees, by mode."""

    def __init__(self):
        super().__init__(1, 2, width=8)
        self.seen = {True: [], False: []}

    def forward(self, x):
        self.seen[self.training].append(x.detach().clone())
        return super().forward(x)


def _orbit(x):
    """The 8 dihedral images of every image: (N, 8, C, H, W)."""
    return torch.stack([augment.apply_dihedral(x, k, f) for f in (False, True) for k in range(4)], dim=1)


def test_augmentation_is_seeded_and_touches_training_images_only():
    task = _with_budget(make_task(epochs=2), augment=True)
    train, val = toy_split(task, 64, seed=1), toy_split(task, 32, seed=2)
    seed_everything(5)
    a = Recorder()
    seed_everything(5)
    b = Recorder()
    ra, rb = (_fit(task, seed=5, model=m) for m in (a, b))
    assert ra.history == rb.history
    assert all(torch.equal(x, y) for x, y in zip(a.seen[True], b.seen[True]))
    seen = torch.cat(a.seen[True])
    orbit = _orbit(train.images)                                           # (64, 8, 1, 16, 16)
    diff = (seen[:, None, None] - orbit[None]).abs().flatten(3).amax(-1)  # (n_seen, 64, 8)
    assert bool((diff.flatten(1).amin(1) == 0).all())                     # each is a symmetry of a train image
    identity = (seen[:, None] - train.images[None]).abs().flatten(2).amax(-1).amin(1) == 0
    assert 0 < int(identity.sum()) < len(seen) / 2                         # ~1/8 left as they were
    assert all(torch.equal(x, val.images[i * 16:(i + 1) * 16]) for i, x in enumerate(a.seen[False][:2]))
    other = Recorder()
    _fit(task, seed=6, model=other)
    assert not torch.equal(torch.cat(other.seen[True]), seen)


def test_regression_targets_and_aux_follow_the_symmetry():
    rng = np.random.default_rng(0)
    n, names = 32, ("theta_E", "e1", "e2")
    cols = {"theta_E": rng.uniform(0.5, 2, n), "e1": rng.normal(0.3, 0.2, n), "e2": rng.normal(-0.2, 0.2, n),
            "center_x": rng.normal(size=n), "center_y": rng.normal(size=n), "src_x": rng.normal(size=n),
            "radius": rng.normal(size=n)}
    cols = {k: v.astype(np.float32) for k, v in cols.items()}
    raw = np.stack([cols[c] for c in names], 1)
    scaler = TargetScaler.fit(raw, None)
    images = preprocess(rng.normal(size=(n, 1, 8, 8)).astype(np.float32), "standardize")
    split = TaskSplit(images, torch.from_numpy(scaler.apply(raw)), np.asarray(["cdm"] * n), cols, scaler)
    task = make_task("regression", target=names, size=8)
    aug = trainer.BatchAugment(task, split, seed=0)
    assert aug.flips and sorted(aug.aux) == ["center_x", "center_y", "e1", "e2", "theta_E"]  # lone src_x, radius out
    batch = {"image": split.images, "target": split.target,
             "aux": {c: torch.from_numpy(v) for c, v in cols.items()}}
    out = aug(batch)
    elem = ((out["image"][:, None] - _orbit(split.images)).abs().flatten(2).amax(-1) == 0).float().argmax(1)
    k, flip = elem % 4, elem >= 4
    back = out["target"].numpy() * scaler.std + scaler.mean
    np.testing.assert_allclose(back[:, 0], raw[:, 0], rtol=1e-5)                               # invariant
    np.testing.assert_allclose(back[:, 1], raw[:, 1] * np.where(k % 2, -1, 1), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(back[:, 2], raw[:, 2] * np.where((k + flip) % 2, -1, 1), rtol=1e-4, atol=1e-6)
    R = augment.sky_matrices(k, flip).float()
    xy = torch.stack([batch["aux"]["center_x"], batch["aux"]["center_y"]], 1)
    moved = torch.einsum("nij,nj->ni", R, xy)
    torch.testing.assert_close(torch.stack([out["aux"]["center_x"], out["aux"]["center_y"]], 1), moved)
    torch.testing.assert_close(out["aux"]["e1"], batch["aux"]["e1"] * torch.where(k % 2 == 1, -1.0, 1.0))
    assert set(k.tolist()) == {0, 1, 2, 3} and flip.any() and not flip.all()
    again = trainer.BatchAugment(task, split, seed=0)(batch)
    assert torch.equal(again["image"], out["image"]) and torch.equal(again["target"], out["target"])


def test_rotation_only_columns_turn_mirrors_off_and_log_targets_are_refused():
    n = 16
    cols = {"src_phi": np.zeros(n, np.float32), "theta_E": np.ones(n, np.float32)}
    split = TaskSplit(torch.randn(n, 1, 8, 8), torch.zeros(n, dtype=torch.long), np.asarray(["cdm"] * n), cols)
    aug = trainer.BatchAugment(make_task(size=8), split, seed=0)
    assert not aug.flips and "src_phi" in aug.aux
    raw = np.full((n, 1), 0.2, np.float32)
    split = TaskSplit(torch.randn(n, 1, 8, 8), torch.zeros(n, 1), np.asarray(["cdm"] * n), {"e1": raw[:, 0]},
                      TargetScaler.fit(raw, "log10"))
    with pytest.raises(ValueError, match="log10"):
        trainer.BatchAugment(make_task("regression", target=("e1",), target_transform="log10", size=8), split, 0)


# ----------------------------------------------------------------------------- record
def test_record_carries_the_learning_curve(toy_bench):
    task, spec = registry.tasks.get("test/classification"), registry.models.get("toy-cnn")
    rec = runner.run(task, spec, 0, toy_bench)
    back = records.read_record(records.record_path(toy_bench.results_dir, rec))
    assert rec.status == "ok" and len(back.curve) == back.epochs_run == 2
    n_train = 2 * task.preset("quick").train_per_class
    assert [c["images_seen"] for c in back.curve] == [n_train, 2 * n_train]
    assert [c["val_auc_macro"] for c in back.curve] == [h["val_auc_macro"] for h in back.history]
    assert all(c["lr"] == pytest.approx(3e-3) for c in back.curve)  # quick: constant lr
    old = {k: v for k, v in back.to_dict().items() if k != "curve"}
    assert records.RunRecord.from_dict(old).curve == []              # records without a curve still read
