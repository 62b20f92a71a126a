"""``lens-inversion``: LensPINN done right (and its physics-off twin ``lens-inversion-nophys``).

Pipeline (classification or regression):

1. a small CNN (``lens_encoder``) predicts the macro lens, SIE (theta_E, e1, e2, center_x, center_y)
   + external shear (gamma1, gamma2), each bounded to a range scaled by the field of view
   (``common.lens_bounds``);
2. the differentiable inverse mapping (``lensing.inverse``) ray-shoots every image pixel through
   that lens (``lensing.mass``) and splats the image onto a compact source-plane grid; the source is
   re-lensed to the image plane with ``grid_sample``; residual = image - re-lensed source;
3. a second CNN sees [image, source (resized to the image grid), residual] and an MLP head sees its
   features, the lens-encoder features and the (normalised) lens parameters.

Loss = task loss + ``consistency_weight`` x mean(residual^2) (the re-lensing consistency: a correct
lens maps all images of one source point onto the same source pixel) + ``prior_weight`` x weak
Gaussian prior on the lens parameters + ``aux_weight`` x supervised lens-parameter loss when the
training batch carries the true simulation parameters (``batch["aux"]``; never at val/test; in units
of each parameter's half-range; 0.1 by default: it guides the lens encoder towards the right basin
of the consistency, which has local minima in theta_E, without dominating the task loss).

The earlier LensPINN rounded the source-plane pixel index, so no gradient reached the lens; here the
bilinear splatting and resampling carry it (tests check that every lens parameter gets one).

Physics off (``physics=False``): zero deflection, so the "source" is the centre of the image
resampled on the same grid and the residual is what lies outside it; physics loss terms are off.
Same modules, same parameter count.
"""

from __future__ import annotations

import torch

from lensbench import kinds
from lensbench.pinn_models.common import ConvEncoder, InversionModel, mlp


class LensInversionNet(InversionModel):
    def __init__(self, task, physics: bool = True, width: int = 32, **physics_config):
        kinds.require(task, "lens-inversion", "classification", "regression")
        super().__init__(task, physics, width=width, **physics_config)
        self.feature_encoder = ConvEncoder(3 * self.geom.channels, width)
        self.head = mlp(self.feature_encoder.out_dim + self.lens_encoder.out_dim + len(self.bounds),
                        task.n_outputs)

    def _forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
        feat, unit, extras = self.invert(x)
        source = self.lensing.source_on_image_grid(extras["source"]).to(x.dtype)
        stack = torch.cat([x, source, extras["residual"].to(x.dtype)], dim=1)
        out = self.head(torch.cat([self.feature_encoder(stack), feat, unit.to(feat.dtype)], dim=1))
        return out, extras


def build(task, **config) -> LensInversionNet:
    """The model for ``task``; ``config`` as registered (``physics``, ``aux_params``, sizes, weights)."""
    return LensInversionNet(task, **config)
