"""LensBench: versioned lensing tasks, one harness, run records and leaderboards.

The public API, for plug-ins and programs (everything else is internal and may move)::

    from lensbench import DatasetSpec, TaskSpec, ModelSpec, SuiteSpec, Budget, Preset   # the contracts
    from lensbench import registry        # tasks, models, datasets, suites, recipes, formats, preparers
    from lensbench import kinds           # one object per task kind: loss, predictions, metrics
    from lensbench import RunRecord, load_records, RunOptions, run_one, materialise
    from lensbench import FolderFormat, DataError  # defaults for a file format; the data error

Plug-ins register through entry points (``ARCHITECTURE.md``); ``run_one(task, model, seed, options)``
trains one cell and writes its record. Names are resolved lazily, so ``import lensbench`` stays
cheap (torch is imported only when a name that needs it is used).
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lensbench")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

# module -> the public names it provides (a module itself when the name is its last component)
_PROVIDERS = {
    "lensbench.specs": ("DatasetSpec", "TaskSpec", "ModelSpec", "Budget", "Preset", "SpecError"),
    "lensbench.suite_specs": ("SuiteSpec",),
    "lensbench.registry": ("registry", "RegistryError"),
    "lensbench.kinds": ("kinds",),
    "lensbench.records": ("RunRecord", "RecordError", "load_records"),
    "lensbench.run.runner": ("RunOptions", "run_one"),
    "lensbench.data.cache": ("materialise",),
    "lensbench.data.errors": ("DataError",),
    "lensbench.data.formats": ("FolderFormat",),
}
_RENAMED = {"run_one": "run"}  # public name -> attribute of its module
_EXPORTS = {name: module for module, names in _PROVIDERS.items() for name in names}
__all__ = ["__version__", *_EXPORTS]  # noqa: PLE0604 (the export table is the one list)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'lensbench' has no attribute {name!r}")
    module = import_module(_EXPORTS[name])
    value = module if module.__name__.endswith("." + name) else getattr(module, _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
