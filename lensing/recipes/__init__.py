"""Dataset recipes: versioned simulators whose parameter priors are plain data.

``get(name) -> Recipe``, ``names() -> list[str]``; ``Recipe.generate(class_name, n, seed, *,
data_root=None, device=None) -> (images float32 (n, 1, H, W), columns dict[str, float32 (n,)])``.
The recipes are documented in ``lensing/RECIPES.md``.
"""

from __future__ import annotations

from . import deeplense, lensbench, lensfinding
from .base import CLASSES, Recipe, vortex_half_length

__all__ = ["Recipe", "get", "names", "all_recipes", "CLASSES", "vortex_half_length"]

_RECIPES: dict[str, Recipe] = {r.name: r for r in (*deeplense.RECIPES, *lensbench.RECIPES, *lensfinding.RECIPES)}


def names() -> list[str]:
    return sorted(_RECIPES)


def all_recipes() -> list[Recipe]:
    return [_RECIPES[n] for n in names()]


def get(name: str) -> Recipe:
    if name not in _RECIPES:
        raise KeyError(f"lensing.recipes.get: unknown recipe {name!r}; expected one of {names()}")
    return _RECIPES[name]
