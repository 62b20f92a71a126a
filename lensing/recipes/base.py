"""The ``Recipe``: a dataset simulator described by data (priors), and its generation pipeline.

A recipe is a frozen dataclass whose fields are the priors (``lensing.recipes.priors``) and small
spec dataclasses (``lensing.recipes.components``): ``SersicSource`` / ``CosmosSource``, ``Brightness``,
``PointMassSubhalos`` / ``Vortex`` / ``NoSubstructure``, ``Noise``. ``Recipe.generate`` turns them
into images:

1. draw the per-image parameters (``Recipe.sample``) with CPU ``torch.Generator``s seeded by
   ``sha256(recipe name, version, class, seed, stage)``, one generator per stage (``macro``,
   ``source``, ``sub``, ``noise``). The macro-lens and source priors are the same objects for
   every class (only ``substructure`` is keyed by class), so their distributions are identical
   across classes by construction;
2. render the noiseless image with ``lensing.render.render`` (float32, on ``device``), in batches,
   compiled or eager as ``generate(compile=...)`` says, by default as ``render.compile_default(n)``;
   a point-mass vortex as the closed-form ``vortex`` lens group (``lensing.vortex``);
3. set the brightness: a fixed ``amp``, a ``magnitude`` (converted with the recipe's zero point
   like lenstronomy's ``magnitude2amplitude``) or a target ``snr`` (see below);
4. add noise (``lensing.noise.add_noise``; DeepLense Model I additionally draws integer counts).

SNR (the ``snr`` column): the matched-filter signal-to-noise ratio of the noiseless image ``s``
(image units: flux per pixel per second), ``snr = sqrt(sum_pixels s^2 / (s / t + sigma_bkg^2))``,
t = exposure time, sigma_bkg = background rms. For ``Brightness(kind="snr")`` recipes it is
computed on the *smooth* image (macro lens only, substructure removed) and the source amplitude is
solved (bisection) so that this SNR equals the drawn target; the substructure then perturbs the
image at fixed source brightness, so neither ``snr`` nor ``src_amp`` depends on the class. For the
other recipes it is measured on the full noiseless image.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from lensbench.lensing import render

from .. import cosmo
from .. import instruments as _instruments
from .. import noise as _noise
from .brightness import matched_snr, sersic_unit_flux, solve_amp_for_snr, stage_generator
from .components import (
    CosmosSource,
    NoSubstructure,
    PointMassSubhalos,
    SersicSource,
    Vortex,
    vortex_half_length,
)
from .priors import Polar, Prior

if TYPE_CHECKING:  # names used in annotations only
    from .components import Brightness, Noise

BATCH = 128  # images rendered at once (memory bound: B * (npix*s)^2 * K floats)
CLASSES = ("no_sub", "cdm", "axion")

LENS_COLUMNS = ("theta_E", "e1", "e2", "gamma1", "gamma2", "center_x", "center_y")
SERSIC_COLUMNS = ("src_amp", "src_R", "src_n", "src_e1", "src_e2", "src_x", "src_y")
COSMOS_COLUMNS = ("src_amp", "src_R", "src_x", "src_y", "src_phi", "src_index")
SUB_COLUMNS = ("n_sub", "sub_mass_total", "sub_mass_fraction", "log10_m_a")
OBS_COLUMNS = ("snr", "exposure_time")
LINE_KEYS = ("line_theta_E", "line_x", "line_y", "line_half_length", "line_angle")
# mass-compensation components (lensing.lens_model groups "annulus" and "seg_mono"), full image only
COMP_KEYS = ("ann_theta2", "ann_r_in", "ann_r_out", "ann_x", "ann_y",
             "segm_theta2", "segm_half_length", "segm_d", "segm_u0", "segm_x", "segm_y")


# ----------------------------------------------------------------------------- helpers
def _pair(spec, gen: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(spec, Polar):
        return spec.sample(gen, n)
    a, b = spec
    return a.sample(gen, n), b.sample(gen, n)


# ----------------------------------------------------------------------------- the recipe
@dataclass(frozen=True)
class Recipe:
    """A versioned simulation recipe. See the module docstring and ``lensing/RECIPES.md``."""

    name: str
    version: int
    description: str
    instrument: str
    lens: Mapping[str | tuple[str, str], Prior | Polar]
    source: SersicSource | CosmosSource
    brightness: Brightness
    substructure: Mapping[str, NoSubstructure | PointMassSubhalos | Vortex]
    noise: Noise
    z_lens: float = 0.5
    z_source: float = 1.0
    distance_convention: str = "angular"
    supersample: int = 2
    citation: str = ""
    deviations: tuple[str, ...] = ()
    classes: tuple[str, ...] = CLASSES
    extra: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if set(self.substructure) != set(self.classes):
            raise ValueError(f"recipe {self.name!r}: substructure keys {sorted(self.substructure)} "
                             f"must equal classes {self.classes}")
        keys: list[str] = []
        for k in self.lens:
            keys.extend(k if isinstance(k, tuple) else (k,))
        if sorted(keys) != sorted(LENS_COLUMNS):
            raise ValueError(f"recipe {self.name!r}: lens priors must cover {LENS_COLUMNS}, got {keys}")

    # -- metadata
    @property
    def inst(self) -> _instruments.Instrument:
        return _instruments.get(self.instrument)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        n = self.inst.npix
        return (1, n, n)

    @property
    def pixel_scale(self) -> float:
        return float(self.inst.pixel_scale)

    @property
    def columns(self) -> tuple[str, ...]:
        src = COSMOS_COLUMNS if isinstance(self.source, CosmosSource) else SERSIC_COLUMNS
        return LENS_COLUMNS + src + SUB_COLUMNS + OBS_COLUMNS

    @property
    def needs_data_root(self) -> bool:
        return isinstance(self.source, CosmosSource)

    def theta_E_factor(self) -> float:
        """theta_E(M) = factor * sqrt(M / Msun) in this recipe's distance convention."""
        return cosmo.mass_to_theta_E_factor(self.z_lens, self.z_source, self.distance_convention)

    def _check_class(self, class_name: str) -> None:
        if class_name not in self.classes:
            raise ValueError(f"recipe {self.name!r}: unknown class {class_name!r}; expected one of {self.classes}")

    # -- parameters
    def sample(self, class_name: str, n: int, seed: int, *, n_galaxies: int | None = None) -> dict:
        """Draw every per-image parameter (float64 CPU tensors) without rendering.

        Returns a dict with the lens/source/substructure/noise parameters, including the padded
        subhalo arrays ``sub_theta_E``, ``sub_x``, ``sub_y``, ``sub_mask`` (n, K).
        """
        self._check_class(class_name)
        n = int(n)
        tag = (self.name, self.version, class_name, int(seed))
        out: dict[str, torch.Tensor] = {}
        g = stage_generator(*tag, "macro")
        for key, prior in self.lens.items():
            if isinstance(key, tuple):
                out[key[0]], out[key[1]] = _pair(prior, g, n)
            else:
                out[key] = prior.sample(g, n)
        g = stage_generator(*tag, "source")
        src = self.source
        dx, dy = _pair(src.position, g, n)
        out["src_x"], out["src_y"] = out["center_x"] + dx, out["center_y"] + dy
        if isinstance(src, SersicSource):
            out["src_R"] = src.R_sersic.sample(g, n)
            out["src_n"] = src.n_sersic.sample(g, n)
            out["src_e1"], out["src_e2"] = _pair(src.ellipticity, g, n)
        else:
            out["src_R"] = src.half_light_radius.sample(g, n)
            out["src_phi"] = src.rotation.sample(g, n)
            if n_galaxies is None:
                raise ValueError(f"recipe {self.name!r}: sampling a real-galaxy source needs n_galaxies")
            out["src_index"] = torch.randint(0, n_galaxies, (n,), generator=g).double()
        out["brightness"] = self.brightness.value.sample(g, n)
        g = stage_generator(*tag, "noise-params")
        out["exposure_time"] = self.noise.exposure_time.sample(g, n)
        out.update(self._sample_sub(self.substructure[class_name], stage_generator(*tag, "sub"), n, out))
        return out

    def _sample_sub(self, spec, g: torch.Generator, n: int, p: dict) -> dict:
        k_te = self.theta_E_factor()
        nan = torch.full((n,), float("nan"), dtype=torch.float64)
        if isinstance(spec, NoSubstructure):
            z = torch.zeros(n, 1, dtype=torch.float64)
            return {"sub_theta_E": z, "sub_x": z.clone(), "sub_y": z.clone(),
                    "sub_mask": torch.zeros(n, 1, dtype=torch.bool), "sub_mass": z.clone(),
                    "n_sub": torch.zeros(n, dtype=torch.float64), "log10_m_a": nan}
        if isinstance(spec, PointMassSubhalos):
            if spec.poisson:
                counts = torch.poisson(torch.full((n,), float(spec.count), dtype=torch.float64), generator=g)
                counts = counts.clamp(max=spec.k_max).long()
            else:
                counts = torch.full((n,), int(spec.count), dtype=torch.long)
            K = max(int(counts.max()), 1) if spec.poisson else int(spec.count)
            # draw a full (n, k_max or K) block so the stream does not depend on the batch maximum
            Kd = spec.k_max if spec.poisson else K
            m = spec.mass.sample(g, n * Kd).view(n, Kd)[:, :K]
            lo, hi = spec.radius.low, spec.radius.high
            u = torch.rand(n * Kd, generator=g, dtype=torch.float64).view(n, Kd)[:, :K]
            r = lo + (hi - lo) * u if spec.radial == "r" else torch.sqrt(lo**2 + (hi**2 - lo**2) * u)
            th = 2 * math.pi * torch.rand(n * Kd, generator=g, dtype=torch.float64).view(n, Kd)[:, :K]
            mask = torch.arange(K).view(1, K) < counts.view(n, 1)
            m = torch.where(mask, m, torch.zeros_like(m))
            # DeepLense convention: x = r sin(th), y = r cos(th) (angle is uniform, so equivalent)
            x = p["center_x"].view(n, 1) + r * torch.sin(th)
            y = p["center_y"].view(n, 1) + r * torch.cos(th)
            out = {"sub_theta_E": k_te * torch.sqrt(m), "sub_x": x, "sub_y": y, "sub_mask": mask,
                   "sub_mass": m, "n_sub": counts.double(), "log10_m_a": nan}
            if spec.compensate:  # negative uniform annulus with this image's total subhalo mass
                out.update(ann_theta2=-(k_te**2) * m.sum(dim=1), ann_r_in=torch.full((n,), float(lo), dtype=torch.float64),
                           ann_r_out=torch.full((n,), float(hi), dtype=torch.float64),
                           ann_x=p["center_x"].clone(), ann_y=p["center_y"].clone())
            return out
        if isinstance(spec, Vortex):
            total = spec.mass.sample(g, n)
            log_ma = spec.log10_m_a.sample(g, n)
            ang = 2 * math.pi * torch.rand(n, generator=g, dtype=torch.float64)
            L = torch.from_numpy(vortex_half_length(10.0 ** log_ma.numpy()))
            if spec.through == "disk":  # midpoint uniform in area within `place` of the lens centre (drawn last)
                rr = spec.place * torch.sqrt(torch.rand(n, generator=g, dtype=torch.float64))
                tt = 2 * math.pi * torch.rand(n, generator=g, dtype=torch.float64)
                cx, cy = p["center_x"] + rr * torch.cos(tt), p["center_y"] + rr * torch.sin(tt)
            else:
                cx = p["center_x"] if spec.through == "lens" else torch.zeros(n, dtype=torch.float64)
                cy = p["center_y"] if spec.through == "lens" else torch.zeros(n, dtype=torch.float64)
            out = {"log10_m_a": log_ma, "vortex_half_length": L, "vortex_angle": ang, "vortex_x": cx, "vortex_y": cy}
            if spec.compensate:  # subtract the segment's monopole about the lens centre
                ox, oy = cx - p["center_x"], cy - p["center_y"]
                ca, sa = torch.cos(ang), torch.sin(ang)
                out.update(segm_theta2=-(k_te**2) * total, segm_half_length=L, segm_d=(oy * ca - ox * sa).abs(),
                           segm_u0=ox * ca + oy * sa, segm_x=p["center_x"].clone(), segm_y=p["center_y"].clone())
            if spec.n_points == 0:  # continuous uniform line mass (lensing.mass.line_mass)
                z = torch.zeros(n, 1, dtype=torch.float64)
                out.update(sub_theta_E=z, sub_x=z.clone(), sub_y=z.clone(), sub_mask=torch.zeros(n, 1, dtype=torch.bool),
                           sub_mass=total.view(n, 1), n_sub=torch.ones(n, dtype=torch.float64),
                           line_theta_E=k_te * torch.sqrt(total), line_x=cx.clone(), line_y=cy.clone(),
                           line_half_length=L, line_angle=ang)
                return out
            K = spec.n_points
            t = torch.linspace(-1.0, 1.0, K, dtype=torch.float64).view(1, K) * L.view(n, 1)
            x = cx.view(n, 1) + t * torch.cos(ang).view(n, 1)
            y = cy.view(n, 1) + t * torch.sin(ang).view(n, 1)
            m = (total / K).view(n, 1).expand(n, K).clone()
            out.update(sub_theta_E=k_te * torch.sqrt(m), sub_x=x, sub_y=y, sub_mask=torch.ones(n, K, dtype=torch.bool),
                       sub_mass=m, n_sub=torch.full((n,), float(K), dtype=torch.float64))
            return out
        raise TypeError(f"recipe {self.name!r}: unknown substructure spec {spec!r}")

    # -- images
    def generate(self, class_name: str, n: int, seed: int, *, data_root=None, device=None, compile=None):
        """Simulate ``n`` images of ``class_name``; ``compile`` (default ``render.compile_default(n)``):
        render through ``torch.compile`` (``lensing.render``), the same images to float rounding.

        Returns ``(images, columns)``: images float32 (n, 1, H, W) numpy (noise included);
        columns: dict name -> float32 (n,) numpy, keys ``self.columns``. Deterministic for
        (recipe, class_name, n, seed) on one machine and device.
        """
        self._check_class(class_name)
        if int(n) < 1:
            raise ValueError(f"recipe {self.name!r}: n must be >= 1, got {n}")
        device = torch.device(device) if device is not None else torch.device("cpu")
        galaxies = None
        if isinstance(self.source, CosmosSource):
            from .. import sources as _sources

            galaxies = _sources.load_cosmos(data_root)
        p = self.sample(class_name, n, seed, n_galaxies=None if galaxies is None else len(galaxies.ids))
        inst = self.inst
        noise_gen = torch.Generator(device=device)
        noise_gen.manual_seed(stage_generator(self.name, self.version, class_name, int(seed), "noise").initial_seed())
        images = np.empty((n, 1, inst.npix, inst.npix), dtype=np.float32)
        amps = torch.empty(n, dtype=torch.float64)
        snrs = torch.empty(n, dtype=torch.float64)
        compile = render.compile_default(n) if compile is None else bool(compile)
        for a in range(0, n, BATCH):
            b = min(n, a + BATCH)
            img, amp, snr = self._render_batch(p, slice(a, b), inst, galaxies, device, noise_gen, compile)
            images[a:b, 0] = img.cpu().numpy()
            amps[a:b] = amp
            snrs[a:b] = snr
        p["src_amp"] = amps
        p["snr"] = snrs
        return images, self._columns(p)

    def _render_batch(self, p: dict, sl: slice, inst, galaxies, device, noise_gen, compile: bool):
        f32 = {"dtype": torch.float32, "device": device}
        lens = {k: p[k][sl].to(**f32) for k in LENS_COLUMNS}
        has_points = bool(p["sub_mask"][sl].any())
        has_line = "line_theta_E" in p
        has_sub = has_points or has_line
        full = dict(lens)
        if has_points and "vortex_x" in p:  # n equal point masses on a segment: the closed-form vortex
            full.update({k: p[k][sl].to(**f32) for k in ("vortex_x", "vortex_y", "vortex_half_length", "vortex_angle")},
                        vortex_theta_E=p["sub_theta_E"][sl, 0].to(**f32), vortex_n=p["sub_theta_E"].shape[1])
        elif has_points:
            full.update(sub_theta_E=p["sub_theta_E"][sl].to(**f32), sub_x=p["sub_x"][sl].to(**f32),
                        sub_y=p["sub_y"][sl].to(**f32), sub_mask=p["sub_mask"][sl].to(device))
        if has_line:
            full.update({k: p[k][sl].to(**f32) for k in LINE_KEYS})
        full.update({k: p[k][sl].to(**f32) for k in COMP_KEYS if k in p})  # not in `lens`: SNR is set on the smooth image
        B = sl.stop - sl.start
        source, source_image = None, None
        if isinstance(self.source, SersicSource):
            source = {"amp": torch.ones(B, **f32), "R_sersic": p["src_R"][sl].to(**f32),
                      "n_sersic": p["src_n"][sl].to(**f32), "e1": p["src_e1"][sl].to(**f32),
                      "e2": p["src_e2"][sl].to(**f32), "center_x": p["src_x"][sl].to(**f32),
                      "center_y": p["src_y"][sl].to(**f32)}
            unit_flux = sersic_unit_flux(p["src_R"][sl], p["src_n"][sl])
        else:
            idx = p["src_index"][sl].long()
            imgs = torch.from_numpy(galaxies.images[idx.numpy()])
            scale = galaxies.pixel_scale * p["src_R"][sl] / torch.from_numpy(galaxies.half_light_radius[idx.numpy()])
            # unit total flux in the source plane: surface brightness = pixel value / scale^2
            source_image = {"image": imgs.to(**f32), "scale": scale.to(**f32),
                            "center_x": p["src_x"][sl].to(**f32), "center_y": p["src_y"][sl].to(**f32),
                            "phi_G": p["src_phi"][sl].to(**f32), "amp": (1.0 / scale**2).to(**f32)}
            unit_flux = torch.ones(B, dtype=torch.float64)
        unit = render.render(full, source, inst, source_image=source_image, supersample=self.supersample,
                             compile=compile)
        t = p["exposure_time"][sl]
        bkg = float(self.noise.background_rms)
        kind, val = self.brightness.kind, p["brightness"][sl]
        if kind == "amp":
            amp = val
        elif kind == "magnitude":
            amp = 10.0 ** (-0.4 * (val - self.brightness.zero_point)) / unit_flux
        else:
            smooth = render.render(lens, source, inst, source_image=source_image, supersample=self.supersample,
                                   compile=compile) if has_sub else unit
            amp = solve_amp_for_snr(smooth.cpu(), val, t, bkg)
        clean = unit * amp.to(**f32).view(-1, 1, 1)
        snr = val if kind == "snr" else matched_snr(clean.cpu(), t, bkg)
        tt = t.to(**f32)
        noisy = _noise.add_noise(clean, tt, bkg, generator=noise_gen)
        if self.noise.kind == "deeplense_counts":
            noisy = torch.poisson((noisy * tt.view(-1, 1, 1)).clamp(min=0), generator=noise_gen)
        return noisy, amp, snr

    def _columns(self, p: dict) -> dict[str, np.ndarray]:
        m_tot = p["sub_mass"].sum(dim=1)
        m_main = torch.from_numpy(cosmo.theta_E_to_mass(p["theta_E"].numpy(), self.z_lens, self.z_source,
                                                        self.distance_convention))
        p = dict(p, sub_mass_total=m_tot, sub_mass_fraction=m_tot / m_main)
        return {c: p[c].numpy().astype(np.float32) for c in self.columns}

    # -- documentation
    def describe(self) -> str:
        """A markdown block listing every prior (used to build RECIPES.md)."""
        lines = [f"### `{self.name}` (v{self.version})", "", self.description, "",
                 (f"- instrument: `{self.instrument}` ({self.inst.description}); image {self.image_shape}, "
                 f"{self.pixel_scale}\"/px, supersampling {self.supersample}"),
                 (f"- redshifts z_l = {self.z_lens}, z_s = {self.z_source}; mass -> theta_E with "
                 f"`{self.distance_convention}` distances (theta_E = {self.theta_E_factor():.4e} sqrt(M/Msun)\")")]
        for k, v in self.lens.items():
            lines.append(f"- lens `{'/'.join(k) if isinstance(k, tuple) else k}`: {v}")
        for k, v in vars(self.source).items():
            v = " , ".join(str(x) for x in v) if isinstance(v, tuple) else str(v)
            lines.append(f"- source `{k}`: {v}")
        lines.append(f"- brightness: {self.brightness.kind} ~ {self.brightness.value}"
                     + (f" (zero point {self.brightness.zero_point:g})" if self.brightness.kind == "magnitude" else ""))
        for c in self.classes:
            lines.append(f"- class `{c}`: {self.substructure[c].describe()}")
        lines.append(f"- noise: {self.noise.kind}, exposure time ~ {self.noise.exposure_time} s, "
                     f"background rms {self.noise.background_rms:g}")
        if self.deviations:
            lines.append("- deviations from the original: " + "; ".join(self.deviations))
        return "\n".join(lines)
