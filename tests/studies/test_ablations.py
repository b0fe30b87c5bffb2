"""evalib.studies.ablations: job builders, labelling, pivots and selection overlaps (no training)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evalib.dynamics import from_arrays
from evalib.errors import EvalibError
from evalib.runs.config import Job, get_profile
from evalib.scores import check_windows
from evalib.studies import ablations as ab
from evalib.studies import labels, overlaps

SMOKE = get_profile("smoke")
CPU = get_profile("cpu")
PAPER = get_profile("paper")


def _windows_of(job: Job) -> list[tuple[int, int]]:
    p = job.selection.param_dict()
    return [tuple(p[k]) for k in ("window", "early", "late") if k in p]


# ----------------------------------------------------------------------------- windows


def test_grid_pairs_of_a_tiling_grid_are_all_ordered_pairs():
    ws = [(4, 6), (0, 2), (2, 4)]
    assert ab.grid_pairs(ws) == [((0, 2), (2, 4)), ((0, 2), (4, 6)), ((2, 4), (4, 6))]


def test_grid_pairs_skip_overlapping_windows_and_duplicates():
    ws = [(0, 4), (2, 6), (4, 8), (0, 4)]
    assert ab.grid_pairs(ws) == [((0, 4), (4, 8))]


@pytest.mark.parametrize("profile", [SMOKE, CPU, PAPER], ids=lambda p: p.name)
def test_grid_pairs_count_and_validity_per_profile(profile):
    ws = profile.grid_windows()
    pairs = ab.grid_pairs(ws)
    assert len(pairs) == len(ws) * (len(ws) - 1) // 2  # the grid tiles the epochs
    for e, lt in pairs:
        assert check_windows(e, lt, profile.surrogate_epochs) == (e, lt)
        assert e[1] <= lt[0]


# ----------------------------------------------------------------------------- job builders


def test_grid_windows_are_scaled_by_the_profile():
    # K = 25 of 200 epochs -> 5 of the cpu surrogate's 40; the paper's own 10 of 200
    assert CPU.grid_windows()[:2] == [(0, 5), (5, 10)]
    assert PAPER.grid_windows()[:2] == [(0, 10), (10, 20)]
    assert SMOKE.grid_windows() == [(0, 2), (2, 4), (4, 6)]


def test_drop_last_surrogate_changes_only_the_loader():
    cfg = SMOKE.surrogate_config("organamnist", 0)
    dl = ab.drop_last_surrogate(cfg)
    assert dl.recipe.drop_last and not cfg.recipe.drop_last
    assert dl.key() != cfg.key()
    assert (dl.data, dl.model, dl.seed, dl.recipe.epochs) == (
        cfg.data, cfg.model, cfg.seed, cfg.recipe.epochs)  # fmt: skip


# ----------------------------------------------------------------------------- tables


def _table() -> pd.DataFrame:
    """A hand-made results table; params are lists, as read back from JSON."""
    rows = []
    e, lt = [0, 2], [2, 4]
    data = [
        ("exp_s", {"window": e}, 0.05, 0, 0.10, 0.20),
        ("exp_s", {"window": e}, 0.05, 1, 0.20, 0.30),
        ("var_s", {"window": e}, 0.05, 0, 0.40, 0.50),
        ("var_s", {"window": e}, 0.05, 1, 0.60, 0.50),
        ("var_s", {"window": lt}, 0.05, 0, 0.30, 0.70),
        ("var_s", {"window": lt}, 0.05, 1, 0.30, 0.70),
        ("var_d", {"early": e, "late": lt}, 0.05, 0, 0.80, 0.40),
        ("var_d", {"early": e, "late": lt}, 0.05, 1, 0.60, 0.40),
        ("var_s", {"window": e}, 0.30, 0, 0.90, 0.90),
        ("exp_s", {"window": e}, 0.30, 0, 0.50, 0.60),
        ("full", {}, 1.0, 0, 0.95, 0.93),
    ]
    for m, p, r, s, v, t in data:
        rows.append({"method": m, "params": p, "rate": r, "seed": s, "model": "convnet",
                     "width": 0.125, "paper_val_acc": v, "clean_test_acc": t})  # fmt: skip
    return pd.DataFrame(rows)


def test_annotate_labels_each_row():
    t = ab.annotate(_table(), {"early": (0, 2), "late": (2, 4)})
    assert len(t) == 11
    first = t.iloc[0]
    assert first["window"] == (0, 2) and first["kind"] == "single"
    assert first["score"] == "expectation" and first["arm"] == "EXP-S early"
    dual = t[t["method"] == "var_d"].iloc[0]
    assert (dual["early"], dual["late"]) == ((0, 2), (2, 4))
    assert dual["windows"] == "[0, 2) + [2, 4)" and dual["arm"] == "VAR-D early+late"
    assert dual["score"] == "variance" and dual["kind"] == "dual"
    full = t[t["method"] == "full"].iloc[0]
    assert (full["kind"], full["arm"], full["windows"]) == ("", "Full data", "")
    assert set(t["model_label"]) == {"convnet ×0.125"}
    # without names the role is the window text
    t2 = ab.annotate(_table())
    assert t2.iloc[0]["arm"] == "EXP-S [0, 2)"


def test_annotate_official_eva_and_default_windows():
    t = pd.DataFrame([
        {"method": "eva", "params": {"variant": "official", "early": [0, 2], "late": [2, 4]}},
        {"method": "var_s", "params": {}},  # registry default window
    ])  # fmt: skip
    a = ab.annotate(t)
    assert a.iloc[0]["arm"] == "EVA (official) [0, 2) + [2, 4)"
    assert a.iloc[1]["window"] == (0, 10)


def test_summarize_protocols_stacks_both_metrics():
    s = ab.summarize_protocols(ab.annotate(_table()), by=("method", "rate"))
    assert list(s.columns) == ["method", "rate", "protocol", "metric", "mean", "std", "count",
                               "ci95"]  # fmt: skip
    assert len(s) == 2 * 6  # (exp_s, var_s) x 2 rates + var_d + full, per protocol
    row = s[(s.method == "exp_s") & (s.rate == 0.05) & (s.protocol == "paper")].iloc[0]
    assert row["mean"] == pytest.approx(15.0) and row["count"] == 2
    assert row["metric"] == "paper_val_acc"


def test_paired_difference_pairs_on_seed():
    t = ab.annotate(_table())
    d = ab.paired_difference(t, {"method": "var_s", "role": "[0, 2)"}, {"method": "exp_s"},
                             by=("rate",), name="VAR-S − EXP-S")  # fmt: skip
    assert set(d["protocol"]) == {"paper", "clean"}
    p = d[(d.protocol == "paper") & (d.rate == 0.05)].iloc[0]
    # seed 0: 40 - 10 = 30; seed 1: 60 - 20 = 40
    assert p["diff"] == pytest.approx(35.0)
    assert p["std"] == pytest.approx(np.std([30, 40], ddof=1))
    assert p["count"] == 2 and p["mean_a"] == pytest.approx(50) and p["mean_b"] == pytest.approx(15)
    assert p["ci95"] > 0 and p["comparison"] == "VAR-S − EXP-S"
    one = d[(d.protocol == "clean") & (d.rate == 0.30)].iloc[0]
    assert one["diff"] == pytest.approx(30.0) and one["count"] == 1 and math.isnan(one["ci95"])


def test_paired_difference_ignores_unpaired_seeds_and_empty():
    t = ab.annotate(_table())
    t = t.drop(t[(t.method == "exp_s") & (t.seed == 1)].index)
    d = ab.paired_difference(t, {"method": "var_s", "role": "[0, 2)"}, {"method": "exp_s"})
    row = d[(d.protocol == "paper") & (d.rate == 0.05)].iloc[0]
    assert row["count"] == 1 and row["diff"] == pytest.approx(30.0)
    empty = ab.paired_difference(t, {"method": "nope"}, {"method": "exp_s"})
    assert empty.empty and "diff" in empty.columns


def test_describe_differences_lists_each_comparison_per_rate():
    t = ab.annotate(_table())
    d = ab.paired_difference(t, {"method": "var_s", "role": "[0, 2)"}, {"method": "exp_s"},
                             by=("rate",), name="VAR-S − EXP-S")  # fmt: skip
    text = ab.describe_differences(d, protocol="paper")
    half = stats.t.ppf(0.975, 1) * np.std([30, 40], ddof=1) / np.sqrt(2)
    assert text.startswith("- **VAR-S − EXP-S**: +35.0 ± " + f"{half:.1f} at 5 %")
    assert "(1/2 seeds)" in text and text.count("\n") == 0
    assert ab.describe_differences(d[d.protocol == "clean"], protocol="paper") == ""


def test_grid_matrix_shape_and_values():
    t = ab.annotate(_table())
    m = ab.grid_matrix(t, "paper_val_acc", 0.05)
    assert m.shape == (2, 2)
    assert list(m.index) == list(m.columns) == ["[0, 2)", "[2, 4)"]
    assert m.loc["[0, 2)", "[0, 2)"] == pytest.approx(50.0)  # VAR-S mean over seeds
    assert m.loc["[2, 4)", "[2, 4)"] == pytest.approx(30.0)
    assert m.loc["[0, 2)", "[2, 4)"] == pytest.approx(70.0)  # VAR-D (early row, late column)
    assert math.isnan(m.loc["[2, 4)", "[0, 2)"])
    wider = ab.grid_matrix(t, "clean_test_acc", 0.05, windows=[(0, 2), (2, 4), (4, 6)])
    assert wider.shape == (3, 3) and wider.isna().sum().sum() == 9 - 3


def test_best_on_validation_vs_best_on_test():
    t = ab.annotate(_table())
    t = t[t["method"].isin(["var_s", "var_d"])]
    b = ab.best_on_validation(t, by=("rate",), arm="windows")
    r = b[b.rate == 0.05].iloc[0]
    # means over seeds (val, test): [0,2): (50, 50); [2,4): (30, 70); pair: (70, 40)
    assert r["n_arms"] == 3
    assert r["chosen_on_val"] == "[0, 2) + [2, 4)"
    assert r["chosen_val"] == pytest.approx(70) and r["chosen_test"] == pytest.approx(40)
    assert r["best_on_test"] == "[2, 4)" and r["best_test"] == pytest.approx(70)
    assert r["optimism"] == pytest.approx(30)
    r30 = b[b.rate == 0.30].iloc[0]
    assert r30["n_arms"] == 1 and r30["optimism"] == 0


def test_wide_pivots_and_rejects_duplicates():
    s = pd.DataFrame({"model": ["a", "a", "b"], "method": ["x", "y", "x"], "mean": [1, 2, 3.0]})
    w = ab.wide(s, "model", "method")
    assert w.shape == (2, 2) and w.loc["b", "x"] == 3 and math.isnan(w.loc["b", "y"])
    with pytest.raises(EvalibError):
        ab.wide(pd.concat([s, s]), "model", "method")


# ----------------------------------------------------------------------------- selections


def test_score_overlaps_and_matrix_by_hand():
    s = {
        "a": np.array([5.0, 4, 3, 2, 1, 0]),
        "b": np.array([5.0, 0, 4, 1, 2, 3]),
        "c": np.array([0.0, 1, 2, 3, 4, 5]),
    }
    o = overlaps.score_overlaps(s, [0.5])
    assert list(o[["a", "b"]].itertuples(index=False, name=None)) == [
        ("a", "b"), ("a", "c"), ("b", "c")]  # fmt: skip
    ab_row = o.iloc[0]  # a top-3 {0,1,2}, b top-3 {0,2,5}: 2 shared, union 4
    assert ab_row["m"] == 3 and ab_row["intersection"] == 2
    assert ab_row["jaccard"] == pytest.approx(0.5)
    m = overlaps.overlap_matrix(s, 0.5)
    assert m.shape == (3, 3) and np.allclose(np.diag(m), 1)
    assert m.loc["a", "b"] == m.loc["b", "a"] == pytest.approx(0.5)
    assert m.loc["a", "c"] == 0  # a top {0,1,2}, c top {3,4,5}


def _dynamics(seen=None, t=6, n=40, c=3, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(t, n, c)).cumsum(axis=0)
    lp = logits - np.log(np.exp(logits).sum(axis=2, keepdims=True))
    return from_arrays(lp, rng.integers(0, c, n), seen=seen)


def test_window_scores_keys_and_values():
    d = _dynamics()
    s = overlaps.window_scores(d, [(0, 2), (2, 4)], ab.grid_pairs([(0, 2), (2, 4)]))
    assert list(s) == ["[0, 2)", "[2, 4)", "[0, 2) + [2, 4)"]
    assert np.allclose(s["[0, 2) + [2, 4)"], s["[0, 2)"] + s["[2, 4)"])  # VAR-D = sum


def test_eva_variant_scores_and_window_share():
    d = _dynamics()
    v = overlaps.eva_variant_scores(d, (0, 3), (3, 6))
    assert set(v) == {"paper", "official"} and v["paper"].shape == (40,)
    share = overlaps.window_variance_share(d, (0, 3), (3, 6))
    assert 0 <= share["early_share"] <= 1
    assert share["early_share"] == pytest.approx(
        share["early_total"] / (share["early_total"] + share["late_total"]))  # fmt: skip


def test_unseen_in_windows():
    seen = np.ones((6, 4), bool)
    seen[1, 0] = False  # inside [0, 2)
    seen[4, 1] = False  # outside [0, 2) and [2, 4)
    seen[3, 2] = False  # inside [2, 4)
    assert overlaps.unseen_in(seen, [(0, 2), (2, 4)]).tolist() == [True, False, True, False]


def test_missing_effect_zero_fill_favours_unseen_samples():
    rng = np.random.default_rng(1)
    t, n = 6, 60
    seen = np.ones((t, n), bool)
    hit = rng.choice(n, 10, replace=False)
    seen[rng.integers(0, 3, 10), hit] = False  # one unseen epoch each, inside [0, 3)
    d = _dynamics(seen=seen, t=t, n=n)
    eff = overlaps.missing_effect(d, [0.1, 0.5], early=(0, 3), late=(3, 6))
    assert list(eff["rate"]) == [0.1, 0.5]
    assert eff["affected_all"].iloc[0] == pytest.approx(10 / 60)
    assert (eff["affected_zero"] >= eff["affected_mask"]).all()
    assert eff["affected_zero"].iloc[0] > eff["affected_mask"].iloc[0]
    assert (eff["jaccard"] < 1).any()
    full = overlaps.missing_effect(_dynamics(t=t, n=n), [0.1], early=(0, 3), late=(3, 6))
    assert full["jaccard"].iloc[0] == 1 and full["affected_all"].iloc[0] == 0
    with pytest.raises(EvalibError, match="windows"):
        overlaps.missing_effect(d, [0.1])


# ----------------------------------------------------------------------------- models


def test_paper_counterpart():
    assert ab.paper_counterpart("resnet18") == "resnet50"
    assert ab.paper_counterpart("mobilenet_v2") == "mobilenet_v2"
    assert ab.paper_counterpart("vgg") == "vgg"
    assert ab.paper_counterpart("convnet") is None


def test_architecture_info():
    info = ab.architecture_info(SMOKE, n_channels=1, n_classes=11)
    assert list(info["role"]) == ["surrogate", "transfer", "transfer"]
    assert list(info["paper_model"]) == ["resnet18", "resnet50", "vgg"]
    assert info["narrow"].all()
    assert (info["n_params"] > 0).all()
    paper = ab.architecture_info(PAPER)
    assert not paper["narrow"].any() and "n_params" not in paper.columns


def test_overlap_matrix_agrees_with_compare_at_rate():
    from evalib.scores import compare_at_rate

    rng = np.random.default_rng(3)
    s = {f"s{i}": rng.normal(size=50) for i in range(4)}
    m = overlaps.overlap_matrix(s, 0.2)
    for x in s:
        for y in s:
            assert m.loc[x, y] == pytest.approx(compare_at_rate(s[x], s[y], 0.2)["jaccard"])
    long = overlaps.matrix_long(m)
    assert len(long) == 6 and list(long.columns) == ["a", "b", "jaccard"]
    assert long.iloc[0]["jaccard"] == pytest.approx(m.loc["s0", "s1"])
    with pytest.raises(EvalibError, match="entries"):
        overlaps.overlap_matrix({"a": np.zeros(5), "b": np.zeros(4)}, 0.2)


def test_long_by_protocol():
    t = _table()
    long = ab.long_by_protocol(t)
    assert len(long) == 2 * len(t)
    first = long[(long.protocol == "paper")].iloc[0]
    assert first["accuracy"] == pytest.approx(10.0) and first["rate_pct"] == 5.0
    clean = long[(long.protocol == "clean")].iloc[0]
    assert clean["accuracy"] == pytest.approx(20.0)
    assert set(long["protocol_label"]) == set(labels.PROTOCOL_LABELS.values())


def test_summaries_follow_method_order_and_wide_keeps_it():
    s = ab.summarize_protocols(ab.annotate(_table()), by=("method", "rate"))
    assert list(s["protocol"].unique()) == ["paper", "clean"]
    assert list(s["method"].unique()) == ["full", "exp_s", "var_s", "var_d"]
    w = ab.wide(s, ["protocol", "rate"], "method")
    assert list(w.columns) == ["full", "exp_s", "var_s", "var_d"]
    assert list(w.index)[:2] == [("paper", 1.0), ("paper", 0.05)]
    assert w.loc[("clean", 0.05), "var_d"] == pytest.approx(40.0)


def test_paired_rows_one_row_per_seed_and_protocol():
    t = ab.annotate(_table())
    r = ab.paired_rows(t, {"method": "var_s", "role": "[0, 2)"}, {"method": "exp_s"}, name="d")
    assert len(r) == 2 * 3  # (0.05, seed 0), (0.05, seed 1), (0.30, seed 0) per protocol
    row = r[(r.protocol == "clean") & (r.rate == 0.05) & (r.seed == 1)].iloc[0]
    assert (row["a"], row["b"], row["diff"]) == pytest.approx((50.0, 30.0, 20.0))
    assert list(r.columns) == ["comparison", "rate", "seed", "protocol", "metric", "a", "b",
                               "diff"]  # fmt: skip


def test_summarize_protocols_orders():
    t = ab.annotate(_table())
    s = ab.summarize_protocols(t, by=("rate", "method"), orders={"rate": [0.30, 0.05]})
    paper = s[s.protocol == "paper"]
    assert list(zip(paper["rate"], paper["method"], strict=True)) == [
        (0.30, "exp_s"), (0.30, "var_s"), (0.05, "exp_s"), (0.05, "var_s"), (0.05, "var_d"),
        (1.0, "full")]  # fmt: skip
