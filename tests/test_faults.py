"""Fault injection: sweeps killed with SIGKILL at random times (alone and two side by side on one
folder), then one sweep to completion. Every cell ends recorded exactly once, nothing half-written
or locked is left, and MLflow holds exactly one live, finished run per cell."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

from conftest import REPO

from lensbench import records

TASKS = ("test/classification", "test/regression")
SEEDS = (0, 1, 2, 3)
SINGLE_ROUNDS, DOUBLE_ROUNDS = 14, 4  # 14 + 2 * 4 = 22 kills
READY_WAIT_S = 120.0  # imports on a busy machine

DRIVER = '''
"""One sweep of the toy grid (2 tasks x toy-cnn x 4 seeds) in ``root``; ``force`` reruns done cells."""
import sys
from pathlib import Path

sys.path[:0] = [{tests!r}, {example!r}]
from conftest import ToyRecipe, make_task  # noqa: E402
from lensbench_example import tiny_cnn  # noqa: E402

from lensbench import registry  # noqa: E402
from lensbench.data import simulated  # noqa: E402
from lensbench.run import runner  # noqa: E402
from lensbench.specs import DatasetSpec, ModelSpec  # noqa: E402

root, force = Path(sys.argv[1]), sys.argv[2] == "force"
simulated.get_recipe = lambda name: ToyRecipe()
registry.datasets.register(DatasetSpec("toy", 1, "toy", ("no_sub", "cdm"), (1, 16, 16), 0.1, recipe="toy",
                                       columns=("radius",)), "test")
tasks = [make_task(kind, epochs=2) for kind in ("classification", "regression")]
for task in tasks:
    registry.tasks.register(task, "test")
spec = ModelSpec("toy-cnn", tiny_cnn, "user", ("classification", "regression"), "tiny")
registry.models.register(spec, "test")
opts = runner.RunOptions(results_dir=root / "results", tracking_uri=f"sqlite:///{{root}}/mlflow.db",
                         cache=root / "cache", progress=False, force=force)
(root / f"ready-{{sys.argv[3]}}").touch()
for rec in runner.sweep(tasks, [spec], {seeds!r}, opts):
    print("done", rec.task, rec.seed, rec.status, flush=True)
'''


def _start(root: Path, driver: Path, force: bool, tag: str) -> subprocess.Popen:
    env = {**os.environ, "LENSBENCH_CACHE": str(root / "cache"), "PYTHONWARNINGS": "ignore",
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, str(driver), str(root), "force" if force else "resume", tag],
                            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_ready(root: Path, tags: list[str], procs: list[subprocess.Popen]) -> None:
    until = time.monotonic() + READY_WAIT_S
    while time.monotonic() < until and not all((root / f"ready-{t}").exists() for t in tags):
        if any(p.poll() is not None for p in procs):
            return
        time.sleep(0.05)


def _kill(procs: list[subprocess.Popen]) -> int:
    kills = 0
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.communicate(timeout=60)
    return kills


def test_sweeps_survive_sigkill(tmp_path):
    rng = random.Random(20260301)
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER.format(tests=str(REPO / "tests"), seeds=list(SEEDS),
                                    example=str(REPO / "examples" / "lensbench-example-plugin")))
    kills = rounds = 0
    for r in range(SINGLE_ROUNDS + DOUBLE_ROUNDS):
        n = 1 if r < SINGLE_ROUNDS else 2
        tags = [f"{r}-{i}" for i in range(n)]
        procs = [_start(tmp_path, driver, force=r % 3 == 2, tag=t) for t in tags]
        _wait_ready(tmp_path, tags, procs)  # the kill lands in the sweep, not in its imports
        time.sleep(rng.uniform(0.5, 4.0))
        kills += _kill(procs)
        rounds += 1
    final = _start(tmp_path, driver, force=False, tag="final")
    out, _ = final.communicate(timeout=600)
    assert final.returncode == 0, out[-3000:]

    results = tmp_path / "results"
    found = {(rec.task, rec.seed): rec for rec in records.iter_records(results)}
    lost = [(t, s) for t in TASKS for s in SEEDS if (t, s) not in found or found[t, s].status != "ok"]
    files = sorted(results.rglob("seed*.json"))
    leftovers = sorted(str(p.relative_to(results)) for p in [*results.rglob("*.lock"), *results.rglob("*.tmp")])

    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
        exps = [client.get_experiment_by_name(t) for t in TASKS]
        live = client.search_runs([e.experiment_id for e in exps if e is not None], run_view_type=ViewType.ACTIVE_ONLY)
    per_cell: dict[tuple, list] = {}
    for run in live:
        key = (run.data.tags.get("lensbench.task"), int(run.data.tags.get("lensbench.seed", -1)))
        per_cell.setdefault(key, []).append(run)
    duplicates = sum(len(v) - 1 for v in per_cell.values())
    missing_runs = [c for c in found if c not in per_cell]
    unfinished = [r.info.run_id for r in live if r.info.status != "FINISHED"]
    record_names_live = sum(1 for c, rec in found.items() if rec.mlflow_run_id in
                            {r.info.run_id for r in per_cell.get(c, [])})
    summary = (f"faults: {kills} kills survived ({rounds} rounds), {len(lost)} cells lost, {duplicates} duplicate "
               f"MLflow runs, {len(unfinished)} unfinished, {len(missing_runs)} cells without a run, "
               f"{record_names_live}/{len(found)} records name their live run")
    print(summary)
    assert kills >= 20, summary
    assert not lost and len(files) == len(TASKS) * len(SEEDS), (summary, lost, [str(f) for f in files])
    for f in files:
        json.loads(f.read_text())  # valid
    assert not leftovers, (summary, leftovers)
    assert set(per_cell) == {(t, s) for t in TASKS for s in SEEDS}, (summary, sorted(per_cell))
    assert duplicates == 0 and not unfinished, summary
