"""A restricted importer for the training-dynamics pickles of the official EVA/CCS code.

The pickle is read by an unpickler that builds only the types that format holds, so
reading a file cannot run foreign code; the per-batch records become a :class:`Dynamics`.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from evalib.dynamics import Dynamics
from evalib.errors import EvalibError


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
