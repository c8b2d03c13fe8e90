"""The statistics of a forecast: a least-squares line, its 80% prediction interval and Student's t quantile."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

RANGE_LEVEL = 0.80  # the forecast range is the 80% prediction interval: t(0.90; n − 2)
_TINY = 1e-300
_BETA_STEPS = 300
_BISECTIONS = 200


def _beta_fraction(*, x: float, a: float, b: float) -> float:
    """The continued fraction of the regularized incomplete beta function (modified Lentz)."""
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    result = d
    for m in range(1, _BETA_STEPS + 1):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + numerator / c
            c = c if abs(c) > _TINY else _TINY
            result *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return result


def incomplete_beta(*, x: float, a: float, b: float) -> float:
    """The regularized incomplete beta function I_x(a, b) for 0 ≤ x ≤ 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(x=x, a=a, b=b) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(x=1.0 - x, a=b, b=a) / b


def t_cdf(*, t: float, df: int) -> float:
    """P(T ≤ t) for Student's t with df degrees of freedom."""
    tail = 0.5 * incomplete_beta(x=df / (df + t * t), a=df / 2.0, b=0.5)
    return 1.0 - tail if t >= 0 else tail


@lru_cache(maxsize=512)
def t_quantile(*, p: float, df: int) -> float:
    """The t with P(T ≤ t) = p for Student's t with df ≥ 1 degrees of freedom (Excel's T.INV(p, df))."""
    if df < 1 or not 0.0 < p < 1.0:
        raise ValueError("t_quantile needs df >= 1 and 0 < p < 1")
    if p < 0.5:
        return -t_quantile(p=1.0 - p, df=df)
    low, high = 0.0, 1.0
    while t_cdf(t=high, df=df) < p:
        low, high = high, high * 2.0
    for _ in range(_BISECTIONS):
        middle = (low + high) / 2.0
        if t_cdf(t=middle, df=df) < p:
            low = middle
        else:
            high = middle
        if high - low < 1e-12:
            break
    return (low + high) / 2.0


@dataclass(frozen=True, slots=True)
class Line:
    """The least-squares line through n points (x in days), with what its prediction interval needs."""

    n: int
    mean_x: float
    mean_y: float
    sxx: float
    slope: float
    residual_sd: float | None  # s = √(Σ residual² / (n − 2)), only for n ≥ 3

    def at(self, x: float) -> float:
        """The line read at x (FORECAST.LINEAR)."""
        return self.mean_y + self.slope * (x - self.mean_x)

    def half_width(self, x: float, *, level: float = RANGE_LEVEL) -> float | None:
        """Half the width of the two-sided prediction interval at x: t(1 − (1 − level)/2; n − 2)·s·√(1 + 1/n + (x − x̄)²/Sxx)."""
        if self.residual_sd is None or self.sxx <= 0.0:
            return None
        t = t_quantile(p=1.0 - (1.0 - level) / 2.0, df=self.n - 2)
        return t * self.residual_sd * math.sqrt(1.0 + 1.0 / self.n + (x - self.mean_x) ** 2 / self.sxx)


def fit_line(*, xs: Sequence[float], ys: Sequence[float]) -> Line:
    """The least-squares line through the points (all x equal: the flat line through their mean)."""
    n = len(xs)
    if n == 0 or n != len(ys):
        raise ValueError("fit_line needs as many x as y, at least one")
    mean_x = sum(xs) / n
    mean_y = sum(ys) / n
    sxx = sxy = 0.0
    for x, y in zip(xs, ys, strict=True):
        dx = x - mean_x
        sxx += dx * dx
        sxy += dx * (y - mean_y)
    slope = sxy / sxx if sxx > 0.0 else 0.0
    residual_sd = None
    if n >= 3 and sxx > 0.0:
        sse = 0.0
        for x, y in zip(xs, ys, strict=True):
            residual = y - mean_y - slope * (x - mean_x)
            sse += residual * residual
        residual_sd = math.sqrt(sse / (n - 2))
    return Line(n=n, mean_x=mean_x, mean_y=mean_y, sxx=sxx, slope=slope, residual_sd=residual_sd)
