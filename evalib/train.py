"""One training loop for surrogate and coreset runs, recording per-sample dynamics.

Data sits on the device as uint8 tensors; a batch is an index slice converted to float
on the fly. No DataLoader, no PIL, no per-sample Python, and on a GPU no host
synchronisation inside an epoch (loss and accuracy are summed on the device).

Defaults are the official EVA recipe: SGD with Nesterov momentum 0.9, lr 0.1, weight
decay 5e-4, cosine annealing stepped every iteration down to 1e-4, batch 256, inputs
scaled to [−1, 1], no augmentation, 200 epochs.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from evalib.data import Split, to_float
from evalib.dynamics import Dynamics
from evalib.errors import EvalibError
from evalib.io import atomic_file, claim_dir, progress_bar

AMP_MODES = ("none", "bf16", "fp16")
AUGMENTS = ("none", "crop", "crop_flip")

#: seconds between checkpoints when train() is not told (``$EVALIB_CHECKPOINT_EVERY``)
CHECKPOINT_EVERY_S = 300.0
ENV_CHECKPOINT_EVERY = "EVALIB_CHECKPOINT_EVERY"
#: "0" turns off a CUDA-only speed-up that train() is not told about
ENV_CUDA_GRAPHS = "EVALIB_CUDA_GRAPHS"
ENV_CUDA_CHANNELS_LAST = "EVALIB_CUDA_CHANNELS_LAST"

_now = time.monotonic  # the checkpoint clock (the tests replace it)


class CheckpointMismatch(EvalibError):
    """A checkpoint folder holds the state of another run (other config, data or code)."""


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


DEVICES = "auto, cpu, cuda, cuda:N or mps"
# Rough CPU speed of a width-1 ResNet-18 on 28×28 images (forward + backward + step),
# measured on this project's 2-core machines; used only to size the warning below.
RESNET18_IMAGES_PER_CORE_SECOND = 20.0


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def cuda_problem() -> str:
    """Why CUDA cannot be used on this machine, in words (for one-line messages)."""
    if torch.version.cuda is None:
        return "this torch build has no CUDA support (a CPU-only build); install a CUDA build"
    return (
        f"torch is built for CUDA {torch.version.cuda} but cannot use a GPU "
        "(torch.cuda.is_available() is False): no GPU, or a driver too old for that "
        "CUDA version; check nvidia-smi"
    )


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The torch device to train on, checked to exist.

    ``None`` or ``"auto"``: CUDA when usable, else an Apple-silicon GPU (MPS), else the CPU.
    Otherwise ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``; a typo or a device this
    machine lacks is a one-line EvalibError. On MPS, operations it lacks fall back to
    the CPU when ``PYTORCH_ENABLE_MPS_FALLBACK=1`` was set before torch was imported
    (``import evalib`` sets it on macOS)."""
    if device is None or str(device).strip().lower() in ("", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    text = str(device).strip()
    try:
        dev = torch.device(text.lower())
    except (RuntimeError, ValueError, TypeError):
        raise EvalibError(f"device {text!r} is not a device name; use {DEVICES}") from None
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise EvalibError(f"device {text!r} is not available: {cuda_problem()}")
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise EvalibError(
                f"device {text!r} does not exist: this machine has {count} CUDA device(s), "
                f"cuda:0 to cuda:{count - 1}"
            )
        return dev
    if dev.type == "mps":
        if not _mps_available():
            raise EvalibError(
                f"device {text!r} is not available: no Apple-silicon GPU is usable here "
                "(torch.backends.mps.is_available() is False)"
            )
        return dev
    raise EvalibError(f"device {text!r} is not supported; use {DEVICES}")


def device_warning(requested: str | torch.device | None, dev: torch.device) -> str | None:
    """A one-line warning when a GPU was expected but ``dev`` is the CPU, else None: a torch
    built for CUDA that cannot reach a GPU (often a driver that does not match the build)."""
    auto = requested is None or str(requested).strip().lower() in ("", "auto")
    if dev.type == "cpu" and auto and torch.version.cuda is not None:
        return f"{cuda_problem()}; training runs on the CPU"
    if dev.type == "mps" and os.environ.get("PYTORCH_ENABLE_MPS_FALLBACK") != "1":
        return (
            "training on MPS without PYTORCH_ENABLE_MPS_FALLBACK=1: an operation MPS lacks "
            "will fail; set it before Python starts to run such operations on the CPU"
        )
    return None


def cpu_hours(model: str, width: float, images: int, epochs: int) -> float | None:
    """Estimated CPU-core-hours of training ``model`` (ResNet-18 family only, else None) on
    ``images`` 28×28 images for ``epochs`` epochs; cost grows with width² (FLOPs)."""
    if model != "resnet18":
        return None
    per_second = RESNET18_IMAGES_PER_CORE_SECOND / max(width, 1e-3) ** 2
    return images * epochs / per_second / 3600


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
            ``$EVALIB_CHECKPOINT_EVERY`` or ``CHECKPOINT_EVERY_S``. A runtime setting:
            it never changes the result.
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
    every_s = _checkpoint_every(checkpoint_every_s)
    on_cuda = dev.type == "cuda"
    use_graphs = on_cuda and _env_flag(cuda_graphs, ENV_CUDA_GRAPHS)
    channels_last = recipe.channels_last or (on_cuda and _env_flag(cuda_channels_last,
                                                                    ENV_CUDA_CHANNELS_LAST))  # fmt: skip
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
        config = _run_config(
            model, train_split, recipe, seed, record, eval_epochs, sample_ids, weights
        )
    store = _Store(
        checkpoint_dir, num_epochs, n, num_classes, len(eval_epochs), record, config, every_s
    )
    state = store.resume(model, optimizer, scheduler, scaler, gen)
    forward = _compiled(model) if use_graphs else model
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
                with _autocast(dev, recipe.amp):
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
        with _autocast(dev, recipe.amp):
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
        with _autocast(dev, recipe.amp):
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


def _env_flag(value: bool | None, env: str) -> bool:
    """``value`` if given, else on unless the environment variable ``env`` is "0"."""
    return bool(value) if value is not None else os.environ.get(env, "1") != "0"


def _checkpoint_every(seconds: float | None) -> float:
    """The checkpoint cadence in seconds: ``seconds``, else ``$EVALIB_CHECKPOINT_EVERY``,
    else ``CHECKPOINT_EVERY_S``; ≥ 0 (0: every epoch; ``inf``: only the last)."""
    if seconds is None:
        text = os.environ.get(ENV_CHECKPOINT_EVERY)
        try:
            seconds = float(text) if text else CHECKPOINT_EVERY_S
        except ValueError:
            raise EvalibError(
                f"${ENV_CHECKPOINT_EVERY} must be a number of seconds, got {text!r}"
            ) from None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds >= 0:
        raise EvalibError(f"checkpoint_every_s must be a number of seconds ≥ 0, got {seconds!r}")
    return float(seconds)


def _compiled(model: nn.Module) -> nn.Module:
    """``model`` compiled with CUDA graphs, or ``model`` itself where Triton (which
    ``torch.compile`` needs on CUDA) is missing. The compiled module shares the model's
    parameters; checkpoints keep saving the model's own state dict."""
    try:
        from torch.utils._triton import has_triton

        ready = has_triton()
    except ImportError:
        ready = False
    if not ready:
        import warnings

        warnings.warn(
            "Triton is not installed: training without CUDA graphs "
            f"(set {ENV_CUDA_GRAPHS}=0 to silence this)",
            stacklevel=3,
        )
        return model
    return torch.compile(model, mode="reduce-overhead", dynamic=False)


def _num_classes(model: nn.Module) -> int:
    n = getattr(model, "num_classes", None)
    if n is None:
        linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
        if not linears:
            raise EvalibError("cannot tell the number of classes: model has no Linear head")
        n = linears[-1].out_features
    return int(n)


def _autocast(dev: torch.device, amp: str):
    if amp == "none":
        return torch.autocast(dev.type, enabled=False)
    if amp == "fp16" and dev.type != "cuda":
        raise EvalibError(
            "amp='fp16' needs a CUDA device; use 'bf16' on the CPU",
            cli="--amp fp16 needs a CUDA device; use --amp bf16 on the CPU",
        )
    return torch.autocast(dev.type, dtype=torch.bfloat16 if amp == "bf16" else torch.float16)


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


def _run_config(model, split, recipe, seed, record, eval_epochs, sample_ids, weights) -> dict:
    """What must match for a checkpoint to be resumed: sizes, recipe, seed, the model's
    layer layout (a digest of its repr, so a changed architecture with the same
    parameters is not resumed) and a digest of the training data, ids and weights (so a
    different subset is never mixed in)."""
    digest = hashlib.blake2b(digest_size=16)
    for t in (split.images, split.labels, weights):
        if t is not None:
            digest.update(np.ascontiguousarray(t.detach().cpu().numpy()).data)
    if sample_ids is not None:
        digest.update(np.ascontiguousarray(np.asarray(sample_ids, np.int64)).data)
    return {
        "samples": len(split),
        "image_shape": list(split.images.shape[1:]),
        "model": type(model).__name__,
        "parameters": sum(p.numel() for p in model.parameters()),
        "architecture": hashlib.blake2b(repr(model).encode(), digest_size=8).hexdigest(),
        "recipe": asdict(recipe),
        "seed": int(seed),
        "record": bool(record),
        "eval_pass_epochs": list(eval_epochs),
        "weighted": weights is not None,
        "data_digest": digest.hexdigest(),
    }


class _Store:
    """Holds recorded epochs; with a folder, also checkpoints the run on a cadence.

    Layout of ``checkpoint_dir``: ``log_probs.npy`` [T, N, C] float16 and ``seen.npy``
    [T, N] (memory-mapped, rows written as epochs finish), ``eval.npy`` [E, N, C], and
    ``state.pt`` (model, optimiser, scheduler, RNG, history, epochs done, run config).
    ``state.pt`` is written after the last epoch and after the first epoch that ends
    ``every_s`` seconds or more after the previous write (or the start); it is replaced
    atomically after the rows are flushed, so it never points past durable data. Rows
    of epochs after ``state.pt``'s are rewritten on resume. A folder without
    ``state.pt`` holds no finished epoch and is started afresh; one whose ``state.pt``
    has another run config is refused.
    """

    def __init__(
        self,
        folder,
        epochs: int,
        n: int,
        c: int,
        e: int,
        record: bool,
        config=None,
        every_s: float = 0.0,
    ) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.record = record
        self.config = config or {}
        self.every_s = every_s
        self.last_save = _now()
        self.state: dict[str, Any] = {}
        shapes = {"log_probs": (epochs, n, c), "seen": (epochs, n), "eval": (e, n, c)}
        dtypes = {"log_probs": np.float16, "seen": np.bool_, "eval": np.float16}
        self.arrays: dict[str, np.ndarray] = {}
        if self.folder is not None:
            claim_dir(self.folder, "checkpoint", legacy=is_checkpoint_dir, what="checkpoint folder")
            for stale in self.folder.glob(".state.*.tmp"):  # left by a kill during a save
                stale.unlink(missing_ok=True)
            if (self.folder / "state.pt").exists():
                self.state = self._load_state()
        for name, shape in shapes.items():
            if not record and name != "eval":
                continue
            if self.folder is None:
                self.arrays[name] = np.zeros(shape, dtypes[name])
                continue
            path = self.folder / f"{name}.npy"
            try:
                if self.state:
                    arr = np.lib.format.open_memmap(path, mode="r+")
                else:
                    arr = np.lib.format.open_memmap(
                        path, mode="w+", dtype=dtypes[name], shape=shape
                    )
            except (OSError, ValueError) as exc:
                raise EvalibError(
                    f"checkpoint file {path} is missing or unreadable ({exc}); "
                    "delete the folder to start over"
                ) from exc
            if arr.shape != shape or arr.dtype != dtypes[name]:
                raise EvalibError(
                    f"checkpoint {path} has shape {arr.shape} {arr.dtype}, expected "
                    f"{shape} {np.dtype(dtypes[name])}; delete the folder to start over"
                )
            self.arrays[name] = arr

    def _load_state(self) -> dict[str, Any]:
        path = self.folder / "state.pt"
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise EvalibError(
                f"checkpoint {path} is unreadable ({type(exc).__name__}: {exc}); "
                "delete the folder to start over"
            ) from exc
        found = state.get("config") if isinstance(state, dict) else None
        if found != self.config:
            there, here = _flat(found if isinstance(found, dict) else {}), _flat(self.config)
            diff = [
                f"{k} {there.get(k, 'absent')!r} there, {here.get(k, 'absent')!r} here"
                for k in sorted(set(there) | set(here))
                if there.get(k) != here.get(k)
            ]
            raise CheckpointMismatch(
                f"checkpoint in {self.folder} is from a different run ({'; '.join(diff)}); "
                "delete the folder or use another checkpoint folder"
            )
        return state

    def resume(self, model, optimizer, scheduler, scaler, gen) -> dict[str, Any]:
        if not self.state:
            return {}
        try:
            model.load_state_dict(self.state["model"])
            optimizer.load_state_dict(self.state["optimizer"])
            scheduler.load_state_dict(self.state["scheduler"])
            scaler.load_state_dict(self.state["scaler"])
            gen.set_state(self.state["generator"])
        except Exception as exc:
            raise EvalibError(
                f"checkpoint in {self.folder} is unreadable or from another run ({exc}); "
                "delete the folder to start over"
            ) from exc
        return self.state

    def commit_epoch(
        self, last, epoch, step, history, logp, seen, eval_row, eval_pass, *objs
    ) -> None:
        """Keep the epoch's rows; on the cadence (or after the ``last`` epoch) make
        everything up to this epoch durable."""
        if logp is not None:
            lp, sn = logp.cpu().numpy(), seen.cpu().numpy()
            if not sn.all():  # rows of unseen samples hold stale values: store zeros
                lp = np.where(sn[:, None], lp, np.float16(0))
            self.arrays["log_probs"][epoch] = lp
            self.arrays["seen"][epoch] = sn
        if eval_pass is not None:
            self.arrays["eval"][eval_row] = eval_pass
        if self.folder is None or not (last or _now() - self.last_save >= self.every_s):
            return
        for arr in self.arrays.values():
            arr.flush()
        model, optimizer, scheduler, scaler, gen = objs
        state = {
            "epoch": epoch + 1,
            "step": step,
            "history": history,
            "seconds": history[-1]["seconds"],
            "config": self.config,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
            "generator": gen.get_state(),
        }
        with atomic_file(self.folder / "state.pt") as fh:
            torch.save(state, fh)
        self.last_save = _now()

    def dynamics(self, labels, ids, eval_epochs, meta) -> Dynamics:
        has_eval = bool(eval_epochs)
        return Dynamics(
            log_probs=np.array(self.arrays["log_probs"]),
            labels=np.asarray(labels, np.int64),
            seen=np.array(self.arrays["seen"]),
            sample_ids=ids,
            eval_log_probs=np.array(self.arrays["eval"]) if has_eval else None,
            eval_epochs=np.asarray(eval_epochs, np.int64) if has_eval else None,
            meta=meta,
        )


CHECKPOINT_FILES = frozenset({"log_probs.npy", "seen.npy", "eval.npy", "state.pt"})


def is_checkpoint_dir(path: str | os.PathLike) -> bool:
    """True when the folder holds only what a checkpoint store writes (before markers)."""
    try:
        names = {n for n in os.listdir(path) if not n.startswith(".")}
    except OSError:
        return False
    return names <= CHECKPOINT_FILES


def _flat(config: dict) -> dict:
    """``{"recipe": {"lr": 0.1}}`` → ``{"recipe.lr": 0.1}`` (for readable mismatches)."""
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            out[key] = value
    return out
