"""The paper's claims on hand-made labelled result tables (arms of evalib.studies.grids)."""

import math

import pandas as pd
import pytest

from evalib.studies import claims
from evalib.studies.stats import CONTRADICTED, HOLDS, INCONCLUSIVE, UNTESTED

CONVNET = ("convnet", 0.25)


def _rows(arm, rate, accs, budget="epochs", model=CONVNET):
    return [{"arm": arm, "rate": rate, "seed": s, "budget": budget, "clean_test_acc": a,
             "paper_val_acc": a, "model": model[0], "width": model[1]}
            for s, a in enumerate(accs)]  # fmt: skip


def _table():
    # three seeds; tuned EVA beats Random by exactly 2, 3, 4 points at 2 %, loses at 5 %
    rows = []
    rows += _rows("random", 0.02, (0.80, 0.80, 0.80))
    rows += _rows("eva_tuned", 0.02, (0.82, 0.83, 0.84))
    rows += _rows("random", 0.05, (0.85, 0.86, 0.87))
    rows += _rows("eva_tuned", 0.05, (0.80, 0.80, 0.80))
    rows += _rows("forgetting", 0.02, (0.50, 0.50, 0.50))
    rows += _rows("forgetting", 0.05, (0.60, 0.61, 0.62))
    rows += _rows("full", 1.0, (0.90, 0.90, 0.90))
    rows += _rows("eva_tuned", 0.3, (0.898, 0.90, 0.902))
    rows += _rows("random", 0.02, (0.70, 0.71, 0.72), "floor")
    rows += _rows("eva_tuned", 0.02, (0.75, 0.75, 0.75), "floor")
    return pd.DataFrame(rows)


def _by(out, claim, rate=None, budget="epochs", part=None):
    sel = (out["claim"] == claim) & (out["budget"] == budget)
    if rate is not None:
        sel &= out["rate"] == rate
    if part is not None:
        sel &= out["part"] == part
    return out[sel]


def test_evaluate_by_hand():
    out = claims.evaluate(_table(), "organamnist", [0.02, 0.05], surrogate_model=CONVNET)
    eva2 = _by(out, "1", 0.02).iloc[0]
    assert eva2["diff"] == pytest.approx(3.0) and eva2["std"] == pytest.approx(1.0)
    assert eva2["ci95"] == pytest.approx(4.302653 / math.sqrt(3), rel=1e-5)
    assert eva2["verdict"] == HOLDS  # 3 − 2.48 > 0
    assert eva2["paper"] == pytest.approx(1.20)  # the paper's EVA − Random at 2 %
    assert _by(out, "1", 0.05).iloc[0]["verdict"] == CONTRADICTED  # −5, −6, −7
    # the floor budget is judged on its own rows
    floor = _by(out, "1", 0.02, "floor").iloc[0]
    assert floor["diff"] == pytest.approx(4.0) and floor["verdict"] == HOLDS
    forgetting = _by(out, "2a", 0.02, part="forgetting − Random").iloc[0]
    assert forgetting["verdict"] == HOLDS  # −30 every seed, std 0
    assert _by(out, "2a", 0.02, part="entropy − Random").iloc[0]["verdict"] == UNTESTED
    five = _by(out, "5").iloc[0]
    assert five["diff"] == pytest.approx(0.0) and five["verdict"] == HOLDS  # within 1 point
    # EVA has floor-budget rows at 2 % only: claim 5 (at 30 %) is not read under the floor
    assert _by(out, "5", budget="floor").empty and len(_by(out, "1", budget="floor")) == 2


def test_claim_verdicts_need_every_part():
    out = claims.evaluate(_table(), "organamnist", [0.02, 0.05], surrogate_model=CONVNET)
    summary = claims.summary(out).set_index(["budget", "claim"])
    assert summary.loc[("epochs", "1"), "verdict"] == CONTRADICTED  # holds at 2 %, not at 5 %
    assert summary.loc[("epochs", "2a"), "verdict"] == INCONCLUSIVE  # untested baselines
    why = summary.loc[("epochs", "1"), "why"]
    assert why.startswith("2 comparisons: 1 holds, 1 is contradicted, 0 inconclusive")
    assert "EVA tuned − Random at 5 %, −6.0 ± 2.5 points (3 seeds; the paper: +1.0)" in why


def test_claim_5_only_on_organamnist_and_2b_only_at_5_percent():
    out = claims.evaluate(_table(), "bloodmnist", [0.02, 0.05], surrogate_model=CONVNET)
    assert "5" not in set(out["claim"])
    assert set(_by(out, "2b")["rate"]) == {0.05}


def test_transfer_uses_only_the_other_networks():
    t = _table()
    other = pd.DataFrame(
        _rows("random", 0.05, (0.6, 0.6, 0.6), model=("resnet18", 0.125))
        + _rows("eva_tuned", 0.05, (0.7, 0.7, 0.7), model=("resnet18", 0.125))
    )
    out = claims.evaluate(pd.concat([t, other]), "organamnist", [0.02, 0.05],
                          surrogate_model=CONVNET)  # fmt: skip
    six = _by(out, "6", 0.05)
    assert six["model"].tolist() == ["resnet18 ×0.125"]
    assert six["diff"].iloc[0] == pytest.approx(10.0) and six["verdict"].iloc[0] == HOLDS
    # the convnet's own 5 % rows (EVA −6) are not a transfer
    assert _by(out, "1", 0.05)["diff"].tolist() == [pytest.approx(-6.0)]


def test_paper_difference_from_table1():
    assert claims.paper_difference("organamnist", "eva", "random", 0.02) == pytest.approx(1.20)
    assert claims.paper_difference("organamnist", "eva", "full", 0.3) == pytest.approx(0.24)


def test_diff_stats_by_hand():
    mean, ci, std, n = claims.diff_stats([1.0, 2.0, 3.0])
    assert (mean, std, n) == (2.0, 1.0, 3)
    assert ci == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)  # t(0.975, 2) · s / √n
    one = claims.diff_stats([5.0, math.nan])
    assert one[0] == 5.0 and math.isnan(one[1]) and math.isnan(one[2]) and one[3] == 1
    none = claims.diff_stats([])
    assert math.isnan(none[0]) and none[3] == 0


def test_related_claim_combines_parts_and_shows_numbers():
    row = claims.related_claim("pie_coreset", {"2%": [1, 2, 3], "5%": [-1, -2, -3]})
    assert row["parts"] == {"2%": INCONCLUSIVE, "5%": INCONCLUSIVE}  # both include 0
    assert row["verdict"] == INCONCLUSIVE
    assert row["claim"] == "the highest-HTL coreset beats Random"
    assert row["expected"] == "HTL − Random > 0" and row["source"].startswith("this book")
    assert row["ours"] == "2%: +2.00 ± 2.48 points (3 seeds); 5%: −2.00 ± 2.48 points (3 seeds)"
    tight = claims.related_claim("pie_coreset", {"all": [3.0, 3.1, 2.9]})
    assert tight["verdict"] == HOLDS
    against = claims.related_claim("pie_coreset", {"all": [-3.0, -3.1, -2.9]})
    assert against["verdict"] == CONTRADICTED
    worse = claims.related_claim("dad_el2n_fails", {"all": [-3.0, -3.1, -2.9]})
    assert worse["verdict"] == HOLDS and worse["ours"] == "all: −3.00 ± 0.25 Dice × 100 (3 seeds)"
    filled = claims.related_claim("dad_keeps_random", {"all": [0.1, 0.2, 0.0]}, rule="dad_easy")
    assert filled["claim"] == "DAD keeps Random's quality or better (dad_easy)"
    empty = claims.related_claim("pie_coreset", {"x": []})
    assert empty["verdict"] == UNTESTED and empty["ours"] == "no results"
    md = claims.verdict_markdown([row, tight])
    assert md.count("\n| the highest-HTL coreset beats Random |") == 2
    assert "**inconclusive**" in md and "**holds**" in md


def test_related_claims_are_declared_once_per_page():
    keys = [c.key for c in claims.RELATED]
    assert len(keys) == len(set(keys))
    assert {c.page for c in claims.RELATED} == {"07", "08", "09"}
    assert {c.kind for c in claims.RELATED} <= {"better", "worse", "matches", "correlation"}
    with pytest.raises(KeyError, match="no related claim 'nope'"):
        claims.related("nope")


def test_summary_of_nothing_has_the_columns():
    assert list(claims.summary(pd.DataFrame()).columns)[-1] == "why"


def test_comparison_table_names_each_network_and_joins_the_interval():
    t = _table()
    other = pd.DataFrame(
        _rows("random", 0.05, (0.7, 0.7, 0.7), model=("vgg", 0.125))
        + _rows("eva_tuned", 0.05, (0.72, 0.71, 0.73), model=("vgg", 0.125))
    )
    out = claims.evaluate(pd.concat([t, other]), "organamnist", [0.02, 0.05],
                          surrogate_model=CONVNET)  # fmt: skip
    table = claims.comparison_table(out)
    assert list(table.columns) == ["claim", "comparison", "rate", "budget", "ours", "paper",
                                   "seeds", "verdict"]  # fmt: skip
    row = table[(table["claim"] == "1") & (table["rate"] == "2 %") & (table["budget"] == "epochs")]
    assert row.iloc[0]["ours"].startswith("+3.0 ± ") and row.iloc[0]["paper"] == "+1.2"
    assert "EVA tuned − Random on vgg ×0.125" in set(table["comparison"])
    assert (table.loc[table["seeds"] == 0, "ours"] == "—").all()
