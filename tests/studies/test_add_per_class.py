"""scripts/add_per_class.py: the per-class record is added to an old row only when the
rerun from its committed coreset reproduces every other field; the key never changes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from evalib.runs.cache import Cache, atomic_write_json, read_json_checked
from evalib.runs.config import Job, SelectionSpec, get_profile
from evalib.runs.runner import run_job

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "add_per_class.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("add_per_class", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _old_row(tmp_path, shared_data):
    """A Random job of the smoke profile, stored as a row of before the per-class record."""
    smoke = get_profile("smoke")
    data = smoke.data_spec("breastmnist")
    job = Job(data, SelectionSpec.make("random", 0.3), None, smoke.model, smoke.recipe, 0)
    cache = Cache.at(tmp_path / "results" / "smoke", tmp_path / "scratch")
    row = run_job(job, cache, shared_data)
    old = {k: v for k, v in row.items() if k not in ("test_per_class", "test_worst_class_acc")}
    atomic_write_json(cache.job_path(job), old)
    return cache.job_path(job), row, read_json_checked(cache.job_path(job))


def test_adds_the_record_when_the_rerun_reproduces(script, tmp_path, shared_data):
    path, row, old = _old_row(tmp_path, shared_data)
    status, compared = script.add_per_class(path, tmp_path / "rerun", str(shared_data))
    assert status == "added"
    assert all(a == b for a, b in compared.values()), compared
    new = read_json_checked(path)
    assert new["key"] == old["key"] == path.stem
    assert new["test_per_class"] == row["test_per_class"]
    assert new["test_worst_class_acc"] == row["test_worst_class_acc"] == min(row["test_per_class"])
    assert {k: v for k, v in new.items() if k not in script.ADDED} == old
    # a row that has it is left alone
    assert script.add_per_class(path, tmp_path / "again", str(shared_data)) == ("present", {})


def test_leaves_a_row_that_does_not_reproduce(script, tmp_path, shared_data):
    path, _, old = _old_row(tmp_path, shared_data)
    atomic_write_json(path, {**old, "clean_test_acc": old["clean_test_acc"] + 0.01})
    before = path.read_bytes()
    status, compared = script.add_per_class(path, tmp_path / "rerun", str(shared_data))
    assert status == "different"
    assert compared["clean_test_acc"][0] != compared["clean_test_acc"][1]
    assert path.read_bytes() == before


def test_targets_eva_tuned_and_random_at_the_low_rates(script, tmp_path):
    cpu = get_profile("cpu")
    results = Path(__file__).resolve().parents[2] / "results" / "cpu"
    cache = Cache(results, tmp_path)
    jobs = script.target_jobs(cpu, "bloodmnist", cache)
    # 2 arms x 2 rates x 2 budgets x 3 seeds, once EVA's tuning stage is committed
    assert len(jobs) == 24
    assert {j.method for j in jobs} == {"eva", "random"}
    assert {j.rate for j in jobs} == set(cpu.tune_rates)
    assert {j.seed for j in jobs} == set(cpu.seeds)
    assert all(cache.job_result(j) is not None for j in jobs)
