"""Parts shared by the physics-informed models and their physics-off twins.

- ``Geometry``: the image grid in arcsec from the task (``task.pixel_scale`` x ``task.input_shape``).
  When the task does not know its pixel scale (``task.pixel_scale == 0``, e.g. PNG cutouts) a
  nominal 0.1 arcsec/px is used (``Geometry.nominal`` is then True); angles are then in "nominal
  arcsec" and only the shape of the mapping, not its absolute scale, is physical.
- ``ConvEncoder``: a small CNN, image -> feature vector.
- ``BoundedHead``: features -> named physical parameters squeezed into fixed ranges
  (``lo + (hi - lo) * sigmoid(raw)``), the ranges scaled by the field of view.
- ``lens_bounds`` / ``source_bounds``: those ranges for SIE + external shear and a Sersic source.
- ``LensPhysics``: the physics switch. With ``physics=True`` rays are shot through the predicted
  SIE + shear (``lensing.mass``); with ``physics=False`` the deflection is zero (beta = theta), so
  the "source plane" is just the image resampled onto the source grid. Everything else (tensors,
  shapes, trainable parameters) is identical, which makes the physics-off variants a fair ablation.
- ``PhysicsModel``: base class owning the lens encoder, the parameter head, the loss assembly
  (the task kind's default loss, ``lensbench.kinds``, + named physics terms + the optional
  supervised parameter term) and the forward cache that ``loss()`` reads;
  ``InversionModel`` adds ``LensPhysics`` and the re-lensing consistency term (used by
  ``lens-inversion`` and ``lensiformer``; ``lens-synthesis`` renders instead).
- ``SmoothRender`` and ``linear_fit``: the smooth-lens renderer through the instrument PSF of the
  task's dataset and the linear amplitude/background solve of the models that render
  (``lens-synthesis``, ``grav-imaging``).

The two switches of the 2x2 ablation (``catalog``), both arguments of every model:

- ``physics``: the lens equation (rays through the predicted lens) and the physics loss terms
  (consistency or reconstruction, and the weak prior on the lens model) on, or the identity
  mapping (beta = theta) and those terms off;
- ``aux_params``: the supervised loss on the dataset's true simulation parameters (``aux_params``
  part, train batches that carry ``batch["aux"]`` only) on or off, independently of ``physics``.

Neither switch adds, removes or resizes a module: the four variants of a model have the same
trainable parameters; with physics off the parameter head still feeds the task head (its
normalised output is an input of the head), so it is trained by the task loss (and by the aux
loss when that is on).

Physics runs in float32 with autocast disabled: ray positions in bfloat16 would be off by a
quarter pixel and destroy the gradient the physics is there to provide.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lensbench import kinds
from lensbench.lensing import grid as lgrid
from lensbench.lensing import inverse
from lensbench.lensing import render as lrender
from lensbench.pinn_models.instrument import task_instrument

NOMINAL_PIXEL_SCALE = 0.1  # arcsec / px, used when task.pixel_scale == 0
LENS_NAMES = ("theta_E", "e1", "e2", "center_x", "center_y", "gamma1", "gamma2")


@dataclass(frozen=True)
class Geometry:
    channels: int
    npix: int
    pixel_scale: float
    nominal: bool  # True when the task gave no pixel scale and the nominal one is used

    @property
    def fov(self) -> float:
        """Field of view (arcsec, side of the square image)."""
        return self.npix * self.pixel_scale

    @classmethod
    def from_task(cls, task) -> Geometry:
        c, h, w = (int(s) for s in task.input_shape)
        if h != w:
            raise ValueError(f"pinn_models: task {task.id!r} input_shape {task.input_shape} must be square "
                             f"(H == W) for the lensing grid")
        ps = float(task.pixel_scale or 0.0)
        return cls(c, h, ps if ps > 0 else NOMINAL_PIXEL_SCALE, not ps > 0)


def lens_bounds(fov: float) -> dict[str, tuple[float, float, float]]:
    """(lo, hi, initial value) per SIE + shear parameter; angles scale with the field of view.

    theta_E in [0.03, 0.4] x fov, starting at 0.18 x fov (DeepLense Model II: 1.28" of 6.46");
    centre within +-0.1 fov; |e1|, |e2| < 0.4; |gamma1|, |gamma2| < 0.15.
    """
    return {
        "theta_E": (0.03 * fov, 0.4 * fov, 0.18 * fov),
        "e1": (-0.4, 0.4, 0.0), "e2": (-0.4, 0.4, 0.0),
        "center_x": (-0.1 * fov, 0.1 * fov, 0.0), "center_y": (-0.1 * fov, 0.1 * fov, 0.0),
        "gamma1": (-0.15, 0.15, 0.0), "gamma2": (-0.15, 0.15, 0.0),
    }


def source_bounds(fov: float) -> dict[str, tuple[float, float, float]]:
    """(lo, hi, initial value) per Sersic source parameter (amplitude is solved linearly, not predicted)."""
    return {
        "R_sersic": (0.01 * fov, 0.15 * fov, 0.04 * fov), "n_sersic": (0.5, 4.0, 1.5),
        "e1": (-0.5, 0.5, 0.0), "e2": (-0.5, 0.5, 0.0),
        "center_x": (-0.15 * fov, 0.15 * fov, 0.0), "center_y": (-0.15 * fov, 0.15 * fov, 0.0),
    }


class ConvEncoder(nn.Module):
    """``depth`` stride-2 stages of (conv3x3, BatchNorm, GELU) x 2, then global average pooling."""

    def __init__(self, in_ch: int, width: int = 32, depth: int = 4):
        super().__init__()
        layers, c = [], in_ch
        for i in range(depth):
            out = width * min(2 ** i, 4)
            layers += [nn.Conv2d(c, out, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(out), nn.GELU(),
                       nn.Conv2d(out, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.GELU()]
            c = out
        self.net = nn.Sequential(*layers)
        self.out_dim = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).mean(dim=(2, 3))


class BoundedHead(nn.Module):
    """Linear map to named parameters, each squeezed into (lo, hi) by a sigmoid.

    The bias starts at the value giving each parameter its initial value; the weights start small
    (but non-zero, so the encoder gets gradients from the start).
    """

    def __init__(self, in_dim: int, bounds: dict[str, tuple[float, float, float]], init_std: float = 1e-2):
        super().__init__()
        self.names = tuple(bounds)
        self.linear = nn.Linear(in_dim, len(self.names))
        lo = torch.tensor([bounds[n][0] for n in self.names], dtype=torch.float32)
        hi = torch.tensor([bounds[n][1] for n in self.names], dtype=torch.float32)
        p0 = torch.tensor([(bounds[n][2] - bounds[n][0]) / (bounds[n][1] - bounds[n][0]) for n in self.names])
        self.register_buffer("lo", lo, persistent=False)
        self.register_buffer("hi", hi, persistent=False)
        with torch.no_grad():
            nn.init.normal_(self.linear.weight, std=init_std)
            self.linear.bias.copy_(torch.logit(p0.clamp(1e-3, 1 - 1e-3)))

    def forward(self, feat: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Returns the unit-interval vector (N, P) (a normalised feature) and the dict of (N,) values."""
        unit = torch.sigmoid(self.linear(feat.float()))
        values = self.lo + (self.hi - self.lo) * unit
        return unit, {n: values[:, i] for i, n in enumerate(self.names)}


def mlp(in_dim: int, out_dim: int, hidden: int = 128) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, out_dim))



def linear_fit(model: torch.Tensor, image: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Per image and channel least-squares ``a * model + b`` of ``image``; model (B, 1|C, H, W)."""
    m = model - model.mean(dim=(2, 3), keepdim=True)
    i = image - image.mean(dim=(2, 3), keepdim=True)
    var = m.pow(2).mean(dim=(2, 3), keepdim=True)
    a = (m * i).mean(dim=(2, 3), keepdim=True) / (var + eps * (1 + var.detach()))
    return a * m + image.mean(dim=(2, 3), keepdim=True)


class SmoothRender(nn.Module):
    """Differentiable render of the smooth lens (SIE + shear, physics off: no lens) with the data's
    own pipeline (``lensing.render.render_block``: supersampled ray shooting, source light, pixel
    integration, the instrument's PSF from ``instrument.task_instrument``); no trainable parameters.

    ``forward(params, source_image=None)``: ``params`` holds the ``LENS_NAMES`` and ``src_*`` Sersic
    values (B,); the Sersic has unit amplitude; ``source_image`` (keys of ``lensing.light.interpolated``)
    adds a pixelated source. Returns (B, 1, H, W) float32 per unit pixel area.
    """

    def __init__(self, task, geom: Geometry, physics: bool, supersample: int = 2, psf_fwhm: float | None = None):
        super().__init__()
        self.physics, self.supersample = bool(physics), int(supersample)
        self.instrument, self.psf_origin = task_instrument(task, geom, psf_fwhm)
        x, y = lgrid.pixel_grid(geom.npix, geom.pixel_scale, supersample=self.supersample)
        self.register_buffer("x", x, persistent=False)
        self.register_buffer("y", y, persistent=False)
        psf = self.instrument.psf_matrices()  # None without a PSF
        self.register_buffer("psf_rows", None if psf is None else psf[0], persistent=False)
        self.register_buffer("psf_cols", None if psf is None else psf[1], persistent=False)

    def forward(self, params: dict[str, torch.Tensor], source_image: dict | None = None) -> torch.Tensor:
        batch = params["theta_E"].shape[0]
        if self.physics:
            lens = {k: params[k].float() for k in LENS_NAMES}
        else:  # the identity mapping: a shear of exactly zero deflects by exactly zero
            zero = self.x.new_zeros(batch)
            lens = {"gamma1": zero, "gamma2": zero}
        source = {"amp": self.x.new_ones(batch), **{k[4:]: v.float() for k, v in params.items()
                                                      if k.startswith("src_")}}
        psf = None if self.psf_rows is None else (self.psf_rows, self.psf_cols)
        img = lrender.render_block(self.x, self.y, lens, source, source_image, self.supersample, psf, 1.0)
        return img.unsqueeze(1)


class LensPhysics(nn.Module):
    """The physics switch and the image <-> source-plane mapping (no trainable parameters).

    ``invert(image, lens)`` returns the source-plane reconstruction (B, C, n_src, n_src), its
    coverage weight, the re-lensed image and the consistency residual (image - re-lensed), all
    about a per-image, per-channel background (median) that is removed before and added back after,
    because images arrive standardised (background not 0). The source grid is compact: it spans
    ``source_frac`` of the half field of view, so a lens that does not focus the arcs onto it cannot
    explain them (this is what stops "no lens" from being a trivial perfect fit of the consistency).
    """

    def __init__(self, geom: Geometry, physics: bool, n_src: int = 32, source_frac: float = 0.3):
        super().__init__()
        self.geom, self.physics, self.n_src = geom, bool(physics), int(n_src)
        x, y = lgrid.pixel_grid(geom.npix, geom.pixel_scale)
        sx, sy = inverse.source_grid(self.n_src, source_frac * geom.fov / 2)
        for name, t in (("x", x), ("y", y), ("sx", sx), ("sy", sy)):
            self.register_buffer(name, t, persistent=False)

    def rays(self, lens: dict[str, torch.Tensor], batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.physics:
            return inverse.zero_lens_rays(self.x, self.y, batch)
        return inverse.ray_shoot(self.x, self.y, {k: v.float() for k, v in lens.items()})

    def invert(self, image: torch.Tensor, lens: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        with torch.autocast(image.device.type, enabled=False):
            image = image.float()
            bx, by = self.rays(lens, image.shape[0])
            bg = image.flatten(2).median(dim=2).values[:, :, None, None]
            source, weight = inverse.reconstruct_source(image - bg, bx, by, self.sx, self.sy)
            relensed = bg + inverse.relens(source, bx, by, self.sx, self.sy)
        return {"source": source, "weight": weight, "relensed": relensed, "residual": image - relensed}

    def source_on_image_grid(self, source: torch.Tensor) -> torch.Tensor:
        """The source-plane image resized to the image size (a channel the CNN head can stack)."""
        size = (self.geom.npix, self.geom.npix)
        return F.interpolate(source, size=size, mode="bilinear", align_corners=True)


def gaussian_prior(values: dict[str, torch.Tensor], bounds: dict[str, tuple[float, float, float]]
                   ) -> torch.Tensor:
    """Weak prior: mean over the batch of sum_p ((v_p - init_p) / half-range_p)^2 / 2."""
    terms = [((values[n] - b[2]) / (0.5 * (b[1] - b[0]))) ** 2 for n, b in bounds.items()]
    return 0.5 * torch.stack(terms, dim=1).sum(dim=1).mean()


# Dataset columns (lensing.recipes) holding the true value of each predicted parameter. Source
# columns are used only for Sersic-source recipes (they carry "src_n"; real-galaxy recipes do not,
# and their "src_R" is not a Sersic radius).
AUX_COLUMNS = {**{n: n for n in LENS_NAMES}, "src_R_sersic": "src_R", "src_n_sersic": "src_n",
               "src_e1": "src_e1", "src_e2": "src_e2", "src_center_x": "src_x", "src_center_y": "src_y"}


def aux_param_loss(values: dict[str, torch.Tensor], bounds: dict[str, tuple[float, float, float]],
                   aux: dict[str, torch.Tensor] | None) -> torch.Tensor | None:
    """Supervised parameter loss from the dataset's true simulation parameters (train batches only).

    Mean over the parameters whose column (``AUX_COLUMNS``) is in ``aux`` of the squared error in
    units of the parameter's half-range. ``None`` when ``aux`` is absent or holds none of them.
    A non-finite true value means "no such parameter" (the lens columns of a non-lens image in the
    lens-finding training set are NaN): that entry adds nothing, gradient included, and the mean runs
    over the known entries only (``None`` when none is known).
    """
    if not aux:
        return None
    sersic = "src_n" in aux
    cols = {n: AUX_COLUMNS.get(n) for n in bounds}
    terms, known = [], []
    for n, b in bounds.items():
        if (c := cols[n]) not in aux or not (sersic or not n.startswith("src_")):
            continue
        truth = aux[c].to(values[n].dtype)
        ok = torch.isfinite(truth)
        if not bool(ok.all()):
            truth = torch.where(ok, truth, values[n].detach())  # error exactly 0 there, no gradient
        terms.append(((values[n] - truth) / (0.5 * (b[1] - b[0]))) ** 2)
        known.append(ok)
    if not terms:
        return None
    stacked, ok = torch.stack(terms, dim=1), torch.stack(known, dim=1)
    if bool(ok.all()):
        return stacked.mean()
    count = int(ok.sum())
    return stacked.sum() / count if count else None


class PhysicsModel(nn.Module):
    """Base class: lens encoder + bounded lens-parameter head + the two switches + loss assembly.

    Subclasses implement ``_forward(x) -> (output, extras)``; ``extras`` holds at least
    ``params`` (dict of predicted parameters) and the tensors the physics terms need. ``forward``
    caches them for ``loss(batch, output)``, which returns each part by name and their weighted
    sum under ``"loss"``: ``task``; with ``physics`` the terms of ``_physics_terms(extras)`` and
    ``prior``; with ``aux_params`` the supervised ``aux_params`` term when the batch carries known
    true parameters. ``loss`` consumes the cache; when ``output`` is not the last forward's, the
    extras are recomputed from ``batch["image"]``.
    """

    def __init__(self, task, physics: bool, aux_params: bool = True, width: int = 32,
                 prior_weight: float = 1e-2, aux_weight: float = 0.1, bounds: dict | None = None):
        super().__init__()
        self.kind = kinds.get(task.kind)
        self.physics, self.aux_params = bool(physics), bool(aux_params)
        self.geom = Geometry.from_task(task)
        self.bounds = bounds if bounds is not None else lens_bounds(self.geom.fov)
        self.prior_weight, self.aux_weight = float(prior_weight), float(aux_weight)
        self.lens_encoder = ConvEncoder(self.geom.channels, width)
        self.param_head = BoundedHead(self.lens_encoder.out_dim, self.bounds)
        self._cache: tuple[torch.Tensor, dict] | None = None

    def predict_params(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        feat = self.lens_encoder(x)
        unit, params = self.param_head(feat)
        return feat, unit, params

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, extras = self._forward(x)
        self._cache = (out, extras)
        return out

    def _extras_for(self, batch: dict, output: torch.Tensor) -> dict:
        cache, self._cache = self._cache, None  # released here: no graph outlives the step
        if cache is not None and cache[0] is output:
            return cache[1]
        return self._forward(batch["image"])[1]  # output did not come from the last forward

    def _physics_terms(self, extras: dict) -> dict[str, tuple[float, torch.Tensor]]:
        """name -> (weight, value) of the physics loss terms; override."""
        return {}

    def _task_term(self, batch: dict, output: torch.Tensor, extras: dict) -> torch.Tensor:
        return self.kind.loss(output, batch["target"])

    def loss(self, batch: dict, output: torch.Tensor) -> dict[str, torch.Tensor]:
        extras = self._extras_for(batch, output)
        parts = {"task": self._task_term(batch, output, extras)}
        total = parts["task"]
        terms = {}
        if self.physics:
            terms.update(self._physics_terms(extras))
            terms["prior"] = (self.prior_weight, self._prior(extras))
        if self.aux_params and self.aux_weight > 0:
            aux = self._aux(extras, batch.get("aux"))
            if aux is not None:
                terms["aux_params"] = (self.aux_weight, aux)
        for name, (w, v) in terms.items():
            parts[name] = v
            total = total + w * v
        parts["loss"] = total
        return parts

    def _prior(self, extras: dict) -> torch.Tensor:
        return gaussian_prior(extras["params"], self.bounds)

    def _aux(self, extras: dict, aux: dict | None) -> torch.Tensor | None:
        return aux_param_loss(extras["params"], self.bounds, aux)

    def n_trainable(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


class InversionModel(PhysicsModel):
    """A ``PhysicsModel`` that inverts the image through its predicted lens (``LensPhysics``) and
    adds the re-lensing consistency term mean((image - re-lensed source)^2) to the loss."""

    def __init__(self, task, physics: bool, aux_params: bool = True, width: int = 32, n_src: int = 32,
                 source_frac: float = 0.3, consistency_weight: float = 1.0, prior_weight: float = 1e-2,
                 aux_weight: float = 0.1):
        super().__init__(task, physics, aux_params, width=width, prior_weight=prior_weight,
                         aux_weight=aux_weight)
        self.consistency_weight = float(consistency_weight)
        self.lensing = LensPhysics(self.geom, physics, n_src=n_src, source_frac=source_frac)

    def invert(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """Lens-encoder features, normalised parameters and the physics tensors (``LensPhysics.invert``)
        plus ``params``."""
        feat, unit, params = self.predict_params(x)
        return feat, unit, {"params": params, **self.lensing.invert(x, params)}

    def _physics_terms(self, extras: dict) -> dict:
        return {"consistency": (self.consistency_weight, extras["residual"].pow(2).mean())}
