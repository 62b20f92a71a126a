"""Resolve ``--model`` arguments: a registered name, ``path/to/file.py:factory`` or ``pkg.module:factory``.

The object after the colon is either a ``ModelSpec`` or a plain factory ``f(task) -> nn.Module``;
a plain factory becomes a ``user`` model named after it (its docstring's first line describes it).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from pathlib import Path

from lensbench import kinds, registry
from lensbench.specs import ModelSpec


class ModelRefError(ValueError):
    """A ``--model`` reference could not be resolved."""


def resolve(ref: str) -> ModelSpec:
    if ":" not in ref:
        return registry.models.get(ref)
    target, _, attr = ref.rpartition(":")
    if target.endswith(".py"):
        module = _load_file(Path(target))
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise ModelRefError(f"--model {ref!r}: cannot import module {target!r} ({exc})") from exc
    if not hasattr(module, attr):
        raise ModelRefError(f"--model {ref!r}: {target!r} has no attribute {attr!r}")
    obj = getattr(module, attr)
    if isinstance(obj, ModelSpec):
        return obj
    if not callable(obj):
        raise ModelRefError(f"--model {ref!r}: {attr!r} is neither a ModelSpec nor a factory f(task) -> nn.Module")
    doc = (obj.__doc__ or "").strip().splitlines()
    name = re.sub(r"[^a-z0-9_.\-]+", "-", f"{Path(target).stem.split('.')[-1]}-{attr}".lower()).strip("-")
    return ModelSpec(name=name, factory=obj, family="user", kinds=kinds.NAMES,
                     description=doc[0] if doc else f"user model {ref}", source=ref)


def _load_file(path: Path):
    if not path.is_file():
        raise ModelRefError(f"--model: file {str(path)!r} does not exist")
    name = f"lensbench_user_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's file failed to import: say which file
        raise ModelRefError(f"--model: importing {str(path)!r} failed: {type(exc).__name__}: {exc}") from exc
    return module
