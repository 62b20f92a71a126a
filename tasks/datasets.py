"""Dataset registry entry point: one ``DatasetSpec`` per simulation recipe in ``lensing.recipes``.

Registered through ``[project.entry-points."lensbench.datasets"] lensbench = "lensbench.tasks.datasets:specs"``.
The dataset name and version are the recipe's; classes, image shape, pixel scale and the per-image
parameter columns come from the recipe (see ``lensing/RECIPES.md``). File-based datasets (adapters)
are registered elsewhere.
"""

from __future__ import annotations

from lensbench.specs import DatasetSpec
from lensbench.lensing import recipes


def _spec(recipe: recipes.Recipe) -> DatasetSpec:
    return DatasetSpec(
        name=recipe.name,
        version=recipe.version,
        description=recipe.description,
        classes=tuple(recipe.classes),
        image_shape=tuple(recipe.image_shape),
        pixel_scale=recipe.pixel_scale,
        recipe=recipe.name,
        columns=tuple(recipe.columns),
        citation=recipe.citation,
    )


def specs() -> list[DatasetSpec]:
    """One DatasetSpec per recipe, in name order."""
    from lensbench.tasks import real_datasets

    return [_spec(r) for r in recipes.all_recipes()] + real_datasets.specs()
