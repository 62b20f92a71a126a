"""Run records: one JSON file per (task, task version, preset, model, seed), with a documented schema.

Every field of ``RunRecord`` is documented where it is defined (lm-eval ``result_schema.py``
style); ``schema_markdown()`` renders those docs as a page that can be read without this code.
Files live at ``<results>/<task with / as __>/v<version>/<preset>/<model>/seed<seed>.json``,
are written atomically (temp file in the same folder, then ``os.replace``) and are validated as
untrusted input when read (``lensbench.record_checks``: size before reading, strict JSON, depth,
identifier names, metric ranges): a bad file raises ``RecordError`` naming the file and the field.

A failed run never replaces an ``ok`` record of the same seed: it is written beside it as
``seed<seed>.failed.json``.
"""

from __future__ import annotations

import json
import math
import os
import stat
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import MISSING, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path

from lensbench import liveness
from lensbench.record_checks import (
    KNOWN_SCHEMA_VERSIONS,
    MAX_RECORD_BYTES,
    RULES,
    SCHEMA_VERSION,
    STATUSES,
    RecordError,
    check_record,
    parse,
    required,
    type_words,
)

__all__ = ["KNOWN_SCHEMA_VERSIONS", "SCHEMA_VERSION", "STATUSES", "RecordError", "RunRecord", "existing_record",
           "iter_records", "load_records", "probe", "read_record", "read_valid", "record_files", "record_path", "schema_markdown",
           "utc_now", "validate_dict", "write_record"]


def utc_now() -> str:
    """Current time as an ISO-8601 UTC string with seconds, e.g. ``2026-01-31T12:00:00+00:00``."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _doc(doc: str, types: str) -> dict:
    """Field metadata: its documentation and the JSON type checked on read (``?`` = or null)."""
    return {"doc": doc, "types": types}


@dataclass(kw_only=True)
class RunRecord:
    """The result of one training run of one model on one task with one seed."""

    schema_version: int = field(default=SCHEMA_VERSION, metadata=_doc(
        "Version of this record schema; readers refuse versions they do not know.", "int"))
    # --- what was run
    task: str = field(metadata=_doc("Task id, `family/name` (e.g. `substructure/model1`).", "str"))
    task_version: int = field(metadata=_doc(
        "Task version; records of different versions never share a table.", "int"))
    preset: str = field(metadata=_doc(
        "Task preset (split sizes and training budget), e.g. `quick` or `full`.", "str"))
    model: str = field(metadata=_doc("Registered model name.", "str"))
    model_family: str = field(metadata=_doc(
        "Model family: `baseline`, `pinn`, `ablation`, `reference` or `user`.", "str"))
    model_source: str | None = field(default=None, metadata=_doc(
        "Where the model's code lives: `package.module:factory`, `file.py:factory` or a URL.", "str?"))
    seed: int = field(metadata=_doc(
        "Training seed (model init, data order). The dataset and splits do not depend on it.", "int"))
    # --- outcome
    status: str = field(metadata=_doc("`ok` or `failed`. Only `ok` records enter leaderboards.", "str"))
    error: str | None = field(default=None, metadata=_doc(
        "For a failed run: the error type and message. Null when `ok`.", "str?"))
    primary_metric: str = field(metadata=_doc(
        "Name of the task's primary metric (a key of `metrics_test`).", "str"))
    higher_is_better: bool = field(metadata=_doc("Direction of the primary metric.", "bool"))
    secondary_metrics: list[str] = field(default_factory=list, metadata=_doc(
        "Task's secondary metric names, shown beside the primary one on leaderboards.", "list[str]"))
    metrics_val: dict = field(default_factory=dict, metadata=_doc(
        "Validation metrics at the selected checkpoint, same names and forms as `metrics_test`.", "metrics"))
    metrics_test: dict = field(default_factory=dict, metadata=_doc(
        "Test metrics of the selected checkpoint, computed once: name -> number (null = undefined), or a "
        "list/object for structured metrics, e.g. `confusion_matrix` (rows = true class) or per-bin slices.",
        "metrics"))
    curves: dict = field(default_factory=dict, metadata=_doc(
        "Test ROC curves on a fixed FPR grid: `{\"roc\": {\"fpr\": [51 values 0..1], \"tpr\": {class or "
        "\"anomaly\": [51 values]}}}` (one-vs-rest per class); `{}` for regression (`lensbench.run.diagnostics`).",
        "dict"))
    slices: dict = field(default_factory=dict, metadata=_doc(
        "Primary test metric per equal-count bin of dataset columns (the task's `slice_by`): "
        "`{column: {\"edges\": [...], \"n\": [...], <metric>: [value or null per bin]}}` (`lensbench.run.diagnostics`).",
        "dict"))
    bootstrap: dict = field(default_factory=dict, metadata=_doc(
        "Test metrics on B item resamples shared by every run of the task (`lensbench.resampling`): `{\"seed\": "
        "int, \"n\": B, \"metrics\": {primary, secondary and AUC metrics: [B values]}}`; `{}` in older records.", "dict"))
    selected_epoch: int | None = field(default=None, metadata=_doc(
        "Epoch (1-based) of the checkpoint chosen on validation; 0 for models fitted without epochs "
        "(`fit_classical`); null for failed runs.",
        "int?"))
    epochs_run: int = field(default=0, metadata=_doc(
        "Epochs actually trained (fewer than the budget when early stopping fired).", "int"))
    history: list[dict] = field(default_factory=list, metadata=_doc(
        "Per-epoch dicts: `epoch`, train loss (and named loss parts), val metrics, `time_s`.", "list[dict]"))
    curve: list[dict] = field(default_factory=list, metadata=_doc(
        "Per epoch: `epoch`, `images_seen`, `val_<selection metric>` (primary; `val_loss` for anomaly), `train_loss`, "
        "`lr` (after the epoch); `[]` in older records and for models fitted without epochs.", "list[dict]"))
    # --- cost
    n_params: int | None = field(default=None, metadata=_doc(
        "Model parameters, `sum(p.numel() for p in model.parameters())` (OGB convention).", "int?"))
    train_time_s: float | None = field(default=None, metadata=_doc(
        "Seconds spent training (all epochs, including validation passes).", "num?"))
    eval_time_s: float | None = field(default=None, metadata=_doc(
        "Seconds spent on the final test evaluation.", "num?"))
    wall_time_s: float | None = field(default=None, metadata=_doc(
        "Seconds for the whole run, data loading included.", "num?"))
    train_cpu_s: float | None = field(default=None, metadata=_doc(
        "CPU seconds of the run's process during training (user + system, all its threads: "
        "`time.process_time`); unlike `train_time_s` it does not grow while other processes share the cores "
        "or the run is paused; null in records before schema 4.", "num?"))
    eval_cpu_s: float | None = field(default=None, metadata=_doc(
        "CPU seconds of the run's process during the final test evaluation, as `train_cpu_s`.", "num?"))
    # --- provenance
    hardware: dict = field(default_factory=dict, metadata=_doc(
        "Machine: `platform`, `cpu`, `cpu_count`, `torch_threads`, `device` (torch device the run used), "
        "`cuda_device` (GPU name or null).", "dict"))
    packages: dict[str, str] = field(default_factory=dict, metadata=_doc(
        "Versions of the packages that can change a number (name -> version).", "dict[str,str]"))
    git_commit: str | None = field(default=None, metadata=_doc(
        "Commit of the LensBench code (suffix `-dirty` when tracked files were modified); null outside a "
        "git checkout.", "str?"))
    lensbench_version: str = field(metadata=_doc("LensBench package version.", "str"))
    dataset: str = field(metadata=_doc(
        "Dataset id and version used for train/val (and test unless `test_dataset_fingerprint` is set).", "str"))
    dataset_fingerprint: str = field(metadata=_doc(
        "Fingerprint of the dataset (recipe + code version + seed, or file manifest); records with different "
        "fingerprints never share a table.", "str"))
    test_dataset_fingerprint: str | None = field(default=None, metadata=_doc(
        "Fingerprint of the test dataset for domain-shift tasks; null when test comes from `dataset`.", "str?"))
    task_config_hash: str = field(metadata=_doc("Hash of the full TaskSpec (`TaskSpec.config_hash()`).", "str"))
    model_config_hash: str = field(metadata=_doc(
        "Hash of the model name, config and lr factor at the preset (`ModelSpec.config_hash(preset)`).", "str"))
    mlflow_run_id: str | None = field(default=None, metadata=_doc(
        "MLflow run id of the same run; null when tracking was off.", "str?"))
    mlflow_tracking_uri: str | None = field(default=None, metadata=_doc(
        "MLflow tracking URI the run was logged to; null when tracking was off.", "str?"))
    checkpoint: str | None = field(default=None, metadata=_doc(
        "Selected weights (safetensors), relative to the `--checkpoint-dir` of the run; null if not kept.",
        "str?"))
    source_task: str | None = field(default=None, metadata=_doc(
        "For an evaluation-only task (`TaskSpec.source_task`, e.g. the v2 domain shift): the task whose run "
        "trained this model (this record is that run scored on this task's test set); null otherwise.", "str?"))
    verified: bool | None = field(default=None, metadata=_doc(
        "True once `lensbench verify` reloaded the checkpoint and recomputed the test metric within its "
        "tolerance; null when never verified.", "bool?"))
    created: str = field(default_factory=utc_now, metadata=_doc("When the record was written, ISO-8601 UTC.", "str"))

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (numpy scalars/arrays to Python, tuples to lists, NaN/inf to None)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict, source: str = "<dict>") -> RunRecord:
        """Validate ``d`` (see ``validate_dict``) and build a record; ``source`` names it in errors."""
        validate_dict(d, source)
        return cls(**{k: v for k, v in d.items()})

    def validate(self, source: str = "<record>") -> None:
        validate_dict(self.to_dict(), source)


# ----------------------------------------------------------------------------- JSON + validation


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if hasattr(x, "tolist") and not isinstance(x, (str, bytes)):  # numpy scalars/arrays, torch tensors
        return _jsonable(x.tolist())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, Path):
        return x.as_posix()
    return x


def validate_dict(d: dict, source: str = "<dict>") -> None:
    """Raise ``RecordError`` unless ``d`` is a valid record of a known schema version
    (``lensbench.record_checks``: types, names, metric ranges, sizes)."""
    check_record(d, source, fields(RunRecord))


# ----------------------------------------------------------------------------- files


def record_path(results_dir: str | Path, rec: RunRecord) -> Path:
    """``results_dir/<task with / as __>/v<version>/<preset>/<model>/seed<seed>.json`` (``/`` in a model
    name also becomes ``__``). The dataset fingerprint is not part of the path: a rerun after the data
    changed replaces the older record of that seed."""
    return (Path(results_dir) / rec.task.replace("/", "__") / f"v{rec.task_version}" / rec.preset
            / rec.model.replace("/", "__") / f"seed{rec.seed}.json")


def probe(task: str, task_version: int, preset: str, model: str, seed: int) -> RunRecord:
    """A placeholder record naming one run (for ``record_path``)."""
    return RunRecord(task=task, task_version=task_version, preset=preset, model=model, model_family="user",
                     seed=seed, status="ok", primary_metric="", higher_is_better=True, lensbench_version="",
                     dataset="", dataset_fingerprint="", task_config_hash="", model_config_hash="")


def existing_record(results_dir: str | Path, task: str, task_version: int, preset: str, model: str,
                    seed: int) -> RunRecord | None:
    """The record already written for this run, or None when there is none or it is unreadable
    (a warning names the bad file; rerunning the seed replaces it)."""
    path = record_path(results_dir, probe(task, task_version, preset, model, seed))
    if not path.exists():
        return None
    try:
        return read_record(path)
    except RecordError as e:
        warnings.warn(f"ignoring unreadable record (the run will be redone): {e}", stacklevel=2)
        return None


def write_record(rec: RunRecord, results_dir: str | Path) -> Path:
    """Validate and write ``rec`` atomically; return its path.

    A failed record does not replace an existing ``ok`` record of the same seed; it goes to
    ``seed<seed>.failed.json`` beside it.
    """
    path = record_path(results_dir, rec)
    d = rec.to_dict()
    validate_dict(d, str(path))
    if rec.status == "failed" and path.exists():
        try:
            if read_record(path).status == "ok":
                path = path.with_name(f"seed{rec.seed}.failed.json")
        except RecordError:
            pass  # the old file is broken: replace it
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(d, indent=2, sort_keys=False, allow_nan=False) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}{liveness.temp_tag()}", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_record(path: str | Path) -> RunRecord:
    """Read and validate one record, an untrusted file (``lensbench.record_checks``): ``RecordError``
    names the file and the field. A file over ``MAX_RECORD_BYTES`` is refused before it is read."""
    path = Path(path)
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise RecordError(f"{path}: not a regular file")
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > MAX_RECORD_BYTES:
                raise RecordError(f"{path}: {size} bytes, larger than the {MAX_RECORD_BYTES} bytes a record may have")
            raw = fh.read(MAX_RECORD_BYTES + 1)
    except OSError as e:
        raise RecordError(f"{path}: cannot read ({e.strerror})") from None
    return RunRecord.from_dict(parse(raw, str(path)), str(path))


def record_files(results_dir: str | Path) -> list[Path]:
    """The record files under ``results_dir``: ``*.json``, sorted by path, hidden (temporary) files skipped."""
    return [p for p in sorted(Path(results_dir).rglob("*.json")) if not p.name.startswith(".")]


def iter_records(results_dir: str | Path) -> Iterator[RunRecord]:
    """Every record under ``results_dir`` (``record_files``); the first bad one raises ``RecordError``."""
    for path in record_files(results_dir):
        yield read_record(path)


def read_valid(results_dir: str | Path) -> tuple[list[RunRecord], list[str]]:
    """(the valid records under ``results_dir``, one message per bad file, naming it): what a reader
    that must survive bad records (the board) uses."""
    good, bad = [], []
    for path in record_files(results_dir):
        try:
            good.append(read_record(path))
        except RecordError as e:
            bad.append(str(e))
    return good, bad


def load_records(results_dir: str | Path, strict: bool = True) -> list[RunRecord]:
    """All records under ``results_dir``. ``strict=False`` warns about and skips bad files (``read_valid``)."""
    if strict:
        return list(iter_records(results_dir))
    good, bad = read_valid(results_dir)
    for message in bad:
        warnings.warn(f"skipping bad record: {message}", stacklevel=2)
    return good


# ----------------------------------------------------------------------------- schema doc


def schema_markdown() -> str:
    """The record schema as Markdown (commit it as ``leaderboards/SCHEMA.md``)."""
    lines = [
        f"# LensBench run record schema (version {SCHEMA_VERSION})",
        "",
        "One JSON object per run, stored at",
        "`results/<task with / as __>/v<task_version>/<preset>/<model>/seed<seed>.json`",
        "(a failed run beside an `ok` one: `seed<seed>.failed.json`). Files are UTF-8, strict JSON",
        "(undefined numbers are `null`, never `NaN`). Readers must refuse a `schema_version` they do not",
        "know and fields that are not listed here.",
        "",
        "| field | type | required | description |",
        "|---|---|---|---|",
    ]
    for f in fields(RunRecord):
        req = "yes" if required(f) else "no (default: " + (
            "empty" if f.default_factory is not MISSING else json.dumps(f.default)) + ")"
        if f.name == "created":
            req = "no (default: time of writing)"
        doc = f.metadata["doc"].replace("|", "\\|")
        lines.append(f"| `{f.name}` | {type_words(f.metadata['types'])} | {req} | {doc} |")
    lines += [
        "",
        *RULES,
        "",
    ]
    return "\n".join(lines)
