"""Dataset registry entry point: one ``DatasetSpec`` per LensBench recipe (``lensing.recipes``),
plus the real file datasets of ``tasks.real_datasets``.

Registered through ``[project.entry-points."lensbench.datasets"] lensbench = "lensbench.tasks.datasets:specs"``.
The dataset name and version are the recipe's; classes, image shape, pixel scale and the per-image
parameter columns come from the recipe (see ``lensing/RECIPES.md``).
"""

from __future__ import annotations

from lensbench.lensing import recipes
from lensbench.specs import DatasetSpec
from lensbench.tasks import real_datasets


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
    """One DatasetSpec per LensBench recipe, in name order, then the real file datasets."""
    return [_spec(r) for r in recipes.all_recipes()] + real_datasets.specs()
