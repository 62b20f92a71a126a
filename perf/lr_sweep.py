"""Learning-rate sweep of a model family on validation only (protocol v2).

For every model named, every ``lr_scale`` and every seed: fit on the task's train split at the preset
(default ``medium``: its budget, schedule and augmentation) with the budget's lr times the scale, and
keep the val selection metric (the task's primary metric; val loss for anomaly tasks) of the chosen
epoch. Nothing is ever predicted on test. The scale that is best on val, averaged over seeds, is the
candidate for the family's ``ModelSpec.lr_scales[preset]``; the budget itself stays the task's.

``--set KEY=VALUE`` (repeatable) changes a registered hyper-parameter of every model swept (a keyword
its factory already has, e.g. ``--set head_lr=8`` for ``grav-resnet``; the value read as JSON, else as
text): the way to tune one on validation before registering it. The overrides are part of the folder's
settings, so a resumed sweep must give the same ones.

Writes ``lr_sweep.json`` (every fit, with its learning curve) into ``--out`` after each fit, so a sweep
that is stopped resumes where it stopped when run again with the same ``--out`` (fits already there are
kept; a folder from another task, preset, sizes or budget is refused), then ``lr_sweep.md`` (one row per
model and scale) and prints the table.

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
import sys
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


def parse_overrides(items: list[str], models: list[str]) -> dict:
    """``KEY=VALUE`` strings -> {key: value}; SystemExit(2) for a malformed one or a key that is not a
    registered hyper-parameter of every model named."""
    out = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            _refuse(f"--set {item!r}: expected KEY=VALUE")
        try:
            out[key] = json.loads(text)
        except ValueError:
            out[key] = text
    for name in models:
        factory = registry.models.get(name).factory
        have = getattr(factory, "keywords", {})
        unknown = [k for k in out if k not in have]
        if unknown:
            _refuse(f"--set {', '.join(unknown)}: not a hyper-parameter of {name} (it has {sorted(have) or 'none'})")
    return out


def build(name: str, task: TaskSpec, overrides: dict):
    """Registered model ``name`` for ``task``, its factory's keywords updated with ``overrides``."""
    factory = registry.models.get(name).factory
    if not overrides:
        return factory(task)
    return factory.func(*factory.args, task, **{**factory.keywords, **overrides})


def sweep(task: TaskSpec, models: list[str], scales: list[float], seeds: list[int], preset: str,
          cache: Path | None = None, data_root: Path | None = None, done: list[dict] | None = None,
          save=None, overrides: dict | None = None) -> list[dict]:
    """One dict per (model, scale, seed): ``val`` (selection metric at the chosen epoch), ``selected_epoch``,
    ``curve``, ``train_time_s``. Fits in ``done`` are kept, not rerun; ``save(rows)`` after each new fit."""
    rows = list(done or [])
    have = {(r["model"], float(r["lr_scale"]), int(r["seed"])) for r in rows}
    todo = [(m, s, k) for m in models for s in scales for k in seeds if (m, float(s), k) not in have]
    if not todo:
        return rows
    _, dsdict = taskdata.materialise(task, preset, cache=cache, data_root=data_root, progress=False)
    train = taskdata.train_split(task, preset, dsdict)
    val = taskdata.build_split(task, dsdict, "val", train.scaler)
    budget, device = task.preset(preset).budget, provenance.pick_device(None)
    key = f"val_{trainer.selection_key(task)[0]}"
    for name, scale, seed in todo:
        provenance.seed_everything(seed)
        fitted = trainer.fit(task, build(name, task, overrides or {}), budget, train, val, seed=seed,
                             device=device, progress=False, lr_scale=scale)
        best = next(c for c in fitted.curve if c["epoch"] == fitted.selected_epoch) if fitted.curve else {}
        rows.append({"model": name, "lr_scale": scale, "lr": budget.lr * scale, "seed": seed,
                     "val": best.get(key), "selected_epoch": fitted.selected_epoch,
                     "epochs_run": fitted.epochs_run, "train_time_s": fitted.train_time_s,
                     "curve": fitted.curve})
        print(f"{name} lr_scale={scale:g} seed={seed}: {key}={best.get(key)} "
              f"(epoch {fitted.selected_epoch}/{fitted.epochs_run}, {fitted.train_time_s:.0f} s)", flush=True)
        if save is not None:
            save(rows)
    return rows


def settings(task: TaskSpec, preset: str, overrides: dict | None = None) -> dict:
    """What a sweep folder's fits were made under; a resumed sweep must match it."""
    out = {"task": task.id, "task_version": task.version, "preset": preset,
           "sizes": dict(task.preset(preset).sizes),
           "budget": _budget(json.loads(json.dumps(dataclasses.asdict(task.preset(preset).budget))))}
    if overrides:
        out["overrides"] = overrides
    return out


def _budget(budget):
    """A budget's dict without an unset ``eval_every`` (folders from before that field compare equal)."""
    if isinstance(budget, dict) and budget.get("eval_every", 0) is None:
        budget = {k: v for k, v in budget.items() if k != "eval_every"}
    return budget


def resume(path: Path, expected: dict) -> list[dict]:
    """The fits already in ``path`` (lr_sweep.json), [] when there is none; SystemExit(2) naming the file
    when it cannot be read or was made under other settings."""
    if not path.exists():
        return []
    try:
        meta = json.loads(path.read_text())
        runs = meta["runs"]
        if not isinstance(runs, list) or not all(isinstance(r, dict) and {"model", "lr_scale", "seed"} <= set(r)
                                                 for r in runs):
            raise ValueError("'runs' is not a list of fits")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        _refuse(f"{path}: not a readable lr sweep ({exc}); give another --out")
    meta["budget"] = _budget(meta.get("budget"))
    differ = [k for k, v in expected.items() if meta.get(k) != v]
    if differ:
        _refuse(f"{path}: made with another {', '.join(differ)} than this sweep; give another --out")
    return runs


def _refuse(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


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
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="change a registered hyper-parameter of every model swept (repeatable)")
    args = ap.parse_args()
    overrides = parse_overrides(args.set, args.models)
    if args.threads:
        torch.set_num_threads(args.threads)
    task = shrunk(registry.tasks.get(args.task), args.preset, args.train_per_class, args.val_per_class,
                  args.images_seen)
    meta = settings(task, args.preset, overrides)
    path = args.out / "lr_sweep.json"
    done = resume(path, meta)
    args.out.mkdir(parents=True, exist_ok=True)

    def save(rows: list[dict]) -> None:
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({**meta, "train_time_s": sum(r["train_time_s"] for r in rows), "runs": rows},
                                  indent=2) + "\n")
        tmp.replace(path)

    rows = sweep(task, args.models, args.scales, args.seeds, args.preset, args.cache, args.data_root, done, save,
                 overrides)
    save(rows)
    md = table(task, [r for r in rows if r["model"] in args.models])
    (args.out / "lr_sweep.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
