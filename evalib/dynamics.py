"""The Dynamics container: per-epoch, per-sample outputs of one surrogate training run.

Every score of the paper is a pure function of a :class:`Dynamics`. Shapes use
T = recorded epochs, N = training samples, C = classes, E = eval-mode passes.

Storage: a single ``.npz`` file (small runs) or a folder of ``.npy`` files plus
``meta.json`` that is memory-mapped on load (paper-scale runs: 200×34561×11
float16 is 152 MB).
"""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from evalib.errors import EvalibError
from evalib.io import atomic_dir, atomic_file

ARRAY_FIELDS = ("log_probs", "labels", "seen", "sample_ids", "eval_log_probs", "eval_epochs")


@dataclass(frozen=True, eq=False)
class Dynamics:
    """Recorded training dynamics.

    Attributes:
        log_probs: [T, N, C] float16 log-softmax of each sample at each epoch, from the
            training forward pass (train-mode batch norm, weights before the step).
        labels: [N] int64 class labels.
        seen: [T, N] bool, True where the sample was recorded in that epoch. Entries with
            ``seen == False`` hold no information (their ``log_probs`` are undefined).
        sample_ids: [N] int64 indices of these samples in the full training split.
        eval_log_probs: [E, N, C] float16 log-softmax from eval-mode passes, or None.
        eval_epochs: [E] int64 epoch after which each eval-mode pass was taken
            (0-indexed; ``T - 1`` is the final model), or None.
        meta: JSON-serialisable metadata (dataset, model, recipe, seed, version, ...).
    """

    log_probs: np.ndarray
    labels: np.ndarray
    seen: np.ndarray
    sample_ids: np.ndarray
    eval_log_probs: np.ndarray | None = None
    eval_epochs: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate(self)

    @property
    def num_epochs(self) -> int:
        return int(self.log_probs.shape[0])

    @property
    def num_samples(self) -> int:
        return int(self.log_probs.shape[1])

    @property
    def num_classes(self) -> int:
        return int(self.log_probs.shape[2])

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.log_probs.shape)  # type: ignore[return-value]

    def probs(self) -> np.ndarray:
        """[T, N, C] float32 softmax probabilities."""
        return np.exp(self.log_probs.astype(np.float32))

    def final_eval_log_probs(self) -> np.ndarray:
        """[N, C] log-softmax of the last eval-mode pass; raises if none was recorded."""
        if self.eval_log_probs is None or len(self.eval_log_probs) == 0:
            raise EvalibError(
                "these dynamics have no eval-mode pass; train with eval passes "
                "(evalib train --eval-epochs last) to compute Entropy"
            )
        return self.eval_log_probs[int(np.argmax(self.eval_epochs))]

    def with_meta(self, **updates: Any) -> Dynamics:
        return replace(self, meta={**self.meta, **updates})


def validate(dyn: Dynamics) -> None:
    """Raise EvalibError if arrays are inconsistent in shape or dtype."""
    lp = dyn.log_probs
    if lp.ndim != 3:
        raise EvalibError(f"log_probs must be [T, N, C], got shape {lp.shape}")
    t, n, c = lp.shape
    if dyn.labels.shape != (n,):
        raise EvalibError(f"labels must have shape ({n},), got {dyn.labels.shape}")
    if dyn.seen.shape != (t, n) or dyn.seen.dtype != np.bool_:
        raise EvalibError(f"seen must be bool [{t}, {n}], got {dyn.seen.dtype} {dyn.seen.shape}")
    if dyn.sample_ids.shape != (n,):
        raise EvalibError(f"sample_ids must have shape ({n},), got {dyn.sample_ids.shape}")
    if n and (dyn.labels.min() < 0 or dyn.labels.max() >= c):
        raise EvalibError(f"labels must lie in [0, {c - 1}]")
    if (dyn.eval_log_probs is None) != (dyn.eval_epochs is None):
        raise EvalibError("eval_log_probs and eval_epochs must be given together")
    if dyn.eval_log_probs is not None:
        e = len(dyn.eval_epochs)
        if dyn.eval_log_probs.shape != (e, n, c):
            raise EvalibError(
                f"eval_log_probs must be [{e}, {n}, {c}], got {dyn.eval_log_probs.shape}"
            )


def check_matches(dyn: Dynamics, train_labels: np.ndarray, dataset: str = "the dataset") -> None:
    """Raise EvalibError unless ``dyn`` was recorded on samples of this training split.

    train_labels: [N_full] labels of the full training split; the dynamics' sample ids
    must index into it and their labels must agree.
    """
    train_labels = np.asarray(train_labels).reshape(-1)
    ids = np.asarray(dyn.sample_ids)
    recorded = dyn.meta.get("dataset")
    if recorded and recorded != dataset and dataset != "the dataset":
        raise EvalibError(f"these dynamics were recorded on {recorded}, not {dataset}")
    if ids.size and (ids.min() < 0 or ids.max() >= len(train_labels)):
        raise EvalibError(
            f"dynamics sample ids reach {ids.max()}, beyond the {len(train_labels)} "
            f"training images of {dataset}"
        )
    mismatched = int(np.count_nonzero(train_labels[ids] != dyn.labels))
    if mismatched:
        raise EvalibError(
            f"dynamics labels disagree with {dataset} for {mismatched} of {ids.size} samples; "
            "they were recorded on other data"
        )


def from_arrays(
    log_probs: np.ndarray,
    labels: np.ndarray,
    seen: np.ndarray | None = None,
    sample_ids: np.ndarray | None = None,
    eval_log_probs: np.ndarray | None = None,
    eval_epochs: np.ndarray | None = None,
    meta: dict[str, Any] | None = None,
) -> Dynamics:
    """Build Dynamics from plain arrays, filling defaults (all seen, ids 0..N-1)."""
    log_probs = np.asarray(log_probs, dtype=np.float16)
    t, n, _ = log_probs.shape
    return Dynamics(
        log_probs=log_probs,
        labels=np.asarray(labels, dtype=np.int64).reshape(n),
        seen=np.ones((t, n), bool) if seen is None else np.asarray(seen, dtype=bool),
        sample_ids=np.arange(n, dtype=np.int64)
        if sample_ids is None
        else np.asarray(sample_ids, np.int64),
        eval_log_probs=None if eval_log_probs is None else np.asarray(eval_log_probs, np.float16),
        eval_epochs=None if eval_epochs is None else np.asarray(eval_epochs, np.int64),
        meta=dict(meta or {}),
    )


# ----------------------------------------------------------------------------- storage


def save(dyn: Dynamics, path: str | os.PathLike) -> Path:
    """Write dynamics atomically: ``*.npz`` → one file, anything else → a folder of .npy.

    The target appears only once complete (written to a temporary sibling, then renamed).
    """
    path = Path(path)
    arrays = {k: getattr(dyn, k) for k in ARRAY_FIELDS if getattr(dyn, k) is not None}
    meta_json = json.dumps(dyn.meta, sort_keys=True, default=str)
    if path.suffix == ".npz":
        with atomic_file(path) as fh:
            np.savez(fh, meta=np.array(meta_json), **arrays)
        return path
    with atomic_dir(path) as tmp_dir:
        try:
            for name, arr in arrays.items():
                np.save(tmp_dir / f"{name}.npy", np.ascontiguousarray(arr))
            (tmp_dir / "meta.json").write_text(meta_json)
        except OSError as exc:
            raise EvalibError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path


def load(path: str | os.PathLike, mmap: bool = True) -> Dynamics:
    """Read dynamics written by :func:`save` (folders are memory-mapped when ``mmap``)."""
    path = Path(path)
    if not path.exists():
        raise EvalibError(f"dynamics file not found: {path}")
    try:
        if path.is_dir():
            mode = "r" if mmap else None
            arrays = {
                k: np.load(path / f"{k}.npy", mmap_mode=mode)
                for k in ARRAY_FIELDS
                if (path / f"{k}.npy").exists()
            }
            meta = json.loads((path / "meta.json").read_text())
        else:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in ARRAY_FIELDS if k in z.files}
                meta = json.loads(str(z["meta"])) if "meta" in z.files else {}
    except EvalibError:
        raise
    except Exception as exc:  # zip/npy/json errors all mean the same to a user
        raise EvalibError(f"cannot read dynamics from {path}: {type(exc).__name__}: {exc}") from exc
    missing = [k for k in ("log_probs", "labels", "seen", "sample_ids") if k not in arrays]
    if missing:
        raise EvalibError(f"{path} is not a dynamics file (missing {', '.join(missing)})")
    return Dynamics(meta=meta, **arrays)


# ----------------------------------------------------------------------------- importers


def import_official_pickle(
    path: str | os.PathLike,
    labels: np.ndarray,
    num_epochs: int | None = None,
) -> Dynamics:
    """Read the training-dynamics pickle written by the official EVA/CCS code.

    That file is a list of per-batch dicts with keys ``epoch``, ``iteration``, ``idx``
    ([B] training-set indices) and ``output`` ([B, C] float16 log-softmax). Samples that
    a drop-last loader skipped in an epoch are marked unseen rather than zero.

    Args:
        labels: [N] labels of the full training split (the pickle does not store them).
        num_epochs: T; defaults to 1 + the largest epoch in the file.
    """
    with open(path, "rb") as fh:
        records = pickle.load(fh)  # noqa: S301 - the user's own file, by design
    if isinstance(records, dict) and "training_dynamics" in records:
        records = records["training_dynamics"]
    if not isinstance(records, list) or not records:
        raise EvalibError(f"{path}: expected a non-empty list of per-batch records")
    labels = np.asarray(labels, np.int64).reshape(-1)
    n = len(labels)
    c = int(np.asarray(records[0]["output"]).shape[-1])
    t = num_epochs if num_epochs is not None else 1 + max(int(r["epoch"]) for r in records)
    log_probs = np.zeros((t, n, c), np.float16)
    seen = np.zeros((t, n), bool)
    for r in records:
        ep = int(r["epoch"])
        if ep >= t:
            continue
        idx = np.asarray(_to_numpy(r["idx"]), np.int64).reshape(-1)
        log_probs[ep, idx] = np.asarray(_to_numpy(r["output"]), np.float16)
        seen[ep, idx] = True
    return Dynamics(
        log_probs=log_probs,
        labels=labels,
        seen=seen,
        sample_ids=np.arange(n, dtype=np.int64),
        meta={"source": "official-pickle", "path": str(path)},
    )


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(x)
