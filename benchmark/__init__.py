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

# public name -> (module, attribute); attribute None means the module itself
_EXPORTS = {
    "DatasetSpec": ("lensbench.specs", "DatasetSpec"),
    "TaskSpec": ("lensbench.specs", "TaskSpec"),
    "ModelSpec": ("lensbench.specs", "ModelSpec"),
    "SuiteSpec": ("lensbench.specs", "SuiteSpec"),
    "Budget": ("lensbench.specs", "Budget"),
    "Preset": ("lensbench.specs", "Preset"),
    "SpecError": ("lensbench.specs", "SpecError"),
    "registry": ("lensbench.registry", None),
    "RegistryError": ("lensbench.registry", "RegistryError"),
    "kinds": ("lensbench.kinds", None),
    "RunRecord": ("lensbench.records", "RunRecord"),
    "RecordError": ("lensbench.records", "RecordError"),
    "load_records": ("lensbench.records", "load_records"),
    "RunOptions": ("lensbench.run.runner", "RunOptions"),
    "run_one": ("lensbench.run.runner", "run"),
    "materialise": ("lensbench.data.cache", "materialise"),
    "DataError": ("lensbench.data.errors", "DataError"),
    "FolderFormat": ("lensbench.data.formats", "FolderFormat"),
}
__all__ = ["__version__", *_EXPORTS]  # noqa: PLE0604 (the export table is the one list)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'lensbench' has no attribute {name!r}")
    module, attr = _EXPORTS[name]
    value = import_module(module) if attr is None else getattr(import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
