"""Where jobs run: one after another, in local processes, or on a Ray cluster.

Every executor has one method, ``run(fn, items)``, which calls ``fn(item)`` once per item
and yields the results in completion order (:class:`Executor`). Two optional class
attributes tell the runner more: ``runs_remotely`` (the runner records surrogates through
the executor too, on its workers) and ``accepts_bar`` (``run`` takes the runner's progress
bar as ``bar=`` and writes its counts into it).

The Ray executor lives in :mod:`evalib.runs.ray_executor`, and what the executors share in
:mod:`evalib.runs.executor_base`.

This module imports nothing of the runner (:mod:`evalib.runs.runner`, :mod:`evalib.runs.batch`). It
asks the job function and the items for what it needs, by duck typing:

* a job function that is a dataclass with a ``device`` field set to None is given the
  device it is placed on (:func:`on_device`);
* ``fn.job_size(item)`` -> :class:`~evalib.runs.packing.JobSize` sizes a job, from which the
  number of jobs per device is chosen (:func:`evalib.runs.packing.jobs_per_device`);
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

import os
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from evalib.errors import EvalibError
from evalib.runs.executor_base import (
    Executor,
    device_memory_bytes,
    job_size,
    memory_share,
    on_device,
    visible_cuda_devices,
)
from evalib.runs.packing import jobs_per_device
from evalib.runs.ray_executor import (
    RayExecutor,
)

# ----------------------------------------------------------------------------- local


@dataclass(frozen=True)
class SerialExecutor:
    """Every job in the calling process, one after another."""

    def run(self, fn, items):
        for item in items:
            yield fn(item)


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
    the job's size and the device's memory (:func:`evalib.runs.packing.jobs_per_device`;
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
    with memory_share(share, device):
        return on_device(fn, device)(item)


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
