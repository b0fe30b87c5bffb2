"""Where jobs run: one after another, in local processes, or on a Ray cluster.

Every executor has one method, ``run(fn, items)``, which calls ``fn(item)`` once per item
and yields the results in completion order (:class:`Executor`). Two optional class
attributes tell the runner more: ``runs_remotely`` (the runner records surrogates through
the executor too, on its workers) and ``accepts_bar`` (``run`` takes the runner's progress
bar as ``bar=`` and writes its counts into it).

This module imports nothing of the runner (:mod:`evalib.runner`, :mod:`evalib.batch`). It
asks the job function and the items for what it needs, by duck typing:

* a job function that is a dataclass with a ``device`` field set to None is given the
  device it is placed on (:func:`on_device`);
* ``fn.job_size(item)`` -> :class:`~evalib.packing.JobSize` sizes a job, from which the
  number of jobs per device is chosen (:func:`evalib.packing.jobs_per_device`);
* ``fn.cache.job_result(item)`` is a job's cached result, read before a retried task
  trains again; ``fn.cache`` (a dataclass with ``results`` and ``scratch`` folders),
  ``fn.data_root`` and ``fn.threads`` are made absolute and explicit before a job
  function travels to another machine (:func:`portable`);
* an item is a job when it has ``key()``, ``data``, ``method``, ``rate`` and ``seed``
  (:func:`is_job`); ``item.data.dataset`` names the data file that ``ship_data`` sends.

Device placement. :class:`ProcessExecutor` places jobs on the visible CUDA devices, up to
``jobs_per_device`` at a time on each, and passes each job its device (``cuda:k``); every
worker process serves one device. :class:`RayExecutor` asks Ray for ``gpus_per_job`` of a
GPU per task. Both choose the share of a device from the job's size when it is not given,
and on CUDA bound the memory of a packed job to its share
(``torch.cuda.set_per_process_memory_fraction``). Which device a job runs on never
changes its result beyond what running on a GPU at all does.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import tempfile
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

from evalib import __version__
from evalib.errors import EvalibError
from evalib.io import atomic_file, progress_bar
from evalib.packing import USABLE_FRACTION, JobSize, jobs_per_device

INSTALL_HINT = "pip install 'evalib[ray]' (or pip install 'ray[default]')"
#: GPU memory assumed for Ray's default packing when the driver sees no GPU (a 16 GB card)
DEFAULT_GPU_MEMORY_BYTES = 16 * 10**9


class Executor(Protocol):
    """Runs ``fn`` over ``items`` and yields results in completion order."""

    def run(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterable[Any]: ...


# ----------------------------------------------------------------------------- duck typing


def is_job(item: Any) -> bool:
    """Whether ``item`` looks like a training job (key, data, method, rate, seed)."""
    return callable(getattr(item, "key", None)) and all(
        hasattr(item, a) for a in ("data", "method", "rate", "seed")
    )


def job_size(fn: Any, item: Any) -> JobSize | None:
    """``fn.job_size(item)`` when ``fn`` can size its items; None when it cannot (or the
    item is invalid: the job itself then reports the problem when it runs)."""
    sizer = getattr(fn, "job_size", None)
    if not callable(sizer):
        return None
    try:
        return sizer(item)
    except EvalibError:
        return None


def on_device(fn: Any, device: str) -> Any:
    """``fn`` running on ``device``: a dataclass job function whose ``device`` is None gets
    ``device``; one whose device was set explicitly, and any other callable, is kept."""
    if (
        dataclasses.is_dataclass(fn)
        and not isinstance(fn, type)
        and "device" in {f.name for f in dataclasses.fields(fn)}
        and fn.device is None
    ):
        return dataclasses.replace(fn, device=device)
    return fn


def cached_result(fn: Any, item: Any) -> Any:
    """The cached result of job ``item`` when ``fn`` runs jobs into a cache, else None."""
    lookup = getattr(getattr(fn, "cache", None), "job_result", None)
    if callable(lookup) and is_job(item):
        return lookup(item)
    return None


def describe(item: Any) -> str:
    if is_job(item):
        return f"{item.data.dataset} {item.method} {item.rate:.0%} seed {item.seed} ({item.key()})"
    return repr(item)[:80]


# ----------------------------------------------------------------------------- local


@dataclass(frozen=True)
class SerialExecutor:
    """Every job in the calling process, one after another."""

    def run(self, fn, items):
        for item in items:
            yield fn(item)


def visible_cuda_devices() -> tuple[str, ...]:
    """``("cuda:0", "cuda:1", ...)`` for the CUDA devices PyTorch sees (honours
    ``CUDA_VISIBLE_DEVICES``); empty without CUDA. Does not initialise CUDA."""
    import torch

    return tuple(f"cuda:{k}" for k in range(torch.cuda.device_count()))


def device_memory_bytes(device: str) -> int:
    """Total memory of ``device``: the card's for ``cuda:k`` (initialises CUDA in this
    process), the machine's RAM otherwise."""
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.get_device_properties(torch.device(device)).total_memory)
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


@dataclass(frozen=True)
class ProcessExecutor:
    """A local pool of processes; each uses ``threads`` torch threads (default 1).

    Without devices (no CUDA device visible and ``devices`` None) the pool has
    ``workers`` processes and each job chooses its device itself, as in a serial run.

    With devices (every visible CUDA device, or the ``devices`` given: ``("cuda:0",
    "cuda:2")``, or ``("cpu",)``), jobs are placed on them: each device takes up to
    ``jobs_per_device`` jobs at a time, a job goes to the least-loaded device (so to
    the devices in turn), and its function receives the device (``cuda:k``, see
    :func:`on_device`). Each device has its own worker processes, so a process never
    touches two GPUs. ``jobs_per_device`` None chooses it per job on CUDA devices, from
    the job's size and the device's memory (:func:`evalib.packing.jobs_per_device`;
    ``device_memory_bytes`` overrides the memory), and is ``workers`` on other devices.
    A packed CUDA job may use at most its share of ``USABLE_FRACTION`` of the device's
    memory. A job's result does not depend on the jobs beside it.
    """

    workers: int = 2
    threads: int = 1
    jobs_per_device: int | None = None
    devices: tuple[str, ...] | None = None
    device_memory_bytes: int | None = None

    def __post_init__(self) -> None:
        for name in ("workers", "threads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise EvalibError(f"{name} must be a positive integer, got {value!r}")
        k = self.jobs_per_device
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
            raise EvalibError(f"jobs_per_device must be a positive integer or None, got {k!r}")
        if self.devices is not None:
            object.__setattr__(self, "devices", tuple(str(d) for d in self.devices))
            if not self.devices:
                raise EvalibError("devices must name at least one device, or be None")

    def placement(self) -> tuple[str, ...]:
        """The devices jobs are placed on (empty: no placement)."""
        return self.devices if self.devices is not None else visible_cuda_devices()

    def share(self, fn: Any, item: Any, device: str) -> Fraction:
        """The fraction of ``device`` one job ``item`` takes: 1 / jobs per device."""
        k = self.jobs_per_device
        if k is None and not device.startswith("cuda"):
            k = self.workers
        if k is None:
            size = job_size(fn, item)
            if size is None:
                k = 1
            else:
                memory = self.device_memory_bytes or device_memory_bytes(device)
                n, model, width, record = size
                k = jobs_per_device(n, model, width, memory, record=record)
        return Fraction(1, k)

    def run(self, fn, items):
        devices = self.placement()
        if not devices:
            yield from self._run_pool(fn, items)
        else:
            yield from self._run_placed(fn, list(items), devices)

    def _pool(self, workers: int, device: str | None):
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"),
                                   initializer=_init_worker,
                                   initargs=(self.threads, os.getpid(), device))  # fmt: skip

    def _run_pool(self, fn, items):
        from concurrent.futures import as_completed

        with self._pool(self.workers, None) as pool:
            futures = [pool.submit(fn, item) for item in items]
            for fut in as_completed(futures):
                yield fut.result()

    def _run_placed(self, fn, items: list, devices: tuple[str, ...]):
        from concurrent.futures import FIRST_COMPLETED, wait

        if not items:
            return
        shares = [self.share(fn, item, devices[0]) for item in items]
        per_device = min(len(items), max(int(1 / s) for s in shares))
        pools = {d: self._pool(per_device, d) for d in dict.fromkeys(devices)}
        used = dict.fromkeys(pools, Fraction(0))
        queue = deque(zip(items, shares, strict=True))
        running: dict[Any, tuple[str, Fraction]] = {}
        try:
            while queue or running:
                while queue:  # first come, first placed: a large job is never starved
                    item, share = queue[0]
                    device = place(used, share)
                    if device is None:
                        break
                    queue.popleft()
                    used[device] += share
                    fut = pools[device].submit(_run_placed, fn, item, device, float(share))
                    running[fut] = (device, share)
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    device, share = running.pop(fut)
                    used[device] -= share
                    yield fut.result()
        finally:
            for pool in pools.values():
                pool.shutdown(wait=True, cancel_futures=True)


def place(used: Mapping[str, Fraction], share: Fraction) -> str | None:
    """The device for a job taking ``share`` of one, given the shares ``used`` on each:
    the least-loaded device it fits on (ties: the first listed, so that equal jobs go to
    the devices in turn), or None when it fits on none yet."""
    free = [d for d in used if used[d] + share <= 1]
    return min(free, key=lambda d: used[d]) if free else None


def _run_placed(fn: Any, item: Any, device: str, share: float) -> Any:
    """In a worker: run ``fn(item)`` on ``device`` within its share of the memory."""
    with _memory_share(share, device):
        return on_device(fn, device)(item)


@contextmanager
def _memory_share(share: float, device: str | None = None) -> Iterator[None]:
    """On CUDA, let a packed job (``share`` < 1) allocate at most ``share`` ×
    ``USABLE_FRACTION`` of the device's memory (a job with a whole device: all of it),
    and hand its cached blocks back afterwards: the next job in this process may have
    another share. Elsewhere, nothing."""
    import torch

    on_cuda = (device is None or device.startswith("cuda")) and torch.cuda.is_available()
    if on_cuda:
        dev = torch.device(device) if device else torch.device("cuda", torch.cuda.current_device())
        fraction = share * USABLE_FRACTION if share < 1 else 1.0
        torch.cuda.set_per_process_memory_fraction(fraction, dev)
    try:
        yield
    finally:
        if on_cuda:
            torch.cuda.empty_cache()


def _init_worker(threads: int, parent_pid: int | None = None, device: str | None = None) -> None:
    import torch

    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if device is not None and device.startswith("cuda") and torch.cuda.is_available():
        torch.cuda.set_device(torch.device(device))  # a bare "cuda" means this device too
    if parent_pid is not None:
        threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()


def _exit_with_parent(parent_pid: int, poll_seconds: float = 2.0) -> None:
    """End this worker once ``parent_pid`` is gone (the parent was killed rather than
    shut down): its job resumes from its last checkpoint on the next run."""
    while os.getppid() == parent_pid:
        time.sleep(poll_seconds)
    os._exit(3)


def make_executor(
    name: str = "serial",
    workers: int = 2,
    threads: int = 1,
    address: str | None = None,
    jobs_per_device: int | None = None,
) -> Executor:
    """``serial``, ``process`` (``workers`` local processes, or ``jobs_per_device`` per
    visible GPU) or ``ray``: the Ray cluster at ``address`` ("auto", "ray://host:10001"),
    or a local Ray instance with ``workers * threads`` CPUs when ``address`` is None
    (see book/scaling.md); there ``jobs_per_device`` k asks 1/k of a GPU per job. None:
    chosen from each job's size."""
    if jobs_per_device is not None and (
        isinstance(jobs_per_device, bool)
        or not isinstance(jobs_per_device, int)
        or jobs_per_device < 1
    ):
        raise EvalibError(f"jobs_per_device must be a positive integer, got {jobs_per_device!r}")
    if name == "serial":
        return SerialExecutor()
    if name == "process":
        return ProcessExecutor(workers, threads, jobs_per_device)
    if name == "ray":
        local_cpus = workers * threads if address is None else None
        gpus = None if jobs_per_device is None else 1 / jobs_per_device
        return RayExecutor(address=address, num_cpus=local_cpus, threads=threads, gpus_per_job=gpus)
    raise EvalibError(f"unknown executor {name!r}; choose serial, process or ray")


# ----------------------------------------------------------------------------- Ray


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
            :func:`evalib.packing.jobs_per_device`).
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
    with _memory_share(share):  # Ray shows the task only its GPU: the current device
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
