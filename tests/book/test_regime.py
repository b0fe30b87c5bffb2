"""The sentence on whether the paper's regime changes a verdict, on hand-made tables."""

from __future__ import annotations

import pandas as pd

from evalib.book.lessons.regime import regime, regime_finding
from evalib.studies.profiles import side_by_side, verdict_changes
from evalib.studies.stats import CONTRADICTED, HOLDS, INCONCLUSIVE

PROFILES = ["cpu", "cpu200"]


def _rows(claim_verdicts):
    return pd.DataFrame(
        [
            {
                "dataset": "bloodmnist",
                "protocol": "clean",
                "claim": c,
                "part": c,
                "rate": r,
                "budget": "epochs",
                "diff": d,
                "ci95": 1.5,
                "n_seeds": 3,
                "verdict": v,
            }
            for c, r, d, v in claim_verdicts
        ]  # fmt: skip
    )


def _text(a, b):
    table = side_by_side({"cpu": _rows(a), "cpu200": _rows(b)})
    return regime(table, verdict_changes(table, PROFILES), PROFILES)


def test_a_changed_verdict_is_named_with_both_differences():
    text = _text([("1", 0.02, -38.7, CONTRADICTED)], [("1", 0.02, 2.5, HOLDS)])
    assert "change at least one verdict" in text
    assert "contradicted with the 40-epoch surrogate, holds with the 200-epoch surrogate" in text
    assert "−38.7 ± 1.5 vs +2.5 ± 1.5" in text and "BloodMNIST 2 %" in text


def test_the_same_verdict_is_said_once_per_claim():
    text = _text([("1p", 0.02, -20.0, CONTRADICTED), ("4", 0.05, 0.1, INCONCLUSIVE)],
                 [("1p", 0.02, -25.0, CONTRADICTED), ("4", 0.05, 0.4, INCONCLUSIVE)])  # fmt: skip
    assert text.startswith("Under the 40-epoch surrogate (`cpu`)")
    assert "change no verdict" in text
    assert "**Claim 1p**" in text and "same verdict under both profiles in its one setting" in text
    assert "(inconclusive)" in text


def test_nothing_judged_under_both_says_so():
    text = regime(pd.DataFrame(), verdict_changes(pd.DataFrame(), PROFILES), PROFILES)
    assert text.startswith("No claim has been judged under both")


def _changes(a, b):
    return verdict_changes(side_by_side({"cpu": _rows(a), "cpu200": _rows(b)}), PROFILES)


def test_the_landing_sentence_says_a_kept_verdict_and_the_datasets_not_run():
    changes = _changes([("1", 0.02, -30.0, CONTRADICTED), ("1p", 0.02, -20.0, CONTRADICTED),
                        ("4", 0.02, 0.1, INCONCLUSIVE)],
                       [("1", 0.02, -25.0, CONTRADICTED), ("1p", 0.02, -9.0, CONTRADICTED),
                        ("4", 0.02, 3.0, HOLDS)])  # fmt: skip
    text = regime_finding(changes, PROFILES, datasets=("organamnist", "bloodmnist"))
    assert "no verdict on claims 1 and 1p changes." in text  # claim 4 changed but is not asked
    assert (
        "Claim 1 (EVA with windows tuned on validation beats Random): on BloodMNIST it "
        "stays contradicted." in text
    )
    assert text.endswith(" OrganAMNIST: not run under `cpu200` yet.")


def test_the_landing_sentence_lists_the_class_balance_check_when_asked_and_judged():
    changes = _changes([("1", 0.02, -30.0, CONTRADICTED), ("1cb", 0.02, -14.0, CONTRADICTED)],
                       [("1", 0.02, -40.0, CONTRADICTED), ("1cb", 0.02, -2.0, INCONCLUSIVE)])  # fmt: skip
    text = regime_finding(changes, PROFILES, ("1", "1p", "1cb"))
    assert "the verdict on claim 1cb changes somewhere; on claim 1 it does not." in text
    assert (
        "Claim 1cb (class-balanced EVA beats stratified Random): on BloodMNIST it changes "
        "under the paper's epochs (contradicted → inconclusive)." in text
    )


def test_the_landing_sentence_names_a_changed_verdict_and_is_empty_without_results():
    changes = _changes([("1", 0.05, -30.0, CONTRADICTED)], [("1", 0.05, 4.0, HOLDS)])
    text = regime_finding(changes, PROFILES, datasets=("bloodmnist",))
    assert "the verdict on claim 1 changes somewhere." in text  # only claim 1 was judged
    assert "under the paper's epochs (contradicted → holds)" in text
    assert "not run" not in text
    assert regime_finding(_changes([], []), PROFILES) == ""


def test_the_two_figures_draw_every_profile():
    import matplotlib

    matplotlib.use("Agg")
    from evalib.book.plots.regime import profile_differences, surrogate_and_windows

    curves = pd.DataFrame({"profile": ["cpu"] * 2 + ["cpu200"] * 2, "frac": [0.5, 1, 0.5, 1],
                           "train_acc": [0.8, 1.0, 0.7, 1.0]})  # fmt: skip
    shares = pd.DataFrame({"profile": ["cpu", "cpu", "cpu200"], "start_frac": [0, 0.5, 0],
                           "end_frac": [0.5, 1, 1], "share": [0.7, 0.3, 1.0]})  # fmt: skip
    fig = surrogate_and_windows(curves, shares, "BloodMNIST")
    top, bottom = fig.axes
    assert len(top.lines) == 2 and len(bottom.patches) == 3
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "40-epoch surrogate", "200-epoch surrogate"]  # fmt: skip
    table = side_by_side({"cpu": _rows([("1", 0.02, -38.7, CONTRADICTED)]),
                          "cpu200": _rows([("1", 0.02, 2.5, HOLDS)])})  # fmt: skip
    floor = table.assign(budget="floor", **{"diff cpu": -10.0, "diff cpu200": -20.0})
    fig = profile_differences(pd.concat([floor, table]), PROFILES, "BloodMNIST")
    epochs, steps = fig.axes  # one panel per budget, the paper's epochs first
    assert [p.get_width() for p in epochs.patches] == [-38.7, 2.5]
    assert [p.get_width() for p in steps.patches] == [-10.0, -20.0]
    assert (epochs.get_title(), steps.get_title()) == ("paper's epochs", "step floor")
    assert epochs.get_yticklabels()[0].get_text() == "claim 1 · 2 %"


def test_the_landing_sentence_adds_the_second_profiles_own_window_grid(tmp_path):
    from evalib.book import booktext

    changes = _changes([("1", 0.02, -30.0, CONTRADICTED)], [("1", 0.02, -40.0, CONTRADICTED)])
    (tmp_path / "cpu").mkdir()
    changes.to_csv(tmp_path / "cpu" / "regime_verdicts.csv", index=False)
    assert "(closest" not in booktext.regime_finding_text(tmp_path / "cpu", "cpu")
    grid = tmp_path / "cpu200" / "bloodmnist"
    grid.mkdir(parents=True)
    pd.DataFrame({"rate": [0.02], "arm": ["eva"], "settings": [190], "beat_worst": [0],
                  "best_test": [50.0], "ref_min": [54.5]}).to_csv(
        grid / "window_robustness.csv", index=False)  # fmt: skip
    text = booktext.regime_finding_text(tmp_path / "cpu", "cpu")
    assert text.endswith(
        "On the paper's window grid (`cpu200`): no window could have changed claim 1's "
        "verdict: over 1 dataset × rate grid (190 EVA pairs in all), not one beats Random's "
        "worst reported seed, even the best by test, which no method could know (closest: "
        "−4.5 points)."
    )
    assert booktext.regime_finding_text(tmp_path / "cpu", "cpu200") == ""


def test_the_second_profiles_run_count_says_so_far_until_none_is_missing(tmp_path):
    from evalib.book import booktext
    from evalib.runs.cache import atomic_write_json

    jobs = tmp_path / "results" / "cpu200" / "jobs"
    jobs.mkdir(parents=True)
    for i, seconds in enumerate((1800.0, 5400.0)):
        atomic_write_json(jobs / f"{i}.json", {"key": str(i), "seconds": seconds})
    cost = tmp_path / "results" / "cpu200" / "compute_cost.csv"
    cost.write_text("dataset,study,runs done,runs missing,CPU-hours\nbloodmnist,tuning,2,3,2.0\n")
    values = booktext.regime_values(tmp_path)
    assert values["cpu200_runs_done"] == "2 runs so far" and values["cpu200_cpu_hours"] == "2.0"
    cost.write_text("dataset,study,runs done,runs missing,CPU-hours\nbloodmnist,tuning,2,0,2.0\n")
    assert booktext.regime_values(tmp_path)["cpu200_runs_done"] == "2 runs"
