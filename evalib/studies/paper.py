"""The numbers the EVA paper reports (Table 1), for side-by-side tables.

Source: Hong et al., ACM MM 2024, Table 1: test-set accuracy claimed in the paper, but
measured on the validation split by the official code (see the protocol page). Values
are percentages, mean and std over 3 seeds, ResNet-18, 200 epochs.
"""

from __future__ import annotations

from importlib.resources import files

import pandas as pd

from evalib.studies import labels

#: Table 1's methods, in the paper's order (display names: :mod:`evalib.studies.labels`)
TABLE1_METHODS = ("random", "forgetting", "entropy", "el2n", "aum", "ccs", "eva")


def table1() -> pd.DataFrame:
    """Columns dataset, method, rate (fraction), mean, std (accuracy in %)."""
    with files("evalib.studies").joinpath("paper_table1.csv").open() as fh:
        return pd.read_csv(fh)


#: Our arms whose numbers the paper's Table 1 reports under another name.
PAPER_NAME = {"eva_tuned": "eva", "eva_published": "eva"}


def side_by_side(ours: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Join our summary (method, rate, mean, std, count, ci95) with the paper's numbers
    (both EVA arms face the paper's EVA, whose windows were tuned per rate).

    Returns columns method, rate, paper_mean, paper_std, ours_mean, ours_std, ours_ci95,
    n_seeds, diff (ours − paper, points). Rows without a paper number keep NaN there.
    """
    paper = table1().query("dataset == @dataset").drop(columns="dataset")
    paper = paper.rename(columns={"mean": "paper_mean", "std": "paper_std", "method": "_paper"})
    mine = ours.rename(
        columns={"mean": "ours_mean", "std": "ours_std", "ci95": "ours_ci95", "count": "n_seeds"}
    )
    mine = mine.assign(_paper=mine["method"].map(lambda m: PAPER_NAME.get(m, m)))
    out = mine.merge(paper, on=["_paper", "rate"], how="left")
    out["diff"] = out["ours_mean"] - out["paper_mean"]
    cols = ["method", "rate", "paper_mean", "paper_std", "ours_mean", "ours_std", "ours_ci95",
            "n_seeds", "diff"]  # fmt: skip
    out = out.assign(_o=out["method"].map(labels.rank)).sort_values(["_o", "rate"], kind="stable")
    return out[cols].reset_index(drop=True)


def eva_gaps(table: pd.DataFrame) -> pd.DataFrame:
    """Per rate of a :func:`side_by_side` table: EVA − Random and EVA − the best other
    method (our means, points). EVA is the tuned arm where there is one, else the
    published-window arm. Columns rate, eva_arm, eva_minus_random, best_other,
    eva_minus_best_other."""
    wide = table.query("method != 'full'").pivot_table(
        index="rate", columns="method", values="ours_mean"
    )
    eva = "eva_tuned" if "eva_tuned" in wide else "eva_published"
    out = pd.DataFrame({"eva_arm": eva, "eva_minus_random": wide[eva] - wide["random"]})
    others = [m for m in wide.columns if not str(m).startswith("eva")]
    out["best_other"] = wide[others].idxmax(axis=1)
    out["eva_minus_best_other"] = wide[eva] - wide[others].max(axis=1)
    return out.reset_index()
