"""Parameter priors as plain data: small frozen dataclasses with a ``sample(generator, n)`` method.

Every prior samples float64 CPU tensors from an explicit ``torch.Generator`` (so a recipe is
reproducible from its seed), and can describe itself (``str``) for the recipe documentation.

- ``Fixed(value)``
- ``Uniform(low, high)``
- ``LogUniform(low, high)``: log10 of the value is uniform.
- ``TruncNormal(mean, std, low, high)``: normal truncated to [low, high] (inverse-CDF sampling).
- ``PowerLaw(low, high, slope)``: pdf proportional to x**slope on [low, high] (inverse CDF, like
  DeepLenseSim's ``draw_old_cdm_sub_masses``; slope -1 handled as log-uniform).
- ``Polar(modulus, angle, kind)``: a joint prior over a pair of keys drawn from a modulus and an
  angle. ``kind="ellipticity"``: the modulus is the axis ratio q and ``(e1, e2) = (1 - q)/(1 + q)
  (cos 2 phi, sin 2 phi)`` (lenstronomy ``phi_q2_ellipticity``); ``kind="shear"``: the modulus is
  gamma and ``(gamma1, gamma2) = gamma (cos 2 phi, sin 2 phi)``; ``kind="disk"``: a point uniform
  in a disk (radius = modulus.high * sqrt(U)) with the modulus prior ignored except for its high.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["Fixed", "LogUniform", "Polar", "PowerLaw", "Prior", "TruncNormal", "Uniform"]


def _u(gen: torch.Generator, n: int) -> torch.Tensor:
    return torch.rand(n, generator=gen, dtype=torch.float64)


@dataclass(frozen=True)
class _Interval:
    """A prior on [low, high]: the first fields and ``bounds`` of Uniform, LogUniform and PowerLaw."""

    low: float
    high: float

    def bounds(self) -> tuple[float, float]:
        return (self.low, self.high)


@dataclass(frozen=True)
class Fixed:
    value: float

    def sample(self, gen: torch.Generator, n: int) -> torch.Tensor:
        return torch.full((n,), float(self.value), dtype=torch.float64)

    def bounds(self) -> tuple[float, float]:
        return (self.value, self.value)

    def __str__(self) -> str:
        return f"{self.value:g}"


@dataclass(frozen=True)
class Uniform(_Interval):
    def sample(self, gen: torch.Generator, n: int) -> torch.Tensor:
        return self.low + (self.high - self.low) * _u(gen, n)

    def __str__(self) -> str:
        return f"U({self.low:g}, {self.high:g})"


@dataclass(frozen=True)
class LogUniform(_Interval):
    def sample(self, gen: torch.Generator, n: int) -> torch.Tensor:
        lo, hi = math.log10(self.low), math.log10(self.high)
        return 10.0 ** (lo + (hi - lo) * _u(gen, n))

    def __str__(self) -> str:
        return f"LogU({self.low:g}, {self.high:g})"


@dataclass(frozen=True)
class PowerLaw(_Interval):
    slope: float  # pdf ~ x**slope

    def sample(self, gen: torch.Generator, n: int) -> torch.Tensor:
        u = _u(gen, n)
        if abs(self.slope + 1.0) < 1e-12:
            return self.low * (self.high / self.low) ** u
        k = self.slope + 1.0
        lo, hi = self.low**k, self.high**k
        return (lo + (hi - lo) * u) ** (1.0 / k)

    def mean(self) -> float:
        k = self.slope
        if abs(k + 1) < 1e-12 or abs(k + 2) < 1e-12:
            xs = torch.linspace(math.log(self.low), math.log(self.high), 20001, dtype=torch.float64).exp()
            w = xs ** (k + 1)
            return float(torch.trapezoid(w * xs, xs.log()) / torch.trapezoid(w, xs.log()))
        return ((self.high ** (k + 2) - self.low ** (k + 2)) / (k + 2)) / (
            (self.high ** (k + 1) - self.low ** (k + 1)) / (k + 1))

    def __str__(self) -> str:
        return f"pdf ~ x^{self.slope:g} on [{self.low:g}, {self.high:g}]"


@dataclass(frozen=True)
class TruncNormal:
    mean: float
    std: float
    low: float
    high: float

    def sample(self, gen: torch.Generator, n: int) -> torch.Tensor:
        def cdf(x: float) -> float:
            return 0.5 * (1.0 + math.erf((x - self.mean) / (self.std * math.sqrt(2.0))))

        a, b = cdf(self.low), cdf(self.high)
        p = a + (b - a) * _u(gen, n)
        x = self.mean + self.std * math.sqrt(2.0) * torch.erfinv(2.0 * p - 1.0)
        return x.clamp(self.low, self.high)

    def bounds(self) -> tuple[float, float]:
        return (self.low, self.high)

    def __str__(self) -> str:
        return f"N({self.mean:g}, {self.std:g}) on [{self.low:g}, {self.high:g}]"


Prior = Fixed | Uniform | LogUniform | TruncNormal | PowerLaw


@dataclass(frozen=True)
class Polar:
    modulus: Prior
    angle: Prior
    kind: str  # "ellipticity" | "shear" | "disk"

    def __post_init__(self) -> None:
        if self.kind not in ("ellipticity", "shear", "disk"):
            raise ValueError(f"Polar.kind must be 'ellipticity', 'shear' or 'disk', got {self.kind!r}")

    def sample(self, gen: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        m = self.modulus.sample(gen, n)
        a = self.angle.sample(gen, n)
        if self.kind == "ellipticity":
            e = (1.0 - m) / (1.0 + m)
            return e * torch.cos(2 * a), e * torch.sin(2 * a)
        if self.kind == "shear":
            return m * torch.cos(2 * a), m * torch.sin(2 * a)
        r = self.modulus.bounds()[1] * torch.sqrt(_u(gen, n))
        return r * torch.cos(a), r * torch.sin(a)

    def __str__(self) -> str:
        if self.kind == "ellipticity":
            return f"axis ratio q ~ {self.modulus}, angle phi ~ {self.angle}; e = (1-q)/(1+q) (cos 2phi, sin 2phi)"
        if self.kind == "shear":
            return f"gamma ~ {self.modulus}, angle phi ~ {self.angle}; gamma (cos 2phi, sin 2phi)"
        return f"uniform in a disk of radius {self.modulus.bounds()[1]:g}\""
