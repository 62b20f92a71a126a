"""Resolve ``--model`` arguments (a registered name, ``path/to/file.py:factory`` or
``pkg.module:factory``) and build the model of a run (``build``).

The object after the colon is either a ``ModelSpec`` or a plain factory ``f(task) -> nn.Module``;
a plain factory becomes a ``user`` model named after it (its docstring's first line describes it).

``build`` calls the factory and, when the model has lazy modules (``nn.LazyConv2d``, ``nn.LazyLinear``...),
initialises them with one forward pass of a dummy batch of the task's input shape (zeros, eval mode,
no gradients) before anything counts parameters or builds an optimiser. A factory or dummy pass that
raises is a ``ModelBuildError``: one paragraph naming the model and the task, no traceback; the run
becomes a ``failed`` record. Models without lazy modules are not run here (their numbers are unchanged).
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


class ModelBuildError(ValueError):
    """A model's factory, or the dummy forward pass that initialises its lazy modules, failed."""


DUMMY_BATCH = 2  # items in the dummy batch (2, not 1: some layers refuse a batch of one)


def build(spec: ModelSpec, task):
    """``spec.factory(task)``, its lazy modules initialised by a dummy batch of ``task.input_shape``;
    ``ModelBuildError`` (one paragraph, no traceback) when the factory or that pass raises."""
    import torch

    where = f"model {spec.name!r} on task {task.id!r}"
    try:
        model = spec.factory(task)
    except Exception as exc:  # the model's own code: any error, reported in one paragraph
        raise ModelBuildError(f"{where}: building the model failed: {_one_line(exc)}") from exc
    if not isinstance(model, torch.nn.Module):
        raise ModelBuildError(f"{where}: the factory returned {type(model).__name__}, not a torch.nn.Module")
    if not _has_lazy(model):
        return model
    x = torch.zeros(DUMMY_BATCH, *task.input_shape)
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(x)
    except Exception as exc:
        raise ModelBuildError(f"{where}: the forward pass of a dummy batch of shape {tuple(x.shape)} that "
                              f"initialises its lazy modules failed: {_one_line(exc)}") from exc
    model.train(was_training)
    if _has_lazy(model):
        raise ModelBuildError(f"{where}: some lazy modules are still uninitialised after a forward pass of a "
                              f"dummy batch of shape {tuple(x.shape)} (a lazy module the forward pass never uses?)")
    return model


def _has_lazy(model) -> bool:
    from torch.nn.modules.lazy import LazyModuleMixin

    return any(isinstance(m, LazyModuleMixin) and m.has_uninitialized_params() for m in model.modules())


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:500]}{'...' if len(text) > 500 else ''}"


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
