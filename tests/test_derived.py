"""Evaluation-only tasks (``TaskSpec.source_task``, ``lensbench.run.derived``): a source run writes the
dependent task's record from the same trained model; nothing is trained twice."""

from __future__ import annotations

import pytest
from conftest import make_task

from lensbench import records, registry
from lensbench.cli import main
from lensbench.run import derived


def test_v2_domain_shift_evaluates_the_main_tasks_models():
    shift = registry.tasks.get("domain-shift/euclid-to-hst-v2")
    assert shift.source_task == "substructure/lensbench-v2" and shift.test_dataset == "lensbench-v2-hst"
    derived.check_source(shift)  # trains exactly as its source would
    main_task = registry.tasks.get("substructure/lensbench-v2")
    assert [t.id for t in derived.dependents(main_task, "medium", registry.models.get("resnet10t"))] == [shift.id]
    assert registry.tasks.get("domain-shift/euclid-to-hst").source_task is None  # v1 stays as published
    assert "source_task" not in registry.tasks.get("substructure/lensbench-v2").to_dict()  # hashes unchanged


def test_a_source_run_writes_its_dependents_record_and_the_sweep_skips_it(toy_bench):
    dep = make_task("classification", epochs=2, id="test/classification-eval", source_task="test/classification")
    registry.tasks.register(dep, "test")
    try:
        derived.check_source(dep)
        bad = make_task("classification", epochs=5, id="test/other", source_task="test/classification")
        with pytest.raises(ValueError, match="presets differ"):
            derived.check_source(bad)
        registry.tasks.register(bad, "test")
        try:  # a dependent that would train differently is not derived from the source's runs
            assert [t.id for t in derived.dependents(registry.tasks.get("test/classification"), "quick",
                                                     registry.models.get("toy-cnn"))] == [dep.id]
        finally:
            registry.tasks.unregister("test/other")
        common = ["--results", str(toy_bench.results_dir), "--tracking-uri", toy_bench.tracking_uri, "--no-progress",
                  "--models", "toy-cnn", "--seeds", "0"]
        assert main(["sweep", "--tasks", "test/classification", *common]) == 0
        recs = {r.task: r for r in records.iter_records(toy_bench.results_dir)}
        assert set(recs) == {"test/classification", "test/classification-eval"}  # one training, two records
        src, ev = recs["test/classification"], recs["test/classification-eval"]
        assert ev.source_task == src.task and src.source_task is None
        assert ev.mlflow_run_id == src.mlflow_run_id and ev.metrics_val == src.metrics_val  # the same run
        assert ev.metrics_test["auc_macro"] == pytest.approx(src.metrics_test["auc_macro"])  # same test set here
        assert ev.bootstrap["metrics"]["auc_macro"] == pytest.approx(src.bootstrap["metrics"]["auc_macro"])
        before = ev.created, ev.mlflow_run_id
        assert main(["sweep", "--tasks", "test/classification", "test/classification-eval", *common]) == 0
        again = {r.task: r for r in records.iter_records(toy_bench.results_dir)}
        assert (again["test/classification-eval"].created, again["test/classification-eval"].mlflow_run_id) == before
        assert main(["validate", str(toy_bench.results_dir)]) in (0, 1)  # the record is well-formed (no exit 2)
    finally:
        registry.tasks.unregister("test/classification-eval")


def test_a_dependent_cell_is_left_to_its_running_source(toy_bench):
    """While a live sweep holds the source cell's lock, another sweep skips the dependent cell."""
    import json

    from lensbench import liveness
    from lensbench.run import claims

    dep = make_task("classification", epochs=2, id="test/classification-eval", source_task="test/classification")
    registry.tasks.register(dep, "test")
    try:
        src = registry.tasks.get("test/classification")
        where = records.record_path(toy_bench.results_dir, records.probe(src.id, src.version, "quick", "toy-cnn", 0))
        lock = claims.lock_path(where)
        lock.parent.mkdir(parents=True)
        assert not derived.source_running(dep, registry.models.get("toy-cnn"), 0, toy_bench.results_dir, "quick")
        lock.write_text(json.dumps(liveness.this_process()))  # this (live) process holds the source cell
        assert derived.source_running(dep, registry.models.get("toy-cnn"), 0, toy_bench.results_dir, "quick")
        assert main(["sweep", "--tasks", "test/classification-eval", "--models", "toy-cnn", "--seeds", "0",
                     "--results", str(toy_bench.results_dir), "--tracking-uri", toy_bench.tracking_uri,
                     "--no-progress"]) == 0
        assert not [r for r in records.iter_records(toy_bench.results_dir) if r.task == dep.id]
    finally:
        registry.tasks.unregister("test/classification-eval")
