"""``lens-synthesis``: analysis by synthesis, registered as a 2x2 ablation (``catalog``).

A small CNN predicts a smooth lens model, SIE + external shear (``common.lens_bounds``), and a
parametric elliptical Sersic source (R_sersic, n_sersic, e1, e2, center_x, center_y;
``common.source_bounds``). The smooth lens is rendered differentiably with the simulator's own
pipeline (``lensing.render.render_block``): every pixel (2x2 supersampled, then block-averaged =
pixel integration) is ray-shot through the lens (``lensing.lens_model``), the Sersic is evaluated
there (``lensing.light``) and the image is convolved with the instrument's Gaussian PSF (edge-
replicating, as the datasets are rendered). The PSF is that of the task's training dataset: its
recipe's instrument (``instrument.task_instrument``: e.g. FWHM 0.16" for the Euclid-like
``lensbench-v1`` and Model II, 0.08" for HST-like, 0.087" for Model I); no PSF for file datasets,
for tasks without a pixel scale and for ``lensfinding-des-v1`` (its per-band PSF is applied inside
the recipe, not by its instrument); ``psf_fwhm=`` overrides (0: none). ``psf_origin`` on the model
says which applied. Images arrive per-image standardised, so the amplitude and the background are
not predicted but solved per image and channel by linear least squares (observed ~ a * render + b,
closed form and differentiable, as lenstronomy solves linear amplitudes).

- classification / regression: residual = observed - fitted render; a second CNN sees
  [image, residual], the head also sees the lens-encoder features and the parameters.
  Loss = task + ``reconstruction_weight`` x mean(residual^2) + ``prior_weight`` x weak prior +
  ``aux_weight`` x supervised parameter loss when the train batch carries the true lens and source
  parameters (``lensing.recipes`` columns theta_E ... gamma2 and, for Sersic-source recipes,
  src_R, src_n, src_e1, src_e2, src_x, src_y; see ``common.AUX_COLUMNS``).
- anomaly: ``forward`` returns the fitted render (N, C, H, W); the task loss is the reconstruction
  error of the image by the smooth model (plus prior with physics on, aux with aux on);
  ``anomaly_score`` = mean squared residual per image (what a smooth lens cannot explain, e.g.
  substructure).

Model card.

- Physics: the SIE + shear lens equation, a Sersic source, pixel integration and the instrument
  PSF: a forward model of the smooth lens (no substructure, no noise model; one render shared by
  all channels, each with its own linear amplitude).
- Gradients: the reconstruction term (or the anomaly task loss) reaches every lens and source
  parameter through the ray positions and the Sersic profile (the PSF and the linear fit are
  linear maps), then ``param_head`` and ``lens_encoder``; the task loss reaches them also through
  the residual channel and the normalised parameters fed to the head; prior and aux reach only
  ``param_head`` and ``lens_encoder``. Physics in float32 with autocast off.
- The four variants (same modules, same parameter count): ``lens-synthesis`` (physics on, aux on);
  ``lens-synthesis-noaux`` (physics on, no aux term); ``lens-synthesis-nophys-aux`` (identity
  mapping: the same Sersic rendered unlensed, through the same PSF; reconstruction and prior off
  except that the anomaly task loss is the reconstruction itself; aux on);
  ``lens-synthesis-nophys`` (identity mapping, task loss only; the v1 twin). With physics off on
  the anomaly task the lens outputs of ``param_head`` have no path to the loss and stay untrained
  unless the aux term is on.
- Cost per step: 1.08x its physics-off twin (CPU time), 2 CPU threads, batch 64 x 1 x 64 x 64, the
  lensbench-v1 PSF included (``perf/pinn_step.py``, section ``pinn`` of ``perf/README.md``).
- Known failure cases: a source that is not Sersic-like (real-galaxy sources: ``lensbench-v1-realsrc``,
  lens finding) leaves structured residuals for every image, so the residual is less specific to
  substructure; a wrong PSF (file datasets, lens finding, a domain-shift test set with another
  instrument: the model keeps its training PSF) is absorbed by the Sersic size and the residual; the
  render has local minima in theta_E and the source position (a ring of the wrong radius), which
  the aux term guards against; light of the lens galaxy is not modelled.
"""

from __future__ import annotations

import torch

from lensbench.pinn_models.common import (
    ConvEncoder,
    Geometry,
    PhysicsModel,
    SmoothRender,
    lens_bounds,
    linear_fit,
    mlp,
    source_bounds,
)


class LensSynthesisNet(PhysicsModel):
    def __init__(self, task, physics: bool = True, aux_params: bool = True, width: int = 32,
                 supersample: int = 2, reconstruction_weight: float = 1.0, prior_weight: float = 1e-2,
                 aux_weight: float = 0.1, psf_fwhm: float | None = None):
        fov = Geometry.from_task(task).fov
        bounds = {**lens_bounds(fov), **{f"src_{k}": v for k, v in source_bounds(fov).items()}}
        super().__init__(task, physics, aux_params, width=width, prior_weight=prior_weight,
                         aux_weight=aux_weight, bounds=bounds)
        self.reconstruction_weight = float(reconstruction_weight)
        # anomaly tasks (no targets): the output is the fitted render, the task loss its residual
        self.reconstructs = not self.kind.supervised
        self.supersample = int(supersample)
        self.renderer = SmoothRender(task, self.geom, physics, self.supersample, psf_fwhm)
        self.instrument, self.psf_origin = self.renderer.instrument, self.renderer.psf_origin
        if not self.reconstructs:
            self.feature_encoder = ConvEncoder(2 * self.geom.channels, width)
            self.head = mlp(self.feature_encoder.out_dim + self.lens_encoder.out_dim + len(bounds),
                            task.n_outputs)

    def render(self, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """The smooth lens (physics off: no lens) of unit Sersic amplitude through the instrument's
        PSF, per unit pixel area -> (B, 1, H, W), float32 (``lensing.render.render_block``)."""
        return self.renderer(params)

    def _forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
        feat, unit, params = self.predict_params(x)
        with torch.autocast(x.device.type, enabled=False):
            fitted = linear_fit(self.render(params), x.float())
            residual = x.float() - fitted
        extras = {"params": params, "fitted": fitted, "residual": residual}
        if self.reconstructs:
            return fitted, extras
        stack = torch.cat([x, residual.to(x.dtype)], dim=1)
        out = self.head(torch.cat([self.feature_encoder(stack), feat, unit.to(feat.dtype)], dim=1))
        return out, extras

    def _task_term(self, batch: dict, output: torch.Tensor, extras: dict) -> torch.Tensor:
        if self.reconstructs:
            return extras["residual"].pow(2).mean()
        return super()._task_term(batch, output, extras)

    def _physics_terms(self, extras: dict) -> dict:
        if self.reconstructs:  # the reconstruction is already the task loss
            return {}
        return {"reconstruction": (self.reconstruction_weight, extras["residual"].pow(2).mean())}

    def anomaly_score(self, x: torch.Tensor) -> torch.Tensor:
        """Mean squared residual per image (N,): what the smooth model cannot explain."""
        _, extras = self._forward(x)
        return extras["residual"].pow(2).mean(dim=(1, 2, 3))


def build(task, **config) -> LensSynthesisNet:
    """The model for ``task``; ``config`` as registered (``physics``, ``aux_params``, sizes, weights)."""
    return LensSynthesisNet(task, **config)
