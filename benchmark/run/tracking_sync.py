"""``lensbench tracking sync RESULTS``: back-fill MLflow from the run records.

A run made while the tracking server was unreachable still wrote its record (``lensbench.run.tracking``
turns tracking off with one warning); this module later gives each such record its MLflow run:
params, the per-epoch history, the test metrics, the LensBench tags and the record file as an
artifact. It is idempotent: a record is skipped when the run it names (``mlflow_run_id``) is live in
the store, or when a run of its cell carries its ``lensbench.record_created`` tag (set on every run
this module makes), so a second sync adds nothing. The records themselves are never changed.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

from lensbench import records
from lensbench.run.tracking import Tracker, standard_tags
from lensbench.run.tracking_store import cell_filter, connect, default_tracking_uri, experiment_id

log = logging.getLogger("lensbench")
CREATED_TAG = "lensbench.record_created"  # the record's ``created`` stamp: which record a synced run is


@dataclass
class SyncReport:
    uri: str
    added: list[str] = field(default_factory=list)  # record paths given a new MLflow run
    present: list[str] = field(default_factory=list)  # record paths already in the store
    failed: list[str] = field(default_factory=list)  # "path: why" of records the store refused


def record_tags(rec: records.RunRecord) -> dict[str, str]:
    """The tags a synced run carries: the live run's (``standard_tags``) plus ``CREATED_TAG``."""
    tags = standard_tags(task=rec.task, task_version=rec.task_version, preset=rec.preset, model=rec.model,
                         model_family=rec.model_family, seed=rec.seed, dataset_fingerprint=rec.dataset_fingerprint,
                         git_commit=rec.git_commit, lensbench_version=rec.lensbench_version,
                         test_dataset_fingerprint=rec.test_dataset_fingerprint)
    return {**tags, CREATED_TAG: rec.created or "", "lensbench.status": rec.status}


def in_store(client, uri: str, rec: records.RunRecord) -> bool:
    """Whether ``rec`` already has its MLflow run in the store (see the module docstring)."""
    if rec.mlflow_run_id:
        with contextlib.suppress(Exception):  # another store's id, or a deleted run: look by tags
            if client.get_run(rec.mlflow_run_id).info.lifecycle_stage == "active":
                return True
    exp = client.get_experiment_by_name(rec.task)
    if exp is None:
        return False
    query = f"{cell_filter(record_tags(rec))} and tags.`{CREATED_TAG}` = '{rec.created or ''}'"
    return bool(client.search_runs([exp.experiment_id], query, max_results=1))


def sync(results_dir: str | Path, tracking_uri: str | None = None, progress: bool = True) -> SyncReport:
    """Give every record under ``results_dir`` that has no MLflow run one (``SyncReport``). A bad record
    raises ``records.RecordError`` naming the file; an unreachable store raises ``ConnectionError``."""
    from tqdm.auto import tqdm

    uri = tracking_uri or default_tracking_uri()
    report = SyncReport(uri)
    paths = records.record_files(results_dir)
    recs = [(p, records.read_record(p)) for p in paths]
    try:
        client = connect(uri)
        for name in dict.fromkeys(rec.task for _, rec in recs):
            experiment_id(client, uri, name)  # created once, before any run
    except Exception as exc:  # noqa: BLE001 - said as one line
        raise ConnectionError(f"MLflow tracking store {uri} cannot be reached: {exc}") from None
    tracker = Tracker(uri)
    for path, rec in tqdm(recs, desc="sync", unit="record", disable=not progress):
        if in_store(client, uri, rec):
            report.present.append(str(path))
            continue
        params = {"task": rec.task, "task_version": rec.task_version, "preset": rec.preset, "model": rec.model,
                  "seed": rec.seed, "n_params": rec.n_params, "synced_from_record": "true"}
        with tracker.run(experiment=rec.task, run_name=f"{rec.model}-seed{rec.seed}", params=params,
                         tags=record_tags(rec)):
            for row in rec.history:
                tracker.log_epoch(int(row.get("epoch", 0)), row)
            tracker.log_metrics(rec.metrics_test, prefix="test_")
            tracker.set_tag("lensbench.record", str(path))
            tracker.log_artifact(path)
        if tracker.active:
            report.added.append(str(path))
        else:
            report.failed.append(f"{path}: {tracker.off_reason}")
            break  # the store went away: the rest is for the next sync
    return report
