import math

import pandas as pd
import pytest

from evalib import claims
from evalib.claims import FAILS, HOLDS, PARTLY, UNTESTED


@pytest.mark.parametrize(
    "diff, ci, sign, expected",
    [
        (3.0, 1.0, 1, HOLDS),  # interval [2, 4] excludes 0
        (3.0, 4.0, 1, PARTLY),  # interval [-1, 7] includes 0
        (3.0, math.nan, 1, PARTLY),  # one seed: no interval
        (-0.5, 0.1, 1, FAILS),
        (-3.0, 1.0, -1, HOLDS),
        (0.2, 0.1, -1, FAILS),
        (0.1, 0.5, 0, HOLDS),  # matches: ≥ 0
        (-0.3, 0.5, 0, PARTLY),  # below but within noise
        (-2.0, 0.5, 0, FAILS),
        (-2.0, math.nan, 0, FAILS),
        (math.nan, math.nan, 1, UNTESTED),
    ],
)
def test_verdict_rules(diff, ci, sign, expected):
    assert claims.verdict(diff, ci, sign) == expected


def test_combine():
    assert claims.combine([HOLDS, HOLDS, UNTESTED]) == HOLDS
    assert claims.combine([FAILS, FAILS]) == FAILS
    assert claims.combine([HOLDS, FAILS]) == PARTLY
    assert claims.combine([UNTESTED]) == UNTESTED


def _table():
    # three seeds; EVA beats Random by exactly 2, 3, 4 points at 2 %
    rows = []
    for seed, gain in zip((0, 1, 2), (0.02, 0.03, 0.04), strict=True):
        for method, acc in (("random", 0.80), ("eva", 0.80 + gain), ("forgetting", 0.50),
                            ("full", 0.90)):  # fmt: skip
            rate = 1.0 if method == "full" else 0.02
            rows.append({"method": method, "rate": rate, "seed": seed, "clean_test_acc": acc,
                         "paper_val_acc": acc, "model": "convnet", "width": 0.25})  # fmt: skip
    return pd.DataFrame(rows)


def test_evaluate_by_hand():
    out = claims.evaluate(_table(), "organamnist", [0.02]).set_index("comparison")
    eva = out.loc["EVA − Random"]
    assert eva["diff"] == pytest.approx(3.0) and eva["std"] == pytest.approx(1.0)
    assert eva["ci95"] == pytest.approx(4.302653 / math.sqrt(3), rel=1e-5)
    assert eva["verdict"] == HOLDS  # 3 − 2.48 > 0
    assert out.loc["forgetting − Random", "verdict"] == HOLDS  # −30 every seed, std 0 → ci 0
    assert math.isnan(out.loc["entropy − Random", "diff"])  # not run
    assert out.loc["EVA 30 % − full data", "verdict"] == UNTESTED  # no 30 % rows


def test_paper_difference_from_table1():
    assert claims.paper_difference("organamnist", "eva", "random", 0.02) == pytest.approx(1.20)
    assert claims.paper_difference("organamnist", "eva", "full", 0.3) == pytest.approx(0.24)


def test_transfer_leaves_out_the_surrogate_model():
    t = _table()
    other = t.assign(model="resnet18", width=0.125)
    both = pd.concat([t, other])
    out = claims.transfer(both, "organamnist", surrogate=("convnet", 0.25))
    assert out["model_label"].tolist() == ["resnet18 ×0.125"]
    assert out["diff"].iloc[0] == pytest.approx(3.0)
    assert claims.transfer(t, "organamnist", surrogate=("convnet", 0.25)).empty
    why = claims.summary(out.assign(protocol="clean")).set_index("claim").loc[6, "why"]
    assert "EVA − Random on resnet18 ×0.125 at 2 %, +3.0" in why


def test_diff_stats_by_hand():
    mean, ci, std, n = claims.diff_stats([1.0, 2.0, 3.0])
    assert (mean, std, n) == (2.0, 1.0, 3)
    assert ci == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)  # t(0.975, 2) · s / √n
    one = claims.diff_stats([5.0, math.nan])
    assert one[0] == 5.0 and math.isnan(one[1]) and math.isnan(one[2]) and one[3] == 1
    none = claims.diff_stats([])
    assert math.isnan(none[0]) and none[3] == 0


def test_related_claim_combines_parts_and_shows_numbers():
    row = claims.related_claim("c", "src", "A − B > 0", {"2%": [1, 2, 3], "5%": [-1, -2, -3]}, 1)
    assert row["parts"] == {"2%": PARTLY, "5%": FAILS}
    assert row["verdict"] == PARTLY
    assert "2%: +2.00 ± 2.48 (n=3)" in row["ours"] and row["ours"].endswith("[points]")
    tight = claims.related_claim("c", "s", "e", {"all": [3.0, 3.1, 2.9]}, 1)
    assert tight["verdict"] == HOLDS
    empty = claims.related_claim("c", "s", "e", {"x": []}, 1)
    assert empty["verdict"] == UNTESTED and empty["ours"] == "no results"
    md = claims.verdict_markdown([row, tight])
    assert md.count("\n| c |") == 2 and "**partly**" in md and "**holds**" in md


def test_summary_explains_with_the_comparison_most_against_the_claim():
    rows = pd.DataFrame([
        {"dataset": "d", "protocol": "clean", "claim": 1, "comparison": "EVA − Random",
         "rate": 0.02, "diff": -4.0, "ci95": 1.5, "n_seeds": 3, "verdict": FAILS,
         "direction": 1, "paper": 2.5},
        {"dataset": "d", "protocol": "clean", "claim": 1, "comparison": "EVA − Random",
         "rate": 0.05, "diff": 3.0, "ci95": 1.0, "n_seeds": 3, "verdict": HOLDS,
         "direction": 1, "paper": 5.6},
        {"dataset": "d", "protocol": "clean", "claim": 2, "comparison": "el2n − Random",
         "rate": 0.02, "diff": -9.0, "ci95": 2.0, "n_seeds": 3, "verdict": HOLDS,
         "direction": -1, "paper": math.nan},
        {"dataset": "d", "protocol": "clean", "claim": 2, "comparison": "aum − Random",
         "rate": 0.02, "diff": -3.0, "ci95": 1.0, "n_seeds": 3, "verdict": HOLDS,
         "direction": -1, "paper": math.nan},
    ])  # fmt: skip
    out = claims.summary(rows).set_index("claim")
    assert out.loc[1, "verdict"] == PARTLY
    assert out.loc[1, "why"] == (
        "1 of 2 comparisons hold, 0 partly (one seed, or a 95 % interval that includes 0), "
        "1 do not; most against the claim: EVA − Random at 2 %, -4.0 ± 1.5 points "
        "(3 seeds; the paper: +2.5)."
    )
    # claim 2 wants negative differences: the weakest is the one closest to 0 (aum)
    assert out.loc[2, "verdict"] == HOLDS
    assert "weakest: aum − Random at 2 %, -3.0 ± 1.0 points (3 seeds)." in out.loc[2, "why"]
    assert list(claims.summary(pd.DataFrame()).columns)[-1] == "why"
