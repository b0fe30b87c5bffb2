"""Why a coreset wins or loses, from what is committed: the classes each coreset holds,
the per-class test accuracy of the models trained on it, whether any window of the
tuning grid could have beaten Random, and which arms chose identical coresets.

Pure functions of result tables (one row per job, as
:func:`evalib.studies.grids.labelled_results` gives them), of the coresets' sample ids
(``digest -> ids``, as :func:`evalib.runs.cache.load_selection` reads them) and of the
training labels; :func:`coreset_table` is the one reader, for the pages. Nothing is
trained here.

Shares are fractions (0–1); accuracies are fractions in the inputs and percentages
(0–100) in the summaries, as the pages print them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from evalib.runs.cache import Cache, load_selection
from evalib.runs.config import Profile

#: The columns that identify one coreset: the same arm, rate and seed is the same
#: selection under either training budget or network.
CORESET_KEYS = ("dataset", "arm", "rate", "seed")
#: Each tuning arm's reported arm (the name Table 1 and the ablation run it under) and the
#: reference it is judged against.
REPORTED_ARM = {"eva": "eva_tuned", "exp_s": "exp_s", "var_s": "var_s", "exp_d": "exp_d",
                "eva_cb": "eva_cb_tuned"}  # fmt: skip
REFERENCE_ARM = {"eva_cb": "random_strat"}  # the others: "random"


# ----------------------------------------------------------------------------- class shares


def class_shares(
    rows: pd.DataFrame,
    selections: Mapping[str, np.ndarray] | Callable[[str, str], np.ndarray],
    labels: Mapping[str, np.ndarray],
    class_names: Mapping[str, Sequence[str]],
    train_ids: Mapping[str, np.ndarray] | None = None,
    reference: str = "random",
    test_labels: Mapping[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Class composition of every coreset of ``rows``, beside the reference arm's
    (Random's) coreset of the same dataset, rate and seed and the training split's.

    ``rows``: job rows with columns dataset, arm, rate, seed and ``indices_sha256`` (rows
    of the same arm, rate and seed share one coreset; budget and network are ignored);
    ``selections``: digest -> sample ids [M], or a function (dataset, digest) -> ids;
    ``labels``: dataset -> labels [N] of the whole training split, indexed by sample id;
    ``class_names``: dataset -> C names; ``train_ids``: dataset -> the sample ids the
    jobs chose from (default: every id), for the training share; ``test_labels``:
    dataset -> test labels, for the test share.

    Returns one row per (dataset, arm, rate, seed, class): class, class_name, count, size
    (images in the coreset), share (count / size), train_share, test_share (NaN without
    test labels), and ``random_share`` (the reference's share on the same seed; NaN
    without one).
    """
    cols = ["dataset", "arm", "rate", "seed", "class", "class_name", "count", "size", "share",
            "train_share", "test_share", "random_share"]  # fmt: skip
    if rows is None or rows.empty:
        return pd.DataFrame(columns=cols)
    coresets = rows.dropna(subset=["indices_sha256"]).drop_duplicates(list(CORESET_KEYS))
    out = []
    for _, r in coresets.iterrows():
        flag = str(r["dataset"])
        digest = str(r["indices_sha256"])
        ids = selections(flag, digest) if callable(selections) else selections[digest]
        y = np.asarray(labels[flag])
        names = list(class_names[flag])
        pool = y if train_ids is None or flag not in train_ids else y[np.asarray(train_ids[flag])]
        train = np.bincount(pool, minlength=len(names)) / len(pool)
        tested = np.full(len(names), np.nan)
        if test_labels is not None and flag in test_labels:
            yt = np.asarray(test_labels[flag])
            tested = np.bincount(yt, minlength=len(names)) / len(yt)
        counts = np.bincount(y[np.asarray(ids, np.int64)], minlength=len(names))
        for c, name in enumerate(names):
            out.append({"dataset": flag, "arm": r["arm"], "rate": float(r["rate"]),
                        "seed": int(r["seed"]), "class": c, "class_name": name,
                        "count": int(counts[c]), "size": int(counts.sum()),
                        "share": counts[c] / max(1, counts.sum()),
                        "train_share": float(train[c]), "test_share": float(tested[c])})  # fmt: skip
    table = pd.DataFrame(out)
    ref = table.loc[table["arm"] == reference, ["dataset", "rate", "seed", "class", "share"]]
    table = table.merge(ref.rename(columns={"share": "random_share"}),
                        on=["dataset", "rate", "seed", "class"], how="left")  # fmt: skip
    return table[cols]


def share_summary(shares: pd.DataFrame) -> pd.DataFrame:
    """Per dataset, arm, rate and class, over seeds: images (min–max), share (mean, min,
    max), the training and test shares, Random's mean share and ``vs_random``: mean share /
    Random's mean share (NaN without Random)."""
    keys = ["dataset", "arm", "rate", "class", "class_name"]
    cols = [*keys, "seeds", "count_min", "count_max", "share", "share_min", "share_max",
            "train_share", "test_share", "random_share", "vs_random"]  # fmt: skip
    if shares is None or shares.empty:
        return pd.DataFrame(columns=cols)
    g = shares.groupby(keys, sort=True)
    out = g.agg(seeds=("seed", "nunique"), count_min=("count", "min"),
                count_max=("count", "max"), share=("share", "mean"),
                share_min=("share", "min"), share_max=("share", "max"),
                train_share=("train_share", "first"), test_share=("test_share", "first"),
                random_share=("random_share", "mean")).reset_index()  # fmt: skip
    out["vs_random"] = out["share"] / out["random_share"]
    return out[cols]


def top_classes_share(shares: pd.DataFrame, k: int = 3) -> pd.DataFrame:
    """Per dataset, arm, rate and seed: the share of the coreset held by its ``k`` largest
    classes (``top_share``) and by the training split's ``k`` largest (``train_top``,
    the same for every coreset of a dataset)."""
    cols = ["dataset", "arm", "rate", "seed", "top_share", "train_top"]
    if shares is None or shares.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for (flag, arm, rate, seed), g in shares.groupby(["dataset", "arm", "rate", "seed"]):
        rows.append({"dataset": flag, "arm": arm, "rate": rate, "seed": seed,
                     "top_share": float(np.sort(g["share"].to_numpy())[::-1][:k].sum()),
                     "train_top": float(np.sort(g["train_share"].to_numpy())[::-1][:k].sum())})  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


def share_table(
    summary: pd.DataFrame, arms: Sequence[str] = ("random", "eva_tuned")
) -> pd.DataFrame:
    """:func:`share_summary` as the pages show it: one row per rate and class with the
    training and test shares and, per arm, its mean share and its image count (min–max
    over seeds); shares in %."""
    if summary is None or summary.empty:
        return pd.DataFrame(columns=["rate", "class"])
    base = summary.drop_duplicates(["rate", "class"]).sort_values(["rate", "class"])
    out = pd.DataFrame({"rate": (100 * base["rate"]).map("{:g} %".format).to_numpy(),
                        "class": base["class_name"].to_numpy(),
                        "training %": (100 * base["train_share"]).round(1).to_numpy(),
                        "test %": (100 * base["test_share"]).round(1).to_numpy()})  # fmt: skip
    for arm in arms:
        a = summary[summary["arm"] == arm].set_index(["rate", "class"])
        a = a.reindex(list(zip(base["rate"], base["class"], strict=True)))
        out[f"{arm} %"] = (100 * a["share"]).round(1).to_numpy()
        out[f"{arm} images"] = [
            "" if pd.isna(lo) else f"{int(lo)}" if lo == hi else f"{int(lo)}–{int(hi)}"
            for lo, hi in zip(a["count_min"], a["count_max"], strict=True)
        ]
    return out


def own_rows(
    table: pd.DataFrame, profile: Profile, rates: Sequence[float] | None = None
) -> pd.DataFrame:
    """The rows of ``table`` trained with the profile's own network (not claim 6's
    others) at ``rates`` (default: the profile's tuning rates)."""
    if table is None or table.empty:
        return pd.DataFrame() if table is None else table
    rates = profile.tune_rates if rates is None else rates
    mine = (table["model"] == profile.model.name) & (table["width"] == profile.model.width)
    at = np.isclose(table["rate"].astype(float).to_numpy()[:, None], np.asarray(rates)[None, :])
    return table[mine.to_numpy() & at.any(axis=1)]


# ----------------------------------------------------------------------------- per class


def per_class_accuracy(
    rows: pd.DataFrame,
    class_names: Mapping[str, Sequence[str]],
    test_labels: Mapping[str, np.ndarray] | None = None,
) -> tuple[pd.DataFrame, int]:
    """Per-class test accuracy of every job row that records it (``test_per_class``, a list
    of C fractions or None): one row per (dataset, arm, rate, budget, seed, class) with
    class_name, acc (fraction; NaN where the test split has no image of the class) and
    test_share (the class's share of the test split, when ``test_labels`` are given);
    and how many rows lack the record (rows written before it existed)."""
    cols = ["dataset", "arm", "rate", "budget", "seed", "class", "class_name", "acc",
            "test_share"]  # fmt: skip
    if rows is None or rows.empty:
        return pd.DataFrame(columns=cols), 0
    has = (
        rows["test_per_class"].map(lambda v: isinstance(v, list | tuple | np.ndarray))
        if "test_per_class" in rows
        else pd.Series(False, index=rows.index)
    )
    out = []
    for _, r in rows[has].iterrows():
        flag = str(r["dataset"])
        names = list(class_names[flag])
        share = np.full(len(names), np.nan)
        if test_labels is not None and flag in test_labels:
            y = np.asarray(test_labels[flag])
            share = np.bincount(y, minlength=len(names)) / len(y)
        for c, acc in enumerate(r["test_per_class"]):
            out.append({"dataset": flag, "arm": r["arm"], "rate": float(r["rate"]),
                        "budget": r.get("budget", "epochs"), "seed": int(r["seed"]),
                        "class": c, "class_name": names[c],
                        "acc": np.nan if acc is None else float(acc),
                        "test_share": float(share[c])})  # fmt: skip
    return pd.DataFrame(out, columns=cols), int((~has).sum())


def accuracy_summary(acc: pd.DataFrame) -> pd.DataFrame:
    """Per dataset, arm, rate, budget and class, over seeds: accuracy in % (mean, min,
    max) and the number of seeds."""
    keys = ["dataset", "arm", "rate", "budget", "class", "class_name"]
    cols = [*keys, "seeds", "acc", "acc_min", "acc_max", "test_share"]
    if acc is None or acc.empty:
        return pd.DataFrame(columns=cols)
    g = acc.assign(pct=100 * acc["acc"]).groupby(keys, sort=True)
    out = g.agg(seeds=("seed", "nunique"), acc=("pct", "mean"), acc_min=("pct", "min"),
                acc_max=("pct", "max"), test_share=("test_share", "first")).reset_index()  # fmt: skip
    return out[cols]


def accuracy_table(summary: pd.DataFrame, arms: Sequence[str] = ("random", "eva_tuned"),
                   budget: str = "epochs") -> pd.DataFrame:  # fmt: skip
    """:func:`accuracy_summary` as the pages show it, under one ``budget``: one row per
    rate and class with the class's test share and, per arm, its test accuracy (mean and
    min–max over seeds, %)."""
    s = summary[summary["budget"] == budget] if len(summary) else summary
    if s.empty:
        return pd.DataFrame(columns=["rate", "class"])
    base = s.drop_duplicates(["rate", "class"]).sort_values(["rate", "class"])
    out = pd.DataFrame({"rate": (100 * base["rate"]).map("{:g} %".format).to_numpy(),
                        "class": base["class_name"].to_numpy(),
                        "test %": (100 * base["test_share"]).round(1).to_numpy()})  # fmt: skip
    for arm in arms:
        a = s[s["arm"] == arm].set_index(["rate", "class"])
        a = a.reindex(list(zip(base["rate"], base["class"], strict=True)))
        out[f"{arm} acc %"] = a["acc"].round(1).to_numpy()
        out[f"{arm} min–max"] = [
            "" if pd.isna(lo) else f"{lo:.0f}–{hi:.0f}"
            for lo, hi in zip(a["acc_min"], a["acc_max"], strict=True)
        ]
    return out


# ----------------------------------------------------------------------------- the grid


def grid_robustness(
    tuning: pd.DataFrame,
    reported: pd.DataFrame,
    metric: str = "clean_test_acc",
    budget: str = "epochs",
    references: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Could any window of the tuning grid have beaten Random? One row per (rate, arm) of
    the tuning grid.

    ``tuning``: :func:`evalib.studies.grids.tuning_table` (arm, rate, windows,
    final_val_acc, ``metric``, optional indices_sha256), one run per setting on the
    tuning seed; ``reported``: runs on the reported seeds (arm, rate, seed, budget,
    ``metric``), Random's and the tuned arms' (:data:`REPORTED_ARM`); ``references``:
    tuning arm -> the arm it is judged against (default :data:`REFERENCE_ARM`, else Random).

    Columns (accuracies in %): rate, arm, reference, settings (windows or pairs),
    distinct (distinct coresets among them; NaN without digests), ref_min, ref_max,
    ref_seeds (the reference's range over the reported seeds under ``budget``), chosen
    (windows picked by validation), chosen_val, chosen_test (on the tuning seed),
    chosen_reported (mean over the reported seeds of the tuned arm), best_windows and
    best_test (the best setting *by test*: an upper bound no method could use, since it
    reads the test split), median_test, beat_worst and beat_best (settings whose test
    accuracy is above the reference's worst / best reported seed).
    """
    refs = {**REFERENCE_ARM, **(references or {})}
    cols = ["rate", "arm", "reference", "settings", "distinct", "ref_min", "ref_max",
            "ref_seeds", "chosen", "chosen_val", "chosen_test", "chosen_reported",
            "best_windows", "best_test", "median_test", "beat_worst", "beat_best"]  # fmt: skip
    if tuning is None or tuning.empty:
        return pd.DataFrame(columns=cols)
    rep = reported if reported is not None else pd.DataFrame()
    if len(rep) and "budget" in rep:
        rep = rep[rep["budget"] == budget]
    rows = []
    for (arm, rate), g in tuning.groupby(["arm", "rate"], sort=True):
        ref_arm = refs.get(str(arm), "random")
        test = 100 * g[metric].astype(float)
        ref = pd.Series(dtype=float)
        mine = pd.Series(dtype=float)
        if len(rep):
            at = rep[np.isclose(rep["rate"].astype(float), float(rate))]
            ref = 100 * at.loc[at["arm"] == ref_arm].drop_duplicates("seed")[metric].astype(float)
            tuned = at.loc[at["arm"] == REPORTED_ARM.get(str(arm), str(arm))]
            mine = 100 * tuned.drop_duplicates("seed")[metric].astype(float)
        chosen = g.loc[g["final_val_acc"].idxmax()]  # ties: the first listed, as choose_windows
        best = g.loc[g[metric].idxmax()]
        distinct = (g["indices_sha256"].nunique() if "indices_sha256" in g
                    and g["indices_sha256"].notna().all() else np.nan)  # fmt: skip
        worst_ref = ref.min() if len(ref) else np.nan
        best_ref = ref.max() if len(ref) else np.nan
        rows.append({
            "rate": float(rate), "arm": str(arm), "reference": ref_arm, "settings": len(g),
            "distinct": distinct, "ref_min": worst_ref, "ref_max": best_ref,
            "ref_seeds": int(len(ref)), "chosen": chosen["windows"],
            "chosen_val": 100 * float(chosen["final_val_acc"]),
            "chosen_test": 100 * float(chosen[metric]),
            "chosen_reported": float(mine.mean()) if len(mine) else np.nan,
            "best_windows": best["windows"], "best_test": float(test.max()),
            "median_test": float(test.median()),
            "beat_worst": int((test > worst_ref).sum()) if len(ref) else np.nan,
            "beat_best": int((test > best_ref).sum()) if len(ref) else np.nan,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


def distinct_coresets(tuning: pd.DataFrame) -> pd.DataFrame:
    """Per arm and rate of a tuning table: settings (windows or pairs), distinct coresets
    among them (by digest) and ``shared``: settings whose coreset another setting also
    selected."""
    cols = ["arm", "rate", "settings", "distinct", "shared"]
    if tuning is None or tuning.empty or "indices_sha256" not in tuning:
        return pd.DataFrame(columns=cols)
    rows = []
    for (arm, rate), g in tuning.dropna(subset=["indices_sha256"]).groupby(["arm", "rate"]):
        counts = g["indices_sha256"].value_counts()
        rows.append({"arm": arm, "rate": float(rate), "settings": len(g),
                     "distinct": int(len(counts)),
                     "shared": int(counts[counts > 1].sum())})  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


# ----------------------------------------------------------------------------- reading


def coreset_table(
    profile: Profile,
    dataset: str,
    cache: Cache,
    rows: pd.DataFrame,
    data_root: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(:func:`class_shares` of ``rows``, :func:`per_class_accuracy` of ``rows`` with the
    test split's shares) for one dataset of ``profile``, reading the committed selections
    of ``cache`` and the labels of the profile's splits (nothing is trained)."""
    from evalib.runs.runner import load_data

    ds, train, ids, _, test = load_data(profile.data_spec(dataset), data_root)
    full = ds.split("train").labels.numpy()
    names = {dataset: ds.info.class_names}
    mine = rows[rows["dataset"] == dataset] if len(rows) else rows
    shares = class_shares(mine, lambda flag, digest: load_selection(cache, flag, digest),
                          {dataset: full}, names, {dataset: ids},
                          test_labels={dataset: test.labels.numpy()})  # fmt: skip
    acc, _ = per_class_accuracy(mine, names, {dataset: test.labels.numpy()})
    return shares, acc
