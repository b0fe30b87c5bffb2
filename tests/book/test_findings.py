"""The landing page's Findings and the book's generated numbers, from hand-made tables."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from evalib.book import booktext, findings

ROOT = Path(__file__).resolve().parents[2]


def _verdicts(words=("does not hold", "holds", "partly")) -> pd.DataFrame:
    return pd.DataFrame({
        "dataset": ["organamnist", "organamnist", "bloodmnist", "organamnist"],
        "protocol": ["clean", "clean", "clean", "paper"],
        "claim": [1, 2, 1, 1],
        "verdict": [words[0], words[1], words[2], words[1]],
        "why": ["…"] * 4,
    })  # fmt: skip


def _comparisons() -> pd.DataFrame:
    rows = [
        ("organamnist", "clean", 1, "EVA − Random", 0.02, -17.88, 2.26, 3, 1, 1.2),
        ("organamnist", "clean", 1, "EVA − Random", 0.05, 0.17, 0.69, 3, 1, 1.0),
        ("organamnist", "paper", 1, "EVA − Random", 0.02, 3.0, 0.5, 3, 1, 1.2),
        ("bloodmnist", "clean", 1, "EVA − Random", 0.02, -16.0, 9.4, 3, 1, math.nan),
    ]
    rows += [("organamnist", "clean", 2, f"m{i} − Random", 0.02, -10.0 - i, 1.0, 3, -1,
              math.nan) for i in range(6)]  # fmt: skip
    cols = ["dataset", "protocol", "claim", "comparison", "rate", "diff", "ci95", "n_seeds",
            "direction", "paper"]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


@pytest.mark.parametrize(
    "word, cat",
    [("holds", "holds"), ("does not hold", "contradicted"), ("Contradicted", "contradicted"),
     ("partly", "inconclusive"), ("inconclusive", "inconclusive"), ("not tested", "not tested"),
     ("  does   not hold ", "contradicted"), ("surprising", "other"), (None, "not tested")],
)  # fmt: skip
def test_old_and_new_verdict_words(word, cat) -> None:
    assert findings.category(word) == cat


def test_one_item_per_claim_and_dataset_with_numbers_and_caveat() -> None:
    items = findings.findings(_verdicts(), _comparisons(), title=str.upper,
                              order=("organamnist", "bloodmnist"))  # fmt: skip
    assert [(f["claim"], f["dataset"]) for f in items] == [
        (1, "organamnist"), (1, "bloodmnist"), (2, "organamnist")]  # fmt: skip
    first = items[0]
    assert first["label"] == "ORGANAMNIST" and first["category"] == "contradicted"
    # the numbers of both rates, ours and the paper's, with the sign written as a minus
    assert "at 2 %: −17.9 ± 2.3 (paper +1.2)" in first["sentence"]
    assert "at 5 %: +0.2 ± 0.7" in first["sentence"] and "3 seeds" in first["sentence"]
    # the paper protocol reads 'holds' here: that is the main caveat
    assert "paper's protocol" in first["caveat"] and "*holds*" in first["caveat"]
    # six comparisons are summarised: range and the one closest to the wrong side
    many = items[2]["sentence"]
    assert many.startswith("6 comparisons, from −15.0 to −10.0 points")
    assert "m0 − Random at 2 %: −10.0 ± 1.0" in many


def test_new_words_and_unknown_words_are_shown_as_written() -> None:
    items = findings.findings(_verdicts(("contradicted", "holds", "wobbly")), _comparisons())
    words = {(f["claim"], f["dataset"]): (f["verdict"], f["category"]) for f in items}
    assert words[(1, "organamnist")] == ("contradicted", "contradicted")
    assert words[(1, "bloodmnist")] == ("wobbly", "other")
    md = findings.findings_markdown(items)
    assert "*bloodmnist: wobbly.*" in md


def test_single_seed_and_window_caveats() -> None:
    v = pd.DataFrame({"dataset": ["a", "a"], "claim": [6, 3], "verdict": ["partly", "holds"]})
    c = pd.DataFrame({"dataset": ["a", "a"], "claim": [6, 3], "comparison": ["x", "y"],
                      "diff": [1.0, 2.0], "ci95": [math.nan, 0.5], "n_seeds": [1, 3]})  # fmt: skip
    items = findings.findings(v, c, windows_note="windows W", scale_note="small scale")
    by = {f["claim"]: f for f in items}
    assert "single seed" in by[6]["caveat"] and "no interval" in by[6]["sentence"]
    assert by[3]["caveat"] == "windows W"


def test_headline_counts_claims_by_category() -> None:
    items = [{"claim": 1, "category": "contradicted"}, {"claim": 1, "category": "contradicted"},
             {"claim": 2, "category": "holds"}, {"claim": 3, "category": "holds"},
             {"claim": 4, "category": "inconclusive"}, {"claim": 4, "category": "holds"},
             {"claim": 5, "category": "contradicted", "label": "B"},
             {"claim": 5, "category": "holds", "label": "A"}]  # fmt: skip
    text = findings.headline(items)
    assert text.startswith("Claims 2 and 3 hold on every dataset tested")
    assert "claim 1 is contradicted" in text and "claims 4 and 5 get mixed" in text
    assert text.endswith("Contradicted on part of the datasets or budgets only: claim 5 on B.")


def test_extra_key_columns_split_the_findings() -> None:
    v = pd.DataFrame({"dataset": ["a", "a"], "claim": [1, 1], "budget": ["epochs", "steps"],
                      "verdict": ["holds", "contradicted"]})  # fmt: skip
    c = pd.DataFrame({"dataset": ["a", "a"], "claim": [1, 1], "budget": ["epochs", "steps"],
                      "comparison": ["x", "x"], "diff": [3.0, -4.0], "ci95": [1.0, 1.0],
                      "n_seeds": [3, 3]})  # fmt: skip
    items = findings.findings(v, c)
    assert [f["label"] for f in items] == ["a (budget epochs)", "a (budget steps)"]
    assert "+3.0" in items[0]["sentence"] and "−4.0" in items[1]["sentence"]


def test_no_results_gives_a_sentence_not_an_error() -> None:
    assert findings.findings(pd.DataFrame(), pd.DataFrame()) == []
    assert "No claims results" in findings.findings_markdown([])


# ----------------------------------------------------------------------------- booktext


def _fake_root(tmp_path: Path, hours=(1.5, 2.25)) -> Path:
    res = tmp_path / "results" / "cpu"
    res.mkdir(parents=True)
    _verdicts().to_csv(res / "claims_verdicts.csv", index=False)
    _comparisons().to_csv(res / "claims_comparisons.csv", index=False)
    pd.DataFrame({"dataset": ["organamnist"] * 2, "notebook": ["surrogate", "02_benchmark"],
                  "jobs done": [1, 10], "CPU-hours": list(hours)}).to_csv(
        res / "compute_cost.csv", index=False)  # fmt: skip
    return tmp_path


def test_changing_a_result_file_changes_the_generated_text(tmp_path: Path) -> None:
    root = _fake_root(tmp_path)
    booktext.write(root, "cpu")
    findings_md = root / "book" / "_generated" / "findings.md"
    before = findings_md.read_text()
    assert "−17.9 ± 2.3" in before
    assert booktext.substitutions(root, "cpu")["cost_cpu_hours"] == "3.8"
    comps = _comparisons()
    comps.loc[0, "diff"] = 4.2
    comps.to_csv(root / "results" / "cpu" / "claims_comparisons.csv", index=False)
    pd.DataFrame({"dataset": ["organamnist"], "notebook": ["x"], "jobs done": [1],
                  "CPU-hours": [9.0]}).to_csv(root / "results/cpu/compute_cost.csv", index=False)  # fmt: skip
    changed = booktext.write(root, "cpu")
    after = findings_md.read_text()
    assert changed == [findings_md] and after != before
    assert "+4.2 ± 2.3" in after and "−17.9" not in after
    assert booktext.substitutions(root, "cpu")["cost_cpu_hours"] == "9.0"
    assert booktext.write(root, "cpu") == []  # unchanged results: nothing rewritten


def test_missing_results_give_placeholders(tmp_path: Path) -> None:
    subs = booktext.substitutions(tmp_path, "cpu")
    assert subs["cost_cpu_hours"] == booktext.MISSING
    assert subs["split_gap_organamnist"] == booktext.MISSING
    assert "No claims results" in booktext.pages(tmp_path, "cpu")["findings.md"]


def test_book_profile_follows_the_claims_notebook(tmp_path: Path) -> None:
    assert booktext.book_profile(tmp_path) == booktext.DEFAULT_PROFILE
    nb = tmp_path / "notebooks" / "10_claims.ipynb"
    nb.parent.mkdir()
    nb.write_text(json.dumps({"metadata": {"papermill": {"parameters": {"profile": "paper"}}}}))
    assert booktext.book_profile(tmp_path) == "paper"
    assert booktext.book_profile(tmp_path, "smoke") == "smoke"


def test_class_timing_is_read_from_the_walkthrough_record(tmp_path: Path) -> None:
    rec = tmp_path / "results" / "class" / "walkthrough_run.json"
    rec.parent.mkdir(parents=True)
    rec.write_text(json.dumps({"seconds": 150.0, "cpu_seconds": 90.0, "load_1min": 3.25,
                               "cpus": 2}))  # fmt: skip
    t = booktext.class_timing(tmp_path)
    assert (t["class_minutes"], t["class_cpu_minutes"]) == ("2.5", "1.5")
    assert (t["class_load"], t["class_cpus"]) == ("3.2", "2")


def test_every_substitution_in_the_book_is_defined() -> None:
    used = set()
    for page in (ROOT / "book").glob("*.md"):
        used |= set(re.findall(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}", page.read_text()))
    assert used, "no page uses a generated value"
    assert used <= set(booktext.substitutions(ROOT))


def test_ablation_values_read_the_papers_budget_only(tmp_path) -> None:
    flag = tmp_path / "organamnist"
    flag.mkdir()
    pd.DataFrame({
        "budget": ["epochs", "epochs", "floor", "epochs"],
        "method": ["exp_s", "var_s", "var_s", "var_s"], "arm": ["EXP-S", "VAR-S", "VAR-S", "VAR-S"],
        "rate": [0.02, 0.02, 0.02, 0.05], "protocol": "clean", "mean": [10.0, 40.0, 20.0, 50.0],
    }).to_csv(flag / "variance_ablation.csv", index=False)  # fmt: skip
    pd.DataFrame({"method": ["random"], "rate": [0.02], "ours_mean": [30.0]}).to_csv(
        flag / "table1_clean.csv", index=False
    )
    out = booktext.ablation_values(tmp_path, ["organamnist"])
    # the floor budget's VAR-S (20 < 30) does not count; the paper's budget's EXP-S does
    assert "EXP-S" in out["ablation_below_random_organamnist"]
    assert "VAR-S" not in out["ablation_below_random_organamnist"]
    assert out["ablation_low_rate_organamnist"] == "2 %"


def test_candidates_table_compares_the_profile_network_with_the_cheapest_good_one(tmp_path) -> None:
    out = tmp_path / "candidates"
    out.mkdir()
    for width, test, cpu in ((0.25, 0.889, 240.0), (0.5, 0.912, 600.0), (1.0, 0.93, 1500.0)):
        (out / f"convnet-{width}.json").write_text(json.dumps({
            "model": "convnet", "width": width, "epochs": 20, "augment": "none",
            "cpu_seconds": cpu, "history": [{"test_acc": test, "val_acc": 0.97}],
            "provenance": {"cpu_capability": "AVX512"},
        }))  # fmt: skip
    text = booktext.candidates_table(tmp_path, ("convnet", 0.25))
    assert text.count("\n| convnet") == 3 and "| 88.9 |" in text
    assert "reaches 88.9 % test accuracy at 12 CPU-s per epoch" in text
    assert "cheapest candidate at or above 91 % is convnet ×0.5 (91.2 %), at 2.5×" in text
    assert "No candidate" in booktext.candidates_table(tmp_path / "none")


def test_ray_benchmark_table_has_one_column_per_executor(tmp_path: Path) -> None:
    pd.DataFrame({"executor": ["serial", "ray, 1 worker killed"], "wall_s": [19.0, 35.8],
                  "same_as_serial": ["yes", "yes"]}).to_csv(tmp_path / "ray_smoke.csv",
                                                            index=False)  # fmt: skip
    text = booktext.ray_smoke_table(tmp_path)
    lines = text.splitlines()
    assert lines[0] == "| | serial | ray, 1 worker killed |"
    assert lines[2] == "| `wall_s` | 19.0 | 35.8 |"
    assert lines[3] == "| `same_as_serial` | yes | yes |"
    assert "not been run" in booktext.ray_smoke_table(tmp_path / "none")


def test_claims_page_columns_name_each_part_and_model_and_the_wrong_side_by_kind() -> None:
    """The claims notebook writes ``part``, ``model`` and ``kind``: sentences name the
    part (and network) of each difference, and "closest to the wrong side" of a "worse"
    claim is its least negative difference."""
    rows = [("a", "clean", "2a", f"m{i} − Random", "worse", 0.02, "epochs", "", -40.0 + 5 * i)
            for i in range(5)]  # fmt: skip
    rows += [("a", "clean", "6", "EVA − Random", "matches", 0.05, "epochs", "vgg ×0.125", -2.0),
             ("a", "clean", "6", "EVA − Random", "matches", 0.05, "epochs", "resnet18 ×0.125",
              1.0)]  # fmt: skip
    c = pd.DataFrame(rows, columns=["dataset", "protocol", "claim", "part", "kind", "rate",
                                    "budget", "model", "diff"])  # fmt: skip
    c["ci95"], c["n_seeds"] = 1.0, 3
    v = pd.DataFrame({"dataset": ["a"] * 3, "protocol": ["clean"] * 3, "claim": ["2a", "6", "5"],
                      "budget": ["epochs", "epochs", "epochs"],
                      "verdict": ["holds", "inconclusive", "not tested"]})  # fmt: skip
    items = {str(f["claim"]): f for f in findings.findings(v, c)}
    assert "closest to the wrong side: m4 − Random at 2 %: −20.0" in items["2a"]["sentence"]
    assert "EVA − Random on vgg ×0.125 at 5 %: −2.0 ± 1.0" in items["6"]["sentence"]
    assert "difference" not in items["6"]["sentence"]
    assert "5" in items  # untested everywhere: still listed
    floor = pd.concat([v, v.assign(budget="floor", verdict="not tested")], ignore_index=True)
    labels = [f["label"] for f in findings.findings(floor, c) if str(f["claim"]) == "2a"]
    assert labels == ["a (budget epochs)"]  # "not tested" under the floor: left out


def test_compute_cost_counts_the_runs_of_the_claims_page_table(tmp_path: Path) -> None:
    """The claims page writes ``runs done``: the landing page's run count reads it."""
    pd.DataFrame({"dataset": ["a", "a"], "study": ["tuning", "table1"], "runs done": [4, 885],
                  "runs missing": [0, 0], "CPU-hours": [1.0, 6.5]}).to_csv(
        tmp_path / "compute_cost.csv", index=False)  # fmt: skip
    out = booktext.compute_cost(tmp_path)
    assert out["cost_runs"] == "889" and out["cost_cpu_hours"] == booktext._fmt(7.5)
    pd.DataFrame({"CPU-hours": [1.0]}).to_csv(tmp_path / "compute_cost.csv", index=False)
    assert booktext.compute_cost(tmp_path)["cost_runs"] == booktext.MISSING
