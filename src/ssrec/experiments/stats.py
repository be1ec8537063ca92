"""The statistics of a comparison: confidence intervals over seeds, paired tests over users,
and Holm's correction for comparing several models with one baseline.

Every function takes plain NumPy vectors and delegates the distributions to
:mod:`scipy.stats`; nothing here knows about runs or files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

PAIRED_TESTS = ("wilcoxon", "ttest")


@dataclass(frozen=True)
class Interval:
    """A mean with its two-sided confidence interval.

    Attributes:
        mean: sample mean.
        low, high: interval bounds (NaN with fewer than two values).
        std: sample standard deviation (``ddof=1``; NaN with fewer than two values).
        n: number of values.
    """

    mean: float
    low: float
    high: float
    std: float
    n: int

    @property
    def half_width(self) -> float:
        """``(high - low) / 2`` (NaN with fewer than two values)."""
        return (self.high - self.low) / 2


def t_interval(values: Sequence[float] | np.ndarray, confidence: float = 0.95) -> Interval:
    """Student-t confidence interval of the mean: ``x̄ ± t_{n-1, (1+c)/2} · s / √n``.

    Args:
        values: ``[n]`` observations (e.g. one test metric per seed).
        confidence: coverage in (0, 1) (default 0.95).

    Returns:
        The :class:`Interval`; with ``n == 1`` the bounds and the standard deviation are NaN,
        with zero spread both bounds equal the mean.

    Raises:
        ValueError: no values, or ``confidence`` outside (0, 1).
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0:
        raise ValueError("t_interval needs at least one value")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    mean = float(x.mean())
    if x.size < 2:
        return Interval(mean, float("nan"), float("nan"), float("nan"), 1)
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf((1 + confidence) / 2, x.size - 1)) * std / np.sqrt(x.size)
    return Interval(mean, mean - half, mean + half, std, int(x.size))


@dataclass(frozen=True)
class PairedResult:
    """A two-sided paired test of ``a`` against ``b``.

    Attributes:
        method: ``"wilcoxon"`` (signed-rank) or ``"ttest"`` (paired t).
        statistic: the test statistic (Wilcoxon: the smaller rank sum W; t: the t value).
        p: two-sided p-value.
        n: number of pairs.
        mean_difference: mean of ``a - b``.
    """

    method: str
    statistic: float
    p: float
    n: int
    mean_difference: float


def paired_test(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray,
                method: str = "wilcoxon") -> PairedResult:
    """Two-sided paired test of ``a`` against ``b`` (e.g. per-user NDCG@20 of a model and of
    the baseline, the same users in the same order).

    ``"wilcoxon"``: :func:`scipy.stats.wilcoxon` (zero differences dropped, the "wilcox"
    convention; normal approximation with tie correction when SciPy chooses it).
    ``"ttest"``: :func:`scipy.stats.ttest_rel`. When every difference is zero the models are
    indistinguishable and ``p = 1``.

    Raises:
        ValueError: different lengths, fewer than two pairs, or an unknown method.
    """
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"paired samples differ in length: {x.size} vs {y.size}")
    if x.size < 2:
        raise ValueError("a paired test needs at least two pairs")
    if method not in PAIRED_TESTS:
        raise ValueError(f"unknown paired test {method!r}; known: {', '.join(PAIRED_TESTS)}")
    d = x - y
    if not np.any(d != 0):
        return PairedResult(method, 0.0, 1.0, int(x.size), 0.0)
    if method == "wilcoxon":
        res = stats.wilcoxon(x, y, zero_method="wilcox", alternative="two-sided")
    else:
        res = stats.ttest_rel(x, y, alternative="two-sided")
    return PairedResult(method, float(res.statistic), float(res.pvalue), int(x.size),
                        float(d.mean()))


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of ``m`` p-values (family-wise error control).

    Sorted ascending, ``p_(i)`` becomes ``max_{j ≤ i} min(1, (m - j + 1) · p_(j))``; the
    adjusted values are returned in the input order. NaN entries (no test) stay NaN and do
    not count in ``m``.

    Holm, "A simple sequentially rejective multiple test procedure", Scand. J. Statist. 1979.
    """
    p = np.asarray(pvalues, dtype=np.float64).ravel()
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if ok.size == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    m = order.size
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


__all__ = ["Interval", "PAIRED_TESTS", "PairedResult", "holm", "paired_test", "t_interval"]
