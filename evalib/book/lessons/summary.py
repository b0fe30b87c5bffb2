"""The claims page's summary (10)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from evalib.book.findings import category
from evalib.book.lessons.text import (
    _count,
    _has,
    names,
    pm,
    rate_text,
    seeds_text,
    word,
)
from evalib.book.lessons.why import identical_arms
from evalib.studies.claims import decisive
from evalib.studies.labels import dataset_title, model_title
from evalib.studies.stats import CONTRADICTED, HOLDS, INCONCLUSIVE, UNTESTED

# ----------------------------------------------------------------------------- 10 claims


def _worst(group: pd.DataFrame) -> str:
    """The comparison of a claim that argues most against it, as ``"part at 2 %: −17.9 ±
    2.3"``."""
    g = group.dropna(subset=["diff"])
    if g.empty:
        return ""
    r = g.loc[decisive(g)]  # the comparison that carries a contradiction, if one does
    where = str(r.get("part", "difference"))
    if isinstance(r.get("model"), str) and r.get("model"):
        where += f" on {model_title(r['model'])}"
    return f"{where} at {rate_text(r['rate'])}: {pm(r['diff'], r['ci95'])}"


def _claims_are(claims: Sequence[str], cat: str) -> str:
    """``"claims 2a and 3 **hold**"``, ``"claim 1 is **contradicted**"``."""
    many = len(claims) > 1
    if cat == HOLDS:
        verb = word("hold" if many else "holds")
    else:
        verb = f"{'are' if many else 'is'} {word(cat)}"
    return f"claim{'s' if many else ''} {names(list(claims))} {verb}"


def claims_summary(
    verdicts: pd.DataFrame,
    results: pd.DataFrame | None = None,
    coverage: pd.DataFrame | None = None,
) -> str:
    """One paragraph: the verdicts by dataset under the clean protocol (paper budget),
    the verdicts the paper's protocol or the step floor changes, the comparison that
    decides each contradicted claim, the seeds behind them, the comparisons whose arms
    selected identical coresets and what is still missing.

    ``verdicts``: :func:`evalib.studies.claims.summary` (dataset, protocol, budget, claim,
    verdict); ``results``: the comparisons (:func:`evalib.studies.claims.evaluate`);
    ``coverage``: jobs found and missing per dataset (column ``missing``)."""
    missing = ""
    if _has(coverage, ("missing",)):
        m = int(pd.to_numeric(coverage["missing"], errors="coerce").fillna(0).sum())
        if m:
            missing = (
                f" {m} of the runs the claims read are not in the results yet, so "
                "verdicts may still change."
            )
    if not _has(verdicts, ("dataset", "protocol", "claim", "verdict")):
        return (
            "No claim has been judged yet: none of the runs the claims read are in the "
            "results." + missing
        )
    v = verdicts.assign(cat=verdicts["verdict"].map(category))
    if "budget" not in v:
        v["budget"] = "epochs"
    main = v[v["budget"] == "epochs"] if (v["budget"] == "epochs").any() else v
    primary = "clean" if (main["protocol"] == "clean").any() else str(main["protocol"].iloc[0])
    heads = {
        "clean": "Under the clean protocol (test split, final epoch)",
        "paper": "Under the paper's protocol (validation split, best epoch)",
    }
    per = []
    for flag, g in main[main["protocol"] == primary].groupby("dataset", sort=False):
        by: dict[str, list[str]] = {}
        for _, r in g.iterrows():
            by.setdefault(r["cat"], []).append(str(r["claim"]))
        parts = [
            _claims_are(by[c], c)
            for c in (HOLDS, CONTRADICTED, INCONCLUSIVE, UNTESTED, "other")
            if c in by
        ]
        per.append(f"on {dataset_title(flag)} {names(parts)}")
    sentences = [f"{heads.get(primary, f'Under the {primary} protocol')}, {'; '.join(per)}."]

    def flips(a: pd.DataFrame, b: pd.DataFrame) -> list[str]:
        both = a.merge(b, on=["dataset", "claim"], suffixes=("", "_b"))
        return [
            f"claim {r['claim']} on {dataset_title(r['dataset'])} ({r['cat']} → {r['cat_b']})"
            for _, r in both.iterrows()
            if r["cat"] != r["cat_b"] and UNTESTED not in (r["cat"], r["cat_b"])
        ]

    for protocol in sorted(set(main["protocol"]) - {primary}):
        f = flips(main[main["protocol"] == primary], main[main["protocol"] == protocol])
        head = heads.get(protocol, f"Under the {protocol} protocol").replace("Under", "under")
        sentences.append(
            f"{head[0].upper() + head[1:]}, "
            + (
                f"{_count(len(f), 'verdict')} {'differs' if len(f) == 1 else 'differ'}: {names(f)}."
                if f
                else "no verdict differs."
            )
        )
    floor = v[(v["budget"] != "epochs") & (v["protocol"] == primary)]
    if len(floor) and (main["budget"] == "epochs").any():
        f = flips(main[main["protocol"] == primary], floor)
        sentences.append(
            "With the step floor, "
            + (
                f"{_count(len(f), 'verdict')} {'changes' if len(f) == 1 else 'change'}: {names(f)}."
                if f
                else "no verdict changes."
            )
        )
    if _has(results, ("dataset", "protocol", "claim", "diff", "ci95", "n_seeds", "kind")):
        res = results[results["protocol"] == primary]
        if "budget" in res:
            res = res[res["budget"] == "epochs"]
        decided = []
        against = main[(main["protocol"] == primary) & (main["cat"] == CONTRADICTED)]
        for _, r in against.iterrows():
            g = res[
                (res["dataset"] == r["dataset"]) & (res["claim"].astype(str) == str(r["claim"]))
            ]
            text = _worst(g)
            if text:
                decided.append(f"claim {r['claim']} on {dataset_title(r['dataset'])}, {text}")
        if decided:
            sentences.append(
                f"Most against each contradicted claim (points ± 95 % t-interval): "
                f"{'; '.join(decided)}."
            )
        n = pd.to_numeric(res["n_seeds"], errors="coerce")
        if (n > 0).any():
            sentences.append(f"Each comparison rests on {seeds_text(n[n > 0])}.")
        same = identical_arms(res)
        if same:
            sentences.append(same)
    return " ".join(sentences) + missing
