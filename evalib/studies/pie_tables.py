"""The PIE page's tables and verdicts, read from its rows (notebook 07).

Pure functions of the rows that :func:`evalib.runs.batch.run_jobs` returns for the jobs of
:func:`evalib.studies.grids.pie_prune` (the ``pie:prune`` task rows, :class:`PIEResult`) and of
:func:`evalib.studies.grids.pie_trainings` (coreset and emphasis job rows, labelled by
:func:`evalib.studies.grids.page_table`); nothing here trains. Accuracies in tables are in %,
except in :func:`coreset_runs` (fractions, as :func:`evalib.book.lessons.pruning_identified`
reads them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evalib.metrics import per_class_accuracy
from evalib.studies.pie import accuracy_report, htl_scores, pie_mask

METRICS = ("accuracy", "balanced_accuracy", "worst_class_accuracy")


@dataclass(frozen=True, eq=False)
class PIEResult:
    """Predictions of K dense networks and of their pruned copies, and the HTL scores.

    dense[split]: [K, N] int64; pruned[sparsity][split]: [K, N] int64 (split: "train",
    "test"); htl: [N] float64 on the training split; seeds: the dense networks' seeds;
    rows: their task rows."""

    sparsities: tuple[float, ...]
    dense: dict[str, np.ndarray]
    pruned: dict[float, dict[str, np.ndarray]]
    htl: np.ndarray
    seeds: tuple[int, ...] = ()
    rows: list[dict[str, Any]] = field(default_factory=list)

    @staticmethod
    def from_rows(rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> PIEResult | None:
        """The result of ``pie:prune`` rows (same sparsities; ordered by seed); None
        without rows."""
        recs = rows.to_dict("records") if isinstance(rows, pd.DataFrame) else list(rows)
        recs = sorted((dict(r) for r in recs), key=lambda r: int(r["seed"]))
        if not recs:
            return None
        sp = tuple(float(s) for s in recs[0]["sparsities"])
        dense = {
            k: np.asarray([r[f"dense_{k}"] for r in recs], np.int64) for k in ("train", "test")
        }
        by_split = {k: np.asarray([r[f"pruned_{k}"] for r in recs], np.int64) for k in ("train", "test")}  # fmt: skip
        pruned = {s: {k: a[:, i] for k, a in by_split.items()} for i, s in enumerate(sp)}
        htl = htl_from(dense["train"], [pruned[s]["train"] for s in sp])
        return PIEResult(sp, dense, pruned, htl, tuple(int(r["seed"]) for r in recs), recs)

    def pie_fraction(self, split: str = "train") -> dict[float, float]:
        """Fraction of PIEs per sparsity on ``split``."""
        return {
            s: float(pie_mask(self.dense[split], self.pruned[s][split]).mean())
            for s in self.sparsities
        }


def htl_from(dense_train: np.ndarray, pruned_train: Sequence[np.ndarray]) -> np.ndarray:
    """HTL scores of the training samples (see :func:`evalib.studies.pie.htl_scores`)."""
    return htl_scores(dense_train, list(pruned_train))


def _mean_report(preds: np.ndarray, labels: np.ndarray, n_classes: int) -> dict[str, float]:
    reps = [accuracy_report(p, labels, n_classes) for p in preds]
    return {k: 100 * float(np.mean([r[k] for r in reps])) for k in METRICS}


def pruning_table(res: PIEResult | None, y_test: np.ndarray, n_classes: int) -> pd.DataFrame:
    """Per sparsity (0 = dense): test accuracy, balanced and worst-class accuracy (mean
    over the K networks) and the PIE share of each split (%)."""
    cols = ["sparsity", *METRICS, "pie_train", "pie_test"]
    if res is None:
        return pd.DataFrame(columns=cols)
    pie_train, pie_test = res.pie_fraction("train"), res.pie_fraction("test")
    rows = [{"sparsity": 0.0, **_mean_report(res.dense["test"], y_test, n_classes),
             "pie_train": 0.0, "pie_test": 0.0}]  # fmt: skip
    rows += [{"sparsity": s, **_mean_report(res.pruned[s]["test"], y_test, n_classes),
              "pie_train": 100 * pie_train[s], "pie_test": 100 * pie_test[s]}
             for s in res.sparsities]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


def pruning_by_seed(res: PIEResult | None, y_test: np.ndarray, n_classes: int) -> pd.DataFrame:
    """Per dense network and sparsity (0 = dense): test and worst-class accuracy (%), as
    :func:`verdicts` reads them."""
    cols = ["seed", "sparsity", "accuracy", "worst_class_accuracy"]
    if res is None:
        return pd.DataFrame(columns=cols)
    items = [(0.0, res.dense["test"])] + [(s, res.pruned[s]["test"]) for s in res.sparsities]
    rows = []
    for sparsity, preds in items:
        for seed, p in zip(res.seeds, preds, strict=True):
            rep = accuracy_report(p, y_test, n_classes)
            rows.append({"seed": seed, "sparsity": sparsity, "accuracy": 100 * rep["accuracy"],
                         "worst_class_accuracy": 100 * rep["worst_class_accuracy"]})  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


def per_class_table(res: PIEResult | None, y_train: np.ndarray, y_test: np.ndarray,
                    names: Sequence[str]) -> pd.DataFrame:  # fmt: skip
    """Per class: its share of the training set (%), the dense and the pruned networks'
    test accuracy at the highest sparsity (%, mean over K), the drop, and the mean HTL of
    its training samples."""
    c = len(names)
    if res is None:
        return pd.DataFrame(columns=["class", "train_share", "dense_acc", "drop", "mean_htl"])
    s_max = max(res.sparsities)
    pc_dense = np.nanmean([per_class_accuracy(p, y_test, c) for p in res.dense["test"]], axis=0)
    pc_pruned = np.nanmean(
        [per_class_accuracy(p, y_test, c) for p in res.pruned[s_max]["test"]], axis=0
    )
    counts = np.bincount(np.asarray(y_train).reshape(-1), minlength=c)[:c]
    htl_mean = [res.htl[y_train == k].mean() if counts[k] else np.nan for k in range(c)]
    return pd.DataFrame({
        "class": list(names),
        "train_share": 100 * counts / counts.sum(),
        "dense_acc": 100 * pc_dense,
        f"pruned_acc_{s_max:g}": 100 * pc_pruned,
        "drop": 100 * (pc_dense - pc_pruned),
        "mean_htl": htl_mean,
    })  # fmt: skip


def _part(table: pd.DataFrame, prefix: str) -> pd.DataFrame:
    if table.empty or "arm" not in table:
        return pd.DataFrame()
    part = table[table["arm"].str.startswith(prefix)]
    return part.assign(arm=part["arm"].str.slice(len(prefix)))


def coreset_runs(table: pd.DataFrame) -> pd.DataFrame:
    """The coreset runs of a :func:`~evalib.studies.grids.page_table` of
    :func:`~evalib.studies.grids.pie_trainings`: method (pie, random, eva), rate, seed, test and
    worst-class accuracy of the final model (fractions), seconds."""
    cols = ["method", "rate", "seed", "accuracy", "worst_class_accuracy", "seconds"]
    part = _part(table, "coreset:")
    if part.empty:
        return pd.DataFrame(columns=cols)
    return pd.DataFrame({"method": part["arm"], "rate": part["rate"], "seed": part["seed"],
                         "accuracy": part["clean_test_acc"],
                         "worst_class_accuracy": part["test_worst_class_acc"],
                         "seconds": part["seconds"]}).reset_index(drop=True)  # fmt: skip


def coreset_summary(core: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds of the coreset runs' accuracies (%), per method and rate."""
    cols = ["accuracy", "worst_class_accuracy"]
    pct = core.assign(**{c: 100 * core[c].astype(float) for c in cols})
    out = pct.groupby(["method", "rate"])[cols].agg(["mean", "std"])
    out.columns = ["_".join(c) for c in out.columns]
    return out.reset_index()


def emphasis_runs(table: pd.DataFrame) -> pd.DataFrame:
    """The emphasis runs of a :func:`~evalib.studies.grids.page_table` of
    :func:`~evalib.studies.grids.pie_trainings`: variant ("uniform", "weighted λ=…"), seed,
    overall, balanced (mean per class) and worst-class test accuracy of the final model
    (%), per_class (fractions, None for a class without test image), seconds."""
    cols = ["variant", "seed", *METRICS, "per_class", "seconds"]
    part = _part(table, "emphasis:")
    if part.empty:
        return pd.DataFrame(columns=cols)
    per_class = [[None if v is None or v != v else float(v) for v in pc]
                 for pc in part["test_per_class"]]  # fmt: skip
    balanced = [np.mean([v for v in pc if v is not None]) for pc in per_class]
    return pd.DataFrame({"variant": part["arm"].to_numpy(), "seed": part["seed"].to_numpy(),
                         "accuracy": 100 * part["clean_test_acc"].to_numpy(float),
                         "balanced_accuracy": 100 * np.asarray(balanced, float),
                         "worst_class_accuracy": 100 * part["test_worst_class_acc"].to_numpy(float),
                         "per_class": per_class, "seconds": part["seconds"].to_numpy(float)},
                        columns=cols)  # fmt: skip


def emphasis_summary(emph: pd.DataFrame) -> pd.DataFrame:
    """Per variant: mean and std over seeds of each accuracy (%), and the mean's
    difference from ``uniform``."""
    out = emph.groupby("variant", sort=False)[list(METRICS)].agg(["mean", "std"])
    out.columns = ["_".join(c) for c in out.columns]
    out = out.reset_index()
    uniform = out[out["variant"] == "uniform"]
    for m in METRICS:
        ref = float(uniform[f"{m}_mean"].iloc[0]) if len(uniform) else np.nan
        out[f"{m}_vs_uniform"] = out[f"{m}_mean"] - ref
    return out


def emphasis_per_class(emph: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Per class (rows, index ``class``): test accuracy (%) of each variant (columns),
    mean over seeds."""
    pc = pd.DataFrame([[np.nan if v is None else 100 * v for v in r] for r in emph["per_class"]],
                      columns=list(names))  # fmt: skip
    pc["variant"] = list(emph["variant"])
    out = pc.groupby("variant", sort=False)[list(names)].mean().T
    out.index.name = "class"
    out.columns.name = None
    return out


def compute_parts(res: PIEResult | None, core: pd.DataFrame,
                  emph: pd.DataFrame) -> dict[str, tuple[int, float]]:  # fmt: skip
    """(runs, seconds) per part of the page, as recorded when computed, for
    :func:`evalib.runs.costs.write_compute`: the dense networks with their pruning, the HTL
    coresets and the weighted trainings. Random and EVA coresets and the uniform
    (full-data) trainings are Table 1's jobs and counted there."""
    rows = res.rows if res is not None else []
    htl = core[core["method"] == "pie"]
    weighted = emph[emph["variant"] != "uniform"]
    return {
        "dense and pruned networks": (
            len(rows),
            sum(r["dense_seconds"] + r["prune_seconds"] for r in rows),
        ),
        "HTL coreset trainings": (len(htl), float(htl["seconds"].sum())),
        "emphasis trainings": (len(weighted), float(weighted["seconds"].sum())),
    }


# ----------------------------------------------------------------------------- verdicts


def _seed_diffs(a: pd.DataFrame, b: pd.DataFrame, col: str) -> list[float]:
    """Differences a − b of ``col`` paired on the ``seed`` column."""
    m = a.set_index("seed")[col].to_frame("a").join(b.set_index("seed")[col].rename("b"))
    return list((m["a"] - m["b"]).dropna())


def verdicts(
    pruning: pd.DataFrame, emphasis: pd.DataFrame, coreset: pd.DataFrame
) -> list[dict[str, Any]]:
    """The PIE papers' claims, all accuracies in %:

    ``pruning`` (seed, sparsity, accuracy, worst_class_accuracy; sparsity 0 = dense):
    Hooker et al. — pruning costs the worst class more than overall accuracy (judged at
    the highest sparsity); ``emphasis`` (variant, seed, accuracy, worst_class_accuracy,
    with ``uniform``): Jaiswal et al. — up-weighting HTL samples gains accuracy, overall
    and in the worst class; ``coreset`` (method, rate, seed, accuracy): this book's
    question whether the highest-HTL coreset beats Random. Empty without pruning rows."""
    from evalib.studies.claims import paired_parts, related_claim

    if pruning.empty:
        return []
    rows = []
    s_max = float(pruning["sparsity"].max())
    dense = pruning[pruning["sparsity"] == 0]
    pruned = pruning[pruning["sparsity"] == s_max]
    drop = {c: _seed_diffs(dense, pruned, c) for c in ("accuracy", "worst_class_accuracy")}
    rows.append(related_claim(
        "pie_worst_class",
        {f"sparsity {s_max:g}": [w - o for w, o in zip(drop["worst_class_accuracy"],
                                                      drop["accuracy"], strict=True)]},
    ))  # fmt: skip
    uniform = emphasis[emphasis["variant"] == "uniform"]
    others = [v for v in dict.fromkeys(emphasis["variant"]) if v != "uniform"]
    for col, key in (("accuracy", "pie_emphasis_overall"),
                     ("worst_class_accuracy", "pie_emphasis_worst")):  # fmt: skip
        parts = {v: _seed_diffs(emphasis[emphasis["variant"] == v], uniform, col) for v in others}
        rows.append(related_claim(key, parts))
    parts = paired_parts(coreset, "rate", ["seed"], "pie", "random", "accuracy")
    rows.append(related_claim("pie_coreset", parts))
    return rows
