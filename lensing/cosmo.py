"""Flat Lambda-CDM distances and the point-mass Einstein radius (numpy only).

The recipes turn subhalo and vortex masses (solar masses) into POINT_MASS Einstein radii
(arcsec) with ``theta_E = sqrt(4 G M / c^2 * D_ds / (D_d D_s))``.

Two distance conventions are offered:

- ``"angular"`` (physically correct): angular-diameter distances, with
  ``D_ds = (D_M(z_s) - D_M(z_d)) / (1 + z_s)`` for a flat universe.
- ``"deeplense"``: reproduces DeepLenseSim's ``mass_to_radius``, which uses *luminosity*
  distances and ``D_ds = D_L(z_s) - D_L(z_d)``. With H0 = 70, Om0 = 0.3, z_d = 0.5, z_s = 1.0 a
  1e12 Msun halo gets theta_E = 1.28" this way (1.66" with angular distances). The published
  DeepLense Model I-III recipes use this convention for the main halo and every subhalo.

Radiation is ignored (astropy's ``FlatLambdaCDM`` default ``Tcmb0 = 0``), so the numbers match
astropy to integration precision (Gauss-Legendre, 64 nodes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

G_SI = 6.67430e-11  # m^3 kg^-1 s^-2 (CODATA 2018, as astropy)
C_SI = 299792458.0  # m / s
M_SUN_KG = 1.988409870698051e30  # IAU 2015 nominal solar mass (astropy M_sun)
MPC_M = 3.0856775814913673e22
RAD_TO_ARCSEC = 180.0 / np.pi * 3600.0

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(64)


@dataclass(frozen=True)
class FlatLCDM:
    """Flat Lambda-CDM cosmology (no radiation). ``H0`` in km/s/Mpc."""

    H0: float = 70.0
    Om0: float = 0.3

    @property
    def hubble_distance_m(self) -> float:
        return C_SI / (self.H0 * 1e3 / MPC_M)

    def comoving_distance(self, z: float) -> float:
        """Line-of-sight comoving distance D_C(z) in metres."""
        if z < 0:
            raise ValueError(f"redshift must be >= 0, got {z}")
        if z == 0:
            return 0.0
        zz = 0.5 * z * (_NODES + 1.0)
        inv_e = 1.0 / np.sqrt(self.Om0 * (1.0 + zz) ** 3 + (1.0 - self.Om0))
        return float(self.hubble_distance_m * 0.5 * z * np.sum(_WEIGHTS * inv_e))

    def angular_diameter_distance(self, z: float) -> float:
        return self.comoving_distance(z) / (1.0 + z)

    def angular_diameter_distance_z1z2(self, z1: float, z2: float) -> float:
        if z2 < z1:
            raise ValueError(f"need z2 >= z1, got z1={z1}, z2={z2}")
        return (self.comoving_distance(z2) - self.comoving_distance(z1)) / (1.0 + z2)

    def luminosity_distance(self, z: float) -> float:
        return self.comoving_distance(z) * (1.0 + z)


DEFAULT_COSMO = FlatLCDM(70.0, 0.3)


def lensing_distance_ratio(z_d: float, z_s: float, convention: str = "angular",
                           cosmo: FlatLCDM = DEFAULT_COSMO) -> float:
    """D_ds / (D_d D_s) in 1/m for the given convention ("angular" or "deeplense")."""
    if z_s <= z_d:
        raise ValueError(f"source redshift must exceed lens redshift, got z_d={z_d}, z_s={z_s}")
    if convention == "angular":
        d_d = cosmo.angular_diameter_distance(z_d)
        d_s = cosmo.angular_diameter_distance(z_s)
        d_ds = cosmo.angular_diameter_distance_z1z2(z_d, z_s)
    elif convention == "deeplense":
        d_d = cosmo.luminosity_distance(z_d)
        d_s = cosmo.luminosity_distance(z_s)
        d_ds = d_s - d_d
    else:
        raise ValueError(f"convention must be 'angular' or 'deeplense', got {convention!r}")
    return d_ds / (d_d * d_s)


def mass_to_theta_E(mass_msun, z_d: float = 0.5, z_s: float = 1.0, convention: str = "angular",
                    cosmo: FlatLCDM = DEFAULT_COSMO) -> np.ndarray:
    """Point-mass Einstein radius (arcsec) of ``mass_msun`` (scalar or array, solar masses)."""
    m = np.asarray(mass_msun, dtype=np.float64)
    ratio = lensing_distance_ratio(z_d, z_s, convention, cosmo)
    return np.sqrt(4.0 * G_SI * m * M_SUN_KG / C_SI**2 * ratio) * RAD_TO_ARCSEC


def theta_E_to_mass(theta_E_arcsec, z_d: float = 0.5, z_s: float = 1.0, convention: str = "angular",
                    cosmo: FlatLCDM = DEFAULT_COSMO) -> np.ndarray:
    """Inverse of :func:`mass_to_theta_E`: the mass (Msun) inside the Einstein radius."""
    t = np.asarray(theta_E_arcsec, dtype=np.float64) / RAD_TO_ARCSEC
    ratio = lensing_distance_ratio(z_d, z_s, convention, cosmo)
    return t**2 * C_SI**2 / (4.0 * G_SI * ratio) / M_SUN_KG


def mass_to_theta_E_factor(z_d: float = 0.5, z_s: float = 1.0, convention: str = "angular",
                           cosmo: FlatLCDM = DEFAULT_COSMO) -> float:
    """``k`` such that theta_E = k * sqrt(M / Msun) (arcsec)."""
    return float(mass_to_theta_E(1.0, z_d, z_s, convention, cosmo))
