"""Registered physics-informed models, each as a 2x2 ablation (entry point
``lensbench.pinn_models.catalog:specs``).

Every PINN ``P`` is registered four times, the same class built with two switches
(``common.PhysicsModel``): ``physics`` (the lens equation and the physics loss terms) and
``aux_params`` (supervised loss on the dataset's true lens and source parameters):

| name | physics | aux_params | family | twin |
|---|---|---|---|---|
| ``P`` | on | on | pinn | ``P-nophys`` |
| ``P-noaux`` | on | off | ablation | ``P-nophys`` |
| ``P-nophys-aux`` | off | on | ablation | ``P`` |
| ``P-nophys`` | off | off | ablation | ``P`` |

for ``P`` in ``lens-inversion`` (classification, regression), ``lens-synthesis`` (+ anomaly),
``lensiformer`` (classification, regression) and, added after v1 (not in the v1 suite),
``grav-imaging`` (classification, regression; gravitational imaging: smooth fit, noise-normalised
residual, source-plane back-projection). ``P`` and ``P-nophys`` are the v1 pair (v1 records
name them): that pair differs in both switches, so "physics" is confounded there with the
privileged supervision; ``P`` vs ``P-nophys-aux`` and ``P-noaux`` vs ``P-nophys`` isolate the
physics, ``P`` vs ``P-noaux`` and ``P-nophys-aux`` vs ``P-nophys`` the supervision.

``ModelSpec.config`` of each holds the switches (``"physics"``, ``"aux_params"``: bool), the group
(``"ablation_of": P``, on all four, the full model included) and the model's hyper-parameters
(the same for the four). ``twin`` is the physics-flipped variant: at the same ``aux_params`` for the
two new variants, and the v1 pair for ``P`` and ``P-nophys`` (unchanged, so v1 tables keep their
meaning). The four have the same modules and trainable parameter count (the switches add, remove
or resize nothing); what each switch changes is in ``common`` and each model's docstring.
"""

from __future__ import annotations

from functools import partial

from lensbench.pinn_models import grav_imaging, lens_inversion, lensiformer, synthesis
from lensbench.specs import ModelSpec, SpecError

_CLS_REG = ("classification", "regression")

_MODELS = (
    # (name, module, kinds, hyper-parameters, description)
    ("lens-inversion", lens_inversion, _CLS_REG,
     {"width": 32, "n_src": 32, "source_frac": 0.3, "consistency_weight": 1.0, "prior_weight": 1e-2,
      "aux_weight": 0.1},
     ("CNN predicts SIE+shear; differentiable inverse lensing (ray shooting + bilinear splatting) "
     "reconstructs the source; CNN head on image, source and re-lensing residual")),
    ("lens-synthesis", synthesis, (*_CLS_REG, "anomaly"),
     {"width": 32, "supersample": 2, "reconstruction_weight": 1.0, "prior_weight": 1e-2, "aux_weight": 0.1},
     ("CNN predicts SIE+shear and a Sersic source; differentiable rendering of the smooth lens through "
     "the dataset's instrument PSF; head on the residual (anomaly score: residual energy)")),
    ("lensiformer", lensiformer, _CLS_REG,
     {"width": 32, "d_model": 64, "heads": 4, "layers": 2, "tokens_per_side": 8, "n_src": 32,
      "source_frac": 0.3, "consistency_weight": 1.0, "prior_weight": 1e-2, "aux_weight": 0.1},
     ("image-plane patch tokens cross-attend to source-plane tokens from a differentiable inverse "
     "mapping through a predicted SIE+shear")),
    ("grav-imaging", grav_imaging, _CLS_REG,
     {"width": 32, "supersample": 1, "source_pixels": 10, "source_half_width": 0.12, "amplitude_max": 2.0,
      "n_src": 32, "source_frac": 0.3, "border": 4, "noise_floor": 1e-2, "reconstruction_weight": 0.1,
      "prior_weight": 1e-2, "aux_weight": 0.1},
     ("gravitational imaging: CNN predicts SIE+shear and a Sersic + 10x10 pixel source; differentiable "
     "render through the dataset's PSF; head on image, smooth fit, noise-normalised residual and "
     "source-plane back-projection")),
    ("grav-resnet", grav_imaging, _CLS_REG,
     {"width": 32, "supersample": 1, "source_pixels": 10, "source_half_width": 0.12, "amplitude_max": 2.0,
      "n_src": 32, "source_frac": 0.3, "border": 4, "noise_floor": 1e-2, "reconstruction_weight": 0.1,
      "prior_weight": 1e-2, "aux_weight": 0.1, "head_arch": "resnet10t", "head_lr": 16.0},
     ("grav-imaging with a ResNet-10-T (timm, from scratch) as the head's image encoder, trained at 16x "
     "the lr of the physics encoder")),
)

# suffix -> (physics, aux_params, suffix of the twin, what the variant is)
VARIANTS = {
    "": (True, True, "-nophys", None),
    "-noaux": (True, False, "-nophys",
               "{p} without the supervised loss on the true lens/source parameters (physics on)"),
    "-nophys-aux": (False, True, "",
                    ("{p} with the lens equation replaced by the identity and no physics loss terms, "
                     "keeping the supervised loss on the true lens/source parameters")),
    "-nophys": (False, False, "",
                ("physics-off twin of {p} (zero deflection, no physics loss terms, no supervised "
                 "parameter loss)")),
}


# Learning-rate factor per preset of each PINN, shared by its four variants (so the 2x2 differs in its
# switches only), picked on validation by ``perf/lr_sweep.py`` (``perf/README.md``, section lr-sweep;
# records under ``perf/lr_sweep/substructure-lensbench-v2/``; seed 0, val macro AUC, 96,000 images):
# - grav-imaging: factors 4 / 2 / 1 / 0.5 / 0.25 -> 0.761 / 0.773 / 0.785 / 0.797 / 0.802 (still rising
#   at the low end, but by less than a seed's spread: 0.125 not tried).
# - grav-resnet (its ResNet head at 16x the factor): 0.25 / 0.5 -> 0.831 / 0.740 (0.125 not tried).
LR_SCALES: dict[str, dict[str, float]] = {"grav-imaging": {"medium": 0.25}, "grav-resnet": {"medium": 0.25}}

# Optimisation hyper-parameters tuned per physics setting (physics on: P, P-noaux; off: P-nophys-aux,
# P-nophys), where one shared value would fail one side of the comparison. Only keys that change how a
# variant is optimised, never what it computes (``TUNABLE_PER_PHYSICS``), so the 2x2 still differs in its
# switches only as a network (same modules, same parameters); each side gets its best value from the
# same validation-only sweep grid (``perf/README.md``, section lr-sweep):
# - grav-resnet head_lr (its ResNet head's lr over the model's), seeds 1-2, val macro AUC, 96,000 images:
#   physics on: 16 / 8 / 4 -> 0.827 / 0.804 / 0.798; physics off (-nophys-aux): 16 / 8 / 4 / 2 ->
#   0.527 / 0.770 / 0.811 / 0.807 (at 16 the twin stays at chance on 2 of 3 seeds).
TUNABLE_PER_PHYSICS = frozenset({"head_lr"})
PER_PHYSICS: dict[str, dict[bool, dict]] = {"grav-resnet": {True: {}, False: {"head_lr": 4.0}}}


def ablation_names(name: str) -> dict[tuple[bool, bool], str]:
    """The four variants of PINN ``name`` by (physics, aux_params)."""
    return {(phys, aux): f"{name}{suffix}" for suffix, (phys, aux, _, _) in VARIANTS.items()}


def specs() -> list[ModelSpec]:
    out = []
    for name, by_physics in PER_PHYSICS.items():
        for tuned in by_physics.values():
            if not set(tuned) <= TUNABLE_PER_PHYSICS:
                raise SpecError(f"PER_PHYSICS[{name!r}]: only {sorted(TUNABLE_PER_PHYSICS)} may differ between "
                                f"the physics settings of a 2x2, got {sorted(tuned)}")
    for name, module, kinds, hyper, description in _MODELS:
        for suffix, (physics, aux, twin, about) in VARIANTS.items():
            tuned = PER_PHYSICS.get(name, {}).get(physics, {})
            config = {**hyper, **tuned, "physics": physics, "aux_params": aux}
            out.append(ModelSpec(
                name=f"{name}{suffix}", factory=partial(module.build, **config),
                family="pinn" if not suffix else "ablation", kinds=kinds,
                description=description if about is None else about.format(p=name),
                source=f"{module.__name__}:build", twin=f"{name}{twin}",
                config={**config, "ablation_of": name}, lr_scales=LR_SCALES.get(name, {})))
    return out
