"""The published DeepLense Model I / II / III recipes (DeepLenseSim, Toomey et al.), regenerated.

Sources: ``mwt5345/DeepLenseSim`` ``deeplense/lens.py`` and ``Model_{I,II,III}/sim_*.py`` (read, not
copied); numbers summarised in the project research notes. Every image has the same macro lens
(SIE theta_E = 1.28" from a 1e12 Msun halo with DeepLense's luminosity-distance formula, e1 = 0.1,
e2 = 0, shear gamma1 = 0.05) and the same Sersic source shape; only the source centre varies.
Deviations from the original are listed in each recipe's ``deviations`` and in RECIPES.md.
"""

from __future__ import annotations

import math

from .. import cosmo
from .base import Recipe
from .components import Brightness, Noise, NoSubstructure, PointMassSubhalos, SersicSource, Vortex
from .priors import Fixed, LogUniform, PowerLaw, Uniform

CITATION = ("Alexander, Gleyzer, McDonough, Toomey, Usai, 'Deep Learning the Morphology of Dark "
            "Matter Substructure', ApJ 893 (2020) 15, arXiv:1909.07346; DeepLenseSim, "
            "github.com/mwt5345/DeepLenseSim")

MAIN_HALO_MASS = 1e12  # Msun
THETA_E_MAIN = float(cosmo.mass_to_theta_E(MAIN_HALO_MASS, 0.5, 1.0, "deeplense"))  # 1.2815"


def bkg_rms(read_noise: float, exposure_time: float, num_exposures: int, sky_mag: float,
            zero_point: float, pixel_scale: float) -> float:
    """lenstronomy ``data_util.bkg_noise`` (counts/s per pixel) from a sky magnitude."""
    sky_cps = 10.0 ** (-0.4 * (sky_mag - zero_point))  # per arcsec^2
    t = num_exposures * exposure_time
    return math.sqrt(num_exposures * read_noise**2 + t * sky_cps * pixel_scale**2) / t


# lenstronomy 1.9.2 observation configs (the versions DeepLenseSim pinned)
EUCLID_VIS = {"read_noise": 4.2, "exposure_time": 565.0, "num_exposures": 4, "sky_mag": 22.35, "zero_point": 24.0,
                  "pixel_scale": 0.101}
HST_TDLMC_F160W = {"read_noise": 4.0, "exposure_time": 5400.0, "num_exposures": 1, "sky_mag": 22.0,
                       "zero_point": 25.9463, "pixel_scale": 0.08}

MACRO = {
    "theta_E": Fixed(THETA_E_MAIN),
    "e1": Fixed(0.1),
    "e2": Fixed(0.0),
    "center_x": Fixed(0.0),
    "center_y": Fixed(0.0),
    "gamma1": Fixed(0.05),
    "gamma2": Fixed(0.0),
}
SOURCE = SersicSource(R_sersic=Fixed(0.25), n_sersic=Fixed(1.0), ellipticity=(Fixed(-0.1), Fixed(0.1)),
                      position=(Uniform(-0.35, 0.35), Uniform(-0.35, 0.35)))
SUBSTRUCTURE = {
    "no_sub": NoSubstructure(),
    "cdm": PointMassSubhalos(count=25, mass=PowerLaw(1e6, 1e10, -0.9), radius=Uniform(0.25, 2.0),
                             poisson=False, radial="r", k_max=25),
    "axion": Vortex(mass=Fixed(3e10), log10_m_a=Uniform(-24.0, -22.0), n_points=100, through="origin"),
}
COMMON_DEVIATIONS = (
    "random numbers come from seeded torch generators (the original used the global numpy state)",
    "the unused Poisson(25) draw of the CDM code is not made",
)


def _euclid_like(name: str, instrument: str, obs: dict, description: str, extra_dev: tuple) -> Recipe:
    t = obs["exposure_time"] * obs["num_exposures"]
    return Recipe(
        name=name, version=1, description=description, instrument=instrument, lens=MACRO, source=SOURCE,
        brightness=Brightness("magnitude", Fixed(20.0), zero_point=obs["zero_point"]),
        substructure=SUBSTRUCTURE,
        noise=Noise(exposure_time=Fixed(t), background_rms=bkg_rms(**obs), kind="poisson_gaussian"),
        distance_convention="deeplense", supersample=1, citation=CITATION,
        deviations=COMMON_DEVIATIONS + (
            ("noise IS added: DeepLenseSim's simple_sim_2 computed lenstronomy's noise_for_model but saved "
            "image_model + image_model (2x the noiseless image); we save image + Poisson(image * t)/t + "
            "N(0, sigma_bkg) with sigma_bkg from the lenstronomy 1.9.2 observation config (sky + read noise)"),
            "images are in e-/s (lenstronomy units), not doubled",
        ) + extra_dev)


RECIPES = [
    Recipe(
        name="deeplense-model1", version=1,
        description=("DeepLense Model I: 150x150, 0.05\"/px, Gaussian PSF FWHM 0.087\", Sersic source amp 20, "
                     "fixed SIE + shear macro lens; integer photon counts (exposure 10^U(3, 3.5) s)."),
        instrument="model_i", lens=MACRO, source=SOURCE, brightness=Brightness("amp", Fixed(20.0)),
        substructure=SUBSTRUCTURE,
        noise=Noise(exposure_time=LogUniform(1e3, 10**3.5), background_rms=0.01, kind="deeplense_counts"),
        distance_convention="deeplense", supersample=1, citation=CITATION,
        deviations=COMMON_DEVIATIONS),
    _euclid_like(
        "deeplense-model2", "euclid", EUCLID_VIS,
        "DeepLense Model II: 64x64 Euclid VIS-like (0.101\"/px, PSF FWHM 0.16\"), Sersic source of magnitude 20 "
        "(zero point 24.0), fixed SIE + shear macro lens, Euclid noise (4 x 565 s, sky 22.35 mag/arcsec^2, "
        "read noise 4.2 e-).", ()),
    _euclid_like(
        "deeplense-model3", "hst", HST_TDLMC_F160W,
        "DeepLense Model III: 64x64 HST-like (0.08\"/px, Gaussian PSF FWHM 0.08\"), Sersic source of magnitude 20 "
        "(zero point 25.9463), fixed SIE + shear macro lens, HST TDLMC_F160W noise (5400 s, sky 22.0, read noise 4).",
        (("the published code cannot produce Model III (set_instrument('hst') is a no-op); we follow the fork "
         "that uses lenstronomy HST(band='TDLMC_F160W', psf_type='GAUSSIAN') with seeing 0.08\" and a 0.08\" pixel"),)),
]
