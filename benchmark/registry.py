"""Registries for tasks, models and datasets, filled from package entry points.

Each entry point in the groups ``lensbench.tasks``, ``lensbench.models``, ``lensbench.datasets`` and
``lensbench.suites`` names a callable that returns an iterable of specs. LensBench's own ``tasks/``, ``baselines/`` and
``pinn_models/`` register this way, exactly like a third-party package::

    [project.entry-points."lensbench.models"]
    mymodels = "mypkg.models:specs"      # def specs() -> list[ModelSpec]
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from lensbench.specs import DatasetSpec, ModelSpec, SuiteSpec, TaskSpec


class RegistryError(KeyError):
    """Unknown or duplicate name. ``str()`` is the user-facing message."""

    def __str__(self) -> str:
        return str(self.args[0])


T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, group: str, spec_type: type, key: Callable[[T], str]):
        self.kind, self.group, self.spec_type, self._key = kind, group, spec_type, key
        self._items: dict[str, T] = {}
        self._origin: dict[str, str] = {}
        self._loaded = False

    def register(self, spec: T, origin: str = "<direct>") -> T:
        if not isinstance(spec, self.spec_type):
            raise TypeError(f"{origin}: expected a {self.spec_type.__name__}, got {type(spec).__name__}")
        name = self._key(spec)
        if name in self._items:
            raise RegistryError(
                f"duplicate {self.kind} name {name!r}: registered by {self._origin[name]} and again by {origin}"
            )
        self._items[name] = spec
        self._origin[name] = origin
        return spec

    def unregister(self, name: str) -> None:
        self._items.pop(name, None)
        self._origin.pop(name, None)

    def load(self) -> None:
        """Import every entry point of this group once (idempotent)."""
        if self._loaded:
            return
        self._loaded = True
        for ep in sorted(entry_points(group=self.group), key=lambda e: e.name):
            origin = f"entry point {ep.name!r} ({ep.value})"
            for spec in _iterate(ep.load(), origin):
                self.register(spec, origin)

    def get(self, name: str) -> T:
        self.load()
        if name not in self._items:
            close = difflib.get_close_matches(name, list(self._items), n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise RegistryError(
                f"unknown {self.kind} {name!r}.{hint} Run 'lensbench list {self.kind}s' to see them all."
            )
        return self._items[name]

    def names(self) -> list[str]:
        self.load()
        return sorted(self._items)

    def all(self) -> list[T]:
        return [self._items[n] for n in self.names()]

    def __contains__(self, name: str) -> bool:
        self.load()
        return name in self._items


def _iterate(obj: object, origin: str) -> Iterable:
    items = obj() if callable(obj) else obj
    if not isinstance(items, Iterable):
        raise TypeError(f"{origin} must return an iterable of specs, got {type(items).__name__}")
    return items


tasks: Registry[TaskSpec] = Registry("task", "lensbench.tasks", TaskSpec, lambda s: s.id)
models: Registry[ModelSpec] = Registry("model", "lensbench.models", ModelSpec, lambda s: s.name)
datasets: Registry[DatasetSpec] = Registry("dataset", "lensbench.datasets", DatasetSpec, lambda s: s.name)
suites: Registry[SuiteSpec] = Registry("suite", "lensbench.suites", SuiteSpec, lambda s: s.name)
