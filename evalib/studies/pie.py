"""Pruning-identified exemplars (PIE) and hard-to-learn (HTL) scores.

Hooker et al. (2019, "What do compressed deep neural networks forget?") call a sample a
*pruning-identified exemplar* when the modal prediction of a population of
magnitude-pruned models differs from the modal prediction of the dense models they were
pruned from. Jaiswal et al. ("Attend Who is Weak") use such samples as *hard to learn*
and up-weight them in training. This module implements, from those descriptions:

* global one-shot magnitude pruning of every convolution and linear weight
  (:func:`magnitude_masks`, :func:`prune`), with an optional short fine-tune that keeps
  the mask (:func:`fine_tune`);
* PIE and HTL as pure functions of prediction arrays ``[K, N]`` (:func:`modal`,
  :func:`pie_mask`, :func:`htl_scores`);
* per-class / worst-class accuracy (:func:`accuracy_report`, on
  :func:`evalib.metrics.per_class_accuracy`);
* HTL as a coreset score (:func:`htl_selection`, keep highest, ties by index) and as
  training emphasis (:func:`emphasis_weights`: 1 + λ·HTL; :func:`oversample`);
* the study's one task kind, :class:`PruneTask` (``"pie:prune"``): one dense network,
  pruned at every sparsity, its predictions on the training and test splits.

Everything else the study trains is a plain :class:`~evalib.runs.config.Job` (HTL, Random and
EVA coresets; full-data training with HTL loss weights), declared with the prune tasks by
:func:`evalib.studies.grids.pie_prune` and :func:`evalib.studies.grids.pie_trainings` from the profile's
``Profile.pie`` (:mod:`evalib.runs.study_config`). Tables and verdicts of the rows are in
:mod:`evalib.studies.pie_tables`.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from evalib.data import Split
from evalib.errors import EvalibError
from evalib.metrics import per_class_accuracy
from evalib.runs.config import DataSpec, Job, ModelSpec, array_digest
from evalib.runs.packing import JobSize
from evalib.runs.study_config import DEFAULT_SPARSITIES, PIESettings
from evalib.runs.tasks import Task
from evalib.train import Recipe, predictions, train

PRUNABLE: tuple[type[nn.Module], ...] = (
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose2d,
    nn.Linear,
)


# ----------------------------------------------------------------------------- pruning


def prunable_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) of every convolution and linear layer, in ``named_modules`` order.

    Only their ``weight`` is pruned; biases and normalisation parameters never are."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, PRUNABLE)]


def _check_sparsity(sparsity: Any) -> float:
    try:
        s = float(sparsity)
    except (TypeError, ValueError):
        raise EvalibError(f"sparsity must be a number in [0, 1), got {sparsity!r}") from None
    if not 0.0 <= s < 1.0:
        raise EvalibError(f"sparsity must lie in [0, 1), got {sparsity!r}")
    return s


def magnitude_masks(model: nn.Module, sparsity: float) -> dict[str, torch.Tensor]:
    """Global magnitude-pruning masks: True = kept, one bool tensor per prunable layer.

    Exactly k = round(sparsity × W) of the W conv/linear weights are removed: those of
    smallest |w| over the whole network (ties broken by position in the flattened
    concatenation, layers in ``named_modules`` order). Pure: the model is not changed.
    """
    s = _check_sparsity(sparsity)
    mods = prunable_modules(model)
    if not mods:
        raise EvalibError("model has no convolution or linear weights to prune")
    with torch.no_grad():
        flat = torch.cat([m.weight.detach().abs().flatten().float().cpu() for _, m in mods])
        k = int(round(s * flat.numel()))
        keep = torch.ones(flat.numel(), dtype=torch.bool)
        if k:
            keep[torch.argsort(flat, stable=True)[:k]] = False
    masks, start = {}, 0
    for name, m in mods:
        n = m.weight.numel()
        masks[name] = keep[start : start + n].view_as(m.weight).to(m.weight.device)
        start += n
    return masks


def prune(model: nn.Module, sparsity: float) -> nn.Module:
    """A pruned copy of ``model``: the weights :func:`magnitude_masks` drops set to 0.

    ``model`` itself is untouched; biases and norm layers are copied unchanged."""
    masks = magnitude_masks(model, sparsity)
    out = copy.deepcopy(model)
    with torch.no_grad():
        for name, m in prunable_modules(out):
            m.weight.mul_(masks[name].to(m.weight.dtype))
    return out


def weight_sparsity(model: nn.Module) -> float:
    """Fraction of exactly-zero weights over all conv/linear weights."""
    mods = prunable_modules(model)
    total = sum(m.weight.numel() for _, m in mods)
    zeros = sum(int((m.weight == 0).sum()) for _, m in mods)
    return zeros / max(1, total)


def fine_tune(
    pruned: nn.Module,
    split: Split,
    steps: int,
    recipe: Recipe | None = None,
    seed: int = 0,
    lr: float | None = None,
    device: str | None = None,
) -> nn.Module:
    """A copy of ``pruned`` trained for ``steps`` optimiser steps with its zeros kept at 0.

    The mask is the set of zero weights on entry (``torch.nn.utils.prune`` re-applies it
    at every forward pass, so masked weights get no effective update); it is made
    permanent afterwards. ``lr`` defaults to the recipe's lr / 10; the cosine schedule
    runs over the ``steps``.
    """
    if steps < 0:
        raise EvalibError(f"fine-tune steps must be ≥ 0, got {steps}")
    recipe = recipe or Recipe()
    out = copy.deepcopy(pruned)
    if steps == 0:
        return out
    mods = prunable_modules(out)
    for _, m in mods:
        torch_prune.custom_from_mask(m, "weight", mask=(m.weight != 0))
    ft = replace(recipe, iterations=int(steps), lr=recipe.lr / 10 if lr is None else float(lr))
    ft = replace(ft, min_lr=min(ft.min_lr, ft.lr))
    train(out, split, ft, seed=seed, record=False, progress=False, device=device)
    for _, m in mods:
        torch_prune.remove(m, "weight")
    return out.cpu()


# ----------------------------------------------------------------------------- PIE / HTL


def _preds(preds: Any, name: str) -> np.ndarray:
    p = np.asarray(preds)
    if p.ndim == 1:
        p = p[None]
    if p.ndim != 2 or p.shape[0] < 1:
        raise EvalibError(f"{name} must be [K, N] class predictions, got shape {p.shape}")
    if not np.issubdtype(p.dtype, np.integer):
        raise EvalibError(f"{name} must be integer class predictions, got {p.dtype}")
    if p.size and p.min() < 0:
        raise EvalibError(f"{name} holds a negative class")
    return p.astype(np.int64)


def modal(preds: Any, num_classes: int | None = None) -> np.ndarray:
    """Most frequent class per column of ``preds`` [K, N] (ties → lowest class), [N] int64."""
    p = _preds(preds, "preds")
    c = int(num_classes) if num_classes is not None else int(p.max()) + 1 if p.size else 1
    k, n = p.shape
    counts = np.zeros((c, n), np.int64)
    np.add.at(counts, (p, np.broadcast_to(np.arange(n), (k, n))), 1)
    return counts.argmax(0).astype(np.int64)  # argmax: first maximum = lowest class


def pie_mask(dense_preds: Any, pruned_preds: Any) -> np.ndarray:
    """[N] bool: modal prediction of the pruned models ≠ modal prediction of the dense ones."""
    d, p = _preds(dense_preds, "dense_preds"), _preds(pruned_preds, "pruned_preds")
    if d.shape[1] != p.shape[1]:
        raise EvalibError(f"dense predictions cover {d.shape[1]} samples, pruned {p.shape[1]}")
    c = int(max(d.max(initial=0), p.max(initial=0))) + 1
    return modal(d, c) != modal(p, c)


def htl_scores(
    dense_preds: Any, pruned_by_sparsity: Sequence[Any] | Mapping[Any, Any]
) -> np.ndarray:
    """Hard-to-learn score [N] float64: the fraction of sparsities at which a sample is a PIE.

    ``pruned_by_sparsity``: one [K, N] prediction array per sparsity (a sequence, a
    mapping sparsity → array, or an [S, K, N] array)."""
    items = (
        list(pruned_by_sparsity.values())
        if isinstance(pruned_by_sparsity, Mapping)
        else list(pruned_by_sparsity)
    )
    if not items:
        raise EvalibError("HTL needs predictions at one sparsity at least")
    return np.mean([pie_mask(dense_preds, p) for p in items], axis=0).astype(np.float64)


# ----------------------------------------------------------------------------- accuracy


def accuracy_report(preds: Any, labels: Any, num_classes: int | None = None) -> dict[str, Any]:
    """Overall, balanced (mean per class), worst-class accuracy and its class, per class."""
    p, y = np.asarray(preds).reshape(-1), np.asarray(labels).reshape(-1)
    pc = per_class_accuracy(p, y, num_classes)
    present = np.flatnonzero(~np.isnan(pc))
    worst = int(present[np.argmin(pc[present])]) if present.size else -1
    return {
        "accuracy": float((p == y).mean()) if y.size else float("nan"),
        "balanced_accuracy": float(np.nanmean(pc)) if present.size else float("nan"),
        "worst_class_accuracy": float(pc[worst]) if present.size else float("nan"),
        "worst_class": worst,
        "per_class": [None if np.isnan(v) else float(v) for v in pc],
    }


# ----------------------------------------------------------------------------- using HTL


def emphasis_weights(htl: Any, lam: float) -> np.ndarray:
    """Per-sample loss weights 1 + λ·HTL, [N] float64 (λ ≥ 0)."""
    h = np.asarray(htl, np.float64).reshape(-1)
    if lam < 0 or not np.isfinite(lam):
        raise EvalibError(f"λ must be a finite number ≥ 0, got {lam!r}")
    if h.size and (not np.isfinite(h).all() or h.min() < 0 or h.max() > 1):
        raise EvalibError("HTL scores must lie in [0, 1]")
    return 1.0 + float(lam) * h


def oversample(htl: Any, lam: float) -> np.ndarray:
    """Positions with repeats: sample i appears 1 + ⌊λ·HTL_i + ½⌋ times, [M] int64 sorted.

    The deterministic counterpart of :func:`emphasis_weights` (same expected emphasis;
    an epoch then has M ≥ N samples, so more steps)."""
    copies = 1 + np.floor(emphasis_weights(htl, lam) - 0.5).astype(np.int64)  # half up
    return np.repeat(np.arange(copies.size, dtype=np.int64), copies)


def htl_selection(
    htl: Any,
    rate: float,
    labels: Any = None,
    class_balanced: bool = False,
    rounding: str = "ceil",
    sample_ids: Any = None,
):
    """A coreset keeping the highest HTL scores (ties by position), as a
    :class:`~evalib.select.Selection` with method ``"pie"``."""
    from evalib.select import select

    return select(
        "pie", np.asarray(htl, np.float64), rate, seed=None, class_balanced=class_balanced,
        rounding=rounding, labels=labels, sample_ids=sample_ids, direction="highest",
    )  # fmt: skip


# ----------------------------------------------------------------------------- the task


@dataclass(frozen=True)
class PruneTask(Task):
    """One dense network (``model`` trained with ``recipe`` and ``seed`` on ``data``'s
    training split), pruned at every sparsity (each followed by ``fine_tune_steps`` steps
    at ``fine_tune_lr`` with its mask held), predicting the training and test splits.

    The dense network is trained exactly as the full-data :class:`~evalib.runs.config.Job` of
    the same data, model, recipe and seed (:meth:`dense_job`) is by the runner, with its
    resumable training: its final state stays in the scratch folder
    (``checkpoints/pie-dense-<job key>/``), so a second task on the same network (other
    sparsities or fine-tune) reads it there; where it is absent it is trained again,
    with the same result on the CPU. Pruning, fine-tuning and prediction are
    deterministic, so the row is a pure function of the config.

    Row: ``sample_ids`` of the training split, ``dense_train`` / ``dense_test`` [N]
    predicted classes, ``pruned_train`` / ``pruned_test`` [S, N] (one per sparsity, in
    ``sparsities`` order), ``dense_test_acc`` and ``pruned_test_acc`` (fractions),
    ``weight_sparsity`` (zeros after fine-tuning), ``predictions_sha256`` (of every
    prediction array), ``dense_seconds`` (the dense training as first computed) and
    ``prune_seconds``.
    """

    kind: ClassVar[str] = "pie:prune"
    reproduced: ClassVar[tuple[str, ...]] = (
        "dense_test_acc",
        "pruned_test_acc",
        "predictions_sha256",
    )

    data: DataSpec
    model: ModelSpec
    recipe: Recipe
    seed: int
    sparsities: tuple[float, ...] = DEFAULT_SPARSITIES
    fine_tune_steps: int = 0
    fine_tune_lr: float = 0.01

    def __post_init__(self) -> None:
        if not self.sparsities:
            raise EvalibError("a prune task needs one sparsity at least")
        for s in self.sparsities:
            _check_sparsity(s)
        if self.fine_tune_steps < 0:
            raise EvalibError(f"fine-tune steps must be ≥ 0, got {self.fine_tune_steps}")

    @property
    def dataset(self) -> str:
        return self.data.dataset

    def dense_job(self) -> Job:
        """The full-data job whose network this task prunes."""
        return Job(self.data, None, None, self.model, self.recipe, self.seed)

    def size(self) -> JobSize:
        from evalib.data import dataset_info

        n = self.data.train_subset or dataset_info(self.data.dataset).n_samples[0]
        return JobSize(n, self.model.name, self.model.width)

    def execute(self, cache, data_root, device, threads, progress) -> dict[str, Any]:
        from evalib.devices import pick_device
        from evalib.models import build_model
        from evalib.runs.runner import _train_resumable, load_data
        from evalib.train import seed_everything

        ds, train_split, ids, val, test = load_data(self.data, data_root)
        info = ds.info
        seed_everything(self.seed)
        net = build_model(self.model.name, info.n_channels, info.n_classes, self.model.width)
        res = _train_resumable(
            cache.checkpoint_dir("pie-dense", self.dense_job().key()),
            model=net, train_split=train_split, recipe=self.recipe, seed=self.seed, val=val,
            test=test, record=False, device=device, threads=threads, progress=progress,
            desc=f"dense {self.dataset} s{self.seed}",
        )  # fmt: skip
        t0 = time.perf_counter()
        dev = pick_device(device)
        dense_net = res.model.to(dev).eval()
        splits = {"train": train_split, "test": test}
        dense = {k: predictions(dense_net, s, self.recipe) for k, s in splits.items()}
        pruned: dict[str, list[np.ndarray]] = {k: [] for k in splits}
        zeros = []
        for s in self.sparsities:
            net = prune(dense_net, s)
            if self.fine_tune_steps:
                net = fine_tune(net, train_split, self.fine_tune_steps, self.recipe, self.seed,
                                self.fine_tune_lr, device)  # fmt: skip
            net = net.to(dev).eval()
            zeros.append(weight_sparsity(net))
            for k, split in splits.items():
                pruned[k].append(predictions(net, split, self.recipe))
        y = test.labels.numpy().reshape(-1)
        arrays = [dense["train"], dense["test"], *pruned["train"], *pruned["test"]]
        return {
            "seed": self.seed,
            "sparsities": list(self.sparsities),
            "n_train": len(train_split),
            "n_test": len(test),
            "sample_ids": np.asarray(ids, np.int64),
            "dense_train": dense["train"],
            "dense_test": dense["test"],
            "pruned_train": np.stack(pruned["train"]),
            "pruned_test": np.stack(pruned["test"]),
            "dense_test_acc": float((dense["test"] == y).mean()),
            "pruned_test_acc": [float((p == y).mean()) for p in pruned["test"]],
            "weight_sparsity": zeros,
            "predictions_sha256": array_digest(*arrays),
            "dense_seconds": float(res.history[-1]["seconds"]),
            "prune_seconds": float(time.perf_counter() - t0),
            "device": res.meta.get("device", device),
        }

    @staticmethod
    def of(settings: PIESettings, data: DataSpec, model: ModelSpec, recipe: Recipe,
           seed: int) -> PruneTask:  # fmt: skip
        """The task of dense network ``seed`` under the PIE ``settings`` of a profile."""
        return PruneTask(data, model, recipe, int(seed), tuple(float(s) for s in settings.sparsities),
                         int(settings.fine_tune_steps), float(settings.fine_tune_lr))  # fmt: skip


TASKS: dict[str, type[Task]] = {PruneTask.kind: PruneTask}

__all__ = [
    "TASKS",
    "PruneTask",
    "accuracy_report",
    "emphasis_weights",
    "fine_tune",
    "htl_scores",
    "htl_selection",
    "magnitude_masks",
    "modal",
    "oversample",
    "pie_mask",
    "prunable_modules",
    "prune",
    "weight_sparsity",
]
