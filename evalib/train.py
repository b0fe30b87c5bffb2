"""One training loop for surrogate and coreset runs, recording per-sample dynamics.

Data sits on the device as uint8 tensors; a batch is an index slice converted to float
on the fly. No DataLoader, no PIL, no per-sample Python, and on a GPU no host
synchronisation inside an epoch (loss and accuracy are summed on the device).

Defaults are the official EVA recipe: SGD with Nesterov momentum 0.9, lr 0.1, weight
decay 5e-4, cosine annealing stepped every iteration down to 1e-4, batch 256, inputs
scaled to [−1, 1], no augmentation, 200 epochs.

:func:`train` is the epoch loop; what it carries is in small pieces: the training data
on the device (:class:`TrainingData`, which converts and augments batches) and, from
:mod:`evalib.train_parts`, the optimiser with its schedule and loss scaler, the evaluation
schedule, the epoch record and the acceleration settings; :mod:`evalib.checkpoints`
stores the epochs and resumes a run.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from evalib.accel import autocast, compiled
from evalib.checkpoints import EpochStore, checkpoint_every, run_config
from evalib.data import Split, to_float
from evalib.devices import pick_device
from evalib.dynamics import Dynamics
from evalib.errors import EvalibError
from evalib.io import progress_bar
from evalib.train_parts import Acceleration, EpochRecord, EvalSchedule, Optimisation

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
    """What a run produced. ``history`` has one dict per epoch (epoch is 0-indexed,
    accuracies are fractions in [0, 1], seconds are wall time since the start);
    ``test_predictions``: the final model's predicted class [N_test] int64 (as
    :func:`predictions` gives them), None when no test split was given."""

    model: nn.Module
    history: list[dict[str, float]]
    dynamics: Dynamics | None
    steps: int
    seconds: float
    meta: dict[str, Any] = field(default_factory=dict)
    test_predictions: np.ndarray | None = None


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
        val, test: evaluated as :class:`~evalib.train_parts.EvalSchedule` says: val every
            ``recipe.eval_every`` epochs and after the last, test after the last (its
            predictions come back as ``TrainResult.test_predictions``).
        sample_ids: [N] indices of these samples in the full split (default 0..N-1).
        sample_weights: [N] non-negative per-sample loss weights (default all 1).
        record: keep float16 log-softmax [T, N, C] of every training forward pass.
        eval_pass_epochs: epochs (0-indexed, −1 = last) after which an eval-mode pass
            over the training samples is recorded (Entropy uses the last one).
        threads: torch CPU threads (``torch.set_num_threads``, for the whole process).
        checkpoint_dir: if given, state is saved atomically after the last epoch and
            after the first epoch that ends ``checkpoint_every_s`` or more after the
            previous save (or the start), and a run found there is resumed; the result
            equals an uninterrupted run on CPU, whatever the cadence.
        checkpoint_every_s: seconds between checkpoints (a kill loses at most this much
            work plus the epoch in flight); 0 saves after every epoch; None:
            ``$EVALIB_CHECKPOINT_EVERY`` or ``checkpoints.CHECKPOINT_EVERY_S``. A runtime
            setting: it never changes the result.
        on_epoch_end: called with each epoch (0-indexed) once it is stored.
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
    n = _check_sizes(train_split, val, test)
    total_steps, per_epoch = recipe.total_steps(n), recipe.steps_per_epoch(n)
    schedule = EvalSchedule.of(recipe.num_epochs(n), recipe.eval_every, eval_pass_epochs)
    num_classes = _num_classes(model)
    data = TrainingData.on(dev, train_split, sample_weights)
    every_s = checkpoint_every(checkpoint_every_s)
    accel = Acceleration.choose(dev, recipe.amp, recipe.channels_last, cuda_graphs,
                                cuda_channels_last)  # fmt: skip
    model = accel.place(model)
    opt = Optimisation.of(model, recipe, total_steps, accel.grad_scaler())
    gen = torch.Generator(device="cpu").manual_seed(int(seed))

    passes = schedule.eval_pass_epochs
    config = None
    if checkpoint_dir is not None:
        config = run_config(model, train_split, recipe, seed, record, passes, sample_ids,
                            data.weights)  # fmt: skip
    store = EpochStore(checkpoint_dir, schedule.epochs, n, num_classes, len(passes), record,
                       config, every_s)  # fmt: skip
    state = store.resume(model, *opt.parts(), gen)
    forward = compiled(model) if accel.graphs else model
    history: list[dict[str, float]] = state.get("history", [])
    start_epoch, step = state.get("epoch", 0), state.get("step", 0)
    elapsed0 = state.get("seconds", 0.0)
    epoch_record = EpochRecord(n, num_classes, dev) if record else None
    fmt, test_predictions = accel.memory_format, None

    t0 = time.perf_counter()
    bar = _progress(schedule.epochs, start_epoch, progress, desc)
    try:
        for epoch in range(start_epoch, schedule.epochs):
            steps_now = min(per_epoch, total_steps - step)
            loss_sum, correct = _train_epoch(model, forward, data, steps_now, recipe, gen,
                                             accel, opt, epoch_record)  # fmt: skip
            step += steps_now
            seen_count = min(n, steps_now * recipe.batch_size)
            row: dict[str, float] = {
                "epoch": epoch,
                "step": step,
                "lr": opt.lr,
                "train_loss": float(loss_sum) / seen_count,
                "train_acc": float(correct) / seen_count,
            }
            if val is not None and schedule.validates(epoch):
                row["val_acc"] = evaluate(model, val, recipe, dev, fmt)
            if test is not None and schedule.tests(epoch):
                row["test_acc"], test_predictions = evaluate_and_predict(
                    model, test, recipe, dev, fmt
                )
            eval_row, eval_pass = schedule.eval_pass_row(epoch), None
            if eval_row is not None:
                eval_pass = predict_log_probs(model, train_split, recipe, dev, fmt)
            row["seconds"] = elapsed0 + time.perf_counter() - t0
            history.append(row)
            logp, seen = (None, None) if epoch_record is None else epoch_record.tensors()
            store.commit_epoch(schedule.is_last(epoch), epoch, step, history, logp, seen,
                               eval_row, eval_pass, model, *opt.parts(), gen)  # fmt: skip
            bar.set_postfix(_postfix(row), refresh=False)
            bar.update(1)
            if on_epoch_end is not None:
                on_epoch_end(epoch)
    finally:
        bar.close()
    seconds = elapsed0 + time.perf_counter() - t0
    if test is not None and test_predictions is None:  # a finished run resumed: no epoch ran
        test_predictions = evaluate_and_predict(model, test, recipe, dev, fmt)[1]
    run_meta = {"recipe": asdict(recipe), "seed": int(seed), "device": dev.type, "steps": step,
                "epochs": schedule.epochs, **(meta or {})}  # fmt: skip
    if (cuda := accel.cuda_meta(compiled=forward is not model)) is not None:
        run_meta["cuda"] = cuda  # runtime choices that change GPU numerics (not bitwise anyway)
    dynamics = None
    if record:
        ids = np.arange(n, dtype=np.int64) if sample_ids is None else sample_ids
        dynamics = store.dynamics(train_split.labels.numpy(), np.asarray(ids, np.int64),
                                  passes, run_meta)  # fmt: skip
    return TrainResult(model, history, dynamics, step, seconds, run_meta, test_predictions)


def _train_epoch(
    model: nn.Module,
    forward: nn.Module,
    data: TrainingData,
    steps: int,
    recipe: Recipe,
    gen: torch.Generator,
    accel: Acceleration,
    opt: Optimisation,
    epoch_record: EpochRecord | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``steps`` optimiser steps over a fresh permutation of the samples (drawn from
    ``gen``, then each batch's augmentation); returns the sum of per-sample losses and
    the count of right predictions, both still on the device."""
    model.train()
    perm = torch.randperm(len(data), generator=gen).to(accel.device, non_blocking=True)
    loss_sum = torch.zeros((), device=accel.device)
    correct = torch.zeros((), device=accel.device, dtype=torch.long)
    if epoch_record is not None:
        epoch_record.start_epoch()
    for b in range(steps):
        idx = perm[b * recipe.batch_size : (b + 1) * recipe.batch_size]
        x, y = data.batch(idx, recipe.augment, gen, accel)
        if forward is not model:  # a new step for the CUDA graphs
            torch.compiler.cudagraph_mark_step_begin()
        with accel.autocast():
            logits = forward(x)
        logits = logits.float()
        per_sample = F.cross_entropy(logits, y, reduction="none")
        if epoch_record is not None:
            epoch_record.put(idx, logits)
        opt.step(data.loss(per_sample, idx))
        loss_sum += per_sample.detach().sum()
        correct += (logits.detach().argmax(1) == y).sum()
    return loss_sum, correct


@dataclass(frozen=True)
class TrainingData:
    """The training split on the device: images uint8 [N, C, H, W], labels [N] and
    optional per-sample loss weights float32 [N] (None: all 1)."""

    images: torch.Tensor
    labels: torch.Tensor
    weights: torch.Tensor | None = None

    @classmethod
    def on(cls, dev: torch.device, split: Split, sample_weights: Any = None) -> TrainingData:
        """``split`` (and ``sample_weights``, [N] finite and ≥ 0) moved to ``dev``."""
        images, labels = split.images.to(dev), split.labels.to(dev)
        if sample_weights is None:
            return cls(images, labels)
        n = len(split)
        sw = np.asarray(sample_weights, dtype=np.float32)
        if sw.shape != (n,) or (sw < 0).any() or not np.isfinite(sw).all():
            raise EvalibError(f"sample_weights must be [{n}] finite and ≥ 0")
        return cls(images, labels, torch.from_numpy(sw).to(dev))

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, idx: torch.Tensor, augment: str, gen: torch.Generator, accel: Acceleration):
        """Inputs float [B, C, H, W] in [−1, 1] (augmented with ``gen`` unless ``augment``
        is "none") and labels [B] of the samples ``idx`` [B]."""
        x = to_float(self.images[idx])
        if augment != "none":
            x = _augment(x, gen, flip=augment == "crop_flip")
        return accel.batch(x), self.labels[idx]

    def loss(self, per_sample: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """The batch loss: the mean of ``per_sample`` [B], weighted when weights are set."""
        if self.weights is None:
            return per_sample.mean()
        w = self.weights[idx]
        return (per_sample * w).sum() / w.sum().clamp_min(1e-12)


# ----------------------------------------------------------------------------- evaluation


def _eval_logits(
    model: nn.Module,
    split: Split,
    recipe: Recipe,
    device: torch.device | None,
    memory_format: torch.memory_format | None,
) -> Iterator[tuple[int, torch.Tensor]]:
    """Eval-mode logits [B, C] of ``split``'s batches of ``recipe.eval_batch_size``, in
    order, as (start, logits); the model's training mode is restored at the end."""
    dev = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    fmt = memory_format if memory_format is not None else _memory_format(recipe)
    for start in range(0, len(split), recipe.eval_batch_size):
        x = to_float(split.images[start : start + recipe.eval_batch_size].to(dev))
        with autocast(dev, recipe.amp):
            logits = model(x.contiguous(memory_format=fmt))
        yield start, logits
    model.train(was_training)


@torch.no_grad()
def predict_log_probs(
    model: nn.Module,
    split: Split,
    recipe: Recipe = Recipe(),
    device: torch.device | None = None,
    memory_format: torch.memory_format | None = None,
) -> np.ndarray:
    """Eval-mode float16 log-softmax [N, C] for every sample of ``split``."""
    out = [_log_probs(logits) for _, logits in _eval_logits(model, split, recipe, device,
                                                            memory_format)]  # fmt: skip
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
    return evaluate_and_predict(model, split, recipe, device, memory_format, predict=False)[0]


@torch.no_grad()
def evaluate_and_predict(
    model: nn.Module,
    split: Split,
    recipe: Recipe = Recipe(),
    device: torch.device | None = None,
    memory_format: torch.memory_format | None = None,
    predict: bool = True,
) -> tuple[float, np.ndarray | None]:
    """One eval-mode pass over ``split``: the accuracy :func:`evaluate` gives (argmax of
    the logits) and the predicted class [N] int64 :func:`predictions` gives (argmax of
    the float16 log-softmax; None unless ``predict``), from the same forward passes."""
    if len(split) == 0:
        raise EvalibError("cannot evaluate on an empty split")
    dev = device or next(model.parameters()).device
    correct = torch.zeros((), dtype=torch.long, device=dev)
    log_probs = []
    for start, logits in _eval_logits(model, split, recipe, dev, memory_format):
        y = split.labels[start : start + recipe.eval_batch_size].to(dev)
        correct += (logits.argmax(1) == y).sum()
        if predict:
            log_probs.append(_log_probs(logits))
    accuracy = float(correct) / len(split)
    if not predict:
        return accuracy, None
    return accuracy, torch.cat(log_probs).numpy().argmax(1).astype(np.int64)


@torch.no_grad()
def predictions(model: nn.Module, split: Split, recipe: Recipe = Recipe()) -> np.ndarray:
    """Eval-mode predicted class [N] int64 for every sample of ``split``."""
    return predict_log_probs(model, split, recipe).argmax(1).astype(np.int64)


# ----------------------------------------------------------------------------- internals


def _log_probs(logits: torch.Tensor) -> torch.Tensor:
    """float16 log-softmax [B, C] on the CPU of logits [B, C] (computed in float32)."""
    return F.log_softmax(logits.float(), dim=1).half().cpu()


def _memory_format(recipe: Recipe) -> torch.memory_format:
    return torch.channels_last if recipe.channels_last else torch.contiguous_format


def _check_sizes(train_split: Split, val: Split | None, test: Split | None) -> int:
    """N, the training set's size; a one-line error for an empty split."""
    n = len(train_split)
    if n == 0:
        raise EvalibError("the training set is empty")
    for name, split in (("validation", val), ("test", test)):
        if split is not None and len(split) == 0:
            raise EvalibError(f"the {name} split is empty; it needs at least one image")
    return n


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
