"""Claims: sweeps running side by side on one results folder never run the same seed twice.

Before a run, a sweep creates ``seed<N>.lock`` beside the run's record with ``O_CREAT | O_EXCL``
(atomic on a local or NFS-v3+ file system) and writes its host and pid into it; the lock goes when
the run ends, however it ends. A lock left by a killed sweep on this host (its pid is gone) is taken
over; a lock from another host is respected, and the log line names the file to delete if that
sweep is known to be dead.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path


def lock_path(record: Path) -> Path:
    return record.with_suffix(".lock")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _holder(lock: Path) -> dict | None:
    """The live sweep holding ``lock``, or None when the lock is gone or stale (then removed)."""
    try:
        info = json.loads(lock.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        info = {}  # being written right now, or garbage: treat as held
    if info.get("host") == socket.gethostname() and isinstance(info.get("pid"), int) and not _alive(info["pid"]):
        lock.unlink(missing_ok=True)
        return None
    return info


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
            info = _holder(lock)
            if info is None:
                continue
            yield (f"claimed by pid {info.get('pid', '?')} on {info.get('host', '?')} since "
                   f"{info.get('since', '?')} (delete {lock} if that sweep is dead)")
            return
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"host": socket.gethostname(), "pid": os.getpid(),
                       "since": datetime.now(UTC).isoformat(timespec="seconds")}, fh)
        try:
            yield None
        finally:
            lock.unlink(missing_ok=True)
        return
    yield f"could not claim {lock}"
