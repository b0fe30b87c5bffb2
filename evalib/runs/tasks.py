"""Study jobs beside coreset training: one protocol for the runner, executors, cache and
``evalib rerun``.

A coreset run is a :class:`~evalib.runs.config.Job`. Studies whose unit of work is something
else (prune a dense network and predict, distil a synthetic set, train a U-Net on a
subset of mosaics) declare it as a *task*: a frozen dataclass deriving from
:class:`Task`, with a class attribute ``kind`` (``"<module>:<name>"``, the module one of
:data:`STUDY_MODULES`), the fields ``evalib rerun`` compares (``reproduced``) and an
:meth:`Task.execute` that computes the row's fields. Then :func:`evalib.runs.batch.run_jobs`
runs tasks beside jobs on any executor, :func:`run_task` caches each row under
``results/<profile>/jobs/<key>.json`` with its config and provenance, and
:func:`task_from_record` rebuilds a task from a stored row for ``evalib rerun``.

Each study module lists its task classes in a module-level ``TASKS`` dict
(``{kind: class}``); :func:`task_class` finds them there.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import time
import types
import typing
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any, ClassVar

from evalib import __version__
from evalib.errors import EvalibError
from evalib.runs.cache import Cache, _json_default, atomic_write_json
from evalib.runs.config import config_key
from evalib.runs.packing import JobSize

#: Modules whose ``TASKS`` may be named by a stored row (nothing else is imported).
STUDY_MODULES = ("pie", "distill", "segmentation")


class Task:
    """Base of every study task (subclasses are frozen dataclasses).

    ``kind``: ``"<module>:<name>"``; ``reproduced``: row fields that a rerun on the same
    machine must give again. Subclasses implement :meth:`execute` and :meth:`size` and
    have a ``dataset`` attribute or property.
    """

    kind: ClassVar[str] = ""
    reproduced: ClassVar[tuple[str, ...]] = ()

    def key(self) -> str:
        """16-hex-digit key of the task's config and kind (see :func:`~evalib.runs.config.config_key`)."""
        return config_key(self.kind, self)

    def execute(
        self,
        cache: Cache,
        data_root: str | os.PathLike | None,
        device: str | None,
        threads: int | None,
        progress: bool,
    ) -> dict[str, Any]:
        """Compute the task; returns its result fields (JSON-able)."""
        raise NotImplementedError

    def size(self) -> JobSize:
        """What the executors pack it onto devices by (see :mod:`evalib.runs.packing`)."""
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Task:
        """The task whose ``asdict`` is ``config`` (inverse of the stored config)."""
        return from_dict(cls, config)


def run_task(
    task: Task,
    cache: Cache,
    data_root: str | os.PathLike | None = None,
    progress: bool = False,
    device: str | None = None,
    threads: int | None = None,
    store: bool = True,
    wait: bool = True,
) -> dict[str, Any]:
    """The row of ``task``: read from the cache, else computed and (``store``) written
    with its key, kind, config, time and provenance. A stored task is computed under a
    lock, by one runner at a time (``wait``: as in :func:`evalib.runs.runner.run_job`)."""
    from evalib.runs.locks import run_once

    if not store:
        return _compute_task(task, cache, data_root, progress, device, threads, store)
    path = cache.job_path(task)
    return run_once(
        path.with_name(f"{path.stem}.lock"),
        task.key(),
        lambda: cache.job_result(task),
        lambda: _compute_task(task, cache, data_root, progress, device, threads, store),
        wait=wait,
    )


def _compute_task(task, cache, data_root, progress, device, threads, store) -> dict[str, Any]:
    from evalib.runs.runner import provenance

    if threads is not None:
        import torch

        torch.set_num_threads(max(1, int(threads)))
    t0 = time.perf_counter()
    fields = task.execute(cache, data_root, device, threads, progress)
    info = provenance(fields.pop("device", device))
    row = {
        "key": task.key(),
        "kind": task.kind,
        "dataset": task.dataset,
        **fields,
        "seconds": float(time.perf_counter() - t0),
        "torch_threads": info["threads"],
        "provenance": info,
        "config": asdict(task),
        "evalib_version": __version__,
    }
    if store:
        atomic_write_json(cache.job_path(task), row)
    return json.loads(json.dumps(row, default=_json_default))  # as it reads back


def task_class(kind: str) -> type[Task]:
    """The task class of ``kind`` (``"<module>:<name>"``), from ``evalib.<module>.TASKS``."""
    module, _, _ = str(kind).partition(":")
    if module not in STUDY_MODULES:
        raise EvalibError(f"unknown task kind {kind!r}: its module is not one of {STUDY_MODULES}")
    tasks = getattr(importlib.import_module(f"evalib.studies.{module}"), "TASKS", {})
    if kind not in tasks:
        raise EvalibError(
            f"unknown task kind {kind!r}; evalib.studies.{module} has {sorted(tasks)}"
        )
    return tasks[kind]


def task_from_record(row: Mapping[str, Any]) -> Task:
    """Rebuild the task of a stored row, checked to rebuild the row's key."""
    cls = task_class(row.get("kind", ""))
    try:
        task = cls.from_config(row["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise EvalibError(
            f"its {cls.kind} config cannot be read ({type(exc).__name__}: {exc})"
        ) from None
    if task.key() != row.get("key"):
        raise EvalibError(
            f"it was written under another cache schema or config (key {row.get('key')}, "
            f"rebuilt {task.key()})"
        )
    return task


# ----------------------------------------------------------------------------- configs


def from_dict(cls: type, data: Any) -> Any:
    """An instance of dataclass ``cls`` from its ``asdict`` form, nested dataclasses,
    tuples and optional fields rebuilt from the type hints."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        if f.name in data:
            kwargs[f.name] = _value(hints[f.name], data[f.name])
    return cls(**kwargs)


def _value(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        for option in options:
            try:
                return _value(option, value)
            except (TypeError, ValueError, KeyError):
                continue
        raise ValueError(f"{value!r} fits none of {options}")
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, Mapping):
            raise TypeError(f"{hint.__name__} needs a mapping, got {value!r}")
        return from_dict(hint, value)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise TypeError(f"a tuple needs a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_value(args[0], v) for v in value)
        if args and len(args) == len(value):
            return tuple(_value(a, v) for a, v in zip(args, value, strict=True))
        return tuple(_plain(v) for v in value)
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        return dict(value)
    if hint is float:
        return float(value)
    if hint is int:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{value!r} is not an integer")
        return int(value)
    if hint is bool:
        return bool(value)
    if hint is str:
        if not isinstance(value, str):
            raise TypeError(f"a string needs a str, got {value!r}")
        return value
    return _plain(value)


def _plain(value: Any) -> Any:
    return tuple(_plain(v) for v in value) if isinstance(value, list) else value
