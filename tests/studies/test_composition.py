"""evalib.studies.composition on hand-made tables: class shares of coresets, per-class
accuracy, the grid against Random, distinct and identical coresets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalib.runs.config import get_profile
from evalib.studies import composition as co
from evalib.studies import stats

# a training split of 10 images: class 0 (a) holds 5, class 1 (b) 3, class 2 (c) 2
LABELS = {"toy": np.array([0, 0, 0, 0, 0, 1, 1, 1, 2, 2])}
NAMES = {"toy": ("a", "b", "c")}
SELECTIONS = {
    "r0": np.array([0, 1, 5, 8]),  # Random, seed 0: 2 a, 1 b, 1 c
    "r1": np.array([2, 3, 6, 9]),  # Random, seed 1: 2 a, 1 b, 1 c
    "e0": np.array([0, 1, 2, 3]),  # EVA, seed 0: 4 a
    "e1": np.array([0, 1, 2, 5]),  # EVA, seed 1: 3 a, 1 b
}


def _rows():
    rows = []
    for arm, key in (("random", "r"), ("eva_tuned", "e")):
        for seed in (0, 1):
            for budget in ("epochs", "floor"):  # one coreset under both budgets
                rows.append({"dataset": "toy", "arm": arm, "rate": 0.4, "seed": seed,
                             "budget": budget, "indices_sha256": f"{key}{seed}"})  # fmt: skip
    return pd.DataFrame(rows)


def test_class_shares_by_hand():
    out = co.class_shares(_rows(), SELECTIONS, LABELS, NAMES,
                          test_labels={"toy": np.array([0, 1, 1, 2])})  # fmt: skip
    assert len(out) == 2 * 2 * 3  # arms x seeds x classes: budgets share a coreset
    e0 = out[(out["arm"] == "eva_tuned") & (out["seed"] == 0)].set_index("class_name")
    assert e0["count"].tolist() == [4, 0, 0] and (e0["size"] == 4).all()
    assert e0["share"].tolist() == [1.0, 0.0, 0.0]
    assert e0["train_share"].tolist() == pytest.approx([0.5, 0.3, 0.2])
    assert e0["test_share"].tolist() == pytest.approx([0.25, 0.5, 0.25])
    assert e0["random_share"].tolist() == [0.5, 0.25, 0.25]  # Random's seed 0
    # a loader function works as well as a mapping; a subset of the split sets the training share
    loaded = co.class_shares(_rows(), lambda flag, digest: SELECTIONS[digest], LABELS, NAMES,
                             train_ids={"toy": np.array([0, 5, 8, 9])})  # fmt: skip
    assert loaded["train_share"].iloc[:3].tolist() == pytest.approx([0.25, 0.25, 0.5])
    assert co.class_shares(pd.DataFrame(), SELECTIONS, LABELS, NAMES).empty


def test_share_summary_and_the_largest_classes():
    shares = co.class_shares(_rows(), SELECTIONS, LABELS, NAMES)
    s = co.share_summary(shares).set_index(["arm", "class_name"])
    assert s.loc[("eva_tuned", "a"), "share"] == pytest.approx(0.875)  # (4/4 + 3/4) / 2
    assert (
        s.loc[("eva_tuned", "a"), "count_min"] == 3 and s.loc[("eva_tuned", "a"), "count_max"] == 4
    )
    assert s.loc[("eva_tuned", "a"), "vs_random"] == pytest.approx(0.875 / 0.5)
    assert s.loc[("eva_tuned", "c"), "vs_random"] == 0.0
    assert s.loc[("random", "b"), "vs_random"] == 1.0
    top = co.top_classes_share(shares, k=1).set_index(["arm", "seed"])
    assert top.loc[("eva_tuned", 0), "top_share"] == 1.0
    assert top.loc[("random", 1), "top_share"] == 0.5
    assert (top["train_top"] == 0.5).all()
    table = co.share_table(co.share_summary(shares), ("random", "eva_tuned"))
    assert table["class"].tolist() == ["a", "b", "c"]
    assert table["eva_tuned images"].tolist() == ["3–4", "0–1", "0"]
    assert table["training %"].tolist() == [50.0, 30.0, 20.0]


def test_per_class_accuracy_counts_the_rows_without_it():
    rows = _rows().assign(test_per_class=[[1.0, 0.5, None]] * 7 + [None])
    acc, missing = co.per_class_accuracy(rows, NAMES, {"toy": np.array([0, 0, 1, 2])})
    assert missing == 1 and len(acc) == 7 * 3
    first = acc.iloc[:3]
    assert first["acc"].tolist()[:2] == [1.0, 0.5] and np.isnan(first["acc"].iloc[2])
    assert first["test_share"].tolist() == [0.5, 0.25, 0.25]
    s = co.accuracy_summary(acc)
    assert set(s["budget"]) == {"epochs", "floor"}
    assert s.loc[s["class_name"] == "b", "acc"].tolist() == [50.0] * 4
    table = co.accuracy_table(s, ("random", "eva_tuned"))
    assert table["random acc %"].tolist()[:2] == [100.0, 50.0]
    no_record, n = co.per_class_accuracy(_rows(), NAMES)
    assert no_record.empty and n == len(_rows())


def _tuning():
    # EVA: four pairs on the tuning seed; validation picks the second, test prefers the third;
    # two pairs choose the same coreset
    return pd.DataFrame({
        "arm": ["eva"] * 4 + ["var_s"] * 2,
        "rate": [0.02] * 6,
        "windows": ["p1", "p2", "p3", "p4", "w1", "w2"],
        "final_val_acc": [0.60, 0.75, 0.70, 0.50, 0.40, 0.45],
        "clean_test_acc": [0.58, 0.66, 0.74, 0.50, 0.30, 0.35],
        "indices_sha256": ["d1", "d2", "d3", "d1", "d5", "d6"],
    })  # fmt: skip


def _reported():
    rows = [{"arm": "random", "rate": 0.02, "seed": s, "budget": b, "clean_test_acc": a}
            for s, a in enumerate((0.70, 0.72, 0.76)) for b in ("epochs", "floor")]  # fmt: skip
    rows += [{"arm": "eva_tuned", "rate": 0.02, "seed": s, "budget": "epochs",
              "clean_test_acc": a} for s, a in enumerate((0.50, 0.60, 0.70))]  # fmt: skip
    return pd.DataFrame(rows)


def test_grid_robustness_by_hand():
    out = co.grid_robustness(_tuning(), _reported()).set_index("arm")
    eva = out.loc["eva"]
    assert eva["settings"] == 4 and eva["distinct"] == 3
    assert (eva["ref_min"], eva["ref_max"], eva["ref_seeds"]) == (70.0, 76.0, 3)
    assert eva["chosen"] == "p2" and eva["chosen_test"] == pytest.approx(66.0)
    assert eva["chosen_reported"] == pytest.approx(60.0)
    assert eva["best_windows"] == "p3" and eva["best_test"] == pytest.approx(74.0)
    assert eva["beat_worst"] == 1 and eva["beat_best"] == 0  # only p3, above 70 but not 76
    assert out.loc["var_s", "beat_worst"] == 0 and np.isnan(out.loc["var_s", "chosen_reported"])
    # without Random's runs nothing is counted
    alone = co.grid_robustness(_tuning(), pd.DataFrame()).set_index("arm")
    assert np.isnan(alone.loc["eva", "beat_worst"]) and alone.loc["eva", "best_test"] == 74.0
    # class-balanced EVA is judged against stratified Random
    cb = _tuning().assign(arm="eva_cb")
    strat = _reported().replace({"random": "random_strat"})
    assert co.grid_robustness(cb, strat)["reference"].unique().tolist() == ["random_strat"]


def test_distinct_coresets_by_hand():
    out = co.distinct_coresets(_tuning()).set_index("arm")
    assert out.loc["eva", ["settings", "distinct", "shared"]].tolist() == [4, 3, 2]
    assert out.loc["var_s", "shared"] == 0


def test_identical_pairs_by_hand():
    t = pd.DataFrame({
        "arm": ["var_d", "var_s"] * 3 + ["var_d", "var_s"],
        "rate": [0.02] * 6 + [0.05] * 2,
        "seed": [0, 0, 1, 1, 2, 2, 0, 0],
        "indices_sha256": ["x", "x", "y", "y", "z", "w", "u", "v"],
    })  # fmt: skip
    out = stats.identical_pairs(t, {"arm": "var_d"}, {"arm": "var_s"})
    assert out.to_dict("records") == [{"rate": 0.02, "n": 3, "identical": 2},
                                      {"rate": 0.05, "n": 1, "identical": 0}]  # fmt: skip
    assert stats.identical_pairs(t.drop(columns="indices_sha256"), {"arm": "var_d"},
                                 {"arm": "var_s"}).empty  # fmt: skip


def test_own_rows_keep_the_surrogates_network_at_the_low_rates():
    cpu = get_profile("cpu")
    t = pd.DataFrame({"model": ["convnet", "convnet", "resnet18", "convnet"],
                      "width": [0.25, 0.25, 0.125, 0.25], "rate": [0.02, 0.3, 0.02, 0.05]})  # fmt: skip
    assert co.own_rows(t, cpu).index.tolist() == [0, 3]
