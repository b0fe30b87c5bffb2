"""Why EVA loses to Random, as the pages say it: lessons.why, findings.why_random_wins and
the figures of what the coresets hold, on hand-made tables."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from evalib.book import findings, lessons, plots  # noqa: E402
from evalib.studies import composition as co  # noqa: E402

NAMES = ("heart", "kidney-left", "lung-left", "immature granulocytes")


def _shares() -> pd.DataFrame:
    """Per-seed class shares at 2 %: EVA starves heart and lung-left and doubles
    kidney-left; Random follows the training split."""
    train = [0.25, 0.25, 0.25, 0.25]
    test = [0.3, 0.2, 0.3, 0.2]
    counts = {"random": [[25, 25, 25, 25], [24, 26, 25, 25]],
              "eva_tuned": [[5, 55, 3, 37], [6, 50, 4, 40]]}  # fmt: skip
    rows = []
    for arm, per_seed in counts.items():
        for seed, c in enumerate(per_seed):
            for k, n in enumerate(c):
                rows.append({"dataset": "organamnist", "arm": arm, "rate": 0.02, "seed": seed,
                             "class": k, "class_name": NAMES[k], "count": n, "size": 100,
                             "share": n / 100, "train_share": train[k], "test_share": test[k]})  # fmt: skip
    t = pd.DataFrame(rows)
    ref = t[t["arm"] == "random"][["seed", "class", "share"]].rename(
        columns={"share": "random_share"}
    )
    return t.merge(ref, on=["seed", "class"])


def _accuracy() -> pd.DataFrame:
    acc = {"random": [0.9, 0.95, 0.85, 0.8], "eva_tuned": [0.1, 0.99, 0.02, 0.7]}
    rows = [{"dataset": "organamnist", "arm": arm, "rate": 0.02, "budget": "epochs",
             "seed": s, "class": k, "class_name": NAMES[k], "acc": a[k] - 0.01 * s,
             "test_share": 0.25} for arm, a in acc.items() for s in (0, 1) for k in range(4)]  # fmt: skip
    return pd.DataFrame(rows)


def _robust(beat: int = 0) -> pd.DataFrame:
    return pd.DataFrame({
        "dataset": ["organamnist"] * 2, "rate": [0.02, 0.02], "arm": ["eva", "var_s"],
        "reference": ["random", "random"], "settings": [28, 8], "distinct": [24, 8],
        "ref_min": [71.8, 71.8], "ref_max": [74.2, 74.2], "ref_seeds": [3, 3],
        "chosen": ["[10, 15) + [35, 40)", "[10, 15)"], "chosen_val": [77.8, 72.9],
        "chosen_test": [64.1, 62.5], "chosen_reported": [32.3, 32.3],
        "best_windows": ["[10, 15) + [35, 40)", "[10, 15)"], "best_test": [64.1, 62.5],
        "median_test": [30.5, 31.3], "beat_worst": [beat, 0], "beat_best": [0, 0],
    })  # fmt: skip


def test_coreset_classes_names_the_starved_and_favoured_classes():
    shares = _shares()
    text = lessons.coreset_classes(co.share_summary(shares), co.top_classes_share(shares),
                                   co.accuracy_summary(_accuracy()))  # fmt: skip
    line = next(x for x in text.splitlines() if x.startswith("- **OrganAMNIST at 2 %**"))
    # heart 5–6 and lung-left 3–4 images: 9 % of EVA's coreset, 49.5 % of Random's
    assert "hold 3–6 images each of heart and lung-left" in line
    assert "(9.0 % of the coreset, against 50 % of Random's" in line
    assert "these classes are 60 % of the test split" in line
    assert "kidney-left gets 2.1× Random's share" in line  # 52.5 / 25.5
    assert "hold 96–97 % of it, against 75–76 % for Random" in line  # 55 + 37 + 5, 50 + 40 + 6
    # accuracy on the starved classes: EVA 1–10 %, Random 84–90 %
    assert (
        "reach 1–10 % test accuracy on those classes (2 seeds; on Random's coresets 84–90 %)"
        in line
    )


def test_coreset_classes_says_what_is_missing():
    shares = _shares()
    text = lessons.coreset_classes(co.share_summary(shares), None, None)
    assert "Per-class test accuracy is not recorded for these runs yet" in text
    assert "not in the results yet" in lessons.coreset_classes(pd.DataFrame())
    only = co.share_summary(shares[shares["arm"] == "eva_tuned"])
    assert "Random has no coreset" in lessons.coreset_classes(only)


def test_grid_robustness_sentences():
    text = lessons.grid_robustness(_robust(), tuning_seed=3)
    assert text.startswith("- **OrganAMNIST at 2 %**: none of the 28 EVA pairs on tuning seed 3 "
                           "beats Random's worst reported seed (71.8 %; Random 71.8–74.2 %")  # fmt: skip
    assert "an upper bound no method could use" in text
    assert "validation chose [10, 15) + [35, 40) (64.1 % on tuning seed 3, 32.3 % on the " \
           "reported seeds)" in text  # fmt: skip
    assert "Nor does any of the 8 VAR-S windows (best 62.5 %)" in text
    assert "select only 24 distinct coresets" in text
    assert "3 of the 28 EVA pairs on tuning seed 3 beat Random's" in lessons.grid_robustness(
        _robust(3), 3
    )
    verdict = lessons.grid_verdict(_robust())
    assert verdict.startswith("No window could have changed claim 1's verdict")
    assert "closest: −7.7 points" in verdict  # 64.1 − 71.8
    assert "could in principle narrow the gap" in lessons.grid_verdict(_robust(2))
    assert "No tuning run" in lessons.grid_robustness(pd.DataFrame())
    # class-balanced EVA's grid is set against stratified Random, in a sentence of its own
    cb = _robust().iloc[[0]].assign(arm="eva_cb", reference="random_strat", ref_min=70.0,
                                    ref_max=72.0, beat_worst=2, best_test=71.0)  # fmt: skip
    text = lessons.grid_robustness(pd.concat([_robust(), cb]), 3)
    assert "Nor does any of the 8 VAR-S windows" in text
    assert (
        "Against Random stratified (same class counts), at 70.0–72.0 %, 2 of the 28 "
        "class-balanced EVA pairs beat its worst reported seed (best by test 71.0 %)"
    ) in text


def test_distinct_coresets_and_identical_arms():
    table = pd.DataFrame({"arm": ["eva", "var_s"], "rate": [0.02, 0.02], "settings": [28, 8],
                          "distinct": [24, 8]})  # fmt: skip
    text = lessons.distinct_coresets(table)
    assert "the 28 EVA pairs at 2 % select 24 distinct coresets" in text
    assert "as many distinct coresets" in lessons.distinct_coresets(table.assign(distinct=[28, 8]))
    results = pd.DataFrame({"dataset": ["organamnist"] * 2, "protocol": ["clean"] * 2,
                            "claim": ["4", "3"], "part": ["VAR-D − VAR-S", "VAR-S − EXP-S"],
                            "rate": [0.02, 0.02], "identical": [3, 0], "n_seeds": [3, 3]})  # fmt: skip
    text = lessons.identical_arms(results)
    assert text.startswith("Identical coresets: in claim 4 on OrganAMNIST (VAR-D − VAR-S at 2 %, "
                           "identical coresets on all 3 seeds)")  # fmt: skip
    assert "claim 3" not in text
    assert lessons.identical_arms(results.assign(identical=0)) == ""


def test_class_balance_sets_each_arm_against_its_comparator():
    rows = []
    for arm, accs, size in (("random", (0.80, 0.81, 0.82), 692),
                            ("random_strat", (0.80, 0.80, 0.80), 692),
                            ("eva_cb_tuned", (0.83, 0.84, 0.85), 692),
                            ("random_flag", (0.82, 0.82, 0.82), 781),
                            ("eva_flag", (0.70, 0.72, 0.71), 781)):  # fmt: skip
        rows += [{"arm": arm, "rate": 0.02, "seed": s, "budget": "epochs", "clean_test_acc": a,
                  "n_train": size} for s, a in enumerate(accs)]  # fmt: skip
    text = lessons.class_balance(pd.DataFrame(rows), [0.02, 0.05])
    assert (
        "EVA class-balanced (windows tuned on validation) − Random stratified (same class "
        "counts) +4.0 ± 2.5 points (3 seeds; 692 vs 692 images): 'beats' **holds**"
    ) in text
    assert "781 vs 781 images): 'beats' is **contradicted**" in text
    assert "781 vs 692 images)" in text  # the flag against Random at the rate
    assert "At 5 %: no class-balance run is in the results yet." in text
    assert "The paper does not say whether its runs used" in text
    assert "EVA (flag) − Random above is that reading of the paper's EVA − Random" in text
    without = lessons.class_balance(pd.DataFrame(rows[:9]), [0.02])
    assert "EVA with the flag has no run in these results" in without and "781" not in without
    assert "What class balance says about EVA" not in text  # no EVA tuned rows to set beside


@pytest.mark.parametrize(
    "cb, expected",
    [((0.83, 0.84, 0.85), "EVA's ranking beats random choice: its loss is class collapse"),
     ((0.60, 0.61, 0.62), "still does worse than random choice: class collapse is only part"),
     ((0.70, 0.80, 0.90), "neither shown better nor worse than random choice")],
)  # fmt: skip
def test_what_balance_means_for_eva_is_read_off_the_within_class_interval(cb, expected):
    rows = []
    for arm, accs in (("random", (0.80, 0.81, 0.82)), ("eva_tuned", (0.50, 0.51, 0.52)),
                      ("random_strat", (0.80, 0.80, 0.80)), ("eva_cb_tuned", cb)):  # fmt: skip
        rows += [{"arm": arm, "rate": 0.02, "seed": s, "budget": "epochs", "clean_test_acc": a}
                 for s, a in enumerate(accs)]  # fmt: skip
    text = lessons.collapse_share(pd.DataFrame(rows), [0.02, 0.05])
    assert expected in text and text.count("- At ") == 1  # 5 %: no rows, no line
    assert "EVA (windows tuned on validation) − Random −30.0 ± 0.0 points" in text
    closed = 100 * (1 - (sum(cb) / 3 - 0.80) / (0.51 - 0.81))
    assert f"closes {closed:.0f} % of the first gap" in text
    assert lessons.collapse_share(pd.DataFrame(rows[:6]), [0.02]) == ""


def test_the_landing_reads_what_balance_means_off_the_claims_comparisons():
    comps = pd.DataFrame({
        "dataset": ["bloodmnist", "organamnist", "organamnist", "organamnist"],
        "protocol": ["clean"] * 4, "claim": ["1", "1", "1cb", 1],
        "rate": [0.02, 0.02, 0.02, 0.05], "budget": ["epochs"] * 4,
        "diff": [-30.0, -40.0, -10.0, -20.0], "ci95": [2.0, 4.0, 3.0, 2.0], "n_seeds": [3] * 4,
    })  # fmt: skip
    text = lessons.balance_meaning(comps, order=("organamnist", "bloodmnist"))
    assert text.count("- **") == 1  # only OrganAMNIST 2 % has both claims
    assert ("- **OrganAMNIST at 2 %**: EVA (windows tuned on validation) − Random −40.0 ± 4.0 "
            "points") in text  # fmt: skip
    assert "closes 75 % of the first gap" in text and "still does worse" in text
    assert lessons.balance_meaning(comps[comps["claim"] != "1cb"]) == ""


def test_the_landing_page_gets_one_paragraph():
    shares = _shares()
    text = findings.why_random_wins(_robust(), shares, _accuracy())
    assert text.startswith("**Why EVA loses to Random here.** No window could have changed")
    assert "- **OrganAMNIST at 2 %**: the EVA (tuned) coresets hold 3–6 images" in text
    assert findings.why_random_wins(pd.DataFrame()) == ""


def _texts(fig):
    return [t for t in fig.findobj(matplotlib.text.Text) if t.get_text().strip()]


@pytest.mark.parametrize("kind", ["shares", "accuracy"])
def test_class_figures_fit_the_page_with_full_class_names(kind):
    if kind == "shares":
        fig = plots.coreset_class_shares(co.share_summary(_shares()), "t", ("random", "eva_tuned"))
    else:
        fig = plots.class_accuracy(co.accuracy_summary(_accuracy()), "t")
    assert fig.get_size_inches()[0] <= plots.MAX_WIDTH + 1e-9
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert ticks == list(NAMES)  # every class, its full name, in label order
    assert min(t.get_fontsize() for t in _texts(fig)) >= 8  # ≥ 11 px at 100 dpi
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "Random" in legend and "EVA (tuned)" in legend
    # one marker per arm and class, at the mean share / accuracy in %
    lines = [line for line in fig.axes[0].get_lines() if line.get_marker() == "o"]
    assert len(lines) == 2
    if kind == "shares":
        x = lines[1].get_xdata()
        assert np.allclose(x, [5.5, 52.5, 3.5, 38.5])
    matplotlib.pyplot.close(fig)


def test_grid_against_random_draws_every_setting_and_the_band():
    tuning = pd.DataFrame({"arm": ["eva"] * 3 + ["var_s"] * 2, "rate": [0.02] * 5,
                           "windows": list("abcde"),
                           "final_val_acc": [0.5, 0.7, 0.6, 0.4, 0.45],
                           "clean_test_acc": [0.3, 0.64, 0.5, 0.2, 0.62]})  # fmt: skip
    robust = co.grid_robustness(tuning, pd.DataFrame(
        {"arm": ["random"] * 3, "rate": [0.02] * 3, "seed": [0, 1, 2], "budget": ["epochs"] * 3,
         "clean_test_acc": [0.718, 0.726, 0.742]}))  # fmt: skip
    fig = plots.grid_against_random(tuning, robust, "t")
    ax = fig.axes[0]
    assert fig.get_size_inches()[0] <= plots.MAX_WIDTH + 1e-9
    dots = sum(len(c.get_offsets()) for c in ax.collections if c.get_facecolors().size)
    assert dots == 5 + 0  # every setting once (the rings are hollow)
    band = [p for p in ax.patches if p.get_label().startswith("Random")]
    assert len(band) == 1
    assert [t.get_text() for t in ax.get_yticklabels()] == ["VAR-S", "VAR-D = EVA"]
    empty = plots.grid_against_random(pd.DataFrame(), pd.DataFrame(), "t")
    assert "no result" in " ".join(t.get_text() for t in _texts(empty))
