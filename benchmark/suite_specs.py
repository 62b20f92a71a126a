"""Suite specifications: the fixed task x model x seed grids that published leaderboards come from
(``SuiteSpec``, given whole or in ``SuitePart`` blocks), registered through the ``lensbench.suites``
entry point (``lensbench.tasks.suites``). An invalid field raises ``lensbench.specs.SpecError``, as
every spec does.
"""

from __future__ import annotations

from dataclasses import dataclass

from lensbench.specs import ID_PATTERN, spec_fail


def _distinct(kind: str, owner, name: str, values) -> None:
    if not values or len(set(values)) != len(values):
        spec_fail(kind, owner, name, "must be a non-empty tuple of distinct names")


@dataclass(frozen=True)
class SuitePart:
    """One block of a suite's grid: ``tasks`` x ``models`` (those that support the task's kind) at
    ``preset``, with ``seeds`` (None: each task's own seeds) and ``why`` (the reason, documentation)."""

    tasks: tuple[str, ...]
    models: tuple[str, ...]
    preset: str
    seeds: tuple[int, ...] | None = None
    why: str = ""

    def __post_init__(self) -> None:
        _distinct("SuitePart", self.preset, "tasks", self.tasks)
        _distinct("SuitePart", self.preset, "models", self.models)
        if self.seeds is not None and (not self.seeds or len(set(self.seeds)) != len(self.seeds)
                                       or not all(isinstance(x, int) and x >= 0 for x in self.seeds)):
            spec_fail("SuitePart", self.preset, "seeds", f"must be distinct non-negative integers, got {self.seeds!r}")


@dataclass(frozen=True)
class SuiteSpec:
    """A published grid: ``lensbench sweep --suite NAME`` runs every task of ``tasks`` with every
    model of ``models`` that supports the task's kind, each of the task's seeds, at ``preset``; or the
    union of ``parts``, each at its own preset and seeds (``tasks``, ``models`` are then the parts'
    union and ``preset`` the first part's). Registered through the ``lensbench.suites`` entry point;
    the grid is fixed by name, so a plugin installed on a user's machine does not change a suite."""

    name: str
    description: str
    preset: str = ""
    tasks: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    parts: tuple[SuitePart, ...] = ()

    def __post_init__(self) -> None:
        k = "SuiteSpec"
        if not ID_PATTERN.match(self.name):
            spec_fail(k, self.name, "name", "must be lower-case letters, digits, '-', '_', '.'")
        if self.parts:
            if self.tasks or self.models or self.preset:
                spec_fail(k, self.name, "parts", "give either parts or tasks/models/preset, not both")
            object.__setattr__(self, "tasks", tuple(dict.fromkeys(t for p in self.parts for t in p.tasks)))
            object.__setattr__(self, "models", tuple(dict.fromkeys(m for p in self.parts for m in p.models)))
            object.__setattr__(self, "preset", self.parts[0].preset)
            cells = [(t, m, p.preset) for p in self.parts for t in p.tasks for m in p.models]
            if len(set(cells)) != len(cells):
                spec_fail(k, self.name, "parts", "name the same (task, model, preset) in two parts")
            return
        if not self.preset:
            spec_fail(k, self.name, "preset", "is required (or give parts)")
        _distinct(k, self.name, "tasks", self.tasks)
        _distinct(k, self.name, "models", self.models)

    def grid_parts(self) -> tuple[SuitePart, ...]:
        """The parts of the grid (one part for a suite given as tasks x models at one preset)."""
        return self.parts or (SuitePart(self.tasks, self.models, self.preset),)
