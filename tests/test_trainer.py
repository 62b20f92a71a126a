"""Trainer: learning, determinism, checkpoint choice on val, budget, non-finite losses."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_task, toy_split
from torch import nn

from lensbench.run import trainer
from lensbench.run.provenance import seed_everything

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples" / "lensbench-example-plugin"))
from lensbench_example import TinyCNN

CPU = torch.device("cpu")


def _fit(task, seed=0, model=None, **kw):
    seed_everything(seed)
    train, val = toy_split(task, 64, seed=1), toy_split(task, 32, seed=2)
    if task.kind == "regression":
        val = toy_split(task, 32, seed=2, scaler=train.scaler)
    model = model or TinyCNN(1, max(task.n_outputs, 1), width=8)
    return trainer.fit(task, model, task.preset("quick").budget, train, val, seed=seed, device=CPU,
                       progress=False, **kw)


def test_classifier_learns_and_picks_best_val_epoch():
    task = make_task(epochs=4)
    res = _fit(task)
    aucs = [row["val_auc_macro"] for row in res.history]
    assert res.metrics_val["auc_macro"] > 0.8
    assert res.selected_epoch == 1 + int(np.argmax(aucs))
    assert res.metrics_val["auc_macro"] == pytest.approx(max(aucs))
    assert res.epochs_run == 4 and len(res.history) == 4


def test_same_seed_same_numbers_and_weights():
    task = make_task(epochs=2)
    a, b = _fit(task, seed=3), _fit(task, seed=3)
    assert a.history == b.history
    for (ka, va), (kb, vb) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    c = _fit(task, seed=4)
    assert c.history != a.history


def test_bf16_budget_trains_in_bfloat16_and_predicts_in_float32():
    """``Budget.precision="bf16"``: the training steps see bfloat16 activations in channels-last
    layout; the model still learns, and val/test predictions are float32 (not rounded to bfloat16)."""
    import dataclasses

    from lensbench.specs import Preset, SpecError

    base = make_task(epochs=4)
    quick = base.preset("quick")
    task = dataclasses.replace(base, presets={"quick": Preset(quick.sizes, dataclasses.replace(
        quick.budget, precision="bf16"))})
    seen = []
    model = TinyCNN(1, 2, width=8)
    model.register_forward_hook(lambda m, i, o: seen.append((m.training, o.dtype, i[0].is_contiguous(
        memory_format=torch.channels_last))))
    res = _fit(task, model=model)
    assert res.metrics_val["auc_macro"] > 0.8
    train_calls = {s for s in seen if s[0]}
    assert train_calls == {(True, torch.bfloat16, True)}
    assert {s[1] for s in seen if not s[0]} == {torch.float32}
    val = toy_split(task, 32, seed=2)
    pred = trainer.predict(task, res.model, val, CPU, 16)
    assert pred.dtype == np.float64
    bf16 = torch.from_numpy(pred).to(torch.bfloat16).double().numpy()
    assert not np.array_equal(pred, bf16)  # more precision than bfloat16 holds
    with pytest.raises(SpecError, match="precision"):
        dataclasses.replace(quick.budget, precision="fp16")
    # the default precision stays out of the task hash (hashes made before the field existed hold)
    assert "precision" not in base.to_dict()["presets"]["quick"]["budget"]
    assert task.to_dict()["presets"]["quick"]["budget"]["precision"] == "bf16"


def test_regression_learns_radius():
    task = make_task("regression", epochs=4)
    res = _fit(task)
    assert res.metrics_val["mse"] < 0.5


def test_epochs_are_capped_by_budget_and_patience():
    task = make_task(epochs=5, patience=1)

    class Constant(nn.Module):  # val metric never improves after epoch 1 -> stops at epoch 2
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return torch.zeros(len(x), 2) + 0 * self.w

    res = _fit(task, model=Constant())
    assert res.epochs_run == 2 and res.selected_epoch == 1


class Exploding(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(1))

    def forward(self, x):
        return torch.zeros(len(x), 2) * self.w

    def loss(self, batch, output):
        return {"loss": self.w.sum() * float("nan"), "recon": torch.tensor(0.0)}


def test_non_finite_loss_raises_nonfinite():
    with pytest.raises(trainer.NonFiniteLoss):
        _fit(make_task(), model=Exploding())


def test_custom_loss_parts_are_logged_per_epoch():
    class WithParts(TinyCNN):
        def loss(self, batch, output):
            ce = nn.functional.cross_entropy(output, batch["target"])
            reg = 1e-4 * sum((p ** 2).sum() for p in self.parameters())
            assert "aux" in batch and "radius" in batch["aux"]  # train batches carry simulation params
            return {"loss": ce + reg, "ce": ce, "l2": reg}

    res = _fit(make_task(epochs=2), model=WithParts(1, 2, width=8))
    assert {"train_loss", "train_ce", "train_l2"} <= set(res.history[0])
    assert res.history[0]["train_loss"] == pytest.approx(res.history[0]["train_ce"] + res.history[0]["train_l2"],
                                                         rel=1e-5)


def test_classical_models_fit_once_without_gradient_steps():
    calls = []

    class Prior(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("p", torch.zeros(2))

        def fit_classical(self, images, targets):
            calls.append(images.shape)
            self.p = torch.tensor(np.bincount(targets, minlength=2) / len(targets), dtype=torch.float32)

        def forward(self, x):
            return self.p.log().expand(len(x), 2)

    res = _fit(make_task(), model=Prior())
    assert calls == [(64, 1, 16, 16)] and res.epochs_run == 0
    assert res.metrics_val["auc_macro"] == pytest.approx(0.5)


def test_eval_every_groups_passes_into_epochs_of_the_same_budget():
    """``Budget.eval_every``: an epoch of ``passes_for(n)`` passes over the n training images (each pass
    its own shuffle), so the images seen, the optimiser steps and the learning rate schedule are those
    of the plain budget, with one validation pass per ~``eval_every`` images."""
    import dataclasses

    from lensbench.specs import Budget, Preset, SpecError

    plain = Budget(epochs=None, images_seen=64 * 8, batch_size=16, lr=3e-3, weight_decay=0.0, schedule="cosine",
                   warmup=0.1)
    grouped = dataclasses.replace(plain, eval_every=128)
    assert (plain.passes_for(64), plain.epochs_for(64)) == (1, 8)
    assert (grouped.passes_for(64), grouped.epochs_for(64)) == (2, 4)
    assert grouped.passes_for(500) == 1 and grouped.passes_for(40) == 3  # rounded, at least one pass
    runs = {}
    for name, budget in (("plain", plain), ("grouped", grouped)):
        task = make_task(presets={"quick": Preset({"train": 64, "val": 32, "test": 32}, budget)})
        steps = []
        model = TinyCNN(1, 2, width=8)
        model.register_forward_pre_hook(lambda m, args, seen=steps: seen.append(len(args[0])) if m.training else None)
        runs[name] = (_fit(task, model=model), steps)
    (a, steps_a), (b, steps_b) = runs["plain"], runs["grouped"]
    assert steps_a == steps_b == [16] * 32  # 512 images in 32 steps of 16 either way
    assert [c["images_seen"] for c in a.curve] == [64 * k for k in range(1, 9)]
    assert [c["images_seen"] for c in b.curve] == [128 * k for k in range(1, 5)]
    assert b.epochs_run == len(b.history) == 4 and a.curve[-1]["lr"] == b.curve[-1]["lr"] == pytest.approx(0.0)
    assert a.curve[1]["lr"] == pytest.approx(b.curve[0]["lr"])  # the same schedule at the same images seen
    for bad in ({"eval_every": 0}, {"eval_every": 128, "epochs": 3, "images_seen": None}):
        with pytest.raises(SpecError, match="eval_every"):
            dataclasses.replace(plain, **bad)


@pytest.mark.parametrize("bad, match", [({"nope": 2.0}, "not a submodule"), ({"conv": 0.0}, "positive number"),
                                        ({"conv": "fast"}, "positive number"), ([("conv", 2.0)], "must be a dict")])
def test_bad_lr_multipliers_fail_the_run_with_a_clear_error(bad, match):
    """A model's ``lr_multipliers`` (user model code included) is checked before the optimiser is built:
    a ValueError (TypeError for a non-dict) naming the entry, which the runner records as a failed run."""
    model = TinyCNN(1, 2, width=8)
    model.conv = nn.Conv2d(1, 1, 1)
    model.lr_multipliers = bad
    with pytest.raises((ValueError, TypeError), match=match):
        trainer.param_groups(model, 1e-3)
    model.lr_multipliers = {"conv": 4}
    fast, rest = trainer.param_groups(model, 1e-3)[1], trainer.param_groups(model, 1e-3)[0]
    assert fast["lr"] == 4e-3 and {id(q) for q in fast["params"]} == {id(q) for q in model.conv.parameters()}
    assert not {id(q) for q in fast["params"]} & {id(q) for q in rest["params"]}
