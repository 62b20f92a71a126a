"""Claims: sweeps running side by side on one results folder never run the same seed twice.

Before a run, a sweep creates ``seed<N>.lock`` beside the run's record with ``O_CREAT | O_EXCL``
(atomic on a local or NFS-v3+ file system) and writes its identity into it (host, boot id, pid and
process start time: ``lensbench.liveness``); the lock goes when the run ends, however it ends. A lock
left by a killed sweep on this host (its process is gone, or its pid now belongs to another
process) is taken over; a lock from another host is respected, and the log line names the file to
delete if that sweep is known to be dead. ``clean`` removes what killed sweeps left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from lensbench import liveness

GARBAGE_AGE_S = 60.0  # a lock that is still unreadable after this long was left half-written by a kill


def lock_path(record: Path) -> Path:
    return record.with_suffix(".lock")


def holder(lock: Path) -> dict | None:
    """The live sweep holding ``lock``, or None when the lock is gone or stale (then removed)."""
    try:
        info = json.loads(lock.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):  # being written right now (held), or left empty by a kill (stale)
        try:
            stale = time.time() - lock.stat().st_mtime > GARBAGE_AGE_S
        except OSError:
            return None
        if stale:
            lock.unlink(missing_ok=True)
            return None
        info = {}
    if liveness.is_dead(info):
        lock.unlink(missing_ok=True)
        return None
    return info


def live_locks(results_dir: Path) -> list[Path]:
    """The locks under ``results_dir`` held by live sweeps (stale ones are removed on the way)."""
    return [lock for lock in sorted(Path(results_dir).rglob("*.lock")) if holder(lock) is not None]


def clean(results_dir: Path) -> int:
    """Remove stale locks and the partial ``*.tmp`` records of dead processes under ``results_dir``;
    returns how many files went."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        return 0
    gone = [p for p in sorted(results_dir.rglob("*.lock")) if holder(p) is None]
    for tmp in liveness.temporaries_of_dead(results_dir, "*.tmp"):
        tmp.unlink(missing_ok=True)
        gone.append(tmp)
    return len(gone)


@contextlib.contextmanager
def claim(record: Path) -> Iterator[str | None]:
    """Claim the run whose record is ``record``. Yields None when this process holds the claim (it is
    released on exit), else a message naming the sweep that holds it."""
    lock = lock_path(record)
    lock.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):  # second try after removing a stale lock
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            info = holder(lock)
            if info is None:
                continue
            yield (f"claimed by pid {info.get('pid', '?')} on {info.get('host', '?')} since "
                   f"{info.get('since', '?')} (delete {lock} if that sweep is dead)")
            return
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({**liveness.this_process(), "since": datetime.now(UTC).isoformat(timespec="seconds")}, fh)
        try:
            yield None
        finally:
            lock.unlink(missing_ok=True)
        return
    yield f"could not claim {lock}"
