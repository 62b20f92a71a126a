"""Evaluation-only tasks (``TaskSpec.source_task``): a task whose runs are another task's runs scored on
its own test set, e.g. ``domain-shift/euclid-to-hst-v2``, which takes the models trained on
``substructure/lensbench-v2`` and tests them on the HST-like images.

Training such a task itself would retrain byte-identical models (same training data, preset, model
and seed as the source task), so its rows would pose as independent evidence. Instead a run of the
source task, once it has its test numbers, scores the same model on each dependent task's test set
and writes that task's record too (``source_task`` set in it); a dependent cell whose record is
still missing (e.g. its task was added after the source run) is run as usual: the same training, so
the same model, then its own test set. The grid keeps both cells, so the resume rule and
``sweep --status`` see them as any other cell.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from lensbench import records, registry
from lensbench.run import claims
from lensbench.specs import ModelSpec, TaskSpec

log = logging.getLogger(__name__)


def dependents(task: TaskSpec, preset: str, model: ModelSpec) -> list[TaskSpec]:
    """The registered tasks that evaluate ``task``'s runs at ``preset`` and that ``model`` supports.
    One that does not train as ``task`` does (``check_source``) is left out with a warning: its
    cells then train on their own, as any task's."""
    found = []
    for t in registry.tasks.all():
        if t.source_task == task.id and preset in t.presets and model.supports(t):
            try:
                check_source(t)
            except ValueError as exc:
                log.warning("%s; its runs are trained on their own", exc)
                continue
            found.append(t)
    return found


def check_source(task: TaskSpec) -> None:
    """ValueError unless ``task`` and its ``source_task`` train identically: same kind, training dataset,
    classes, targets and presets (so the source's models are what this task would train)."""
    source = registry.tasks.get(task.source_task)
    for name in ("kind", "dataset", "classes", "target", "normal_classes", "target_transform", "preprocessing",
                 "presets"):
        if getattr(source, name) != getattr(task, name):
            raise ValueError(f"task {task.id!r} evaluates {source.id!r}, but their {name} differ: "
                             f"{getattr(task, name)!r} vs {getattr(source, name)!r}")


def derived_record(rec, task: TaskSpec, result, source: TaskSpec):
    """A copy of the source run's record ``rec`` for the dependent ``task``, with ``result`` (its
    ``runner.TestResult``) as the test numbers."""
    return dataclasses.replace(
        rec, task=task.id, task_version=task.version, primary_metric=task.primary_metric,
        higher_is_better=task.higher_is_better, secondary_metrics=list(task.secondary_metrics),
        metrics_test=result.metrics, test_dataset_fingerprint=result.fingerprint, bootstrap=result.bootstrap,
        task_config_hash=task.config_hash(), source_task=source.id, checkpoint=None)


def write_dependent(rec, results_dir: Path, record_dir: Path | None) -> None:
    """Write an evaluation-only task's record beside its source run's: under the cell's claim (a sweep
    running that cell itself keeps it), or into ``record_dir`` (a cluster worker's scratch folder,
    whose records the driver writes)."""
    if record_dir is not None:
        records.write_record(rec, record_dir)
        return
    with claims.claim(records.record_path(results_dir, rec)) as holder:
        if holder is None:
            records.write_record(rec, results_dir)


def source_running(task: TaskSpec, spec: ModelSpec, seed: int, results_dir: Path, preset: str) -> bool:
    """Whether a live sweep runs the source cell of an evaluation-only ``task`` right now (that run
    writes this task's record, so another sweep leaves the cell to it)."""
    if task.source_task is None:
        return False
    src = registry.tasks.get(task.source_task)
    where = records.record_path(results_dir, records.probe(src.id, src.version, preset, spec.name, seed))
    return claims.holder(claims.lock_path(where)) is not None
