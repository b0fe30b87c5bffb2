"""DAD (Dynamic Average Dice) on a small segmentation task built from real MedMNIST images:
the study's tasks and tables (notebook 09).

He et al. ("Data-Centric Diet: Effective Multi-center Dataset Pruning for Medical Image
Segmentation") score each training image by its Dice between prediction and target,
recorded during training and averaged over a window of epochs with zero entries ignored
(DAD), and argue that gradient-norm scores (GraNd / EL2N), built for one label per
image, fail for dense labels. For single-label classification DAD collapses to the mean
true-class probability (see ``evalib.scores.baselines.dad``), so its claim needs a dense
task: mosaics of MedMNIST patches labelled per pixel, a tiny U-Net, soft Dice and pixel
EL2N (:mod:`evalib.studies.mosaics`, re-exported here).

The study is two kinds of :class:`~evalib.runs.tasks.Task`, cached by the one runner
(:func:`~evalib.runs.tasks.run_task`) under ``results/<profile>/jobs/`` and rerun by
``evalib rerun``:

* :class:`ScoringRun` (``segmentation:scoring``): trains the U-Net on every training
  mosaic, recording each mosaic's soft Dice and pixel EL2N per epoch; its row holds the
  full-data test Dice, the training history and, per mosaic, DAD, the early EL2N mean
  and the first epoch's Dice (rounded to 6 decimals; not the [T, N] arrays) with a
  digest of the scores (``scores_sha256``, what ``evalib rerun`` compares);
* :class:`Retrain` (``segmentation:retrain``): reads its scoring row from the cache,
  keeps the mosaics a rule picks (:func:`select_positions`) and trains a fresh U-Net on
  them for the same epochs; its row holds the test Dice.

:func:`evalib.studies.grids.segmentation` builds them from ``Profile.segmentation``
(:mod:`evalib.runs.study_config`); :func:`scores_table`, :func:`runs_table`,
:func:`pruning_summary` and :func:`verdicts` turn rows into the notebook's tables.

Why the U-Net has its own loop (:func:`train_segmentation`) and does not train through
:func:`evalib.train.train`: that loop is the classification recipe from end to end: one
label per image, a per-sample cross-entropy of one logit vector (the hook it offers is a
per-sample loss *weight*), SGD with Nesterov momentum and a cosine schedule, a recorder
that keeps the float16 log-softmax [T, N, C], accuracy in its history and evaluation, and
checkpoints keyed on that layout. The U-Net needs a per-pixel target, cross-entropy plus
(1 − soft Dice) as its loss, Adam at a constant rate, two scalars per mosaic and epoch
recorded from the dense softmax, and Dice of the argmax map as its evaluation. Sharing the
loop would take hooks for the loss, the optimiser, the recorder and the evaluation, four
of its five parts, and recording the full softmax instead is out of reach ([T, N, C, H,
W] is about 78 GB of float16 at the paper profile). The study prunes, it does not
reweight, so the loss-weight hook would go unused. The segmentation loop keeps the
trainer's conventions: seeded initialisation, a seeded batch order, data on the device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from evalib.errors import EvalibError
from evalib.runs.cache import indices_digest
from evalib.runs.config import array_digest
from evalib.runs.packing import JobSize
from evalib.runs.study_config import SegSettings
from evalib.runs.tasks import Task, run_task
from evalib.studies.mosaics import (
    METHODS,
    Mosaics,
    SegRun,
    dad_scores,
    el2n_scores,
    evaluate_dice,
    make_mosaics,
    select_positions,
    train_segmentation,
)

#: Seeds of the mosaics drawn from the training and the test split.
MOSAIC_SEEDS = (0, 1)
#: Columns of the pruning-run table (``seg_pruning_runs.csv``).
RUN_COLUMNS = ["method", "rate", "seed", "n_train", "test_dice", "test_soft_dice", "seconds"]
#: Decimals kept of the per-mosaic scores stored in a scoring row.
SCORE_DECIMALS = 6


# ----------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class ScoringRun(Task):
    """Train a U-Net (init and batch order seeded by ``seed``) on ``n_train`` mosaics of
    ``dataset``'s training split and score every mosaic: DAD over epochs ``dad_window``
    (None = all), pixel EL2N averaged over epochs [0, ``el2n_end``); test Dice on
    ``n_test`` mosaics of the test split. Only what changes the row is in the config
    (not the retrain rates and seeds)."""

    kind: ClassVar[str] = "segmentation:scoring"
    reproduced: ClassVar[tuple[str, ...]] = ("test_dice", "test_soft_dice", "scores_sha256")

    dataset: str
    n_train: int
    n_test: int
    grid: int
    width: float
    epochs: int
    batch_size: int
    lr: float
    el2n_end: int
    dad_window: tuple[int, int] | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.n_train, self.n_test, self.grid, self.epochs, self.batch_size) < 1:
            raise EvalibError(f"segmentation sizes must be ≥ 1: {self}")
        if not 1 <= self.el2n_end <= self.epochs:
            raise EvalibError(f"el2n_end must lie in [1, {self.epochs}], got {self.el2n_end}")

    @classmethod
    def of(cls, settings: SegSettings, dataset: str, seed: int = 0) -> ScoringRun:
        """The scoring run of a profile's segmentation ``settings``."""
        s = settings
        return cls(dataset, s.n_train, s.n_test, s.grid, s.width, s.epochs, s.batch_size,
                   s.lr, s.el2n_end, s.dad_window, seed)  # fmt: skip

    def mosaics(self, data_root: Any = None) -> tuple[Mosaics, Mosaics]:
        """(training, test) mosaics, drawn with :data:`MOSAIC_SEEDS`."""
        from evalib.data import load

        ds = load(self.dataset, data_root)
        c = ds.info.n_classes
        return (make_mosaics(ds.train, self.n_train, self.grid, MOSAIC_SEEDS[0], c),
                make_mosaics(ds.test, self.n_test, self.grid, MOSAIC_SEEDS[1], c))  # fmt: skip

    def train(self, data: Mosaics, seed: int, device: str | None, progress: bool) -> SegRun:
        return train_segmentation(data, self.epochs, self.width, self.batch_size, self.lr,
                                  seed, device, progress)  # fmt: skip

    def execute(self, cache, data_root, device, threads, progress) -> dict[str, Any]:
        train, test = self.mosaics(data_root)
        run = self.train(train, self.seed, device, progress)
        dad = _rounded(dad_scores(run.dice, self.dad_window))
        el2n = _rounded(el2n_scores(run.el2n, self.el2n_end))
        return {
            "method": "full",
            "rate": 1.0,
            "seed": self.seed,
            "n_train": len(train),
            **evaluate_dice(run.model, test),
            "dad": dad,
            "el2n": el2n,
            "scores_sha256": array_digest(np.asarray([dad, el2n], np.float64)),
            "first_epoch_dice": _rounded(run.dice[0]),
            "history": run.history,
            "device": _device(device),
        }

    def size(self) -> JobSize:
        return _size(self.n_train, self.grid, self.width)


@dataclass(frozen=True)
class Retrain(Task):
    """Keep the fraction ``rate`` of the training mosaics that ``method`` picks from the
    scores of ``scoring`` (one of :data:`METHODS`; ``random`` draws with ``seed``), train a
    fresh U-Net (seed ``seed``) on them for the scoring run's epochs, test it."""

    kind: ClassVar[str] = "segmentation:retrain"
    reproduced: ClassVar[tuple[str, ...]] = ("n_train", "subset_sha256", "test_dice",
                                             "test_soft_dice")  # fmt: skip

    scoring: ScoringRun
    method: str
    rate: float
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise EvalibError(f"unknown segmentation pruning method {self.method!r}; "
                              f"valid: {', '.join(METHODS)}")  # fmt: skip
        if not 0 < self.rate <= 1:
            raise EvalibError(f"a kept fraction must lie in (0, 1], got {self.rate}")

    @property
    def dataset(self) -> str:
        return self.scoring.dataset

    def positions(self, scores: dict[str, Any]) -> np.ndarray:
        """The kept positions, from the scoring row ``scores``."""
        dad, el2n = np.asarray(scores["dad"], np.float64), np.asarray(scores["el2n"], np.float64)
        return select_positions(self.method, self.rate, dad, el2n, self.seed)

    def execute(self, cache, data_root, device, threads, progress) -> dict[str, Any]:
        scores = run_task(self.scoring, cache, data_root, False, device, threads)
        train, test = self.scoring.mosaics(data_root)
        pos = self.positions(scores)
        run = self.scoring.train(train.subset(pos), self.seed, device, progress)
        return {
            "method": self.method,
            "rate": float(self.rate),
            "seed": self.seed,
            "n_train": int(pos.size),
            "subset_sha256": indices_digest(pos),
            **evaluate_dice(run.model, test),
            "device": _device(device),
        }

    def size(self) -> JobSize:
        n = max(1, int(np.ceil(self.rate * self.scoring.n_train)))
        return _size(n, self.scoring.grid, self.scoring.width)


TASKS: dict[str, type[Task]] = {ScoringRun.kind: ScoringRun, Retrain.kind: Retrain}


def _rounded(values: Any) -> list[float]:
    return [round(float(v), SCORE_DECIMALS) for v in np.asarray(values, np.float64)]


def _device(device: str | None) -> str:
    from evalib.devices import pick_device

    return str(pick_device(device))


def _size(n_mosaics: int, grid: int, width: float) -> JobSize:
    """Packing knows the classification networks only: a U-Net on ``n`` mosaics is sized
    as a ResNet-18 of the same width on their n·grid² patches (a rough stand-in)."""
    return JobSize(n_mosaics * grid * grid, "resnet18", width)


# ----------------------------------------------------------------------------- tables


def scores_table(scoring_row: dict[str, Any] | None) -> pd.DataFrame:
    """Per training mosaic: ``dad``, ``el2n``, ``first_epoch_dice`` (empty without a row)."""
    cols = ["dad", "el2n", "first_epoch_dice"]
    if scoring_row is None:
        return pd.DataFrame(columns=cols, dtype=float)
    return pd.DataFrame({c: scoring_row[c] for c in cols})


def runs_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The retrain rows in :data:`RUN_COLUMNS` (what ``seg_pruning_runs.csv`` holds)."""
    return rows.reindex(columns=RUN_COLUMNS).reset_index(drop=True)


def pruning_summary(runs: pd.DataFrame, full_dice: float | None) -> pd.DataFrame:
    """Per method and kept fraction: mean, std and count of the test Dice over seeds, and
    the mean minus Random's at the same fraction and minus the full-data Dice."""
    summary = (runs.groupby(["method", "rate"])["test_dice"].agg(["mean", "std", "count"])
               .reset_index())  # fmt: skip
    rand = summary[summary["method"] == "random"].set_index("rate")["mean"]
    summary["minus_random"] = summary["mean"] - summary["rate"].map(rand)
    summary["minus_full"] = summary["mean"] - (np.nan if full_dice is None else full_dice)
    return summary


def describe_full(scoring_row: dict[str, Any] | None) -> str:
    """One Markdown line on the full-data run (or that it is not in the results yet)."""
    if scoring_row is None:
        return "The scoring run is not in the results yet."
    r = scoring_row
    return (f"Full training set: test Dice **{r['test_dice']:.3f}** (argmax), soft Dice "
            f"{r['test_soft_dice']:.3f}; {r['seconds']:.0f} s when computed.")  # fmt: skip


# ----------------------------------------------------------------------------- verdicts

DAD_RULES = ("dad_hard", "dad_easy", "dad_ambiguous")


def _paired(runs: pd.DataFrame, a: str, b: str) -> dict[str, list[float]]:
    """Per kept fraction, the seed-paired test-Dice differences a − b (Dice × 100)."""
    from evalib.studies.claims import paired_parts

    return paired_parts(runs, "rate", ["seed"], a, b, "test_dice", scale=100)


def verdicts(runs: pd.DataFrame) -> list[dict[str, Any]]:
    """DAD's claims on the pruning runs (columns method, rate, seed, test_dice):
    pixel-EL2N pruning falls below Random on dense labels, and DAD pruning beats EL2N and
    keeps at least Random's Dice. The DAD rule judged is the one with the highest mean
    test Dice over all runs, chosen after the fact (which favours DAD)."""
    from evalib.studies.claims import related_claim

    dad = runs[runs["method"].isin(DAD_RULES)]
    best = dad.groupby("method")["test_dice"].mean().idxmax() if len(dad) else "dad_ambiguous"
    return [
        related_claim("dad_el2n_fails", _paired(runs, "el2n", "random")),
        related_claim("dad_beats_el2n", _paired(runs, best, "el2n"), rule=best),
        related_claim("dad_keeps_random", _paired(runs, best, "random"), rule=best),
    ]


__all__ = [
    "MOSAIC_SEEDS",
    "RUN_COLUMNS",
    "TASKS",
    "Retrain",
    "ScoringRun",
    "describe_full",
    "pruning_summary",
    "runs_table",
    "scores_table",
    "verdicts",
]
