"""The Ray executor: one Ray task per (task, model, seed) cell on a Ray cluster (Ray core, not Tune).

This process is the driver. It applies the resume rule, claims each cell it submits (the lock files
of ``lensbench.run.claims``, so sweeps side by side still share the work), prepares the MLflow
store once (schema, experiments; their ids go to the workers) and is the only process that writes
records: a worker trains and evaluates with ``runner.run`` (its record file goes to a scratch folder,
for the MLflow artifact) and returns the record as a dict, which the driver writes atomically with
``records.write_record``. Workers therefore need no shared file system: each materialises the
datasets in its own cache from the recipe (deterministic and fingerprinted) or reads a shared cache
(``--cache``), and a record whose fingerprints differ from the driver's is written ``failed`` with
both fingerprints in its error.

Failures: a lost worker or node (a killed process, a dead machine) is retried by Ray up to
``max_retries`` times; an application error is never retried: a model that fails during training
gives a ``failed`` record (as in a local sweep), any other error is caught in the worker and
reported by the driver (``problems``), and the sweep goes on. SIGTERM or Ctrl-C on the driver
cancels the cells in flight and releases their claims; a driver killed outright leaves its claims to
the next sweep (``claims.clean``) and its workers to Ray, which ends a dead driver's tasks.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import logging
import os
import socket
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from lensbench import records
from lensbench.data.errors import DataError
from lensbench.run import claims, derived, runner
from lensbench.run.executors import ExecutorUnavailable, fingerprint_mismatch
from lensbench.run.grid import Cell
from lensbench.run.tracking_store import prepare_store, recorded_in, terminated_as_killed

log = logging.getLogger("lensbench")
INSTALL_HINT = "pip install 'lensbench[ray]'"


def import_ray():
    """The ``ray`` module, or ``ExecutorUnavailable`` (exit 2) saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise ExecutorUnavailable(f"--executor ray needs Ray, which is not installed here ({exc}); "
                                  f"install it with: {INSTALL_HINT}") from None
    return ray


def run_in_worker(cell: Cell, opts: runner.RunOptions, threads: int,
                  setup: Callable[[], None] | None) -> dict:
    """The body of one Ray task: run the cell, return ``{"record": dict}`` or ``{"error": text}``
    (``"data": True`` when its data is missing). Nothing is written outside a scratch folder."""
    import torch

    if setup is not None:
        setup()
    torch.set_num_threads(threads)
    where = {"host": socket.gethostname(), "pid": os.getpid()}
    with tempfile.TemporaryDirectory(prefix="lensbench-cell-") as scratch:
        try:
            rec = runner.run(cell.task, cell.model, cell.seed, opts, record_dir=Path(scratch))
        except DataError as exc:
            return {"error": str(exc), "data": True, **where}
        except Exception as exc:  # noqa: BLE001 - an application error: reported, never retried
            return {"error": f"{type(exc).__name__}: {exc}", **where}
        others = [r.to_dict() for r in records.iter_records(Path(scratch)) if r.task != rec.task]
    return {"record": rec.to_dict(), "derived": others, **where}  # derived: evaluation-only tasks' records


@dataclass
class RayExecutor:
    """Runs cells as Ray tasks reserving ``cpus_per_run`` CPUs and ``gpus_per_run`` GPUs each."""

    address: str | None = None  # None: $RAY_ADDRESS, else a local cluster started (and stopped) here
    cpus_per_run: float = 1.0
    gpus_per_run: float = 0.0
    threads: int = 1
    max_retries: int = 3
    worker_setup: Callable[[], None] | None = None
    name: str = "ray"
    problems: list[str] = field(default_factory=list)

    def connect(self):
        """``ray`` after ``ray.init`` (nothing when this process is already connected); True as the
        second value when this call started the connection (then ``run_cells`` shuts it down)."""
        ray = import_ray()
        check_reachable(self.address)  # an address given and dead is an error, connected or not
        if ray.is_initialized():
            return ray, False
        address = self.address or os.environ.get("RAY_ADDRESS") or None
        check_reachable(address)
        try:
            ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING,
                     configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ExecutorUnavailable(f"cannot connect to the Ray cluster at {address}: {exc}") from None
        return ray, True

    def run_cells(self, cells: Iterable[Cell], opts: runner.RunOptions) -> Iterator[records.RunRecord]:
        cells = list(cells)
        ray, started = self.connect()
        try:
            yield from self.drive(ray, cells, opts)
        finally:
            if started:
                ray.shutdown()

    def drive(self, ray, cells: list[Cell], opts: runner.RunOptions) -> Iterator[records.RunRecord]:
        """Submit every cell that needs a run, then write and yield each record as its task ends."""
        ids: dict[str, str] = {}
        on = prepare_store(opts.tracking_uri, [c.task.id for c in cells], keep=recorded_in(opts.results_dir),
                           ids=ids)
        worker_opts = replace(opts, progress=False, track=on, experiment_ids=ids)
        ship_by_value(ray, {c.model.factory for c in cells})
        remote = ray.remote(run_in_worker).options(
            num_cpus=self.cpus_per_run, num_gpus=self.gpus_per_run, max_retries=self.max_retries,
            retry_exceptions=False, name="lensbench-cell")
        removed = claims.clean(opts.results_dir)
        if removed:
            log.info("removed %d stale lock or partial record file(s) left by killed sweeps", removed)
        expected: dict[tuple[str, str], tuple[str, str | None]] = {}  # (task id, preset) -> fingerprints
        inflight: dict = {}  # object ref -> (cell, the claim's exit stack, its fingerprint key)
        base, base_worker = opts, worker_opts
        with terminated_as_killed(), contextlib.ExitStack() as cleanup:
            cleanup.callback(self.cancel, ray, inflight)
            for cell in cells:
                task, spec, seed = cell.task, cell.model, cell.seed
                opts, worker_opts = runner.cell_options(base, cell), runner.cell_options(base_worker, cell)
                key = (task.id, opts.preset)
                if key not in expected:
                    expected[key] = runner.expected_fingerprints(task, opts)
                existing = runner.current_record(task, spec, seed, opts, expected[key])
                if existing is not None and not opts.force:
                    log.info("skip %s / %s / seed %d: record exists", task.id, spec.name, seed)
                    yield existing
                    continue
                held = contextlib.ExitStack()
                where = records.record_path(opts.results_dir, records.probe(task.id, task.version, opts.preset,
                                                                            spec.name, seed))
                holder = held.enter_context(claims.claim(where))
                if holder is not None:
                    held.close()
                    log.info("skip %s / %s / seed %d: %s", task.id, spec.name, seed, holder)
                    continue
                existing = runner.current_record(task, spec, seed, opts, expected[key])
                if existing is not None and not opts.force:  # finished while we looked
                    held.close()
                    yield existing
                    continue
                ref = remote.remote(cell, worker_opts, self.threads, self.worker_setup)
                inflight[ref] = (cell, held, key)
            bar = progress_bar(len(inflight), base.progress)
            while inflight:
                (ref,), _ = ray.wait(list(inflight), num_returns=1)
                cell, held, key = inflight.pop(ref)
                try:
                    rec = self.collect(ray, ref, cell, expected[key], base)
                finally:
                    held.close()
                    bar.update(1)
                if rec is not None:
                    yield rec
            bar.close()

    def collect(self, ray, ref, cell: Cell, expected: tuple[str, str | None],
                opts: runner.RunOptions) -> records.RunRecord | None:
        """The record of a finished task, written by the driver; None (named in ``problems``) when the
        task returned no record."""
        label = f"{cell.task.id} / {cell.model.name} / seed {cell.seed}"
        try:
            out = ray.get(ref)
        except ray.exceptions.RayError as exc:  # the worker or node was lost more often than max_retries
            return self.problem(f"{label}: lost after {self.max_retries} retries: {str(exc).splitlines()[0]}")
        if "record" not in out:
            kind = "missing data" if out.get("data") else "error"
            return self.problem(f"{label}: {kind} on {out['host']} (pid {out['pid']}): {out['error']}")
        rec = records.RunRecord.from_dict(out["record"], source=f"the worker on {out['host']}")
        wrong = fingerprint_mismatch(rec, expected)
        if wrong is not None:
            log.error("%s: %s", label, wrong)
            rec.status, rec.error, rec.metrics_test, rec.bootstrap = "failed", wrong, {}, {}
        if rec.status != "ok":
            log.warning("run %s failed: %s", label, rec.error)
        records.write_record(rec, opts.results_dir)
        for d in out.get("derived", ()) if wrong is None else ():
            derived.write_dependent(records.RunRecord.from_dict(d, source=f"the worker on {out['host']}"),
                                    opts.results_dir, None)
        return rec

    def problem(self, text: str) -> None:
        log.error("%s", text)
        self.problems.append(text)

    @staticmethod
    def cancel(ray, inflight: dict) -> None:
        """On an early exit (SIGTERM, Ctrl-C, an error): cancel the tasks still running, release claims."""
        for ref, (_, held, _) in list(inflight.items()):
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
            held.close()
        inflight.clear()


def ship_by_value(ray, factories) -> None:
    """Model code that workers cannot import by name (``--model path/to/file.py:factory``, loaded from a
    file) travels with the task, by value, so a worker needs no copy of the file."""
    for factory in factories:
        module = sys.modules.get(getattr(factory, "__module__", "") or "")
        if module is None or "." in module.__name__ or getattr(module, "__file__", None) is None:
            continue  # a package's module, or a built-in one: importable by name
        if importlib.machinery.PathFinder.find_spec(module.__name__) is None:  # not on sys.path under its name
            ray.cloudpickle.register_pickle_by_value(module)


def check_reachable(address: str | None, timeout_s: float = 5.0) -> None:
    """Fail fast (``ExecutorUnavailable``) when a ``HOST:PORT`` cluster address does not answer: Ray
    itself retries for minutes. Other forms (``auto``, ``ray://...``) are left to Ray."""
    if not address or "://" in address or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            return
    except (OSError, ValueError) as exc:
        raise ExecutorUnavailable(f"the Ray cluster at {address} does not answer ({exc}); start its head with "
                                  f"'ray start --head --port {port}' or give --ray-address HOST:PORT") from None


def progress_bar(total: int, show: bool):
    """A tqdm bar over the submitted cells (disabled when ``show`` is False)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="cells", unit="cell", disable=not show or total == 0)
