"""The Ray executor: same results as the serial executor, worker deaths retried, no job twice.

The Ray tests start one local Ray instance with 2 CPUs for the whole module and run a
three-job smoke grid on the real BreastMNIST (full data, random and EVA at 30 %). They
are skipped, with the reason, when Ray or the MedMNIST files are missing. The import
test at the bottom runs without Ray.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from evalib.errors import EvalibError
from evalib.runs.batch import _JobCall, benchmark_jobs, results_table, run_jobs
from evalib.runs.cache import Cache
from evalib.runs.config import Job, get_profile
from evalib.runs.ray_executor import RayExecutor
from tests.conftest import SHARED_DATA

ROOT = Path(__file__).resolve().parents[2]
COMPARED = ["key", "method", "rate", "seed", "n_train", "steps", "indices_sha256",
            "paper_val_acc", "clean_test_acc", "final_val_acc", "best_val_epoch"]  # fmt: skip


def _grid() -> list[Job]:
    p = get_profile("smoke")
    methods = ["random", ("eva", p.eva_windows())]
    return benchmark_jobs(p, "breastmnist", methods, rates=(0.3,), seeds=(0,))


def _history(row: dict) -> list[dict]:
    return [{k: v for k, v in h.items() if k != "seconds"} for h in row["history"]]


def _same_results(cache: Cache, reference: Cache, jobs: list[Job]) -> None:
    for job in jobs:
        got, want = cache.job_result(job), reference.job_result(job)
        assert got is not None, f"no valid cache entry for {job.method}"
        assert {k: got[k] for k in COMPARED} == {k: want[k] for k in COMPARED}, job.method
        assert _history(got) == _history(want), f"{job.method}: histories differ"


@pytest.fixture(scope="module")
def ray():
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'evalib[ray]')")
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # test helpers by value
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    """The grid run serially: (jobs, data root, shared scratch, reference cache)."""
    shared_data = Path(os.environ.get("EVALIB_SHARED_DATA", SHARED_DATA))  # as conftest's
    if not (shared_data / "breastmnist.npz").exists():
        pytest.skip(f"real MedMNIST files not found in {shared_data}")
    base = tmp_path_factory.mktemp("ray")
    jobs = _grid()
    reference = Cache.at(base / "serial", base / "scratch")
    run_jobs(jobs, reference, shared_data, "serial", threads=1, progress=False)
    return jobs, str(shared_data), base / "scratch", reference


@dataclass(frozen=True)
class DieOnce:
    """A job function whose worker dies on the first attempt of two chosen jobs.

    ``before``: ``os._exit`` before training (the retry trains); ``after``: ``os._exit``
    after the result is in the cache (the retry must read it, not train again). Every
    real training leaves a file ``train-<key>-<pid>-<ns>`` in ``log``.
    """

    call: _JobCall
    log: str
    before: str
    after: str

    @property
    def cache(self) -> Cache:
        return self.call.cache

    def __call__(self, job: Job) -> dict:
        import time

        key, log = job.key(), Path(self.log)
        died = log / f"died-{key}"
        if key == self.before and not died.exists():
            died.touch()
            os._exit(1)
        (log / f"train-{key}-{os.getpid()}-{time.time_ns()}").touch()
        row = self.call(job)
        if key == self.after and not died.exists():
            died.touch()
            os._exit(1)
        return row


def _trainings(log: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in log.glob("train-*"):
        key = f.name.split("-")[1]
        counts[key] = counts.get(key, 0) + 1
    return counts


@pytest.mark.slow
def test_ray_grid_gives_the_serial_results(grid, ray, tmp_path):
    jobs, data_root, _, reference = grid
    cache = Cache.at(tmp_path / "ray", tmp_path / "scratch")  # its own surrogate too
    executor = RayExecutor(threads=1, ship_data=True, progress=False)
    table = run_jobs(jobs, cache, data_root, executor, progress=False)
    assert executor.last_run["done"] == len(jobs) and executor.last_run["failed"] == 0
    want = results_table(reference.job_result(j) for j in jobs)
    key = ["key"]
    assert (
        table.sort_values(key)[COMPARED]
        .reset_index(drop=True)
        .equals(want.sort_values(key)[COMPARED].reset_index(drop=True))
    )
    _same_results(cache, reference, jobs)


@pytest.mark.slow
def test_worker_death_is_retried_and_no_job_runs_twice(grid, ray, tmp_path):
    jobs, data_root, scratch, reference = grid
    cache = Cache.at(tmp_path / "ray", scratch)
    log = tmp_path / "log"
    log.mkdir()
    random_job = next(j for j in jobs if j.method == "random")
    eva_job = next(j for j in jobs if j.method == "eva")
    fn = DieOnce(_JobCall(cache, data_root, None, 1), str(log), random_job.key(), eva_job.key())
    executor = RayExecutor(threads=1, max_retries=2, progress=False)

    rows = list(executor.run(fn, jobs))

    assert len(rows) == len(jobs) and executor.last_run["failed"] == 0
    assert (log / f"died-{random_job.key()}").exists() and (log / f"died-{eva_job.key()}").exists()
    assert executor.last_run["retried"] == 2
    assert _trainings(log) == {j.key(): 1 for j in jobs}  # the eva retry read the cache
    assert sorted(cache.results.glob("jobs/*.json")) == sorted(cache.job_path(j) for j in jobs)
    assert not list(cache.results.glob("jobs/.*"))  # no torn temporary file left
    _same_results(cache, reference, jobs)

    # a second run of the same grid, straight through the executor: every task reads the cache
    stamps = {j: cache.job_path(j).stat().st_mtime_ns for j in jobs}
    out = io.StringIO()
    from tqdm import tqdm

    with tqdm(total=len(jobs), file=out) as bar:
        again = list(executor.run(fn, jobs, bar=bar))
    assert sorted(r["key"] for r in again) == sorted(j.key() for j in jobs)
    assert _trainings(log) == {j.key(): 1 for j in jobs}
    assert "failed=0" in out.getvalue() and "retried=0" in out.getvalue()
    # ... and through run_jobs, which dispatches nothing at all
    run_jobs(jobs, cache, data_root, executor, progress=False)
    assert executor.last_run["jobs"] == 0
    assert {j: cache.job_path(j).stat().st_mtime_ns for j in jobs} == stamps


def _fails_on_two(x: int) -> int:
    if x == 2:
        raise EvalibError("two is not allowed")
    return x * 10


@pytest.mark.slow
def test_a_failing_job_does_not_stop_the_others(ray):
    executor = RayExecutor(progress=False)
    got = []
    with pytest.raises(EvalibError, match=r"1 of 3 jobs failed.*two is not allowed"):
        for r in executor.run(_fails_on_two, [1, 2, 3]):
            got.append(r)
    assert sorted(got) == [10, 30] and executor.last_run["retried"] == 0


def test_imports_and_explains_itself_without_ray():
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "from evalib.runs.ray_executor import RayExecutor\n"
        "from evalib.errors import EvalibError\n"
        "try:\n"
        "    list(RayExecutor().run(abs, [1]))\n"
        "except EvalibError as e:\n"
        "    print(e)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "needs Ray, which is not installed" in proc.stdout
