"""End to end: one run -> record + MLflow run; determinism; test touched once; failures recorded."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from torch import nn

from lensbench import records, registry
from lensbench.data import taskdata
from lensbench.run import runner, trainer
from lensbench.specs import ModelSpec


def test_run_writes_record_and_mlflow_run(toy_bench):
    from mlflow.tracking import MlflowClient

    task, spec = registry.tasks.get("test/classification"), registry.models.get("toy-cnn")
    rec = runner.run(task, spec, 0, toy_bench)
    assert rec.status == "ok" and rec.metrics_test["auc_macro"] > 0.7
    path = records.record_path(toy_bench.results_dir, rec)
    back = records.read_record(path)
    assert back.metrics_test == json.loads(json.dumps(rec.metrics_test))
    assert back.dataset_fingerprint and back.mlflow_run_id
    # the CPU time of the process, beside the wall clock: positive, and not above wall x threads (+ slack)
    threads = back.hardware["torch_threads"]
    assert 0 < back.train_cpu_s <= back.train_time_s * threads + 1 and 0 < back.eval_cpu_s <= back.eval_time_s * threads + 1
    run = MlflowClient(toy_bench.tracking_uri).get_run(back.mlflow_run_id)
    assert run.data.tags["lensbench.record"] == str(path)
    assert run.data.tags["lensbench.dataset_fingerprint"] == back.dataset_fingerprint
    assert run.data.params["epochs"] == "2"
    assert run.data.metrics["test_auc_macro"] == pytest.approx(rec.metrics_test["auc_macro"])
    history = MlflowClient(toy_bench.tracking_uri).get_metric_history(back.mlflow_run_id, "val_auc_macro")
    assert len(history) == rec.epochs_run


def test_same_command_and_seed_give_identical_metrics(toy_bench):
    task, spec = registry.tasks.get("test/regression"), registry.models.get("toy-cnn")
    a = runner.run(task, spec, 1, toy_bench)
    b = runner.run(task, spec, 1, toy_bench)
    assert a.status == b.status == "ok"
    assert a.metrics_test == b.metrics_test and a.metrics_val == b.metrics_val


def test_test_split_is_read_once_and_only_after_training(toy_bench, monkeypatch):
    events = []
    real_build, real_fit = taskdata.build_split, trainer.fit

    def build(task, dsdict, split, scaler=None, **kw):
        events.append(split)
        return real_build(task, dsdict, split, scaler, **kw)

    def fit(*a, **kw):
        out = real_fit(*a, **kw)
        events.append("fit-done")
        return out

    monkeypatch.setattr(taskdata, "build_split", build)
    monkeypatch.setattr(trainer, "fit", fit)
    runner.run(registry.tasks.get("test/classification"), registry.models.get("toy-cnn"), 0, toy_bench)
    assert events == ["train", "val", "fit-done", "test"]


class NaNModel(nn.Module):
    def __init__(self, task=None):
        super().__init__()
        self.w = nn.Parameter(torch.ones(1))

    def forward(self, x):
        return torch.full((len(x), 2), float("nan")) * self.w


def test_nan_loss_gives_failed_record_and_sweep_goes_on(toy_bench):
    bad = ModelSpec("nan-model", NaNModel, "user", ("classification",), "always NaN")
    task = registry.tasks.get("test/classification")
    out = list(runner.sweep([task], [bad, registry.models.get("toy-cnn")], [0], toy_bench))
    assert [r.status for r in out] == ["failed", "ok"]
    assert "non-finite" in out[0].error
    assert records.read_record(records.record_path(toy_bench.results_dir, out[0])).status == "failed"


def test_sweep_resumes_and_force_reruns(toy_bench):
    task, spec = registry.tasks.get("test/classification"), registry.models.get("toy-cnn")
    first = list(runner.sweep([task], [spec], [0, 1], toy_bench))
    again = list(runner.sweep([task], [spec], [0, 1], toy_bench))
    assert [r.created for r in again] == [r.created for r in first]  # skipped: same records
    toy_bench.force = True
    forced = list(runner.sweep([task], [spec], [0], toy_bench))
    assert forced[0].mlflow_run_id != first[0].mlflow_run_id
    toy_bench.force = False
    stale = records.record_path(toy_bench.results_dir, first[1])
    stale.write_text(stale.read_text().replace(first[1].dataset_fingerprint, "f" * 64))
    rerun = list(runner.sweep([task], [spec], [0, 1], toy_bench))
    assert rerun[0].created == forced[0].created  # same data: skipped
    assert rerun[1].dataset_fingerprint == first[1].dataset_fingerprint != "f" * 64  # other data: rerun
    now = runner.expected_fingerprints(task, toy_bench)
    assert now == (first[0].dataset_fingerprint, None)  # no test_dataset: no test fingerprint to match
    assert runner.current_record(task, spec, 0, toy_bench, now).created == rerun[0].created
    other_test = (now[0], "e" * 64)  # a task whose external test files changed: its records are not current
    assert runner.current_record(task, spec, 0, toy_bench, other_test) is None


def test_anomaly_task_trains_on_normal_class_only(toy_bench, monkeypatch):
    from lensbench.baselines import catalog  # noqa: F401  registers conv-ae through the entry point

    seen = []
    real_fit = trainer.fit

    def fit(task, model, budget, train, val, **kw):
        seen.append((set(train.class_names), set(val.class_names)))
        return real_fit(task, model, budget, train, val, **kw)

    monkeypatch.setattr(trainer, "fit", fit)
    rec = runner.run(registry.tasks.get("test/anomaly"), registry.models.get("conv-ae"), 0, toy_bench)
    assert rec.status == "ok" and seen == [({"no_sub"}, {"no_sub"})]
    assert 0.0 <= rec.metrics_test["auc"] <= 1.0 and "auc_cdm" in rec.metrics_test


def test_a_changed_model_config_makes_its_records_stale(toy_bench):
    """Re-tuning a registered model (a new config hash at this preset) reruns its cells, and the new
    record replaces the old one; the unchanged model's records stay."""
    task, spec = registry.tasks.get("test/classification"), registry.models.get("toy-cnn")
    (first,) = runner.sweep([task], [spec], [0], toy_bench)
    now = runner.expected_fingerprints(task, toy_bench)
    assert runner.current_record(task, spec, 0, toy_bench, now) is not None
    retuned = dataclasses.replace(spec, config={**spec.config, "width": 9})
    assert retuned.config_hash(toy_bench.preset) != first.model_config_hash
    assert runner.current_record(task, retuned, 0, toy_bench, now) is None
    rows = runner.status([runner.Cell(task, retuned, 0)], toy_bench)
    assert rows[0]["done"] == 0 and rows[0]["missing"] == ["toy-cnn"]
    (rerun,) = runner.sweep([task], [retuned], [0], toy_bench)
    assert rerun.model_config_hash == retuned.config_hash(toy_bench.preset) and rerun.created != first.created
    stored = records.existing_record(toy_bench.results_dir, task.id, task.version, toy_bench.preset, "toy-cnn", 0)
    assert stored.created == rerun.created
