"""Regression tasks on lensbench-v1 (and -v2) images (targets standardised on train; MSE on standardised
targets is primary, MAE / R2 and raw-unit errors per target beside it).

- ``regression/axion-mass``: log10 m_a [eV] from ``axion`` images (log-uniform prior in
  [-24, -22]). Resolution floor: near m_a = 1e-22 eV the vortex half-length (0.03") is shorter than
  a Euclid pixel (0.101"), so the high-mass end cannot be resolved; see MAE per mass bin.
- ``regression/macro-lens``: SIE theta_E, e1, e2 and external shear gamma1, gamma2 from all
  classes (the physics a lens-modelling network must get right).
- ``regression/subhalo-fraction``: the substructure mass fraction from ``cdm`` images.
- ``regression/axion-mass-v2``: log10 m_a from the ``axion`` images of lensbench-v2 (mass-compensated
  vortex placed anywhere within 2" of the lens centre, vortex mass LogU(1e10, 3e10) Msun; priors
  chosen on the developers' own simulations, not on the test split). Splits:
  ``substructure.V2_SIZES`` (the lensbench-v2 build shared with ``substructure/lensbench-v2``).
- ``regression/macro-lens-v2`` and ``regression/subhalo-fraction-v2``: the v1 tasks on lensbench-v2
  (same build and splits). In v2 the substructure mass is taken from the host, so the subhalo
  fraction no longer moves the Einstein ring: the task measures local structure only.

Citation: LensBench; axion-mass regression follows DeepLense (Alexander et al. 2020).
"""

from __future__ import annotations

from lensbench.specs import TaskSpec
from lensbench.tasks.common import (
    CLASSES,
    DEEPLENSE_CITATION,
    LENSBENCH_CITATION,
    REGRESSORS,
    SLICES,
    dataset,
    presets,
)
from lensbench.tasks.substructure import v2_presets


def _regression(task_id, classes, target, description, citation, slice_by=SLICES, dataset_name="lensbench-v1",
                preset_map=None, **sizes) -> TaskSpec:
    ds = dataset(dataset_name)
    return TaskSpec(
        id=task_id, version=1, kind="regression", dataset=ds.name, description=description, classes=classes,
        target=target, primary_metric="mse", secondary_metrics=("mae", "r2"),
        presets=preset_map or presets(**sizes), input_shape=ds.image_shape, pixel_scale=ds.pixel_scale,
        default_models=REGRESSORS, citation=citation, slice_by=slice_by,
    )


def specs() -> list[TaskSpec]:
    return [
        _regression("regression/axion-mass", ("axion",), ("log10_m_a",),
                    "log10 axion mass from vortex images (MAE per mass bin shows the resolution floor).",
                    DEEPLENSE_CITATION, slice_by=("log10_m_a",) + SLICES),
        _regression("regression/macro-lens", CLASSES, ("theta_E", "e1", "e2", "gamma1", "gamma2"),
                    "SIE Einstein radius and ellipticity, external shear, standardised.", LENSBENCH_CITATION),
        _regression("regression/subhalo-fraction", ("cdm",), ("sub_mass_fraction",),
                    "substructure mass fraction from CDM images.", LENSBENCH_CITATION),
        _regression("regression/macro-lens-v2", CLASSES, ("theta_E", "e1", "e2", "gamma1", "gamma2"),
                    "SIE Einstein radius and ellipticity, external shear, standardised, on lensbench-v2.",
                    LENSBENCH_CITATION, dataset_name="lensbench-v2", preset_map=v2_presets()),
        _regression("regression/subhalo-fraction-v2", ("cdm",), ("sub_mass_fraction",),
                    "substructure mass fraction from the CDM images of lensbench-v2 (mass-compensated: the ring "
                    "does not grow with it).", LENSBENCH_CITATION, dataset_name="lensbench-v2",
                    preset_map=v2_presets()),
        _regression("regression/axion-mass-v2", ("axion",), ("log10_m_a",),
                    "log10 axion mass from the mass-compensated, off-centre vortex images of lensbench-v2.",
                    DEEPLENSE_CITATION, slice_by=("log10_m_a",) + SLICES, dataset_name="lensbench-v2",
                    preset_map=v2_presets()),
    ]
