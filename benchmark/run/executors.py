"""Executors: who runs the cells of a sweep (``lensbench sweep --executor local|ray``).

Every executor runs the same list of cells (``lensbench.run.grid.build``), applies the same resume
rule (a cell whose ``ok`` record was made on today's data is skipped, unless ``force``: the
``runner.current_record`` of ``runner.expected_fingerprints``) and writes the same records through
the one record writer (``lensbench.records.write_record``, atomic). They differ only in where the
training runs:

- ``LocalExecutor``: in this process, one cell after the other (``runner.run_cells``); sweeps started
  side by side on one results folder share the work through lock files (``lensbench.run.claims``).
- ``RayExecutor`` (``lensbench.run.ray_executor``, needs ``pip install 'lensbench[ray]'``): one Ray
  task per cell on a Ray cluster; this process (the driver) claims the cells, writes every record
  and checks that each worker trained on the data the driver expects.

``make(name, ...)`` returns one by its command-line name; ``Executor`` is the interface.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from lensbench import records
from lensbench.run import runner
from lensbench.run.grid import Cell
from lensbench.specs import SpecError

EXECUTORS = ("local", "ray")


class ExecutorUnavailable(SpecError):
    """An executor whose engine is not installed or cannot be reached (the CLI exits 2 with the message)."""


class Executor(Protocol):
    """Runs cells; yields each cell's record (skipped cells: their existing record). A cell that could
    not run at all (its data is missing, its worker was lost for good) yields nothing and is named in
    ``problems``."""

    name: str
    problems: list[str]

    def run_cells(self, cells: Iterable[Cell], opts: runner.RunOptions) -> Iterator[records.RunRecord]: ...


@dataclass
class LocalExecutor:
    """Today's behaviour: the cells run in this process, in grid order (``runner.run_cells``)."""

    name: str = "local"
    problems: list[str] = field(default_factory=list)

    def run_cells(self, cells: Iterable[Cell], opts: runner.RunOptions) -> Iterator[records.RunRecord]:
        yield from runner.run_cells(cells, opts)


def fingerprint_mismatch(rec: records.RunRecord, expected: tuple[str, str | None]) -> str | None:
    """Why a record made elsewhere (a cluster worker) is not on the data the driver expects, naming
    both fingerprints; None when it is."""
    train, test = expected
    if rec.dataset_fingerprint and rec.dataset_fingerprint != train:
        return (f"dataset fingerprint mismatch for {rec.dataset}: the worker trained on "
                f"{rec.dataset_fingerprint}, the driver expects {train} (a different LensBench, simulator "
                "or cached data on the worker)")
    if test is not None and rec.test_dataset_fingerprint and rec.test_dataset_fingerprint != test:
        return (f"test dataset fingerprint mismatch: the worker evaluated on {rec.test_dataset_fingerprint}, "
                f"the driver expects {test}")
    return None


def make(name: str, *, address: str | None = None, cpus_per_run: float = 1.0, gpus_per_run: float = 0.0,
         threads: int = 1, max_retries: int = 3, worker_setup: Callable[[], None] | None = None) -> Executor:
    """The executor called ``name`` (``EXECUTORS``). The keywords configure the Ray executor: the
    cluster ``address`` (None: ``$RAY_ADDRESS``, else a local cluster on this machine), the resources
    each cell reserves, torch ``threads`` in a worker, ``max_retries`` after a lost worker or node,
    and ``worker_setup`` (called in the worker before each cell, e.g. to register plug-ins)."""
    if name == "local":
        return LocalExecutor()
    if name == "ray":
        from lensbench.run.ray_executor import RayExecutor

        return RayExecutor(address=address, cpus_per_run=cpus_per_run, gpus_per_run=gpus_per_run,
                           threads=threads, max_retries=max_retries, worker_setup=worker_setup)
    raise ExecutorUnavailable(f"--executor {name!r}: choose one of {', '.join(EXECUTORS)}")
