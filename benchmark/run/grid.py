"""The grid of a sweep: the (task, model, seed) cells that a suite, or lists of tasks and models, name.

``build`` is the one place that turns what ``lensbench sweep`` is given (a suite, task ids, model
names, a preset, seeds, a shard) into the list of cells; the command line, ``runner.sweep`` and any
other executor (a process pool, a Ray cluster) run exactly that list, so they agree on what a sweep
is. A model is paired with a task only when it supports the task's kind; a cell without a seed list
takes the task's own seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lensbench import registry
from lensbench.run import usermodels
from lensbench.specs import ModelSpec, SpecError, TaskSpec


@dataclass(frozen=True)
class Cell:
    """One run of a sweep."""

    task: TaskSpec
    model: ModelSpec
    seed: int


@dataclass(frozen=True)
class Grid:
    """The cells of a sweep, in task, model, seed order, and the preset they run at."""

    preset: str
    cells: tuple[Cell, ...]

    def __len__(self) -> int:
        return len(self.cells)


def cells(tasks: Sequence[TaskSpec], models: Sequence[ModelSpec], seeds: Sequence[int] | None = None
          ) -> list[Cell]:
    """Every (task, model) pair whose model supports the task's kind, with each seed (None: the task's)."""
    return with_seeds([(t, m) for t in tasks for m in models if m.supports(t)], seeds)


def with_seeds(pairs: Sequence[tuple[TaskSpec, ModelSpec]], seeds: Sequence[int] | None) -> list[Cell]:
    """The cells of (task, model) pairs: each pair with every seed of ``seeds`` (None: the task's seeds)."""
    return [Cell(t, m, s) for t, m in pairs for s in (seeds if seeds is not None else t.seeds)]


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' -> (I, N) with 0 <= I < N: a sweep that runs every N-th (task, model) pair, from the I-th."""
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise SpecError(f"--shard: expected I/N such as 0/2, got {text!r}") from None
    if not 0 <= i < n:
        raise SpecError(f"--shard: expected 0 <= I < N, got {text!r}")
    return i, n


def build(*, suite: str | None = None, tasks: Sequence[str] | None = None, models: Sequence[str] | None = None,
          preset: str | None = None, seeds: Sequence[int] | None = None, shard: str | None = None) -> Grid:
    """The grid of a sweep, as ``lensbench sweep`` takes it.

    ``suite``: a registered suite name; it gives the preset, tasks and models that are not given.
    ``tasks``: task ids (default: the suite's, else every registered task). ``models``: model names
    or ``file.py:factory`` / ``package.module:factory`` references; ``["all"]`` = every registered
    model (default: the suite's, else each task's ``default_models``). ``preset``: default the
    suite's, else ``"quick"``; every task must have it. ``seeds``: default each task's seeds.
    ``shard``: ``"I/N"`` keeps every N-th (task, model) pair from the I-th (``parse_shard``), so N
    sweeps side by side share the grid without overlap.
    """
    spec = registry.suites.get(suite) if suite else None
    preset = preset or (spec.preset if spec else "quick")
    task_ids = tasks or (spec.tasks if spec else None)
    task_specs = [registry.tasks.get(t) for t in task_ids] if task_ids else registry.tasks.all()
    for t in task_specs:
        t.preset(preset)  # SpecError naming the task when it lacks the preset
    if models and list(models) == ["all"]:
        every = registry.models.all()
        model_lists = {t.id: every for t in task_specs}
    elif models:
        given = [usermodels.resolve(m) for m in models]
        model_lists = {t.id: given for t in task_specs}
    else:
        model_lists = {t.id: [registry.models.get(m) for m in (spec.models if spec else t.default_models)]
                       for t in task_specs}
    pairs = [(t, m) for t in task_specs for m in model_lists[t.id] if m.supports(t)]
    if shard:
        i, n = parse_shard(shard)
        pairs = pairs[i::n]
    return Grid(preset, tuple(with_seeds(pairs, seeds)))
