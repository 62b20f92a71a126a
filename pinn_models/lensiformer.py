"""``lensiformer``: Lensiformer done right, registered as a 2x2 ablation (``catalog``).

The original Lensiformer (DeepLense GSoC 2023) predicted a per-pixel SIS strength, scattered image
pixels to *rounded* source-plane indices (so no gradient reached the lens), and let image patches
attend to source-plane patches. Here:

1. a small CNN predicts SIE + external shear (``common.lens_bounds``);
2. the differentiable inverse mapping (``lensing.inverse``: ray shooting + bilinear splatting)
   builds the source-plane image on a compact grid;
3. image-plane patch tokens (about 8 x 8 patches) run through ``layers`` transformer decoder layers:
   self-attention among image tokens, then cross-attention from image tokens (queries) to the
   source-plane patch tokens (keys and values), then an MLP;
4. mean-pooled tokens + lens-encoder features + lens parameters -> MLP head.

Loss as ``lens-inversion``: task + re-lensing consistency + weak prior + optional supervised lens
parameters from ``batch["aux"]`` (train only). Small: d_model 64, 4 heads, 2 layers (CPU-trainable
at 64 x 64).

Model card.

- Physics: the SIE + shear lens equation (``lensing.mass``) maps the image to the source plane
  (``common.LensPhysics``); the re-lensing consistency compares the image with the source pushed
  back through the same lens. No PSF, no noise model.
- Gradients: the task loss reaches the token embeddings, the decoder, the head and, through the
  source tokens (cross-attention keys and values) and the normalised parameters, the lens
  parameters; the consistency term reaches the lens parameters through the differentiable ray
  positions; prior and aux reach only ``param_head`` and ``lens_encoder``. Physics in float32.
- The four variants (same modules, same parameter count): ``lensiformer`` (physics on, aux on);
  ``lensiformer-noaux`` (physics on, no aux term); ``lensiformer-nophys-aux`` (zero deflection:
  the source tokens are patches of the image centre; consistency and prior off; aux on);
  ``lensiformer-nophys`` (zero deflection, task loss only; the v1 twin).
- Cost per step: 1.06x its physics-off twin on 2 CPU threads, batch 64 x 64 x 64
  (``perf/README.md``, measured before the 2x2 split); re-measure with ``perf/pinn_step.py``.
- Known failure cases: as ``lens-inversion`` (theta_E local minima of the consistency without the
  aux term; sources beyond the compact source grid; no lens truth on lens-finding or real data);
  with ``tokens_per_side`` patches the source grid (32 px) gives 4 x 4 px source patches, so
  structure finer than that is only seen through the image tokens.
"""

from __future__ import annotations

import torch
from torch import nn

from lensbench import kinds
from lensbench.pinn_models.common import InversionModel, mlp


class Lensiformer(InversionModel):
    def __init__(self, task, physics: bool = True, width: int = 32, d_model: int = 64, heads: int = 4,
                 layers: int = 2, tokens_per_side: int = 8, n_src: int = 32, **physics_config):
        kinds.require(task, "lensiformer", "classification", "regression")
        super().__init__(task, physics, width=width, n_src=n_src, **physics_config)
        c, npix = self.geom.channels, self.geom.npix
        p_img, p_src = max(1, npix // tokens_per_side), max(1, n_src // tokens_per_side)
        t_img, t_src = (npix // p_img) ** 2, (n_src // p_src) ** 2
        self.image_tokens = nn.Conv2d(c, d_model, p_img, stride=p_img)
        self.source_tokens = nn.Conv2d(c, d_model, p_src, stride=p_src)
        self.image_pos = nn.Parameter(0.02 * torch.randn(1, t_img, d_model))
        self.source_pos = nn.Parameter(0.02 * torch.randn(1, t_src, d_model))
        layer = nn.TransformerDecoderLayer(d_model, heads, dim_feedforward=2 * d_model, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.decoder = nn.TransformerDecoder(layer, layers, norm=nn.LayerNorm(d_model))
        self.head = mlp(d_model + self.lens_encoder.out_dim + len(self.bounds), task.n_outputs)

    def _forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
        feat, unit, extras = self.invert(x)
        img_tok = self.image_tokens(x).flatten(2).transpose(1, 2) + self.image_pos
        src = extras["source"].to(x.dtype)
        src_tok = self.source_tokens(src).flatten(2).transpose(1, 2) + self.source_pos
        tokens = self.decoder(img_tok, src_tok)
        out = self.head(torch.cat([tokens.mean(dim=1), feat, unit.to(feat.dtype)], dim=1))
        return out, extras


def build(task, **config) -> Lensiformer:
    """The model for ``task``; ``config`` as registered (``physics``, ``aux_params``, sizes, weights)."""
    return Lensiformer(task, **config)
