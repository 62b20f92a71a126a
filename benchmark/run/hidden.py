"""The hidden test: a submitted checkpoint re-evaluated on test images nobody outside the maintainers
can regenerate (``lensbench verify --hidden``).

The simulator and every public seed are public, so anyone can regenerate a public test set and
train on it. The hidden test set is drawn by the same recipe, at the same size as the task's public
test split (``sizes["test"]`` of the preset), but from a dataset seed derived from a secret the
maintainers hold (``$LENSBENCH_HIDDEN_SEED`` or a key file, never committed): ``hidden_spec`` hashes
the secret with the dataset's name and version into the ``DatasetSpec.seed`` that every chunk seed
of the build derives from (``data.simulated.chunk_seed``). It is cached apart from the public data
(``<cache>/hidden/``) under its own name and fingerprint.

The checkpoint is scored on the public test set (as its run was) and on the hidden one, each with its
95 % percentile interval over the shared item resamples (``lensbench.resampling``, the record's
``bootstrap``). Verdict: ``verified (hidden)`` when the recomputed public score equals the record's
and the two intervals overlap; ``flagged`` otherwise (a model tuned on the public test items scores
better there than on fresh ones). The verdict is written beside the record as
``seed<k>.hidden.verification`` (JSON; not ``*.json``, which is a run record) and read back as
untrusted input (``read_verification``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

import lensbench.data.cache
from lensbench import kinds, liveness, records, registry
from lensbench.data import paths, taskdata
from lensbench.data.errors import DataError
from lensbench.run import runner, submission, trainer

SECRET_ENV = "LENSBENCH_HIDDEN_SEED"
SUFFIX = ".hidden.verification"  # beside seed<k>.json
FORMAT = 1
VERIFIED, FLAGGED = "verified (hidden)", "flagged"
CI_LEVEL = 0.95


class HiddenTestError(DataError):
    """The hidden test cannot run (no secret, a task without simulated test data) or a verification
    file is malformed; the message names the file or says what to set."""


def read_secret(key_file: Path | None = None) -> str:
    """The maintainers' secret: the text of ``key_file`` when given, else ``$LENSBENCH_HIDDEN_SEED``."""
    if key_file is not None:
        try:
            secret = Path(key_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise HiddenTestError(f"{key_file}: cannot read the hidden-test key ({exc})") from None
        if not secret:
            raise HiddenTestError(f"{key_file}: the hidden-test key file is empty")
        return secret
    secret = os.environ.get(SECRET_ENV, "").strip()
    if not secret:
        raise HiddenTestError(f"the hidden test needs the maintainers' secret: set {SECRET_ENV} or pass "
                              "--hidden-key FILE (never commit either)")
    return secret


def key_id(secret: str) -> str:
    """A short public name of a secret (which key verified an entry), from which it cannot be recovered."""
    return hashlib.sha256(f"lensbench-hidden-key|{secret}".encode()).hexdigest()[:12]


def hidden_spec(spec, secret: str):
    """The hidden twin of a simulated ``DatasetSpec``: same recipe, classes and shape, its own name and
    a 62-bit seed from sha256(secret, name, version) (not derivable from any public seed)."""
    if spec.recipe is None:
        raise HiddenTestError(f"dataset {spec.name!r} is read from files, not simulated: it has no hidden test "
                              "(only simulated test sets can be redrawn)")
    digest = hashlib.sha256(f"lensbench-hidden|{secret}|{spec.name}|v{spec.version}".encode()).digest()
    return dataclasses.replace(spec, name=f"{spec.name}-hidden", seed=int.from_bytes(digest[:8], "little") >> 2)


def interval(bootstrap: dict, metric: str) -> tuple[float, float] | None:
    """The 95 % percentile interval of ``metric`` over a ``bootstrap`` block's item replicates (None without)."""
    values = (bootstrap or {}).get("metrics", {}).get(metric)
    if not values:
        return None
    a = np.asarray(values, dtype=np.float64)
    lo, hi = np.quantile(a[np.isfinite(a)], [(1 - CI_LEVEL) / 2, (1 + CI_LEVEL) / 2])
    return float(lo), float(hi)


def verdict(public_ci, hidden_ci, matches_record: bool) -> str:
    """``VERIFIED`` when the checkpoint reproduces its record and the two intervals overlap."""
    overlap = public_ci[0] <= hidden_ci[1] and hidden_ci[0] <= public_ci[1]
    return VERIFIED if matches_record and overlap else FLAGGED


def evaluate_hidden(task, model, preset: str, secret: str, scaler, device, *, cache=None, data_root=None,
                    progress: bool = True) -> tuple[float, dict, str, int]:
    """(primary value, bootstrap block, fingerprint, items) of ``model`` on the hidden test set of ``task``."""
    source = task.test_dataset or task.dataset
    if taskdata.is_external(task.test_dataset):
        raise HiddenTestError(f"task {task.id!r} is tested on real files ({source}): it has no hidden test")
    spec = hidden_spec(registry.datasets.get(source), secret)
    sizes = {"train": 0, "val": 0, "test": int(task.preset(preset).sizes["test"])}
    ds = lensbench.data.cache.materialise(spec, sizes, cache=paths.cache_dir(cache) / "hidden", data_root=data_root,
                                          progress=progress)
    kind, split = kinds.get(task.kind), taskdata.build_split(task, ds, "test", scaler)
    pred, raw = trainer.predict(task, model, split, device, task.preset(preset).budget.batch_size, outputs=True)
    logits = raw if kind.ranks_by_logits else None
    metrics = kind.score(task, split.target.numpy(), pred, scaler=split.scaler, class_names=split.class_names,
                         logits=logits)
    boot = runner.item_replicates(task, split, pred, logits)
    return float(metrics[task.primary_metric]), boot, runner.dsdict_fingerprint(ds), len(split)


def verification_path(record_path: Path) -> Path:
    return Path(record_path).with_name(Path(record_path).stem + SUFFIX)


def verify_hidden(record_path: Path, checkpoint_dir: Path, secret: str, *, cache=None, data_root=None, device=None,
                  progress: bool = True, write: bool = True) -> dict:
    """Score the record's checkpoint on the public and the hidden test set; the verification (a dict,
    written to ``verification_path(record_path)`` with ``write``)."""
    rec = records.read_record(record_path)
    task, model = submission.load_checkpoint(rec, record_path, checkpoint_dir)
    public = submission.public_evaluation(rec, task, model, cache=cache, data_root=data_root, device=device)
    metric = rec.primary_metric
    pub_value = float(public.result.metrics[metric])
    matches = math.isclose(pub_value, float(rec.metrics_test[metric]), abs_tol=submission.VERIFY_TOLERANCE)
    hid_value, hid_boot, hid_fp, n = evaluate_hidden(task, model, rec.preset, secret, public.scaler, public.device,
                                                     cache=cache, data_root=data_root, progress=progress)
    pub_ci, hid_ci = interval(public.result.bootstrap, metric), interval(hid_boot, metric)
    if pub_ci is None or hid_ci is None:
        raise HiddenTestError(f"{record_path}: metric {metric!r} has no item replicates on the "
                              f"{'public' if pub_ci is None else 'hidden'} test set, so no interval to compare")
    out = {
        "lensbench_hidden_verification": FORMAT, "record": Path(record_path).name,
        "task": rec.task, "task_version": rec.task_version, "preset": rec.preset, "model": rec.model,
        "seed": rec.seed, "dataset_fingerprint": rec.dataset_fingerprint, "primary_metric": metric,
        "higher_is_better": rec.higher_is_better, "recorded": float(rec.metrics_test[metric]),
        "matches_record": matches,
        "public": {"value": pub_value, "ci": list(pub_ci), "fingerprint": rec.test_dataset_fingerprint
                   or rec.dataset_fingerprint, "n_items": len(public.result.split)},
        "hidden": {"value": hid_value, "ci": list(hid_ci), "fingerprint": hid_fp, "n_items": n},
        "resamples": {"seed": hid_boot.get("seed"), "n": hid_boot.get("n")},
        "key_id": key_id(secret), "verdict": verdict(pub_ci, hid_ci, matches),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if write:
        write_verification(verification_path(record_path), out)
    return out


def write_verification(path: Path, data: dict) -> Path:
    """Write a verification atomically; a killed writer's temporary file is cleaned like a record's."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}{liveness.temp_tag()}", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(data, indent=2, allow_nan=False) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_verification(path: Path, rec: records.RunRecord | None = None) -> dict:
    """A verification file, checked as untrusted input: fields and types, a verdict that follows from
    its numbers, and (with ``rec``) that it is about that record. ``HiddenTestError`` naming the file."""
    def bad(why: str):
        return HiddenTestError(f"{path}: not a valid hidden-test verification: {why}")

    try:
        d = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise bad(f"cannot read it as JSON ({exc})") from None
    if not isinstance(d, dict) or d.get("lensbench_hidden_verification") != FORMAT:
        raise bad(f"expected a JSON object with 'lensbench_hidden_verification': {FORMAT}")
    for name, kind in (("task", str), ("preset", str), ("model", str), ("primary_metric", str), ("key_id", str),
                       ("dataset_fingerprint", str), ("verdict", str), ("task_version", int), ("seed", int),
                       ("matches_record", bool), ("public", dict), ("hidden", dict)):
        if not isinstance(d.get(name), kind) or (kind is int and isinstance(d.get(name), bool)):
            raise bad(f"field {name!r} must be {kind.__name__}, got {d.get(name)!r:.80}")
    for side in ("public", "hidden"):
        v, ci = d[side].get("value"), d[side].get("ci")
        nums = [v, *(ci if isinstance(ci, list) else [])]
        if not (isinstance(ci, list) and len(ci) == 2 and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                                              and math.isfinite(x) for x in nums) and ci[0] <= ci[1]):
            raise bad(f"field {side!r} needs a finite 'value' and 'ci' [low, high]")
    if d["verdict"] != verdict(d["public"]["ci"], d["hidden"]["ci"], d["matches_record"]):
        raise bad(f"verdict {d['verdict']!r} does not follow from its intervals")
    if rec is not None:
        mine = (rec.task, rec.task_version, rec.preset, rec.model, rec.seed, rec.dataset_fingerprint)
        theirs = tuple(d[k] for k in ("task", "task_version", "preset", "model", "seed", "dataset_fingerprint"))
        if mine != theirs:
            raise bad(f"it is about run {theirs[:5]}, not the record beside it {mine[:5]} (or other data)")
        if d.get("recorded") != rec.metrics_test.get(rec.primary_metric):
            raise bad("the record beside it has changed since (another test value): verify it again")
    return d
