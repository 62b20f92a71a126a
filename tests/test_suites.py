"""Suites (``lensbench sweep --suite``, registered through ``lensbench.suites``) and sharded sweeps."""

from __future__ import annotations

import pytest

from lensbench import records
from lensbench import registry
from lensbench.cli import _parse_shard, main
from lensbench.specs import SpecError, SuiteSpec


def test_v1_suite_names_only_registered_tasks_and_models_and_covers_all_of_them():
    v1 = registry.suites.get("v1")
    assert v1.preset == "quick"
    for t in v1.tasks:
        registry.tasks.get(t)
    for m in v1.models:
        registry.models.get(m)
    assert set(v1.tasks) == {t.id for t in registry.tasks.all()}
    assert {m.name for m in registry.models.all() if m.family != "user"} <= set(v1.models)
    for m in v1.models:  # every PINN comes with its physics-off twin
        spec = registry.models.get(m)
        if spec.family == "pinn":
            assert spec.twin in v1.models
    n_runs = sum(len(registry.tasks.get(t).seeds) for t in v1.tasks for m in v1.models
                 if registry.models.get(m).supports(registry.tasks.get(t)))
    assert n_runs == 456  # the number leaderboards/README.md quotes


def test_unknown_suite_bad_shard_and_bad_spec_are_user_errors(capsys):
    with pytest.raises(KeyError, match="Did you mean 'v1'"):
        registry.suites.get("v2")
    assert _parse_shard("1/3") == (1, 3)
    for bad in ("3/3", "x", "1/0", "-1/2"):
        with pytest.raises(SpecError, match="--shard"):
            _parse_shard(bad)
    assert main(["sweep", "--suite", "v0"]) == 2
    assert "unknown suite" in capsys.readouterr().err
    with pytest.raises(SpecError, match="distinct"):
        SuiteSpec("x", "x", "quick", ("a", "a"), ("m",))
    assert main(["list", "suites"]) == 0 and "| v1" in capsys.readouterr().out


def test_shards_split_the_suite_grid_disjointly(toy_bench, capsys):
    toy = SuiteSpec("toy", "toy grid", "quick", ("test/classification", "test/regression", "test/anomaly"),
                    ("toy-cnn",))
    registry.suites.register(toy, "test")
    try:
        common = ["--suite", "toy", "--seeds", "0", "--results", str(toy_bench.results_dir), "--tracking-uri",
                  toy_bench.tracking_uri, "--no-progress"]
        assert main(["sweep", *common, "--shard", "0/2"]) == 0
        first = {(r.task, r.model) for r in records.iter_records(toy_bench.results_dir)}
        assert first == {("test/classification", "toy-cnn")}   # toy-cnn does not do anomaly: 2 cells
        capsys.readouterr()
        assert main(["sweep", *common, "--status"]) == 0   # runs nothing, reports what is done
        out = capsys.readouterr().out
        assert "1 of 2 runs done" in out and "| test/regression" in out and "toy-cnn" in out
        assert main(["sweep", *common, "--shard", "1/2"]) == 0
        both = {(r.task, r.model) for r in records.iter_records(toy_bench.results_dir)}
        assert both == {("test/classification", "toy-cnn"), ("test/regression", "toy-cnn")}
    finally:
        registry.suites.unregister("toy")
    capsys.readouterr()
