"""``lens-inversion``: LensPINN done right, registered as a 2x2 ablation (``catalog``).

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

Model card.

- Physics: the lens equation beta = theta - alpha(theta) for SIE + external shear
  (lenstronomy conventions, ``lensing.mass``), used to pull the image back to the source plane and
  push the reconstructed source forward again; no PSF and no noise model (the inversion works on
  the observed, PSF-blurred image; the consistency residual absorbs the blur).
- Gradients: the task loss reaches both CNNs, the head and, through the source and residual
  channels and the normalised parameters, the lens parameters; the consistency term reaches the
  lens parameters through the ray positions (bilinear splatting and ``grid_sample`` are
  differentiable in them; the earlier LensPINN rounded the source-pixel index, so no gradient
  reached the lens; tests check every lens parameter gets one), then ``param_head`` and
  ``lens_encoder``; the prior and the aux term reach only ``param_head`` and ``lens_encoder``.
  Physics runs in float32 with autocast off.
- The four variants (same modules, same parameter count):
  ``lens-inversion`` (physics on, aux on); ``lens-inversion-noaux`` (physics on, no aux term);
  ``lens-inversion-nophys-aux`` (zero deflection: the "source" is the image centre resampled on
  the same grid and the residual what lies outside it; consistency and prior off; aux term on, so
  the parameter head still learns the true lens and feeds it to the head); ``lens-inversion-nophys``
  (zero deflection, only the task loss; the v1 twin).
- Cost per step: 1.16x its physics-off twin on 2 CPU threads, batch 64 x 64 x 64 (``perf/README.md``,
  measured before the 2x2 split; the aux term costs a few elementwise ops); re-measure with
  ``perf/pinn_step.py``, which now times the four variants interleaved.
- Known failure cases: the consistency has local minima in theta_E (arcs mapped onto a wrong ring
  also re-lens consistently), which is what the aux term guards against, so ``-noaux`` may settle
  in one; a source larger than the compact source grid (``source_frac`` of the half field) or a
  lens far from the centre cannot be explained; on data that are not a single galaxy-scale lens
  (lens finding with non-lenses, real cutouts) the lens parameters have no truth and the physics
  channels are mostly noise; ``pixel_scale`` 0 (PNG cutouts) leaves only nominal angles.
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
