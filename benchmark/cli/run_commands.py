"""``lensbench run`` and ``lensbench sweep``: train and evaluate models, write records.

The grid of a sweep is built by ``lensbench.run.grid.build`` (the same grid any other executor
runs); this module only reports on it.
"""

from __future__ import annotations

import itertools
import sys
import textwrap
from pathlib import Path

from lensbench import records, registry
from lensbench.data.errors import DataError
from lensbench.run import usermodels
from lensbench.specs import SpecError


def _options(args):
    import torch

    from lensbench.run.runner import RunOptions

    torch.set_num_threads(args.threads)
    on_this_machine = getattr(args, "executor", "local") == "local"  # else the cluster's workers have the GPUs
    if on_this_machine and args.device and args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SpecError(f"--device {args.device}: no CUDA device is available on this machine (torch "
                        f"{torch.__version__}); leave --device out to run on the CPU")
    return RunOptions(preset=args.preset, results_dir=args.results, tracking_uri=args.tracking_uri,
                      device=args.device, cache=args.cache, data_root=args.data_root,
                      checkpoint_dir=args.checkpoint_dir, progress=not args.no_progress, force=args.force)


def cmd_run(args) -> int:
    from lensbench.run import runner

    task = registry.tasks.get(args.task)
    spec = usermodels.resolve(args.model)
    if not spec.supports(task):
        raise SpecError(f"model {spec.name!r} supports {', '.join(spec.kinds)}; task {task.id!r} is {task.kind}")
    task.preset(args.preset)
    failed = 0
    for rec in runner.sweep([task], [spec], args.seeds, _options(args)):
        print(_summary(rec))
        failed += rec.status != "ok"
    _print_tracking(args)
    return 1 if failed else 0


def cmd_sweep(args) -> int:
    from lensbench.run import executors, grid, runner

    sweep = grid.build(suite=args.suite, tasks=args.tasks, models=args.models, preset=args.preset,
                       seeds=args.seeds, shard=args.shard)
    args.preset = sweep.preset
    opts = _options(args)
    if args.status:
        return _print_status(runner.status(sweep.cells, opts), opts, args.price_from or ())
    executor = executors.make(args.executor, address=args.ray_address, cpus_per_run=args.cpus_per_run,
                              gpus_per_run=args.gpus_per_run, threads=args.threads, max_retries=args.max_retries)
    failed, skipped, runnable = [], [], []
    for task_id, cells in itertools.groupby(sweep.cells, key=lambda cell: cell.task.id):
        cells = list(cells)
        try:
            if executor.name == "local":  # one task after the other, as the cells come
                for rec in executor.run_cells(cells, opts):
                    _report(rec, failed)
            else:
                runner.expected_fingerprints(cells[0].task, opts)  # its data can be found (else DataError)
                runnable += cells
        except DataError as exc:  # e.g. a real-data task without --data-root: skip it, go on
            skipped.append(task_id)
            print(textwrap.fill(f"skipped {task_id}: {exc}", width=100), file=sys.stderr)
    for rec in executor.run_cells(runnable, opts) if runnable else ():  # a cluster: every cell at once
        _report(rec, failed)
    from lensbench.board.aggregate import aggregate, records_frame
    from lensbench.board.markdown import render_markdown

    print(render_markdown(aggregate(records_frame(records.load_records(args.results)))))
    _print_tracking(args)
    if skipped:
        print(f"{len(skipped)} task(s) skipped for missing data: {', '.join(skipped)}", file=sys.stderr)
    if failed:
        print(f"{len(failed)} run(s) failed; see their records for the error.", file=sys.stderr)
    for line in executor.problems:
        print(textwrap.fill(f"not run: {line}", width=100), file=sys.stderr)
    return 1 if failed or executor.problems else 0


def _report(rec, failed: list) -> None:
    print(_summary(rec))
    if rec.status != "ok":
        failed.append(rec)


def _print_status(rows: list[dict], opts, price_from=()) -> int:
    """The table of ``runner.status``: per task, runs of the grid with a current ok record, and the
    CPU-hours left (``board.cost.remaining``: from the records' measured times; a model without one
    is priced per image from the records under the ``price_from`` folders)."""
    import pandas as pd

    from lensbench.board import cost

    reference = []
    for folder in price_from:
        if not Path(folder).is_dir():
            raise SpecError(f"--price-from {folder}: no such folder")
        good, bad = records.read_valid(folder)
        if bad:
            print(f"warning: --price-from {folder}: {len(bad)} unreadable record(s) left out, e.g. {bad[0]}",
                  file=sys.stderr)
        reference += good
    left, unmeasured = cost.remaining(rows, records.iter_records(opts.results_dir), reference=reference)
    table = pd.DataFrame([{**{k: v for k, v in r.items() if k not in ("missing", "todo", "unknown")},
                           "CPU-h left": round(h, 1), "missing": ", ".join(r["missing"])}
                          for r, h in zip(rows, left)])
    print(table.to_markdown(index=False) if not table.empty else "empty grid")
    done, total = sum(r["done"] for r in rows), sum(r["runs"] for r in rows)
    presets = ", ".join(sorted({r["preset"] for r in rows})) or opts.preset
    print(f"{done} of {total} runs done ({opts.results_dir}, preset {presets})")
    if total > done:
        priced = total - done - sum(unmeasured.values())
        print(f"CPU-hours left: about {sum(left):.1f} for {priced} run(s), one thread each, priced from the measured "
              "records (the same task and preset, else the model's cost per image seen elsewhere)")
        if unmeasured:
            print(textwrap.fill(f"not priced: {sum(unmeasured.values())} run(s) of {len(unmeasured)} model(s) without "
                                f"a trained record in {opts.results_dir}: " + ", ".join(sorted(unmeasured))
                                + ("" if price_from else " (price them per image seen from other records with "
                                   "--price-from DIR, e.g. a frozen snapshot's results/)"), width=100))
    for r in rows:
        if r.get("unknown"):
            print(f"warning: {r['task']} [{r['preset']}] counted as not done: its data cannot be read to tell "
                  f"which records are current ({r['unknown']})", file=sys.stderr)
    return 0


def _summary(rec) -> str:
    if rec.status != "ok":
        return f"FAILED {rec.task} / {rec.model} / seed {rec.seed}: {rec.error}"
    value = rec.metrics_test.get(rec.primary_metric)
    return (f"{rec.task} v{rec.task_version} [{rec.preset}] {rec.model} seed {rec.seed}: "
            f"test {rec.primary_metric} = {value:.4f} (epoch {rec.selected_epoch}/{rec.epochs_run}, "
            f"{rec.train_time_s:.0f}s)")


def _print_tracking(args) -> None:
    from lensbench.run.tracking import default_tracking_uri

    uri = args.tracking_uri or default_tracking_uri()
    print(f"Records: {args.results}/   MLflow runs: {uri}   (browse: mlflow ui --backend-store-uri {uri})")
