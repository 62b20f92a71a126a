"""One run = (task, preset, model, seed) -> RunRecord on disk + MLflow run. A sweep runs the cells
of a grid (``lensbench.run.grid``).

A failing run (non-finite loss, a model error) is written as a ``failed`` record and the sweep goes
on; nothing written earlier is lost. Existing ``ok`` records are skipped unless ``force``, so a
stopped sweep resumes where it stopped.
"""

from __future__ import annotations

import logging
import tempfile
import time
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import torch

from lensbench import __version__, kinds, records, registry, resampling
from lensbench.data import taskdata
from lensbench.data.errors import DataError
from lensbench.data.fingerprint import fingerprint
from lensbench.data.reading import read_meta
from lensbench.run import claims, derived, diagnostics, figures, grid, provenance, trainer, usermodels
from lensbench.run.grid import Cell
from lensbench.run.tracking import Tracker, standard_tags
from lensbench.run.tracking_store import prepare_store, recorded_in, terminated_as_killed
from lensbench.specs import ModelSpec, TaskSpec

log = logging.getLogger("lensbench")
DEFAULT_RESULTS = Path("leaderboards/results")


@dataclass
class RunOptions:
    preset: str = "quick"
    results_dir: Path = DEFAULT_RESULTS
    tracking_uri: str | None = None
    device: str | None = None
    cache: Path | None = None
    data_root: Path | None = None
    checkpoint_dir: Path | None = None
    progress: bool = True
    force: bool = False
    track: bool = True  # False: MLflow found off by the driver; workers do not retry it
    experiment_ids: dict[str, str] = field(default_factory=dict)  # task id -> MLflow experiment id (driver's)


def run(task: TaskSpec, model_spec: ModelSpec, seed: int, opts: RunOptions,
        record_dir: Path | None = None) -> records.RunRecord:
    """Train and evaluate one model on one task with one seed; write and return the record.

    ``record_dir``: where the record file is written (default ``opts.results_dir``); a cluster worker
    writes it in a scratch folder (for the MLflow artifact) and the driver writes the real one."""
    if not model_spec.supports(task):
        raise ValueError(f"model {model_spec.name!r} supports {model_spec.kinds}, task {task.id!r} is {task.kind}")
    t_wall = time.perf_counter()
    device = provenance.pick_device(opts.device)
    preset = task.preset(opts.preset)
    dspec, dsdict = taskdata.materialise(task, opts.preset, cache=opts.cache, data_root=opts.data_root,
                                         progress=opts.progress)
    taskdata.check_test_data(task, cache=opts.cache, data_root=opts.data_root)  # real test files present?
    provenance.seed_everything(seed)
    train = taskdata.train_split(task, opts.preset, dsdict)
    val = taskdata.build_split(task, dsdict, "val", train.scaler)
    try:  # lazy modules initialised by a dummy batch; a model that cannot be built is a failed record
        model, build_error = usermodels.build(model_spec, task), None
    except usermodels.ModelBuildError as exc:
        model, build_error = None, exc
    rec = records.RunRecord(
        schema_version=records.SCHEMA_VERSION, task=task.id, task_version=task.version, preset=opts.preset,
        model=model_spec.name, model_family=model_spec.family, model_source=model_spec.source or None,
        seed=seed, status="running", error=None,
        primary_metric=task.primary_metric, higher_is_better=task.higher_is_better,
        metrics_val={}, metrics_test={}, selected_epoch=0, epochs_run=0, history=[],
        n_params=trainer.n_params(model) if model is not None else None, train_time_s=0.0, eval_time_s=0.0, wall_time_s=0.0,
        hardware=provenance.hardware(device), packages=provenance.package_versions(),
        git_commit=provenance.git_commit(), lensbench_version=__version__,
        dataset=dspec.name, dataset_fingerprint=dsdict_fingerprint(dsdict), test_dataset_fingerprint=None,
        task_config_hash=task.config_hash(), model_config_hash=model_spec.config_hash(opts.preset),
        mlflow_run_id=None, mlflow_tracking_uri=None, checkpoint=None,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        secondary_metrics=list(task.secondary_metrics),
    )
    tracker = Tracker(opts.tracking_uri, enabled=opts.track, keep=recorded_in(opts.results_dir),
                      experiment_ids=opts.experiment_ids)
    params = {"task": task.id, "task_version": task.version, "preset": opts.preset, "model": model_spec.name,
              "seed": seed, "epochs": preset.budget.epochs, "batch_size": preset.budget.batch_size,
              "lr": preset.budget.lr * model_spec.lr_scale(opts.preset), "weight_decay": preset.budget.weight_decay,
              "images_seen": preset.budget.images_seen, "schedule": preset.budget.schedule,
              "augment": preset.budget.augment, "n_params": rec.n_params,
              **{f"model.{k}": v for k, v in model_spec.config.items()}}
    tags = standard_tags(task=task.id, task_version=task.version, preset=opts.preset, model=model_spec.name,
                         model_family=model_spec.family, seed=seed, dataset_fingerprint=rec.dataset_fingerprint,
                         git_commit=rec.git_commit, lensbench_version=__version__)
    with tracker.run(experiment=task.id, run_name=f"{model_spec.name}-seed{seed}", params=params, tags=tags):
        rec.mlflow_run_id, rec.mlflow_tracking_uri = tracker.run_id, tracker.tracking_uri
        tracker.log_dataset(dspec.name, rec.dataset_fingerprint, "training")
        extra: list[records.RunRecord] = []  # the records of evaluation-only tasks (``derived``)
        try:
            if build_error is not None:
                raise build_error
            fitted = trainer.fit(task, model, preset.budget, train, val, seed=seed, device=device,
                                 on_epoch=lambda e, row: tracker.log_epoch(e, row),
                                 progress=opts.progress, lr_scale=model_spec.lr_scale(opts.preset))
            rec.metrics_val = {k: v for k, v in fitted.metrics_val.items() if isinstance(v, (int, float))}
            rec.history, rec.curve = fitted.history, fitted.curve
            rec.selected_epoch, rec.epochs_run, rec.train_time_s, rec.train_cpu_s = (
                fitted.selected_epoch, fitted.epochs_run, fitted.train_time_s, fitted.train_cpu_s)
            scaler = train.scaler
            del train, val  # nothing of train/val is needed for the one test evaluation
            t_eval, c_eval = time.perf_counter(), time.process_time()
            result = evaluate_test(task, fitted.model, opts, device, scaler)
            rec.metrics_test, rec.test_dataset_fingerprint = result.metrics, result.fingerprint
            rec.bootstrap = result.bootstrap
            rec.curves, rec.slices = _diagnostics(task, result)
            rec.eval_time_s, rec.eval_cpu_s = time.perf_counter() - t_eval, time.process_time() - c_eval
            rec.status = "ok"
            if opts.checkpoint_dir is not None:
                rec.checkpoint = save_checkpoint(fitted.model, opts.checkpoint_dir, rec)
            extra = dependent_records(task, model_spec, seed, rec, fitted.model, opts, device, scaler)
        except (trainer.NonFiniteLoss, RuntimeError, ValueError, TypeError) as exc:
            rec.status, rec.error = "failed", f"{type(exc).__name__}: {exc}"
            log.warning("run %s / %s / seed %d failed: %s", task.id, model_spec.name, seed, rec.error)
            log.debug("%s", traceback.format_exc())
        rec.wall_time_s = time.perf_counter() - t_wall
        path = records.write_record(rec, opts.results_dir if record_dir is None else record_dir)
        for dep in extra if rec.status == "ok" else ():
            derived.write_dependent(dep, opts.results_dir, record_dir)
            tracker.log_metrics(dep.metrics_test, prefix=f"{dep.task}.test_")
        tracker.log_metrics(rec.metrics_test, prefix="test_")
        tracker.set_tag("lensbench.record", str(records.record_path(opts.results_dir, rec)))
        if rec.test_dataset_fingerprint:
            tracker.set_tag("lensbench.test_dataset_fingerprint", rec.test_dataset_fingerprint)
            tracker.log_dataset(task.test_dataset, rec.test_dataset_fingerprint, "evaluation")
        tracker.log_artifact(path)
        if rec.status == "ok":
            _log_plots(tracker, task, result)
            if opts.checkpoint_dir is not None:  # the weights kept: the model in MLflow too, with its signature
                tracker.log_model(fitted.model, torch.zeros(2, *task.input_shape, device=device))
    return rec


def dependent_records(task: TaskSpec, spec: ModelSpec, seed: int, rec: records.RunRecord, model, opts: RunOptions,
                      device, scaler) -> list[records.RunRecord]:
    """The records of the evaluation-only tasks that take this run's model (``derived``) and still lack
    a current one: the model scored on each one's test set."""
    out = []
    for dep in derived.dependents(task, opts.preset, spec):
        if not opts.force and current_record(dep, spec, seed, opts, expected_fingerprints(dep, opts)) is not None:
            continue
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            result = evaluate_test(dep, model, opts, device, scaler)
        except (DataError, RuntimeError, ValueError) as exc:  # the source run stands; that cell runs on its own
            log.warning("%s: not evaluated for %s (%s); its cell will run on its own", dep.id, task.id, exc)
            continue
        out.append(derived.derived_record(rec, dep, result, task))
        out[-1].curves, out[-1].slices = _diagnostics(dep, result)
        out[-1].eval_time_s, out[-1].eval_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    return out


def dsdict_fingerprint(dsdict) -> str:
    return read_meta(dsdict)["fingerprint"]


@dataclass
class TestResult:
    metrics: dict
    fingerprint: str | None  # the target dataset's, for domain-shift tasks
    split: taskdata.TaskSplit  # the split the primary metrics come from
    pred: object  # its predictions (numpy), for the plots
    bootstrap: dict = field(default_factory=dict)  # its metrics on the shared item resamples (``item_replicates``)


def item_replicates(task: TaskSpec, split: taskdata.TaskSplit, pred, logits=None) -> dict:
    """The record's ``bootstrap``: the split's metrics on ``resampling.N_RESAMPLES`` item resamples that
    depend only on the test set and ``resampling.RESAMPLE_SEED`` (the same for every model and seed);
    ``{}`` (with a warning) when a metric is not defined on some resample."""
    kind, target = kinds.get(task.kind), split.target.numpy()
    rows = resampling.item_resamples(len(target), resampling.N_RESAMPLES, resampling.RESAMPLE_SEED,
                                     strata=kind.strata(target, split.class_names))
    try:
        values = kind.replicates(task, target, pred, rows, scaler=split.scaler, class_names=split.class_names,
                                 logits=logits)
    except ValueError as exc:
        log.warning("%s: no item replicates: %s", task.id, exc)
        return {}
    return {"seed": resampling.RESAMPLE_SEED, "n": resampling.N_RESAMPLES, "metrics": values}


def evaluate_test(task: TaskSpec, model: torch.nn.Module, opts: RunOptions, device,
                  scaler: taskdata.TargetScaler | None) -> TestResult:
    """The one evaluation on test. For domain-shift tasks the target dataset's test split is primary
    and the source test split is reported beside it with a ``source_`` prefix. An adapter (real
    files) target dataset is an external test set: every file, all its splits (``taskdata.is_external``).
    A classifier's AUCs rank by its float64 logits (``trainer.predict(..., outputs=True)``), the point values
    and the item replicates (``item_replicates``, primary split only) alike."""
    batch, kind = task.preset(opts.preset).budget.batch_size, kinds.get(task.kind)

    def one(dataset: str | None):
        _, ds = taskdata.materialise(task, opts.preset, dataset=dataset, cache=opts.cache,
                                     data_root=opts.data_root, progress=opts.progress)
        split = taskdata.build_split(task, ds, "all" if taskdata.is_external(dataset) else "test", scaler)
        pred, raw = trainer.predict(task, model, split, device, batch, outputs=True)
        logits = raw if kind.ranks_by_logits else None
        metrics = kind.score(task, split.target.numpy(), pred, scaler=split.scaler, class_names=split.class_names,
                             logits=logits)
        return metrics, split, pred, ds, logits

    metrics, split, pred, _, logits = one(None)
    fp = None
    if task.test_dataset is not None:
        source = metrics
        metrics, split, pred, target_ds, logits = one(task.test_dataset)
        metrics.update({f"source_{k}": v for k, v in source.items()})
        fp = dsdict_fingerprint(target_ds)
    return TestResult(metrics, fp, split, pred, item_replicates(task, split, pred, logits))


def _diagnostics(task: TaskSpec, result: TestResult) -> tuple[dict, dict]:
    """ROC curves and metric-per-bin slices of the one test evaluation (``lensbench.run.diagnostics``)."""
    split, y = result.split, result.split.target.numpy()
    curves = diagnostics.roc(task, y, result.pred)
    sl = diagnostics.slices(task, y, result.pred, split.columns, split.class_names, split.scaler)
    return curves, sl


def _log_plots(tracker: Tracker, task: TaskSpec, result: TestResult) -> None:
    """ROC / confusion matrix / scatter of the test predictions, as MLflow artifacts."""
    if not tracker.active:
        return
    y, pred = result.split.target.numpy(), result.pred
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if task.kind == "classification":
            tracker.log_artifact(figures.roc_curves(y, pred, list(task.classes), tmp / "roc.png"))
            cm = result.metrics["confusion_matrix"]
            tracker.log_artifact(figures.confusion_matrix_png(cm, list(task.classes), tmp / "confusion_matrix.png"))
        elif task.kind == "regression":
            tracker.log_artifact(figures.regression_scatter(y, pred, list(task.target), tmp / "scatter.png"))
        else:
            tracker.log_artifact(figures.anomaly_roc(y, pred, tmp / "roc.png"))


def save_checkpoint(model: torch.nn.Module, directory: Path, rec: records.RunRecord) -> str | None:
    """The selected weights as safetensors (tensors only: loading never runs code). A model whose
    state holds other objects (e.g. ``iforest-pca``'s pickled scikit-learn estimators) gets no
    checkpoint (None, with a warning), so it can be reproduced (``lensbench reproduce``) but not verified."""
    from safetensors.torch import save_file

    rel = records.record_path(Path("."), rec).with_suffix(".safetensors")
    path = Path(directory) / rel
    raw = model.state_dict()
    other = sorted(k for k, v in raw.items() if not torch.is_tensor(v))
    if other:
        log.warning("%s: no checkpoint: its state has non-tensor entries %s, which safetensors cannot hold "
                    "(and which LensBench never unpickles)", rec.model, other)
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in raw.items()}
    save_file(state, str(path))
    return str(rel)


def sweep(tasks: list[TaskSpec], models: list[ModelSpec], seeds: list[int] | None, opts: RunOptions
          ) -> Iterator[records.RunRecord]:
    """Run every model on every task whose kind it supports, with each seed (None: the task's):
    ``run_cells`` of ``grid.cells(tasks, models, seeds)``."""
    yield from run_cells(grid.cells(tasks, models, seeds), opts)


def run_cells(cells: Iterable[Cell], opts: RunOptions) -> Iterator[records.RunRecord]:
    """``claimed_runs`` after preparing the MLflow store once (schema, experiments, runs killed sweeps
    left: ``tracking_store.prepare_store``); SIGTERM ends the current run KILLED."""
    cells = list(cells)
    prepare_store(opts.tracking_uri, [c.task.id for c in cells], keep=recorded_in(opts.results_dir),
                  ids=opts.experiment_ids)
    with terminated_as_killed():
        yield from claimed_runs(cells, opts)


def claimed_runs(cells: Iterable[Cell], opts: RunOptions) -> Iterator[records.RunRecord]:
    """Run the cells of a grid in order; skip runs whose ok record exists for the current dataset
    fingerprints (unless ``opts.force``): a stopped sweep resumes, and a record made on other data
    is rerun. Yields records.

    Sweeps started side by side on one results folder share the work: each run is claimed first
    (``claims.claim``), and a run another live sweep holds is left to it (nothing is yielded for it).
    """
    removed = claims.clean(opts.results_dir)  # what killed sweeps left: stale locks, partial records
    if removed:
        log.info("removed %d stale lock or partial record file(s) left by killed sweeps", removed)
    fingerprints: dict[tuple[str, str], tuple[str, str | None]] = {}
    base = opts
    for cell in cells:
        task, spec, seed, opts = cell.task, cell.model, cell.seed, cell_options(base, cell)
        if (task.id, opts.preset) not in fingerprints:
            fingerprints[task.id, opts.preset] = expected_fingerprints(task, opts)
        current = fingerprints[task.id, opts.preset]
        existing = current_record(task, spec, seed, opts, current)
        if existing is not None and not opts.force:
            log.info("skip %s / %s / seed %d: record exists", task.id, spec.name, seed)
            yield existing
            continue
        if derived.source_running(task, spec, seed, opts.results_dir, opts.preset):  # it writes this record
            log.info("skip %s / %s / seed %d: its source run is in progress", task.id, spec.name, seed)
            continue
        where = records.record_path(opts.results_dir, records.probe(task.id, task.version, opts.preset,
                                                                    spec.name, seed))
        with claims.claim(where) as holder:
            if holder is not None:
                log.info("skip %s / %s / seed %d: %s", task.id, spec.name, seed, holder)
                continue
            existing = current_record(task, spec, seed, opts, current)  # finished while we looked
            if existing is not None and not opts.force:
                yield existing
                continue
            rec = run(task, spec, seed, opts)
        yield rec


def status(cells: Iterable[Cell], opts: RunOptions) -> list[dict]:
    """Per task and preset of the cells, ``{"task", "preset", "done", "runs", "missing", "todo", "unknown"}``:
    runs with an ok record made on the current data, all runs, the models with a run still to do,
    ``todo`` (model -> its runs still to do) and ``unknown``: None, or why the current data could not be
    fingerprinted (e.g. real data not given), in which case no record counts as done. Runs nothing."""
    rows: dict[tuple[str, str], dict] = {}  # (task id, preset) -> its row
    current: dict[tuple[str, str], tuple | None] = {}  # (task id, preset) -> fingerprints of its data now
    for cell in cells:
        task, spec, o = cell.task, cell.model, cell_options(opts, cell)
        key = (task.id, o.preset)
        if key not in current:
            reason = None
            try:
                current[key] = expected_fingerprints(task, o)
            except DataError as exc:
                current[key], reason = None, str(exc)  # nothing can be current
            rows[key] = {"task": task.id, "preset": o.preset, "done": 0, "runs": 0, "todo": {}, "unknown": reason}
        row = rows[key]
        row["runs"] += 1
        if current_record(task, spec, cell.seed, o, current[key]) is not None:
            row["done"] += 1
        else:
            row["todo"][spec.name] = row["todo"].get(spec.name, 0) + 1
    for row in rows.values():
        row["missing"] = list(row["todo"])  # the models with a run to do, in grid order
    return list(rows.values())


def cell_options(opts: RunOptions, cell: Cell) -> RunOptions:
    """``opts`` at the cell's preset (a suite given in parts sets one per cell; None: ``opts.preset``)."""
    return opts if cell.preset in (None, opts.preset) else replace(opts, preset=cell.preset)


def current_record(task: TaskSpec, spec: ModelSpec, seed: int, opts: RunOptions,
                   fingerprints: tuple[str | None, str | None] | None) -> records.RunRecord | None:
    """The ``ok`` record of this run made on data with ``fingerprints`` (training dataset, test
    dataset or None; ``expected_fingerprints``) by the model's current configuration at this preset
    (``ModelSpec.config_hash``); None when it is missing, failed, made on other data or by a changed
    model (then a sweep reruns it, and the new record replaces the old one)."""
    rec = records.existing_record(opts.results_dir, task.id, task.version, opts.preset, spec.name, seed)
    if rec is None or rec.status != "ok" or fingerprints is None:
        return None
    if rec.model_config_hash != spec.config_hash(opts.preset):
        return None
    train, test = fingerprints
    return rec if rec.dataset_fingerprint == train and (test is None or rec.test_dataset_fingerprint == test) else None


def expected_fingerprint(task: TaskSpec, opts: RunOptions) -> str:
    """The fingerprint the task's training dataset has now (cheap: no data is built)."""
    spec = registry.datasets.get(task.dataset)
    sizes = dict(task.preset(opts.preset).sizes) if spec.recipe is not None else None
    return fingerprint(spec, sizes, data_root=opts.data_root, cache=opts.cache)


def expected_fingerprints(task: TaskSpec, opts: RunOptions) -> tuple[str, str | None]:
    """(training dataset, test dataset) fingerprints now; the second is None for a task without a
    ``test_dataset``. An external (real-file) test set is fingerprinted by content
    (``lensbench.data.adapter.fingerprint_parts``), so a record made on other test files is rerun
    as well."""
    return (expected_fingerprint(task, opts),
            taskdata.test_set_fingerprint(task, opts.preset, cache=opts.cache, data_root=opts.data_root))
