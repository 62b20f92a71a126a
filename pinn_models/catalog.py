"""Registered physics-informed models, each beside its physics-off twin (entry point
``lensbench.pinn_models.catalog:specs``).

| name | family | twin | kinds |
|---|---|---|---|
| ``lens-inversion`` / ``lens-inversion-nophys`` | pinn / ablation | each other | classification, regression |
| ``lens-synthesis`` / ``lens-synthesis-nophys`` | pinn / ablation | each other | + anomaly |
| ``lensiformer`` / ``lensiformer-nophys`` | pinn / ablation | each other | classification, regression |

A twin is the same class with ``physics=False`` (zero deflection, physics loss terms off): same
modules and trainable parameter count, so the difference in the table is what the physics adds.
"""

from __future__ import annotations

from functools import partial

from lensbench.pinn_models import lens_inversion, lensiformer, synthesis
from lensbench.specs import ModelSpec

_CLS_REG = ("classification", "regression")

_MODELS = (
    # (name, module, kinds, config, description)
    ("lens-inversion", lens_inversion, _CLS_REG,
     {"width": 32, "n_src": 32, "source_frac": 0.3, "consistency_weight": 1.0, "prior_weight": 1e-2,
      "aux_weight": 0.1},
     ("CNN predicts SIE+shear; differentiable inverse lensing (ray shooting + bilinear splatting) "
     "reconstructs the source; CNN head on image, source and re-lensing residual")),
    ("lens-synthesis", synthesis, (*_CLS_REG, "anomaly"),
     {"width": 32, "supersample": 2, "reconstruction_weight": 1.0, "prior_weight": 1e-2, "aux_weight": 0.1},
     ("CNN predicts SIE+shear and a Sersic source; differentiable rendering of the smooth lens; "
     "head on the residual (anomaly score: residual energy)")),
    ("lensiformer", lensiformer, _CLS_REG,
     {"width": 32, "d_model": 64, "heads": 4, "layers": 2, "tokens_per_side": 8, "n_src": 32,
      "source_frac": 0.3, "consistency_weight": 1.0, "prior_weight": 1e-2, "aux_weight": 0.1},
     ("image-plane patch tokens cross-attend to source-plane tokens from a differentiable inverse "
     "mapping through a predicted SIE+shear")),
)


def specs() -> list[ModelSpec]:
    out = []
    for name, module, kinds, config, description in _MODELS:
        twin = f"{name}-nophys"
        out.append(ModelSpec(
            name=name, factory=partial(module.build, **config), family="pinn", kinds=kinds,
            description=description, source=f"{module.__name__}:build", twin=twin,
            config={**config, "physics": True}))
        out.append(ModelSpec(
            name=twin, factory=partial(module.build_nophys, **config), family="ablation", kinds=kinds,
            description=f"physics-off twin of {name} (zero deflection, no physics loss terms)",
            source=f"{module.__name__}:build_nophys", twin=name, config={**config, "physics": False}))
    return out
