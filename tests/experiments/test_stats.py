"""The comparison statistics against scipy.stats and hand-computed values."""

import math

import numpy as np
import pytest
from scipy import stats

from ssrec.experiments.stats import holm, paired_test, t_interval

A = np.array([0.21, 0.25, 0.19, 0.30, 0.28, 0.22, 0.27, 0.24, 0.26, 0.20, 0.31, 0.18])
B = np.array([0.20, 0.22, 0.19, 0.26, 0.27, 0.20, 0.25, 0.25, 0.21, 0.21, 0.27, 0.15])


def test_t_interval_matches_scipy_and_the_formula():
    x = np.array([0.2120, 0.2081, 0.2143, 0.2099, 0.2110])
    iv = t_interval(x, 0.95)
    lo, hi = stats.t.interval(0.95, df=4, loc=x.mean(), scale=stats.sem(x))
    assert iv.mean == pytest.approx(0.21106)
    assert (iv.low, iv.high) == pytest.approx((lo, hi), rel=1e-12)
    # by hand: t_{4, 0.975} = 2.7764451, s = 0.0023265, half = t * s / sqrt(5)
    assert iv.half_width == pytest.approx(2.7764451 * x.std(ddof=1) / math.sqrt(5), rel=1e-6)
    assert iv.n == 5 and iv.std == pytest.approx(x.std(ddof=1))


def test_t_interval_of_one_value_has_no_bounds():
    iv = t_interval([0.3])
    assert iv.mean == 0.3 and math.isnan(iv.low) and math.isnan(iv.high) and iv.n == 1
    with pytest.raises(ValueError):
        t_interval([])


def test_wilcoxon_and_paired_t_match_scipy():
    w = paired_test(A, B, "wilcoxon")
    ref = stats.wilcoxon(A, B, zero_method="wilcox")
    assert (w.statistic, w.p) == pytest.approx((ref.statistic, ref.pvalue), rel=1e-12)
    assert w.n == 12 and w.mean_difference == pytest.approx((A - B).mean())
    t = paired_test(A, B, "ttest")
    ref = stats.ttest_rel(A, B)
    assert (t.statistic, t.p) == pytest.approx((ref.statistic, ref.pvalue), rel=1e-12)
    # the exact two-sided signed-rank p of this sample, by enumeration of the 2^n signs
    d = (A - B)[(A - B) != 0]
    ranks = stats.rankdata(np.abs(d))
    w_plus = ranks[d > 0].sum()
    signs = (np.arange(2 ** d.size)[:, None] >> np.arange(d.size)) & 1
    dist = signs @ ranks
    p_exact = np.mean(np.abs(dist - ranks.sum() / 2) >= abs(w_plus - ranks.sum() / 2) - 1e-12)
    assert w.p == pytest.approx(p_exact, abs=0.02)  # scipy: normal approx. with ties


def test_identical_samples_are_not_different():
    r = paired_test(A, A.copy())
    assert r.p == 1.0 and r.mean_difference == 0.0
    with pytest.raises(ValueError):
        paired_test(A, B[:-1])
    with pytest.raises(ValueError):
        paired_test(A, B, "sign")


def test_holm_by_hand():
    # sorted p: 0.01, 0.02, 0.03, 0.04 with m = 4 -> 0.04, 0.06, 0.06 (monotone), 0.06
    p = np.array([0.03, 0.01, 0.04, 0.02])
    assert holm(p) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    out = holm([0.01, float("nan"), 0.04])  # NaN: no test, not counted in m
    assert out[0] == pytest.approx(0.02) and math.isnan(out[1]) and out[2] == pytest.approx(0.04)
