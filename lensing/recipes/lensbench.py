"""The ``lensbench-v1`` and ``lensbench-v2`` families: the main LensBench substructure data.

Same three classes as DeepLense (``no_sub``, ``cdm``, ``axion``), but the macro lens and the
source vary from image to image and their priors are the SAME objects for every class, so the
label lives only in the substructure. Variants: ``lensbench-v1`` (Euclid-like, the main one),
``lensbench-v1-hst`` (HST-like) and ``lensbench-v1-realsrc`` (Euclid-like with real COSMOS HST
galaxies as sources; needs ``data_root``). Priors and the calibration are described in
``lensing/RECIPES.md``.

``lensbench-v2`` and ``lensbench-v2-hst`` (recipe version 2) keep v1's priors but take the
substructure mass from the host (``compensate=True``: ``lensing.compensation``), place the vortex
anywhere within 2" of the lens centre and lighten it, so the Einstein ring and the other global
image statistics no longer depend on the class (``lensing/RECIPES.md``, "The lensbench-v2 family").
"""

from __future__ import annotations

import math

from .base import Recipe
from .components import (
    Brightness,
    CosmosSource,
    Noise,
    NoSubstructure,
    PointMassSubhalos,
    SersicSource,
    Vortex,
)
from .deeplense import EUCLID_VIS, HST_TDLMC_F160W, bkg_rms
from .priors import Fixed, LogUniform, Polar, PowerLaw, Uniform

CITATION = ("LensBench lensbench-v1 recipes; physics after DeepLenseSim (Alexander et al. 2020, "
            "arXiv:1909.07346) and lenstronomy (Birrer & Amara 2018)")

MACRO = {
    "theta_E": Uniform(1.0, 1.5),
    ("e1", "e2"): Polar(Uniform(0.7, 1.0), Uniform(0.0, math.pi), "ellipticity"),
    ("gamma1", "gamma2"): Polar(Uniform(0.0, 0.05), Uniform(0.0, math.pi), "shear"),
    "center_x": Uniform(-0.05, 0.05),
    "center_y": Uniform(-0.05, 0.05),
}
SOURCE_POSITION = Polar(Uniform(0.0, 0.3), Uniform(0.0, 2 * math.pi), "disk")
SERSIC = SersicSource(
    R_sersic=LogUniform(0.15, 0.35), n_sersic=Uniform(0.8, 1.5),
    ellipticity=Polar(Uniform(0.6, 1.0), Uniform(0.0, math.pi), "ellipticity"),
    position=SOURCE_POSITION)
COSMOS = CosmosSource(half_light_radius=LogUniform(0.15, 0.35), rotation=Uniform(0.0, 2 * math.pi),
                      position=SOURCE_POSITION)
SNR = Brightness("snr", Uniform(50.0, 200.0))

# --- substructure (calibrated: see RECIPES.md)
CDM = PointMassSubhalos(count=30.0, mass=PowerLaw(5e8, 2e10, -1.9), radius=Uniform(0.5, 2.0),
                        poisson=True, radial="area", k_max=64)
AXION = Vortex(mass=LogUniform(2e10, 6e10), log10_m_a=Uniform(-24.0, -22.0), n_points=0, through="lens")
SUBSTRUCTURE = {"no_sub": NoSubstructure(), "cdm": CDM, "axion": AXION}


def _noise(obs: dict) -> Noise:
    return Noise(exposure_time=Fixed(obs["exposure_time"] * obs["num_exposures"]), background_rms=bkg_rms(**obs))


_COMMON = {"version": 1, "lens": MACRO, "brightness": SNR, "substructure": SUBSTRUCTURE, "distance_convention": "angular",
               "supersample": 2, "citation": CITATION}

# --- lensbench-v2: the same macro lens, source, brightness and noise priors, but the substructure
# mass is taken from the host instead of added to it (mass compensation), so the ring size and the
# other global image statistics do not depend on the class (lensing/RECIPES.md, "lensbench-v2").
CDM_V2 = PointMassSubhalos(count=30.0, mass=PowerLaw(5e8, 2e10, -1.9), radius=Uniform(0.5, 2.0),
                           poisson=True, radial="area", k_max=64, compensate=True)
AXION_V2 = Vortex(mass=LogUniform(1e10, 3e10), log10_m_a=Uniform(-24.0, -22.0), n_points=0, through="disk",
                  place=2.0, compensate=True)
SUBSTRUCTURE_V2 = {"no_sub": NoSubstructure(), "cdm": CDM_V2, "axion": AXION_V2}
_COMMON_V2 = dict(_COMMON, version=2, substructure=SUBSTRUCTURE_V2)

RECIPES = [
    Recipe(name="lensbench-v1", instrument="euclid", source=SERSIC, noise=_noise(EUCLID_VIS),
           description="Main LensBench substructure data: Euclid VIS-like 64x64, varying SIE + shear macro lens, "
                       "varying Sersic source, SNR 40-200; no_sub / cdm (Poisson point-mass subhalos) / axion "
                       "(vortex line); identical macro-lens and source priors for all classes.", **_COMMON),
    Recipe(name="lensbench-v1-hst", instrument="hst", source=SERSIC, noise=_noise(HST_TDLMC_F160W),
           description="lensbench-v1 observed with an HST-like camera (64x64, 0.08\"/px, PSF FWHM 0.08\").",
           **_COMMON),
    Recipe(name="lensbench-v1-realsrc", instrument="euclid", source=COSMOS, noise=_noise(EUCLID_VIS),
           description="lensbench-v1 with real COSMOS HST/ACS F814W galaxies as sources (randomly chosen, rotated, "
                       "rescaled to a drawn half-light radius, placed like the Sersic sources). Needs data_root, "
                       "the real-data root that contains cosmos-hst-acs-f814w-cutouts/.", **_COMMON),
    Recipe(name="lensbench-v2", instrument="euclid", source=SERSIC, noise=_noise(EUCLID_VIS),
           description="lensbench-v1 with mass-compensated substructure: the CDM subhalo mass is removed from the "
                       "host as a uniform annular sheet and the vortex (now placed anywhere within 2\" of the lens "
                       "centre) has its monopole removed, so the Einstein ring and the global image statistics do "
                       "not depend on the class; vortex mass LogU(1e10, 3e10) Msun.", **_COMMON_V2),
    Recipe(name="lensbench-v2-hst", instrument="hst", source=SERSIC, noise=_noise(HST_TDLMC_F160W),
           description="lensbench-v2 observed with an HST-like camera (64x64, 0.08\"/px, PSF FWHM 0.08\").",
           **_COMMON_V2),
]
