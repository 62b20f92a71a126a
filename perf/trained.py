"""A trained model for a perf diagnostic: a run record and its safetensors checkpoint, read as untrusted
files (``lensbench.run.submission.load_checkpoint``: tensors only, nothing unpickled); exit 2 naming the
file when either does not fit."""

from __future__ import annotations

import sys
from pathlib import Path

from lensbench import records
from lensbench.run.submission import load_checkpoint


def load_or_exit(record: Path, checkpoint_dir: Path):
    """``(record, task, model)`` of ``record`` with its checkpoint loaded; SystemExit(2) with the reason."""
    try:
        rec = records.read_record(record)
        task, model = load_checkpoint(rec, record, checkpoint_dir)
    except (records.RecordError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return rec, task, model
