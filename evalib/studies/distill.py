"""Dataset distillation against coresets: the study's tasks, its tables and its claims.

Every dataset is distilled by Distribution Matching (:mod:`evalib.studies.distill_core`) at each budget of
images per class (IPC), and one evaluation trainer (:func:`evalib.studies.distill_core.train_eval`) is
trained on each image set compared: the distilled images, random real images, EVA's
per-class top-k real images (at the same k_c = min(IPC, n_c)), and the whole training
split as the reference. Li et al. ("Dataset Distillation in Medical Imaging: A
Feasibility Study") report that the accuracy of a small random real subset predicts
distillation success; :func:`predictor_correlation` tests this across datasets × budgets.

The work is declared as two :class:`~evalib.runs.tasks.Task` kinds, run and cached like every
job (``results/<profile>/jobs/<key>.json``) and rebuilt by ``evalib rerun``:

* :class:`SyntheticSet` (``distill:synthetic-set``): DM on one dataset at one IPC; its row
  records the digest of the synthetic images and DM's time, the images themselves live
  in ``<scratch>/distill/<key>.npz`` and :func:`synthetic_set` regenerates them
  (deterministically, checked against the digest) when absent;
* :class:`Evaluation` (``distill:evaluate``): one evaluation network on one image set;
  its row records the test accuracy. The EVA set is chosen from the scores of the
  surrogate named in its config, so it is reproducible from the config alone.

:func:`evalib.studies.grids.distill` lists the tasks of the notebook; the sizes come from
``Profile.distill`` (:class:`~evalib.runs.study_config.DistillSettings`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from evalib.data import dataset_info, to_float
from evalib.errors import EvalibError
from evalib.io import atomic_file, warn
from evalib.runs.cache import Cache
from evalib.runs.config import DataSpec, SurrogateConfig, array_digest
from evalib.runs.packing import JobSize
from evalib.runs.study_config import DISTILL_DATASETS
from evalib.runs.tasks import Task, run_task
from evalib.studies.distill_core import (
    Distilled,
    distribution_matching,
    random_real,
    top_per_class,
    train_eval,
)

DATASETS = DISTILL_DATASETS
METHODS = ("distilled", "random", "eva")
#: The image sets an :class:`Evaluation` trains on.
IMAGE_SETS = (*METHODS, "full")
#: Columns of ``distill_runs.csv`` (one row per evaluation network).
RUN_COLUMNS = ["dataset", "method", "ipc", "n_images", "seed", "steps", "test_acc", "seconds"]


# ----------------------------------------------------------------------------- tasks


def _n_train(data: DataSpec) -> int:
    return int(data.train_subset or dataset_info(data.dataset).n_samples[0])


def _digest(images: torch.Tensor, labels: torch.Tensor) -> str:
    """Digest of an image set: float32 normalised images and int64 labels."""
    return array_digest(images.numpy().astype(np.float32), labels.numpy().astype(np.int64))


def loss_curve(losses: Any, points: int = 100) -> list[list[float]]:
    """The DM loss as at most ``points`` block means: ``[[mid iteration, mean loss], …]``."""
    losses = np.asarray(losses, dtype=float)
    if losses.size == 0:
        return []
    blocks = np.array_split(np.arange(losses.size), min(points, losses.size))
    return [[float(b.mean()), float(losses[b].mean())] for b in blocks]


@dataclass(frozen=True)
class SyntheticSet(Task):
    """DM on the training split of ``data`` at ``ipc`` images per class, with DM's
    settings of :class:`~evalib.runs.study_config.DistillSettings` (``iterations``,
    ``batch_real``, ``width``, ``lr_img``, ``momentum``, ``dsa``) from ``seed``.

    Row: ``images_sha256`` (synthetic images and labels), ``n_images``, ``dm_seconds``,
    ``final_loss`` and ``loss_curve`` (:func:`loss_curve`)."""

    kind: ClassVar[str] = "distill:synthetic-set"
    reproduced: ClassVar[tuple[str, ...]] = ("images_sha256", "final_loss")

    data: DataSpec
    ipc: int
    iterations: int
    batch_real: int
    width: float
    lr_img: float = 1.0
    momentum: float = 0.5
    dsa: bool = True
    seed: int = 0

    @property
    def dataset(self) -> str:
        return self.data.dataset

    def size(self) -> JobSize:
        return JobSize(_n_train(self.data), "convnet", self.width)

    def images_path(self, cache: Cache) -> Path:
        return cache.scratch / "distill" / f"{self.key()}.npz"

    def distil(self, data_root, device: str | None, progress: bool) -> Distilled:
        """Run DM (nothing is read or written)."""
        from evalib.runs.runner import load_data

        train = load_data(self.data, data_root)[1]
        return distribution_matching(
            train, self.ipc, self.iterations, self.batch_real, self.width, self.lr_img,
            self.momentum, self.dsa, self.seed, device=device, progress=progress,
        )  # fmt: skip

    def execute(self, cache, data_root, device, threads, progress) -> dict[str, Any]:
        from evalib.devices import pick_device

        out = self.distil(data_root, device, progress)
        _save(self.images_path(cache), out)
        return {
            "method": "dm",
            "ipc": int(self.ipc),
            "seed": int(self.seed),
            "images_sha256": _digest(out.images, out.labels),
            "n_images": int(out.images.shape[0]),
            "dm_seconds": float(out.meta["seconds"]),
            "final_loss": float(out.losses[-1]) if len(out.losses) else None,
            "loss_curve": loss_curve(out.losses),
            "device": str(pick_device(device)),
        }


def _save(path: Path, out: Distilled) -> None:
    with atomic_file(path) as fh:
        np.savez(fh, images=out.images.numpy(), labels=out.labels.numpy(), losses=out.losses,
                 meta=np.array(json.dumps(out.meta)))  # fmt: skip


def _load(path: Path) -> Distilled | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            return Distilled(torch.from_numpy(z["images"]), torch.from_numpy(z["labels"]),
                             z["losses"], json.loads(str(z["meta"])))  # fmt: skip
    except (OSError, ValueError, KeyError, EOFError):
        return None


def synthetic_set(
    task: SyntheticSet,
    cache: Cache,
    data_root: str | None = None,
    device: str | None = None,
    progress: bool = False,
) -> Distilled:
    """The synthetic images of ``task``: its row from the cache (computed when missing),
    the images from the scratch folder, regenerated when absent or not matching the row's
    digest (a warning if the regenerated ones do not match either: another machine, torch
    or thread count)."""
    row = run_task(task, cache, data_root, progress, device)
    path = task.images_path(cache)
    out = _load(path)
    if out is not None and _digest(out.images, out.labels) == row["images_sha256"]:
        return out
    out = task.distil(data_root, device, progress)
    _save(path, out)
    if _digest(out.images, out.labels) != row["images_sha256"]:
        warn(f"the regenerated synthetic images of {task.dataset} at IPC {task.ipc} differ "
             f"from those of its stored row {task.key()} (another machine, torch or threads)")  # fmt: skip
    return out


@dataclass(frozen=True)
class Evaluation(Task):
    """One evaluation network (:func:`~evalib.studies.distill_core.train_eval`, ``steps`` SGD steps of batch
    ``batch`` at ``lr``, ConvNet ``width``, ``augment``, ``seed``) trained on one image set
    of ``data``'s training split and tested on its test split.

    ``method`` names the set: ``distilled`` (the images of ``synthetic``), ``random``
    (k_c random real images per class, drawn from ``seed``), ``eva`` (the k_c real images
    of each class with the highest EVA score on the dynamics of ``surrogate``, windows
    ``windows`` = (early, late)) or ``full`` (the whole split; ``ipc`` None).

    Row: ``test_acc`` (fraction), ``n_images``, ``images_sha256`` of the set trained on,
    and the split's ``n_classes``, ``n_train``, ``n_test``, ``smallest_class``."""

    kind: ClassVar[str] = "distill:evaluate"
    reproduced: ClassVar[tuple[str, ...]] = ("test_acc", "images_sha256")

    data: DataSpec
    method: str
    ipc: int | None
    steps: int
    width: float
    lr: float = 0.01
    batch: int = 256
    augment: bool = True
    seed: int = 0
    synthetic: SyntheticSet | None = None
    surrogate: SurrogateConfig | None = None
    windows: tuple[tuple[int, int], tuple[int, int]] | None = None

    def __post_init__(self) -> None:
        if self.method not in IMAGE_SETS:
            raise EvalibError(f"unknown image set {self.method!r}; choose one of {IMAGE_SETS}")
        if (self.ipc is None) != (self.method == "full"):
            raise EvalibError(f"the {self.method} set needs {'no' if self.method == 'full' else 'an'} ipc")  # fmt: skip
        if (self.synthetic is not None) != (self.method == "distilled"):
            raise EvalibError("a synthetic set goes with (only) the distilled method")
        if self.synthetic is not None and (self.synthetic.data, self.synthetic.ipc) != (
            self.data,
            self.ipc,
        ):
            raise EvalibError("the synthetic set must be of the same data and ipc")  # fmt: skip
        if ((self.surrogate is not None and self.windows is not None) != (self.method == "eva")
                or (self.surrogate is None) != (self.windows is None)):  # fmt: skip
            raise EvalibError("a surrogate and windows go with (only) the eva method")

    @property
    def dataset(self) -> str:
        return self.data.dataset

    def size(self) -> JobSize:
        n = _n_train(self.data)
        if self.ipc is not None:
            n = min(n, self.ipc * dataset_info(self.dataset).n_classes)
        return JobSize(n, "convnet", self.width)

    def image_set(self, cache: Cache, data_root=None, device=None, progress=False, split=None):
        """(normalised float images, labels) of the set, from the training split
        (``split``: (train split, train ids) when already loaded)."""
        if self.method == "distilled":
            out = synthetic_set(self.synthetic, cache, data_root, device, progress)
            return out.images, out.labels
        if split is None:
            from evalib.runs.runner import load_data

            split = load_data(self.data, data_root)[1:3]
        train, ids = split
        y = train.labels.numpy()
        if self.method == "full":
            pos = np.arange(len(y))
        elif self.method == "random":
            pos = random_real(y, self.ipc, self.seed)
        else:
            from evalib.runs.runner import run_surrogate
            from evalib.scores import compute_scores

            dyn = run_surrogate(self.surrogate, cache, data_root, progress, device)
            if not np.array_equal(np.asarray(dyn.sample_ids), ids):
                raise EvalibError(f"{self.dataset}: the surrogate's dynamics cover other samples")
            early, late = self.windows
            scores = compute_scores("eva", dyn, early=early, late=late)
            pos = top_per_class(scores, y, self.ipc, "highest")
        return to_float(train.images[pos]), train.labels[pos]

    def execute(self, cache, data_root, device, threads, progress) -> dict[str, Any]:
        import time

        from evalib.devices import pick_device
        from evalib.runs.runner import load_data

        ds, train, ids, _, test = load_data(self.data, data_root)
        images, labels = self.image_set(cache, data_root, device, progress, (train, ids))
        t0 = time.perf_counter()
        acc = train_eval(images, labels, test, self.steps, ds.info.n_classes, self.width,
                         self.lr, self.batch, self.augment, self.seed, device)  # fmt: skip
        return {
            "method": self.method,
            "ipc": self.ipc,
            "n_images": int(images.shape[0]),
            "seed": int(self.seed),
            "steps": int(self.steps),
            "test_acc": float(acc),
            "train_seconds": time.perf_counter() - t0,
            "images_sha256": _digest(images, labels),
            "n_classes": int(ds.info.n_classes),
            "n_train": len(train),
            "n_test": len(test),
            "smallest_class": int(np.bincount(train.labels.numpy()).min()),
            "device": str(pick_device(device)),
        }


TASKS = {cls.kind: cls for cls in (SyntheticSet, Evaluation)}


# ----------------------------------------------------------------------------- tables


def _of_kind(rows: pd.DataFrame, kind: str) -> pd.DataFrame:
    if rows.empty or "kind" not in rows.columns:
        return pd.DataFrame()
    return rows[rows["kind"] == kind].reset_index(drop=True)


def runs_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The evaluation networks among task rows (of :func:`evalib.runs.batch.run_jobs`), in the
    columns of ``distill_runs.csv`` (:data:`RUN_COLUMNS`; ``test_acc`` a fraction, ``ipc``
    NaN for the full set)."""
    t = _of_kind(rows, Evaluation.kind)
    if t.empty:
        return pd.DataFrame(columns=RUN_COLUMNS)
    return t[RUN_COLUMNS].astype({"ipc": float, "n_images": int, "seed": int, "steps": int})


def synthetic_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The synthetic sets among task rows: dataset, ipc, n_images, dm_seconds, final_loss,
    loss_curve, key."""
    cols = ["dataset", "ipc", "n_images", "dm_seconds", "final_loss", "loss_curve", "key"]
    t = _of_kind(rows, SyntheticSet.kind)
    return t[cols].astype({"ipc": int, "n_images": int}) if len(t) else pd.DataFrame(columns=cols)


def dataset_sizes(rows: pd.DataFrame) -> pd.DataFrame:
    """Per dataset: classes, training and test images, and the smallest class (from the
    evaluation rows)."""
    cols = {"n_classes": "classes", "n_train": "train", "n_test": "test",
            "smallest_class": "smallest_class"}  # fmt: skip
    t = _of_kind(rows, Evaluation.kind)
    if t.empty:
        return pd.DataFrame(columns=["dataset", *cols.values()])
    sizes = t.groupby("dataset", sort=False)[list(cols)].first().astype(int)
    return sizes.rename(columns=cols).reset_index()


def compute_parts(rows: pd.DataFrame) -> dict[str, tuple[int, float]]:
    """What the page's runs cost as computed: (runs, seconds) of DM and of the evaluation
    networks (for :func:`evalib.runs.costs.write_compute`)."""
    syn, runs = synthetic_table(rows), runs_table(rows)
    return {
        "distribution matching": (len(syn), float(syn["dm_seconds"].sum()) if len(syn) else 0.0),
        "evaluation networks": (len(runs), float(runs["seconds"].sum()) if len(runs) else 0.0),
    }


def settings_table(profiles: Mapping[str, Any]) -> pd.DataFrame:
    """The distillation settings of every profile (one row each, without the text and the
    datasets)."""
    from dataclasses import asdict

    rows = [{"profile": name, **{k: v for k, v in asdict(p.distill).items()
                                 if k not in ("description", "datasets")}}
            for name, p in profiles.items() if p.distill is not None]  # fmt: skip
    table = pd.DataFrame(rows).set_index("profile")
    table["width"] = table["width"].map("{:g}".format)
    return table


def example_images(
    tasks: Iterable[SyntheticSet], cache: Cache, data_root: str | None = None,
    device: str | None = None,
) -> dict[str, tuple[np.ndarray, list[str]]]:  # fmt: skip
    """Per dataset: the first synthetic image of each class ([K, H, W, C] in [0, 1]) of
    its task in ``tasks`` and the class names; tasks not in the cache are left out (their
    images are regenerated from a cached row when the scratch folder lacks them)."""
    out = {}
    for task in tasks:
        if cache.job_result(task) is None:
            continue
        syn = synthetic_set(task, cache, data_root, device)
        names = list(dataset_info(task.dataset).class_names)
        first = [
            syn.images[syn.labels == c][0] for c in range(len(names)) if (syn.labels == c).any()
        ]
        imgs = torch.stack(first).clamp(-1, 1).add(1).div(2).permute(0, 2, 3, 1).numpy()
        out[task.dataset] = (imgs, [n for c, n in enumerate(names) if (syn.labels == c).any()])
    return out


__all__ = [
    "DATASETS",
    "IMAGE_SETS",
    "METHODS",
    "RUN_COLUMNS",
    "TASKS",
    "Evaluation",
    "SyntheticSet",
    "compute_parts",
    "dataset_sizes",
    "example_images",
    "loss_curve",
    "runs_table",
    "settings_table",
    "synthetic_set",
    "synthetic_table",
]
