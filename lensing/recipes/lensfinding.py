"""``lensfinding-des-v1``: simulated strong lenses injected into real DES galaxies, HSC-like images.

Training data for the real lens-finding tasks (``tasks/lens_finding.py``), whose test sets are real
HSC and CFHTLS images. Classes ``("nonlens", "lens")`` (label 0, 1); images float32 (3, 64, 64), bands
(g, r, i), each band min-max normalised to [0, 1] per image, like the DeepLense HSC lens-finding
sample (its files have min 0 and max 1 in *every* band, i.e. per band, not jointly).

Pipeline for one image (both classes share every step except the injection):

1. **Host**: one of the 46 real DES galaxies (``des-galaxy-cutouts-grizY/{g,r,i}.fits``, 91x91 at
   0.263"/px), index ~ U{0..45}; sky removed per band (median of an 8-pixel border) and the noise
   sigma measured there (MAD); a random dihedral transform (8 rotations/flips, column ``host_rot``).
2. **Crop and resample** to the HSC grid: 64x64 at 0.168"/px (10.75" field), centred on the host's
   light centroid (i band, 2" radius) plus a jitter U(-0.5, 0.5) DES px per axis, by bilinear
   interpolation (``grid_sample``). The host keeps its DES PSF (~0.9-1"); nothing is deconvolved.
3. **Lens** (class ``lens`` only): SIE + external shear (``lensing.mass``), theta_E ~ U(0.8, 2.5)",
   axis ratio q ~ U(0.6, 1), orientation ~ U(0, pi), shear gamma ~ U(0, 0.08); the lens centre is
   the host centroid. **Source**: a real COSMOS HST galaxy (``lensing.sources.load_cosmos``),
   rescaled to a half-light radius ~ LogUniform(0.15, 0.5)", rotated U(0, 2 pi), placed at
   beta = theta_E * sqrt(U(0, 0.6^2)) (area-uniform inside 0.6 theta_E) from the lens centre, so
   most sources are multiply imaged (arcs, rings, counter-images). Rendered with
   ``lensing.render.render`` (supersampling 2, no PSF; compiled or eager as in ``lensing.recipes.base``),
   then convolved per band with an HSC-like Gaussian PSF: FWHM g 0.75", r 0.70", i 0.60" (HSC-SSP Wide
   median seeing; Aihara et al. 2018).
4. **Colour**: a blue source, g - r ~ U(0, 0.6), r - i ~ U(-0.1, 0.4) mag (star-forming galaxies at
   z ~ 1-2), against red hosts. **Brightness**: a target ``arc_snr`` ~ LogUniform(10, 150): the
   matched-filter S/N of the injected arcs, all three bands combined, against the host cutout's own
   sky noise as measured at DES pixel scale (sqrt(sum_b sum_px (arc_b / sigma_b)^2) * 0.168/0.263).
   ``src_mag`` = 30 - 2.5 log10(unlensed r-band source flux in the cutout's units), a magnitude proxy
   assuming the DES coadd zero point 30.
5. **Noise**: the host's real DES noise (both classes). The arcs get photon noise, Gaussian with
   variance arc * sigma_b / ``SKY_OVER_SIGMA`` (sky-dominated regime: sky level / sky sigma assumed
   50 per DES pixel); it is small next to the sky noise at these S/N.
6. Per band min-max to [0, 1].

Columns: ``theta_E, e1, e2, gamma1, gamma2, center_x, center_y`` (lenstronomy conventions, arcsec;
NaN for ``nonlens``), ``src_R, src_x, src_y, src_phi, src_index, src_mag, mu`` (total magnification;
NaN for ``nonlens``), ``arc_snr`` (0 for ``nonlens``: nothing injected), ``host_index``, ``host_rot``.

Known limitations (documented in ``lensing/RECIPES.md``): 46 hosts only (train and val share them;
the test sets are other surveys); hosts are DES depth and resolution resampled to HSC pixels, so the
injected arcs are sharper than the host; negatives are isolated galaxies, not the look-alikes
(spirals, rings, mergers) of a real survey.

Determinism: per-stage CPU generators seeded by sha256(name, version, class, seed, stage), as in
``lensing.recipes.base``. ``data_root`` (or ``$LENSBENCH_REAL_DATA``) must contain
``des-galaxy-cutouts-grizY/`` and ``cosmos-hst-acs-f814w-cutouts/``. Only numpy and torch are used.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lensbench.lensing import render

from .. import cosmo
from .. import psf as _psf
from .. import sources as _sources
from ..instruments import Instrument
from .brightness import stage_generator

NAME = "lensfinding-des-v1"
VERSION = 1
CLASSES = ("nonlens", "lens")
BANDS = ("g", "r", "i")
NPIX = 64
PIXEL_SCALE = 0.168  # HSC arcsec / px
DES_FOLDER = "des-galaxy-cutouts-grizY"
DES_PIXEL_SCALE = 0.263
PSF_FWHM = {"g": 0.75, "r": 0.70, "i": 0.60}  # arcsec, HSC-SSP Wide median seeing
THETA_E = (0.8, 2.5)
AXIS_RATIO = (0.6, 1.0)
SHEAR = (0.0, 0.08)
SRC_R_HALF = (0.15, 0.5)  # log-uniform, arcsec
SRC_BETA_MAX = 0.6  # source offset <= 0.6 theta_E (area-uniform)
COLOUR_GR = (0.0, 0.6)
COLOUR_RI = (-0.1, 0.4)
ARC_SNR = (10.0, 150.0)  # log-uniform
JITTER = 0.5  # DES pixels, per axis
SKY_OVER_SIGMA = 50.0
ZERO_POINT = 30.0
SUPERSAMPLE = 2
BATCH = 128
_BORDER = 8
_CENTROID_RADIUS = 2.0  # arcsec
LENS_COLUMNS = ("theta_E", "e1", "e2", "gamma1", "gamma2", "center_x", "center_y")
COLUMNS = LENS_COLUMNS + ("src_R", "src_x", "src_y", "src_phi", "src_index", "src_mag", "mu",
                          "arc_snr", "host_index", "host_rot")
CITATION = ("LensBench lensfinding-des-v1: simulated arcs (lenstronomy-convention SIE + shear, real COSMOS "
            "HST sources; Koekemoer et al. 2007) injected into real DES galaxies (DES DR1, Abbott et al. 2018; "
            "cutouts from deeplenstronomy, Morgan et al. 2021); HSC-like imaging after Aihara et al. 2018")
INSTRUMENT = Instrument(name="hsc-like", npix=NPIX, pixel_scale=PIXEL_SCALE, psf_fwhm=None,
                        supersample=SUPERSAMPLE,
                        description="HSC-SSP-like: 64x64, 0.168\"/px, Gaussian PSF per band (g 0.75\", "
                                    "r 0.70\", i 0.60\"), applied by the recipe")


class LensFindingDataError(_sources.RealDataError):
    """The DES host folder (or the real-data root) is missing or malformed."""


# ----------------------------------------------------------------------------- real-data loading
def real_data_root(data_root) -> Path:
    """``data_root``, else ``$LENSBENCH_REAL_DATA``; a clear error when neither is given."""
    root = data_root if data_root is not None else os.environ.get("LENSBENCH_REAL_DATA")
    if root is None:
        raise LensFindingDataError(
            f"recipe {NAME!r} needs real data: pass data_root (--data-root) or set LENSBENCH_REAL_DATA to "
            f"the real-data root that contains '{DES_FOLDER}/' and '{_sources.COSMOS_FOLDER}/'")
    return Path(root)


def read_fits_cube(path: Path) -> np.ndarray:
    """Primary-HDU image (2-D or 3-D) of a FITS file as float64; numpy only."""
    with open(path, "rb") as fh:
        header: dict[str, str] = {}
        done = False
        while not done:
            block = fh.read(2880)
            if len(block) < 2880:
                raise LensFindingDataError(f"{path}: truncated FITS header (no END card)")
            for i in range(0, 2880, 80):
                card = block[i:i + 80].decode("ascii", errors="replace")
                if card[:8].strip() == "END":
                    done = True
                    break
                if card[8:10] == "= ":
                    header[card[:8].strip()] = card[10:].split("/")[0].strip()
        try:
            bitpix, naxis = int(header["BITPIX"]), int(header["NAXIS"])
            shape = tuple(int(header[f"NAXIS{k}"]) for k in range(naxis, 0, -1))
        except KeyError as exc:
            raise LensFindingDataError(f"{path}: FITS header lacks {exc.args[0]}") from None
        dtype = {-64: ">f8", -32: ">f4", 16: ">i2", 32: ">i4", 8: "u1"}.get(bitpix)
        if dtype is None or naxis not in (2, 3):
            raise LensFindingDataError(f"{path}: expected a 2-D or 3-D image, got NAXIS={naxis}, BITPIX={bitpix}")
        count = int(np.prod(shape))
        data = np.frombuffer(fh.read(count * abs(bitpix) // 8), dtype=dtype)
    if data.size != count:
        raise LensFindingDataError(f"{path}: truncated FITS data ({data.size} of {count} values)")
    img = data.reshape(shape).astype(np.float64)
    return img * float(header.get("BSCALE", "1") or 1) + float(header.get("BZERO", "0") or 0)


@dataclass(frozen=True)
class HostSet:
    """Sky-subtracted DES hosts ``images`` (N, 3, 91, 91) float32 in (g, r, i) and their per-band
    sky noise ``sigma`` (N, 3) (border MAD, DES pixel units)."""

    images: np.ndarray
    sigma: np.ndarray


@functools.lru_cache(maxsize=2)
def _load_hosts_cached(folder: str) -> HostSet:
    cubes = []
    for b in BANDS:
        path = Path(folder) / f"{b}.fits"
        if not path.is_file():
            raise LensFindingDataError(f"expected the DES {b}-band cube {str(path)!r} (46 x 91 x 91)")
        cube = read_fits_cube(path)
        if cube.ndim != 3:
            raise LensFindingDataError(f"{path}: expected a cube (N, H, W), got shape {cube.shape}")
        cubes.append(cube)
    if len({c.shape for c in cubes}) != 1:
        raise LensFindingDataError(f"{folder}: band cubes differ in shape {[c.shape for c in cubes]}")
    img = np.stack(cubes, axis=1)  # (N, 3, H, W)
    b = _BORDER
    border = np.concatenate([img[..., :b, :].reshape(*img.shape[:2], -1), img[..., -b:, :].reshape(*img.shape[:2], -1),
                             img[..., b:-b, :b].reshape(*img.shape[:2], -1),
                             img[..., b:-b, -b:].reshape(*img.shape[:2], -1)], axis=-1)
    sky = np.median(border, axis=-1)
    sigma = 1.4826 * np.median(np.abs(border - sky[..., None]), axis=-1)
    if not np.isfinite(img).all() or (sigma <= 0).any():
        raise LensFindingDataError(f"{folder}: non-finite pixels or zero sky noise in the DES cubes")
    return HostSet((img - sky[..., None, None]).astype(np.float32), sigma.astype(np.float64))


def load_hosts(data_root) -> HostSet:
    """The prepared DES hosts under ``data_root`` (or ``$LENSBENCH_REAL_DATA``), cached per process."""
    folder = real_data_root(data_root) / DES_FOLDER
    if not folder.is_dir():
        raise LensFindingDataError(
            f"recipe {NAME!r}: expected the folder '{DES_FOLDER}/' inside the real-data root "
            f"{str(folder.parent)!r}, but {str(folder)!r} does not exist")
    return _load_hosts_cached(str(folder.resolve()))


# ----------------------------------------------------------------------------- geometry helpers
def _dihedral(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Apply dihedral transform k in 0..7 (k % 4 quarter turns, flip if k >= 4) to x (B, C, H, W)."""
    out = torch.empty_like(x)
    for kk in range(8):
        sel = k == kk
        if sel.any():
            y = torch.rot90(x[sel], kk % 4, dims=(-2, -1))
            out[sel] = torch.flip(y, dims=(-1,)) if kk >= 4 else y
    return out


def _centroid(host: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(row, col) light centroid (i band, positive flux within 2" of the array centre), (B,) each."""
    h, w = host.shape[-2:]
    rr, cc = torch.meshgrid(torch.arange(h, dtype=host.dtype), torch.arange(w, dtype=host.dtype), indexing="ij")
    r0, c0 = (h - 1) / 2, (w - 1) / 2
    win = (torch.hypot(rr - r0, cc - c0) <= _CENTROID_RADIUS / DES_PIXEL_SCALE).to(host.dtype)
    f = host[:, 2].clamp(min=0) * win
    tot = f.sum(dim=(-2, -1)).clamp(min=1e-12)
    return (f * rr).sum(dim=(-2, -1)) / tot, (f * cc).sum(dim=(-2, -1)) / tot


def _resample(host: torch.Tensor, row0: torch.Tensor, col0: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of host (B, 3, H, W) on the 64x64 HSC grid centred at DES pixel (row0, col0)."""
    h, w = host.shape[-2:]
    s = PIXEL_SCALE / DES_PIXEL_SCALE
    t = (torch.arange(NPIX, dtype=host.dtype) - (NPIX - 1) / 2) * s
    rows = row0.view(-1, 1, 1) + t.view(1, -1, 1)
    cols = col0.view(-1, 1, 1) + t.view(1, 1, -1)
    grid = torch.stack([(cols / ((w - 1) / 2) - 1).expand(-1, NPIX, NPIX),
                        (rows / ((h - 1) / 2) - 1).expand(-1, NPIX, NPIX)], dim=-1)
    return F.grid_sample(host, grid, mode="bilinear", padding_mode="border", align_corners=True)


@functools.lru_cache(maxsize=4)
def _kernels(dtype) -> list[torch.Tensor]:
    return [_psf.gaussian_kernel_1d(PSF_FWHM[b], PIXEL_SCALE, 3.0, dtype=dtype) for b in BANDS]


def _minmax_per_band(x: torch.Tensor) -> torch.Tensor:
    flat = x.flatten(2)
    lo, hi = flat.min(-1).values[..., None, None], flat.max(-1).values[..., None, None]
    return (x - lo) / (hi - lo).clamp(min=1e-12)


def _u(g: torch.Generator, n: int, lo: float, hi: float) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g, dtype=torch.float64)


def _logu(g: torch.Generator, n: int, lo: float, hi: float) -> torch.Tensor:
    return torch.exp(_u(g, n, math.log(lo), math.log(hi)))


# ----------------------------------------------------------------------------- the recipe
class LensFindingRecipe:
    """Recipe interface (``name, version, classes, image_shape, pixel_scale, columns, generate``) for
    ``lensfinding-des-v1``; see the module docstring."""

    name = NAME
    version = VERSION
    classes = CLASSES
    instrument = INSTRUMENT.name
    inst = INSTRUMENT
    image_shape = (3, NPIX, NPIX)
    pixel_scale = PIXEL_SCALE
    columns = COLUMNS
    needs_data_root = True
    citation = CITATION
    z_lens, z_source = 0.5, 1.5
    description = ("Real lens finding, training data: SIE + shear lenses of real COSMOS galaxies (blue) injected "
                   "into real DES galaxies (red hosts), HSC-like 3x64x64 g,r,i at 0.168\"/px, per-band min-max "
                   "normalised; nonlens = the same hosts without injection. Needs data_root.")

    def theta_E_factor(self) -> float:
        """theta_E(M) = factor * sqrt(M / Msun) at the nominal z_l = 0.5, z_s = 1.5 (informational)."""
        return cosmo.mass_to_theta_E_factor(self.z_lens, self.z_source, "angular")

    def _check_class(self, class_name: str) -> None:
        if class_name not in self.classes:
            raise ValueError(f"recipe {self.name!r}: unknown class {class_name!r}; expected one of {self.classes}")

    def sample(self, class_name: str, n: int, seed: int, *, n_hosts: int, n_galaxies: int) -> dict:
        """Every per-image parameter (float64 CPU tensors) without rendering. Host draws use the same
        prior for both classes; lens/source draws are made for ``lens`` only."""
        self._check_class(class_name)
        tag = (self.name, self.version, class_name, int(seed))
        g = stage_generator(*tag, "host")
        p = {"host_index": torch.randint(0, n_hosts, (n,), generator=g).double(),
             "host_rot": torch.randint(0, 8, (n,), generator=g).double(),
             "jitter_row": _u(g, n, -JITTER, JITTER), "jitter_col": _u(g, n, -JITTER, JITTER)}
        nan = torch.full((n,), float("nan"), dtype=torch.float64)
        if class_name == "nonlens":
            p.update({c: nan.clone() for c in COLUMNS if c not in p})
            p["arc_snr"] = torch.zeros(n, dtype=torch.float64)
            return p
        g = stage_generator(*tag, "macro")
        p["theta_E"] = _u(g, n, *THETA_E)
        q, phi = _u(g, n, *AXIS_RATIO), _u(g, n, 0.0, math.pi)
        e = (1 - q) / (1 + q)
        p["e1"], p["e2"] = e * torch.cos(2 * phi), e * torch.sin(2 * phi)
        gam, phg = _u(g, n, *SHEAR), _u(g, n, 0.0, math.pi)
        p["gamma1"], p["gamma2"] = gam * torch.cos(2 * phg), gam * torch.sin(2 * phg)
        g = stage_generator(*tag, "source")
        p["src_index"] = torch.randint(0, n_galaxies, (n,), generator=g).double()
        p["src_R"] = _logu(g, n, *SRC_R_HALF)
        p["src_phi"] = _u(g, n, 0.0, 2 * math.pi)
        beta = p["theta_E"] * SRC_BETA_MAX * torch.sqrt(_u(g, n, 0.0, 1.0))
        ang = _u(g, n, 0.0, 2 * math.pi)
        p["beta_x"], p["beta_y"] = beta * torch.cos(ang), beta * torch.sin(ang)
        p["colour_gr"], p["colour_ri"] = _u(g, n, *COLOUR_GR), _u(g, n, *COLOUR_RI)
        p["arc_snr"] = _logu(g, n, *ARC_SNR)
        for c in COLUMNS:  # filled while rendering: centre, source position, magnification, src_mag
            p.setdefault(c, nan.clone())
        return p

    def generate(self, class_name: str, n: int, seed: int, *, data_root=None, device=None, compile=None):
        """``n`` images of ``class_name``: (float32 (n, 3, 64, 64) in [0, 1], columns float32 (n,)).
        ``compile`` (default ``render.compile_default(n)``): render the arcs through ``torch.compile``."""
        self._check_class(class_name)
        n = int(n)
        if n < 1:
            raise ValueError(f"recipe {self.name!r}: n must be >= 1, got {n}")
        device = torch.device(device) if device is not None else torch.device("cpu")
        hosts = load_hosts(data_root)
        galaxies = _sources.load_cosmos(real_data_root(data_root)) if class_name == "lens" else None
        p = self.sample(class_name, n, seed, n_hosts=len(hosts.images),
                        n_galaxies=len(galaxies.ids) if galaxies is not None else 1)
        noise_gen = torch.Generator(device=device)
        noise_gen.manual_seed(stage_generator(self.name, self.version, class_name, int(seed), "noise").initial_seed())
        out = np.empty((n, *self.image_shape), np.float32)
        compile = render.compile_default(n) if compile is None else bool(compile)
        for a in range(0, n, BATCH):
            sl = slice(a, min(n, a + BATCH))
            out[sl] = self._batch(p, sl, hosts, galaxies, device, noise_gen, compile).cpu().numpy()
        return out, {c: p[c].numpy().astype(np.float32) for c in COLUMNS}

    def _batch(self, p: dict, sl: slice, hosts: HostSet, galaxies, device, noise_gen, compile: bool) -> torch.Tensor:
        idx = p["host_index"][sl].long().numpy()
        host = _dihedral(torch.from_numpy(hosts.images[idx]).double(), p["host_rot"][sl].long())
        sigma = torch.from_numpy(hosts.sigma[idx])  # (B, 3), DES pixel units
        rc, cc = _centroid(host)
        jr, jc = p["jitter_row"][sl], p["jitter_col"][sl]
        img = _resample(host, rc + jr, cc + jc).to(device=device, dtype=torch.float32)
        if galaxies is not None:
            # the host centroid sits at DES offset (-jr, -jc) from the crop centre; lensing x = -col, y = row
            p["center_x"][sl] = jc * DES_PIXEL_SCALE
            p["center_y"][sl] = -jr * DES_PIXEL_SCALE
            img = img + self._arcs(p, sl, galaxies, sigma, device, noise_gen, compile)
        return _minmax_per_band(img)

    def _arcs(self, p: dict, sl: slice, galaxies, sigma: torch.Tensor, device, noise_gen, compile: bool) -> torch.Tensor:
        f32 = {"dtype": torch.float32, "device": device}
        lens = {k: p[k][sl].to(**f32) for k in LENS_COLUMNS}
        gi = p["src_index"][sl].long().numpy()
        scale = galaxies.pixel_scale * p["src_R"][sl] / torch.from_numpy(galaxies.half_light_radius[gi])
        p["src_x"][sl] = p["center_x"][sl] + p["beta_x"][sl]
        p["src_y"][sl] = p["center_y"][sl] + p["beta_y"][sl]
        src = {"image": torch.from_numpy(galaxies.images[gi]).to(**f32), "scale": scale.to(**f32),
               "center_x": p["src_x"][sl].to(**f32), "center_y": p["src_y"][sl].to(**f32),
               "phi_G": p["src_phi"][sl].to(**f32), "amp": (1.0 / scale**2).to(**f32)}
        unit = render.render(lens, None, INSTRUMENT, source_image=src, supersample=SUPERSAMPLE, psf=False,
                             compile=compile)
        p["mu"][sl] = unit.double().sum(dim=(-2, -1)).cpu()  # unit source flux -> total magnification
        unit = unit * (DES_PIXEL_SCALE / PIXEL_SCALE) ** 2  # flux per DES-pixel area, like the host
        # per-band unit-r-flux arcs: f_g = 10**(-0.4 (g-r)), f_r = 1, f_i = 10**(0.4 (r-i))
        w = torch.stack([10 ** (-0.4 * p["colour_gr"][sl]), torch.ones_like(p["colour_gr"][sl]),
                         10 ** (0.4 * p["colour_ri"][sl])], dim=1)  # (B, 3)
        arcs = torch.stack([_psf.convolve_separable(unit, k.to(device)) for k in _kernels(torch.float32)], dim=1)
        arcs = arcs * w.to(**f32)[..., None, None]
        sig = sigma.to(**f32)[..., None, None]
        snr1 = torch.sqrt(((arcs.double() / sig.double()) ** 2).sum(dim=(1, 2, 3))).cpu() * (PIXEL_SCALE / DES_PIXEL_SCALE)
        amp = p["arc_snr"][sl] / snr1.clamp(min=1e-30)  # unlensed r-band source flux (cutout units)
        p["src_mag"][sl] = ZERO_POINT - 2.5 * torch.log10(amp)
        arcs = arcs * amp.to(**f32).view(-1, 1, 1, 1)
        shot = torch.randn(arcs.shape, generator=noise_gen, **f32)
        return arcs + shot * torch.sqrt(arcs.clamp(min=0) * sig / SKY_OVER_SIGMA)

    def describe(self) -> str:
        """A markdown block listing every prior (for ``lensing/RECIPES.md``)."""
        return "\n".join([
            f"### `{self.name}` (v{self.version})", "", self.description, "",
            (f"- image {self.image_shape} (g, r, i), {PIXEL_SCALE}\"/px, per-band min-max to [0, 1]; PSF FWHM "
             + ", ".join(f"{b} {PSF_FWHM[b]}\"" for b in BANDS) + f"; supersampling {SUPERSAMPLE}"),
            (f"- host: one of the 46 DES galaxies in `{DES_FOLDER}/` (uniform), random dihedral transform, "
             f"centroid-centred crop with jitter U(-{JITTER}, {JITTER}) DES px, bilinear resampling 0.263 -> 0.168\"/px"),
            (f"- lens `theta_E`: U{THETA_E}\"; axis ratio q ~ U{AXIS_RATIO}, angle U(0, pi); shear gamma ~ U{SHEAR}; "
             "centre = host centroid"),
            (f"- source: real COSMOS galaxy, half-light radius LogUniform{SRC_R_HALF}\", rotation U(0, 2pi), offset "
             f"beta <= {SRC_BETA_MAX} theta_E (area-uniform); colours g-r ~ U{COLOUR_GR}, r-i ~ U{COLOUR_RI}"),
            (f"- brightness: arc_snr ~ LogUniform{ARC_SNR} (3-band matched filter vs the host sky noise at DES "
             f"pixels); arc photon noise with sky/sigma = {SKY_OVER_SIGMA:g}"),
            "- class `nonlens`: the host only (no injected flux)",
            "- class `lens`: the host plus the lensed source",
        ])


RECIPES = [LensFindingRecipe()]
