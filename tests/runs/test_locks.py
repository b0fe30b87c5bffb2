"""One runner per job: lock files that name their holder, recovery from dead holders, and
two real runners on one results folder that train every job exactly once."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from evalib.runs import runner
from evalib.runs.batch import run_jobs
from evalib.runs.cache import Cache, atomic_write_json
from evalib.runs.config import DataSpec, Job, SelectionSpec
from evalib.runs.locks import (
    Claim,
    Holder,
    JobHeld,
    _proc_start,
    held_by,
    read_holder,
    run_once,
    try_claim,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sleeper():
    """A live process of this host (a lock holder that is still running)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def _lock_for(path: Path, pid: int, host: str | None = None, proc_start=None) -> None:
    record = {"host": host or socket.gethostname(), "pid": pid,
              "proc_start": proc_start if proc_start is not None else _proc_start(pid),
              "since": time.time(), "token": f"t{pid}"}  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))


def test_a_claim_names_its_holder_and_is_removed_on_release(tmp_path):
    path = tmp_path / "jobs" / "k.lock"
    claim = try_claim(path)
    assert isinstance(claim, Claim)
    holder = read_holder(path)
    assert (holder.host, holder.pid) == (socket.gethostname(), os.getpid())
    assert holder.since <= time.time()
    again = try_claim(path)  # held by a live process (this one): not taken twice
    assert isinstance(again, Holder) and again.token == holder.token
    claim.release()
    assert not path.exists()
    assert isinstance(try_claim(path), Claim)


def test_a_dead_holder_on_this_host_is_recovered(tmp_path):
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    path = tmp_path / "k.lock"
    _lock_for(path, int(done.stdout))  # that process has exited
    assert held_by(path) is None
    claim = try_claim(path)
    assert isinstance(claim, Claim) and read_holder(path).pid == os.getpid()
    claim.release()


def test_a_reused_pid_is_not_the_holder(tmp_path, sleeper):
    path = tmp_path / "k.lock"
    start = _proc_start(sleeper.pid)
    if start is None:
        pytest.skip("no /proc: process start times unknown")
    _lock_for(path, sleeper.pid, proc_start=start + 1)  # same id, another process
    assert held_by(path) is None
    _lock_for(path, sleeper.pid)
    assert held_by(path).pid == sleeper.pid


def test_a_lock_of_another_host_is_stale_only_when_untouched(tmp_path):
    path = tmp_path / "k.lock"
    _lock_for(path, 1, host="another-host")
    assert held_by(path) is not None  # fresh: its holder's heartbeat is recent
    old = time.time() - 3600
    os.utime(path, (old, old))
    assert held_by(path) is None
    assert isinstance(try_claim(path), Claim)


def test_run_once_skips_or_waits_for_a_live_holder(tmp_path, sleeper):
    path = tmp_path / "k.lock"
    _lock_for(path, sleeper.pid)
    result: dict = {}
    computed = []
    with pytest.raises(JobHeld, match=rf"job k is being run by another runner \(pid {sleeper.pid}"):
        run_once(path, "k", lambda: result.get("row"), lambda: computed.append(1), wait=False)

    def other_runner_finishes():
        time.sleep(0.3)
        result["row"] = {"key": "k"}
        path.unlink()

    threading.Thread(target=other_runner_finishes).start()
    row = run_once(path, "k", lambda: result.get("row"), lambda: computed.append(1), poll_s=0.05)
    assert row == {"key": "k"} and computed == []  # read, never computed here


def _jobs(n_seeds: int = 2) -> list[Job]:
    from evalib.runs.config import ModelSpec
    from evalib.train import Recipe

    data = DataSpec("breastmnist", train_subset=200, val_subset=60, test_subset=60)
    model, recipe = ModelSpec("convnet", 0.125), Recipe(epochs=1, batch_size=32)
    return [Job(data, SelectionSpec.make("random", rate), None, model, recipe, seed)
            for seed in range(n_seeds) for rate in (0.1, 0.3)]  # fmt: skip


def test_run_jobs_leaves_a_held_job_to_its_runner(tmp_path, monkeypatch, sleeper):
    """A job whose lock a live runner holds is not started: the batch runs the others,
    then reads its result once that runner writes it."""
    cache = Cache.at(tmp_path / "results", tmp_path / "scratch")
    jobs = _jobs()
    trained = []

    def fake(job, cache, *args):
        trained.append(job.key())
        return {"key": job.key(), "method": job.method, "rate": job.rate, "seed": job.seed}

    monkeypatch.setattr(runner, "_run_job", lambda job, cache, *a: _store(cache, job, fake))
    held = jobs[0]
    lock = cache.job_path(held).with_suffix(".lock")
    _lock_for(lock, sleeper.pid)

    def other_runner():
        time.sleep(0.5)
        atomic_write_json(cache.job_path(held), {"key": held.key(), "method": "random",
                                                 "rate": held.rate, "seed": held.seed})  # fmt: skip
        lock.unlink()

    threading.Thread(target=other_runner).start()
    table = run_jobs(jobs, cache, progress=False, poll_s=0.05)
    assert held.key() not in trained and sorted(trained) == sorted(j.key() for j in jobs[1:])
    assert sorted(table["key"]) == sorted(j.key() for j in jobs)


def test_run_jobs_trains_a_job_whose_runner_died(tmp_path, monkeypatch, sleeper):
    cache = Cache.at(tmp_path / "results", tmp_path / "scratch")
    jobs = _jobs(1)
    trained = []

    def fake(job, cache, *args):
        trained.append(job.key())
        return {"key": job.key(), "method": job.method, "rate": job.rate, "seed": job.seed}

    monkeypatch.setattr(runner, "_run_job", lambda job, cache, *a: _store(cache, job, fake))
    lock = cache.job_path(jobs[0]).with_suffix(".lock")
    _lock_for(lock, sleeper.pid)
    # its runner dies without a result (and is reaped: a zombie still has its pid)
    threading.Timer(0.3, lambda: (sleeper.kill(), sleeper.wait())).start()
    table = run_jobs(jobs, cache, progress=False, poll_s=0.05)
    assert sorted(trained) == sorted(j.key() for j in jobs) and len(table) == len(jobs)
    assert not lock.exists()


def _store(cache, job, fake):
    row = fake(job, cache)
    atomic_write_json(cache.job_path(job), row)
    return row


TWO_RUNNERS = """
import os, sys, time
from pathlib import Path
import evalib.runs.runner as runner
log, go, results, scratch, data_root = sys.argv[1:6]
real = runner._train_job
def counted(job, *args, **kwargs):
    with open(log, "a") as fh:
        fh.write(f"{os.getpid()} {job.key()}\\n")
    return real(job, *args, **kwargs)
runner._train_job = counted
sys.path.insert(0, sys.argv[6])
from tests.runs.test_locks import _jobs
from evalib.runs.batch import run_jobs
from evalib.runs.cache import Cache
jobs = _jobs(3)
while not Path(go).exists():
    time.sleep(0.01)
table = run_jobs(jobs, Cache.at(results, scratch), data_root, "serial", "cpu", threads=1,
                 progress=False, poll_s=0.2)
print(" ".join(sorted(f"{k}:{a:.6f}" for k, a in zip(table["key"], table["clean_test_acc"]))))
"""


@pytest.mark.slow
def test_two_runners_on_one_results_folder_train_each_job_once(tmp_path, shared_data):
    log, go = tmp_path / "trained.log", tmp_path / "go"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "EVALIB_PROGRESS": "0"}
    argv = [sys.executable, "-c", TWO_RUNNERS, str(log), str(go), str(tmp_path / "results"),
            str(tmp_path / "scratch"), str(shared_data), str(ROOT)]  # fmt: skip
    procs = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]  # fmt: skip
    time.sleep(1.0)
    go.touch()  # both start together
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    trained = [line.split()[1] for line in log.read_text().splitlines()]
    keys = sorted(j.key() for j in _jobs(3))
    assert sorted(trained) == keys  # every job trained exactly once, by one of the two
    assert outs[0][0] == outs[1][0] and len(outs[0][0].split()) == len(keys)  # same results
    assert not list((tmp_path / "results").rglob("*.lock"))
