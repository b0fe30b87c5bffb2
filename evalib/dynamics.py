"""The Dynamics container: per-epoch, per-sample outputs of one surrogate training run.

Every score of the paper is a pure function of a :class:`Dynamics`. Shapes use
T = recorded epochs, N = training samples, C = classes, E = eval-mode passes.

Storage: a single ``.npz`` file (small runs) or a folder of ``.npy`` files plus
``meta.json`` that is memory-mapped on load (paper-scale runs: 200×34561×11
float16 is 152 MB).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from evalib.errors import EvalibError
from evalib.io import atomic_dir, atomic_file, check_output_dir, check_output_file

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


# ----------------------------------------------------------------------------- importers


def _load_storage(data: bytes) -> Any:
    """A torch storage inside a pickled tensor, read with torch's own safe loader."""
    import torch

    return torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")


# The only names an official dynamics pickle refers to: containers and scalars, numpy
# arrays (module name differs between numpy 1 and 2) and torch tensors.
_PICKLE_NAMES = frozenset(
    [("builtins", n) for n in ("dict", "list", "tuple", "set", "frozenset", "int", "float",
                                "complex", "str", "bytes", "bytearray", "bool")]
    + [("collections", "OrderedDict"), ("numpy", "ndarray"), ("numpy", "dtype")]
    + [(m, n) for m in ("numpy.core.multiarray", "numpy._core.multiarray")
       for n in ("_reconstruct", "scalar")]
    + [("torch._utils", "_rebuild_tensor_v2"), ("torch.storage", "_load_from_bytes")]
)  # fmt: skip


class _RestrictedUnpickler(pickle.Unpickler):
    """Builds only lists, dicts, tuples, Python scalars, numpy arrays and dtypes, and torch
    tensors (whose storage torch reads with ``weights_only=True``); any other class or
    function named in the file is refused, so reading it cannot run foreign code."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _PICKLE_NAMES:
            raise pickle.UnpicklingError(
                f"it names {module}.{name}, which the official dynamics format never holds"
            )
        if (module, name) == ("torch.storage", "_load_from_bytes"):
            return _load_storage  # torch's own would unpickle the storage unrestricted
        if module.startswith("torch"):
            import torch  # noqa: F401 - makes torch._utils importable

        return super().find_class(module, name)


def _read_pickle(path: Path) -> Any:
    try:
        with open(path, "rb") as fh:
            return _RestrictedUnpickler(fh).load()
    except PermissionError as exc:
        raise EvalibError(f"cannot read {path}: permission denied") from exc
    except FileNotFoundError as exc:
        raise EvalibError(f"dynamics pickle not found: {path}") from exc
    except IsADirectoryError as exc:
        raise EvalibError(f"{path} is a folder, not a pickle file") from exc
    except pickle.UnpicklingError as exc:
        raise EvalibError(f"{path} refused: {exc} (only official-format pickles are read)") from exc
    except (EOFError, ValueError, TypeError, AttributeError, ImportError, IndexError,
            KeyError, RuntimeError, OSError, MemoryError) as exc:  # fmt: skip
        raise EvalibError(
            f"cannot read {path} as a dynamics pickle ({type(exc).__name__}: {exc})"
        ) from exc


def import_official_pickle(
    path: str | os.PathLike,
    labels: np.ndarray,
    num_epochs: int | None = None,
) -> Dynamics:
    """Read the training-dynamics pickle written by the official EVA/CCS code.

    That file is a list of per-batch dicts with keys ``epoch``, ``iteration``, ``idx``
    ([B] training-set indices) and ``output`` ([B, C] float16 log-softmax), possibly
    wrapped in ``{"data-name": ..., "training_dynamics": [...]}``. Samples that a
    drop-last loader skipped in an epoch are marked unseen rather than zero.

    Only read files you trust, even so: pickle is a format that can name any Python
    object. This importer uses a restricted unpickler that builds only what that format
    holds (lists, dicts, tuples, Python scalars, numpy arrays and dtypes, torch tensors,
    whose storage is read with ``torch.load(weights_only=True)``) and refuses a file that
    names anything else, with a one-line EvalibError.

    Args:
        labels: [N] labels of the full training split (the pickle does not store them).
        num_epochs: T; defaults to 1 + the largest epoch in the file.
    """
    path = Path(path)
    records = _read_pickle(path)
    if isinstance(records, dict) and "training_dynamics" in records:
        records = records["training_dynamics"]
    if not isinstance(records, list) or not records:
        raise EvalibError(f"{path}: expected a non-empty list of per-batch records")
    labels = np.asarray(labels, np.int64).reshape(-1)
    n = len(labels)
    try:
        c = int(np.asarray(_to_numpy(records[0]["output"])).shape[-1])
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
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise EvalibError(
            f"{path}: a record is not an official per-batch dict of epoch, idx and output "
            f"({type(exc).__name__}: {exc}); or its indices exceed the {n} labels given"
        ) from exc
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


# ----------------------------------------------------------------------------- recorder


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
