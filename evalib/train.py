"""One training loop for surrogate and coreset runs, recording per-sample dynamics.

Data sits on the device as uint8 tensors; a batch is an index slice converted to float
on the fly. No DataLoader, no PIL, no per-sample Python, and on a GPU no host
synchronisation inside an epoch (loss and accuracy are summed on the device).

Defaults are the official EVA recipe: SGD with Nesterov momentum 0.9, lr 0.1, weight
decay 5e-4, cosine annealing stepped every iteration down to 1e-4, batch 256, inputs
scaled to [−1, 1], no augmentation, 200 epochs.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from evalib.accel import ENV_CUDA_CHANNELS_LAST, ENV_CUDA_GRAPHS, autocast, compiled, env_flag
from evalib.checkpoints import EpochStore, checkpoint_every, run_config
from evalib.data import Split, to_float
from evalib.devices import pick_device
from evalib.dynamics import Dynamics
from evalib.errors import EvalibError
from evalib.io import progress_bar

AMP_MODES = ("none", "bf16", "fp16")
AUGMENTS = ("none", "crop", "crop_flip")


@dataclass(frozen=True)
class Recipe:
    """Optimisation settings; defaults reproduce the official code.

    ``iterations`` (optimiser steps) replaces ``epochs`` when set: training then runs
    ⌈iterations / steps per epoch⌉ epochs, the last one possibly partial (CCS style).
    ``eval_every`` is in epochs; the final epoch is always evaluated.
    """

    epochs: int = 200
    iterations: int | None = None
    batch_size: int = 256
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    min_lr: float = 1e-4
    augment: str = "none"
    drop_last: bool = False
    amp: str = "none"
    channels_last: bool = False
    eval_every: int = 1
    eval_batch_size: int = 1024

    def __post_init__(self) -> None:
        if self.iterations is None and self.epochs < 1:
            raise EvalibError(f"epochs must be ≥ 1, got {self.epochs}")
        if self.iterations is not None and self.iterations < 1:
            raise EvalibError(f"iterations must be ≥ 1, got {self.iterations}")
        if self.batch_size < 1:
            raise EvalibError(f"batch_size must be ≥ 1, got {self.batch_size}")
        if self.amp not in AMP_MODES:
            raise EvalibError(f"amp must be one of {', '.join(AMP_MODES)}, got {self.amp!r}")
        if self.augment not in AUGMENTS:
            raise EvalibError(f"augment must be one of {', '.join(AUGMENTS)}, got {self.augment!r}")
        if self.eval_every < 1:
            raise EvalibError(f"eval_every must be ≥ 1, got {self.eval_every}")

    def steps_per_epoch(self, n: int) -> int:
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def total_steps(self, n: int) -> int:
        per_epoch = self.steps_per_epoch(n)
        if per_epoch == 0:
            raise EvalibError(f"{n} samples give no batch of {self.batch_size} with drop_last")
        return self.iterations if self.iterations is not None else self.epochs * per_epoch

    def num_epochs(self, n: int) -> int:
        return math.ceil(self.total_steps(n) / self.steps_per_epoch(n))


@dataclass(frozen=True, eq=False)
class TrainResult:
    """What a run produced. ``history`` has one dict per evaluation (epoch is 0-indexed,
    accuracies are fractions in [0, 1], seconds are wall time since the start)."""

    model: nn.Module
    history: list[dict[str, float]]
    dynamics: Dynamics | None
    steps: int
    seconds: float
    meta: dict[str, Any] = field(default_factory=dict)


def check_positive_int(name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int ≥ ``minimum``; a one-line EvalibError naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise EvalibError(f"{name} must be an integer ≥ {minimum}, got {value!r}")
    if value < minimum:
        raise EvalibError(f"{name} must be an integer ≥ {minimum}, got {value}")
    return int(value)


def check_lr(lr: Any, name: str = "lr") -> float:
    """A learning rate: a finite number > 0."""
    if isinstance(lr, bool) or not isinstance(lr, int | float | np.floating | np.integer):
        raise EvalibError(f"{name} must be a finite number > 0, got {lr!r}")
    if not math.isfinite(lr) or lr <= 0:
        raise EvalibError(f"{name} must be a finite number > 0, got {lr}")
    return float(lr)


def seed_everything(seed: int) -> None:
    """Seed torch's global generator, which model initialisation draws from.

    evalib itself never uses global RNGs: batch order, augmentation and sampling take
    explicit generators built from a seed."""
    torch.manual_seed(seed)


def train(
    model: nn.Module,
    train_split: Split,
    recipe: Recipe = Recipe(),
    seed: int = 0,
    *,
    val: Split | None = None,
    test: Split | None = None,
    sample_ids: np.ndarray | None = None,
    sample_weights: np.ndarray | None = None,
    record: bool = True,
    eval_pass_epochs: Sequence[int] = (),
    device: str | torch.device | None = None,
    threads: int | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every_s: float | None = None,
    test_every_eval: bool = False,
    progress: bool = True,
    desc: str = "train",
    meta: dict[str, Any] | None = None,
    on_epoch_end: Callable[[int], None] | None = None,
    cuda_graphs: bool | None = None,
    cuda_channels_last: bool | None = None,
) -> TrainResult:
    """Train ``model`` on ``train_split``; optionally record dynamics and evaluate.

    Args:
        train_split: images uint8 [N, C, H, W] and labels [N].
        seed: seeds the batch order and augmentation (model init is the caller's).
        sample_ids: [N] indices of these samples in the full split (default 0..N-1).
        sample_weights: [N] non-negative per-sample loss weights (default all 1).
        record: keep float16 log-softmax [T, N, C] of every training forward pass.
        eval_pass_epochs: epochs (0-indexed, −1 = last) after which an eval-mode pass
            over the training samples is recorded (Entropy uses the last one).
        checkpoint_dir: if given, state is saved atomically after the last epoch and
            after the first epoch that ends ``checkpoint_every_s`` or more after the
            previous save (or the start), and a run found there is resumed; the result
            equals an uninterrupted run on CPU, whatever the cadence.
        checkpoint_every_s: seconds between checkpoints (a kill loses at most this much
            work plus the epoch in flight); 0 saves after every epoch; None:
            ``$EVALIB_CHECKPOINT_EVERY`` or ``checkpoints.CHECKPOINT_EVERY_S``. A runtime
            setting: it never changes the result.
        test_every_eval: evaluate ``test`` at every evaluation, not only after the last
            epoch (the clean protocol needs only the last).
        cuda_graphs: on CUDA only, run the training forward and backward through
            ``torch.compile(mode="reduce-overhead")`` (CUDA graphs: one launch per step
            instead of one per kernel). None: on unless ``$EVALIB_CUDA_GRAPHS=0``.
        cuda_channels_last: on CUDA only, keep the model and batches in
            ``torch.channels_last`` (what tensor-core convolutions want). None: on unless
            ``$EVALIB_CUDA_CHANNELS_LAST=0``. ``recipe.channels_last`` forces it anywhere.
            Neither CUDA speed-up has been measured by this project (it had no GPU);
            both are off on the CPU, where results are bitwise reproducible.
    """
    dev = pick_device(device)
    check_lr(recipe.lr, "recipe.lr")
    if threads is not None:
        torch.set_num_threads(check_positive_int("threads", threads))
    n = len(train_split)
    if n == 0:
        raise EvalibError("the training set is empty")
    for name, split in (("validation", val), ("test", test)):
        if split is not None and len(split) == 0:
            raise EvalibError(f"the {name} split is empty; it needs at least one image")
    total_steps = recipe.total_steps(n)
    num_epochs = recipe.num_epochs(n)
    per_epoch = recipe.steps_per_epoch(n)
    eval_epochs = sorted({e % num_epochs for e in eval_pass_epochs})
    num_classes = _num_classes(model)

    images = train_split.images.to(dev)
    labels = train_split.labels.to(dev)
    weights = None
    if sample_weights is not None:
        sw = np.asarray(sample_weights, dtype=np.float32)
        if sw.shape != (n,) or (sw < 0).any() or not np.isfinite(sw).all():
            raise EvalibError(f"sample_weights must be [{n}] finite and ≥ 0")
        weights = torch.from_numpy(sw).to(dev)
    every_s = checkpoint_every(checkpoint_every_s)
    on_cuda = dev.type == "cuda"
    use_graphs = on_cuda and env_flag(cuda_graphs, ENV_CUDA_GRAPHS)
    channels_last = recipe.channels_last or (
        on_cuda and env_flag(cuda_channels_last, ENV_CUDA_CHANNELS_LAST)
    )
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(dev, memory_format=memory_format)
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=recipe.lr,
        momentum=recipe.momentum,
        nesterov=recipe.nesterov,
        weight_decay=recipe.weight_decay,
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=total_steps, eta_min=recipe.min_lr
    )
    scaler = torch.amp.GradScaler("cuda", enabled=recipe.amp == "fp16" and dev.type == "cuda")
    gen = torch.Generator(device="cpu").manual_seed(int(seed))

    config = None
    if checkpoint_dir is not None:
        config = run_config(
            model, train_split, recipe, seed, record, eval_epochs, sample_ids, weights
        )
    store = EpochStore(
        checkpoint_dir, num_epochs, n, num_classes, len(eval_epochs), record, config, every_s
    )
    state = store.resume(model, optimizer, scheduler, scaler, gen)
    forward = compiled(model) if use_graphs else model
    history: list[dict[str, float]] = state.get("history", [])
    start_epoch, step = state.get("epoch", 0), state.get("step", 0)
    elapsed0 = state.get("seconds", 0.0)

    epoch_logp = torch.empty((n, num_classes), dtype=torch.float16, device=dev)
    epoch_seen = torch.zeros(n, dtype=torch.bool, device=dev)
    t0 = time.perf_counter()
    bar = _progress(num_epochs, start_epoch, progress, desc)
    try:
        for epoch in range(start_epoch, num_epochs):
            model.train()
            perm = torch.randperm(n, generator=gen).to(dev, non_blocking=True)
            steps_now = min(per_epoch, total_steps - step)
            loss_sum = torch.zeros((), device=dev)
            correct = torch.zeros((), device=dev, dtype=torch.long)
            epoch_seen.zero_()
            for b in range(steps_now):
                idx = perm[b * recipe.batch_size : (b + 1) * recipe.batch_size]
                x = to_float(images[idx])
                if recipe.augment != "none":
                    x = _augment(x, gen, flip=recipe.augment == "crop_flip")
                x = x.contiguous(memory_format=memory_format)
                y = labels[idx]
                if forward is not model:  # a new step for the CUDA graphs
                    torch.compiler.cudagraph_mark_step_begin()
                with autocast(dev, recipe.amp):
                    logits = forward(x)
                logits = logits.float()
                per_sample = F.cross_entropy(logits, y, reduction="none")
                if weights is None:
                    loss = per_sample.mean()
                else:
                    w = weights[idx]
                    loss = (per_sample * w).sum() / w.sum().clamp_min(1e-12)
                if record:
                    epoch_logp[idx] = F.log_softmax(logits.detach(), dim=1).half()
                    epoch_seen[idx] = True
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                scheduler.step()
                loss_sum += per_sample.detach().sum()
                correct += (logits.detach().argmax(1) == y).sum()
            step += steps_now
            seen_count = min(n, steps_now * recipe.batch_size)
            row: dict[str, float] = {
                "epoch": epoch,
                "step": step,
                "lr": optimizer.param_groups[0]["lr"],
                "train_loss": float(loss_sum) / seen_count,
                "train_acc": float(correct) / seen_count,
            }
            last = epoch == num_epochs - 1
            if val is not None or test is not None:
                if last or (epoch + 1) % recipe.eval_every == 0:
                    if val is not None:
                        row["val_acc"] = evaluate(model, val, recipe, dev, memory_format)
                    if test is not None and (last or test_every_eval):
                        row["test_acc"] = evaluate(model, test, recipe, dev, memory_format)
            eval_pass = None
            if epoch in eval_epochs:
                eval_pass = predict_log_probs(model, train_split, recipe, dev, memory_format)
            row["seconds"] = elapsed0 + time.perf_counter() - t0
            history.append(row)
            store.commit_epoch(
                last,
                epoch,
                step,
                history,
                epoch_logp if record else None,
                epoch_seen if record else None,
                eval_epochs.index(epoch) if eval_pass is not None else None,
                eval_pass,
                model,
                optimizer,
                scheduler,
                scaler,
                gen,
            )
            bar.set_postfix(_postfix(row), refresh=False)
            bar.update(1)
            if on_epoch_end is not None:
                on_epoch_end(epoch)
    finally:
        bar.close()
    seconds = elapsed0 + time.perf_counter() - t0
    run_meta = {
        "recipe": asdict(recipe),
        "seed": int(seed),
        "device": dev.type,
        "steps": step,
        "epochs": num_epochs,
        **(meta or {}),
    }
    if on_cuda:  # runtime choices that change GPU numerics (not bitwise anyway)
        run_meta["cuda"] = {"graphs": forward is not model, "channels_last": channels_last}
    dynamics = None
    if record:
        ids = (
            np.arange(n, dtype=np.int64) if sample_ids is None else np.asarray(sample_ids, np.int64)
        )
        dynamics = store.dynamics(train_split.labels.numpy(), ids, eval_epochs, run_meta)
    return TrainResult(model, history, dynamics, step, seconds, run_meta)


@torch.no_grad()
def predict_log_probs(
    model: nn.Module,
    split: Split,
    recipe: Recipe = Recipe(),
    device: torch.device | None = None,
    memory_format: torch.memory_format | None = None,
) -> np.ndarray:
    """Eval-mode float16 log-softmax [N, C] for every sample of ``split``."""
    dev = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    fmt = memory_format if memory_format is not None else _memory_format(recipe)
    for start in range(0, len(split), recipe.eval_batch_size):
        x = to_float(split.images[start : start + recipe.eval_batch_size].to(dev))
        with autocast(dev, recipe.amp):
            logits = model(x.contiguous(memory_format=fmt))
        out.append(F.log_softmax(logits.float(), dim=1).half().cpu())
    model.train(was_training)
    return torch.cat(out).numpy()


@torch.no_grad()
def evaluate(
    model: nn.Module,
    split: Split,
    recipe: Recipe = Recipe(),
    device: torch.device | None = None,
    memory_format: torch.memory_format | None = None,
) -> float:
    """Top-1 accuracy (fraction) of ``model`` in eval mode on every sample of ``split``."""
    if len(split) == 0:
        raise EvalibError("cannot evaluate on an empty split")
    dev = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=dev)
    fmt = memory_format if memory_format is not None else _memory_format(recipe)
    for start in range(0, len(split), recipe.eval_batch_size):
        x = to_float(split.images[start : start + recipe.eval_batch_size].to(dev))
        y = split.labels[start : start + recipe.eval_batch_size].to(dev)
        with autocast(dev, recipe.amp):
            logits = model(x.contiguous(memory_format=fmt))
        correct += (logits.argmax(1) == y).sum()
    model.train(was_training)
    return float(correct) / len(split)


@torch.no_grad()
def predictions(model: nn.Module, split: Split, recipe: Recipe = Recipe()) -> np.ndarray:
    """Eval-mode predicted class [N] int64 for every sample of ``split``."""
    return predict_log_probs(model, split, recipe).argmax(1).astype(np.int64)


# ----------------------------------------------------------------------------- internals


def _memory_format(recipe: Recipe) -> torch.memory_format:
    return torch.channels_last if recipe.channels_last else torch.contiguous_format


def _num_classes(model: nn.Module) -> int:
    n = getattr(model, "num_classes", None)
    if n is None:
        linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
        if not linears:
            raise EvalibError("cannot tell the number of classes: model has no Linear head")
        n = linears[-1].out_features
    return int(n)


def _augment(x: torch.Tensor, gen: torch.Generator, flip: bool, pad: int = 2) -> torch.Tensor:
    """Random translation by up to ``pad`` pixels (zero padding), optional horizontal flip.

    Flips are off by default: left/right organs are distinct classes in OrganMNIST.
    """
    b, _, h, w = x.shape
    offsets = torch.randint(0, 2 * pad + 1, (2, b), generator=gen).to(x.device)
    padded = F.pad(x, (pad, pad, pad, pad), value=-1.0)
    rows = offsets[0][:, None] + torch.arange(h, device=x.device)
    cols = offsets[1][:, None] + torch.arange(w, device=x.device)
    batch = torch.arange(b, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]
    out = out.permute(0, 3, 1, 2)
    if flip:
        mask = (torch.rand(b, generator=gen) < 0.5).to(x.device)
        out = torch.where(mask[:, None, None, None], out.flip(3), out)
    return out


def _postfix(row: dict[str, float]) -> dict[str, str]:
    keys = ("train_loss", "train_acc", "val_acc", "test_acc")
    return {k.replace("train_", ""): f"{row[k]:.3f}" for k in keys if k in row}


def _progress(total: int, initial: int, enabled: bool, desc: str):
    return progress_bar(enabled, total=total, initial=initial, desc=desc, unit="epoch")
