"""Whether the paper's regime (a 200-epoch surrogate and its 190-pair window grid) changes
a verdict that the scaled-down `cpu` profile gave: claims 1, 1p and 4 (and the
class-balance check 1cb where both profiles ran it), side by side
(:mod:`evalib.studies.profiles`)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from evalib.book.lessons.text import pm, rate_text
from evalib.studies.labels import dataset_title, fmt_list, profile_title

CLAIM_TEXT = {
    "1": "EVA with windows tuned on validation beats Random",
    "1p": "EVA with the published windows beats Random",
    "4": "two windows beat one, VAR-D against VAR-S",
    "1cb": "class-balanced EVA beats stratified Random",
}
BUDGET_TEXT = {"epochs": "the paper's epochs", "floor": "a floor of optimiser steps"}


def regime(table: pd.DataFrame, changes: pd.DataFrame, profiles: Sequence[str]) -> str:
    """Markdown: per claim, whether its verdict under each of ``profiles`` is the same, with
    the differences behind it (a :func:`evalib.studies.profiles.side_by_side` table and its
    :func:`~evalib.studies.profiles.verdict_changes`)."""
    names = " and ".join(f"the {profile_title(p)} (`{p}`)" for p in profiles)
    if changes.empty:
        return (
            f"No claim has been judged under both {names} yet: the second profile's claims "
            "page has no comparison in its results."
        )
    lines = []
    for claim, group in changes.groupby("claim", sort=False):
        kept = group[~group["changed"]]
        moved = group[group["changed"]]
        what = CLAIM_TEXT.get(str(claim), f"claim {claim}")
        head = f"- **Claim {claim}** ({what}): "
        if moved.empty:
            words = sorted(set(kept[profiles[0]]))
            where = {1: "in its one setting", 2: "in both settings"}.get(
                len(kept), f"in all {len(kept)} settings"
            )  # a setting: a dataset under a budget
            head += f"the same verdict under both profiles {where} ({', '.join(words)})."
        else:
            parts = [
                f"{dataset_title(r.dataset)} under {BUDGET_TEXT.get(r.budget, r.budget)}: "
                + ", ".join(f"{getattr(r, p)} with the {profile_title(p)}" for p in profiles)
                for r in moved.itertuples()
            ]
            head += (
                f"the verdict changes in {len(moved)} of {len(group)} settings: "
                + "; ".join(parts) + "."
            )  # fmt: skip
        rows = table[table["claim"] == claim]
        diffs = [
            f"{dataset_title(r['dataset'])} {rate_text(r['rate'])}, "
            f"{BUDGET_TEXT.get(r['budget'], r['budget'])}: "
            + " vs ".join(f"{pm(r[f'diff {p}'], r[f'ci95 {p}'])}" for p in profiles)
            for _, r in rows.iterrows()
        ]
        if diffs:
            head += " Differences in accuracy points (" + " vs ".join(profiles) + "): "
            head += "; ".join(diffs) + "."
        lines.append(head)
    changed = bool(changes["changed"].any())
    lead = f"Under {names}: the longer surrogate and the paper's window grid " + (
        "change at least one verdict." if changed else "change no verdict."
    )
    return "\n".join([lead, "", *lines])


def regime_finding(
    changes: pd.DataFrame,
    profiles: Sequence[str],
    claims: Sequence[str] = ("1", "1p"),
    datasets: Sequence[str] = (),
) -> str:
    """One Markdown paragraph for the landing page: whether the second of ``profiles``
    changes the verdict of ``claims`` (a :func:`evalib.studies.profiles.verdict_changes`
    table), per dataset, naming the datasets of ``datasets`` not judged under both yet.
    ``""`` when nothing was judged under both."""
    if changes.empty or len(profiles) < 2:
        return ""
    rows = changes[changes["claim"].astype(str).isin(claims)]
    if rows.empty:
        return ""
    claims = [c for c in claims if (rows["claim"].astype(str) == c).any()]  # judged ones
    base, other = profiles[0], profiles[1]
    sentences = []
    for claim in claims:
        group = rows[rows["claim"].astype(str) == claim]
        if group.empty:
            continue
        what = CLAIM_TEXT.get(claim, f"claim {claim}")
        parts = []
        for dataset, g in group.groupby("dataset", sort=False):
            if g["changed"].any():
                moved = g[g["changed"]]
                parts.append(
                    f"on {dataset_title(dataset)} it changes under "
                    + " and ".join(
                        f"{BUDGET_TEXT.get(r.budget, r.budget)} ({getattr(r, base)} → "
                        f"{getattr(r, other)})"
                        for r in moved.itertuples()
                    )
                )
            else:
                words = sorted(set(g[base]))
                parts.append(f"on {dataset_title(dataset)} it stays {' / '.join(words)}")
        sentences.append(f"Claim {claim} ({what}): " + "; ".join(parts) + ".")
    judged = set(rows["dataset"])
    missing = [d for d in datasets if d not in judged]
    changed = bool(rows["changed"].any())
    moved = [c for c in claims if rows.loc[rows["claim"].astype(str) == c, "changed"].any()]
    kept = [c for c in claims if c not in moved]

    def named(cs: list[str]) -> str:
        return ("claim " if len(cs) == 1 else "claims ") + fmt_list(cs)

    lead = (
        f"**Does the paper's regime change this?** With the {profile_title(other)} and the "
        f"paper's window grid (`{other}`) instead of the `{base}` profile's scaled-down one, "
        + (f"the verdict on {named(moved)} changes somewhere"
           + (f"; on {named(kept)} it does not." if kept else ".")
           if changed else f"no verdict on {named(claims)} changes.")
    )  # fmt: skip
    tail = (
        f" {', '.join(dataset_title(d) for d in missing)}: not run under `{other}` yet."
        if missing
        else ""
    )
    return lead + " " + " ".join(sentences) + tail
