"""Is the process that left a file behind still running? Host, pid, boot and process start time.

A pid alone is not an identity: after a container restart or a long uptime the pid of a dead
sweep can belong to another live process (PID 1, say). A process is identified here by its host,
the kernel's boot id, its pid and its start time (clock ticks since boot, ``/proc/<pid>/stat`` field
22). Where ``/proc`` is missing (macOS), only host and pid are compared.

Used by the sweep's claims (``lensbench.run.claims``) and by the cleanup of temporary files that
killed processes leave (``temporaries_of_dead``).
"""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

_TAG = re.compile(r"\.p(?P<pid>\d+)-(?P<start>\d+)\.")


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def start_time(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot, None where unknown (no /proc, no process)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[19])  # fields after "comm"; 22nd overall


def this_process() -> dict:
    """The identity of this process, as written into lock files."""
    return {"host": socket.gethostname(), "boot": _boot_id(), "pid": os.getpid(), "started": start_time(os.getpid())}


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def is_dead(info: dict) -> bool:
    """Whether the process ``info`` describes is known to be gone. Only a process of this host can be
    known dead; one of another host is presumed alive (its holder may still be running there)."""
    if info.get("host") != socket.gethostname() or not isinstance(info.get("pid"), int):
        return False
    if info.get("boot") and _boot_id() and info["boot"] != _boot_id():
        return True  # the machine restarted since
    if not _pid_running(info["pid"]):
        return True
    started = info.get("started")
    return isinstance(started, int) and start_time(info["pid"]) not in (None, started)  # pid reused


def temp_tag() -> str:
    """A tag for temporary file names (``.p<pid>-<start>.``) that lets ``temporaries_of_dead`` tell
    whether their writer still runs."""
    return f".p{os.getpid()}-{start_time(os.getpid()) or 0}."


def temporaries_of_dead(folder: Path, pattern: str, min_age_s: float = 60.0) -> Iterator[Path]:
    """Files or folders under ``folder`` matching ``pattern`` that a dead process of this host left:
    those tagged with ``temp_tag`` whose writer is gone, and untagged ones older than ``min_age_s``
    only when they carry no tag at all (written by an older LensBench)."""
    now = time.time()
    for path in folder.rglob(pattern):
        m = _TAG.search(path.name)
        if m:
            info = {"host": socket.gethostname(), "pid": int(m["pid"]), "started": int(m["start"]) or None}
            if is_dead(info):
                yield path
        else:
            try:
                if now - path.stat().st_mtime > min_age_s:
                    yield path
            except OSError:
                continue
