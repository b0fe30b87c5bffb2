"""The Dynamics container: per-epoch, per-sample outputs of one surrogate training run.

Every score of the paper is a pure function of a :class:`Dynamics`. Shapes use
T = recorded epochs, N = training samples, C = classes, E = eval-mode passes.

Storage: a single ``.npz`` file (small runs) or a folder of ``.npy`` files plus
``meta.json`` that is memory-mapped on load (paper-scale runs: 200×34561×11
float16 is 152 MB).

The official code's pickles are read by :mod:`evalib.official`; :mod:`evalib.recorder`
records a Dynamics from any PyTorch training loop.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from evalib.errors import EvalibError
from evalib.io import (
    atomic_dir,
    atomic_file,
    check_output_dir,
    check_output_file,
    refuses_pickle,
)

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
                "these dynamics have no eval-mode pass; Entropy needs one (evalib train "
                "records it unless --no-eval-pass is given)"
            )
        return self.eval_log_probs[int(np.argmax(self.eval_epochs))]

    def with_meta(self, **updates: Any) -> Dynamics:
        return replace(self, meta={**self.meta, **updates})


def _kind(arr: Any, name: str, kinds: str, what: str) -> None:
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in kinds:
        got = arr.dtype if isinstance(arr, np.ndarray) else type(arr).__name__
        raise EvalibError(f"{name} must be {what}, got {got}")


def validate(dyn: Dynamics) -> None:
    """Raise EvalibError if arrays are inconsistent in shape or dtype, or meta is no dict."""
    lp = dyn.log_probs
    _kind(lp, "log_probs", "f", "a float array")
    _kind(dyn.labels, "labels", "iu", "an integer array")
    _kind(dyn.sample_ids, "sample_ids", "iu", "an integer array")
    if not isinstance(dyn.meta, dict):
        raise EvalibError(f"meta must be a dict (JSON object), got {type(dyn.meta).__name__}")
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
        _kind(dyn.eval_log_probs, "eval_log_probs", "f", "a float array")
        _kind(dyn.eval_epochs, "eval_epochs", "iu", "an integer array")
        if dyn.eval_epochs.ndim != 1:
            raise EvalibError(f"eval_epochs must be [E], got shape {dyn.eval_epochs.shape}")
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


def check_scorable(dyn: Dynamics, source: str = "these dynamics") -> None:
    """Raise EvalibError unless every score can be computed from ``dyn``: at least one
    epoch, sample and class, no NaN or +inf log-probability at a seen entry (−inf, a
    probability that underflowed float16, is allowed), and every sample seen in at least
    one epoch. Reads the arrays once in epoch chunks (memory-mapped folders stay cheap)."""
    t, n, c = dyn.shape
    if t == 0 or n == 0 or c == 0:
        raise EvalibError(f"{source} are empty (T, N, C = {t}, {n}, {c})")
    seen = np.asarray(dyn.seen)
    never = np.flatnonzero(~seen.any(axis=0))
    if never.size:
        ids = np.asarray(dyn.sample_ids)[never[:3]].tolist()
        raise EvalibError(
            f"{source}: {never.size} of {n} samples were never seen in any epoch "
            f"(sample ids {ids}{' …' if never.size > 3 else ''}); no score can rank them"
        )
    step = max(1, (1 << 22) // max(1, n * c))
    bad = 0
    first = None
    for t0 in range(0, t, step):
        lp = np.asarray(dyn.log_probs[t0 : t0 + step], dtype=np.float32)
        broken = (np.isnan(lp) | (lp == np.inf)).any(axis=2) & seen[t0 : t0 + step]
        if broken.any():
            bad += int(broken.sum())
            if first is None:
                e, i = np.argwhere(broken)[0]
                first = (t0 + int(e), int(np.asarray(dyn.sample_ids)[i]))
    if bad:
        raise EvalibError(
            f"{source} hold NaN or +inf log-probabilities at {bad} of {int(seen.sum())} seen "
            f"(epoch, sample) entries, first at epoch {first[0]}, sample id {first[1]}; "
            "the training run diverged or the file is damaged"
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


_REQUIRED = ("log_probs", "labels", "seen", "sample_ids")
_FOLDER_FILES = {f"{k}.npy" for k in ARRAY_FIELDS} | {"meta.json"}


def is_dynamics_npz(path: str | os.PathLike) -> bool:
    """True when ``path`` is an ``.npz`` written by :func:`save` (judged by its members)."""
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except (OSError, zipfile.BadZipFile, ValueError):
        return False
    return {f"{k}.npy" for k in (*_REQUIRED, "meta")} <= names


def is_dynamics_dir(path: str | os.PathLike) -> bool:
    """True when the folder ``path`` holds only what :func:`save` writes (before markers
    existed): ``meta.json`` and ``<array>.npy`` files, at least the required ones."""
    try:
        names = {n for n in os.listdir(path) if not n.startswith(".")}
    except OSError:
        return False
    need = {f"{k}.npy" for k in _REQUIRED} | {"meta.json"}
    return need <= names <= _FOLDER_FILES


def check_output(path: str | os.PathLike, what: str | None = None) -> None:
    """Raise EvalibError unless :func:`save` may write ``path``: absent, or evalib dynamics
    (an ``.npz`` file or a folder) that may be replaced. Creates nothing; call it before
    training so that a bad ``--out`` costs no work."""
    path = Path(path)
    if path.suffix == ".npz":
        check_output_file(path, "dynamics", is_dynamics_npz, what=what)
        return
    from evalib.io import is_cwd_or_above

    if is_cwd_or_above(path):
        raise EvalibError(
            f"{what + ' ' if what else ''}{path} is the working folder or one of its parents; "
            "name a new folder or a .npz file"
        )
    check_output_dir(path, "dynamics", legacy=is_dynamics_dir, what=what,
                     hint="choose a new or empty folder, or a .npz file")  # fmt: skip


def save(dyn: Dynamics, path: str | os.PathLike) -> Path:
    """Write dynamics atomically: ``*.npz`` → one file, anything else → a folder of .npy.

    The target appears only once complete (written to a temporary sibling, then renamed).
    An existing target is replaced only if it is evalib dynamics (see :func:`check_output`);
    anything else is refused before writing.
    """
    path = Path(path)
    check_output(path)
    arrays = {k: getattr(dyn, k) for k in ARRAY_FIELDS if getattr(dyn, k) is not None}
    meta_json = json.dumps(dyn.meta, sort_keys=True, default=str)
    if path.suffix == ".npz":
        with atomic_file(path) as fh:
            np.savez(fh, meta=np.array(meta_json), **arrays)
        return path
    with atomic_dir(path, "dynamics", legacy=is_dynamics_dir) as tmp_dir:
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
    try:
        if not path.exists():
            raise EvalibError(f"dynamics file not found: {path}")
        if path.is_dir():
            mode = "r" if mmap else None
            arrays = {
                k: np.load(path / f"{k}.npy", mmap_mode=mode)
                for k in ARRAY_FIELDS
                if (path / f"{k}.npy").exists()
            }
            meta = json.loads((path / "meta.json").read_text())
        else:
            with open(path, "rb") as fh:  # a permission problem is raised here, not hidden
                is_zip = zipfile.is_zipfile(fh)
            if not is_zip:
                raise EvalibError(
                    f"cannot read dynamics from {path}: {path.name} is not a dynamics file "
                    "(evalib writes an .npz archive or a folder)"
                )
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in ARRAY_FIELDS if k in z.files}
                meta = json.loads(str(z["meta"])) if "meta" in z.files else {}
    except EvalibError:
        raise
    except PermissionError as exc:
        raise EvalibError(f"cannot read dynamics from {path}: permission denied") from exc
    except FileNotFoundError as exc:
        missing = Path(exc.filename or path).name
        raise EvalibError(f"{path} is not a dynamics folder ({missing} is missing)") from exc
    except Exception as exc:  # zip/npy/json errors all mean the same to a user
        if refuses_pickle(exc):
            raise EvalibError(
                f"cannot read dynamics from {path}: it holds Python objects (a pickle), which "
                "evalib refuses to unpickle (it could run code); evalib writes numeric arrays"
            ) from None
        raise EvalibError(f"cannot read dynamics from {path}: {type(exc).__name__}: {exc}") from exc
    missing = [k for k in _REQUIRED if k not in arrays]
    if missing:
        raise EvalibError(f"{path} is not a dynamics file (missing {', '.join(missing)})")
    if not isinstance(meta, dict):
        raise EvalibError(
            f"{path}: its metadata must be a JSON object, got {type(meta).__name__}; "
            "the file was not written by evalib or is damaged"
        )
    try:
        return Dynamics(meta=meta, **arrays)
    except EvalibError as exc:
        raise EvalibError(f"{path} holds inconsistent dynamics: {exc}") from None
