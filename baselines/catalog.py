"""The baseline and reference models LensBench registers (entry point ``lensbench.baselines.catalog:specs``).

Each spec's ``config`` holds the architecture hyperparameters and is exactly what its factory is
called with, so the config hash identifies the architecture. No model loads pretrained weights.
"""

from __future__ import annotations

from functools import partial

from lensbench.baselines import autoencoders, classical, deep_svdd, global_stats, reference, timm_models
from lensbench.specs import ModelSpec

_TIMM_DESCRIPTIONS = {
    "resnet18": "ResNet-18 (timm, from scratch), linear head",
    "resnet10t": "ResNet-10-T (timm, tiered stem, from scratch), linear head",
    "efficientnet-b0": "EfficientNet-B0 (timm, from scratch), linear head",
    "convnext-atto": "ConvNeXt-Atto (timm, from scratch), linear head",
    "vit-tiny-p8": "ViT-Tiny with 8 px patches at the task's image size (timm, from scratch)",
}

# Learning-rate factors per preset, picked on validation only by ``perf/lr_sweep.py`` (records under
# ``perf/lr_sweep/substructure-lensbench-v2/``; seed 0, val macro AUC, factors of the budget's 2e-3):
# - resnet10t: 0.5 / 1 / 2 / 4 / 8 -> 0.747 / 0.753 / 0.772 / 0.786 / 0.726 at 48,000 images (float32);
#   at 144,000 images 2 and 4 tie (0.823 / 0.824), so 4 stands for the 96,000-image medium;
# - convnext-atto: 0.25 / 0.5 / 1 / 2 -> 0.511 / 0.515 / 0.512 / 0.506 at 96,000 images (bfloat16): at
#   chance at every factor (its 4x4-patch stem on 64x64 images does not pick up the substructure);
#   0.5 by the rule, not by a real difference;
# - resnet18: 0.25 / 0.5 / 1 -> 0.643 / 0.673 / 0.676 at 96,000 images (bfloat16); 2 was below 1 at
#   48,000 (0.522 / 0.567), so it keeps 1 (no entry).
# Models not listed and not named here keep factor 1 (not swept yet).
LR_SCALES = {"resnet10t": {"medium": 4.0}, "convnext-atto": {"medium": 0.5}}

_ANOMALY = [
    ("conv-ae", autoencoders.conv_ae, "lensbench.baselines.autoencoders:conv_ae",
     "Convolutional autoencoder; score = per-image reconstruction MSE", dict(autoencoders.DEFAULTS)),
    ("vae", autoencoders.vae, "lensbench.baselines.autoencoders:vae",
     "Convolutional VAE (recon + beta*KL); score = reconstruction MSE of the posterior mean",
     {**autoencoders.DEFAULTS, "beta": 1.0}),
    ("aae", autoencoders.aae, "lensbench.baselines.autoencoders:aae",
     "Adversarial autoencoder, Gaussian latent prior (2008.12731 family); score = reconstruction MSE",
     {**autoencoders.DEFAULTS, "adv_weight": 0.1, "disc_width": 256}),
    ("deep-svdd", deep_svdd.deep_svdd, "lensbench.baselines.deep_svdd:deep_svdd",
     "Deep SVDD one-class network (bias-free); score = squared distance to the centre",
     dict(deep_svdd.DEFAULTS)),
    ("iforest-pca", classical.iforest_pca, "lensbench.baselines.classical:iforest_pca",
     "IsolationForest on PCA features (scikit-learn); no gradient training", dict(classical.DEFAULTS)),
]


def specs() -> list[ModelSpec]:
    out = []
    for name, (timm_name, extra) in timm_models.ARCHITECTURES.items():
        config = {"timm_name": timm_name, "pretrained": False, **extra}
        out.append(ModelSpec(
            name=name, factory=partial(timm_models.build_timm, timm_name=timm_name, **extra),
            family="baseline", kinds=("classification", "regression"),
            description=_TIMM_DESCRIPTIONS[name], source="lensbench.baselines.timm_models:build_timm", config=config,
            lr_scales=LR_SCALES.get(name, {}),
        ))
    for name, fn, source, description, config in _ANOMALY:
        out.append(ModelSpec(
            name=name, factory=partial(fn, **config), family="baseline", kinds=("anomaly",),
            description=description, source=source, config=config,
        ))
    out += [
        ModelSpec("class-prior", reference.ClassPrior, "reference", ("classification",),
                  "Predicts the training class frequencies (AUC 0.5)", "lensbench.baselines.reference:ClassPrior"),
        ModelSpec("mean-predictor", reference.MeanPredictor, "reference", ("regression",),
                  "Predicts the training mean of the standardised targets",
                  "lensbench.baselines.reference:MeanPredictor"),
        ModelSpec("random-score", partial(reference.RandomScore, seed=0), "reference", ("anomaly",),
                  "Fixed-seed pseudo-random score per image (AUC ~0.5)", "lensbench.baselines.reference:RandomScore",
                  config={"seed": 0}),
        ModelSpec("global-stats", partial(global_stats.global_stats, **global_stats.DEFAULTS), "reference",
                  ("classification",),
                  "Image-statistics probe: gradient-boosted trees (scikit-learn) on the 16-annulus radial profile, "
                  "total flux and second moments only; what a global shortcut explains",
                  "lensbench.baselines.global_stats:global_stats", config=dict(global_stats.DEFAULTS)),
    ]
    return out
