"""Instrument presets (pixel grid, PSF, default noise) for the simulator.

Numbers and where they come from:

* ``MODEL_I`` (DeepLense Model I): 150 x 150 pixels at 0.05"/px, Gaussian PSF FWHM 0.087" with
  truncation 3 (DeepLenseSim ``Model_I`` script, as summarised in the project research notes).
  DeepLense drew the exposure time per image as 10**U(3, 3.5) s and added a Gaussian background of
  sigma 0.01; the preset stores the geometric midpoint 10**3.25 s as the default (recipes draw it).
* ``EUCLID`` (DeepLense Model II, "Euclid VIS-like"): 64 x 64 at 0.101"/px, Gaussian PSF FWHM
  0.16" (lenstronomy ``SimulationAPI/ObservationConfig/Euclid.py`` VIS: pixel_scale 0.101,
  seeing 0.16; exposure 4 x 565-566 s). lenstronomy's SimAPI default PSF truncation is 5.
* ``HST`` (DeepLense Model III, "HST-like"): 64 x 64 at 0.08"/px, Gaussian PSF FWHM 0.08"
  (lenstronomy ``ObservationConfig/HST.py`` WFC3_F160W: seeing 0.08" for the drizzled PSF,
  exposure 5400 s; DeepLense's Model III fork used ``HST(band='TDLMC_F160W', psf_type='GAUSSIAN')``
  with seeing 0.08"). Truncation 5 (SimAPI default).

``background_rms`` is in the simulator's image units (lenstronomy ``ImageModel`` flux per pixel,
i.e. surface brightness x pixel area); recipes may override it. ``supersample`` is the default
ray-shooting supersampling factor used by ``lensing.render.render``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lensbench.lensing.psf import band_matrix, gaussian_kernel, gaussian_kernel_1d

__all__ = ["EUCLID", "HST", "MODEL_I", "PRESETS", "Instrument", "get", "names"]


@dataclass(frozen=True)
class Instrument:
    """An imaging setup.

    name: preset key; npix: image side in pixels; pixel_scale: arcsec per pixel;
    psf_fwhm: Gaussian PSF FWHM in arcsec (None: no PSF); psf_truncation: kernel half-size in
    units of sigma (lenstronomy ``truncation``); supersample: default ray-shooting supersampling;
    exposure_time: default exposure in seconds (Poisson noise); background_rms: default Gaussian
    background sigma (image units); description: provenance.
    """

    name: str
    npix: int
    pixel_scale: float
    psf_fwhm: float | None
    psf_truncation: float = 5.0
    supersample: int = 1
    exposure_time: float = 1000.0
    background_rms: float = 0.01
    description: str = ""

    @property
    def fov(self) -> float:
        """Field of view side in arcsec."""
        return self.npix * self.pixel_scale

    def psf_kernel(self, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor | None:
        """The Gaussian PSF kernel on the image pixel grid, or None without a PSF."""
        if self.psf_fwhm is None:
            return None
        return gaussian_kernel(self.psf_fwhm, self.pixel_scale, self.psf_truncation,
                                    dtype=dtype, device=device)

    def psf_matrices(self, dtype: torch.dtype = torch.float32, device=None):
        """(A, A) banded matrices of the separable Gaussian PSF with edge-replicating padding
        (``lensing.psf.convolve_separable``), or None without a PSF."""
        if self.psf_fwhm is None:
            return None
        g = gaussian_kernel_1d(self.psf_fwhm, self.pixel_scale, self.psf_truncation, dtype=dtype, device=device)
        a = band_matrix(g, self.npix, padding="nearest")
        return a, a


MODEL_I = Instrument(
    name="model_i", npix=150, pixel_scale=0.05, psf_fwhm=0.087, psf_truncation=3.0,
    supersample=1, exposure_time=10 ** 3.25, background_rms=0.01,
    description="DeepLense Model I: 150x150, 0.05\"/px, Gaussian PSF FWHM 0.087\" (truncation 3)")
EUCLID = Instrument(
    name="euclid", npix=64, pixel_scale=0.101, psf_fwhm=0.16, psf_truncation=5.0,
    supersample=1, exposure_time=4 * 565.0, background_rms=0.01,
    description="Euclid VIS-like (DeepLense Model II): 64x64, 0.101\"/px, Gaussian PSF FWHM 0.16\"")
HST = Instrument(
    name="hst", npix=64, pixel_scale=0.08, psf_fwhm=0.08, psf_truncation=5.0,
    supersample=1, exposure_time=5400.0, background_rms=0.01,
    description="HST-like (DeepLense Model III): 64x64, 0.08\"/px, Gaussian PSF FWHM 0.08\"")

PRESETS = {i.name: i for i in (MODEL_I, EUCLID, HST)}
_ALIASES = {"model_ii": "euclid", "model_iii": "hst", "model1": "model_i", "euclid_vis": "euclid"}


def names() -> list[str]:
    return sorted(PRESETS)


def get(name: str) -> Instrument:
    """Preset by name (case-insensitive; aliases model_ii -> euclid, model_iii -> hst)."""
    key = str(name).lower()
    key = _ALIASES.get(key, key)
    if key not in PRESETS:
        raise KeyError(f"lensing.instruments.get: unknown instrument {name!r}; expected one of {names()}")
    return PRESETS[key]
