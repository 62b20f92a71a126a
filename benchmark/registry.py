"""Registries for everything a package plugs into LensBench, filled from package entry points.

Each entry point of a group names a callable that returns an iterable of objects (or the iterable
itself). LensBench's own ``tasks/``, ``baselines/``, ``pinn_models/``, recipes and file formats
register this way, exactly like a third-party package::

    [project.entry-points."lensbench.models"]
    mymodels = "mypkg.models:specs"      # def specs() -> list[ModelSpec]

- ``lensbench.tasks`` -> ``tasks``: ``TaskSpec`` objects, keyed by ``id``;
- ``lensbench.models`` -> ``models``, ``lensbench.datasets`` -> ``datasets``, ``lensbench.suites`` ->
  ``suites``: ``ModelSpec``, ``DatasetSpec``, ``SuiteSpec`` objects, keyed by ``name``;
- ``lensbench.recipes`` -> ``recipes``: simulators with the ``Recipe`` interface, keyed by ``name``;
- ``lensbench.formats`` -> ``formats``: file formats with the ``FileFormat`` interface (``name``);
- ``lensbench.preparers`` -> ``preparers``: ``Preparer`` objects, keyed by their ``dataset``.

Registration checks each object: a spec must be an instance of its class; the other kinds must
have every member of their interface (the ``Protocol`` classes below). A bad object or a duplicate
name raises ``RegistryError`` naming the entry point and what was expected.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from lensbench.specs import DatasetSpec, ModelSpec, TaskSpec, check_task
from lensbench.suite_specs import SuiteSpec


class RegistryError(KeyError):
    """Unknown, duplicate or malformed registration. ``str()`` is the user-facing message."""

    def __str__(self) -> str:
        return str(self.args[0])


class Recipe(Protocol):
    """A versioned simulator that makes a dataset (LensBench's own: ``lensbench.lensing.recipes``).

    ``generate(class_name, n, seed, *, data_root=None, device=None)`` returns ``(images, columns)``:
    float32 images of shape ``(n, *image_shape)`` and a dict of float32 ``(n,)`` parameter columns
    (a subset of ``columns``). The same arguments must give the same arrays: the dataset cache
    relies on it. ``data_root`` is the real-data folder for recipes that read real images."""

    name: str
    version: int
    description: str
    classes: tuple[str, ...]
    image_shape: tuple[int, int, int]
    pixel_scale: float
    columns: tuple[str, ...]

    def generate(self, class_name: str, n: int, seed: int, *, data_root=None, device=None): ...


class FileFormat(Protocol):
    """How lens images stored as files are laid out in a folder and read (``DatasetSpec.adapter``
    names one). ``lensbench.data.formats.FolderFormat`` gives the defaults; see it for the details.

    ``classes``: label order of the classes the format knows (``()``: sorted folder names).
    ``resize``: images of another (H, W) than the dataset's are resized (else refused).
    ``layout(root, classes)``: ``{split: {class: [file, ...]}}`` for "train", "test" and optionally
    "val". ``items(path)``: the images in one file. ``read(item)``: ``(image (C, H, W) float32,
    {column: value})``. ``columns(classes)``: the float columns ``read`` gives for these classes."""

    name: str
    classes: tuple[str, ...]
    resize: bool

    def layout(self, root: Path, classes: tuple[str, ...] | None) -> dict: ...

    def items(self, path: Path) -> list: ...

    def read(self, item) -> tuple[Any, dict[str, float]]: ...

    def columns(self, classes: tuple[str, ...]) -> tuple[str, ...]: ...


class Preparer(Protocol):
    """Re-arranges the files of the registered file dataset ``dataset`` before its format reads
    them: ``prepare(data_root, cache) -> folder`` (e.g. converts a gallery of PNGs into arrays)."""

    dataset: str

    def prepare(self, data_root: Path | str | None, cache: Path | str | None) -> Path: ...


T = TypeVar("T")


def interface_members(proto: type) -> list[str]:
    """The members an object needs to satisfy the Protocol ``proto``: its attributes and methods."""
    methods = [n for n, v in vars(proto).items() if callable(v) and not n.startswith("_")]
    return [*getattr(proto, "__annotations__", {}), *methods]


class Registry(Generic[T]):
    """Objects of one kind by name; ``load()`` imports the entry points of ``group`` once.

    ``spec_type`` is a class (objects must be instances) or a ``Protocol`` (objects must have its
    members). ``listed``: ``lensbench list <kind>s`` exists (named in "unknown name" messages)."""

    def __init__(self, kind: str, group: str, spec_type: type, key: Callable[[T], str], listed: bool = True):
        self.kind, self.group, self.spec_type, self._key, self.listed = kind, group, spec_type, key, listed
        self._items: dict[str, T] = {}
        self._origin: dict[str, str] = {}
        self._loaded = False

    def check(self, spec: object, origin: str) -> str:
        """The name of ``spec``; ``RegistryError`` naming ``origin`` when it is not a valid ``kind``."""
        want = self.spec_type
        if Protocol in getattr(want, "__mro__", ()):
            need = interface_members(want)
            missing = [m for m in need if not hasattr(spec, m)]
            if missing:
                raise RegistryError(
                    f"{origin}: {type(spec).__name__} object is not a {self.kind}: it lacks "
                    f"{', '.join(missing)} (a {self.kind} has {', '.join(need)}; see "
                    f"lensbench.registry.{want.__name__})")
        elif not isinstance(spec, want):
            raise RegistryError(f"{origin}: expected a {want.__name__}, got {type(spec).__name__}")
        name = self._key(spec)
        if not isinstance(name, str) or not name:
            raise RegistryError(f"{origin}: a {self.kind} needs a non-empty string name, got {name!r}")
        return name

    def register(self, spec: T, origin: str = "<direct>") -> T:
        name = self.check(spec, origin)
        if isinstance(spec, TaskSpec):
            check_task(spec, datasets)  # the task against the datasets it names (SpecError)
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
            for spec in _iterate(ep.load(), origin, self.kind):
                self.register(spec, origin)

    def get(self, name: str) -> T:
        self.load()
        if name not in self._items:
            close = difflib.get_close_matches(name, list(self._items), n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            see = (f"Run 'lensbench list {self.kind}s' to see them all." if self.listed
                   else f"Known {self.kind}s: {', '.join(sorted(self._items)) or 'none'}.")
            raise RegistryError(f"unknown {self.kind} {name!r}.{hint} {see}")
        return self._items[name]

    def names(self) -> list[str]:
        self.load()
        return sorted(self._items)

    def all(self) -> list[T]:
        return [self._items[n] for n in self.names()]

    def __contains__(self, name: str) -> bool:
        self.load()
        return name in self._items


def _iterate(obj: object, origin: str, kind: str) -> Iterable:
    items = obj() if callable(obj) else obj
    if not isinstance(items, Iterable) or isinstance(items, (str, bytes)):
        raise RegistryError(f"{origin} must return an iterable of {kind}s, got {type(items).__name__}")
    return items


tasks: Registry[TaskSpec] = Registry("task", "lensbench.tasks", TaskSpec, lambda s: s.id)
models: Registry[ModelSpec] = Registry("model", "lensbench.models", ModelSpec, lambda s: s.name)
datasets: Registry[DatasetSpec] = Registry("dataset", "lensbench.datasets", DatasetSpec, lambda s: s.name)
suites: Registry[SuiteSpec] = Registry("suite", "lensbench.suites", SuiteSpec, lambda s: s.name)
recipes: Registry[Recipe] = Registry("recipe", "lensbench.recipes", Recipe, lambda r: r.name, listed=False)
formats: Registry[FileFormat] = Registry("format", "lensbench.formats", FileFormat, lambda f: f.name,
                                         listed=False)
preparers: Registry[Preparer] = Registry("preparer", "lensbench.preparers", Preparer, lambda p: p.dataset,
                                         listed=False)
