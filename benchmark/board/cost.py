"""What the records cost: CPU-hours per task and preset, and CPU-minutes per run of each model.

From each ``ok`` record: its training time (zero for an evaluation-only record, ``source_task`` set,
whose model was trained by the source run and is counted there) plus its evaluation time, times
the torch threads it ran with (``hardware.torch_threads``; 1 when absent). Runs on a GPU
(``hardware.device`` ``cuda...``) are counted apart as GPU-hours.
"""

from __future__ import annotations

import pandas as pd

from lensbench.board.cells import fmt

KEYS = ["task", "preset", "model"]


def frame(records) -> pd.DataFrame:
    """One row per ``ok`` record: ``KEYS``, seed, ``cpu_h`` and ``gpu_h`` (hours of its own work)."""
    rows = []
    for r in records:
        if r.status != "ok":
            continue
        machine = r.hardware if isinstance(r.hardware, dict) else {}
        threads = machine.get("torch_threads") or 1
        train = 0.0 if r.source_task else float(r.train_time_s or 0.0)
        hours = (train + float(r.eval_time_s or 0.0)) / 3600
        on_gpu = str(machine.get("device", "cpu")).startswith("cuda")
        rows.append({"task": r.task, "preset": r.preset, "model": r.model, "seed": r.seed,
                     "cpu_h": 0.0 if on_gpu else hours * float(threads), "gpu_h": hours if on_gpu else 0.0})
    return pd.DataFrame(rows, columns=[*KEYS, "seed", "cpu_h", "gpu_h"])


def by_task(f: pd.DataFrame) -> pd.DataFrame:
    """Runs and CPU-/GPU-hours per (task, preset), with a total row."""
    g = f.groupby(["task", "preset"], sort=True).agg(runs=("seed", "size"), cpu_h=("cpu_h", "sum"),
                                                     gpu_h=("gpu_h", "sum")).reset_index()
    total = pd.DataFrame([{"task": "total", "preset": "", "runs": int(g["runs"].sum()), "cpu_h": g["cpu_h"].sum(),
                           "gpu_h": g["gpu_h"].sum()}])
    return pd.concat([g, total], ignore_index=True)


def per_run(f: pd.DataFrame) -> pd.DataFrame:
    """Mean CPU-minutes per run of each model (rows) on each task and preset (columns)."""
    g = f.assign(cpu_min=f["cpu_h"] * 60).groupby(KEYS)["cpu_min"].mean().reset_index()
    g["table"] = g["task"] + " · " + g["preset"]
    return g.pivot(index="model", columns="table", values="cpu_min")


def markdown(records) -> str:
    """The cost section (no heading) as Markdown; "" without ``ok`` records."""
    f = frame(records)
    if f.empty:
        return ""
    lines = [("CPU-hours = (training + evaluation time) x torch threads of each run; an evaluation-only task "
              "(e.g. the domain shift, scored with the source task's models) counts its evaluation only."), "",
             "| task | preset | runs | CPU-hours | GPU-hours |", "|---|---|---:|---:|---:|"]
    for r in by_task(f).to_dict("records"):
        lines.append(f"| {r['task']} | {r['preset']} | {r['runs']} | {r['cpu_h']:.2f} | {r['gpu_h']:.2f} |")
    pivot = per_run(f)
    lines += ["", "CPU-minutes per run (mean over seeds):", "",
              "| model | " + " | ".join(pivot.columns) + " |", "|---|" + "---:|" * len(pivot.columns)]
    for model, row in pivot.iterrows():
        lines.append(f"| {model} | " + " | ".join(fmt(v, 1) for v in row) + " |")
    return "\n".join(lines) + "\n"
