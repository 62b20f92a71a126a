"""The MLflow store side of tracking: connecting with bounded waits, preparing a store once per
sweep, and settling the runs killed processes left (``lensbench.run.tracking`` explains the rules).

``connect`` refuses an SQLite store whose file or folder is not writable before MLflow would retry
for minutes, probes an HTTP store's ``/health`` with a timeout, and remembers a store found off in
this process so later trackers skip it at once with the same reason. ``prepare_store`` creates the
schema and experiments under an exclusive ``fcntl.flock`` on ``<db>.lock`` beside an SQLite file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import urllib.request
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from urllib.parse import urlparse

from lensbench import liveness

log = logging.getLogger("lensbench")
CELL_TAGS = ("lensbench.task", "lensbench.task_version", "lensbench.preset", "lensbench.model", "lensbench.seed")
OWNER_TAG = "lensbench.owner"  # the identity of the process that runs it (``liveness.this_process``)
_OFF: dict[str, str] = {}  # store URI -> why tracking is off for it in this process

Keep = Callable[[Mapping[str, str], str], bool]  # (run tags, run id) -> a record on disk names this run


def default_tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI`` if set, else ``sqlite:///mlflow.db`` (relative: the working directory)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or "sqlite:///mlflow.db"


def quiet_mlflow_logs() -> None:
    """Raise MLflow's and alembic's chatty loggers to WARNING (unless the user configured them)."""
    for name in ("alembic", "mlflow.store.db.utils", "mlflow.tracking.fluent", "mlflow.store.sqlalchemy_store",
                 "mlflow.system_metrics.system_metrics_monitor"):
        lg = logging.getLogger(name)
        if lg.level in (logging.NOTSET, logging.DEBUG, logging.INFO):
            lg.setLevel(logging.WARNING)


def sqlite_file(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (None for other stores and in-memory SQLite)."""
    if not uri.startswith("sqlite:///") or uri.endswith(":memory:"):
        return None
    return Path(uri.removeprefix("sqlite:///"))


def check_writable(uri: str) -> None:
    """Raise ``PermissionError`` when an SQLite store's file or folder cannot be written (MLflow would
    otherwise retry for minutes); other stores pass."""
    db = sqlite_file(uri)
    if db is None:
        return
    folder = db.parent if str(db.parent) else Path(".")
    if not folder.is_dir():
        raise PermissionError(f"folder {folder} of the SQLite store does not exist")
    if db.exists() and not db.is_file():
        raise PermissionError(f"SQLite store {db} is not a file")
    if not os.access(folder, os.W_OK | os.X_OK) or (db.exists() and not os.access(db, os.R_OK | os.W_OK)):
        raise PermissionError(f"SQLite store {db} (or its folder) is not writable")


def connect(uri: str, probe_timeout_s: float = 5.0):
    """An ``MlflowClient`` for ``uri``, after cheap checks that fail fast (``check_writable``, an HTTP
    ``/health`` probe); HTTP requests get short retries unless ``MLFLOW_HTTP_REQUEST_*`` is set."""
    if uri in _OFF:
        raise StoreOff(_OFF[uri])
    try:
        check_writable(uri)
        if urlparse(uri).scheme in ("http", "https"):  # fail fast instead of MLflow's long retry loop
            url = uri.rstrip("/") + "/health"
            with urllib.request.urlopen(url, timeout=probe_timeout_s) as resp:
                if resp.status != 200:
                    raise ConnectionError(f"{url} answered HTTP {resp.status}")
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(max(int(probe_timeout_s), 10)))
        quiet_mlflow_logs()
        from mlflow.tracking import MlflowClient

        with warnings.catch_warnings():  # MLflow's store setup emits SQLAlchemy deprecation noise
            warnings.simplefilter("ignore", DeprecationWarning)
            return MlflowClient(tracking_uri=uri)
    except Exception as e:  # remembered: later trackers of this process skip the store at once
        _OFF[uri] = one_line(e)
        raise


class StoreOff(ConnectionError):
    """The store was found off earlier in this process; the message is the reason found then."""


def one_line(e: BaseException) -> str:
    """``Type: first line of the message`` (a ``StoreOff`` keeps its reason as it is)."""
    if isinstance(e, StoreOff):
        return str(e)
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {msg[:300]}"


def experiment_id(client, uri: str, name: str) -> str:
    """The id of experiment ``name``, created (artifacts beside an SQLite file) when missing."""
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    db = sqlite_file(uri)
    location = (db.parent / "mlartifacts").resolve().as_uri() if db is not None else None
    try:
        return client.create_experiment(name, artifact_location=location)
    except Exception:  # another process created it in between
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id


def cell_filter(tags: Mapping[str, str]) -> str | None:
    """An MLflow filter string for the runs of one cell (None when ``tags`` do not name a cell)."""
    if not all(k in tags for k in CELL_TAGS):
        return None
    return " and ".join(f"tags.`{k}` = '{tags[k]!s}'" for k in CELL_TAGS)


def settle(client, runs: Iterable, keep: Keep | None) -> tuple[int, int]:
    """Settle the runs of ONE cell that no live process holds (killed sweeps left them): an
    unfinished run is ended FINISHED when ``keep`` says a record names it, else ended KILLED and
    deleted; of the FINISHED runs then one stays (the one a record names, else the newest) and the
    others are deleted. Returns (runs ended FINISHED, runs deleted)."""
    kept = deleted = 0
    finished = []
    for run in runs:
        rid = run.info.run_id
        named = keep is not None and keep(run.data.tags, rid)
        if run.info.status != "FINISHED":
            if not named:
                if run.info.status in ("RUNNING", "SCHEDULED"):
                    client.set_terminated(rid, "KILLED")
                client.delete_run(rid)
                deleted += 1
                continue
            client.set_terminated(rid, "FINISHED")
            kept += 1
        finished.append((named, run.info.start_time or 0, rid))
    for _, _, rid in sorted(finished, reverse=True)[1:]:
        client.delete_run(rid)
        deleted += 1
    return kept, deleted


@contextlib.contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """An exclusive ``flock`` on ``<db>.lock`` beside an SQLite store (nothing for other stores)."""
    db = sqlite_file(uri)
    if db is None:
        yield
        return
    with open(db.with_name(db.name + ".lock"), "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def create_schema(uri: str) -> None:
    """A fresh SQLite store is migrated in a temporary file beside it and moved into place, so a
    process killed during the migration leaves no half-made store (its temporary file is removed
    the next time). Call it holding ``store_lock``."""
    db = sqlite_file(uri)
    if db is None or db.exists():
        return
    for tmp in liveness.temporaries_of_dead(db.parent, f"{db.name}.p*.tmp"):
        tmp.unlink(missing_ok=True)
    tmp = db.with_name(f"{db.name}{liveness.temp_tag()}tmp")
    connect(f"sqlite:///{tmp}").search_experiments(max_results=1)  # creates and migrates the tables
    os.replace(tmp, db)


def prepare_store(uri: str | None, experiments: Iterable[str], keep: Keep | None = None,
                  probe_timeout_s: float = 5.0, ids: dict[str, str] | None = None) -> bool:
    """Before a sweep's cells run: create the store's schema and ``experiments`` under an exclusive
    file lock (two sweeps starting on a fresh SQLite store do not race on its migration), and settle
    the unfinished runs whose owner process is dead (``settle``). ``ids`` (when given) receives each
    experiment's id, for the workers of a cluster sweep (``RunOptions.experiment_ids``). Never raises:
    on failure tracking is off for ``uri`` in this process (one warning) and False is returned."""
    uri = uri or default_tracking_uri()
    try:
        if uri in _OFF:
            raise StoreOff(_OFF[uri])
        check_writable(uri)
        with store_lock(uri):
            create_schema(uri)
            client = connect(uri, probe_timeout_s)
            made = {name: experiment_id(client, uri, name) for name in dict.fromkeys(experiments)}
        if ids is not None:
            ids.update(made)
        cells: dict[str, list] = {}
        for run in client.search_runs(list(made.values()), max_results=50000) if made else []:
            cells.setdefault(cell_filter(run.data.tags), []).append(run)
        kept = deleted = 0
        for cell, runs in cells.items():
            unfinished = [r for r in runs if r.info.status != "FINISHED"]
            if cell is not None and (unfinished or len(runs) > 1) and all(_owner_dead(r.data.tags)
                                                                          for r in unfinished):
                k, d = settle(client, runs, keep)
                kept, deleted = kept + k, deleted + d
        if kept or deleted:
            log.info("MLflow: runs killed sweeps left: %d ended FINISHED (a record names them), %d deleted "
                     "(killed or superseded)", kept, deleted)
        return True
    except Exception as e:  # noqa: BLE001 - tracking must never break a sweep
        _OFF.setdefault(uri, one_line(e))
        warn_off(uri, _OFF[uri], stacklevel=3)
        return False


def warn_off(uri: str, why: str, stacklevel: int = 2) -> None:
    """The one warning that tracking is off for ``uri``."""
    warnings.warn(f"MLflow tracking is off ({uri}): {why}. The run continues; its results are still written "
                  "to the run record.", RuntimeWarning, stacklevel=stacklevel + 1)


def _owner_dead(tags: Mapping[str, str]) -> bool:
    try:
        return liveness.is_dead(json.loads(tags.get(OWNER_TAG, "")))
    except ValueError:
        return False  # no owner recorded: an older LensBench, or a run of someone else


class Terminated(SystemExit):
    """Raised in the main thread on SIGTERM by ``terminated_as_killed``."""


@contextlib.contextmanager
def terminated_as_killed() -> Iterator[None]:
    """While the block runs, SIGTERM raises ``Terminated`` (exit status 143), so the current MLflow run
    ends KILLED and claims are released; the previous handler is restored after. Outside the main
    thread nothing is installed."""
    def on_term(signum, frame):
        raise Terminated(128 + signum)

    try:
        previous = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def recorded_in(results_dir: str | Path) -> Keep:
    """A ``Keep`` for ``settle``: whether the record under ``results_dir`` of a run's cell names it
    (the process was killed after writing the record but before ending the run)."""
    from lensbench import records

    def names_run(tags: Mapping[str, str], run_id: str) -> bool:
        try:
            rec = records.existing_record(results_dir, tags["lensbench.task"], int(tags["lensbench.task_version"]),
                                          tags["lensbench.preset"], tags["lensbench.model"],
                                          int(tags["lensbench.seed"]))
        except (KeyError, ValueError):
            return False
        return rec is not None and rec.mlflow_run_id == run_id

    return names_run
