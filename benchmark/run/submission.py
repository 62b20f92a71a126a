"""Checks before records join the board (``validate``), re-evaluation of a saved checkpoint
(``verify``), rerunning one leaderboard cell from scratch (``reproduce``) and citations (``cite``).
"""

from __future__ import annotations

import math
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from lensbench import kinds, records, registry
from lensbench.data import taskdata
from lensbench.data.errors import DataError
from lensbench.run import runner

VERIFY_TOLERANCE = 1e-4  # absolute, on the primary metric; same machine, same code: usually exact


@dataclass
class ValidationReport:
    problems: list[str] = field(default_factory=list)
    n_records: int = 0
    bad_files: list[Path] = field(default_factory=list)  # record files that are not valid records (RecordError)

    @property
    def ok(self) -> bool:
        return not self.problems and self.n_records > 0


def expected_fingerprints(task, preset: str, cache=None, data_root=None) -> tuple[str, str | None] | str:
    """The (training, simulated test) dataset fingerprints of ``task`` at ``preset`` now, computed without
    building data (the second is None without a simulated ``test_dataset``); a sentence saying why when
    they cannot be computed here (real files absent)."""
    try:
        train = runner.expected_fingerprint(task, runner.RunOptions(preset=preset, cache=cache, data_root=data_root))
        external = task.test_dataset is None or taskdata.is_external(task.test_dataset)
        return train, None if external else taskdata.test_set_fingerprint(task, preset, cache=cache)
    except DataError as exc:
        return f"{exc} (pass --data-root with the task's real data)"


def validate(results_dir: Path, *, check_fingerprints: bool = True, cache=None, data_root=None) -> ValidationReport:
    """Schema, registered task version and dataset fingerprint, one test set per task, full seed sets,
    resolvable models, no duplicate runs. Every problem names the record file."""
    report = ValidationReport()
    results_dir = Path(results_dir)
    files = records.record_files(results_dir)
    if not results_dir.is_dir():
        raise FileNotFoundError(f"no results folder {results_dir}")
    if not files:
        report.problems.append(f"{results_dir}: no record files (*.json) found")
        return report
    seen: dict[tuple, Path] = {}
    seeds: dict[tuple, set[int]] = defaultdict(set)
    test_sets: dict[tuple, set[str | None]] = defaultdict(set)
    expected_fp: dict[tuple, tuple[str, str | None] | str] = {}  # (train, test) fingerprints, or why not
    folders: dict[tuple, Path] = {}
    for path in files:
        try:
            rec = records.read_record(path)
        except records.RecordError as exc:
            report.problems.append(str(exc))
            report.bad_files.append(path)
            continue
        report.n_records += 1
        if rec.status != "ok":
            continue
        key = (rec.task, rec.task_version, rec.preset, rec.model, rec.seed)
        if key in seen:
            report.problems.append(f"{path}: duplicate run of {key}; also in {seen[key]}")
        seen[key] = path
        if rec.task not in registry.tasks:
            report.problems.append(f"{path}: field 'task': {rec.task!r} is not a registered task")
            continue
        task = registry.tasks.get(rec.task)
        if rec.task_version != task.version:
            report.problems.append(f"{path}: field 'task_version' is {rec.task_version}; the registered "
                                   f"task {task.id!r} is version {task.version}")
            continue
        if rec.preset not in task.presets:
            report.problems.append(f"{path}: field 'preset': task {task.id!r} has no preset {rec.preset!r}")
            continue
        if check_fingerprints:
            fkey = (task.id, rec.preset)
            if fkey not in expected_fp:
                expected_fp[fkey] = expected_fingerprints(task, rec.preset, cache, data_root)
            want = expected_fp[fkey]
            if isinstance(want, str):
                report.problems.append(f"{path}: cannot check field 'dataset_fingerprint': {want}")
            elif rec.dataset_fingerprint != want[0]:
                report.problems.append(f"{path}: field 'dataset_fingerprint' is {rec.dataset_fingerprint[:12]}…; "
                                       f"task {task.id!r} v{task.version} [{rec.preset}] expects {want[0][:12]}…")
            elif want[1] is not None and rec.test_dataset_fingerprint != want[1]:
                report.problems.append(f"{path}: field 'test_dataset_fingerprint' is "
                                       f"{(rec.test_dataset_fingerprint or 'null')[:12]}…; task {task.id!r} "
                                       f"v{task.version} [{rec.preset}] expects {want[1][:12]}…")
        if rec.model not in registry.models and not rec.model_source:
            report.problems.append(f"{path}: model {rec.model!r} is not registered and the record has no "
                                   "'model_source' code reference")
        seeds[(rec.task, rec.task_version, rec.preset, rec.model)].add(rec.seed)
        folders[(rec.task, rec.task_version, rec.preset, rec.model)] = path.parent
        test_sets[(rec.task, rec.preset)].add(rec.test_dataset_fingerprint)
    for (task_id, preset), fps in sorted(test_sets.items()):
        if len(fps) > 1:
            shown = ", ".join(sorted(f"{fp[:12]}…" if fp else "none" for fp in fps))
            report.problems.append(f"{results_dir}: {task_id} [{preset}]: records were tested on {len(fps)} different "
                                   f"test sets ({shown}); rerun the older ones ('lensbench sweep' reruns records "
                                   "whose test files changed)")
    for key, got in sorted(seeds.items()):
        task_id, _, preset, model = key
        want = set(registry.tasks.get(task_id).seeds)
        if not want <= got:
            absent = ", ".join(f"seed{s}.json" for s in sorted(want - got))
            report.problems.append(f"{folders[key]}: no {absent}: {task_id} [{preset}] {model} has seeds "
                                   f"{sorted(got)}; the task requires {sorted(want)} (missing {sorted(want - got)})")
    return report


def load_checkpoint(rec: records.RunRecord, record_path: Path, checkpoint_dir: Path):
    """``(task, model)``: the registered task of an ``ok`` record and its registered model with the
    record's safetensors checkpoint loaded (tensors only: nothing is unpickled, no code runs).
    ``RecordError`` / ``FileNotFoundError`` naming the file for anything that does not fit."""
    from safetensors.torch import load_file

    if rec.status != "ok":
        raise records.RecordError(f"{record_path}: field 'status' is {rec.status!r}; only ok runs can be verified")
    if not rec.checkpoint:
        raise records.RecordError(f"{record_path}: field 'checkpoint' is null; rerun with --checkpoint-dir to keep "
                                  "the weights")
    weights = Path(checkpoint_dir) / rec.checkpoint
    if not weights.is_file():
        raise FileNotFoundError(f"checkpoint {weights} (from {record_path}) does not exist")
    task = registry.tasks.get(rec.task)
    if task.version != rec.task_version:
        raise records.RecordError(f"{record_path}: field 'task_version' is {rec.task_version}; registered is "
                                  f"{task.version}")
    model = registry.models.get(rec.model).factory(task)
    if any(type(m).set_extra_state is not torch.nn.Module.set_extra_state for m in model.modules()):
        raise records.RecordError(  # its extra state could be a pickle: never load it from a file
            f"{record_path}: model {rec.model!r} keeps non-tensor state, so its checkpoints are not loaded "
            "(LensBench never unpickles a file); rerun the cell with `lensbench reproduce` instead")
    try:  # safetensors: tensors only, no pickle
        model.load_state_dict(load_file(str(weights)))
    except Exception as exc:
        raise records.RecordError(f"{weights}: not the weights of model {rec.model!r} on {rec.task} "
                                  f"({type(exc).__name__}: {str(exc).splitlines()[0][:300]})") from exc
    return task, model


@dataclass
class Evaluation:
    result: runner.TestResult  # the one test evaluation (metrics, item replicates)
    scaler: taskdata.TargetScaler | None  # regression: the train target scaler the test is scored with
    device: torch.device


def public_evaluation(rec: records.RunRecord, task, model: torch.nn.Module, *, cache=None, data_root=None,
                      device=None) -> Evaluation:
    """Score a loaded model on the task's public test set, as its run did (``runner.evaluate_test``)."""
    dev = torch.device(device) if device else torch.device("cpu")
    model.to(dev)
    opts = runner.RunOptions(preset=rec.preset, cache=cache, data_root=data_root, progress=False)
    scaler = None
    if kinds.get(task.kind).standardised_targets:  # scored against the train target scaler
        _, ds = taskdata.materialise(task, rec.preset, cache=cache, data_root=data_root, progress=False)
        scaler = taskdata.train_split(task, rec.preset, ds).scaler
    return Evaluation(runner.evaluate_test(task, model, opts, dev, scaler), scaler, dev)


def verify(record_path: Path, checkpoint_dir: Path, *, cache=None, data_root=None, device=None,
           tolerance: float = VERIFY_TOLERANCE, write: bool = True) -> tuple[bool, float, float]:
    """Reload the record's safetensors checkpoint, recompute the test primary metric and compare.
    Returns (matches, recorded, recomputed); with ``write`` the record is marked ``verified``."""
    rec = records.read_record(record_path)
    task, model = load_checkpoint(rec, record_path, checkpoint_dir)
    result = public_evaluation(rec, task, model, cache=cache, data_root=data_root, device=device).result
    recomputed, recorded = float(result.metrics[rec.primary_metric]), float(rec.metrics_test[rec.primary_metric])
    ok = math.isclose(recomputed, recorded, abs_tol=tolerance)
    if write:
        records.write_record(replace(rec, verified=ok), Path(record_path).parents[4])
    return ok, recorded, recomputed


@dataclass
class Reproduction:
    recorded: float
    reproduced: float
    same_code: bool  # the rerun's git commit equals the record's
    record: records.RunRecord  # the rerun's record (written to a temporary folder)

    @property
    def difference(self) -> float:
        return abs(self.reproduced - self.recorded)


def reproduce(record_path: Path, *, cache=None, data_root=None, device=None, progress: bool = False,
              trust_code: bool = False) -> Reproduction:
    """Rerun the training run behind one record (same task, version, preset, model, seed and torch
    thread count) into a temporary results folder and return both primary metrics. On the same
    machine with the same code the numbers are identical; other CPUs or thread counts can change the
    last digits (see README, "Reproduce one cell"). A model that is not registered is imported from
    the record's ``model_source`` only with ``trust_code`` (never by default: records are untrusted)."""
    from lensbench.run import provenance, usermodels

    rec = records.read_record(record_path)
    if rec.status != "ok":
        raise records.RecordError(f"{record_path}: field 'status' is {rec.status!r}; only ok runs can be reproduced")
    task = registry.tasks.get(rec.task)
    if task.version != rec.task_version:
        raise records.RecordError(f"{record_path}: field 'task_version' is {rec.task_version}; registered is "
                                  f"{task.version}: this code cannot reproduce it")
    if rec.model in registry.models:
        spec = registry.models.get(rec.model)
    elif not trust_code:
        raise usermodels.ModelRefError(
            f"{record_path}: model {rec.model!r} is not registered here; reproducing it would import and run "
            f"the code its record names ({rec.model_source!r}). Install the model's package, or pass "
            "--trust-code if you trust that code")
    else:
        spec = usermodels.resolve(rec.model_source)
    threads = rec.hardware.get("torch_threads")
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        with tempfile.TemporaryDirectory(prefix="lensbench-reproduce-") as tmp:
            opts = runner.RunOptions(preset=rec.preset, results_dir=Path(tmp) / "results",
                                     tracking_uri=f"sqlite:///{tmp}/mlflow.db", device=device, cache=cache,
                                     data_root=data_root, progress=progress, force=True)
            new = runner.run(task, spec, rec.seed, opts)
    finally:
        torch.set_num_threads(previous)
    if new.status != "ok":
        raise RuntimeError(f"the rerun of {record_path} failed: {new.error}")
    same_code = (rec.git_commit or "").removesuffix("-dirty") == (provenance.git_commit() or "").removesuffix("-dirty")
    return Reproduction(float(rec.metrics_test[rec.primary_metric]), float(new.metrics_test[new.primary_metric]),
                        same_code, new)


def cite(task_id: str) -> str:
    """BibTeX for a task: the LensBench suite entry plus the task's own references."""
    task = registry.tasks.get(task_id)
    key = task.id.replace("/", "-")
    refs = "\n".join(f"%   {part.strip()}" for part in task.citation.split(";") if part.strip())
    return (
        f"@misc{{lensbench-{key}-v{task.version},\n"
        f"  title  = {{LensBench task {task.id}, version {task.version}}},\n"
        f"  author = {{{{LensBench contributors}}}},\n"
        f"  year   = {{2026}},\n"
        f"  note   = {{{task.description} Primary metric: {task.primary_metric}. Dataset: {task.dataset}.}}\n"
        f"}}\n"
        f"% Also cite the work this task builds on:\n{refs}\n"
    )
