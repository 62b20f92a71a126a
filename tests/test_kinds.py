"""Task kinds (``lensbench.kinds``): one object per kind holds what differs between kinds, and the
trainer, the data layer, the diagnostics and the models use it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import make_task, toy_split

from lensbench import kinds, metric_names
from lensbench.run import trainer
from lensbench.specs import ModelSpec, SpecError


def test_every_kind_is_registered_and_unknown_names_are_refused():
    assert kinds.NAMES == ("classification", "regression", "anomaly")
    for name in kinds.NAMES:
        assert kinds.get(name).name == name
    with pytest.raises(KeyError, match="unknown task kind 'clustering'"):
        kinds.get("clustering")
    with pytest.raises(Exception, match="kinds"):
        ModelSpec("m", lambda t: None, "user", ("clustering",), "d")


def test_fields_outputs_and_training_classes_per_kind():
    cls, reg, ano = make_task("classification"), make_task("regression"), make_task("anomaly")
    assert (cls.n_outputs, reg.n_outputs, ano.n_outputs) == (2, 1, 0)
    assert cls.train_classes == ("no_sub", "cdm") and ano.train_classes == ("no_sub",)
    assert kinds.get("regression").columns(reg) == ("radius",) and kinds.get("classification").columns(cls) == ()
    assert all(kinds.get(t.kind).field_error(t) is None for t in (cls, reg, ano))
    with pytest.raises(SpecError, match="'classes/target'"):
        make_task(classes=("no_sub",))
    with pytest.raises(SpecError, match="'target'"):
        make_task("regression", target=("label",))
    # direction: derived from the primary metric when left out
    assert (cls.higher_is_better, reg.higher_is_better, ano.higher_is_better) == (True, False, True)


def test_targets_are_read_per_kind():
    names = np.array(["cdm", "no_sub", "cdm"])
    columns = {"radius": np.array([1.0, 2.0, 3.0])}
    assert kinds.get("classification").targets(make_task(), names, columns).tolist() == [1, 0, 1]
    assert kinds.get("anomaly").targets(make_task("anomaly"), names, columns).tolist() == [1, 0, 1]
    raw = kinds.get("regression").targets(make_task("regression"), names, columns)
    assert raw.shape == (3, 1) and raw[:, 0].tolist() == [1.0, 2.0, 3.0]
    assert kinds.get("regression").standardised_targets and not kinds.get("classification").standardised_targets


def test_default_losses_and_prediction_transforms():
    torch.manual_seed(0)
    logits, labels = torch.randn(5, 3), torch.tensor([0, 2, 1, 1, 0])
    assert torch.equal(kinds.get("classification").loss(logits, labels), F.cross_entropy(logits, labels))
    out, target = torch.randn(5, 2), torch.randn(5, 2)
    assert torch.equal(kinds.get("regression").loss(out, target), F.mse_loss(out, target))
    with pytest.raises(TypeError, match="must define loss"):
        kinds.get("anomaly").loss(out, target)

    class Scorer(torch.nn.Module):
        def forward(self, x):
            return x.flatten(1)[:, :3]

        def anomaly_score(self, x):
            return x.flatten(1).sum(1)

    x = torch.randn(4, 1, 2, 2)
    probs = kinds.get("classification").predict(Scorer(), x)
    assert torch.allclose(probs.sum(1), torch.ones(4)) and torch.equal(probs, x.flatten(1)[:, :3].softmax(1))
    assert torch.equal(kinds.get("regression").predict(Scorer(), x), x.flatten(1)[:, :3])
    assert torch.equal(kinds.get("anomaly").predict(Scorer(), x), x.flatten(1).sum(1))
    assert kinds.get("anomaly").selects_on_val_loss and not kinds.get("anomaly").supervised


def test_scores_and_roc_inputs_per_kind():
    task = make_task()
    y = np.array([0, 0, 1, 1])
    p = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8]])
    assert kinds.get("classification").score(task, y, p, ci=False)["auc_macro"] == 1.0
    assert set(kinds.get("classification").roc_inputs(task, y, p)) == {"no_sub", "cdm"}
    ano = make_task("anomaly")
    names = np.array(["no_sub"] * 2 + ["cdm"] * 2)
    m = kinds.get("anomaly").score(ano, y, np.array([0.1, 0.2, 0.9, 0.3]), class_names=names)
    assert m["auc"] == 1.0 and m["auc_cdm"] == 1.0
    assert kinds.get("anomaly").roc_inputs(ano, np.zeros(4), np.arange(4.0)) == {}  # one class: no curve
    assert kinds.get("regression").roc_inputs(make_task("regression"), y, p) == {}
    with pytest.raises(ValueError, match="scaler"):
        kinds.get("regression").score(make_task("regression"), np.zeros((3, 1)), np.zeros((3, 1)))
    # a slice with a class missing: macro AUC over the classes present
    three = make_task(classes=("no_sub", "cdm", "axion"))
    y3 = np.array([0, 0, 2, 2])
    p3 = np.array([[0.8, 0.1, 0.1], [0.6, 0.2, 0.2], [0.2, 0.2, 0.6], [0.1, 0.1, 0.8]])
    sub = kinds.get("classification").score_subset(three, y3, p3, np.arange(4))
    assert sub["auc_macro"] == 1.0 and set(sub) >= {"auc_no_sub", "auc_axion"}
    with pytest.raises(ValueError, match="fewer than two classes"):
        kinds.get("classification").score_subset(three, y3, p3, np.array([0, 1]))


def test_every_primary_metric_of_the_kinds_has_a_direction():
    for name in ("auc_macro", "accuracy", "f1_macro", "mse", "mae", "r2", "auc", "tpr_at_fpr_0.1"):
        metric_names.higher_is_better(name)


class Linear(torch.nn.Module):
    def __init__(self, own_loss: bool):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(256, 2))
        self.calls = 0
        if own_loss:
            self.loss = self.half_cross_entropy

    def forward(self, x):
        return self.net(x)

    def half_cross_entropy(self, batch, output):
        self.calls += 1
        return {"loss": 0.5 * F.cross_entropy(output, batch["target"])}


def test_trainer_uses_the_kind_default_loss_unless_the_model_defines_one():
    task = make_task(epochs=1)
    train, val = toy_split(task, 32, seed=0), toy_split(task, 16, seed=1)
    fits = {}
    for own in (False, True):
        torch.manual_seed(0)
        model = Linear(own)
        fits[own] = trainer.fit(task, model, task.preset("quick").budget, train, val, seed=0,
                                device=torch.device("cpu"), progress=False)
        assert model.calls == (2 if own else 0)  # 32 images, batch 16
    # the same first step; the model's own loss is half the kind's cross-entropy
    assert fits[True].history[0]["train_loss"] < fits[False].history[0]["train_loss"]
    pred = trainer.predict(task, fits[False].model, val, torch.device("cpu"), 4)
    assert pred.shape == (16, 2) and np.allclose(pred.sum(1), 1.0)


def test_model_factories_refuse_other_kinds_with_one_message():
    with pytest.raises(ValueError, match=r"deep-svdd: task 'test/classification' has kind 'classification'; "
                                         r"expected 'anomaly'"):
        kinds.require(make_task(), "deep-svdd", "anomaly")
    kinds.require(make_task("regression"), "x", "classification", "regression")
