"""One claim under two profiles: whether the scale of a profile decides a verdict.

The claims page of each profile writes its comparisons (``results/<profile>/
claims_comparisons.csv``, one row per claim part, dataset, rate, budget and protocol). The
functions here put the rows of several profiles side by side and say, per claim, dataset
and budget, whether the verdict is the same under each of them. Pure: tables in, tables out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from evalib.runs.cache import read_json_checked
from evalib.runs.config import get_profile
from evalib.studies.stats import UNTESTED, combine

#: The claims that the `cpu200` profile can test (it runs EVA, VAR-S and Random, and on
#: OrganAMNIST, where `cpu` showed class balance to matter, class-balanced EVA and
#: stratified Random).
REGIME_CLAIMS = ("1", "1p", "4", "1cb")
#: The profiles the claims page sets side by side: the book's, then the paper's regime.
REGIME_PROFILES = ("cpu", "cpu200")
KEYS = ["dataset", "claim", "part", "rate", "budget"]


def side_by_side(
    comparisons: Mapping[str, pd.DataFrame],
    claims: Sequence[str] = REGIME_CLAIMS,
    protocol: str = "clean",
) -> pd.DataFrame:
    """The comparisons of ``claims`` under each profile (``{profile: comparisons table}``, in
    the order given), one row per part, dataset, rate and budget that every profile tested:
    columns ``dataset, claim, part, rate, budget`` and, per profile ``p``, ``diff <p>``,
    ``ci95 <p>``, ``n <p>``, ``verdict <p>`` (points; t-interval half-widths)."""
    merged = None
    for name, table in comparisons.items():
        if table.empty:
            return pd.DataFrame(columns=KEYS)
        part = table[(table["protocol"] == protocol) & table["claim"].astype(str).isin(claims)]
        part = part[part["verdict"] != UNTESTED].dropna(subset=["diff"])  # tested rows only
        part = part.assign(claim=part["claim"].astype(str))[
            [*KEYS, "diff", "ci95", "n_seeds", "verdict"]
        ].rename(
            columns={
                "diff": f"diff {name}",
                "ci95": f"ci95 {name}",
                "n_seeds": f"n {name}",
                "verdict": f"verdict {name}",
            }
        )
        merged = part if merged is None else merged.merge(part, on=KEYS, how="inner")
    if merged is None:
        return pd.DataFrame(columns=KEYS)
    order = {c: i for i, c in enumerate(claims)}
    return merged.sort_values(
        ["claim", "dataset", "budget", "rate"],
        key=lambda c: c.map(order) if c.name == "claim" else c,
    ).reset_index(drop=True)


def verdict_changes(table: pd.DataFrame, profiles: Sequence[str]) -> pd.DataFrame:
    """Per claim, dataset and budget of a :func:`side_by_side` table: the combined verdict
    under each profile (every part at every rate must hold; any contradicted part
    contradicts, :func:`evalib.studies.stats.combine`) and ``changed``: whether they differ."""
    if table.empty:
        return pd.DataFrame(columns=["claim", "dataset", "budget", *profiles, "changed"])
    rows = []
    for (claim, dataset, budget), group in table.groupby(
        ["claim", "dataset", "budget"], sort=False
    ):
        row = {"claim": claim, "dataset": dataset, "budget": budget}
        for p in profiles:
            row[p] = combine(list(group[f"verdict {p}"]))
        row["changed"] = len({row[p] for p in profiles}) > 1
        rows.append(row)
    return pd.DataFrame(rows)


def surrogate_history(results_root: Path, profile: str, dataset: str, seed: int) -> pd.DataFrame:
    """The training curve of a profile's surrogate from its committed record
    (``results/<profile>/surrogates/<key>.json``): per epoch ``epoch``, ``train_acc``
    (fraction, measured on the training forward passes), ``frac`` (epochs done / T) and
    ``profile``; empty when the record is absent."""
    cfg = get_profile(profile).surrogate_config(dataset, seed)
    record = read_json_checked(Path(results_root) / profile / "surrogates" / f"{cfg.key()}.json")
    if record is None:
        return pd.DataFrame(columns=["profile", "epoch", "train_acc", "frac"])
    history = pd.DataFrame(record["history"])
    total = cfg.recipe.epochs
    return pd.DataFrame(
        {
            "profile": profile,
            "epoch": history["epoch"].astype(int),
            "train_acc": history["train_acc"].astype(float),
            "frac": (history["epoch"].astype(int) + 1) / total,
        }
    )


def shares_by_profile(
    summaries: Mapping[str, pd.DataFrame], arm: str = "eva_tuned", reference: str = "random"
) -> pd.DataFrame:
    """The class shares of ``arm``'s coresets under each profile (``{profile:
    evalib.studies.composition.share_summary table}``, in order) beside ``reference``'s
    under the first, as one share-summary table whose ``arm`` is ``"<arm> · <profile>"``
    for the profiles' rows (the reference keeps its name). Rows of the rates every profile
    has; empty when a profile has no ``arm`` rows."""
    parts, rates = [], None
    for name, table in summaries.items():
        mine = table[table["arm"] == arm] if len(table) else table
        if mine.empty:
            return pd.DataFrame(columns=table.columns)
        got = set(mine["rate"].astype(float))
        rates = got if rates is None else rates & got
        parts.append(mine.assign(arm=f"{arm} · {name}"))
    first = next(iter(summaries.values()))
    parts.insert(0, first[first["arm"] == reference])
    out = pd.concat(parts, ignore_index=True)
    return out[out["rate"].astype(float).isin(rates or set())].reset_index(drop=True)
