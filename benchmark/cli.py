"""The ``lensbench`` command line.

User errors (unknown names, bad flags, missing data paths, malformed records) exit with code 2 and
a one-paragraph message, no traceback. ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import textwrap
from pathlib import Path

from lensbench.data import store as data
from lensbench import records
from lensbench import registry
from lensbench.run import usermodels
from lensbench.registry import RegistryError
from lensbench.specs import SpecError

USER_ERRORS = (RegistryError, SpecError, data.DataError, records.RecordError, usermodels.ModelRefError,
               FileNotFoundError)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO, format="%(message)s")
    for noisy in ("mlflow", "alembic", "urllib3", "datasets", "filelock", "httpx", "git"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except USER_ERRORS as exc:
        if args.debug:
            raise
        msg = str(exc).strip("'\"") if isinstance(exc, KeyError) else str(exc)
        print(textwrap.fill(f"lensbench: error: {msg}", width=100), file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lensbench", description="LensBench: benchmark suite for lensing ML.")
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = p.add_subparsers(dest="command")

    ls = sub.add_parser("list", help="list registered tasks, models or datasets")
    ls.add_argument("what", choices=["tasks", "models", "datasets", "suites"])
    ls.set_defaults(func=cmd_list)

    for name, helptext in (("run", "train and evaluate one model on one task"),
                           ("sweep", "run a grid of tasks x models x seeds (resumes: skips existing records)")):
        r = sub.add_parser(name, help=helptext)
        if name == "run":
            r.add_argument("--task", required=True)
            r.add_argument("--model", required=True,
                           help="a registered name, path/to/file.py:factory or package.module:factory")
        else:
            r.add_argument("--suite", default=None,
                           help="a published grid (tasks, models, preset; 'lensbench list suites'), e.g. v1")
            r.add_argument("--tasks", nargs="*", help="task ids (default: the suite's, else every registered task)")
            r.add_argument("--models", nargs="*", help="model names (default: the suite's, else each task's "
                           "default models); 'all' = every registered model")
            r.add_argument("--status", action="store_true",
                           help="run nothing: print, per task, how many runs of the grid have a current ok record")
            r.add_argument("--shard", default=None, help="I/N: run only every N-th (task, model) cell of the "
                           "grid, from the I-th (N sweeps in parallel, e.g. one per core with --threads 1)")
        r.add_argument("--seeds", nargs="*", type=int, help="default: the task's seeds")
        r.add_argument("--preset", default="quick" if name == "run" else None,
                       help="task preset (quick | standard; sweep default: the suite's, else quick)")
        r.add_argument("--results", type=Path, default=Path("leaderboards/results"), help="results directory")
        r.add_argument("--tracking-uri", default=None, help="MLflow tracking URI (default: MLFLOW_TRACKING_URI "
                       "or sqlite:///mlflow.db in the working directory)")
        r.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: CUDA when present)")
        r.add_argument("--bf16", action="store_true", help="bfloat16 autocast")
        r.add_argument("--cache", type=Path, default=None, help="dataset cache (default: LENSBENCH_CACHE)")
        r.add_argument("--data-root", type=Path, default=None,
                       help="folder of the real data (for real-galaxy and real-image tasks)")
        r.add_argument("--checkpoint-dir", type=Path, default=None, help="save chosen weights (safetensors)")
        r.add_argument("--force", action="store_true", help="rerun even when a record exists")
        r.add_argument("--threads", type=int, default=None,
                       help="torch CPU threads (recorded; numbers can differ in the last digits across counts)")
        r.add_argument("--no-progress", action="store_true")
        r.set_defaults(func=cmd_run if name == "run" else cmd_sweep)

    lb = sub.add_parser("leaderboard", help="render leaderboard tables from the records")
    lb.add_argument("--results", type=Path, default=Path("leaderboards/results"))
    lb.add_argument("--format", nargs="*", choices=["md", "csv", "html", "json", "png"],
                    default=["md", "csv", "html", "png"])
    lb.add_argument("--out", type=Path, default=Path("leaderboards"))
    lb.add_argument("--print", dest="print_md", action="store_true", help="print the markdown tables")
    lb.add_argument("--readme", type=Path, default=None,
                    help="also write the tables into this Markdown file between <!-- results:begin/end --> markers")
    lb.add_argument("--command", default="lensbench sweep --preset quick --seeds 0 1 2 --models all",
                    help="the command that produced the records (quoted in the --readme section)")
    lb.add_argument("--gallery", action="store_true",
                    help="copy each table's dataset gallery.png from the dataset cache into OUT/gallery/ and show "
                         "it on the page (make missing ones with 'lensbench data show NAME')")
    lb.add_argument("--cache", type=Path, default=None, help="dataset cache for --gallery (default: LENSBENCH_CACHE)")
    lb.set_defaults(func=cmd_leaderboard)

    sh = sub.add_parser("show", help="print one run record")
    sh.add_argument("record", type=Path)
    sh.set_defaults(func=cmd_show)

    v = sub.add_parser("validate", help="check records before they join the leaderboard")
    v.add_argument("results", type=Path, nargs="?", default=Path("leaderboards/results"))
    v.add_argument("--cache", type=Path, default=None)
    v.set_defaults(func=cmd_validate)
    vf = sub.add_parser("verify", help="reload a record's checkpoint and recompute its test metric")
    vf.add_argument("record", type=Path)
    vf.add_argument("--checkpoint-dir", type=Path, required=True, help="the --checkpoint-dir of the run")
    vf.add_argument("--cache", type=Path, default=None)
    vf.add_argument("--data-root", type=Path, default=None)
    vf.add_argument("--device", default=None)
    vf.set_defaults(func=cmd_verify)
    sn = sub.add_parser("snapshot", help="publish a frozen leaderboard version, or check a published one")
    snsub = sn.add_subparsers(dest="snapshot_command", required=True)
    fr = snsub.add_parser("freeze", help="validate the records and publish ROOT/VERSION (never overwritten)")
    fr.add_argument("version", help="e.g. v1")
    fr.add_argument("--results", type=Path, default=Path("leaderboards/results"))
    fr.add_argument("--root", type=Path, default=Path("leaderboards"), help="where versions live (default: leaderboards)")
    fr.add_argument("--cache", type=Path, default=None, help="dataset cache (fingerprint checks, galleries)")
    fr.add_argument("--no-gallery", action="store_true", help="do not copy the dataset galleries")
    fr.set_defaults(func=cmd_snapshot)
    ck = snsub.add_parser("check", help="recompute the hashes of a published snapshot")
    ck.add_argument("snapshot", type=Path, help="e.g. leaderboards/v1")
    ck.set_defaults(func=cmd_snapshot)
    rp = sub.add_parser("reproduce", help="rerun the training run behind one record and compare its number")
    rp.add_argument("record", type=Path)
    rp.add_argument("--cache", type=Path, default=None)
    rp.add_argument("--data-root", type=Path, default=None, help="folder of the real data (real-image tasks)")
    rp.add_argument("--device", default=None)
    rp.add_argument("--no-progress", action="store_true")
    rp.set_defaults(func=cmd_reproduce)
    c = sub.add_parser("cite", help="BibTeX for a task")
    c.add_argument("task")
    c.set_defaults(func=cmd_cite)

    d = sub.add_parser("data", help="build, inspect and import datasets")
    dsub = d.add_subparsers(dest="data_command", required=True)
    b = dsub.add_parser("build", help="materialise a dataset for a task preset")
    b.add_argument("name")
    b.add_argument("--preset", default="quick")
    b.add_argument("--cache", type=Path, default=None)
    b.add_argument("--data-root", type=Path, default=None)
    b.add_argument("--force", action="store_true", help="rebuild even when the cache is valid")
    b.add_argument("--device", default=None, help="simulate on this device (cpu | cuda); part of the fingerprint")
    b.set_defaults(func=cmd_data_build)
    s = dsub.add_parser("show", help="counts, fingerprint, dataset card and gallery PNG")
    s.add_argument("name")
    s.add_argument("--preset", default="quick")
    s.add_argument("--cache", type=Path, default=None)
    s.add_argument("--data-root", type=Path, default=None)
    s.set_defaults(func=cmd_data_show)
    i = dsub.add_parser("import", help="import files on disk as a dataset")
    i.add_argument("path", type=Path)
    i.add_argument("--format", required=True, choices=["deeplense", "lens-finding", "cutouts"])
    i.add_argument("--as", dest="name", required=True)
    i.add_argument("--cache", type=Path, default=None)
    i.add_argument("--image-size", nargs=2, type=int, metavar=("H", "W"), help="resize cutouts to H x W")
    i.add_argument("--pixel-scale", type=float, default=0.0, help="arcsec per pixel, when known")
    i.add_argument("--seed", type=int, default=0, help="seed of the val split carved from train")
    i.set_defaults(func=cmd_data_import)
    return p


def cmd_list(args) -> int:
    import pandas as pd

    if args.what == "tasks":
        rows = [{"task": t.id, "v": t.version, "kind": t.kind, "dataset": t.dataset,
                 "metric": f"{t.primary_metric} ({'higher' if t.higher_is_better else 'lower'} is better)",
                 "quick train/val/test per class": "/".join(
                     str(v) for v in (t.presets["quick"].train_per_class, t.presets["quick"].sizes["val"],
                                      t.presets["quick"].sizes["test"])),
                 "presets": ",".join(t.presets), "citation": t.citation.split(";")[0][:40]}
                for t in registry.tasks.all()]
    elif args.what == "models":
        rows = [{"model": m.name, "family": m.family, "kinds": ",".join(m.kinds), "twin": m.twin or "",
                 "description": m.description[:60]} for m in registry.models.all()]
    elif args.what == "suites":
        rows = [{"suite": s.name, "preset": s.preset, "tasks": len(s.tasks), "models": len(s.models),
                 "description": s.description[:70]} for s in registry.suites.all()]
    else:
        rows = [{"dataset": d.name, "v": d.version, "source": d.recipe or d.adapter,
                 "shape": "x".join(map(str, d.image_shape)), "px": f'{d.pixel_scale}"',
                 "classes": ",".join(d.classes)} for d in registry.datasets.all()]
    print(pd.DataFrame(rows).to_markdown(index=False) if rows else f"no {args.what} registered")
    return 0


def _options(args):
    from lensbench.run.runner import RunOptions

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    return RunOptions(preset=args.preset, results_dir=args.results, tracking_uri=args.tracking_uri,
                      device=args.device, bf16=args.bf16, cache=args.cache, data_root=args.data_root,
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
    from lensbench.run import runner

    suite = registry.suites.get(args.suite) if args.suite else None
    if args.preset is None:
        args.preset = suite.preset if suite else "quick"
    task_ids = args.tasks or (suite.tasks if suite else None)
    tasks = [registry.tasks.get(t) for t in task_ids] if task_ids else registry.tasks.all()
    for t in tasks:
        t.preset(args.preset)

    def models_for(task):
        if args.models == ["all"]:
            return registry.models.all()
        if args.models:
            return [usermodels.resolve(m) for m in args.models]
        return [registry.models.get(m) for m in (suite.models if suite else task.default_models)]

    cells = [(t, m) for t in tasks for m in models_for(t) if m.supports(t)]
    if args.shard:
        i, n = _parse_shard(args.shard)
        cells = cells[i::n]
    opts = _options(args)
    if args.status:
        return _sweep_status(cells, args.seeds, opts)
    failed, skipped = [], []
    for task, spec in cells:
        if task.id in skipped:
            continue
        try:
            for rec in runner.sweep([task], [spec], args.seeds, opts):
                print(_summary(rec))
                if rec.status != "ok":
                    failed.append(rec)
        except data.DataError as exc:  # e.g. a real-data task without --data-root: skip it, go on
            skipped.append(task.id)
            print(textwrap.fill(f"skipped {task.id}: {exc}", width=100), file=sys.stderr)
    from lensbench.board import tables as leaderboard

    print(leaderboard.render_markdown(leaderboard.aggregate(leaderboard.records_frame(
        records.load_records(args.results)))))
    _print_tracking(args)
    if skipped:
        print(f"{len(skipped)} task(s) skipped for missing data: {', '.join(skipped)}", file=sys.stderr)
    if failed:
        print(f"{len(failed)} run(s) failed; see their records for the error.", file=sys.stderr)
    return 1 if failed else 0


def _sweep_status(cells, seeds, opts) -> int:
    """Per task: runs of the grid with an ok record made on the current data, of all runs."""
    import pandas as pd

    from lensbench.run import runner

    rows: dict[str, dict] = {}
    current: dict[str, tuple | None] = {}  # task id -> fingerprints of its data now
    for task, spec in cells:
        if task.id not in current:
            try:
                current[task.id] = runner.expected_fingerprints(task, opts)
            except data.DataError:
                current[task.id] = None  # e.g. real data not given: nothing can be current
        row = rows.setdefault(task.id, {"task": task.id, "done": 0, "runs": 0, "missing": []})
        for seed in (seeds if seeds is not None else task.seeds):
            row["runs"] += 1
            if runner.current_record(task, spec, seed, opts, current[task.id]) is not None:
                row["done"] += 1
            elif spec.name not in row["missing"]:
                row["missing"].append(spec.name)
    table = pd.DataFrame([{**r, "missing": ", ".join(r["missing"])} for r in rows.values()])
    print(table.to_markdown(index=False) if not table.empty else "empty grid")
    done, total = int(table["done"].sum()), int(table["runs"].sum())
    print(f"{done} of {total} runs done ({opts.results_dir}, preset {opts.preset})")
    return 0


def _parse_shard(text: str) -> tuple[int, int]:
    """'I/N' -> (I, N) with 0 <= I < N: the sweep runs every N-th (task, model) cell, from the I-th."""
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise SpecError(f"--shard: expected I/N such as 0/2, got {text!r}") from None
    if not 0 <= i < n:
        raise SpecError(f"--shard: expected 0 <= I < N, got {text!r}")
    return i, n


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


def cmd_leaderboard(args) -> int:
    from lensbench.board import tables as leaderboard

    paths = leaderboard.write_leaderboard(args.results, args.out, formats=tuple(args.format), gallery=args.gallery,
                                          cache=args.cache)
    if args.readme:
        paths["readme"] = leaderboard.replace_section(args.readme, "results",
                                                      leaderboard.readme_results(args.results, args.command))
    if args.print_md and "md" in paths:
        print(Path(paths["md"]).read_text())
    for fmt, path in paths.items():
        print(f"{fmt}: {path}")
    return 0


def cmd_show(args) -> int:
    rec = records.read_record(args.record)
    print(json.dumps(rec.to_dict(), indent=2, default=str))
    return 0


def cmd_validate(args) -> int:
    from lensbench.run import submission

    report = submission.validate(args.results, cache=args.cache)
    for problem in report.problems:
        print(f"- {problem}", file=sys.stderr)
    verdict = "valid" if report.ok else f"INVALID ({len(report.problems)} problem(s))"
    print(f"{args.results}: {report.n_records} record(s), {verdict}")
    return 0 if report.ok else 1


def cmd_verify(args) -> int:
    from lensbench.run import submission

    ok, recorded, recomputed = submission.verify(args.record, args.checkpoint_dir, cache=args.cache,
                                                 data_root=args.data_root, device=args.device)
    print(f"{args.record}: recorded {recorded:.6f}, recomputed {recomputed:.6f} -> "
          f"{'verified' if ok else 'MISMATCH'} (tolerance {submission.VERIFY_TOLERANCE})")
    return 0 if ok else 1


def cmd_snapshot(args) -> int:
    from lensbench.board import snapshot

    if args.snapshot_command == "check":
        problems = snapshot.check(args.snapshot)
        for problem in problems:
            print(f"- {problem}", file=sys.stderr)
        print(f"{args.snapshot}: " + ("as published" if not problems else f"CHANGED ({len(problems)} problem(s))"))
        return 0 if not problems else 1
    try:
        out = snapshot.freeze(args.results, args.root, args.version, gallery=not args.no_gallery, cache=args.cache)
    except snapshot.SnapshotError as exc:
        print(f"lensbench: error: {exc}", file=sys.stderr)
        return 2
    problems = snapshot.check(out)
    print(f"published {out}: " + ("manifest verified" if not problems else f"MANIFEST PROBLEMS: {problems}"))
    return 0 if not problems else 1


def cmd_reproduce(args) -> int:
    from lensbench.run import submission

    r = submission.reproduce(args.record, cache=args.cache, data_root=args.data_root, device=args.device,
                             progress=not args.no_progress)
    rec = r.record
    print(f"{rec.task} v{rec.task_version} [{rec.preset}] {rec.model} seed {rec.seed} "
          f"({rec.hardware.get('torch_threads')} torch threads): recorded {rec.primary_metric} = {r.recorded!r}, "
          f"reproduced {r.reproduced!r}")
    if r.difference == 0:
        print("identical")
    else:
        print(f"DIFFERENT by {r.difference:.3g}" + ("" if r.same_code else
              " (the record was made by another commit of the code)") +
              "; numbers match exactly only on the same kind of machine with the same thread count")
    return 0 if r.difference == 0 else 1


def cmd_cite(args) -> int:
    from lensbench.run import submission

    print(submission.cite(args.task))
    return 0


def _dataset_sizes(spec, preset: str) -> list[dict | None]:
    """The distinct split sizes that the registered tasks ask of a dataset at a preset
    (``[None]`` = every file, for imported and other adapter datasets)."""
    if spec.adapter is not None:
        return [None]
    sizes = []
    for t in registry.tasks.all():
        if spec.name in (t.dataset, t.test_dataset) and preset in t.presets:
            s = dict(t.presets[preset].sizes)
            if s not in sizes:
                sizes.append(s)
    if not sizes:
        raise data.DataError(f"no registered task uses dataset {spec.name!r} with preset {preset!r}")
    return sizes


def _data_root_for(spec, args):
    """Where ``spec`` reads its files: a registered file dataset that needs preparing (e.g. the Space
    Warps gallery view) is prepared from ``--data-root`` first."""
    from lensbench.data import taskdata

    return taskdata.adapter_root(spec, args.data_root, args.cache) if spec.adapter is not None else args.data_root


def cmd_data_build(args) -> int:
    spec = data.resolve_spec(args.name, args.cache)
    root = _data_root_for(spec, args)
    for sizes in _dataset_sizes(spec, args.preset):
        ds = data.materialise(spec, sizes, cache=args.cache, data_root=root, force=args.force,
                              device=args.device)
        print(f"{spec.name}: {sizes or 'all files'} per class, fingerprint {data.read_meta(ds)['fingerprint']}")
    return 0


def cmd_data_show(args) -> int:
    from lensbench.data import card as datacard

    spec = data.resolve_spec(args.name, args.cache)
    sizes = _dataset_sizes(spec, args.preset)[0]
    root = _data_root_for(spec, args)
    ds = data.materialise(spec, sizes, cache=args.cache, data_root=root)
    meta = data.read_meta(ds)
    for split, counts in meta["counts"].items():
        print(f"{split}: {counts}")
    print(f"fingerprint: {meta['fingerprint']}")
    for what, path in datacard.show(spec, ds, sizes, cache=args.cache, data_root=root).items():
        print(f"{what}: {path}")
    return 0


def cmd_data_import(args) -> int:
    from lensbench.data import files as adapters

    spec, ds = adapters.import_dataset(args.path, args.format, args.name, cache=args.cache,
                                       image_size=tuple(args.image_size) if args.image_size else None,
                                       pixel_scale=args.pixel_scale, seed=args.seed)
    print(f"imported {spec.name}: {ds}  fingerprint {data.read_meta(ds)['fingerprint']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
