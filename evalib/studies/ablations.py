"""Job builders and table helpers for the ablation notebooks (paper Fig. 3–5, claim 6).

Everything here is pure: builders turn a :class:`~evalib.runs.config.Profile` into
:class:`~evalib.runs.config.Job` lists (windows always come from the profile, scaled from
the paper's 200-epoch axis), table helpers reshape the result rows of
:func:`~evalib.runs.batch.run_jobs`, and the overlap helpers compare selections made
from score vectors, without training anything.

Notebooks:

* 03 variance ablation: :func:`variance_ablation_jobs`, :func:`paired_difference`.
* 04 dual windows: :func:`dual_window_jobs`, :func:`eva_variant_scores`,
  :func:`missing_effect`, :func:`drop_last_surrogate`.
* 05 window grid: :func:`grid_pairs`, :func:`window_grid_jobs`, :func:`grid_matrix`,
  :func:`best_on_validation`, :func:`window_scores`, :func:`overlap_matrix`.
* 06 cross-architecture: :func:`cross_architecture_jobs`, :func:`architecture_info`.

Accuracies in summaries are percentages; rates stay fractions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from evalib.errors import EvalibError
from evalib.runs.config import ModelSpec, Profile, SurrogateConfig, get_profile
from evalib.scores import get_method
from evalib.scores.windows import Window
from evalib.studies.labels import (
    budget_label,
    fmt_number,
    fmt_pair,
    fmt_window,
    model_label,
    protocol_label,
    rank,
    short,
)
from evalib.studies.stats import groupby_summary

#: protocol name -> result column. ``paper``: best validation accuracy over the periodic
#: evaluations (what the official code reports); ``clean``: test accuracy at the last epoch.
PROTOCOLS: dict[str, str] = {"paper": "paper_val_acc", "clean": "clean_test_acc"}
SINGLE = ("exp_s", "var_s")
DUAL = ("exp_d", "var_d", "eva", "eva_paper", "eva_official")

Spec = tuple[str, dict[str, Any]]


# ----------------------------------------------------------------------------- windows


def grid_pairs(windows: Iterable[Sequence[int]]) -> list[tuple[Window, Window]]:
    """Every ordered, non-overlapping pair ``(early, late)`` with early end ≤ late start.

    Windows are sorted first (by start, then end); duplicates are dropped.
    """
    ws = sorted({(int(a), int(b)) for a, b in windows})
    return [(e, lt) for i, e in enumerate(ws) for lt in ws[i + 1 :] if e[1] <= lt[0]]


# ----------------------------------------------------------------------------- job builders


def drop_last_surrogate(cfg: SurrogateConfig) -> SurrogateConfig:
    """``cfg`` recorded with a drop-last loader, as the official code does: each epoch
    skips the last partial batch, so some samples have unseen epochs."""
    return replace(cfg, recipe=replace(cfg.recipe, drop_last=True))


def cross_models(profile: Profile) -> list[ModelSpec]:
    """The surrogate's model first, then the profile's ``cross_models`` (no duplicates)."""
    return list(dict.fromkeys((profile.model, *profile.cross_models)))


# ----------------------------------------------------------------------------- labelling


def _window_param(params: Mapping[str, Any], method: str, name: str) -> Window | None:
    value = params.get(name, get_method(method).defaults.get(name))
    if value is None:
        return None
    a, b = value
    return int(a), int(b)


def annotate(
    table: pd.DataFrame, named_windows: Mapping[str, Sequence[int]] | None = None
) -> pd.DataFrame:
    """A copy of a results table with columns describing each row's selection.

    Adds ``early`` / ``late`` / ``window`` (tuples or None), ``kind`` ("single", "dual"
    or "" for other methods), ``score`` ("variance" / "expectation" / ""), ``windows``
    (e.g. ``"[0, 10) + [100, 110)"``), ``role`` (the name from ``named_windows`` a single
    window matches, ``"early+late"`` for the named pair, else the window text),
    ``arm`` (e.g. ``"VAR-S [0, 10)"``) and ``model_label``. Params may hold lists (as
    read back from JSON) or tuples.
    """
    named = {(int(a), int(b)): k for k, (a, b) in (named_windows or {}).items()}
    rows = []
    for _, r in table.iterrows():
        method = r["method"]
        params = r.get("params") if isinstance(r.get("params"), Mapping) else {}
        win = early = late = None
        if method in SINGLE:
            win = _window_param(params, method, "window")
            kind, windows = "single", fmt_window(win)
            role = named.get(win, windows)
        elif method in DUAL:
            early = _window_param(params, method, "early")
            late = _window_param(params, method, "late")
            kind, windows = "dual", fmt_pair(early, late)
            role = f"{named[early]}+{named[late]}" if early in named and late in named else windows
        else:
            kind = windows = role = ""
        score = (
            "variance"
            if method.startswith("var")
            else ("expectation" if method.startswith("exp") else "")
        )
        official = method == "eva" and params.get("variant") == "official"
        name = short("eva_official" if official else method)
        arm = f"{name} {role}" if role else name
        rows.append(
            {
                "window": win,
                "early": early,
                "late": late,
                "kind": kind,
                "score": score,
                "windows": windows,
                "role": role,
                "arm": arm,
            }
        )
    out = table.copy().reset_index(drop=True)
    extra = pd.DataFrame(rows, columns=list(rows[0]) if rows else ["arm"])
    for col in extra.columns:
        out[col] = extra[col].to_numpy() if len(extra) else pd.Series(dtype=object)
    if {"model", "width"} <= set(out.columns):
        out["model_label"] = [
            model_label(m, w) for m, w in zip(out["model"], out["width"], strict=True)
        ]
    return out


# ----------------------------------------------------------------------------- summaries


def summarize_protocols(
    table: pd.DataFrame,
    by: Sequence[str] = ("method", "rate"),
    orders: Mapping[str, Sequence[Any]] | None = None,
) -> pd.DataFrame:
    """:func:`~evalib.studies.stats.groupby_summary` for both protocols, stacked (paper first).

    Columns: ``*by, protocol, metric, mean, std, count, ci95`` (accuracy in %). Within a
    protocol rows are sorted by ``by`` in that order; methods follow
    :data:`evalib.studies.labels.ORDER` and ``orders`` gives the order of values of other columns
    (e.g. ``{"model_label": [...]}``; values not listed go last).
    """
    parts = []
    for protocol, metric in PROTOCOLS.items():
        s = groupby_summary(table, metric=metric, by=list(by))
        s.insert(len(by), "protocol", protocol)
        s.insert(len(by) + 1, "metric", metric)
        parts.append(order_rows(s, by, orders))
    return pd.concat(parts, ignore_index=True)


def order_rows(
    frame: pd.DataFrame, by: Sequence[str], orders: Mapping[str, Sequence[Any]] | None = None
) -> pd.DataFrame:
    """``frame`` with rows sorted by the columns ``by`` in turn, stably: ``method`` in
    :data:`evalib.studies.labels.ORDER`, columns named in ``orders`` in the listed order (unlisted
    values last), others by value."""
    orders = dict(orders or {})
    keys = [c for c in by if c in frame.columns]
    tmp = frame.copy()
    sort = []
    for i, c in enumerate(keys):
        if c == "method" and c not in orders:
            tmp[f"_k{i}"] = tmp[c].map(rank)
        elif c in orders:
            pos = {v: j for j, v in enumerate(orders[c])}
            tmp[f"_k{i}"] = tmp[c].map(lambda v, r=pos: r.get(v, len(r)))
        else:
            tmp[f"_k{i}"] = tmp[c]
        sort.append(f"_k{i}")
    if sort:
        tmp = tmp.sort_values(sort, kind="stable")
    return tmp.drop(columns=sort).reset_index(drop=True)


def long_by_protocol(table: pd.DataFrame) -> pd.DataFrame:
    """One row per job and protocol, for plotting raw runs with seaborn.

    Adds ``protocol`` (paper / clean), ``protocol_label``, ``accuracy`` (%),
    ``rate_pct`` (selection rate in %, e.g. 5.0) and ``rate_label`` (``"5"``, a
    categorical in rate order) to the columns of ``table``.
    """
    parts = []
    for protocol, metric in PROTOCOLS.items():
        part = table.copy()
        part["protocol"] = protocol
        part["protocol_label"] = protocol_label(protocol)
        part["accuracy"] = 100 * part[metric].astype(float)
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out["rate_pct"] = (100 * out["rate"].astype(float)).round(6)
    labels = [f"{x:g}" for x in sorted(out["rate_pct"].unique())]
    out["rate_label"] = pd.Categorical([f"{x:g}" for x in out["rate_pct"]], categories=labels)
    return out


def _select(table: pd.DataFrame, where: Mapping[str, Any]) -> pd.DataFrame:
    mask = np.ones(len(table), bool)
    for col, value in where.items():
        mask &= (table[col] == value).to_numpy()
    return table[mask]


def paired_rows(
    table: pd.DataFrame,
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    by: Sequence[str] = ("rate",),
    name: str | None = None,
) -> pd.DataFrame:
    """Seed-paired differences A − B, one row per ``(*by, seed)`` and protocol.

    ``a`` and ``b`` pick rows by column values (e.g. ``{"method": "var_s"}``); rows are
    paired on ``(*by, seed)`` (several rows of one side in a cell are averaged), and only
    cells present on both sides count. Columns: ``comparison, *by, seed, protocol,
    metric, a, b, diff`` (accuracies and difference in %).
    """
    keys = [*by, "seed"]
    cols = ["comparison", *keys, "protocol", "metric", "a", "b", "diff"]
    out = []
    for protocol, metric in PROTOCOLS.items():
        ta = _select(table, a).groupby(keys)[metric].mean().rename("a")
        tb = _select(table, b).groupby(keys)[metric].mean().rename("b")
        both = pd.concat([ta, tb], axis=1, join="inner").reset_index()
        both[["a", "b"]] *= 100
        both["diff"] = both["a"] - both["b"]
        both["comparison"] = name or f"{dict(a)} − {dict(b)}"
        both["protocol"], both["metric"] = protocol, metric
        out.append(both[cols])
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=cols)


def paired_difference(
    table: pd.DataFrame,
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    by: Sequence[str] = ("rate",),
    name: str | None = None,
) -> pd.DataFrame:
    """Mean seed-paired difference A − B (accuracy points) for both protocols.

    Pairing as in :func:`paired_rows`. Columns: ``comparison, *by, protocol, metric,
    mean_a, mean_b, diff, std, count, ci95`` where ``diff`` is the mean of the paired
    differences, ``std`` their standard deviation and ``ci95`` the 95 % t-interval
    half-width of ``diff`` (NaN with one seed).
    """
    from scipy import stats

    cols = ["comparison", *by, "protocol", "metric", "mean_a", "mean_b", "diff", "std",
            "count", "ci95"]  # fmt: skip
    rows = paired_rows(table, a, b, by, name)
    if rows.empty:
        return pd.DataFrame(columns=cols)
    g = rows.groupby(["comparison", *by, "protocol", "metric"], sort=False)
    agg = g.agg(mean_a=("a", "mean"), mean_b=("b", "mean"), diff=("diff", "mean"),
                std=("diff", "std"), count=("diff", "count")).reset_index()  # fmt: skip
    t = agg["count"].map(lambda n: stats.t.ppf(0.975, n - 1) if n > 1 else math.nan)
    agg["ci95"] = t * agg["std"] / np.sqrt(agg["count"])
    return agg[cols]


def describe_differences(
    diff: pd.DataFrame, by: Sequence[str] = ("rate",), protocol: str = "clean"
) -> str:
    """A Markdown list, one item per comparison of a :func:`paired_difference` frame:
    its mean difference (points) ± 95 % CI half-width per ``by`` cell, and seed count.

    ``by`` cells are shown as ``rate`` → "5 %", other columns as their value, joined
    by " · ". Empty string when the frame has no row for ``protocol``.
    """
    d = diff[diff["protocol"] == protocol]
    lines = []
    for name, g in d.groupby("comparison", sort=False):
        parts = []
        for _, r in g.iterrows():
            cell = " · ".join(f"{100 * float(r[c]):g} %" if c == "rate" else
                              f"the {budget_label(r[c])}" if c == "budget" else str(r[c])
                              for c in by)  # fmt: skip
            ci = "" if pd.isna(r["ci95"]) else f" ± {fmt_number(r['ci95'], 1)}"
            parts.append(f"{fmt_number(r['diff'], 1, sign=True)}{ci} at {cell}")
        seeds = sorted({int(n) for n in g["count"]})
        n = "/".join(map(str, seeds))
        lines.append(f"- **{name}**: {'; '.join(parts)} ({n} seed{'s' if seeds != [1] else ''})")
    return "\n".join(lines)


def grid_matrix(
    table: pd.DataFrame, metric: str, rate: float, windows: Sequence[Window] | None = None
) -> pd.DataFrame:
    """Fig. 5 heatmap data: mean ``metric`` (%) over seeds, rows = early window, columns =
    late window; cell (e, l) is VAR-D on (e, l), the diagonal (w, w) is VAR-S on w, cells
    that are not an ordered non-overlapping pair are NaN.

    ``table`` must be :func:`annotate`-d. Index and columns are window labels ``"[a, b)"``
    of ``windows`` (default: every window that occurs in the table), in epoch order.
    """
    t = table[np.isclose(table["rate"].astype(float), float(rate))]
    if windows is None:
        found = set(t["window"].dropna()) | set(t["early"].dropna()) | set(t["late"].dropna())
        windows = sorted(found)
    labels = [fmt_window(w) for w in sorted(windows)]
    mat = pd.DataFrame(np.nan, index=pd.Index(labels, name="early window"),
                       columns=pd.Index(labels, name="late window"))  # fmt: skip
    single = t[t["method"] == "var_s"].groupby("windows")[metric].mean()
    for w, v in single.items():
        if w in mat.index:
            mat.loc[w, w] = 100 * v
    dual = t[t["method"] == "var_d"]
    for _, g in dual.groupby("windows"):
        ei, li = fmt_window(g["early"].iloc[0]), fmt_window(g["late"].iloc[0])
        if ei in mat.index and li in mat.columns:
            mat.loc[ei, li] = 100 * g[metric].mean()
    return mat


def best_on_validation(
    table: pd.DataFrame,
    by: Sequence[str] = ("rate",),
    arm: str = "arm",
    select: str = PROTOCOLS["paper"],
    report: str = PROTOCOLS["clean"],
) -> pd.DataFrame:
    """Per group, the arm chosen on ``select`` (validation) vs the arm best on ``report``.

    Means over seeds first. Columns: ``*by, n_arms, chosen_on_val, chosen_val,
    chosen_test, best_on_test, best_test, optimism`` (%, ``optimism = best_test −
    chosen_test`` ≥ 0: how much a reported number gains by tuning on the reported split).
    Ties go to the arm that comes first in sort order.
    """
    means = table.groupby([*by, arm])[[select, report]].mean().reset_index()
    rows = []
    for key, g in means.groupby(list(by)):
        g = g.sort_values(arm, kind="stable")
        pick = g.loc[g[select].idxmax()]
        top = g.loc[g[report].idxmax()]
        key = key if isinstance(key, tuple) else (key,)
        rows.append(
            {
                **dict(zip(by, key, strict=True)),
                "n_arms": len(g),
                "chosen_on_val": pick[arm],
                "chosen_val": 100 * pick[select],
                "chosen_test": 100 * pick[report],
                "best_on_test": top[arm],
                "best_test": 100 * top[report],
                "optimism": 100 * (top[report] - pick[report]),
            }
        )
    return pd.DataFrame(rows)


def wide(
    summary: pd.DataFrame, index: str | Sequence[str], columns: str, values: str = "mean"
) -> pd.DataFrame:
    """Pivot a summary (one value per cell) to a wide table; raises on duplicate cells."""
    idx = [index] if isinstance(index, str) else list(index)
    if summary.duplicated([*idx, columns]).any():
        raise EvalibError(f"more than one row per ({', '.join(idx)}, {columns}) cell")
    out = summary.pivot(index=idx, columns=columns, values=values)
    rows = summary[idx].drop_duplicates()
    order = pd.MultiIndex.from_frame(rows) if len(idx) > 1 else pd.Index(rows[idx[0]])
    return out.reindex(index=order, columns=pd.unique(summary[columns]))


# ----------------------------------------------------------------------------- models


def paper_counterpart(name: str, paper: Profile | None = None) -> str | None:
    """The paper-profile model of the same family (``resnet18`` -> ``resnet50`` among the
    cross models), or None when the family has no counterpart (e.g. ``convnet``)."""
    paper = paper or get_profile("paper")
    fam = re.match(r"[a-z]+", name)
    for m in paper.cross_models:
        other = re.match(r"[a-z]+", m.name)
        if fam and other and fam.group() == other.group():
            return m.name
    return None


def architecture_info(
    profile: Profile, n_channels: int | None = None, n_classes: int | None = None
) -> pd.DataFrame:
    """The networks of the cross-architecture experiment at ``profile``.

    Columns: ``role`` ("surrogate" or "transfer"), ``model``, ``width``, ``model_label``,
    ``paper_model`` (what the paper trains in that place), ``narrow`` (True when it is a
    thinner or different network than the paper's), and ``n_params`` when
    ``n_channels`` and ``n_classes`` are given (builds each model once).
    """
    paper = get_profile("paper")
    rows = []
    for m in cross_models(profile):
        surrogate = m == profile.model
        paper_model = paper.model.name if surrogate else paper_counterpart(m.name, paper)
        row = {
            "role": "surrogate" if surrogate else "transfer",
            "model": m.name,
            "width": m.width,
            "model_label": model_label(m.name, m.width),
            "paper_model": paper_model,
            "narrow": bool(m.width < 1.0 or m.name != paper_model),
        }
        if n_channels is not None and n_classes is not None:
            from evalib.models import build_model, count_parameters

            row["n_params"] = count_parameters(build_model(m.name, n_channels, n_classes, m.width))
        rows.append(row)
    return pd.DataFrame(rows)
