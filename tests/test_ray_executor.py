"""The Ray executor on a real local Ray cluster, tracking into a real MLflow server on PostgreSQL
(``cluster_parts``): same records as the local executor, lost workers retried, fingerprints checked,
a killed driver resumed with every cell recorded once and one MLflow run per cell."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
from dataclasses import replace

import pytest
import torch
from cluster_parts import PLUGIN, TESTS, toy_models, toy_worker_setup, wait_for
from mlflow.tracking import MlflowClient

from lensbench import records, registry
from lensbench.run import executors, grid
from lensbench.run.ray_executor import RayExecutor  # imports Ray only when run (ray_cluster skips without it)


def models(*names):
    by_name = {m.name: m for m in toy_models()}
    return [by_name[n] for n in names]


def outcome(recs) -> dict:
    return {(r.task, r.model, r.seed): (r.status, r.metrics_test, r.metrics_val, r.history) for r in recs}


def active_runs(uri: str, task_ids) -> list:
    client = MlflowClient(uri)
    ids = [e.experiment_id for t in task_ids if (e := client.get_experiment_by_name(t)) is not None]
    return client.search_runs(ids, max_results=1000) if ids else []


def cell_key(run) -> tuple:
    tags = run.data.tags
    return tags["lensbench.task"], tags["lensbench.model"], int(tags["lensbench.seed"])


def test_ray_sweep_into_the_tracking_server_gives_the_local_records(toy_bench, ray_cluster, tracking_server,
                                                                     tmp_path):
    tasks = [registry.tasks.get("test/classification"), registry.tasks.get("test/regression")]
    cells = grid.cells(tasks, models("toy-cnn", "toy-mlp"), [0, 1])
    assert len(cells) == 8
    local = list(executors.LocalExecutor().run_cells(cells, toy_bench))
    # the workers build their own dataset cache; the driver writes every record
    opts = replace(toy_bench, results_dir=tmp_path / "ray-results", tracking_uri=tracking_server,
                   cache=tmp_path / "worker-cache")
    ray_exec = executors.make("ray", threads=torch.get_num_threads(), worker_setup=toy_worker_setup)
    remote = list(ray_exec.run_cells(cells, opts))
    assert ray_exec.problems == [] and len(remote) == 8 and {r.status for r in remote} == {"ok"}
    assert outcome(remote) == outcome(local)
    assert outcome(records.load_records(opts.results_dir)) == outcome(local)
    assert not list(opts.results_dir.rglob("*.lock")) and not list(opts.results_dir.rglob("*.tmp"))

    before = [r for r in active_runs(tracking_server, [t.id for t in tasks]) if cell_key(r) not in outcome(local)]
    runs = [r for r in active_runs(tracking_server, [t.id for t in tasks]) if cell_key(r) in outcome(local)]
    assert sorted(cell_key(r) for r in runs) == sorted(outcome(local))  # one run per cell
    by_id, client = {r.info.run_id: r for r in runs}, MlflowClient(tracking_server)
    for rec in remote:
        run = by_id[rec.mlflow_run_id]
        assert run.info.status == "FINISHED" and rec.mlflow_tracking_uri == tracking_server
        assert run.data.metrics[f"test_{rec.primary_metric}"] == pytest.approx(rec.metrics_test[rec.primary_metric])
        assert run.data.tags["lensbench.record"] == str(records.record_path(opts.results_dir, rec))
        (used,) = client.get_run(rec.mlflow_run_id).inputs.dataset_inputs  # the training set, by fingerprint
        assert (used.dataset.name, used.dataset.digest) == ("toy", rec.dataset_fingerprint[:36])
        assert used.tags[0].value == "training" and rec.dataset_fingerprint in used.dataset.source

    again = list(ray_exec.run_cells(cells, opts))  # resume: every cell has its ok record on today's data
    assert sorted((r.task, r.model, r.seed, r.created) for r in again) == sorted(
        (r.task, r.model, r.seed, r.created) for r in remote)
    assert len(active_runs(tracking_server, [t.id for t in tasks])) == len(runs) + len(before)


def test_a_worker_killed_mid_cell_is_retried_and_the_cell_runs_once(toy_bench, ray_cluster, tracking_server,
                                                                     tmp_path):
    marker = tmp_path / "killed"
    task = registry.tasks.get("test/classification")
    opts = replace(toy_bench, tracking_uri=tracking_server)
    ray_exec = RayExecutor(max_retries=2, worker_setup=functools.partial(toy_worker_setup,
                                                                         kill_marker=str(marker)))
    (rec,) = ray_exec.run_cells(grid.cells([task], models("killed-once"), [0]), opts)
    assert marker.exists(), "the first attempt did not die"
    assert rec.status == "ok" and ray_exec.problems == []
    assert [p.name for p in opts.results_dir.rglob("*.json")] == ["seed0.json"]
    runs = [r for r in active_runs(tracking_server, [task.id]) if cell_key(r) == (task.id, "killed-once", 0)]
    assert [(r.info.run_id, r.info.status) for r in runs] == [(rec.mlflow_run_id, "FINISHED")]


def test_a_worker_lost_more_often_than_max_retries_leaves_no_record(toy_bench, ray_cluster, tmp_path):
    marker = tmp_path / "killed"
    task = registry.tasks.get("test/regression")
    ray_exec = RayExecutor(max_retries=0, worker_setup=functools.partial(toy_worker_setup,
                                                                         kill_marker=str(marker)))
    assert list(ray_exec.run_cells(grid.cells([task], models("killed-once"), [3]), toy_bench)) == []
    assert marker.exists() and len(ray_exec.problems) == 1 and "lost after 0 retries" in ray_exec.problems[0]
    assert not list(toy_bench.results_dir.rglob("*.json")) and not list(toy_bench.results_dir.rglob("*.lock"))


def test_a_worker_on_other_data_fails_its_cell_naming_both_fingerprints(toy_bench, ray_cluster):
    from lensbench.run.runner import expected_fingerprint

    task = registry.tasks.get("test/classification")
    ray_exec = RayExecutor(worker_setup=functools.partial(toy_worker_setup, recipe_version=2))
    (rec,) = ray_exec.run_cells(grid.cells([task], models("toy-mlp"), [0]), toy_bench)
    expected = expected_fingerprint(task, toy_bench)
    assert rec.status == "failed" and rec.dataset_fingerprint != expected
    assert "fingerprint mismatch" in rec.error and expected in rec.error and rec.dataset_fingerprint in rec.error
    assert records.read_record(records.record_path(toy_bench.results_dir, rec)).status == "failed"


def test_killing_the_driver_mid_sweep_then_rerunning_records_each_cell_once(toy_bench, ray_cluster,
                                                                            tracking_server, tmp_path):
    results, marker = tmp_path / "results", tmp_path / "gated.pid"
    code = (f"import cluster_parts; cluster_parts.drive({ray_cluster!r}, {str(results)!r}, {tracking_server!r}, "
            f"{str(toy_bench.cache)!r}, {str(marker)!r})")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(PLUGIN)])}
    env.pop("RAY_ADDRESS", None)
    first = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        # a generous deadline, not a timing assertion: a driver and its workers start slowly on a loaded machine
        wait_for(lambda: marker.exists() and len(list(results.rglob("seed*.json"))) == 2, 900,
                 "the driver to record the two fast cells while the gated cell runs")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert list(results.rglob("*.lock")), "the killed driver held the gated cell's claim"

    def gone(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_for(lambda: gone(int(marker.read_text())), 120, "Ray to end the killed driver's worker")
    marker.with_name("gate").touch()
    second = subprocess.run([sys.executable, "-c", code], check=False, env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    said = sorted(line for line in second.stdout.splitlines() if line.endswith((" ok", " failed")))
    assert said == ["gated 0 ok", "toy-cnn 0 ok", "toy-cnn 1 ok"]
    recs = records.load_records(results)
    assert sorted((r.model, r.seed, r.status) for r in recs) == [("gated", 0, "ok"), ("toy-cnn", 0, "ok"),
                                                                 ("toy-cnn", 1, "ok")]
    assert not list(results.rglob("*.lock"))
    runs = active_runs(tracking_server, ["test/classification"])
    mine = {r.info.run_id: r for r in runs if r.info.run_id in {rec.mlflow_run_id for rec in recs}}
    assert len(mine) == 3 and {r.info.status for r in mine.values()} == {"FINISHED"}
    cells = [cell_key(r) for r in runs if cell_key(r)[1] in ("gated",)]
    assert cells == [("test/classification", "gated", 0)]  # the killed attempt's run is gone


def test_a_model_from_a_file_travels_to_the_workers_by_value(toy_bench, ray_cluster, tmp_path):
    from lensbench.run import usermodels

    source = tmp_path / "my_model.py"
    source.write_text("from torch import nn\n\n\ndef factory(task):\n    \"\"\"A linear probe.\"\"\"\n"
                      "    return nn.Sequential(nn.Flatten(), nn.LazyLinear(task.n_outputs))\n")
    spec = usermodels.resolve(f"{source}:factory")
    source.unlink()  # the workers cannot read it: the code goes with the task
    task = registry.tasks.get("test/regression")
    ray_exec = RayExecutor(worker_setup=toy_worker_setup)
    (rec,) = ray_exec.run_cells(grid.cells([task], [spec], [0]), toy_bench)
    assert ray_exec.problems == [] and rec.status == "ok" and rec.model == "my_model-factory"
def test_the_ray_executor_without_ray_says_how_to_install_it(tmp_path):
    code = ("import sys; sys.modules['ray'] = None; from lensbench.cli import main; sys.exit(main(["
            "'sweep', '--tasks', 'substructure/model1', '--models', 'resnet10t', '--seeds', '0', '--executor', "
            f"'ray', '--results', {str(tmp_path / 'results')!r}, '--no-progress']))")
    out = subprocess.run([sys.executable, "-c", code], check=False, cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 2, out.stderr[-2000:]
    assert "pip install 'lensbench[ray]'" in " ".join(out.stderr.split()) and "Traceback" not in out.stderr


def test_a_ray_address_that_does_not_answer_is_a_clear_error(tmp_path, capsys):
    from cluster_parts import free_port

    from lensbench.cli import main

    address = f"127.0.0.1:{free_port()}"
    argv = ["sweep", "--tasks", "substructure/model1", "--models", "resnet10t", "--seeds", "0", "--executor", "ray",
            "--ray-address", address, "--results", str(tmp_path / "results"), "--no-progress"]
    assert main(argv) == 2
    assert f"the Ray cluster at {address} does not answer" in " ".join(capsys.readouterr().err.split())
    assert not (tmp_path / "results").exists() or not list((tmp_path / "results").rglob("*.json"))
