"""The argument parser: every ``lensbench`` command and flag, each bound to its ``cmd_*`` function."""

from __future__ import annotations

import argparse
from pathlib import Path

from lensbench.cli.board_commands import (
    cmd_leaderboard,
    cmd_reproduce,
    cmd_show,
    cmd_snapshot,
    cmd_validate,
    cmd_verify,
)
from lensbench.cli.catalog_commands import cmd_cite, cmd_data_build, cmd_data_import, cmd_data_show, cmd_list
from lensbench.cli.data_commands import cmd_data_export, cmd_data_fetch
from lensbench.cli.power_commands import cmd_power
from lensbench.cli.run_commands import cmd_run, cmd_sweep
from lensbench.cli.submission_commands import add_submission_parser
from lensbench.cli.tracking_commands import cmd_tracking_sync

PROTOCOL_THREADS = 1  # the run protocol: the published boards and `make run` train on one torch thread


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1 (argparse turns the ValueError into a usage error, exit 2)."""
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


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
            r.add_argument("--price-from", nargs="*", metavar="DIR",
                           help="with --status: also price models that have no record in --results, per image "
                           "seen, from the records under these folders (e.g. leaderboards/v1/results)")
            r.add_argument("--shard", default=None, help="I/N: run only every N-th (task, model) cell of the "
                           "grid, from the I-th (N sweeps in parallel, e.g. one per core with --threads 1)")
            r.add_argument("--executor", choices=["local", "ray"], default="local",
                           help="where the cells run: local (this process, one after the other) or ray (one Ray "
                           "task per cell on a Ray cluster; pip install 'lensbench[ray]')")
            r.add_argument("--ray-address", default=None, help="the Ray cluster (default: RAY_ADDRESS, else a "
                           "local cluster on this machine)")
            r.add_argument("--cpus-per-run", type=float, default=1.0, help="CPUs each cell reserves (ray)")
            r.add_argument("--gpus-per-run", type=float, default=0.0, help="GPUs each cell reserves (ray; e.g. 1)")
            r.add_argument("--max-retries", type=int, default=3,
                           help="retries of a cell whose worker or node was lost (ray; errors are never retried)")
        r.add_argument("--seeds", nargs="*", type=int, help="default: the task's seeds")
        r.add_argument("--preset", default="quick" if name == "run" else None,
                       help="task preset (quick | medium | standard; sweep default: the suite's, else quick)")
        r.add_argument("--results", type=Path, default=Path("leaderboards/results"), help="results directory")
        r.add_argument("--tracking-uri", default=None, help="MLflow tracking URI (default: MLFLOW_TRACKING_URI "
                       "or sqlite:///mlflow.db in the working directory)")
        r.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: CUDA when present)")
        r.add_argument("--cache", type=Path, default=None, help="dataset cache (default: LENSBENCH_CACHE)")
        r.add_argument("--data-root", type=Path, default=None,
                       help="folder of the real data (for real-galaxy and real-image tasks)")
        r.add_argument("--checkpoint-dir", type=Path, default=None, help="save chosen weights (safetensors)")
        r.add_argument("--force", action="store_true", help="rerun even when a record exists")
        r.add_argument("--threads", type=positive_int, default=PROTOCOL_THREADS,
                       help="torch CPU threads (default 1, the run protocol of the published boards; recorded; "
                       "another count can change the numbers, see README)")
        r.add_argument("--no-progress", action="store_true")
        r.set_defaults(func=cmd_run if name == "run" else cmd_sweep)

    tr = sub.add_parser("tracking", help="MLflow tracking: back-fill runs from the records")
    trsub = tr.add_subparsers(dest="tracking_command", required=True)
    sy = trsub.add_parser("sync", help="give every record without an MLflow run one (idempotent)")
    sy.add_argument("results", type=Path, help="folder of run records")
    sy.add_argument("--tracking-uri", default=None,
                    help="MLflow tracking URI (default: MLFLOW_TRACKING_URI or sqlite:///mlflow.db)")
    sy.add_argument("--no-progress", action="store_true")
    sy.set_defaults(func=cmd_tracking_sync)

    lb = sub.add_parser("leaderboard", help="render leaderboard tables from the records")
    lb.add_argument("--results", type=Path, default=Path("leaderboards/results"))
    lb.add_argument("--format", nargs="*", choices=["md", "csv", "html", "json", "png"],
                    default=["md", "csv", "html", "png"])
    lb.add_argument("--out", type=Path, default=Path("leaderboards"))
    lb.add_argument("--print", dest="print_md", action="store_true", help="print the markdown tables")
    lb.add_argument("--readme", type=Path, default=None,
                    help="also write the verdict (or the physics table) and the overview, with a link to the full "
                    "board, into this Markdown file between <!-- results:begin/end --> markers")
    lb.add_argument("--suite", default="v2", help="the suite the records belong to (named in the headings)")
    lb.add_argument("--command", default="lensbench sweep --suite v2 --threads 1",
                    help="the command that produced the records (quoted in the --readme section)")
    lb.add_argument("--gallery", action="store_true",
                    help="copy each table's dataset gallery.png from the dataset cache into OUT/gallery/ and show "
                         "it on the page (make missing ones with 'lensbench data show NAME')")
    lb.add_argument("--cache", type=Path, default=None, help="dataset cache for --gallery (default: LENSBENCH_CACHE)")
    lb.set_defaults(func=cmd_leaderboard)

    pw = sub.add_parser("power", help="how many seeds a stated difference between two models needs")
    pw.add_argument("results", type=Path, nargs="?", default=None, help="folder of run records (not with --sd)")
    pw.add_argument("--task", help="task id whose records give the spread")
    pw.add_argument("--model", help="model A")
    pw.add_argument("--versus", help="model B (the spread is that of A - B over their common seeds)")
    pw.add_argument("--effect", type=float, required=True, help="the difference to detect, in the metric's units")
    pw.add_argument("--sd", type=float, default=None, help="the sd of the per-seed paired difference (no records)")
    pw.add_argument("--alpha", type=float, default=0.05)
    pw.add_argument("--power", type=float, default=0.8)
    pw.add_argument("--comparisons", type=int, default=1, help="Bonferroni: comparisons in the family")
    pw.set_defaults(func=cmd_power)

    sh = sub.add_parser("show", help="print one run record")
    sh.add_argument("record", type=Path)
    sh.set_defaults(func=cmd_show)

    v = sub.add_parser("validate", help="check records before they join the leaderboard")
    v.add_argument("results", type=Path, nargs="?", default=Path("leaderboards/results"))
    v.add_argument("--cache", type=Path, default=None)
    v.set_defaults(func=cmd_validate)
    vf = sub.add_parser("verify", help="reload a record's checkpoint and recompute its test metric")
    vf.add_argument("record", type=Path, nargs="+", help="run record(s), or folders of them (with --hidden)")
    vf.add_argument("--checkpoint-dir", type=Path, required=True, help="the --checkpoint-dir of the run")
    vf.add_argument("--hidden", action="store_true", help="score on the maintainers' hidden test set as well "
                    "(needs LENSBENCH_HIDDEN_SEED or --hidden-key); writes seed<k>.hidden.verification")
    vf.add_argument("--hidden-key", type=Path, default=None, help="file holding the hidden-test secret")
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
    rp.add_argument("--trust-code", action="store_true",
                    help="import the record's model_source when the model is not registered (runs its code)")
    rp.set_defaults(func=cmd_reproduce)
    add_submission_parser(sub)
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
    i.add_argument("--format", required=True,
                   help="a registered file format (lensbench.formats): deeplense, lens-finding, cutouts or a plug-in's")
    i.add_argument("--as", dest="name", required=True)
    i.add_argument("--cache", type=Path, default=None)
    i.add_argument("--image-size", nargs=2, type=int, metavar=("H", "W"), help="resize cutouts to H x W")
    i.add_argument("--pixel-scale", type=float, default=0.0, help="arcsec per pixel, when known")
    i.add_argument("--seed", type=int, default=0, help="seed of the val split carved from train")
    i.set_defaults(func=cmd_data_import)
    f = dsub.add_parser("fetch", help="download the real data the tasks read, verified (sha256); prints licence and "
                        "citation")
    f.add_argument("names", nargs="*", help="a source folder, a dataset that reads it, or a task (or --all)")
    f.add_argument("--all", action="store_true", help="every registered real-data source")
    f.add_argument("--data-root", type=Path, default=None, help="where to put it (default: LENSBENCH_REAL_DATA)")
    f.add_argument("--from", dest="from_dir", type=Path, default=None,
                   help="copy from this local folder instead of downloading (offline machines); same checks")
    f.add_argument("--mirror", default=None, help="base URL of a mirror of the real-data root "
                   "(<mirror>/<source>/<file>; default: LENSBENCH_DATA_MIRROR, else the pinned GitHub URLs)")
    f.add_argument("--retries", type=int, default=2, help="extra attempts per file after a failed download")
    f.add_argument("--check", action="store_true", help="download nothing: verify what is there (exit 1 if incomplete)")
    f.add_argument("--no-progress", action="store_true")
    f.set_defaults(func=cmd_data_fetch)
    e = dsub.add_parser("export", help="write a dataset as Hub-ready parquet shards + dataset card + Croissant")
    e.add_argument("name", help="a dataset, or a task id (its dataset, and test dataset when it has one)")
    e.add_argument("--to", type=Path, required=True, help="output folder (created; must be empty or absent)")
    e.add_argument("--preset", default="quick", help="the task preset whose sizes are exported")
    e.add_argument("--cache", type=Path, default=None)
    e.add_argument("--data-root", type=Path, default=None)
    e.add_argument("--force", action="store_true", help="overwrite files in a non-empty --to folder")
    e.set_defaults(func=cmd_data_export)
    return p
