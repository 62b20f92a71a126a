"""Frozen leaderboard snapshots: published once from valid records, never overwritten, checkable."""

from __future__ import annotations

import json

import pytest

from lensbench import records, registry
from lensbench.board import snapshot
from lensbench.cli import main
from lensbench.run import claims, runner


def _records(opts):
    task, spec = registry.tasks.get("test/classification"), registry.models.get("toy-cnn")
    return list(runner.sweep([task], [spec], [0, 1, 2], opts))


def test_freeze_publishes_tables_and_a_manifest_then_refuses_to_overwrite(toy_bench, tmp_path, capsys):
    recs = _records(toy_bench)
    root = tmp_path / "boards"
    code = main(["snapshot", "freeze", "v1", "--results", str(toy_bench.results_dir), "--root", str(root),
                 "--cache", str(toy_bench.cache), "--no-gallery"])
    assert code == 0 and "manifest verified" in capsys.readouterr().out
    snap = root / "v1"
    assert (snap / "leaderboard.md").is_file() and (snap / "leaderboard.html").is_file()
    assert len(list((snap / "results").rglob("seed*.json"))) == 3
    assert "toy-cnn" in (snap / "leaderboard.csv").read_text()
    assert snapshot.check(snap) == []
    assert main(["snapshot", "check", str(snap)]) == 0
    # published numbers never change: a second freeze of the same version is refused
    assert main(["snapshot", "freeze", "v1", "--results", str(toy_bench.results_dir), "--root", str(root),
                 "--cache", str(toy_bench.cache), "--no-gallery"]) == 2
    assert "never changed" in capsys.readouterr().err
    # editing a published record is caught
    path = next((snap / "results").rglob("seed0.json"))
    d = json.loads(path.read_text())
    d["metrics_test"]["auc_macro"] = 0.99
    path.write_text(json.dumps(d))
    (snap / "extra.txt").write_text("x")
    problems = snapshot.check(snap)
    assert any("seed0.json: changed" in p for p in problems) and any("extra.txt: not in the manifest" in p
                                                                      for p in problems)
    assert main(["snapshot", "check", str(snap)]) == 1
    assert recs[0].status == "ok"


def test_freeze_refuses_records_that_do_not_validate(toy_bench, tmp_path):
    recs = _records(toy_bench)
    records.record_path(toy_bench.results_dir, recs[2]).unlink()   # seed 2 missing
    with pytest.raises(snapshot.SnapshotError, match="does not validate"):
        snapshot.freeze(toy_bench.results_dir, tmp_path / "boards", "v1", gallery=False, cache=toy_bench.cache)
    assert not (tmp_path / "boards" / "v1").exists()


def test_freeze_refuses_while_a_sweep_holds_runs(toy_bench, tmp_path):
    recs = _records(toy_bench)
    lock = claims.lock_path(records.record_path(toy_bench.results_dir, recs[0]))
    lock.write_text("{}")
    with pytest.raises(snapshot.SnapshotError, match="claimed by a sweep"):
        snapshot.freeze(toy_bench.results_dir, tmp_path / "boards", "v1", gallery=False, cache=toy_bench.cache)
    lock.unlink()
    out = snapshot.freeze(toy_bench.results_dir, tmp_path / "boards", "v1", gallery=False, cache=toy_bench.cache)
    assert not list(out.rglob("*.lock")) and snapshot.check(out) == []
