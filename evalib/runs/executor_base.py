"""What every executor shares: the protocol, the duck typing by which an executor knows
the runner's jobs, and the devices' memory.

Like the executors (:mod:`evalib.runs.executors`, :mod:`evalib.runs.ray_executor`), this module
imports nothing of the runner (:mod:`evalib.runs.runner`, :mod:`evalib.runs.batch`); it asks the job
function and the items for what it needs (see :mod:`evalib.runs.executors`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from evalib.errors import EvalibError
from evalib.runs.packing import USABLE_FRACTION, JobSize


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


# ----------------------------------------------------------------------------- devices


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


@contextmanager
def memory_share(share: float, device: str | None = None) -> Iterator[None]:
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
