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
* per-class / worst-class accuracy (:func:`per_class_accuracy`, :func:`accuracy_report`);
* HTL as a coreset score (:func:`htl_selection`, keep highest, ties by index) and as
  training emphasis (:func:`emphasis_weights`: 1 + λ·HTL; :func:`oversample`);
* cached dense models and pruned predictions (:func:`dense_model`, :func:`run_pie`)
  and a cached train-and-report runner (:func:`run_training`).

Its per-profile sizes are ``Profile.pie`` (:mod:`evalib.study_config`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from evalib import __version__
from evalib.data import Split, dataset_info
from evalib.errors import EvalibError
from evalib.experiments import (
    Cache,
    ModelSpec,
    SurrogateConfig,
    array_digest,
    atomic_write_json,
    config_key,
    payload_key,
    read_json_checked,
)
from evalib.io import atomic_file
from evalib.models import build_model
from evalib.study_config import DEFAULT_SPARSITIES, PIESettings
from evalib.train import Recipe, predictions, seed_everything, train

PRUNABLE: tuple[type[nn.Module], ...] = (
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose2d,
    nn.Linear,
)


# ----------------------------------------------------------------------------- settings


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


def per_class_accuracy(preds: Any, labels: Any, num_classes: int | None = None) -> np.ndarray:
    """Accuracy of each class [C] float64 (fraction of its samples predicted right);
    NaN for a class with no sample."""
    p, y = np.asarray(preds).reshape(-1), np.asarray(labels).reshape(-1)
    if p.shape != y.shape:
        raise EvalibError(f"{p.size} predictions for {y.size} labels")
    c = (
        int(num_classes)
        if num_classes is not None
        else int(max(p.max(initial=0), y.max(initial=0))) + 1
    )
    total = np.bincount(y, minlength=c)[:c].astype(np.float64)
    right = np.bincount(y[p == y], minlength=c)[:c].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, right / np.maximum(total, 1), np.nan)


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


# ----------------------------------------------------------------------------- cached runs


def dense_key(cfg: SurrogateConfig) -> str:
    """Cache key of one dense model (data, model, recipe, seed, evalib version)."""
    return config_key("pie-dense", cfg)


def dense_dir(cache: Cache, cfg: SurrogateConfig) -> Path:
    """``<scratch>/pie/<key>/``: ``model.pt`` (state_dict) and ``meta.json``."""
    return cache.scratch / "pie" / dense_key(cfg)


def _build(cfg_model: ModelSpec, dataset: str) -> nn.Module:
    info = dataset_info(dataset)
    return build_model(cfg_model.name, info.n_channels, info.n_classes, cfg_model.width)


def dense_model(
    cfg: SurrogateConfig,
    cache: Cache,
    train_split: Split,
    test_split: Split | None = None,
    device: str | None = None,
    progress: bool = True,
) -> tuple[nn.Module, dict[str, Any]]:
    """The dense model of ``cfg`` trained on ``train_split`` (cfg.data's training split),
    read from the cache when present; returns (model on the CPU, meta)."""
    folder = dense_dir(cache, cfg)
    key = dense_key(cfg)
    meta = read_json_checked(folder / "meta.json")
    model = _build(cfg.model, cfg.data.dataset)
    if meta is not None and meta.get("key") == key and meta.get("n_train") == len(train_split):
        try:
            state = torch.load(folder / "model.pt", map_location="cpu", weights_only=True)
            if hashlib.sha256(_state_bytes(state)).hexdigest() == meta.get("state_sha256"):
                model.load_state_dict(state)
                return model.eval(), meta
        except Exception:  # noqa: BLE001 - torn or corrupt: train again below
            pass
    seed_everything(cfg.seed)
    model = _build(cfg.model, cfg.data.dataset)
    res = train(
        model, train_split, cfg.recipe, seed=cfg.seed, test=test_split, record=False,
        device=device, progress=progress, desc=f"dense {cfg.data.dataset} s{cfg.seed}",
    )  # fmt: skip
    model = res.model.cpu().eval()
    state = model.state_dict()
    with atomic_file(folder / "model.pt") as fh:
        torch.save(state, fh)
    meta = {
        "key": key,
        "config": asdict(cfg),
        "n_train": len(train_split),
        "history": res.history,
        "seconds": res.seconds,
        "state_sha256": hashlib.sha256(_state_bytes(state)).hexdigest(),
        "evalib_version": __version__,
    }
    atomic_write_json(folder / "meta.json", meta)
    return model, meta


def _state_bytes(state: Mapping[str, torch.Tensor]) -> bytes:
    parts = [
        k.encode() + v.detach().cpu().reshape(-1).contiguous().view(torch.uint8).numpy().tobytes()
        for k, v in sorted(state.items())
    ]
    return b"".join(parts)


@dataclass(frozen=True, eq=False)
class PIEResult:
    """Predictions of K dense models and of their pruned copies, and the HTL scores.

    dense[split]: [K, N] int64; pruned[sparsity][split]: [K, N] int64 (split: "train",
    "test"); htl: [N] float64 on the training split; meta: dense models' metas.
    """

    sparsities: tuple[float, ...]
    dense: dict[str, np.ndarray]
    pruned: dict[float, dict[str, np.ndarray]]
    htl: np.ndarray
    meta: list[dict[str, Any]] = field(default_factory=list)

    def pie_fraction(self, split: str = "train") -> dict[float, float]:
        """Fraction of PIEs per sparsity on ``split``."""
        return {
            s: float(pie_mask(self.dense[split], self.pruned[s][split]).mean())
            for s in self.sparsities
        }


def run_pie(
    cfgs: Sequence[SurrogateConfig],
    cache: Cache,
    train_split: Split,
    test_split: Split,
    sparsities: Sequence[float] = DEFAULT_SPARSITIES,
    fine_tune_steps: int = 0,
    fine_tune_lr: float = 0.01,
    device: str | None = None,
    progress: bool = True,
) -> PIEResult:
    """Train (or read) one dense model per config, prune each at every sparsity (with an
    optional fine-tune on the training split), predict train and test; HTL on train.

    Pruned predictions are cached next to each dense model, keyed by sparsity and the
    fine-tune settings."""
    if not cfgs:
        raise EvalibError("PIE needs one dense model at least")
    sp = tuple(_check_sparsity(s) for s in sparsities)
    splits = {"train": train_split, "test": test_split}
    dense = {k: [] for k in splits}
    pruned: dict[float, dict[str, list]] = {s: {k: [] for k in splits} for s in sp}
    metas = []
    for cfg in cfgs:
        model, meta = dense_model(cfg, cache, train_split, test_split, device, progress)
        metas.append(meta)
        for k, split in splits.items():
            dense[k].append(predictions(model, split, cfg.recipe))
        for s in sp:
            tag = json.dumps([s, int(fine_tune_steps), float(fine_tune_lr), len(train_split),
                              len(test_split)])  # fmt: skip
            path = (
                dense_dir(cache, cfg)
                / f"pruned-{hashlib.sha256(tag.encode()).hexdigest()[:12]}.npz"
            )
            got = _read_preds(path, splits)
            if got is None:
                p = prune(model, s)
                if fine_tune_steps:
                    p = fine_tune(p, train_split, fine_tune_steps, cfg.recipe, cfg.seed,
                                  fine_tune_lr, device)  # fmt: skip
                got = {k: predictions(p, split, cfg.recipe) for k, split in splits.items()}
                with atomic_file(path) as fh:
                    np.savez(fh, **got)
            for k in splits:
                pruned[s][k].append(got[k])
    dense_arr = {k: np.stack(v) for k, v in dense.items()}
    pruned_arr = {s: {k: np.stack(v) for k, v in d.items()} for s, d in pruned.items()}
    htl = htl_scores(dense_arr["train"], [pruned_arr[s]["train"] for s in sp])
    return PIEResult(sp, dense_arr, pruned_arr, htl, metas)


def _read_preds(path: Path, splits: Mapping[str, Split]) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {k: z[k] for k in splits}
    except (OSError, ValueError, KeyError, EOFError):
        return None
    if any(out[k].shape != (len(s),) for k, s in splits.items()):
        return None
    return out


def run_training(
    tag: str,
    cache: Cache,
    dataset: str,
    model: ModelSpec,
    recipe: Recipe,
    seed: int,
    train_split: Split,
    test_split: Split,
    positions: Any = None,
    weights: Any = None,
    device: str | None = None,
    progress: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Train ``model`` on ``train_split[positions]`` (repeats allowed) with optional
    per-sample ``weights``, evaluate the final model on ``test_split``; one row with
    overall, balanced, worst-class and per-class test accuracy.

    Cached as ``<results>/pie/<key>.json``; the key covers the data digest, positions,
    weights, model, recipe, seed and evalib version."""
    n = len(train_split)
    pos = np.arange(n, dtype=np.int64) if positions is None else np.asarray(positions, np.int64)
    w = None if weights is None else np.asarray(weights, np.float32).reshape(-1)
    if w is not None and w.shape != pos.shape:
        raise EvalibError(f"{w.size} weights for {pos.size} training positions")
    data = array_digest(pos, w, train_split.labels.numpy(), test_split.labels.numpy())
    key = payload_key({"tag": tag, "dataset": dataset, "model": asdict(model),
                       "recipe": asdict(recipe), "seed": int(seed), "data": data, "n": n})  # fmt: skip
    path = cache.results / "pie" / f"{key}.json"
    row = read_json_checked(path)
    if row is not None and row.get("key") == key:
        return row
    t0 = time.perf_counter()
    seed_everything(seed)
    net = _build(model, dataset)
    res = train(
        net, train_split.subset(pos), recipe, seed=seed, sample_weights=w, record=False,
        device=device, progress=progress, desc=f"{tag} s{seed}",
    )  # fmt: skip
    preds = predictions(res.model, test_split, recipe)
    info = dataset_info(dataset)
    row = {
        "key": key,
        "tag": tag,
        "dataset": dataset,
        "seed": int(seed),
        "model": model.name,
        "width": model.width,
        "n_train": int(pos.size),
        "n_unique": int(np.unique(pos).size),
        "steps": int(res.steps),
        **accuracy_report(preds, test_split.labels.numpy(), info.n_classes),
        "seconds": float(time.perf_counter() - t0),
        **dict(extra or {}),
    }
    atomic_write_json(path, row)
    return row


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
    question whether the highest-HTL coreset beats Random."""
    from evalib.claims import paired_parts, related_claim

    rows = []
    s_max = float(pruning["sparsity"].max())
    dense = pruning[pruning["sparsity"] == 0]
    pruned = pruning[pruning["sparsity"] == s_max]
    drop = {c: _seed_diffs(dense, pruned, c) for c in ("accuracy", "worst_class_accuracy")}
    rows.append(related_claim(
        "pruning costs the worst class more than overall accuracy", "Hooker et al.",
        "worst-class drop − overall drop > 0",
        {f"sparsity {s_max:g}": [w - o for w, o in zip(drop["worst_class_accuracy"],
                                                      drop["accuracy"], strict=True)]},
        1,
    ))  # fmt: skip
    uniform = emphasis[emphasis["variant"] == "uniform"]
    others = [v for v in dict.fromkeys(emphasis["variant"]) if v != "uniform"]
    for col, what in (("accuracy", "overall"), ("worst_class_accuracy", "worst-class")):
        parts = {v: _seed_diffs(emphasis[emphasis["variant"] == v], uniform, col) for v in others}
        rows.append(related_claim(
            f"emphasis on HTL samples raises {what} accuracy", "Jaiswal et al.",
            "+2 to +3 points (their localisation task)", parts, 1,
        ))  # fmt: skip
    parts = paired_parts(coreset, "rate", ["seed"], "pie", "random", "accuracy")
    rows.append(related_claim("the highest-HTL coreset beats Random", "this book (no paper claim)",
                              "HTL − Random > 0", parts, 1))  # fmt: skip
    return rows


__all__ = [
    "DEFAULT_SPARSITIES",
    "PIEResult",
    "PIESettings",
    "accuracy_report",
    "dense_model",
    "emphasis_weights",
    "fine_tune",
    "htl_scores",
    "htl_selection",
    "magnitude_masks",
    "modal",
    "oversample",
    "per_class_accuracy",
    "pie_mask",
    "prunable_modules",
    "prune",
    "run_pie",
    "run_training",
    "verdicts",
    "weight_sparsity",
]
