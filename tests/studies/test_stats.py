"""Verdict rules and paired statistics on hand-made tables."""

import math

import pandas as pd
import pytest
from scipy import stats as sps

from evalib.studies import stats as st


@pytest.mark.parametrize(
    ("diff", "ci", "kind", "expected"),
    [
        (3.0, 2.0, "better", st.HOLDS),  # [1, 5] excludes 0 above
        (-3.0, 2.0, "better", st.CONTRADICTED),  # [-5, -1] excludes 0 below
        (1.0, 2.0, "better", st.INCONCLUSIVE),  # right sign, interval includes 0
        (-1.0, 2.0, "better", st.INCONCLUSIVE),  # wrong sign, interval includes 0: same
        (-3.0, 2.0, "worse", st.HOLDS),
        (3.0, 2.0, "worse", st.CONTRADICTED),
        (-0.5, 0.4, "matches", st.HOLDS),  # lo = -0.9 >= -1
        (-0.5, 0.6, "matches", st.INCONCLUSIVE),  # lo = -1.1, hi = 0.1
        (-3.0, 1.0, "matches", st.CONTRADICTED),  # hi = -2 < -1
        (0.5, 0.4, "no_better", st.HOLDS),  # hi = 0.9 <= 1
        (3.0, 1.0, "no_better", st.CONTRADICTED),  # lo = 2 > 1
        (0.5, 1.0, "no_better", st.INCONCLUSIVE),
        (5.0, math.nan, "better", st.INCONCLUSIVE),  # one seed: no interval
        (math.nan, math.nan, "better", st.UNTESTED),
    ],
)
def test_verdict_rules(diff, ci, kind, expected):
    assert st.verdict(diff, ci, kind) == expected


def test_wrong_sign_and_right_sign_inside_the_interval_read_the_same():
    assert st.verdict(0.5, 1.0, "better") == st.verdict(-0.5, 1.0, "better")


def test_matches_needs_the_margin_not_just_a_positive_mean():
    # mean ≥ 0 with a wide interval is not "matches": the lower end is far below -margin
    assert st.verdict(0.2, 7.4, "matches") == st.INCONCLUSIVE
    assert st.verdict(0.2, 7.4, "matches", margin=10) == st.HOLDS


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind must be one of"):
        st.verdict(1, 1, "greater")


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ([st.HOLDS, st.HOLDS], st.HOLDS),
        ([st.HOLDS, st.INCONCLUSIVE], st.INCONCLUSIVE),
        ([st.HOLDS, st.CONTRADICTED], st.CONTRADICTED),
        ([st.INCONCLUSIVE, st.CONTRADICTED], st.CONTRADICTED),
        ([st.HOLDS, st.UNTESTED], st.INCONCLUSIVE),
        ([st.UNTESTED], st.UNTESTED),
        ([], st.UNTESTED),
    ],
)
def test_combine(parts, expected):
    assert st.combine(parts) == expected


def test_t_interval_matches_scipy():
    x = [1.0, 2.0, 4.0]
    mean, std, half, n = st.t_interval(x)
    lo, hi = sps.t.interval(0.95, 2, loc=sum(x) / 3, scale=sps.sem(x))
    assert (mean, n) == (pytest.approx(7 / 3), 3)
    assert half == pytest.approx((hi - lo) / 2)
    assert math.isnan(st.t_interval([5.0])[2])


def test_paired_differences_pair_on_seed():
    t = pd.DataFrame(
        {
            "arm": ["a", "a", "a", "b", "b", "b", "a"],
            "rate": [0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.05],
            "seed": [0, 1, 2, 0, 1, 2, 0],
            "clean_test_acc": [0.50, 0.60, 0.70, 0.40, 0.55, 0.60, 0.9],
        }
    )
    d = st.paired_differences(t, {"arm": "a"}, {"arm": "b"})
    assert list(d["rate"]) == [0.02]  # 5 % has no partner
    row = d.iloc[0]
    assert row["n"] == 3
    assert row["diff"] == pytest.approx((10 + 5 + 10) / 3)
    assert row["ci95"] == pytest.approx(st.t_interval([10, 5, 10])[2])
