"""The Ray executor: each job a Ray task, retried when its worker dies, with live counts.

It keeps the protocol of :mod:`evalib.runs.executors` (``run(fn, items)`` yields results in
completion order) and knows the runner's jobs only by the duck typing of
:mod:`evalib.runs.executor_base`; it imports nothing of the runner. Ray is imported only when
an executor starts running, so this module imports without Ray installed.
``evalib.runs.executors.make_executor("ray", ...)`` builds one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalib import __version__
from evalib.errors import EvalibError
from evalib.io import atomic_file, progress_bar
from evalib.runs.executor_base import (
    cached_result,
    describe,
    device_memory_bytes,
    job_size,
    memory_share,
)
from evalib.runs.packing import jobs_per_device

INSTALL_HINT = "pip install 'evalib[ray]' (or pip install 'ray[default]')"
#: GPU memory assumed for Ray's default packing when the driver sees no GPU (a 16 GB card)
DEFAULT_GPU_MEMORY_BYTES = 16 * 10**9


def ray_available() -> bool:
    """Whether Ray can be imported (without importing it)."""
    import importlib.util

    try:
        return importlib.util.find_spec("ray") is not None
    except ValueError:  # sys.modules["ray"] is None: import blocked
        return False


def _import_ray():
    try:
        import ray
    except ImportError as exc:
        raise EvalibError(
            f"the ray executor needs Ray, which is not installed: {INSTALL_HINT}"
        ) from exc
    return ray


@dataclass(frozen=True)
class RayExecutor:
    """Each item a Ray task; results yielded as the tasks complete.

    What travels to a worker is the job function (the cache's two folders, the data
    root, device and thread settings) and one item per task: a few hundred bytes. The
    worker reads the data from ``data_root`` and writes its result into the cache
    itself, so **the cache and the data root must be paths that every node sees** (a
    shared file system); ``ship_data=True`` lifts that for the data. A task whose worker
    or node dies is resubmitted up to ``max_retries`` times, and first reads the cache,
    so a finished job is never trained twice and a killed one resumes from its last
    checkpoint. Ray is imported only when an executor starts running.

    Args:
        address: Ray cluster to join: ``"auto"`` (the cluster started on this machine with
            ``ray start``), ``"ray://host:10001"`` (Ray Client) or ``"host:6379"``.
            None starts a local instance (unless Ray is already initialised in this
            process, in which case that one is used).
        num_cpus: CPUs of the local instance started when ``address`` is None (default:
            all of them). Ignored when joining a cluster.
        threads: torch threads of every job, and CPUs reserved per task on CPU-only
            clusters (a GPU task reserves ``threads`` CPUs too).
        gpus_per_job: GPUs per task; a fraction (0.5, 0.25) packs several jobs onto one
            GPU. None: 0 on a cluster without GPUs, else 1 / jobs per device, chosen per
            job from its size and ``device_memory_bytes`` (see
            :func:`evalib.runs.packing.jobs_per_device`).
        device_memory_bytes: memory of the cluster's GPUs for that choice; None: that
            of the driver's first GPU, or ``DEFAULT_GPU_MEMORY_BYTES`` when it has none.
        max_retries: times a task is resubmitted when its worker or node dies.
        ship_data: put the dataset files into the object store instead of reading them
            from ``data_root`` on the workers (then only the cache must be shared).
        fail_fast: stop at the first failed job (cancelling the rest); by default the
            other jobs run to the end and the failures are reported afterwards.
        progress: show a bar with running / queued / failed / retried counts when
            :meth:`run` is not handed the caller's bar.
        refresh_s: how often the counts are polled while waiting.
        init_kwargs: extra keyword arguments of ``ray.init`` (``runtime_env``,
            ``include_dashboard``, ``object_store_memory``, ...).
    """

    address: str | None = None
    num_cpus: int | None = None
    threads: int = 1
    gpus_per_job: float | None = None
    device_memory_bytes: int | None = None
    max_retries: int = 3
    ship_data: bool = False
    fail_fast: bool = False
    progress: bool = True
    refresh_s: float = 1.0
    init_kwargs: Mapping[str, Any] | None = field(default=None, compare=False)
    #: counts of the latest :meth:`run`: jobs, done, failed, retried, connect_s, wall_s
    last_run: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    runs_remotely = True  # run_jobs records surrogates through it too, on the workers
    accepts_bar = True  # run_jobs hands its bar to run(): one bar, with the counts

    def __post_init__(self) -> None:
        if not isinstance(self.threads, int) or self.threads < 1:
            raise EvalibError(f"threads must be a positive integer, got {self.threads!r}")
        if self.gpus_per_job is not None and self.gpus_per_job < 0:
            raise EvalibError(f"gpus_per_job must be ≥ 0, got {self.gpus_per_job!r}")
        if self.max_retries < 0:
            raise EvalibError(f"max_retries must be ≥ 0, got {self.max_retries!r}")

    # ------------------------------------------------------------------------- cluster

    def connect(self):
        """The ``ray`` module, initialised: joins ``address`` or starts a local instance."""
        ray = _import_ray()
        if ray.is_initialized():
            return ray
        kwargs = dict(self.init_kwargs or {})
        try:
            if self.address is None:
                ray.init(num_cpus=self.num_cpus, **kwargs)
            else:
                ray.init(address=self.address, **kwargs)
        except ConnectionError as exc:
            raise EvalibError(
                f"cannot reach the Ray cluster at {self.address!r} ({exc}); start it with "
                "`ray start --head` (see book/scaling.md) or leave the address empty"
            ) from exc
        return ray

    def shutdown(self) -> None:
        """Disconnect from Ray (and stop the local instance if this process started it)."""
        if ray_available():
            import ray

            if ray.is_initialized():
                ray.shutdown()

    def task_options(self, ray=None) -> dict[str, Any]:
        """Resources and retries of every task, given the cluster's resources;
        ``num_gpus`` is that of a whole-device job (see :meth:`gpus_for`)."""
        ray = ray or self.connect()
        gpus = self.gpus_per_job
        if gpus is None:
            gpus = 1 if ray.cluster_resources().get("GPU", 0) > 0 else 0
        cpus = max((n.get("Resources", {}).get("CPU", 0) for n in ray.nodes() if n.get("Alive")),
                   default=0)  # fmt: skip
        if cpus and self.threads > cpus:
            warnings.warn(
                f"each job asks for {self.threads} CPUs but no Ray node has more than "
                f"{cpus:g}; the tasks wait until such a node joins",
                stacklevel=2,
            )
        return {
            "num_cpus": self.threads,
            "num_gpus": gpus,
            "max_retries": self.max_retries,
            "retry_exceptions": False,
        }

    def gpus_for(self, fn: Any, item: Any, cluster_gpus: bool) -> float:
        """GPUs that the task of ``item`` asks for: ``gpus_per_job`` if set, 0 on a
        cluster without GPUs, else 1 / jobs per device from the job's size."""
        if self.gpus_per_job is not None:
            return float(self.gpus_per_job)
        if not cluster_gpus:
            return 0.0
        size = job_size(fn, item)
        if size is None:
            return 1.0
        memory = self.device_memory_bytes or _driver_gpu_memory()
        n, model, width, record = size
        k = jobs_per_device(n, model, width, memory, record=record)
        return math.floor(1e4 / k) / 1e4  # Ray counts GPUs to 4 decimals: k shares fit in 1

    # ------------------------------------------------------------------------- running

    def run(self, fn: Callable[[Any], Any], items: Sequence[Any], *, bar=None) -> Iterator[Any]:
        """Run ``fn(item)`` as one Ray task per item; yield results in completion order.

        ``bar``: a tqdm bar owned by the caller, which advances it per result; the
        executor only writes the running / queued / failed / retried counts into its
        postfix. Without one, the executor shows its own bar (if ``progress``).
        """
        items = list(items)
        self.last_run.clear()
        self.last_run.update(jobs=len(items), done=0, failed=0, retried=0)
        if not items:
            return
        t0 = time.perf_counter()
        ray = self.connect()
        options = self.task_options(ray)
        cluster_gpus = ray.cluster_resources().get("GPU", 0) > 0
        gpus = [self.gpus_for(fn, item, cluster_gpus) for item in items]
        self.last_run["connect_s"] = time.perf_counter() - t0
        self.last_run["resources"] = {"num_cpus": options["num_cpus"],
                                      "num_gpus": sorted(set(gpus))}  # fmt: skip
        fn = portable(fn, self.threads)
        shipped = self._ship_data(ray, fn, items) if self.ship_data else None
        task = ray.remote(_run_one)
        tracker = ray.remote(num_cpus=0)(_Tracker).remote()
        fn_ref = ray.put(fn)
        index = {
            task.options(**{**options, "num_gpus": g}).remote(
                fn_ref, item, i, tracker, shipped, self.threads, __version__, g if g else 1.0
            ): i
            for i, (item, g) in enumerate(zip(items, gpus, strict=True))
        }
        own_bar = None
        if bar is None:
            what = "surrogates" if type(items[0]).__name__ == "SurrogateConfig" else "jobs"
            own_bar = progress_bar(
                self.progress, total=len(items), desc=f"{what} (ray)", unit=what[:-1]
            )
            bar = own_bar
        pending = list(index)
        finished: set[int] = set()
        starts: dict[int, int] = {}
        errors: list[tuple[Any, BaseException]] = []
        snapshot = tracker.snapshot.remote()
        shown: dict | None = None
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1, timeout=self.refresh_s)
                if ready and pending:  # collect everything else already finished
                    more, pending = ray.wait(pending, num_returns=len(pending), timeout=0)
                    ready += more
                for ref in ready:
                    i = index[ref]
                    finished.add(i)
                    try:
                        result = ray.get(ref)
                    except Exception as exc:  # the job raised, or its retries ran out
                        errors.append((items[i], exc))
                        self.last_run["failed"] = len(errors)
                        if self.fail_fast:
                            raise _failure(errors, len(items)) from exc
                        continue
                    self.last_run["done"] += 1
                    if own_bar is not None:
                        own_bar.update(1)
                    yield result
                if not ray.wait([snapshot], timeout=0)[1]:  # the tracker answered
                    try:
                        starts = ray.get(snapshot)
                    except Exception:  # the tracker died: keep the last counts
                        pass
                    snapshot = tracker.snapshot.remote()
                counts = _counts(starts, finished, len(items), len(errors))
                self.last_run["retried"] = counts["retried"]
                if counts != shown:
                    bar.set_postfix(counts, refresh=True)
                    shown = counts
        finally:
            for ref in pending:  # interrupted, or stopped by fail_fast
                ray.cancel(ref)
            try:
                starts = ray.get(tracker.snapshot.remote(), timeout=5)
                self.last_run["retried"] = _counts(starts, finished, len(items), 0)["retried"]
            except Exception:
                pass
            ray.kill(tracker)
            self.last_run["wall_s"] = time.perf_counter() - t0
            if own_bar is not None:
                own_bar.close()
        if errors:
            raise _failure(errors, len(items)) from errors[0][1]

    def _ship_data(self, ray, fn, items) -> dict[str, tuple[str, Any]]:
        """{flag: (md5, object ref of the file's bytes)} for every dataset of ``items``."""
        from evalib.data import locate

        root = getattr(fn, "data_root", None)
        flags = sorted({f for f in (_dataset(item) for item in items) if f is not None})
        shipped = {}
        for flag in flags:
            blob = locate(flag, root).read_bytes()
            digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
            shipped[flag] = (digest, ray.put(blob))
        return shipped


# ----------------------------------------------------------------------------- Ray helpers


def _driver_gpu_memory() -> int:
    import torch

    if torch.cuda.is_available():
        return device_memory_bytes("cuda:0")
    return DEFAULT_GPU_MEMORY_BYTES


def _dataset(item: Any) -> str | None:
    """The MedMNIST flag an item trains on (``item.data.dataset``), or None."""
    flag = getattr(getattr(item, "data", None), "dataset", None)
    return flag if isinstance(flag, str) else None


def portable(fn: Any, threads: int | None = None) -> Any:
    """``fn`` ready to run on another machine: absolute cache and data paths, thread count.

    Applies to job functions that are dataclasses with ``cache`` (a dataclass with
    ``results`` and ``scratch`` folders), ``data_root`` and ``threads`` fields; anything
    else is returned as is. A missing ``data_root`` becomes the driver's
    ``$EVALIB_DATA_ROOT`` when that is set.
    """
    if not dataclasses.is_dataclass(fn) or isinstance(fn, type):
        return fn
    names = {f.name for f in dataclasses.fields(fn)}
    changes: dict[str, Any] = {}
    cache = getattr(fn, "cache", None)
    if (
        "cache" in names
        and dataclasses.is_dataclass(cache)
        and {"results", "scratch"} <= {f.name for f in dataclasses.fields(cache)}
    ):
        changes["cache"] = dataclasses.replace(
            cache, results=_absolute(cache.results), scratch=_absolute(cache.scratch)
        )
    if "data_root" in names:
        root = fn.data_root or os.environ.get("EVALIB_DATA_ROOT") or None
        changes["data_root"] = None if root is None else str(_absolute(root))
    if "threads" in names and fn.threads is None and threads is not None:
        changes["threads"] = threads
    return dataclasses.replace(fn, **changes) if changes else fn


def _absolute(path: str | os.PathLike) -> Path:
    """Absolute, with symbolic links kept: a mount point may be a link on one node only."""
    return Path(os.path.abspath(Path(path).expanduser()))


def _failure(errors: list[tuple[Any, BaseException]], total: int) -> EvalibError:
    item, exc = errors[0]
    cause = getattr(exc, "cause", None) or exc
    text = str(cause).strip().splitlines()
    reason = f"{type(cause).__name__}: {text[0] if text else ''}"
    return EvalibError(
        f"{len(errors)} of {total} jobs failed on Ray (the others are cached; rerun to retry "
        f"the failed ones); first: {describe(item)}: {reason}"
    )


def _counts(starts: Mapping[int, int], finished: set[int], total: int, failed: int) -> dict:
    running = sum(1 for i in starts if i not in finished)
    return {
        "running": running,
        "queued": total - len(finished) - running,
        "failed": failed,
        "retried": sum(n - 1 for n in starts.values()),
    }


class _Tracker:
    """A tiny actor: how many attempts of each task have started."""

    def __init__(self) -> None:
        self.starts: dict[int, int] = {}

    def started(self, index: int) -> None:
        self.starts[index] = self.starts.get(index, 0) + 1

    def snapshot(self) -> dict[int, int]:
        return dict(self.starts)


def _run_one(fn, item, index: int, tracker, shipped, threads: int | None, version: str, share=1.0):
    """The body of every Ray task: report the start, read the cache, else run ``fn``."""
    if version != __version__:  # cache keys include the version: results would be lost
        import socket

        raise EvalibError(
            f"the Ray worker on {socket.gethostname()} has evalib {__version__} but the "
            f"driver has {version}; install the same version on every node"
        )
    if tracker is not None:
        import ray

        try:  # wait (briefly) for the acknowledgement: the worker may die right after
            ray.wait([tracker.started.remote(index)], timeout=2)
        except Exception:  # progress is best effort
            pass
    cached = cached_result(fn, item)
    if cached is not None:
        return cached
    if threads:
        import torch

        torch.set_num_threads(threads)
    if shipped:
        fn = _with_local_data(fn, item, shipped)
    with memory_share(share):  # Ray shows the task only its GPU: the current device
        return fn(item)


def _with_local_data(fn, item, shipped):
    """``fn`` reading ``item``'s dataset from a node-local copy of the shipped file."""
    import ray

    flag = _dataset(item)
    if flag not in shipped or "data_root" not in {f.name for f in dataclasses.fields(fn)}:
        return fn
    digest, ref = shipped[flag]
    folder = Path(tempfile.gettempdir()) / "evalib-ray-data" / digest
    target = folder / f"{flag}.npz"
    if not target.is_file():
        with atomic_file(target, "wb") as fh:
            fh.write(ray.get(ref))
    return dataclasses.replace(fn, data_root=str(folder))
