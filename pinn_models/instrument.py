"""The instrument (pixel grid + PSF) that a task's images were simulated with, for models that render.

``task_instrument(task, geom, psf_fwhm=None)`` returns a ``lensing.instruments.Instrument`` on the
model's grid (``geom.npix`` pixels at ``geom.pixel_scale``) and a short ``why`` string saying where
its PSF came from:

- ``psf_fwhm`` given: that Gaussian FWHM in arcsec (``0``: no PSF), truncation 5 sigma
  (lenstronomy's SimAPI default);
- otherwise derived from the task's training dataset: ``registry.datasets.get(task.dataset)``, its
  ``recipe`` through ``registry.recipes.get``, and that recipe's instrument (``recipe.inst``): the
  Gaussian FWHM and truncation the dataset was rendered with (``lensing.render``, ``psf=True``).
  No PSF when the task has no pixel scale (nominal geometry), when its dataset is not registered
  or is read from files (no recipe), or when the recipe's instrument has no PSF (e.g.
  ``lensfinding-des-v1``, whose per-band PSF is applied inside the recipe, not by its instrument).

A domain-shift task (``test_dataset``) gets the PSF of its training dataset: the model is built
once, for the data it is trained on.
"""

from __future__ import annotations

from dataclasses import replace

from lensbench import registry
from lensbench.lensing.instruments import Instrument

DEFAULT_TRUNCATION = 5.0  # sigma; lenstronomy SimAPI default


def recipe_instrument(task) -> Instrument | None:
    """The instrument of the recipe that made the task's training dataset, or None (not registered,
    a file dataset, or a recipe without an ``inst``)."""
    try:
        dataset = registry.datasets.get(task.dataset)
        recipe = registry.recipes.get(dataset.recipe) if dataset.recipe else None
    except registry.RegistryError:
        return None
    inst = getattr(recipe, "inst", None)
    return inst if isinstance(inst, Instrument) else None


def task_instrument(task, geom, psf_fwhm: float | None = None) -> tuple[Instrument, str]:
    """(instrument on the model's grid, where its PSF came from); see the module docstring."""
    base = Instrument(name="pinn", npix=geom.npix, pixel_scale=geom.pixel_scale, psf_fwhm=None,
                      psf_truncation=DEFAULT_TRUNCATION)
    if psf_fwhm is not None:
        fwhm = float(psf_fwhm)
        return replace(base, psf_fwhm=fwhm if fwhm > 0 else None), f"psf_fwhm={fwhm:g} given"
    if geom.nominal:
        return base, "no PSF: the task has no pixel scale"
    inst = recipe_instrument(task)
    if inst is None:
        return base, f"no PSF: dataset {task.dataset!r} has no registered recipe instrument"
    if inst.psf_fwhm is None:
        return base, f"no PSF: instrument {inst.name!r} of dataset {task.dataset!r} has none"
    return (replace(base, name=inst.name, psf_fwhm=float(inst.psf_fwhm), psf_truncation=inst.psf_truncation),
            f"instrument {inst.name!r} of dataset {task.dataset!r}: Gaussian FWHM {inst.psf_fwhm:g}\"")
