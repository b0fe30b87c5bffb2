"""Study tasks: configs rebuilt from their stored form, cached rows with provenance,
executors and the kind registry."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import ClassVar

import pytest

from evalib.errors import EvalibError
from evalib.runs import batch, tasks
from evalib.runs.cache import Cache
from evalib.runs.config import DataSpec, ModelSpec
from evalib.runs.packing import JobSize
from evalib.train import Recipe


@dataclass(frozen=True)
class Count(tasks.Task):
    """A toy task: counts to ``n`` and records how often it ran in a scratch file."""

    kind: ClassVar[str] = "pie:toy-count"
    reproduced: ClassVar[tuple[str, ...]] = ("total",)

    data: DataSpec
    n: int
    window: tuple[int, int] | None = None
    model: ModelSpec = ModelSpec("convnet", 0.25)
    recipe: Recipe = Recipe(epochs=3)
    rates: tuple[float, ...] = (0.1, 0.5)

    @property
    def dataset(self) -> str:
        return self.data.dataset

    def execute(self, cache, data_root, device, threads, progress):
        log = cache.scratch / "runs.txt"
        log.write_text(log.read_text() + "x" if log.exists() else "x")
        return {"total": sum(range(self.n + 1))}

    def size(self) -> JobSize:
        return JobSize(self.n, self.model.name, self.model.width)


@pytest.fixture
def cache(tmp_path):
    return Cache.at(tmp_path / "results", tmp_path / "scratch")


def test_from_dict_rebuilds_nested_configs_from_json():
    task = Count(DataSpec("bloodmnist", val_subset=20), 4, (2, 5), recipe=Recipe(epochs=7, lr=0.3))
    stored = json.loads(json.dumps(asdict(task)))
    again = Count.from_config(stored)
    assert again == task and again.key() == task.key()
    assert isinstance(again.window, tuple) and isinstance(again.rates, tuple)
    assert Count.from_config({**stored, "window": None}).window is None
    assert replace(task, n=5).key() != task.key()


def test_from_dict_refuses_values_of_the_wrong_type():
    stored = json.loads(json.dumps(asdict(Count(DataSpec("bloodmnist"), 3))))
    with pytest.raises((TypeError, ValueError)):
        Count.from_config({**stored, "n": 2.5})
    with pytest.raises((TypeError, ValueError)):
        Count.from_config({**stored, "data": "bloodmnist"})


def test_run_task_caches_one_row_with_config_and_provenance(cache):
    task = Count(DataSpec("bloodmnist"), 10)
    row = tasks.run_task(task, cache)
    assert row["total"] == 55 and row["kind"] == "pie:toy-count" and row["dataset"] == "bloodmnist"
    assert row["key"] == task.key() and cache.job_path(task).name == f"{task.key()}.json"
    assert row["config"] == json.loads(json.dumps(asdict(task)))
    assert {"torch", "device", "cpu_capability", "threads"} <= set(row["provenance"])
    assert tasks.run_task(task, cache) == row  # read back, not run again
    assert (cache.scratch / "runs.txt").read_text() == "x"
    tasks.run_task(task, cache, store=False)  # computes, writes nothing
    assert (cache.scratch / "runs.txt").read_text() == "xx"


def test_run_jobs_runs_tasks_on_the_executors(cache):
    todo = [Count(DataSpec("bloodmnist"), n) for n in (1, 2, 3)]
    table = batch.run_jobs(todo + todo[:1], cache, executor="serial", progress=False)
    assert list(table["total"]) == [1, 3, 6]
    assert "config" not in table.columns
    frame, missing = batch.collect(todo + [Count(DataSpec("bloodmnist"), 9)], cache)
    assert len(frame) == 3 and [t.n for t in missing] == [9]


def test_run_jobs_runs_tasks_on_worker_processes(cache):
    todo = [Count(DataSpec("bloodmnist"), n) for n in (4, 5)]
    table = batch.run_jobs(todo, cache, executor="process", progress=False)
    assert sorted(table["total"]) == [10, 15]


def test_task_kinds_come_only_from_the_study_modules():
    with pytest.raises(EvalibError, match="not one of"):
        tasks.task_class("os:system")
    with pytest.raises(EvalibError, match="unknown task kind 'pie:nothing'"):
        tasks.task_class("pie:nothing")
    with pytest.raises(EvalibError, match="unknown task kind"):
        tasks.task_from_record({"kind": "", "config": {}})
