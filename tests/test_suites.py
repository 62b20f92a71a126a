"""Suites (``lensbench sweep --suite``) and sharded sweeps."""

from __future__ import annotations

import pytest

from benchmark import records, registry
from benchmark.cli import main
from benchmark.specs import SpecError
from tasks import suites


def test_v1_suite_names_only_registered_tasks_and_models_and_covers_all_of_them():
    v1 = suites.get("v1")
    assert v1.preset == "quick"
    for t in v1.tasks:
        registry.tasks.get(t)
    for m in v1.models:
        registry.models.get(m)
    assert set(v1.tasks) == {t.id for t in registry.tasks.all()}
    assert {m.name for m in registry.models.all() if m.family != "user"} <= set(v1.models)
    # every PINN comes with its physics-off twin
    for m in v1.models:
        spec = registry.models.get(m)
        if spec.family == "pinn":
            assert spec.twin in v1.models


def test_unknown_suite_and_bad_shard_are_user_errors(capsys):
    with pytest.raises(SpecError, match="Did you mean 'v1'"):
        suites.get("v2")
    assert suites.parse_shard("1/3") == (1, 3)
    for bad in ("3/3", "x", "1/0", "-1/2"):
        with pytest.raises(SpecError, match="--shard"):
            suites.parse_shard(bad)
    assert main(["sweep", "--suite", "v0"]) == 2
    assert "unknown suite" in capsys.readouterr().err


def test_shards_split_the_suite_grid_disjointly(toy_bench, monkeypatch, capsys):
    toy = suites.Suite("toy", "toy grid", "quick", ("test/classification", "test/regression", "test/anomaly"),
                       ("toy-cnn",))
    monkeypatch.setitem(suites.SUITES, "toy", toy)
    common = ["--suite", "toy", "--seeds", "0", "--results", str(toy_bench.results_dir), "--tracking-uri",
              toy_bench.tracking_uri, "--no-progress"]
    assert main(["sweep", *common, "--shard", "0/2"]) == 0
    first = {(r.task, r.model) for r in records.iter_records(toy_bench.results_dir)}
    assert first == {("test/classification", "toy-cnn")}   # toy-cnn does not do anomaly: 2 cells
    assert main(["sweep", *common, "--shard", "1/2"]) == 0
    both = {(r.task, r.model) for r in records.iter_records(toy_bench.results_dir)}
    assert both == {("test/classification", "toy-cnn"), ("test/regression", "toy-cnn")}
    capsys.readouterr()
