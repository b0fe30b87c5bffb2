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
NBSP = "\u00a0"  # pages keep "2 %" together with a no-break space


def _verdicts(words=("contradicted", "holds", "inconclusive")) -> pd.DataFrame:
    return pd.DataFrame({
        "dataset": ["organamnist", "organamnist", "bloodmnist", "organamnist"],
        "protocol": ["clean", "clean", "clean", "paper"],
        "claim": [1, "2a", 1, 1],
        "verdict": [words[0], words[1], words[2], words[1]],
        "why": ["…"] * 4,
    })  # fmt: skip


def _comparisons() -> pd.DataFrame:
    rows = [
        ("organamnist", "clean", 1, "EVA tuned − Random", "better", 0.02, -17.88, 2.26, 3, 1.2),
        ("organamnist", "clean", 1, "EVA tuned − Random", "better", 0.05, -4.17, 0.69, 3, 1.0),
        ("organamnist", "paper", 1, "EVA tuned − Random", "better", 0.02, 3.0, 0.5, 3, 1.2),
        ("bloodmnist", "clean", 1, "EVA tuned − Random", "better", 0.02, -16.0, 19.4, 3, math.nan),
    ]
    rows += [("organamnist", "clean", "2a", f"{m} − Random", "worse", 0.02, -10.0 - i, 1.0, 3,
              math.nan) for i, m in enumerate(("forgetting", "el2n"))]  # fmt: skip
    cols = ["dataset", "protocol", "claim", "part", "kind", "rate", "diff", "ci95", "n_seeds",
            "paper"]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


@pytest.mark.parametrize(
    "word, cat",
    [("holds", "holds"), ("does not hold", "contradicted"), ("Contradicted", "contradicted"),
     ("partly", "inconclusive"), ("inconclusive", "inconclusive"), ("not tested", "not tested"),
     ("  does   not hold ", "contradicted"), ("surprising", "other"), (None, "not tested")],
)  # fmt: skip
def test_old_and_new_verdict_words(word, cat) -> None:
    assert findings.category(word) == cat


def test_each_cell_shows_the_comparison_most_against_the_claim() -> None:
    grid = findings.cells(_verdicts(), _comparisons())
    assert list(grid["claim"]) == ["1", "1", "2a"]  # the paper's order, clean protocol only
    one = grid[(grid["claim"] == "1") & (grid["dataset"] == "organamnist")].iloc[0]
    # "better" claim: the most negative difference argues most against it
    assert (one["rate"], one["diff"], one["category"]) == (0.02, -17.88, "contradicted")
    two = grid[grid["claim"] == "2a"].iloc[0]
    # "worse" claim that holds: its weakest comparison is the one closest to zero
    assert two["diff"] == -10.0 and two["part"] == "forgetting − Random"


@pytest.mark.parametrize(
    "diffs, words",
    [([-40.6, -24.4], "24–41 points below"), ([5.0, 49.0], "5.0–49.0 points above"),
     ([-1.3, 6.6], "from 1.3 points below to 6.6 above"), ([-3.14], "3.1 points below"),
     ([0.0, 0.0], "0.0 points apart (the same coresets)")],
)  # fmt: skip
def test_direction_phrase_says_which_way_and_how_far(diffs, words) -> None:
    assert findings.direction_phrase(diffs) == words


def test_claim_sentence_names_what_was_compared_the_verdict_and_the_numbers() -> None:
    comps, grid = _comparisons(), findings.cells(_verdicts(), _comparisons())
    clean = comps[comps["protocol"] == "clean"]
    one = findings.claim_sentence("1", clean[clean["claim"] == 1], grid[grid["claim"] == "1"],
                                  order=("organamnist", "bloodmnist")).replace(NBSP, " ")  # fmt: skip
    assert one.startswith("- **1 · EVA beats Random** (EVA with windows tuned on validation, "
                          "2 % and 5 %).")  # fmt: skip
    # the verdicts differ per dataset: each is named with its dataset, the paper's numbers
    assert "*Contradicted*: 4.2–17.9 points below on OrganAMNIST (paper: +1.0 to +1.2)" in one
    assert "*inconclusive*: 16 below on BloodMNIST" in one
    two = findings.claim_sentence("2a", clean[clean["claim"] == "2a"],
                                  grid[grid["claim"] == "2a"]).replace(NBSP, " ")  # fmt: skip
    assert "(Forgetting and EL2N, 2 %). *Holds*: 10–11 points below" in two


def test_budgets_with_different_verdicts_are_named() -> None:
    v = pd.DataFrame({"dataset": ["a", "a"], "claim": ["4", "4"], "budget": ["epochs", "floor"],
                      "verdict": ["holds", "contradicted"]})  # fmt: skip
    c = pd.DataFrame({"dataset": ["a", "a"], "claim": ["4", "4"], "budget": ["epochs", "floor"],
                      "part": ["VAR-D − VAR-S"] * 2, "kind": ["better"] * 2, "rate": [0.02] * 2,
                      "diff": [3.0, -4.0], "ci95": [1.0, 1.0], "n_seeds": [3, 3]})  # fmt: skip
    grid = findings.cells(v, c)
    text = findings.claim_sentence("4", c, grid, title=str)
    assert "*Holds with the paper's epochs, contradicted with the step floor*" in text
    assert "from 4.0 points below to 3.0 above on a" in text


def test_headline_states_the_first_claim_in_words_and_counts_the_rest() -> None:
    comps, grid = _comparisons(), findings.cells(_verdicts(), _comparisons())
    clean = comps[comps["protocol"] == "clean"]
    text = findings.headline(clean, grid, "at the `cpu` scale", order=("organamnist",))
    text = text.replace(NBSP, " ")
    assert text.startswith("**At the `cpu` scale, a network trained on EVA's coreset of 2 % or "
                           "5 % of the training images is 4.2–17.9 points less accurate on "
                           "OrganAMNIST and 16 points less accurate on BloodMNIST than one "
                           "trained on a random subset of the same size.**")  # fmt: skip
    assert text.endswith("Of the 2 claims tested, 1 holds everywhere it was tested, 1 is "
                         "contradicted somewhere and 0 are inconclusive: their intervals are "
                         "too wide to tell.")  # fmt: skip


def test_headline_counts_untested_claims_apart_from_the_tested_ones() -> None:
    untested = pd.DataFrame({"dataset": ["organamnist"], "protocol": ["clean"], "claim": ["6"],
                             "verdict": ["not tested"], "why": ["…"]})  # fmt: skip
    verdicts = pd.concat([_verdicts(), untested], ignore_index=True)
    grid = findings.cells(verdicts, _comparisons())
    assert set(grid["claim"]) == {"1", "2a", "6"}
    text = findings.headline(_comparisons(), grid, "at p").replace(NBSP, " ")
    assert "Of the 2 claims tested, 1 holds" in text
    assert text.endswith(" 1 more is listed below but not tested at this profile.")


def test_grid_has_a_row_per_claim_and_a_column_per_dataset_and_budget() -> None:
    v = pd.concat([_verdicts().assign(budget="epochs"), _verdicts().assign(budget="floor")])
    c = pd.concat([_comparisons().assign(budget="epochs"), _comparisons().assign(budget="floor")])
    c.loc[c["claim"] == "2a", "n_seeds"] = 2
    out = findings.grid_html(findings.cells(v, c), "cap", order=("organamnist", "bloodmnist"))
    assert out.count('<tr><th scope="row">') == 2  # claims 1 and 2a
    assert out.index("OrganAMNIST") < out.index("BloodMNIST")
    assert out.count("paper&#x27;s epochs") == 2 and out.count("step floor") == 2
    assert out.count('class="v-contradicted"') == 2 and out.count('class="v-holds"') == 2
    assert "−17.9 ±\u00a02.3" in out  # U+2212, the interval kept with its number
    assert out.count('class="v-untested"') == 2  # claim 2a has no BloodMNIST rows
    assert (
        out.count("n\u00a0=\u00a02") == 2 and "n\u00a0=\u00a03" not in out
    )  # the usual n: caption


@pytest.mark.parametrize(
    "cats, expected",
    [({"1": ["holds"]}, "At the `p` profile, claim 1 holds on every dataset and budget tested."),
     ({"1": ["holds"], "2": ["holds", "holds"], "3": ["contradicted", "holds"]},
      "At the `p` profile, claims 1 and 2 hold on every dataset and budget tested; claim 3 is "
      "contradicted on at least one."),
     ({"1": ["inconclusive"], "2": ["contradicted"], "3": ["inconclusive"]},
      "At the `p` profile, no claim holds on every dataset and budget tested; claim 2 is "
      "contradicted on at least one; claims 1 and 3 are inconclusive."),
     ({"1": ["holds"], "2": ["not tested"]},
      "At the `p` profile, claim 1 holds on every dataset and budget tested.")],
)  # fmt: skip
def test_verdict_summary_is_grammatical_for_any_count(cats, expected) -> None:
    grid = pd.DataFrame([{"claim": c, "category": x} for c, xs in cats.items() for x in xs])
    assert findings.verdict_summary(grid, "p") == expected


def test_verdict_summary_is_true_of_the_committed_results() -> None:
    """The teaching page's answer names every claim of the committed results once, in the
    group its verdicts put it in."""
    profile = booktext.book_profile(ROOT)
    verdicts, comps = booktext._claims_tables(ROOT / "results" / profile)
    grid = findings.cells(verdicts, comps)
    if grid.empty:
        pytest.skip(f"no claims results at {profile}")
    text = findings.verdict_summary(grid, profile)
    groups = re.split(r"; ", text.removeprefix(f"At the `{profile}` profile, ").rstrip("."))
    named = {}
    for group in groups:
        ids = re.findall(r"\b(\d+[a-z]*)\b", group.split(" hold")[0].split(" is ")[0]
                         .split(" are ")[0])  # fmt: skip
        for cid in ids:
            named[cid] = group
    tested = grid[grid["category"] != findings.UNTESTED]
    assert set(named) == set(tested["claim"])
    for cid, cats in tested.groupby("claim")["category"]:
        if all(c == findings.HOLDS for c in cats):
            assert "hold" in named[cid] and "every dataset" in named[cid]
        elif any(c == findings.CONTRADICTED for c in cats):
            assert "contradicted" in named[cid]
        else:
            assert "inconclusive" in named[cid]


def test_findings_state_the_result_before_the_grid_and_the_caveats_once() -> None:
    v = pd.concat([_verdicts().assign(budget="epochs"), _verdicts().assign(budget="floor")])
    c = pd.concat([_comparisons().assign(budget="epochs"), _comparisons().assign(budget="floor")])
    md = findings.findings_markdown(
        [findings.ProfileResults("cpu", v, c, scale="tiny", settings="Settings S.",
                                 windows="windows W"),
         findings.ProfileResults("cpu200", v, c)],
        source="From F.", order=("organamnist", "bloodmnist"))  # fmt: skip
    order = [md.index(x) for x in ("**At the `cpu` scale (tiny)", "<table", "- **1 · ",
                                   "- **2a · ", "How these verdicts", "Caveats")]  # fmt: skip
    assert order == sorted(order)  # the result first: headline, grid, then the claims in words
    assert md.count("<table") == 2 and "<code>cpu200</code> profile" in md  # a grid per profile
    # every claim code is introduced with its short name (the grid's row) where first used
    first = md.index('<span class="claim-id">2a</span>')
    assert md.index("2a") == first + len('<span class="claim-id">')
    assert md[first:].index('<span class="claim-name">') < 60
    assert md.count("*Windows.* Windows W.") == 1 and md.count("Settings S.") == 1
    assert "*Protocol.*" in md and "claim 1 on OrganAMNIST (paper's epochs): holds" in md
    assert not re.search(r"\b[a-z]+_[a-z0-9_]+\b", md.replace("claims_*", ""))  # no code names
    assert "−0.0" not in md and "+0.0" not in md and " %" not in md  # a non-breaking space


def test_a_second_profiles_grid_shows_only_the_claims_it_tested() -> None:
    v, c = _verdicts().assign(budget="epochs"), _comparisons().assign(budget="epochs")
    untested = v["claim"].astype(str) == "2a"
    v2 = v.assign(verdict=v["verdict"].where(~untested, "not tested"))
    md = findings.findings_markdown(
        [findings.ProfileResults("cpu", v, c), findings.ProfileResults("cpu200", v2, c)]
    )
    first, second = md.split("<code>cpu200</code> profile")
    assert '<span class="claim-id">2a</span>' in first  # the first grid keeps every claim
    assert '<span class="claim-id">2a</span>' not in second  # the second, only its own
    assert '<span class="claim-id">1</span>' in second


def test_no_results_gives_a_sentence_not_an_error() -> None:
    assert findings.cells(pd.DataFrame(), pd.DataFrame()).empty
    empty = findings.ProfileResults("cpu", pd.DataFrame(), pd.DataFrame())
    assert "No claims results" in findings.findings_markdown([empty])


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
    assert "4.2–17.9 points below" in before
    assert booktext.substitutions(root, "cpu")["cost_cpu_hours"] == "3.8"
    comps = _comparisons()
    comps.loc[0, "diff"] = 4.17
    comps.to_csv(root / "results" / "cpu" / "claims_comparisons.csv", index=False)
    pd.DataFrame({"dataset": ["organamnist"], "notebook": ["x"], "jobs done": [1],
                  "CPU-hours": [9.0]}).to_csv(root / "results/cpu/compute_cost.csv", index=False)  # fmt: skip
    changed = booktext.write(root, "cpu")
    after = findings_md.read_text()
    assert changed == [findings_md] and after != before
    assert "from 4.2 points below to 4.2 above" in after and "17.9" not in after
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
    assert text.count("\n| ConvNet") == 3 and "| 88.9 |" in text
    assert "reaches 88.9 % test accuracy at 12 CPU-s per epoch" in text
    assert "cheapest candidate at or above 91 % is ConvNet ×0.5 (91.2 %), at 2.5×" in text
    assert "No candidate" in booktext.candidates_table(tmp_path / "none")


def test_ray_benchmark_table_has_one_column_per_executor(tmp_path: Path) -> None:
    pd.DataFrame({"executor": ["serial", "ray, 1 worker killed"], "wall_s": [19.0, 35.8],
                  "same_as_serial": ["yes", "yes"]}).to_csv(tmp_path / "ray_smoke.csv",
                                                            index=False)  # fmt: skip
    text = booktext.ray_smoke_table(tmp_path)
    lines = text.splitlines()
    assert lines[0] == "| | serial | ray, 1 worker killed |"
    assert lines[2] == "| wall time, median (s) | 19.0 | 35.8 |"
    assert lines[3] == "| same results as serial | yes | yes |"
    assert "not been run" in booktext.ray_smoke_table(tmp_path / "none")


def test_sentences_name_networks_and_take_the_wrong_side_from_the_kind() -> None:
    """Claim 6 compares per network (display names, not code names); the cell of a
    "worse" claim is its least negative difference, of a "matches" claim its lowest."""
    rows = [("a", "clean", "2a", f"{m} − Random", "worse", 0.02, "epochs", "", -40.0 + 5 * i)
            for i, m in enumerate(("forgetting", "entropy", "el2n", "aum", "ccs"))]  # fmt: skip
    rows += [("a", "clean", "6", "EVA tuned − Random", "matches", 0.05, "epochs", "vgg ×0.125",
              -2.0),
             ("a", "clean", "6", "EVA tuned − Random", "matches", 0.05, "epochs",
              "resnet18 ×0.125", 1.0)]  # fmt: skip
    c = pd.DataFrame(rows, columns=["dataset", "protocol", "claim", "part", "kind", "rate",
                                    "budget", "model", "diff"])  # fmt: skip
    c["ci95"], c["n_seeds"] = 1.0, 3
    v = pd.DataFrame({"dataset": ["a"] * 3, "protocol": ["clean"] * 3, "claim": ["2a", "6", "5"],
                      "budget": ["epochs", "epochs", "epochs"],
                      "verdict": ["holds", "inconclusive", "not tested"]})  # fmt: skip
    grid = findings.cells(v, c).set_index("claim")
    assert grid.loc["2a", "diff"] == -20.0 and grid.loc["6", "diff"] == -2.0
    six = findings.claim_sentence("6", c[c["claim"] == "6"], findings.cells(v, c).query(
        "claim == '6'"), title=str).replace(NBSP, " ")  # fmt: skip
    assert "against Random on ResNet-18 ×0.125 and VGG ×0.125, 5 %" in six
    assert "from 2.0 points below to 1.0 above on a" in six
    five = findings.claim_sentence("5", c.iloc[:0], findings.cells(v, c).query("claim == '5'"))
    assert five.endswith("Not tested yet.")


def test_compute_cost_counts_the_runs_of_the_claims_page_table(tmp_path: Path) -> None:
    """The claims page writes ``runs done``: the landing page's run count reads it."""
    pd.DataFrame({"dataset": ["a", "a"], "study": ["tuning", "table1"], "runs done": [4, 885],
                  "runs missing": [0, 0], "CPU-hours": [1.0, 6.5]}).to_csv(
        tmp_path / "compute_cost.csv", index=False)  # fmt: skip
    out = booktext.compute_cost(tmp_path)
    assert out["cost_runs"] == "889" and out["cost_cpu_hours"] == booktext._fmt(7.5)
    pd.DataFrame({"CPU-hours": [1.0]}).to_csv(tmp_path / "compute_cost.csv", index=False)
    assert booktext.compute_cost(tmp_path)["cost_runs"] == booktext.MISSING


def test_findings_show_every_profile_with_claims_results_but_smoke(tmp_path: Path) -> None:
    for profile in ("cpu", "cpu200", "smoke", "nonsense"):
        (tmp_path / "results" / profile).mkdir(parents=True)
        _verdicts().to_csv(tmp_path / "results" / profile / "claims_verdicts.csv", index=False)
    shown = booktext.findings_profiles(tmp_path, "cpu")
    assert shown[0] == "cpu" and "smoke" not in shown and "nonsense" not in shown
    from evalib.runs.config import PROFILES

    assert ("cpu200" in shown) == ("cpu200" in PROFILES)


def test_launch_buttons_are_promised_only_with_a_repository_url() -> None:
    assert booktext.launch_values("")["launch_note"] == ""
    assert "launch" in booktext.launch_values("https://github.com/o/r")["launch_note"]
    subs = booktext.substitutions(ROOT, repository_url="")
    assert subs["launch_note"] == ""
    teaching = (ROOT / "book" / "teaching.md").read_text()
    assert "{{ launch_note }}" in teaching and "Colab" not in teaching.replace(
        "{{ launch_note }}", "")  # fmt: skip


def test_the_committed_headline_fits_one_desktop_screen() -> None:
    """The result as the landing page states it (the headline, before the grid) stays
    short: 700 characters are about 8 lines of the book's text column at a 1400 px window,
    which with the title and the introduction stay within one 1400 × 900 screen, and
    within one 390 × 844 phone screen; one sentence per claim follows the grid."""
    profile = booktext.book_profile(ROOT)
    page = booktext.findings_page(profile, ROOT / "results" / profile)
    if "No claims results" in page:
        pytest.skip(f"no claims results at {profile}")
    head = page[: page.index("<div")]
    assert len(head) <= 700, len(head)
    assert not re.search(r"\bclaims? \d", head)  # no claim code before the grid names it
    claims = re.findall(r"^- \*\*(\w+) · ", page, flags=re.MULTILINE)
    assert claims and len(claims) == len(set(claims))  # one sentence per claim


def test_a_grid_cell_whose_arms_chose_one_coreset_says_so() -> None:
    c = _comparisons().assign(identical=0)
    c.loc[c["claim"] == "2a", "identical"] = 3  # every seed: the same coreset twice
    out = findings.grid_html(findings.cells(_verdicts(), c), "cap", order=("organamnist",))
    assert out.count("identical coresets") == 1
    row = out[out.index('<span class="claim-id">2a</span>') :]
    assert "identical coresets" in row[: row.index("</tr>")]
