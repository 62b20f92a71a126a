"""The board's hidden-test marks: each row (table, model) gets ``verified (hidden)`` when every
verification beside its records says so, ``flagged`` when one does not, nothing when none exists.

Verifications are the ``seed<k>.hidden.verification`` files ``lensbench verify --hidden`` writes
beside the records (``lensbench.run.hidden``); each is read as untrusted input and must be about the
record beside it as it is now (a record rerun since is no longer marked)."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from lensbench import records
from lensbench.run import hidden

log = logging.getLogger(__name__)
COLUMN = "hidden_test"
ROW_KEYS = ("task", "task_version", "preset", "dataset_fingerprint", "model")


def verdicts(results_dir: Path) -> dict[tuple, list[str]]:
    """(task, task version, preset, dataset fingerprint, model) -> the verdicts of its seeds' verifications.
    A verification without its record, malformed, or about another state of its record is skipped
    with a warning naming the file."""
    out: dict[tuple, list[str]] = {}
    for path in sorted(Path(results_dir).rglob(f"*{hidden.SUFFIX}")):
        record = path.with_name(path.name.removesuffix(hidden.SUFFIX) + ".json")
        if not record.is_file():
            log.warning("%s: no record %s beside it; not shown", path, record.name)
            continue
        try:
            rec = records.read_record(record)
            v = hidden.read_verification(path, rec)
        except (records.RecordError, hidden.HiddenTestError) as exc:  # one bad file never stops the board
            log.warning("not marked: %s", exc)
            continue
        out.setdefault((rec.task, rec.task_version, rec.preset, rec.dataset_fingerprint, rec.model), []).append(
            v["verdict"])
    return out


def mark(agg: pd.DataFrame, results_dir: Path) -> pd.DataFrame:
    """``agg`` with a ``hidden_test`` column (only when some record has a verification)."""
    found = verdicts(results_dir)
    if not found or agg.empty:
        return agg

    def label(row) -> str:
        got = found.get(tuple(row[k] for k in ROW_KEYS), [])
        return "" if not got else hidden.FLAGGED if hidden.FLAGGED in got else hidden.VERIFIED

    return agg.assign(**{COLUMN: agg.apply(label, axis=1)})
