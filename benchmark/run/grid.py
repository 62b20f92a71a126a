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
    """One run of a sweep; ``preset`` None: the grid's (a suite given in parts sets it per cell)."""

    task: TaskSpec
    model: ModelSpec
    seed: int
    preset: str | None = None


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


def with_seeds(pairs: Sequence[tuple[TaskSpec, ModelSpec]], seeds: Sequence[int] | None,
               preset: str | None = None) -> list[Cell]:
    """The cells of (task, model) pairs: each pair with every seed of ``seeds`` (None: the task's seeds)."""
    return [Cell(t, m, s, preset) for t, m in pairs for s in (seeds if seeds is not None else t.seeds)]


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

    ``suite``: a registered suite name; it gives the preset, tasks, models and seeds that are not given,
    per part for a suite given in parts (``_suite_grid``; each cell then carries its preset).
    ``tasks``: task ids (default: the suite's, else every registered task). ``models``: model names
    or ``file.py:factory`` / ``package.module:factory`` references; ``["all"]`` = every registered
    model (default: the suite's, else each task's ``default_models``). ``preset``: default the
    suite's, else ``"quick"``; every task must have it. ``seeds``: default each task's seeds.
    ``shard``: ``"I/N"`` keeps every N-th (task, model) pair from the I-th (``parse_shard``), so N
    sweeps side by side share the grid without overlap.
    """
    spec = registry.suites.get(suite) if suite else None
    if spec is not None:
        return _suite_grid(spec, tasks, models, preset, seeds, shard)
    preset = preset or "quick"
    task_specs = [registry.tasks.get(t) for t in tasks] if tasks else registry.tasks.all()
    for t in task_specs:
        t.preset(preset)  # SpecError naming the task when it lacks the preset
    if models and list(models) == ["all"]:
        every = registry.models.all()
        model_lists = {t.id: every for t in task_specs}
    elif models:
        given = [usermodels.resolve(m) for m in models]
        model_lists = {t.id: given for t in task_specs}
    else:
        model_lists = {t.id: [registry.models.get(m) for m in t.default_models] for t in task_specs}
    pairs = [(t, m) for t in task_specs for m in model_lists[t.id] if m.supports(t)]
    return Grid(preset, tuple(with_seeds(_sharded(pairs, shard), seeds)))


def _sharded(pairs: list, shard: str | None) -> list:
    if not shard:
        return pairs
    i, n = parse_shard(shard)
    return pairs[i::n]


def _suite_grid(spec, tasks, models, preset, seeds, shard) -> Grid:
    """A suite's grid: each of its parts (``SuiteSpec.grid_parts``) at the part's preset and seeds, in
    order; ``tasks`` restricts the parts to those tasks (SpecError for a task of no part), ``models``
    replaces every part's models, ``preset`` and ``seeds`` replace every part's."""
    parts = spec.grid_parts()
    if tasks:
        unknown = [t for t in tasks if t not in spec.tasks]
        if unknown:
            raise SpecError(f"suite {spec.name!r} has no task {unknown}; its tasks: {', '.join(spec.tasks)}")
    given = None
    if models and list(models) == ["all"]:
        given = registry.models.all()
    elif models:
        given = [usermodels.resolve(m) for m in models]
    blocks = []  # (task, model, seeds, preset) in the suite's order
    for part in parts:
        p = preset or part.preset
        model_specs = given if given is not None else [registry.models.get(m) for m in part.models]
        for tid in part.tasks:
            if tasks and tid not in tasks:
                continue
            task = registry.tasks.get(tid)
            task.preset(p)  # SpecError naming the task when it lacks the preset
            s = seeds if seeds is not None else part.seeds
            blocks += [(task, m, s, p) for m in model_specs if m.supports(task)]
    blocks = _sharded(blocks, shard)
    cells = [Cell(t, m, s, p) for t, m, ss, p in blocks for s in (ss if ss is not None else t.seeds)]
    return Grid(preset or spec.preset, tuple(cells))