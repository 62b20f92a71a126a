"""timm image models adapted to a task: input channels, image size and output width.

One generic factory, :func:`build_timm`, serves every timm baseline. It never loads pretrained
weights (``pretrained=False``): every number in the suite comes from training on the task's own
data. The head is timm's own linear classifier with ``task.n_outputs`` outputs: logits for
classification, standardised predictions for regression (the trainer's default losses apply).
"""

from __future__ import annotations

import math

import timm
import torch

from lensbench import kinds
from lensbench.specs import TaskSpec

# Registered name -> (timm architecture, extra keyword arguments for timm.create_model).
ARCHITECTURES: dict[str, tuple[str, dict]] = {
    "resnet18": ("resnet18", {}),
    "resnet10t": ("resnet10t", {}),
    "efficientnet-b0": ("efficientnet_b0", {}),
    "convnext-atto": ("convnext_atto", {}),
    # ViT-Tiny (depth 12, width 192, 3 heads) with 8-pixel patches: 64 tokens at 64 px.
    "vit-tiny-p8": ("vit_tiny_patch16_224", {"patch_size": 8}),
}


def timm_kwargs(timm_name: str, task: TaskSpec, **extra) -> dict:
    """The keyword arguments ``build_timm`` passes to ``timm.create_model`` for ``task``."""
    kinds.require(task, f"timm baseline {timm_name!r}", "classification", "regression")
    c, h, w = (int(s) for s in task.input_shape)
    kwargs = {"pretrained": False, "in_chans": c, "num_classes": task.n_outputs, **extra}
    if timm_name.startswith("vit_"):
        # Position embeddings need the grid size. Sizes that the patch does not divide (150 px with
        # 8 px patches) are zero-padded on the bottom/right up to the next multiple of the patch.
        p = int(kwargs.get("patch_size", 16))
        kwargs["img_size"] = (math.ceil(h / p) * p, math.ceil(w / p) * p)
        if h % p or w % p:
            # timm only relaxes its strict input-size check together with dynamic_img_size; the
            # padded grid always equals the position-embedding grid, so nothing is resampled.
            kwargs.update(dynamic_img_pad=True, dynamic_img_size=True)
    return kwargs


def build_timm(task: TaskSpec, *, timm_name: str, **extra) -> torch.nn.Module:
    """A freshly initialised timm model for ``task`` (no pretrained weights, ever)."""
    if extra.get("pretrained"):
        raise ValueError(f"timm baseline {timm_name!r}: pretrained weights are not allowed in LensBench")
    return timm.create_model(timm_name, **timm_kwargs(timm_name, task, **extra))
