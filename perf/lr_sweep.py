"""Learning-rate sweep of a model family on validation only (protocol v2).

For every model named, every ``lr_scale`` and every seed: fit on the task's train split at the preset
(default ``medium``: its budget, schedule and augmentation) with the budget's lr times the scale, and
keep the val selection metric (the task's primary metric; val loss for anomaly tasks) of the chosen
epoch. Nothing is ever predicted on test. The scale that is best on val, averaged over seeds, is the
candidate for the family's ``ModelSpec.lr_scales[preset]``; the budget itself stays the task's.

Writes ``lr_sweep.json`` (every fit, with its learning curve) and ``lr_sweep.md`` (one row per model
and scale) into ``--out`` and prints the table.

    python perf/lr_sweep.py --task substructure/lensbench-v1 --models resnet10t resnet18 \\
        --scales 0.25 0.5 1 2 --seeds 0 1 --out lr-sweep
    # smoke: tiny splits and budget
    python perf/lr_sweep.py --models resnet10t --scales 0.5 2 --train-per-class 16 --val-per-class 8 \\
        --images-seen 96 --out /tmp/lr-smoke
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

from lensbench import registry
from lensbench.data import taskdata
from lensbench.run import provenance, trainer
from lensbench.specs import Preset, TaskSpec


def shrunk(task: TaskSpec, preset: str, train: int | None, val: int | None, images_seen: int | None) -> TaskSpec:
    """``task`` with its ``preset`` cut to ``train``/``val`` images per class (test = val, never used)
    and ``images_seen`` training images (for smoke runs); unchanged when all are None."""
    p = task.preset(preset)
    sizes = dict(p.sizes)
    if train:
        sizes["train"] = train
    if val:
        sizes["val"] = sizes["test"] = val
    budget = p.budget
    if images_seen:
        budget = dataclasses.replace(budget, epochs=None, images_seen=images_seen)
    subset = None if p.train_subset is None or train else min(p.train_subset, sizes["train"])
    return dataclasses.replace(task, presets={**task.presets, preset: Preset(sizes, budget, subset)})


def sweep(task: TaskSpec, models: list[str], scales: list[float], seeds: list[int], preset: str,
          cache: Path | None = None, data_root: Path | None = None) -> list[dict]:
    """One dict per (model, scale, seed): ``val`` (selection metric at the chosen epoch), ``selected_epoch``,
    ``curve``, ``train_time_s``."""
    _, dsdict = taskdata.materialise(task, preset, cache=cache, data_root=data_root, progress=False)
    train = taskdata.train_split(task, preset, dsdict)
    val = taskdata.build_split(task, dsdict, "val", train.scaler)
    budget, device = task.preset(preset).budget, provenance.pick_device(None)
    key = f"val_{trainer.selection_key(task)[0]}"
    rows = []
    for name in models:
        spec = registry.models.get(name)
        for scale in scales:
            for seed in seeds:
                provenance.seed_everything(seed)
                fitted = trainer.fit(task, spec.factory(task), budget, train, val, seed=seed, device=device,
                                     progress=False, lr_scale=scale)
                best = next(c for c in fitted.curve if c["epoch"] == fitted.selected_epoch) if fitted.curve else {}
                rows.append({"model": name, "lr_scale": scale, "lr": budget.lr * scale, "seed": seed,
                             "val": best.get(key), "selected_epoch": fitted.selected_epoch,
                             "epochs_run": fitted.epochs_run, "train_time_s": fitted.train_time_s,
                             "curve": fitted.curve})
                print(f"{name} lr_scale={scale:g} seed={seed}: {key}={best.get(key)} "
                      f"(epoch {fitted.selected_epoch}/{fitted.epochs_run}, {fitted.train_time_s:.0f} s)", flush=True)
    return rows


def table(task: TaskSpec, rows: list[dict]) -> str:
    """Markdown: one row per (model, scale), val mean +- std over seeds; the best scale per model marked."""
    key, higher = trainer.selection_key(task)
    lines = [(f"Task `{task.id}` v{task.version}, val `{key}` ({'higher' if higher else 'lower'} is better) at the "
              "epoch chosen on val; mean +- std over seeds. Test never evaluated."), "",
             "| model | lr_scale | lr | val mean | val std | seeds | mean selected epoch | best |",
             "|---|---|---|---|---|---|---|---|"]
    for name in dict.fromkeys(r["model"] for r in rows):
        groups = {}
        for r in rows:
            if r["model"] == name:
                groups.setdefault(r["lr_scale"], []).append(r)
        means = {s: float(np.mean([r["val"] for r in g])) for s, g in groups.items()}
        best = (max if higher else min)(means, key=means.get)
        for s, g in groups.items():
            vals = [r["val"] for r in g]
            lines.append(f"| {name} | {s:g} | {g[0]['lr']:.2e} | {means[s]:.4f} | {np.std(vals):.4f} | {len(g)} | "
                         f"{np.mean([r['selected_epoch'] for r in g]):.1f} | {'**best**' if s == best else ''} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--task", default="substructure/lensbench-v1")
    ap.add_argument("--models", nargs="+", required=True, help="the family: models that share one lr_scale")
    ap.add_argument("--preset", default="medium")
    ap.add_argument("--scales", nargs="+", type=float, default=[0.25, 0.5, 1.0, 2.0, 4.0])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--data-root", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--train-per-class", type=int, default=None, help="smoke runs: fewer training images")
    ap.add_argument("--val-per-class", type=int, default=None, help="smoke runs: fewer validation images")
    ap.add_argument("--images-seen", type=int, default=None, help="smoke runs: a shorter budget")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    task = shrunk(registry.tasks.get(args.task), args.preset, args.train_per_class, args.val_per_class,
                  args.images_seen)
    t0 = time.perf_counter()
    rows = sweep(task, args.models, args.scales, args.seeds, args.preset, args.cache, args.data_root)
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {"task": task.id, "task_version": task.version, "preset": args.preset,
            "sizes": dict(task.preset(args.preset).sizes), "budget": dataclasses.asdict(task.preset(args.preset).budget),
            "wall_time_s": time.perf_counter() - t0, "runs": rows}
    (args.out / "lr_sweep.json").write_text(json.dumps(meta, indent=2) + "\n")
    md = table(task, rows)
    (args.out / "lr_sweep.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
