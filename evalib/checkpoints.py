"""Checkpoints of a training run: what must match to resume one, and the store that
holds recorded epochs and, given a folder, writes them and the run's state on a cadence.

:func:`evalib.train.train` builds the :class:`EpochStore`; resuming from it gives the
same result as an uninterrupted run on the CPU, whatever the cadence.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from evalib.dynamics import Dynamics
from evalib.errors import EvalibError
from evalib.io import atomic_file, claim_dir

#: seconds between checkpoints when train() is not told (``$EVALIB_CHECKPOINT_EVERY``)
CHECKPOINT_EVERY_S = 300.0
ENV_CHECKPOINT_EVERY = "EVALIB_CHECKPOINT_EVERY"

_now = time.monotonic  # the checkpoint clock (the tests replace it)


class CheckpointMismatch(EvalibError):
    """A checkpoint folder holds the state of another run (other config, data or code)."""


def checkpoint_every(seconds: float | None) -> float:
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


def run_config(model, split, recipe, seed, record, eval_epochs, sample_ids, weights) -> dict:
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


class EpochStore:
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
