"""Dataset recipes: versioned simulators whose parameter priors are plain data.

``Recipe.generate(class_name, n, seed, *, data_root=None, device=None) -> (images float32
(n, C, H, W), columns dict[str, float32 (n,)])``. The recipes are documented in ``lensing/RECIPES.md``.

``all_recipes()`` lists the project's recipes; the harness registers them through the entry point
``[project.entry-points."lensbench.recipes"] lensbench = "lensbench.lensing.recipes:all_recipes"``
and looks them up by name in ``lensbench.registry.recipes`` (where other packages' recipes join them).
"""

from __future__ import annotations

from . import deeplense, lensbench, lensfinding
from .base import CLASSES, Recipe
from .components import vortex_half_length

__all__ = ["CLASSES", "Recipe", "all_recipes", "vortex_half_length"]


def all_recipes() -> list[Recipe]:
    """The project's recipes, in name order."""
    return sorted((*deeplense.RECIPES, *lensbench.RECIPES, *lensfinding.RECIPES), key=lambda r: r.name)
