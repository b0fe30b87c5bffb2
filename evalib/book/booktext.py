"""Every number in the book's prose pages, computed from the result files at build time.

The Markdown pages (``book/*.md``) type no result: they use

* MyST substitutions, ``{{ name }}``, for single values in a sentence (compute hours,
  the profile's settings, the validation − test gap), and
* generated includes, ``book/_generated/<name>.md``, for whole blocks (the landing
  page's Findings, the protocol page's gap table), pulled in with ``{include}``.

Both are computed here from ``results/<profile>/`` and the profile definitions in
:mod:`evalib.runs.config`. As a Sphinx extension (listed in ``_config.yml``) this module
recomputes them at the start of every ``jupyter-book build``, so a changed result file
changes the text at the next build; nothing is executed by the build but this. The book
profile is the one the claims notebook was last executed with (its papermill
parameters), unless ``evalib_book_profile`` is set in the Sphinx config.

``python -m evalib.book.booktext`` writes the includes and prints the substitutions, to read
them without building the book.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from evalib.book import findings
from evalib.runs.cache import read_json_checked
from evalib.studies.labels import (
    dataset_title,
    fmt_number,
    fmt_rates,
    fmt_window,
    model_label,
    model_title,
)

ROOT = Path(__file__).resolve().parents[2]
GENERATED = Path("book") / "_generated"
DEFAULT_PROFILE = "cpu"
MISSING = "(not computed yet)"


# ----------------------------------------------------------------------------- inputs


def book_profile(root: Path = ROOT, explicit: str | None = None) -> str:
    """The profile the book shows: ``explicit``, else the claims notebook's papermill
    ``profile`` parameter, else :data:`DEFAULT_PROFILE`."""
    if explicit:
        return explicit
    nb = root / "notebooks" / "10_claims.ipynb"
    try:
        meta = json.loads(nb.read_text())["metadata"]
        return str(meta["papermill"]["parameters"]["profile"])
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_PROFILE


def _csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (OSError, pd.errors.EmptyDataError):
        return pd.DataFrame()


def _fmt(x: float, digits: int = 1) -> str:
    return MISSING if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _profile(name: str):
    from evalib.runs.config import PROFILES

    return PROFILES.get(name)


def _datasets() -> tuple[str, ...]:
    from evalib.book.reproduce import DATASETS

    return next(iter(DATASETS.values()))


# ----------------------------------------------------------------------------- numbers


def compute_cost(results: Path) -> dict[str, str]:
    """Total CPU-hours and runs of ``compute_cost.csv`` (written by the claims page)."""
    cost = _csv(results / "compute_cost.csv")
    if cost.empty or "CPU-hours" not in cost:
        return {"cost_cpu_hours": MISSING, "cost_half_hours": MISSING, "cost_runs": MISSING}
    hours = float(cost["CPU-hours"].sum())
    done = next((c for c in ("runs done", "jobs done") if c in cost), None)
    if done is None:
        return {"cost_cpu_hours": _fmt(hours), "cost_half_hours": _fmt(hours / 2),
                "cost_runs": MISSING}  # fmt: skip
    runs = int(cost[done].sum())
    return {"cost_cpu_hours": _fmt(hours), "cost_half_hours": _fmt(hours / 2),
            "cost_runs": f"{runs:,}"}  # fmt: skip


def regime_values(root: Path = ROOT, name: str = "cpu200") -> dict[str, str]:
    """The second CPU profile's settings and the compute its committed runs took so far
    (``cpu200_*``): the runs are its job rows and surrogate records under ``results/``;
    ``cpu200_runs_done`` is ``"<n> runs so far"``, or ``"<n> runs"`` once its claims page's
    compute table (``compute_cost.csv``) lists no run missing."""
    p = _profile(name)
    if p is None:
        return {}
    w = p.eva_windows()
    seconds, runs = 0.0, 0
    for kind in ("jobs", "surrogates"):
        for path in sorted((root / "results" / name / kind).glob("*.json")):
            row = read_json_checked(path)
            if row is not None and row.get("seconds") is not None:
                seconds += float(row["seconds"])
                runs += 1
    n = len(p.grid_windows())
    cost = _csv(root / "results" / name / "compute_cost.csv")
    complete = "runs missing" in cost and len(cost) and int(cost["runs missing"].sum()) == 0
    return {
        f"{name}_runs_done": f"{runs:,} runs" + ("" if complete else " so far"),
        f"{name}_surrogate_epochs": str(p.surrogate_epochs),
        f"{name}_window_k": str(w["early"][1] - w["early"][0]),
        f"{name}_grid_windows": str(n),
        f"{name}_grid_pairs": str(n * (n - 1) // 2),
        f"{name}_published": f"{fmt_window(w['early'])} + {fmt_window(w['late'])}",
        f"{name}_cpu_hours": _fmt(seconds / 3600),
    }


def profile_values(name: str) -> dict[str, str]:
    """The profile's settings as the architecture and method pages quote them."""
    p = _profile(name)
    if p is None:
        return {}
    w = p.eva_windows()
    val = p.data_spec("organamnist").val_subset
    k = w["early"][1] - w["early"][0]
    note = ("each window's variance is one squared half-difference, so EVA there ranks "
            "samples by two single-epoch changes of their error" if k == 2 else
            f"each window's variance averages the {k * (k - 1) // 2} pairs of epochs "
            "inside it")  # fmt: skip
    return {
        "profile_model": model_title(model_label(p.model.name, p.model.width)),
        "profile_epochs": str(p.epochs),
        "profile_batch": str(p.recipe.batch_size),
        "profile_amp": p.recipe.amp if p.recipe.amp != "none" else "float32",
        "profile_seeds": str(len(p.seeds)),
        "profile_early": fmt_window(w["early"]),
        "profile_late": fmt_window(w["late"]),
        "profile_window_k": str(k),
        "profile_window_note": note,
        "profile_val_subset": f"{val:,}" if val else "all",
        "profile_description": p.description,
        "profile_surrogate_epochs": str(p.surrogate_epochs),
        "profile_tuning_seed": str(p.tuning_seed),
        "profile_tune_rates": ", ".join(f"{100 * r:g} %" for r in p.tune_rates),
        "profile_min_steps": str(p.min_steps),
        "profile_floor_rates": ", ".join(f"{100 * r:g} %" for r in p.floor_rates),
        "profile_grid_windows": str(len(p.grid_windows())),
        "profile_grid_pairs": str(len(p.grid_windows()) * (len(p.grid_windows()) - 1) // 2),
    }


def full_data_gaps(name: str, results: Path, datasets) -> pd.DataFrame:
    """Per dataset, the full-data runs of Table 1 at profile ``name``: mean best
    validation accuracy (paper protocol), final validation and final test accuracy, and
    the two parts of the gap, split (final val − test) and best-epoch gain (best − final
    val), in points. Rows with ``runs == 0`` where no result exists."""
    from evalib.runs.cache import Cache
    from evalib.studies.grids import full_jobs

    p = _profile(name)
    rows = []
    for flag in datasets:
        jobs = [x.job for x in full_jobs(p, flag)] if p else []
        cache = Cache(results, results)
        found = [r for r in (cache.job_result(j) for j in dict.fromkeys(jobs)) if r is not None]
        t = pd.DataFrame(found)
        if t.empty or "final_val_acc" not in t:
            rows.append({"dataset": flag, "runs": 0})
            continue
        best, val, test = (100 * t[c].astype(float) for c in
                           ("paper_val_acc", "final_val_acc", "clean_test_acc"))  # fmt: skip
        rows.append({"dataset": flag, "runs": len(t), "best_val": best.mean(),
                     "final_val": val.mean(), "final_test": test.mean(),
                     "split_gap": (val - test).mean(), "best_gain": (best - val).mean(),
                     "total_gap": (best - test).mean()})  # fmt: skip
    return pd.DataFrame(rows)


def gap_values(gaps: pd.DataFrame) -> dict[str, str]:
    out = {}
    for _, r in gaps.iterrows():
        for key in ("split_gap", "best_gain", "total_gap", "final_val", "final_test"):
            out[f"{key}_{r['dataset']}"] = _fmt(r.get(key, math.nan))
    return out


def gap_table(gaps: pd.DataFrame) -> str:
    """Markdown table of :func:`full_data_gaps`."""
    lines = ["| dataset | full-data runs | best val. (paper protocol) | final val. | final test "
             "(clean protocol) | val. − test, final epoch | best − final, val. |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for _, r in gaps.iterrows():
        if not r.get("runs"):
            lines.append(f"| {dataset_title(r['dataset'])} | 0 | — | — | — | — | — |")
            continue
        lines.append(
            f"| {dataset_title(r['dataset'])} | {int(r['runs'])} | {r['best_val']:.1f} | "
            f"{r['final_val']:.1f} | {r['final_test']:.1f} | "
            f"{fmt_number(r['split_gap'], 1, sign=True)} | "
            f"{fmt_number(r['best_gain'], 1, sign=True)} |"
        )
    return "\n".join(lines) + "\n"


def class_timing(root: Path) -> dict[str, str]:
    """The measured wall time of the walkthrough's class mode, from the record its last
    run wrote (``results/class/walkthrough_run.json``)."""
    rec = root / "results" / "class" / "walkthrough_run.json"
    try:
        d = json.loads(rec.read_text())
        return {"class_minutes": _fmt(float(d["seconds"]) / 60),
                "class_cpu_minutes": _fmt(float(d.get("cpu_seconds", math.nan)) / 60),
                "class_load": _fmt(float(d.get("load_1min", math.nan))),
                "class_cpus": str(int(d.get("cpus", 0)) or MISSING)}  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError):
        return {"class_minutes": MISSING, "class_cpu_minutes": MISSING, "class_load": MISSING,
                "class_cpus": MISSING}  # fmt: skip


def _names(items) -> str:
    items = list(items)
    if not items:
        return "none"
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else items[0]


def _claims_tables(results: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``claims_verdicts.csv`` and the comparisons (``claims_comparisons.csv`` and, where
    a profile has one, ``claims_transfer.csv``) of one profile's results folder."""
    verdicts = _csv(results / "claims_verdicts.csv")
    comps = pd.concat([_csv(results / "claims_comparisons.csv"),
                       _csv(results / "claims_transfer.csv")], ignore_index=True)  # fmt: skip
    return verdicts, comps


def claims_values(name: str, results: Path) -> dict[str, str]:
    """The teaching page's generated answers: which claims hold, are contradicted or
    stay inconclusive (one sentence), and where the paper protocol's verdict differs."""
    verdicts, comps = _claims_tables(results)
    grid = findings.cells(verdicts, comps)
    if grid.empty:
        return {
            "claims_verdict_summary": MISSING,
            "claims_protocol_note": MISSING,
            "claims_seeds": MISSING,
        }
    differs = findings.protocol_differences(verdicts, findings.PRIMARY, dataset_title)
    note = (f"Under the paper's protocol the verdict changes for {_names(differs)}." if differs
            else "Here the two protocols give the same verdict for every claim, dataset and "
            "budget.")  # fmt: skip
    return {
        "claims_verdict_summary": findings.verdict_summary(grid, name),
        "claims_protocol_note": note,
        "claims_seeds": findings.seeds_text(grid),
    }


def ablation_values(results: Path, datasets) -> dict[str, str]:
    """Per dataset, the arms of the variance ablation whose clean-protocol mean lies
    below Random's at the lowest rate (Random from Table 1's clean summary)."""
    out = {}
    for flag in datasets:
        abl = _csv(results / flag / "variance_ablation.csv")
        t1 = _csv(results / flag / "table1_clean.csv")
        key = f"ablation_below_random_{flag}"
        if abl.empty or t1.empty or "protocol" not in abl:
            out[key], out[f"ablation_low_rate_{flag}"] = MISSING, MISSING
            continue
        clean = abl[(abl["protocol"] == "clean") & (abl["method"] != "full")]
        if "budget" in clean:  # the paper's budget (the floor budget has its own rows)
            clean = clean[clean["budget"] == "epochs"]
        low = float(clean["rate"].min())
        rnd = t1[(t1["method"] == "random") & (t1["rate"] == low)]["ours_mean"]
        rows = clean[clean["rate"] == low]
        below = [str(r["arm"]) for _, r in rows.iterrows()
                 if len(rnd) and r["mean"] < float(rnd.iloc[0])]  # fmt: skip
        out[key] = _names(below) if len(rnd) else MISSING
        out[f"ablation_low_rate_{flag}"] = f"{100 * low:g} %"
    return out


def class_dynamics_values(root: Path) -> dict[str, str]:
    """Shape and size of the committed class-mode dynamics."""
    from evalib.book.classroom import CLASS_DYNAMICS

    path = root / "notebooks" / CLASS_DYNAMICS
    try:
        import numpy as np

        with np.load(path) as z:
            t, n, c = z["log_probs"].shape
    except (OSError, KeyError, ValueError):
        return {"class_dyn_shape": MISSING, "class_dyn_mb": MISSING, "class_dyn_epochs": MISSING,
                "class_dyn_images": MISSING}  # fmt: skip
    return {"class_dyn_shape": f"{t} × {n:,} × {c}", "class_dyn_epochs": str(t),
            "class_dyn_images": f"{n:,}", "class_dyn_mb": _fmt(path.stat().st_size / 1e6)}  # fmt: skip


def ccs_binning_values(root: Path, name: str) -> dict[str, str]:
    """What CCS's two binnings (the paper's [min, max], the CCS code's [min, 1.0001 max])
    change on the committed class dynamics' CCS scores, at the profile's rates
    (:func:`evalib.studies.ccs_binning.compare`)."""
    from evalib.book.classroom import load_class_dynamics
    from evalib.errors import EvalibError
    from evalib.scores import compute_scores
    from evalib.studies.ccs_binning import compare

    p = _profile(name)
    try:
        dyn = load_class_dynamics(root / "notebooks")
    except EvalibError:
        dyn = None
    if p is None or dyn is None:
        return {"ccs_binning_moved": MISSING, "ccs_binning_budget": MISSING,
                "ccs_binning_rates": MISSING}  # fmt: skip
    table = compare(compute_scores("ccs", dyn), p.rates)
    share = table["moved_samples"] / table["pool"]
    counts = sorted({int(x) for x in table["moved_samples"]})
    pools = sorted({int(x) for x in table["pool"]})
    moved = (
        (f"{counts[0]}–{counts[-1]}" if len(counts) > 1 else f"{counts[0]}")
        + " of the "
        + (f"{pools[0]:,}–{pools[-1]:,}" if len(pools) > 1 else f"{pools[0]:,}")
        + f" samples left after the cutoff ({_fmt(100 * share.min())}–{_fmt(100 * share.max())} %)"
    )
    worst = table.loc[table["moved_budget"].idxmax()]
    budget = (
        "the budget of every stratum stays the same, so only which samples a stratum offers changes"
        if worst["moved_budget"] == 0
        else f"up to {int(worst['moved_budget'])} of the {int(worst['m']):,} places of a "
        f"coreset (at {100 * worst['rate']:g} %) go to another stratum"
    )
    return {"ccs_binning_moved": moved, "ccs_binning_budget": budget,
            "ccs_binning_rates": ", ".join(f"{100 * r:g} %" for r in p.rates)}  # fmt: skip


def dataset_values() -> dict[str, str]:
    """Split sizes of the datasets the book names, from :mod:`evalib.data`."""
    from evalib.data import dataset_info

    out = {}
    for flag in ("organamnist", "organsmnist", "bloodmnist"):
        info = dataset_info(flag)
        for split, n in zip(("train", "val", "test"), info.n_samples, strict=True):
            out[f"n_{split}_{flag}"] = f"{n:,}"
        out[f"classes_{flag}"] = str(info.n_classes)
        out[f"channels_{flag}"] = str(info.n_channels)
    return out


# ----------------------------------------------------------------------------- pages


def scale_text(name: str) -> str:
    """The profile's scale in a few words: ``"ConvNet ×0.25, 20 epochs, 3 seeds"``."""
    p = _profile(name)
    if p is None:
        return ""
    model = model_title(model_label(p.model.name, p.model.width))
    return f"{model}, {p.epochs} epochs, {len(p.seeds)} seeds"


def windows_text(name: str) -> str:
    """How the profile chose EVA's windows (the window caveat of the Findings)."""
    p = _profile(name)
    if p is None:
        return ""
    rates = fmt_rates(p.tune_rates)
    return (f"EVA's windows were chosen on validation runs of seed {p.tuning_seed} at "
            f"{rates} (other rates take the nearest tuned rate's windows): the best of this "
            "profile's grid of windows, not the paper's own")  # fmt: skip


def findings_profiles(root: Path, book: str) -> list[str]:
    """The profiles the Findings show: the book's first, then every other folder of
    ``results/`` with a ``claims_verdicts.csv`` of a known profile but ``smoke`` (which
    exists for tests)."""
    from evalib.runs.config import PROFILES

    others = sorted(p.parent.name for p in (root / "results").glob("*/claims_verdicts.csv"))
    return [book] + [p for p in others if p != book and p in PROFILES and p != "smoke"]


def findings_page(name: str, results: Path, others: tuple[str, ...] = ()) -> str:
    """The landing page's Findings for profile ``name`` (and a verdict grid for each
    profile of ``others``, read from the folder beside ``results``)."""
    shown = []
    for profile in (name, *others):
        verdicts, comps = _claims_tables(results.parent / profile)
        p = _profile(profile)
        shown.append(findings.ProfileResults(
            name=profile, verdicts=verdicts, comparisons=comps, scale=scale_text(profile),
            settings=(p.description[0].upper() + p.description[1:] + ".") if p else "",
            windows=windows_text(profile)))  # fmt: skip
    source = (f"Generated from `results/{name}/claims_*.csv`, the tables of "
              "{doc}`../notebooks/10_claims`, which lists every comparison.")  # fmt: skip
    why = findings.why_random_wins(*(_per_dataset(results, f) for f in WHY_FILES),
                                   comparisons=shown[0].comparisons, order=_datasets())  # fmt: skip
    return findings.findings_markdown(shown, source, dataset_title, _datasets(), why=why,
                                      regime=regime_finding_text(results, name))  # fmt: skip


def regime_finding_text(results: Path, name: str) -> str:
    """Whether the paper's regime changes the verdict on claims 1 and 1p (and the
    class-balance check 1cb where both profiles ran it), from the claims
    page's ``results/<name>/regime_verdicts.csv`` (``""`` without it, or at another
    profile than the one that compares)."""
    from evalib.book.lessons.regime import regime_finding
    from evalib.book.lessons.why import grid_verdict
    from evalib.studies.profiles import REGIME_PROFILES

    path = results / "regime_verdicts.csv"
    if name != REGIME_PROFILES[0] or not path.is_file():
        return ""
    text = regime_finding(_csv(path), REGIME_PROFILES, ("1", "1p", "1cb"), datasets=_datasets())
    # the second profile's own window grid (the paper's 190 pairs), as page 05 wrote it
    robust = _per_dataset(results.parent / REGIME_PROFILES[1], "window_robustness.csv")
    grid = grid_verdict(robust) if len(robust) else ""
    if text and grid:
        text += f" On the paper's window grid (`{REGIME_PROFILES[1]}`): {grid[0].lower()}{grid[1:]}"
    return text


#: the tables behind the Findings' "why" (pages 05 and 02, per dataset)
WHY_FILES = ("window_robustness.csv", "coreset_classes.csv", "per_class_accuracy.csv")


def _per_dataset(results: Path, fname: str) -> pd.DataFrame:
    """``results/<dataset>/<fname>`` of the book's datasets, stacked with a ``dataset``
    column (empty when no dataset has the file)."""
    parts = [_csv(results / flag / fname).assign(dataset=flag) for flag in _datasets()
             if (results / flag / fname).is_file()]  # fmt: skip
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def launch_values(repository_url: str) -> dict[str, str]:
    """What the teaching page says about the header's launch buttons: they exist only
    when the book is built with a repository URL (:mod:`evalib.book.bookconfig`)."""
    if not str(repository_url or "").startswith(("https://", "http://")):
        return {"launch_note": ""}
    return {"launch_note": " Or open the walkthrough in Colab or Binder from the launch "
            "button in its page header: the notebook then installs `evalib` itself."}  # fmt: skip


def substitutions(
    root: Path = ROOT, profile: str | None = None, repository_url: str | None = None
) -> dict[str, str]:
    """Every ``{{ name }}`` the book's Markdown pages use, as text (``repository_url``:
    the book's, default ``repository.url`` of ``_config.yml``)."""
    from evalib.book.reproduce import repository_url as configured_url

    name = book_profile(root, profile)
    url = configured_url(root / "_config.yml") if repository_url is None else repository_url
    results = root / "results" / name
    gaps = full_data_gaps(name, results, _datasets())
    return {"book_profile": name, **compute_cost(results), **profile_values(name),
            **gap_values(gaps), **class_timing(root), **dataset_values(),
            **claims_values(name, results), **ablation_values(results, _datasets()),
            **class_dynamics_values(root), **ccs_binning_values(root, name),
            **regime_values(root), **launch_values(url)}  # fmt: skip


#: full-data test accuracy (OrganAMNIST, final epoch) the `cpu` profile's network aimed at
TARGET_TEST_ACC = 0.91


def candidates_table(results: Path, profile_model: tuple[str, float] | None = None) -> str:
    """Markdown table of the candidate networks of ``benchmarks/bench_candidates.py``
    (full OrganAMNIST, seed 0): final test and validation accuracy, CPU seconds per
    epoch where recorded, the machine's CPU capability; then one sentence comparing the
    profile's network (``(name, width)``) with the cheapest candidate that reaches
    :data:`TARGET_TEST_ACC`."""
    rows = []
    for path in sorted((results / "candidates").glob("*.json")):
        r = json.loads(path.read_text())
        last = r["history"][-1]
        cpu = r.get("cpu_seconds")
        rows.append({
            "network": model_title(f"{r['model']} ×{r['width']:g}"), "epochs": r["epochs"],
            "augmentation": r["augment"], "test %": f"{100 * last['test_acc']:.1f}",
            "validation %": f"{100 * last['val_acc']:.1f}",
            "CPU s / epoch": f"{cpu / r['epochs']:.0f}" if cpu else "not recorded",
            "CPU": (r.get("provenance") or {}).get("cpu_capability", "?"),
            "_key": (r["model"], float(r["width"])), "_test": float(last["test_acc"]),
            "_cost": cpu / r["epochs"] if cpu else math.nan,
        })  # fmt: skip
    if not rows:
        return "*No candidate network has been measured yet (`benchmarks/bench_candidates.py`).*\n"
    frame = pd.DataFrame(rows)
    shown = frame[[c for c in frame.columns if not c.startswith("_")]]
    head = "| " + " | ".join(shown.columns) + " |\n|" + "---|" * len(shown.columns) + "\n"
    body = "".join("| " + " | ".join(str(v) for v in row) + " |\n"
                   for row in shown.itertuples(index=False))  # fmt: skip
    text = head + body
    timed = frame[frame["_cost"].notna() & (frame["augmentation"] == "none")]
    mine = timed[timed["_key"] == profile_model] if profile_model else timed.iloc[0:0]
    good = timed[timed["_test"] >= TARGET_TEST_ACC].sort_values("_cost")
    if len(mine) and len(good):
        m, g = mine.iloc[0], good.iloc[0]
        text += (
            f"\nThe profile's network ({m['network']}) reaches {100 * m['_test']:.1f} % test "
            f"accuracy at {m['_cost']:.0f} CPU-s per epoch; the cheapest candidate at or above "
            f"{100 * TARGET_TEST_ACC:g} % is {g['network']} ({100 * g['_test']:.1f} %), at "
            f"{g['_cost'] / m['_cost']:.1f}× the cost per epoch.\n"
        )
    return text


#: a column of ``ray_smoke.csv`` -> the row label the scaling page shows (book/scaling.md
#: explains the rows by these names)
RAY_ROWS: dict[str, str] = {
    "parallel_jobs": "parallel jobs",
    "jobs": "jobs",
    "reps": "repetitions",
    "startup_s": "startup (s)",
    "wall_s": "wall time, median (s)",
    "wall_min_s": "wall time, fastest (s)",
    "wall_max_s": "wall time, slowest (s)",
    "jobs_per_min": "jobs per minute",
    "speedup_vs_serial": "speed-up over serial",
    "rerun_s": "rerun (s)",
    "retried": "tasks retried",
    "same_as_serial": "same results as serial",
    "cpus": "CPU cores",
    "load_1min": "load average (1 min)",
}


def ray_row_name(column: str) -> str:
    """The row label of a ``ray_smoke.csv`` column: :data:`RAY_ROWS`, else the name in
    words (``queue_wait_s`` -> ``"queue wait (s)"``), never a code name."""
    if column in RAY_ROWS:
        return RAY_ROWS[column]
    words = column.removesuffix("_s").replace("_", " ")
    return f"{words} (s)" if column.endswith("_s") and words else words


def ray_smoke_table(results: Path) -> str:
    """``results/scaling/ray_smoke.csv`` (``benchmarks/bench_ray.py``) as a Markdown table
    with one column per executor and one row per measured quantity, labelled for readers
    (:func:`ray_row_name`): fifteen columns side by side do not fit the book's text
    column, five do."""
    frame = _csv(results / "ray_smoke.csv")
    if frame.empty or "executor" not in frame:
        return "*The Ray benchmark has not been run yet (`benchmarks/bench_ray.py`).*\n"
    t = frame.set_index("executor").T

    def cell(v: object) -> str:
        return str(v).replace("|", "\\|")

    head = "| | " + " | ".join(map(cell, t.columns)) + " |\n|---|" + "---|" * len(t.columns) + "\n"
    body = "".join(f"| {cell(ray_row_name(str(name)))} | " + " | ".join(map(cell, row)) + " |\n"
                   for name, row in zip(t.index, t.to_numpy(), strict=True))  # fmt: skip
    return head + body


def paper_cost_table(results: Path) -> str:
    """The one-GPU hours of the `paper` profile's grids from ``paper_grid_hours.csv``
    (written by ``benchmarks/bench_overheads.py``, the table the scaling page shows in
    full): one row per grid, its job count and the hours with each checkpoint cadence.
    The rerun page quotes it, so the two pages give the same costs."""
    frame = _csv(results / "paper_grid_hours.csv")
    if frame.empty or not {"grid", "jobs", "checkpoints", "gpus"} <= set(frame.columns):
        return "*The cost model has not been run yet (`benchmarks/bench_overheads.py`).*\n"
    one = frame[frame["gpus"] == 1]
    cadences = list(dict.fromkeys(one["checkpoints"]))

    def hours(lo: float, hi: float) -> str:
        a, b = f"{lo:.3g}", f"{hi:.3g}"
        return f"{a} h" if a == b else f"{a}–{b} h"

    head = ("| grid (OrganAMNIST) | jobs | "
            + " | ".join(f"1 GPU, checkpoint {c}" for c in cadences) + " |")  # fmt: skip
    lines = [head, "|---|---|" + "---|" * len(cadences)]
    for grid, g in one.groupby("grid", sort=False):
        cells = []
        for c in cadences:
            r = g[g["checkpoints"] == c]
            cells.append(hours(float(r["hours_low"].iloc[0]), float(r["hours_high"].iloc[0]))
                         if len(r) else "—")  # fmt: skip
        lines.append(f"| {grid} | {int(g['jobs'].iloc[0]):,} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cpu_model() -> tuple[str, float]:
    m = _profile("cpu").model
    return (m.name, float(m.width))


def layers_page(package: Path = ROOT / "evalib") -> str:
    """The package's layers (:data:`evalib.layers.LAYERS`) drawn top-down with what each
    may import, and the modules each holds (read from the source tree)."""
    from evalib.layers import LAYERS, layer_of

    modules: dict[str, list[str]] = {layer.name: [] for layer in LAYERS}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__" or any(p.startswith("_") for p in parts[1:]):
            continue
        name = ".".join(parts)
        shown = path.relative_to(package).with_suffix("").as_posix()
        if layer_of(name) != "method":
            shown = shown.split("/", 1)[1]
        top = shown.split("/")[0]
        label = f"{top}/" if "/" in shown else shown
        if label not in modules[layer_of(name)]:
            modules[layer_of(name)].append(label)
    lines = ["```text"]
    for i, layer in enumerate(reversed(LAYERS)):
        folder = "evalib/" if layer.name == "method" else f"evalib/{layer.name}/"
        below = [lower.name for lower in LAYERS[: len(LAYERS) - 1 - i]]
        may = f"imports: {', '.join(below)}" if below else "imports: nothing of evalib above it"
        lines += [f"{folder:<17} {layer.holds}", f"{'':<17} {may}"]
        if i < len(LAYERS) - 1:
            lines += [f"{'':<8}│", f"{'':<8}▼"]
    lines += ["```", "", "| layer | modules |", "|---|---|"]
    for layer in LAYERS:
        folder = "`evalib/`" if layer.name == "method" else f"`evalib/{layer.name}/`"
        lines.append(f"| {folder} | {', '.join(f'`{m}`' for m in modules[layer.name])} |")
    return "\n".join(lines) + "\n"


def pages(root: Path = ROOT, profile: str | None = None) -> dict[str, str]:
    """Generated include files: name (under ``book/_generated/``) → Markdown."""
    name = book_profile(root, profile)
    results = root / "results" / name
    return {
        "findings.md": findings_page(name, results, tuple(findings_profiles(root, name)[1:])),
        "protocol_gap.md": gap_table(full_data_gaps(name, results, _datasets())),
        "candidates.md": candidates_table(root / "results" / "cpu", _cpu_model()),
        "ray_smoke.md": ray_smoke_table(root / "results" / "scaling"),
        "paper_cost.md": paper_cost_table(root / "results" / "scaling"),
        "layers.md": layers_page(root / "evalib"),
    }


def write(root: Path = ROOT, profile: str | None = None) -> list[Path]:
    """Write :func:`pages` under ``root/book/_generated``; only files whose text changed
    are rewritten (so Sphinx rereads only the pages that include them)."""
    out = root / GENERATED
    out.mkdir(parents=True, exist_ok=True)
    changed = []
    for fname, text in pages(root, profile).items():
        path = out / fname
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed.append(path)
    return changed


# ----------------------------------------------------------------------------- sphinx


def _on_config_inited(app, config) -> None:
    root = Path(app.srcdir)
    profile = config.evalib_book_profile or None
    write(root, profile)
    subs: Mapping[str, str] = dict(getattr(config, "myst_substitutions", None) or {})
    url = str((config.html_theme_options or {}).get("repository_url") or "")
    config.myst_substitutions = {**subs, **substitutions(root, profile, url)}


def setup(app):
    """Sphinx entry point: recompute the includes and substitutions before reading."""
    app.add_config_value("evalib_book_profile", None, "env")
    app.connect("config-inited", _on_config_inited)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default=None, help="default: the claims page's profile")
    parser.add_argument("--root", default=str(ROOT), help="repository root")
    args = parser.parse_args(argv)
    root = Path(args.root)
    for path in write(root, args.profile):
        print(f"wrote {path}")
    for key, value in substitutions(root, args.profile).items():
        print(f"{key} = {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
