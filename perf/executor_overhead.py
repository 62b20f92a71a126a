"""Executor overhead: the same small grid through ``--executor ray`` and ``--executor local``, in one run.

The grid is the toy tasks of the test suite (classification and regression, 2 models x 2 seeds,
16 x 16 images, in-repo recipe, nothing downloaded), its data built once in a shared cache before
either executor runs. Both executors train with one torch thread and track into their own SQLite
store. The Ray executor runs on a local cluster with ``--ray-cpus`` CPUs (default 1: cells one at a
time, as the local executor runs them, so the ratio is the executor's own overhead: task submission,
worker processes, shipping records back). Two ratios are reported: with the cluster's start
counted (what a user of ``lensbench sweep --executor ray`` on one machine sees) and without it.
Writes the ``executor`` section of perf/README.md and prints it; notes the load average, since the
machine may be shared.

    python perf/executor_overhead.py [--epochs 4] [--train 512] [--ray-cpus 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "examples" / "lensbench-example-plugin"))

import torch
from cluster_parts import PLUGIN, TESTS, toy_models, toy_worker_setup
from conftest import make_task
from perf_readme import write_section

from lensbench import registry
from lensbench.data import taskdata
from lensbench.run import executors, grid
from lensbench.run.runner import RunOptions
from lensbench.specs import Budget, Preset


def toy_grid(epochs: int, train: int) -> list:
    toy_worker_setup()
    budget = Budget(epochs=epochs, batch_size=32, lr=3e-3, weight_decay=0.0)
    sizes = {"train": train, "val": max(32, train // 4), "test": max(32, train // 4)}
    tasks = [registry.tasks.register(make_task(kind, presets={"quick": Preset(sizes, budget)}), "perf")
             for kind in ("classification", "regression")]
    models = [m for m in toy_models() if m.name in ("toy-cnn", "toy-mlp")]
    return grid.cells(tasks, models, [0, 1])


def timed(executor, cells, opts) -> tuple[float, list]:
    t0 = time.perf_counter()
    recs = list(executor.run_cells(cells, opts))
    return time.perf_counter() - t0, recs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--train", type=int, default=512, help="training images per task")
    ap.add_argument("--ray-cpus", type=int, default=1, help="CPUs of the local Ray cluster (1: cells serially)")
    args = ap.parse_args()
    import ray

    torch.set_num_threads(1)
    load_before = os.getloadavg()
    cells = toy_grid(args.epochs, args.train)
    with tempfile.TemporaryDirectory(prefix="lensbench-executor-perf-") as tmp:
        tmp = Path(tmp)

        def opts(name: str) -> RunOptions:
            return RunOptions(results_dir=tmp / name, tracking_uri=f"sqlite:///{tmp / name}.db", cache=tmp / "cache",
                              progress=False)

        for task in {c.task.id: c.task for c in cells}.values():
            taskdata.materialise(task, "quick", cache=tmp / "cache", progress=False)
        local_s, local = timed(executors.LocalExecutor(), cells, opts("local"))
        t0 = time.perf_counter()
        path = os.pathsep.join([str(TESTS), str(PLUGIN)])
        ray.init(num_cpus=args.ray_cpus, include_dashboard=False, logging_level="ERROR", log_to_driver=False,
                 runtime_env={"env_vars": {"PYTHONPATH": path}})
        start_s = time.perf_counter() - t0
        ray_exec = executors.make("ray", threads=1, worker_setup=toy_worker_setup)
        ray_s, remote = timed(ray_exec, cells, opts("ray"))
        ray.shutdown()
    same = sorted((r.task, r.model, r.seed, r.metrics_test[r.primary_metric]) for r in remote) == sorted(
        (r.task, r.model, r.seed, r.metrics_test[r.primary_metric]) for r in local)
    load_after = os.getloadavg()
    body = (
        f"Grid: 2 toy tasks x 2 models x 2 seeds = {len(cells)} cells, {args.epochs} epochs, {args.train} training "
        f"images each, 1 torch thread; Ray: a local cluster of {args.ray_cpus} CPU(s), one task per cell.\n\n"
        "| executor | wall (s) | ratio to local |\n|---|---:|---:|\n"
        f"| local | {local_s:.1f} | 1.00 |\n"
        f"| ray, cells only (cluster already up) | {ray_s:.1f} | {ray_s / local_s:.2f} |\n"
        f"| ray, with the cluster's start ({start_s:.1f} s) | {ray_s + start_s:.1f} | "
        f"{(ray_s + start_s) / local_s:.2f} |\n\n"
        f"Training time inside the cells (sum of the records' `train_time_s`): local {sum(r.train_time_s for r in local):.1f} s, "
        f"ray {sum(r.train_time_s for r in remote):.1f} s (the rest of each wall time is data, evaluation, tracking and, "
        f"for ray, task dispatch).\n\n"
        f"Goal: ray <= 1.15x local. Test metrics identical between the executors: {'yes' if same else 'NO'}. "
        f"Load average (1 min) before / after: {load_before[0]:.2f} / {load_after[0]:.2f} "
        f"on {os.cpu_count()} cores (the machine was shared).\n\n"
        f"`python perf/executor_overhead.py --epochs {args.epochs} --train {args.train} --ray-cpus {args.ray_cpus}`\n"
    )
    write_section("executor", body)
    print(body)


if __name__ == "__main__":
    main()
