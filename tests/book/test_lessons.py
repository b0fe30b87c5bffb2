"""The results pages' generated "What this shows" (evalib.book.lessons), on hand-made tables.

Differences are built so that the numbers are known by hand: paired differences of
2, 3 and 4 points have mean 3.0, std 1 and a 95 % t half-width of 4.303 / √3 = 2.5.
"""

from __future__ import annotations

import math

import nbformat
import pandas as pd
import pytest

from evalib.book import lessons, reproduce

RESULTS_PAGES = tuple(n for n in reproduce.NOTEBOOKS if n != "00_walkthrough")


def runs(
    accuracies: dict[str, list[float]],
    rate: float = 0.02,
    column: str = "method",
    metric: str = "clean_test_acc",
    **extra,
) -> pd.DataFrame:
    """One row per (method, seed) with ``metric`` given as a fraction."""
    rows = [
        {column: m, "rate": rate, "seed": s, metric: a, **extra}
        for m, accs in accuracies.items()
        for s, a in enumerate(accs)
    ]
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- formatting


def test_numbers_use_a_true_minus_and_intervals_only_where_there_are_some() -> None:
    assert lessons.pm(-17.88, 2.26) == "−17.9 ± 2.3"
    assert lessons.pm(3.0, math.nan) == "+3.0"
    assert lessons.num(-0.04, sign=True) == "0.0" and lessons.num(math.nan) == "—"
    assert lessons.seeds_text([3, 3]) == "3 seeds"
    from evalib.book.lessons.text import percent

    assert [percent(x) for x in (0.153, 0.042, 0.00029, 0.0)] == ["15 %", "4.2 %", "0.029 %",
                                                                  "0 %"]  # fmt: skip
    assert lessons.seeds_text([1]) == "1 seed, so no interval"
    assert lessons.seeds_text([2, 3]) == "2–3 seeds"
    assert lessons.side(-3.0, 2.5, 3) == "below Random"
    assert lessons.side(1.0, 2.5, 3) == "not separable from Random: the interval covers 0"
    assert lessons.side(-3.0, math.nan, 1) == "below Random on one seed, which gives no interval"


# ----------------------------------------------------------------------------- 01 dynamics


def _samples() -> tuple[pd.DataFrame, pd.DataFrame]:
    samples = pd.DataFrame(
        {
            "sample": ["highest EVA score", "never learned"],
            "position": [0, 1],
            "early mean": [0.5, 1.3],
            "late mean": [0.1, 1.2],
            "early variance": [0.2, 0.004],
            "late variance": [0.05, 0.001],
        }
    )
    frame = pd.DataFrame(
        {"window mean of S": [0.5, 1.3, 0.1, 0.2], "window variance of S": [0.2, 0.004, 0.01, 0.02]}
    )
    return samples, frame


def test_dynamics_reads_the_window_statistics_of_the_shown_images() -> None:
    samples, frame = _samples()
    text = lessons.dynamics(samples, frame, {"early": (0, 2), "late": (4, 6)})
    assert "EXP (the window mean) would keep *never learned* first (early mean 1.30" in text
    assert "EVA (the summed variance) *highest EVA score*" in text
    assert "window variance 0.200 + 0.050 = 0.250 (early + late)" in text
    assert "ranks 1 of 4 by variance and 2 by mean" in text
    assert "Spearman rank correlation −0.20 (one surrogate run, so no interval)" in text
    assert "span 2 epochs" in text


def test_dynamics_says_when_scores_agree_and_when_nothing_was_picked() -> None:
    samples, frame = _samples()
    agree = samples.assign(**{"early variance": [0.001, 0.3]})
    assert "so EXP and EVA agree on the top of this list" in lessons.dynamics(agree, frame)
    assert "nothing to read off" in lessons.dynamics(pd.DataFrame())


# ----------------------------------------------------------------------------- 02 benchmark


def _table1(eva_last: float = 0.54) -> pd.DataFrame:
    return runs(
        {
            "random": [0.50, 0.50, 0.50],
            "eva_tuned": [0.52, 0.53, eva_last],
            "forgetting": [0.40, 0.41, 0.39],
            "ccs": [0.49, 0.53, 0.57],
            "full": [0.9, 0.9, 0.9],
        },
        column="arm",
        budget="epochs",
    )


def test_benchmark_sorts_methods_by_their_verdict_against_random() -> None:
    text = lessons.benchmark(_table1(), [0.02])
    assert (
        "- At 2 %: beat Random: EVA (windows tuned on validation) +3.0 ± 2.5; fall below Random: "
        "Forgetting −10.0 ± 2.5; **inconclusive** against Random: CCS +3.0 ± 9.9 "
        "(3 seeds)."
    ) in text


def test_benchmark_verdict_flips_when_one_seed_changes() -> None:
    # seed 2 of EVA now +8 points: mean 4.3, but the interval (± 8.0) covers 0
    text = lessons.benchmark(_table1(eva_last=0.58), [0.02])
    assert "beat Random" not in text
    assert (
        "**inconclusive** against Random: CCS +3.0 ± 9.9, EVA (windows tuned on validation) "
        "+4.3 ± 8.0 (3 seeds)" in text
    )


def test_benchmark_states_what_is_missing() -> None:
    t = _table1()
    assert "No benchmark run is in the results yet" in lessons.benchmark(pd.DataFrame(), [0.02])
    assert "At 5 %: no run is in the results yet." in lessons.benchmark(t, [0.05])
    no_random = t[t["arm"] != "random"]
    assert "Random has no run yet" in lessons.benchmark(no_random, [0.02])
    one_seed = t[t["seed"] == 0]
    text = lessons.benchmark(one_seed, [0.02])
    assert "Forgetting −10.0, CCS −1.0, EVA (windows tuned on validation) +2.0 (1 seed" in text
    assert "(1 seed, so no interval)" in text


def test_benchmark_reads_the_floor_budget_on_its_own_line() -> None:
    floor = _table1().assign(budget="floor")
    floor.loc[floor["arm"] == "eva_tuned", "clean_test_acc"] -= 0.10
    text = lessons.benchmark(pd.concat([_table1(), floor]), [0.02])
    assert (
        "- At 2 % with the step floor: fall below Random: Forgetting −10.0 ± 2.5, "
        "EVA (windows tuned on validation) −7.0 ± 2.5;" in text
    )


# ----------------------------------------------------------------------------- 03 ablation


def _ablation() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    table = runs(
        {
            "exp_s": [0.30, 0.31, 0.29],
            "var_s": [0.45, 0.46, 0.44],
            "exp_d": [0.32, 0.33, 0.31],
            "var_d": [0.47, 0.48, 0.46],
        }
    )
    random = runs({"random": [0.50, 0.50, 0.50]})
    diff = pd.DataFrame(
        {
            "comparison": ["VAR-S − EXP-S"] * 2,
            "rate": [0.02, 0.05],
            "protocol": ["clean"] * 2,
            "diff": [15.0, 8.0],
            "ci95": [2.0, 3.0],
            "count": [3, 3],
        }
    )
    return table, diff, random


def test_ablation_says_variance_wins_because_expectation_collapses_below_random() -> None:
    text = lessons.ablation(*_ablation())
    assert (
        "- VAR-S − EXP-S: +15.0 ± 2.0 at 2 %; +8.0 ± 3.0 at 5 % (3 seeds): claim 3 **holds**."
        in text
    )
    assert "claim 3 **holds**" in text
    assert "EXP-S − Random is −20.0 ± 2.5 points (3 seeds), below Random." in text
    assert "30.0 ± 2.5 % (EXP-S)" in text and "Random's 50.0 ± 0.0 %" in text
    assert (
        "EXP-S is −20.0 and VAR-S −5.0 points, so VAR-S − EXP-S = +15.0: VAR leads mostly "
        "because EXP falls below Random."
    ) in text
    assert (
        "VAR-S, VAR-D, EXP-S and EXP-D are all below Random: winning the ablation is not "
        "beating random selection."
    ) in text


def test_ablation_verdicts_follow_the_numbers() -> None:
    table, diff, random = _ablation()
    wide = diff.assign(ci95=[2.0, 9.0])  # 5 %: [−1, 17] covers 0
    assert "claim 3 is **inconclusive**" in lessons.ablation(table, wide, random)
    # judged at the low rate only, the wide 5 % interval no longer counts
    assert "claim 3 at 2 % **holds**" in lessons.ablation(table, wide, random, rates=(0.02,))
    assert "claim 3 at 1 % is **not tested**" in lessons.ablation(table, wide, random, (0.01,))
    # VAR-D now level with Random (−1, +2, −1): no longer "all below Random"
    table.loc[table["method"] == "var_d", "clean_test_acc"] = [0.49, 0.52, 0.49]
    text = lessons.ablation(table, diff, random)
    assert "all below Random" not in text
    assert "VAR-S is below Random; VAR-D is not separable from Random" in text


def test_ablation_states_what_is_missing() -> None:
    table, diff, random = _ablation()
    assert "No VAR − EXP difference is in the results yet." in lessons.ablation(
        table, pd.DataFrame(), random
    )
    assert "Random has no run at 2 % yet" in lessons.ablation(table, diff, None)
    one = lessons.ablation(table[table["seed"] == 0], diff, random[random["seed"] == 0])
    assert "whether they are below Random is **inconclusive**" in one


# ----------------------------------------------------------------------------- 04 dual window


def test_dual_window_compares_the_two_evas_by_overlap_and_accuracy() -> None:
    diff = pd.DataFrame(
        {
            "comparison": ["VAR-D − VAR-S early", "VAR-D − VAR-S late"],
            "rate": [0.02, 0.02],
            "protocol": ["clean"] * 2,
            "diff": [4.0, -3.0],
            "ci95": [1.0, 1.0],
            "count": [3, 3],
        }
    )
    overlap = pd.DataFrame(
        {
            "a": ["paper"],
            "b": ["official"],
            "rate": [0.02],
            "m": [100],
            "intersection": [20],
            "jaccard": [20 / 180],
            "spearman": [0.5],
        }
    )
    table = runs({"var_d": [0.60, 0.61, 0.59], "eva_official": [0.40, 0.42, 0.41]})
    share = {"early_total": 9.0, "late_total": 1.0, "early_share": 0.9}
    missing = pd.DataFrame(
        {
            "recording": ["every sample, every epoch", "drop_last=True"],
            "rate": [0.02, 0.02],
            "m": [100, 100],
            "jaccard": [1.0, 0.25],
            "affected_all": [0.0, 0.15],
            "affected_mask": [0.0, 0.10],
            "affected_zero": [0.0, 0.80],
        }
    )
    text = lessons.dual_window(diff, overlap, table, share, missing)
    assert "- VAR-D − VAR-S early: +4.0 ± 1.0 at 2 % (3 seeds): claim 4 **holds**." in text
    late = "- VAR-D − VAR-S late: −3.0 ± 1.0 at 2 % (3 seeds): claim 4 is **contradicted**."
    assert late in text
    assert "share 20 of 100 images at 2 % (Jaccard 0.11)" in text
    assert "Spearman rank correlation 0.50" in text
    assert "The early window holds 90 % of the summed window variance" in text
    assert "follows the early window" in text
    trained = (
        "Trained on their coresets (3 seeds), the official code's EVA minus the paper's, "
        "VAR-D, is −19.0 ± 2.5 at 2 % (41.0 % vs 60.0 %, below the paper's EVA)."
    )
    assert trained in text
    assert "they make up 80 % when a missing epoch counts as S = 0" in text
    assert "Jaccard 0.25" in text and "give Jaccard 1.00" in text


def test_dual_window_says_when_no_epoch_is_missed() -> None:
    missing = pd.DataFrame(
        {
            "recording": ["drop_last=True"],
            "rate": [0.02],
            "m": [100],
            "jaccard": [1.0],
            "affected_all": [0.0],
            "affected_mask": [0.0],
            "affected_zero": [0.0],
        }
    )
    text = lessons.dual_window(pd.DataFrame(), missing=missing)
    assert "no training image misses an epoch inside a window" in text
    assert "(Jaccard 1.00 at every rate)" in text


def test_dual_window_states_what_is_missing() -> None:
    text = lessons.dual_window(pd.DataFrame(), None, runs({"var_d": [0.6]}))
    assert "No dual − single difference is in the results yet." in text
    assert "The overlap of the two selections is not computed yet." in text
    assert "has no trained run beside the paper's yet" in text


# ----------------------------------------------------------------------------- 05 window grid


PUBLISHED = "[0, 5) + [25, 30)"


def _choice() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "arm": ["eva", "exp_s"],
            "rate": [0.02, 0.02],
            "chosen": ["[0, 5) + [20, 25)", "[0, 5)"],
            "val (tuning seed)": [60.0, 30.0],
            "test (fresh seeds)": [45.0, 25.0],
            "fresh seeds": [3, 3],
            "published pair val": [55.0, 50.0],
            "optimism": [15.0, 5.0],
        }
    )


def _fresh() -> pd.DataFrame:
    return runs(
        {
            "eva_tuned": [0.44, 0.45, 0.46],
            "eva_published": [0.43, 0.45, 0.44],
            "random": [0.40, 0.42, 0.41],
        },
        column="arm",
        budget="epochs",
    )


def test_window_grid_reports_the_choice_on_fresh_seeds_and_its_optimism() -> None:
    grid = pd.DataFrame(
        {
            "method": ["var_d", "var_d", "var_d", "var_s"],
            "windows": ["[0, 5) + [20, 25)", PUBLISHED, "[5, 10) + [25, 30)", "[0, 5)"],
            "rate": [0.02] * 4,
            "protocol": ["clean"] * 4,
            "mean": [50.0, 40.0, 30.0, 20.0],
        }
    )
    text = lessons.window_grid(_choice(), _fresh(), grid, PUBLISHED, 3)
    assert (
        "**EVA at 2 %**: validation chose [0, 5) + [20, 25) (final-model validation "
        "accuracy 60.0 % on tuning seed 3; the published pair [0, 5) + [25, 30): 55.0 %)"
    ) in text
    assert (
        "(clean protocol, test): tuned EVA 45.0 ± 2.5 %, published-window EVA 44.0 ± 2.5 %, "
        "Random 41.0 ± 2.5 %" in text
    )
    assert "tuned − published +1.0 ± 2.5 points (3 seeds): 'tuned beats published' is" in text
    assert (
        "tuned − Random +4.0 ± 2.5 points (3 seeds): claim 1, 'tuned beats Random' **holds**"
    ) in text
    assert "promise 60.0 %; the reported seeds deliver 45.0 % on test (3 seeds)" in text
    assert "optimism of +15.0 points" in text
    # val 60 − test 50 on the tuning run; test 50 on the tuning seed − 45 on fresh seeds
    assert ("Of that, +10.0 points is validation reading higher than test on the tuning run "
            "itself (50.0 % test on tuning seed 3) and +5.0 points is tuning seed 3 against "
            "the reported seeds") in text  # fmt: skip
    assert "from +5.0 to +15.0 points (mean +10.0)" in text
    assert "1 VAR-S window and 3 EVA pairs reach 20.0–50.0 % test accuracy" in text
    assert "the published pair ranks 2 of 3 EVA pairs" in text


def test_window_grid_states_what_is_missing() -> None:
    assert "no window has been chosen" in lessons.window_grid(pd.DataFrame())
    text = lessons.window_grid(_choice(), pd.DataFrame(), None, PUBLISHED)
    assert "have no run on the reported seeds yet" in text
    same = _choice().assign(chosen=PUBLISHED)
    assert "the published pair itself" in lessons.window_grid(same, _fresh(), None, PUBLISHED)


# ----------------------------------------------------------------------------- 06 cross-arch


def _gaps(vgg: float = -5.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    gaps = pd.DataFrame(
        {
            "comparison": ["EVA − Random"] * 3 + ["EVA − CCS"],
            "model_label": ["convnet ×0.125", "resnet18 ×0.125", "vgg ×0.125", "vgg ×0.125"],
            "rate": [0.05] * 4,
            "protocol": ["clean"] * 4,
            "diff": [2.0, -0.2, vgg, 1.0],
            "ci95": [0.5, 0.5, 1.0, 2.0],
            "count": [3] * 4,
        }
    )
    arch = pd.DataFrame(
        {
            "role": ["surrogate", "transfer", "transfer"],
            "model_label": ["convnet ×0.125", "resnet18 ×0.125", "vgg ×0.125"],
        }
    )
    return gaps, arch


def test_cross_architecture_judges_transfer_on_each_other_network() -> None:
    text = lessons.cross_architecture(*_gaps())
    assert (
        "- ConvNet ×0.125 (the surrogate's own network): EVA − Random +2.0 ± 0.5 at 5 % "
        "(3 seeds): on the network that chose the coreset, 'matches or beats Random' "
        "**holds**."
    ) in text
    resnet = "- ResNet-18 ×0.125: EVA − Random −0.2 ± 0.5 at 5 % (3 seeds): transfer **holds**."
    assert resnet in text
    assert (
        "- VGG ×0.125: EVA − Random −5.0 ± 1.0 at 5 % (3 seeds): "
        "transfer is **contradicted**." in text
    )
    assert "claim 6 is **contradicted** (of 2 comparisons: 1 holds, 1 contradicted)" in text
    assert "EVA − CCS runs from +1.0 ± 2.0 (VGG ×0.125, 5 %)" in text
    assert "claim 6 **holds**" in lessons.cross_architecture(*_gaps(vgg=0.0))


def test_cross_architecture_without_runs() -> None:
    assert "claim 6 is not tested here" in lessons.cross_architecture(pd.DataFrame())


# ----------------------------------------------------------------------------- 07–09


def test_pie_page_says_which_coreset_matches_random() -> None:
    core = runs(
        {"random": [0.500, 0.500, 0.500], "eva": [0.502, 0.503, 0.504], "pie": [0.40, 0.39, 0.41]},
        rate=0.05,
        metric="accuracy",
    )
    pruned = pd.DataFrame(
        {
            "sparsity": [0.0, 0.9],
            "accuracy": [80.0, 70.0],
            "worst_class_accuracy": [60.0, 30.0],
            "pie_test": [0.0, 12.5],
        }
    )
    rows = [
        {
            "claim": "the highest-HTL coreset beats Random",
            "source": "this book",
            "ours": "5%: -10.00 ± 2.48 (n=3) [points]",
            "verdict": "contradicted",
        }
    ]
    text = lessons.pruning_identified(core, rows, pruned)
    assert (
        "EVA matches Random or better at every rate; HTL (PIE) falls short of Random by "
        "more than the margin at some rate"
    ) in text
    eva = "- EVA − Random: +0.3 ± 0.2 at 5 % (3 seeds): 'matches or beats Random' **holds**."
    assert eva in text
    assert "- HTL (PIE) − Random: −10.0 ± 2.5 at 5 % (3 seeds)" in text
    assert "from 80.0 % to 70.0 %" in text and "12.5 % of the test images are then PIEs" in text
    assert "- the highest-HTL coreset beats Random — this book: **contradicted**" in text
    assert "No coreset run" in lessons.pruning_identified(core[core["method"] != "random"])


def test_distillation_page_per_dataset_and_budget() -> None:
    res = runs(
        {"random": [0.30, 0.31, 0.29], "distilled": [0.35, 0.36, 0.34], "eva": [0.20, 0.22, 0.18]},
        metric="test_acc",
        dataset="bloodmnist",
        ipc=1,
    )
    full = pd.DataFrame(
        [{"dataset": "bloodmnist", "method": "full", "ipc": math.nan, "seed": 0, "test_acc": 0.9}]
    )
    text = lessons.distillation(pd.concat([res, full]).drop(columns="rate"))
    assert "- **BloodMNIST**: DM distilled matches random images or better" in text
    assert "EVA falls short of random images by more than the margin at some budget" in text
    assert "  - DM distilled − Random: +5.0 ± 0.0 at IPC 1 (3 seeds)" in text
    assert "No distillation run" in lessons.distillation(pd.DataFrame())


def test_dad_page_segmentation_and_classification() -> None:
    seg = runs(
        {
            "random": [0.70, 0.71, 0.72],
            "el2n": [0.60, 0.62, 0.61],
            "dad_ambiguous": [0.71, 0.71, 0.73],
        },
        rate=0.3,
        metric="test_dice",
    )
    cls = runs({"random": [0.5, 0.5, 0.5], "dad": [0.45, 0.47, 0.46]}, rate=0.05)
    text = lessons.dad(seg, None, cls, rho=-0.14)
    assert "DAD keep-ambiguous matches Random or better at every kept fraction" in text
    assert "- EL2N − Random: −10.0 ± 2.5 at 30 % (3 seeds)" in text
    assert "Spearman correlation −0.14 (one scoring run, so no interval)" in text
    assert "**The classification form**" in text and "DAD − Random: −4.0 ± 2.5 at 5 %" in text


# ----------------------------------------------------------------------------- 10 claims


def _claims() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = [
        ("organamnist", "clean", "epochs", "1", "contradicted"),
        ("organamnist", "clean", "epochs", "2a", "holds"),
        ("organamnist", "clean", "epochs", "3", "holds"),
        ("organamnist", "clean", "epochs", "4", "inconclusive"),
        ("organamnist", "paper", "epochs", "1", "holds"),
        ("organamnist", "paper", "epochs", "2a", "holds"),
        ("organamnist", "clean", "floor", "1", "inconclusive"),
        ("bloodmnist", "clean", "epochs", "1", "contradicted"),
    ]
    verdicts = pd.DataFrame(rows, columns=["dataset", "protocol", "budget", "claim", "verdict"])
    results = pd.DataFrame(
        {
            "dataset": ["organamnist"] * 2,
            "protocol": ["clean"] * 2,
            "budget": ["epochs"] * 2,
            "claim": ["1", "1"],
            "part": ["EVA tuned − Random"] * 2,
            "kind": ["better"] * 2,
            "model": [None, None],
            "rate": [0.02, 0.05],
            "diff": [-17.88, -1.0],
            "ci95": [2.26, 0.5],
            "n_seeds": [3, 3],
        }
    )
    return verdicts, results


def test_claims_summary_by_dataset_and_protocol() -> None:
    verdicts, results = _claims()
    text = lessons.claims_summary(verdicts, results, pd.DataFrame({"missing": [0, 0]}))
    assert (
        "Under the clean protocol (test split, final epoch), on OrganAMNIST claims 2a and 3 "
        "**hold**, claim 1 is **contradicted** and claim 4 is **inconclusive**; on "
        "BloodMNIST claim 1 is **contradicted**."
    ) in text
    assert (
        "Under the paper's protocol (validation split, best epoch), 1 verdict differs: "
        "claim 1 on OrganAMNIST (contradicted → holds)."
    ) in text
    assert (
        "With the step floor, 1 verdict changes: claim 1 on OrganAMNIST "
        "(contradicted → inconclusive)."
    ) in text
    assert "claim 1 on OrganAMNIST, EVA tuned − Random at 2 %: −17.9 ± 2.3." in text
    assert "Each comparison rests on 3 seeds." in text
    assert "not in the results yet" not in text


def test_claims_summary_changes_with_a_verdict_and_says_what_is_missing() -> None:
    verdicts, results = _claims()
    verdicts.loc[4, "verdict"] = "contradicted"
    text = lessons.claims_summary(verdicts, results, pd.DataFrame({"missing": [4, 2]}))
    assert "the paper's protocol (validation split, best epoch), no verdict differs." in text
    assert "6 of the runs the claims read are not in the results yet" in text
    empty = lessons.claims_summary(pd.DataFrame(), None, pd.DataFrame({"missing": [30]}))
    assert empty.startswith("No claim has been judged yet")
    assert "30 of the runs" in empty


# ----------------------------------------------------------------------------- notebooks


@pytest.mark.parametrize("name", RESULTS_PAGES)
def test_results_page_ends_with_a_generated_conclusion(name: str) -> None:
    """Source and executed notebook: a "## What this shows" heading, then a code cell
    tagged remove-input that calls evalib.book.lessons, and nothing after it."""
    import jupytext

    folder = reproduce.notebook_dir()
    for nb in (
        jupytext.read(folder / f"{name}.py"),
        nbformat.read(folder / f"{name}.ipynb", as_version=4),
    ):
        heading, cell = nb.cells[-2], nb.cells[-1]
        assert heading.cell_type == "markdown" and heading.source.strip() == "## What this shows"
        assert cell.cell_type == "code" and "remove-input" in cell.metadata.get("tags", [])
        assert "lessons." in cell.source
        shows = [c for c in nb.cells if "What this shows" in c.source]
        assert shows == [heading], f"{name}: a typed 'What this shows' is left"


def test_generated_conclusions_keep_their_input_removed(tmp_path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("show()", metadata={"tags": ["remove-input"]}),
    ]
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    reproduce.fold_code(path)
    tags = [c.metadata.get("tags", []) for c in nbformat.read(path, as_version=4).cells]
    assert tags == [["hide-input"], ["remove-input"]]
