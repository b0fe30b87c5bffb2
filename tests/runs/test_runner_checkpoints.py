"""A coreset job killed after its training but before its row is written resumes from its
finished checkpoint, and the checkpoint is removed only once the row is on disk."""

from __future__ import annotations

import shutil

import pytest

from evalib.runs import runner
from evalib.runs.batch import benchmark_jobs
from evalib.runs.cache import Cache
from evalib.runs.config import get_profile

SMOKE = get_profile("smoke")
COMPARED = ("n_train", "steps", "indices_sha256", "paper_val_acc", "clean_test_acc",
            "final_val_acc", "test_per_class")  # fmt: skip


def _random_job():
    return benchmark_jobs(SMOKE, "breastmnist", ["random"], rates=(0.3,), seeds=(0,))[1]


def test_a_kill_before_the_row_is_written_resumes_from_the_checkpoint(tmp_path, shared_data,
                                                                      monkeypatch):  # fmt: skip
    job = _random_job()
    fresh = Cache.at(tmp_path / "a" / "results", tmp_path / "a" / "scratch")
    expected = runner.run_job(job, fresh, shared_data, checkpoint_every_s=0)

    cache = Cache.at(tmp_path / "b" / "results", tmp_path / "b" / "scratch")
    real_write = runner.atomic_write_json

    def killed(path, payload):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "atomic_write_json", killed)
    with pytest.raises(KeyboardInterrupt):
        runner.run_job(job, cache, shared_data, checkpoint_every_s=0)
    folder = cache.checkpoint_dir("job", job.key())
    assert (folder / "state.pt").exists() and cache.job_result(job) is None

    monkeypatch.setattr(runner, "atomic_write_json", real_write)
    row = runner.run_job(job, cache, shared_data, checkpoint_every_s=0)
    assert {k: row[k] for k in COMPARED} == {k: expected[k] for k in COMPARED}
    assert row["history"][-1]["epoch"] == expected["history"][-1]["epoch"]
    assert cache.job_result(job) is not None and not folder.exists()


def test_removing_a_checkpoint_never_leaves_a_torn_folder_under_its_name(tmp_path, monkeypatch):
    folder = tmp_path / "checkpoints" / "job-abc"
    folder.mkdir(parents=True)
    for name in ("state.pt", "eval.npy"):
        (folder / name).write_bytes(b"x")
    monkeypatch.setattr(shutil, "rmtree", lambda *a, **k: None)  # killed before removing
    runner._rmtree(folder)
    assert not folder.exists()
    runner._rmtree(tmp_path / "checkpoints" / "absent")  # nothing to remove: no error
