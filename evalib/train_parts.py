"""The parts the training loop of :func:`evalib.train.train` carries: when it evaluates
(:class:`EvalSchedule`), what it records of an epoch (:class:`EpochRecord`), how it steps
(:class:`Optimisation`) and how it runs on its device (:class:`Acceleration`). Checkpoints
are :mod:`evalib.checkpoints`'; batches are made in :mod:`evalib.train`.

None of them draws random numbers, and each runs the float ops the loop ran inline, in
the same order (results are bitwise those of the loop before it was split), so the loop
reads as the recipe it runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from evalib.accel import ENV_CUDA_CHANNELS_LAST, ENV_CUDA_GRAPHS, autocast, env_flag
from evalib.errors import EvalibError


@dataclass(frozen=True)
class EvalSchedule:
    """Which epochs (0-indexed) of a run of ``epochs`` epochs evaluate what.

    Validation: every ``every`` epochs and after the last; test: after the last (the clean
    protocol's final model); an eval-mode pass over the training samples after each of
    ``eval_pass_epochs`` (sorted, distinct, in [0, epochs); row i of the recorded passes is
    the i-th of them).
    """

    epochs: int
    every: int = 1
    eval_pass_epochs: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.every < 1:
            raise EvalibError(f"epochs and every must be ≥ 1, got {self.epochs}, {self.every}")
        passes = self.eval_pass_epochs
        if list(passes) != sorted(set(passes)) or any(not 0 <= e < self.epochs for e in passes):
            raise EvalibError(
                f"eval_pass_epochs must be sorted, distinct and in [0, {self.epochs}), "
                f"got {list(passes)}"
            )

    @classmethod
    def of(cls, epochs: int, every: int, eval_pass_epochs: Sequence[int] = ()) -> EvalSchedule:
        """The schedule with eval-pass epochs given as train() takes them (−1 = last)."""
        return cls(epochs, every, tuple(sorted({int(e) % epochs for e in eval_pass_epochs})))

    def is_last(self, epoch: int) -> bool:
        return epoch == self.epochs - 1

    def validates(self, epoch: int) -> bool:
        """True when the validation split is evaluated after ``epoch``."""
        return self.is_last(epoch) or (epoch + 1) % self.every == 0

    def tests(self, epoch: int) -> bool:
        """True when the test split is evaluated after ``epoch`` (the last only)."""
        return self.is_last(epoch)

    def eval_pass_row(self, epoch: int) -> int | None:
        """The row of ``epoch``'s eval-mode pass among the recorded ones, or None."""
        return self.eval_pass_epochs.index(epoch) if epoch in self.eval_pass_epochs else None


class EpochRecord:
    """One epoch of training forward passes, kept on the device: float16 log-softmax
    [N, C] and a seen mask [N] (a row whose sample was not seen holds a stale value).

    ``put`` writes what :class:`evalib.recorder.Recorder` writes for the same logits;
    nothing leaves the device until the epoch is stored (no synchronisation per step).
    """

    def __init__(self, n: int, c: int, device: torch.device) -> None:
        self.log_probs = torch.empty((n, c), dtype=torch.float16, device=device)
        self.seen = torch.zeros(n, dtype=torch.bool, device=device)

    def start_epoch(self) -> None:
        """Mark every sample unseen (the log-probabilities are left as they are)."""
        self.seen.zero_()

    def put(self, indices: torch.Tensor, logits: torch.Tensor) -> None:
        """Keep the log-softmax of float32 ``logits`` [B, C] for the samples ``indices`` [B]."""
        self.log_probs[indices] = F.log_softmax(logits.detach(), dim=1).half()
        self.seen[indices] = True

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(log_probs [N, C] float16, seen [N] bool), on the device."""
        return self.log_probs, self.seen


@dataclass(frozen=True)
class Optimisation:
    """The recipe's optimiser: SGD (Nesterov momentum, weight decay), the cosine schedule
    stepped every iteration down to ``min_lr``, and the AMP loss scaler."""

    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler

    @classmethod
    def of(
        cls, model: nn.Module, recipe: Any, total_steps: int, scaler: torch.amp.GradScaler
    ) -> Optimisation:
        """The optimiser of ``model`` for ``recipe`` (an :class:`evalib.train.Recipe`: lr,
        momentum, nesterov, weight_decay, min_lr) over ``total_steps`` steps."""
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
        return cls(optimizer, scheduler, scaler)

    @property
    def lr(self) -> float:
        """The learning rate of the next step."""
        return self.optimizer.param_groups[0]["lr"]

    def parts(self) -> tuple:
        """(optimizer, scheduler, scaler): what a checkpoint saves and restores."""
        return self.optimizer, self.scheduler, self.scaler

    def step(self, loss: torch.Tensor) -> None:
        """One optimiser step on ``loss``, then one step of the schedule."""
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()


@dataclass(frozen=True)
class Acceleration:
    """How the loop runs on ``device``: the AMP mode ("none", "bf16", "fp16"), the memory
    format of the model and of every batch, and whether the training step runs through
    CUDA graphs. Runtime settings: on the CPU the CUDA ones are off and results are
    bitwise reproducible."""

    device: torch.device
    amp: str = "none"
    channels_last: bool = False
    graphs: bool = False

    @classmethod
    def choose(
        cls,
        device: torch.device,
        amp: str = "none",
        channels_last: bool = False,
        cuda_graphs: bool | None = None,
        cuda_channels_last: bool | None = None,
    ) -> Acceleration:
        """The settings on ``device``: the recipe's ``amp`` and ``channels_last``; on CUDA
        only, CUDA graphs and channels-last from the arguments, else the environment
        (``$EVALIB_CUDA_GRAPHS``, ``$EVALIB_CUDA_CHANNELS_LAST``; on unless "0")."""
        on_cuda = device.type == "cuda"
        return cls(
            device,
            amp,
            channels_last=channels_last
            or (on_cuda and env_flag(cuda_channels_last, ENV_CUDA_CHANNELS_LAST)),
            graphs=on_cuda and env_flag(cuda_graphs, ENV_CUDA_GRAPHS),
        )

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def place(self, model: nn.Module) -> nn.Module:
        """``model`` moved to the device, in the memory format (in place)."""
        return model.to(self.device, memory_format=self.memory_format)

    def batch(self, x: torch.Tensor) -> torch.Tensor:
        """A batch [B, C, H, W] in the memory format."""
        return x.contiguous(memory_format=self.memory_format)

    def autocast(self):
        """The autocast context of the AMP mode (fp16 off CUDA is a one-line error)."""
        return autocast(self.device, self.amp)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """The loss scaler: active for fp16 on CUDA only, a pass-through otherwise."""
        return torch.amp.GradScaler(
            "cuda", enabled=self.amp == "fp16" and self.device.type == "cuda"
        )

    def cuda_meta(self, compiled: bool) -> dict[str, bool] | None:
        """The runtime choices that change GPU numerics, for a run's metadata (CUDA only);
        ``compiled``: whether the step really ran compiled (Triton may be missing)."""
        if self.device.type != "cuda":
            return None
        return {"graphs": compiled, "channels_last": self.channels_last}
