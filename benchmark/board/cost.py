"""What the records cost: CPU-hours per task and preset, CPU-minutes per run of each model, and the
``standard`` preset projected from those measured costs (CPU core-hours; GPU hours on 1 and N GPUs
once a model has a GPU record).

From each ``ok`` record: its training time (zero for an evaluation-only record, ``source_task`` set,
whose model was trained by the source run and is counted there) plus its evaluation time, in CPU
seconds of the run's process (``train_cpu_s``, ``eval_cpu_s``; schema 4), or, in older records,
wall-clock seconds times the torch threads it ran with (``hardware.torch_threads``; 1 when absent),
which count a pause or an oversubscribed machine as work. Runs on a GPU (``hardware.device``
``cuda...``) are counted apart as GPU-hours, from wall-clock times.
"""

from __future__ import annotations

import pandas as pd

from lensbench import registry
from lensbench.board.cells import fmt

KEYS = ["task", "preset", "model"]


def device(r) -> tuple[bool, float]:
    """(ran on a GPU, torch threads: the CPU-core factor of its times; 1 when absent) of record ``r``."""
    machine = r.hardware if isinstance(r.hardware, dict) else {}
    return str(machine.get("device", "cpu")).startswith("cuda"), float(machine.get("torch_threads") or 1)


def seconds(r) -> tuple[float, float]:
    """(training, evaluation) seconds of record ``r``'s own work: CPU seconds of its process when
    recorded (``train_cpu_s``, ``eval_cpu_s``), else wall-clock seconds x torch threads; wall-clock
    seconds on a GPU. Training is 0 for an evaluation-only record (``source_task``)."""
    on_gpu, threads = device(r)

    def one(cpu, wall) -> float:
        return float(cpu) if cpu is not None and not on_gpu else float(wall or 0.0) * (1.0 if on_gpu else threads)
    train = 0.0 if r.source_task else one(r.train_cpu_s, r.train_time_s)
    return train, one(r.eval_cpu_s, r.eval_time_s)


def frame(records) -> pd.DataFrame:
    """One row per ``ok`` record: ``KEYS``, seed, ``cpu_h`` and ``gpu_h`` (hours of its own work)."""
    rows = []
    for r in records:
        if r.status != "ok":
            continue
        on_gpu = device(r)[0]
        hours = sum(seconds(r)) / 3600
        rows.append({"task": r.task, "preset": r.preset, "model": r.model, "seed": r.seed,
                     "cpu_h": 0.0 if on_gpu else hours, "gpu_h": hours if on_gpu else 0.0})
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


def registered_task(task_id: str):
    """The registered TaskSpec ``task_id``, None when it is not registered."""
    return registry.tasks.get(task_id) if task_id in registry.tasks else None


def markdown(records, tasks=registered_task) -> str:
    """The cost section (no heading) as Markdown, with the standard-preset projection (``tasks(id)``:
    the TaskSpec of a task id, None when unknown); "" without ``ok`` records."""
    f = frame(records)
    if f.empty:
        return ""
    lines = [("CPU-hours = training + evaluation time of each run: the CPU time of its process where recorded "
              "(records since schema 4), else wall-clock time x torch threads; an evaluation-only task "
              "(e.g. the domain shift, scored with the source task's models) counts its evaluation only."), "",
             "| task | preset | runs | CPU-hours | GPU-hours |", "|---|---|---:|---:|---:|"]
    for r in by_task(f).to_dict("records"):
        lines.append(f"| {r['task']} | {r['preset']} | {r['runs']} | {r['cpu_h']:.2f} | {r['gpu_h']:.2f} |")
    pivot = per_run(f)
    lines += ["", "CPU-minutes per run (mean over seeds):", "",
              "| model | " + " | ".join(pivot.columns) + " |", "|---|" + "---:|" * len(pivot.columns)]
    for model, row in pivot.iterrows():
        lines.append(f"| {model} | " + " | ".join(fmt(v, 1) for v in row) + " |")
    projected = projection_markdown(records, tasks)
    if projected:
        lines += ["", "### The standard preset, projected", "", projected.rstrip("\n")]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- what a grid has left
def remaining(status_rows: list[dict], records, tasks=registered_task,
              reference=()) -> tuple[list[float], dict[str, int]]:
    """CPU-hours still to spend per row of ``runner.status`` (its ``todo``: model -> runs left), and the
    runs that cannot be priced (model -> runs; no record to go by, left out of the sums).

    A run is priced, in this order, at the mean of the model's records at that task and preset; at that
    preset on any task that trains; or at the model's median CPU seconds per training image on any
    record x the images the preset sees (``_images_seen``; evaluation not counted), the records of
    ``reference`` (e.g. a frozen snapshot's) used for that last step only for models with no record
    among ``records``. An evaluation-only task (``source_task``) costs nothing here: its runs are made
    by its source's."""
    records = list(records)
    f = frame(records)
    own = f.groupby(KEYS)["cpu_h"].mean().to_dict()
    trained = f[~f["task"].map(lambda t: _evaluation_only(t, tasks)).astype(bool)]
    anywhere = trained.groupby(["preset", "model"])["cpu_h"].mean().to_dict()
    per_image = {**per_image_cost(reference, tasks), **per_image_cost(records, tasks)}
    out, unmeasured = [], {}
    for row in status_rows:
        hours = 0.0
        if not _evaluation_only(row["task"], tasks):
            images = _images_seen(tasks(row["task"]), row["preset"])
            for model, n in row.get("todo", {}).items():
                rate = own.get((row["task"], row["preset"], model), anywhere.get((row["preset"], model)))
                if rate is None and images is not None and model in per_image:
                    rate = images * per_image[model] / 3600
                if rate is None:
                    unmeasured[model] = unmeasured.get(model, 0) + n
                else:
                    hours += n * rate
        out.append(hours)
    return out, unmeasured


def per_image_cost(records, tasks=registered_task) -> dict[str, float]:
    """Model -> median CPU seconds of training per image seen over its trained ``ok`` CPU records: the
    images from the learning curve, or for a record without one (older schemas) from its task and
    preset (``_images_seen``; records of unknown tasks left out)."""
    rows = []
    for r in records:
        if r.status != "ok" or r.source_task or device(r)[0]:
            continue
        curve = r.curve or []
        images = curve[-1].get("images_seen") if curve else _images_seen(tasks(r.task), r.preset)
        train = seconds(r)[0]
        if images and train > 0:
            rows.append((r.model, train / float(images)))
    return pd.DataFrame(rows, columns=["model", "s"]).groupby("model")["s"].median().to_dict() if rows else {}


def _evaluation_only(task_id: str, tasks) -> bool:
    spec = tasks(task_id)
    return spec is not None and spec.source_task is not None


def _images_seen(task, preset: str) -> float | None:
    """Training images a run of ``task`` at ``preset`` sees; None when unknown (unregistered task or
    preset, or an epoch budget on a file dataset, whose size only its files tell)."""
    if task is None or preset not in task.presets:
        return None
    p = task.preset(preset)
    if p.budget.images_seen is not None:
        return float(p.budget.images_seen)
    recipe = task.dataset in registry.datasets and registry.datasets.get(task.dataset).recipe is not None
    return float(p.budget.epochs * p.train_per_class * len(task.train_classes)) if recipe else None


# ----------------------------------------------------------------------------- the standard preset, projected
GPU_COUNTS = (1, 4, 16)


def rates(records) -> pd.DataFrame:
    """Per trained ``ok`` record with a learning curve: seconds of training per image seen and seconds of
    evaluation (``seconds``), on its device kind ("cpu": core-seconds; "gpu")."""
    rows = []
    for r in records:
        curve = r.curve or []
        if r.status != "ok" or r.source_task or not curve or not curve[-1].get("images_seen"):
            continue
        train, evaluation = seconds(r)
        rows.append({"task": r.task, "preset": r.preset, "model": r.model, "seed": r.seed,
                     "device": "gpu" if device(r)[0] else "cpu", "epoch_images": float(curve[0]["images_seen"]),
                     "train_s_per_image": train / float(curve[-1]["images_seen"]), "eval_s": evaluation})
    return pd.DataFrame(rows, columns=[*KEYS, "seed", "device", "epoch_images", "train_s_per_image", "eval_s"])


def standard_runs(records, tasks) -> pd.DataFrame:
    """The runs of these records' (task, model, seed) cells at the ``standard`` preset, each with its
    projected hours on a CPU core (``cpu_h``) and on one GPU (``gpu_h``; NaN until that model has a GPU
    record): measured seconds per training image x the standard budget's images (all its epochs: an
    upper bound under early stopping), plus the measured evaluation time x the ratio of test images.
    ``tasks(id)`` gives the TaskSpec (None: left out). The training-set size of a recipe task scales
    with its images per class; a file dataset is the same files at every preset."""
    f = rates(records)
    if f.empty:
        return pd.DataFrame(columns=["task", "model", "seed", "cpu_h", "gpu_h"])
    per_model_gpu = f[f["device"] == "gpu"].groupby("model")["train_s_per_image"].median()
    rows = []
    for (task_id, model, seed), g in f[f["device"] == "cpu"].groupby(["task", "model", "seed"], sort=True):
        task = tasks(task_id)
        if task is None or "standard" not in task.presets:
            continue
        r = g.iloc[0]
        measured, std = task.preset(r["preset"]), task.preset("standard")
        recipe = task.dataset not in registry.datasets or registry.datasets.get(task.dataset).recipe is not None
        train_ratio = std.train_per_class / measured.train_per_class if recipe else 1.0
        test_ratio = std.sizes["test"] / measured.sizes["test"] if recipe else 1.0
        measured_train = r["epoch_images"]  # an epoch is one pass over the training set ...
        if measured.budget.eval_every is not None:  # ... or several: the set's size from the preset then
            measured_train = measured.train_per_class * len(task.train_classes)
        epoch_images = measured_train * train_ratio
        images = std.budget.epochs_for(epoch_images) * epoch_images
        cpu_s = images * r["train_s_per_image"] + r["eval_s"] * test_ratio
        gpu_rate = per_model_gpu.get(model, float("nan"))
        rows.append({"task": task_id, "model": model, "seed": seed, "cpu_h": cpu_s / 3600,
                     "gpu_h": images * gpu_rate / 3600})
    return pd.DataFrame(rows, columns=["task", "model", "seed", "cpu_h", "gpu_h"])


def makespan(hours, workers: int) -> float:
    """Wall hours of ``hours`` (one per run) on ``workers`` equal workers, longest run first to the
    least-loaded worker (how the scale-out executor's queue drains when the longest cells go first)."""
    loads = [0.0] * max(1, int(workers))
    for h in sorted(hours, reverse=True):
        loads[loads.index(min(loads))] += h
    return max(loads)


def projection_markdown(records, tasks) -> str:
    """The standard-preset projection (no heading) as Markdown; "" when no record can be projected."""
    runs = standard_runs(records, tasks)
    if runs.empty:
        return ""
    measured = runs["gpu_h"].notna()
    lines = [("Projected from the measured per-image cost of each run above to the same cells and seeds at the "
             "`standard` preset (all its epochs; early stopping can only shorten it). CPU: one core per run, at the "
             "measured runs' precision (standard steps are float32, slower on a CPU than bf16 medium steps); GPU: "
             "each model's median seconds per image over its GPU records, "
             f"wall hours on {', '.join(map(str, GPU_COUNTS))} GPUs through `--executor ray` "
             "(longest cells first; executor overhead is in `perf/README.md`, section executor)."), "",
             "| task | runs | CPU core-hours | GPU-hours | " + " | ".join(f"{n} GPU{'s' * (n > 1)} (h)" for n in GPU_COUNTS)
             + " |", "|---|---:|---:|---:|" + "---:|" * len(GPU_COUNTS)]
    groups = [(task, g) for task, g in runs.groupby("task", sort=True)] + [("total", runs)]
    for task, g in groups:
        full = bool(g["gpu_h"].notna().all())
        walls = [fmt(makespan(g["gpu_h"], n), 1) if full else "–" for n in GPU_COUNTS]
        gpu = fmt(g["gpu_h"].sum(), 1) if full else "–"
        lines.append(f"| {task} | {len(g)} | {g['cpu_h'].sum():.1f} | {gpu} | " + " | ".join(walls) + " |")
    if not measured.all():
        missing = sorted(set(runs.loc[~measured, "model"]))
        lines += ["", (f"No GPU record yet for {len(missing)} model(s) ({', '.join(missing)}), so their tasks have no GPU "
                       "projection. One standard-preset run per model on a GPU fills it in, e.g. "
                       f"`lensbench run {runs['task'].iloc[0]} {missing[0]} --preset standard --device cuda`.")]
    return "\n".join(lines) + "\n"
