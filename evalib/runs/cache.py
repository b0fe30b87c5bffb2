"""Where results live and how they are written.

Results are checksummed JSON records written atomically (:func:`atomic_write_json`), so
a torn or corrupt entry is recomputed, never read. A :class:`Cache` holds a results root
(small files, committed) and a scratch root (recorded dynamics, checkpoints), each owned
by evalib. Coresets are stored with the results as packed bitmasks and indexed by
:func:`selection_key`, so a selection outlives the surrogate that made it; per-sample loss
weights are stored the same way, by digest (:func:`save_weights`). Re-keying stored
results to the current :data:`~evalib.runs.config.SCHEMA` is :func:`evalib.runs.rerun.migrate`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evalib.errors import EvalibError
from evalib.io import atomic_file, check_output_dir, claim_dir
from evalib.runs.config import (
    Job,
    SurrogateConfig,
    _canonical,
    payload_key,
)

ENV_CACHE = "EVALIB_CACHE"
ENV_RESULTS = "EVALIB_RESULTS_DIR"


# ----------------------------------------------------------------------------- folders


def default_cache_dir() -> Path:
    return Path(os.environ.get(ENV_CACHE) or "~/.cache/evalib").expanduser()


def default_results_dir() -> Path:
    """Where notebooks and ``evalib grid`` keep job results unless told: $EVALIB_RESULTS_DIR,
    else the ``results/`` folder of the source checkout evalib runs from (the committed
    cache, whatever the working directory), else ``~/.cache/evalib/results``."""
    env = os.environ.get(ENV_RESULTS)
    if env:
        return Path(env).expanduser()
    repo = Path(__file__).resolve().parents[2]
    if (repo / "pyproject.toml").is_file() and (repo / "notebooks").is_dir():
        return repo / "results"
    return default_cache_dir() / "results"


_RESULT_DIRS = frozenset(
    {"jobs", "surrogates", "selections", "weights", "candidates", "pie", "distill", "segmentation"}
)
_SCRATCH_DIRS = frozenset(
    {"surrogates", "checkpoints", "results", "pie", "distill", "segmentation"}
)


def _entries(path: Path) -> list[os.DirEntry] | None:
    try:
        return [e for e in os.scandir(path) if not e.name.startswith(".")]
    except OSError:
        return None


def is_results_dir(path: Path) -> bool:
    """True when ``path`` holds only what evalib writes into ``<results>/<profile>/`` (the
    layout of the committed ``results/`` folders, written before markers existed): the
    folders jobs, surrogates, selections, weights, candidates, pie, distill, segmentation and
    one per dataset, and CSV or JSON files."""
    from evalib.data import DATASETS

    entries = _entries(path)
    if entries is None:
        return False
    return all(
        e.name in _RESULT_DIRS or e.name in DATASETS
        if e.is_dir()
        else e.name.endswith((".csv", ".json"))
        for e in entries
    )


def is_scratch_dir(path: Path) -> bool:
    """True when ``path`` holds only evalib's scratch folders (surrogates, checkpoints, ...)."""
    entries = _entries(path)
    return entries is not None and all(e.is_dir() and e.name in _SCRATCH_DIRS for e in entries)


def atomic_write_json(path: Path, payload: Mapping[str, Any]) -> None:
    """Write ``payload`` with a sha256 of its body; the file appears only when complete."""
    body = json.dumps(payload, sort_keys=True, default=_json_default)
    record = json.dumps({"sha256": hashlib.sha256(body.encode()).hexdigest(), "body": body})
    with atomic_file(path, "w") as fh:
        fh.write(record)


def read_json_checked(path: Path) -> dict[str, Any] | None:
    """The payload written by :func:`atomic_write_json`, or None if absent or corrupt."""
    try:
        record = json.loads(path.read_text())
        body = record["body"]
        if hashlib.sha256(body.encode()).hexdigest() != record["sha256"]:
            return None
        return json.loads(body)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


# ----------------------------------------------------------------------------- cache


@dataclass(frozen=True)
class Cache:
    """Where results live.

    ``results/jobs/<key>.json``: one small checksummed file per job (commit these);
    ``scratch/surrogates/<key>/``: recorded dynamics (large; regenerated on demand);
    ``scratch/checkpoints/``: per-epoch state of runs in progress. Both roots carry an
    ``.evalib-output`` marker (or, written by an older evalib, only evalib's layout); any
    other existing folder is refused (see :meth:`at`).
    """

    results: Path
    scratch: Path

    @staticmethod
    def at(
        results: str | os.PathLike | None = None,
        scratch: str | os.PathLike | None = None,
        *,
        what: tuple[str | None, str | None] = (None, None),
    ) -> Cache:
        """The cache in ``results`` and ``scratch`` (defaults under $EVALIB_CACHE), created
        and marked as evalib's. A folder that holds anything else is refused before any
        work (one-line EvalibError); ``what`` names the two options in messages."""
        res = Path(results).expanduser() if results is not None else default_cache_dir() / "results"
        scr = Path(scratch).expanduser() if scratch is not None else default_cache_dir()
        parts = [(res, "results", is_results_dir, what[0])]
        if res.resolve() != scr.resolve():  # scratch first: the default results sit inside it
            parts.insert(0, (scr, "scratch", is_scratch_dir, what[1]))
        for path, kind, legacy, label in parts:  # both checked before either is created
            check_output_dir(path, kind, legacy=legacy, what=label)
        for path, kind, legacy, label in parts:
            claim_dir(path, kind, legacy=legacy, what=label)
        for path, label in ((res, what[0]), (scr, what[1])):
            if not os.access(path, os.W_OK | os.X_OK):
                raise EvalibError(f"{label + ' ' if label else ''}folder {path} is not writable")
        return Cache(res, scr)

    def job_path(self, job: Job | Any) -> Path:
        """Result file of a job or study task (anything with ``key()``)."""
        return self.results / "jobs" / f"{job.key()}.json"

    def surrogate_dir(self, cfg: SurrogateConfig) -> Path:
        return self.scratch / "surrogates" / cfg.key()

    def checkpoint_dir(self, kind: str, key: str) -> Path:
        return self.scratch / "checkpoints" / f"{kind}-{key}"

    def job_result(self, job: Job | Any) -> dict[str, Any] | None:
        res = read_json_checked(self.job_path(job))
        return res if res is not None and res.get("key") == job.key() else None


# ----------------------------------------------------------------------------- selections


def indices_digest(chosen_ids: np.ndarray) -> str:
    """16-hex-digit sha256 of the sorted sample ids (int64) of a coreset."""
    return hashlib.sha256(np.sort(np.asarray(chosen_ids, np.int64)).tobytes()).hexdigest()[:16]


def selection_path(cache: Cache, dataset: str, digest: str) -> Path:
    return cache.results / "selections" / dataset / f"{digest}.npz"


def save_selection(cache: Cache, dataset: str, chosen_ids: np.ndarray, n_total: int) -> str:
    """Store a coreset as a packed bitmask over the ``n_total`` training samples
    (``n_total / 8`` bytes, compressed); returns its digest (:func:`indices_digest`)."""
    ids = np.unique(np.asarray(chosen_ids, np.int64))
    if len(ids) and (ids[0] < 0 or ids[-1] >= n_total):
        raise EvalibError(f"sample ids must lie in [0, {n_total}), got {ids[0]}..{ids[-1]}")
    digest = indices_digest(ids)
    path = selection_path(cache, dataset, digest)
    if not path.exists():
        mask = np.zeros(n_total, dtype=bool)
        mask[ids] = True
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path, "wb") as fh:
            np.savez_compressed(fh, bits=np.packbits(mask), n=np.int64(n_total))
    return digest


def load_selection(cache: Cache, dataset: str, digest: str) -> np.ndarray:
    """Sorted sample ids of the stored coreset ``digest`` (checked against the digest)."""
    path = selection_path(cache, dataset, digest)
    try:
        with np.load(path) as z:
            ids = np.flatnonzero(np.unpackbits(z["bits"], count=int(z["n"]))).astype(np.int64)
    except FileNotFoundError:
        raise EvalibError(f"no stored selection {digest} for {dataset} in {path.parent}") from None
    except (OSError, ValueError, KeyError) as exc:
        raise EvalibError(f"stored selection {path} is unreadable: {exc}") from None
    if indices_digest(ids) != digest:
        raise EvalibError(f"stored selection {path} does not match its digest {digest}")
    return ids


def weights_digest(weights: np.ndarray) -> str:
    """16-hex-digit sha256 of per-sample loss weights (float32)."""
    return hashlib.sha256(np.ascontiguousarray(weights, np.float32).tobytes()).hexdigest()[:16]


def weights_path(cache: Cache, dataset: str, digest: str) -> Path:
    return cache.results / "weights" / dataset / f"{digest}.npz"


def save_weights(cache: Cache, dataset: str, weights: np.ndarray) -> str:
    """Store per-sample loss weights ``[N]`` (one per training sample of the job's split,
    finite, ≥ 0) with the results; returns their digest (:func:`weights_digest`)."""
    w = np.asarray(weights, np.float32).reshape(-1)
    if not np.all(np.isfinite(w)) or (w < 0).any():
        raise EvalibError("loss weights must be finite and non-negative")
    digest = weights_digest(w)
    path = weights_path(cache, dataset, digest)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path, "wb") as fh:
            np.savez_compressed(fh, weights=w)
    return digest


def load_weights(cache: Cache, dataset: str, digest: str) -> np.ndarray:
    """The stored loss weights ``digest`` ([N] float32, checked against the digest)."""
    path = weights_path(cache, dataset, digest)
    try:
        with np.load(path) as z:
            w = z["weights"].astype(np.float32)
    except FileNotFoundError:
        raise EvalibError(
            f"no stored loss weights {digest} for {dataset} in {path.parent}"
        ) from None
    except (OSError, ValueError, KeyError) as exc:
        raise EvalibError(f"stored loss weights {path} are unreadable: {exc}") from None
    if weights_digest(w) != digest:
        raise EvalibError(f"stored loss weights {path} do not match their digest {digest}")
    return w


def selection_key(job: Job) -> str:
    """What a job's coreset depends on: the surrogate, the selection spec, the seed and the
    data (not the budget or the coreset model's recipe, which only change the training).
    Selection fields added later are left out at their default, as in job keys."""
    sel = None if job.selection is None else _canonical(asdict(job.selection))
    payload = {"surrogate": job.surrogate.key() if job.surrogate is not None else None,
               "selection": sel,
               "seed": job.seed, "data": asdict(job.data)}  # fmt: skip
    return payload_key(payload)


def selection_index_path(cache: Cache, dataset: str) -> Path:
    """``selections/<dataset>/index.json``: selection key -> digest of the stored coreset."""
    return cache.results / "selections" / dataset / "index.json"


def read_selection_index(cache: Cache, dataset: str) -> dict[str, str]:
    path = selection_index_path(cache, dataset)
    try:
        index = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise EvalibError(f"selection index {path} is unreadable: {exc}") from None
    if not isinstance(index, dict):
        raise EvalibError(f"selection index {path} is not a JSON object")
    return index


@contextlib.contextmanager
def _index_lock(path: Path):
    """Hold an exclusive lock beside ``path`` (processes of one machine share the index).
    Without ``fcntl`` (Windows) there is no lock; run one writer at a time there."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def remember_selections(cache: Cache, dataset: str, entries: Mapping[str, str]) -> None:
    """Add selection key -> digest ``entries`` to the dataset's index (atomic, locked)."""
    path = selection_index_path(cache, dataset)
    with _index_lock(path):
        index = read_selection_index(cache, dataset)
        new = {k: v for k, v in entries.items() if index.get(k) != v}
        if not new:
            return
        index.update(new)
        with atomic_file(path, "w") as fh:
            fh.write(json.dumps(index, indent=0, sort_keys=True))


def _selection_stored(job: Job, cache: Cache, index: Mapping[str, str]) -> bool:
    digest = index.get(selection_key(job))
    return digest is not None and selection_path(cache, job.data.dataset, digest).exists()


def stored_selection(job: Job, cache: Cache) -> np.ndarray | None:
    """Sorted sample ids of ``job``'s coreset if a run stored it (with the results, so
    it outlives the surrogate's dynamics in the scratch folder), else None."""
    index = read_selection_index(cache, job.data.dataset)
    if not _selection_stored(job, cache, index):
        return None
    return load_selection(cache, job.data.dataset, index[selection_key(job)])


def store_selection(job: Job, cache: Cache, chosen_ids: np.ndarray, n_total: int) -> str:
    """Store ``job``'s coreset and index it by :func:`selection_key`; returns its digest."""
    digest = save_selection(cache, job.data.dataset, chosen_ids, n_total)
    remember_selections(cache, job.data.dataset, {selection_key(job): digest})
    return digest
