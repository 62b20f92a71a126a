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

# The driver imports once, then forks one sweep per request ("resume 1", "force 2"): each sweep is a
# process of its own (its own pid, start time and MLflow owner) that the test kills with SIGKILL,
# without paying the imports each time. ``driver.py ROOT final`` runs one sweep to completion.
DRIVER = """
import os, signal, sys
from pathlib import Path

sys.path[:0] = [{tests!r}]
from conftest import ToyRecipe, make_task  # noqa: E402
import torch  # noqa: E402

from lensbench import registry, resampling  # noqa: E402
from lensbench.data import simulated  # noqa: E402
from lensbench.run import runner  # noqa: E402
from lensbench.specs import Budget, DatasetSpec, ModelSpec, Preset  # noqa: E402


def linear(task):
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16 * 16, task.n_outputs))


root = Path(sys.argv[1])
simulated.get_recipe = lambda name: ToyRecipe()
resampling.N_RESAMPLES = 20  # keep each cell cheap
registry.datasets.register(DatasetSpec("toy", 1, "toy", ("no_sub", "cdm"), (1, 16, 16), 0.1, recipe="toy",
                                       columns=("radius",)), "test")
quick = {{"quick": Preset({{"train": 32, "val": 16, "test": 16}}, Budget(epochs=1, batch_size=16, lr=3e-3,
                                                                 weight_decay=0.0))}}
tasks = [make_task(kind, presets=quick) for kind in ("classification", "regression")]
for task in tasks:
    registry.tasks.register(task, "test")
spec = ModelSpec("toy-linear", linear, "user", ("classification", "regression"), "flatten + linear")
registry.models.register(spec, "test")


def sweep(force):
    torch.set_num_threads(1)
    opts = runner.RunOptions(results_dir=root / "results", tracking_uri=f"sqlite:///{{root}}/mlflow.db",
                             cache=root / "cache", progress=False, force=force)
    for rec in runner.sweep(tasks, [spec], {seeds!r}, opts):
        print("done", rec.task, rec.seed, rec.status, flush=True)


if sys.argv[2] == "final":
    sweep(False)
    sys.exit(0)
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forked sweeps are reaped as they end
print("ready", flush=True)
for line in sys.stdin:
    mode, n = line.split()
    pids = []
    for _ in range(int(n)):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            try:
                sweep(mode == "force")
            finally:
                os._exit(0)
        pids.append(pid)
    print(*pids, flush=True)
"""


def _env(root: Path) -> dict:
    return {**os.environ, "LENSBENCH_CACHE": str(root / "cache"), "PYTHONWARNINGS": "ignore",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _kill(pids: list[int]) -> int:
    """SIGKILL the sweeps still running; wait until they are gone. Returns how many were killed."""
    kills = 0
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
            kills += 1
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 30
    while not all(_gone(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    return kills


def test_sweeps_survive_sigkill(tmp_path):
    rng = random.Random(20260301)
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER.format(tests=str(REPO / "tests"), seeds=list(SEEDS)))
    forks = subprocess.Popen([sys.executable, str(driver), str(tmp_path), "serve"], cwd=tmp_path,
                             env=_env(tmp_path), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    kills = rounds = 0
    try:
        assert forks.stdout.readline().strip() == "ready"
        for r in range(SINGLE_ROUNDS + DOUBLE_ROUNDS):
            forks.stdin.write(f"{'force' if r % 3 == 2 else 'resume'} {1 if r < SINGLE_ROUNDS else 2}\n")
            forks.stdin.flush()
            pids = [int(p) for p in forks.stdout.readline().split()]
            time.sleep(rng.uniform(0.5, 4.0))
            kills += _kill(pids)
            rounds += 1
    finally:
        forks.stdin.close()
        forks.wait(timeout=60)
    final = subprocess.run([sys.executable, str(driver), str(tmp_path), "final"], cwd=tmp_path, env=_env(tmp_path),
                           capture_output=True, text=True, timeout=600, check=False)
    assert final.returncode == 0, final.stdout[-2000:] + final.stderr[-3000:]

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
        ids = [e.experiment_id for e in exps if e is not None]
        live = client.search_runs(ids, run_view_type=ViewType.ACTIVE_ONLY)
        started = len(client.search_runs(ids, run_view_type=ViewType.ALL))
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
               f"{record_names_live}/{len(found)} records name their live run, {started} MLflow runs started")
    print(summary)
    assert kills >= 20, summary
    assert not lost and len(files) == len(TASKS) * len(SEEDS), (summary, lost, [str(f) for f in files])
    for f in files:
        json.loads(f.read_text())  # valid
    assert not leftovers, (summary, leftovers)
    assert set(per_cell) == {(t, s) for t in TASKS for s in SEEDS}, (summary, sorted(per_cell))
    assert duplicates == 0 and not unfinished, summary
