"""MLflow on a real tracking server backed by PostgreSQL (``cluster_parts.tracking_server``): a sweep
made while the server is down still writes its records and says so once, and ``lensbench tracking
sync`` back-fills the server from the records, idempotently."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from cluster_parts import free_port

from lensbench import registry
from lensbench.cli import main
from lensbench.run import executors, grid


def server_runs(uri: str, task_ids) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    ids = [e.experiment_id for t in task_ids if (e := client.get_experiment_by_name(t)) is not None]
    return client.search_runs(ids, max_results=1000) if ids else []


def test_sync_back_fills_runs_made_while_the_server_was_down(toy_bench, tracking_server, capsys):
    tasks = [registry.tasks.get("test/classification"), registry.tasks.get("test/regression")]
    cells = grid.cells(tasks, [registry.models.get("toy-cnn")], [7])
    down = replace(toy_bench, tracking_uri=f"http://127.0.0.1:{free_port()}")  # nothing listens there
    with pytest.warns(RuntimeWarning, match="MLflow tracking is off") as caught:
        recs = list(executors.LocalExecutor().run_cells(cells, down))
    assert {str(w.message) for w in caught if "tracking is off" in str(w.message)} == {
        str(caught[0].message)}  # one reason, said once
    assert [r.status for r in recs] == ["ok", "ok"] and all(r.mlflow_run_id is None for r in recs)
    before = {(r.info.run_id) for r in server_runs(tracking_server, [t.id for t in tasks])}

    argv = ["tracking", "sync", str(down.results_dir), "--tracking-uri", down.tracking_uri, "--no-progress"]
    assert main(argv) == 1  # still down: nothing to sync to
    assert "cannot be reached" in capsys.readouterr().err
    argv[4] = tracking_server
    assert main(argv) == 0
    assert "2 run(s) added from records, 0 already there" in capsys.readouterr().out
    added = [r for r in server_runs(tracking_server, [t.id for t in tasks]) if r.info.run_id not in before]
    assert sorted((r.data.tags["lensbench.task"], r.info.status) for r in added) == [
        ("test/classification", "FINISHED"), ("test/regression", "FINISHED")]
    for rec in recs:
        (run,) = [r for r in added if r.data.tags["lensbench.task"] == rec.task]
        assert run.data.tags["lensbench.seed"] == "7" and run.data.tags["lensbench.model"] == "toy-cnn"
        assert run.data.metrics[f"test_{rec.primary_metric}"] == pytest.approx(rec.metrics_test[rec.primary_metric])
        assert run.data.tags["lensbench.dataset_fingerprint"] == rec.dataset_fingerprint

    assert main(argv) == 0  # a second sync adds nothing
    assert "0 run(s) added from records, 2 already there" in capsys.readouterr().out
    assert len(server_runs(tracking_server, [t.id for t in tasks])) == len(before) + 2


def test_sync_skips_records_whose_live_run_is_on_the_server(toy_bench, tracking_server, capsys):
    task = registry.tasks.get("test/classification")
    opts = replace(toy_bench, tracking_uri=tracking_server)
    (rec,) = executors.LocalExecutor().run_cells(grid.cells([task], [registry.models.get("toy-cnn")], [8]), opts)
    assert rec.mlflow_run_id is not None
    assert main(["tracking", "sync", str(opts.results_dir), "--tracking-uri", tracking_server, "--no-progress"]) == 0
    assert "0 run(s) added from records, 1 already there" in capsys.readouterr().out


def test_sync_refuses_a_missing_folder_and_a_bad_record(tmp_path, capsys):
    assert main(["tracking", "sync", str(tmp_path / "missing")]) == 2
    assert "no such folder" in " ".join(capsys.readouterr().err.split())
    bad = tmp_path / "results" / "t" / "seed0.json"
    bad.parent.mkdir(parents=True)
    bad.write_text(json.dumps({"task": "t"}))
    assert main(["tracking", "sync", str(tmp_path / "results"), "--no-progress"]) == 2
    assert "seed0.json" in capsys.readouterr().err
