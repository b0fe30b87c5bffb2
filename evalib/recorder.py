"""The Recorder: :class:`Dynamics` from any PyTorch training loop, one call per step."""

from __future__ import annotations

from typing import Any

import numpy as np

from evalib.dynamics import Dynamics
from evalib.errors import EvalibError


class Recorder:
    """Records :class:`Dynamics` from any PyTorch training loop, as evalib's trainer does.

    One call per training step, ``record(indices, logits)`` with the batch's positions in
    the training set [B] and the model's logits [B, C] from the training forward pass, and
    ``end_epoch()`` once per epoch; ``dynamics()`` returns what every scorer reads. The
    float16 log-softmax of the logits (computed in float32) is kept per sample and epoch;
    a sample not met in an epoch is marked unseen. On a GPU the epoch stays on the device
    until ``end_epoch`` (no synchronisation per step).

    Args:
        num_samples: N, the size of the training set (indices lie in [0, N)).
        num_classes: C.
        epochs: T, when known: recording more epochs is refused.
        labels: [N] class labels; or pass ``targets`` to :meth:`record`.
        sample_ids: [N] ids of the samples in a larger split (default 0..N-1).
        meta: JSON-serialisable metadata stored with the dynamics.
    """

    def __init__(
        self,
        num_samples: int,
        num_classes: int,
        epochs: int | None = None,
        labels: Any = None,
        sample_ids: Any = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        if int(num_samples) < 1 or int(num_classes) < 1:
            raise EvalibError(
                f"num_samples and num_classes must be ≥ 1, got {num_samples}, {num_classes}"
            )
        if epochs is not None and int(epochs) < 1:
            raise EvalibError(f"epochs must be ≥ 1, got {epochs}")
        self.n, self.c = int(num_samples), int(num_classes)
        self.epochs = None if epochs is None else int(epochs)
        self.labels = np.full(self.n, -1, np.int64)
        if labels is not None:
            self.labels[:] = _flat_ints(labels, self.n, "labels")
        self.sample_ids = (
            np.arange(self.n, dtype=np.int64)
            if sample_ids is None
            else _flat_ints(sample_ids, self.n, "sample_ids")
        )
        self.meta = dict(meta or {})
        self._done: list[tuple[np.ndarray, np.ndarray]] = []  # (log_probs [N, C], seen [N])
        self._eval: list[tuple[int, np.ndarray]] = []  # (epoch, eval log_probs [N, C])
        self._logp = self._seen = self._eval_logp = self._eval_seen = None

    @property
    def epochs_done(self) -> int:
        return len(self._done)

    def record(self, indices: Any, logits: Any, targets: Any = None) -> None:
        """Keep the log-softmax of ``logits`` [B, C] for the samples ``indices`` [B]
        (their labels ``targets`` [B] too, when the recorder was not given ``labels``)."""
        self._logp, self._seen = self._put(self._logp, self._seen, indices, logits)
        if targets is not None:
            idx = np.asarray(_to_numpy(indices), np.int64).reshape(-1)
            self.labels[idx] = np.asarray(_to_numpy(targets), np.int64).reshape(-1)

    def record_eval(self, indices: Any, logits: Any) -> None:
        """Like :meth:`record`, for an eval-mode pass over the training set after this
        epoch's steps (Entropy scores the last one)."""
        self._eval_logp, self._eval_seen = self._put(
            self._eval_logp, self._eval_seen, indices, logits
        )

    def end_epoch(self) -> None:
        """Close the epoch: what was recorded since the last call becomes one epoch."""
        if self._seen is None:
            raise EvalibError(f"epoch {self.epochs_done} ended with no record() call")
        if self.epochs is not None and self.epochs_done >= self.epochs:
            raise EvalibError(f"this recorder was made for {self.epochs} epochs")
        lp, seen = _host(self._logp), _host(self._seen)
        self._done.append((np.where(seen[:, None], lp, np.float16(0)), seen))
        if self._eval_seen is not None:
            eval_seen = _host(self._eval_seen)
            if not eval_seen.all():
                raise EvalibError(
                    f"the eval pass of epoch {self.epochs_done - 1} missed "
                    f"{int((~eval_seen).sum())} of {self.n} samples; it must cover all"
                )
            self._eval.append((self.epochs_done - 1, _host(self._eval_logp)))
        self._logp = self._seen = self._eval_logp = self._eval_seen = None

    def dynamics(self) -> Dynamics:
        """The recorded epochs as :class:`Dynamics` ([T, N, C] float16, T = epochs ended)."""
        if self._seen is not None or self._eval_seen is not None:
            raise EvalibError("records since the last end_epoch(); call end_epoch() first")
        if not self._done:
            raise EvalibError("nothing recorded: call record() each step, end_epoch() each epoch")
        unlabelled = int((self.labels < 0).sum())
        if unlabelled:
            raise EvalibError(
                f"{unlabelled} of {self.n} samples have no label: give labels= to the "
                "Recorder or targets= to record()"
            )
        if self.labels.max() >= self.c:
            raise EvalibError(f"labels must lie in [0, {self.c - 1}]")
        evals = self._eval
        return Dynamics(
            log_probs=np.stack([lp for lp, _ in self._done]),
            labels=self.labels.copy(),
            seen=np.stack([s for _, s in self._done]),
            sample_ids=self.sample_ids.copy(),
            eval_log_probs=np.stack([lp for _, lp in evals]) if evals else None,
            eval_epochs=np.array([e for e, _ in evals], np.int64) if evals else None,
            meta={"source": "Recorder", **self.meta},
        )

    def _put(self, buf, seen, indices, logits):
        """Write log-softmax rows into ``buf`` (allocated like ``logits`` on first use)."""
        if hasattr(logits, "detach"):  # a torch tensor: stay on its device
            import torch
            import torch.nn.functional as F

            if logits.ndim != 2 or logits.shape[1] != self.c:
                raise EvalibError(f"logits must be [B, {self.c}], got {list(logits.shape)}")
            idx = torch.as_tensor(indices, dtype=torch.long).reshape(-1)  # where it is
            some = idx.numel() > 0  # checked where they live: CPU indices cost no GPU sync
            self._check_indices(
                idx.numel(), logits.shape[0], some and idx.min(), some and idx.max()
            )
            idx = idx.to(logits.device, non_blocking=True)
            if buf is None:
                buf = torch.zeros((self.n, self.c), dtype=torch.float16, device=logits.device)
                seen = torch.zeros(self.n, dtype=torch.bool, device=logits.device)
            buf[idx] = F.log_softmax(logits.detach().float(), dim=1).half().to(buf.device)
            seen[idx.to(seen.device)] = True
            return buf, seen
        x = np.asarray(logits, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.c:
            raise EvalibError(f"logits must be [B, {self.c}], got {list(x.shape)}")
        idx = np.asarray(indices, np.int64).reshape(-1)
        self._check_indices(idx.size, x.shape[0], idx.min(initial=0), idx.max(initial=0))
        if buf is None:
            buf, seen = np.zeros((self.n, self.c), np.float16), np.zeros(self.n, bool)
        shifted = x - x.max(axis=1, keepdims=True)
        buf[idx] = (shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))).astype(np.float16)
        seen[idx] = True
        return buf, seen

    def _check_indices(self, count: int, rows: int, low, high) -> None:
        if count != rows:
            raise EvalibError(f"{count} indices for {rows} rows of logits")
        if count and (int(low) < 0 or int(high) >= self.n):
            raise EvalibError(
                f"indices must lie in [0, {self.n - 1}], got [{int(low)}, {int(high)}]"
            )


def _flat_ints(values: Any, n: int, name: str) -> np.ndarray:
    arr = np.asarray(_to_numpy(values)).reshape(-1)
    if arr.shape != (n,) or not np.issubdtype(arr.dtype, np.integer):
        raise EvalibError(f"{name} must be {n} integers, got {arr.dtype} of shape {arr.shape}")
    return arr.astype(np.int64)


def _host(x: Any) -> np.ndarray:
    return x.cpu().numpy() if hasattr(x, "cpu") else np.asarray(x)


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(x)
