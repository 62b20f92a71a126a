"""The parts a ``Recipe`` is assembled from, as data: source, brightness, substructure and noise
specifications (frozen dataclasses whose fields are priors from ``lensing.recipes.priors``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .priors import Polar, PowerLaw, Prior, Uniform


@dataclass(frozen=True)
class SersicSource:
    """Elliptical Sersic source; position is an offset from the lens centre (arcsec)."""

    R_sersic: Prior
    n_sersic: Prior
    ellipticity: Polar | tuple[Prior, Prior]
    position: Polar | tuple[Prior, Prior]


@dataclass(frozen=True)
class CosmosSource:
    """Real COSMOS galaxy (``lensing.sources``), randomly chosen, rotated, rescaled and placed.

    The galaxy is rescaled so that its measured half-light radius equals the drawn
    ``half_light_radius`` (column ``src_R``); ``rotation`` is phi_G (column ``src_phi``).
    """

    half_light_radius: Prior
    rotation: Prior
    position: Polar | tuple[Prior, Prior]


@dataclass(frozen=True)
class Brightness:
    """How the source amplitude is set: ``kind`` in ("amp", "magnitude", "snr").

    amp: lenstronomy ``amp`` (Sersic surface brightness at R_sersic) drawn from ``value``;
    magnitude: total magnitude, amp = 10**(-0.4 (mag - zero_point)) / total_flux(amp=1);
    snr: target matched-filter SNR of the smooth image (see the module docstring).
    """

    kind: str
    value: Prior
    zero_point: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("amp", "magnitude", "snr"):
            raise ValueError(f"Brightness.kind must be 'amp', 'magnitude' or 'snr', got {self.kind!r}")


@dataclass(frozen=True)
class NoSubstructure:
    def describe(self) -> str:
        return "none (macro lens only)"


@dataclass(frozen=True)
class PointMassSubhalos:
    """CDM-like subhalos as point masses.

    count: a fixed int or the mean of a Poisson draw (``poisson=True``), capped at ``k_max``;
    mass: prior in Msun (e.g. ``PowerLaw(1e6, 1e10, -0.9)``); radius: projected distance from the
    lens centre, uniform in r (``radial="r"``, DeepLense) or uniform in area (``radial="area"``)
    between the prior bounds; angle ~ U(0, 2 pi).

    compensate: if True (needs ``radial="area"``) the subhalo mass is taken from the host instead of
    added to it: a negative uniform annulus over the same radii, with minus this image's total
    subhalo mass (``mass.uniform_annulus``), is added to the lens. The azimuthally averaged mass
    profile, hence the Einstein radius, then equals the macro lens's on average (lensbench-v2).
    """

    count: float
    mass: PowerLaw
    radius: Uniform
    poisson: bool = False
    radial: str = "r"
    k_max: int = 64
    compensate: bool = False

    def __post_init__(self) -> None:
        if self.compensate and self.radial != "area":
            raise ValueError("PointMassSubhalos: compensate=True needs radial='area' (uniform annulus sheet)")

    def describe(self) -> str:
        n = f"Poisson(mean {self.count:g}) (capped at {self.k_max})" if self.poisson else f"exactly {int(self.count)}"
        rad = "uniform in r" if self.radial == "r" else "uniform in area"
        comp = ("; mass-compensated by a negative uniform sheet over the same annulus with the image's total "
                "subhalo mass") if self.compensate else ""
        return (f"{n} point masses, mass {self.mass} Msun, projected radius {rad} in "
                f"[{self.radius.low:g}, {self.radius.high:g}]\" from the lens centre, angle U(0, 2pi){comp}")


@dataclass(frozen=True)
class Vortex:
    """Axion vortex: ``n_points`` equal point masses (total ``mass`` Msun) on a straight line, or
    with ``n_points = 0`` one continuous uniform line mass (``lensing.mass.line_mass``).

    The segment's midpoint is the lens centre (``through="lens"``), the image centre (``"origin"``,
    DeepLense) or a point uniform in area within ``place`` arcsec of the lens centre (``"disk"``);
    angle U(0, 2 pi); half-length L = ``length_coeff`` * 1e-22 / (2 m_a) arcsec (DeepLenseSim
    ``axion_mass_to_length``), m_a = 10**``log10_m_a`` eV; points at ``linspace(-L, L, n_points)``.

    compensate: if True the vortex mass is taken from the host: the segment's exact monopole about
    the lens centre (``mass.segment_monopole``) is subtracted, so the azimuthally averaged mass
    profile, hence the Einstein radius, is exactly the macro lens's (lensbench-v2). A compensated
    segment through the lens centre is only a small change of the lens ellipticity, nearly invisible:
    use ``through="disk"`` with it.
    """

    mass: Prior
    log10_m_a: Uniform = Uniform(-24.0, -22.0)  # noqa: RUF009 (frozen, immutable)
    n_points: int = 100
    length_coeff: float = 0.06
    through: str = "lens"
    place: float = 0.0
    compensate: bool = False

    def __post_init__(self) -> None:
        if self.through not in ("lens", "origin", "disk"):
            raise ValueError(f"Vortex.through must be 'lens', 'origin' or 'disk', got {self.through!r}")
        if (self.through == "disk") != (self.place > 0):
            raise ValueError("Vortex: place > 0 goes with through='disk' (and only with it)")

    def describe(self) -> str:
        what = "a continuous uniform line mass" if self.n_points == 0 else f"{self.n_points} equal point masses"
        where = {"lens": "through the lens centre", "origin": "through the image centre",
                 "disk": f"centred uniformly in area within {self.place:g}\" of the lens centre"}[self.through]
        comp = "; mass-compensated (its monopole about the lens centre is subtracted)" if self.compensate else ""
        return (f"{what}, total mass {self.mass} Msun, on a line {where} at angle U(0, 2pi); "
                f"half-length {self.length_coeff:g} * 1e-22 / (2 m_a) arcsec, log10(m_a / eV) ~ {self.log10_m_a}{comp}")


def vortex_half_length(m_a) -> np.ndarray:
    """DeepLense axion length law: half-length (arcsec) = 0.06 * 1e-22 / (2 m_a)."""
    return 0.06 * 1e-22 / (2.0 * np.asarray(m_a, dtype=np.float64))


@dataclass(frozen=True)
class Noise:
    """Noise model. kind: "poisson_gaussian" (``lensing.noise.add_noise``) or "deeplense_counts"
    (Model I: add_noise, then ``Poisson(clip(t * image, 0))``: integer photon counts)."""

    exposure_time: Prior
    background_rms: float
    kind: str = "poisson_gaussian"

    def __post_init__(self) -> None:
        if self.kind not in ("poisson_gaussian", "deeplense_counts"):
            raise ValueError(f"Noise.kind must be 'poisson_gaussian' or 'deeplense_counts', got {self.kind!r}")
