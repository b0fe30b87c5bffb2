"""The cached job runner: keys, caching, corruption recovery, reruns, summaries."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, replace

import numpy as np
import pandas as pd
import pytest

import evalib
from evalib.book import notebook
from evalib.book.notebook import ENV_TRAIN_MISSING, notebook_setup
from evalib.errors import EvalibError
from evalib.runs import batch, config, runner
from evalib.runs import cache as cache_module
from evalib.runs.batch import benchmark_jobs, run_jobs
from evalib.runs.cache import (
    Cache,
    atomic_write_json,
    indices_digest,
    load_selection,
    load_weights,
    read_json_checked,
    read_selection_index,
    remember_selections,
    save_selection,
    save_weights,
    selection_index_path,
    selection_key,
    selection_path,
)
from evalib.runs.config import (
    Job,
    SelectionSpec,
    _canonical,
    config_key,
    get_profile,
    job_from_dict,
    payload_key,
    surrogate_from_dict,
)
from evalib.runs.costs import effective_recipe
from evalib.runs.rerun import migrate, rerun
from evalib.runs.runner import _rmtree, load_data, run_job, run_surrogate, select_for_job
from evalib.runs.tasks import task_from_record
from evalib.studies.stats import groupby_summary

SMOKE = get_profile("smoke")


@pytest.fixture
def cache(tmp_path):
    return Cache.at(tmp_path / "results", tmp_path / "scratch")


def _jobs(seeds=(0,)):
    return benchmark_jobs(SMOKE, "breastmnist", [("eva", SMOKE.eva_windows()), "random"],
                             rates=(0.3,), seeds=seeds)  # fmt: skip


def test_keys_depend_on_every_field():
    job = _jobs()[1]
    assert job.key() == job_from_dict(json.loads(json.dumps(asdict(job)))).key()
    assert replace(job, seed=1).key() != job.key()
    assert replace(job, recipe=replace(job.recipe, lr=0.05)).key() != job.key()
    sel = SelectionSpec.make("eva", 0.3, early=(0, 2), late=(2, 4))
    assert sel == SelectionSpec.make("eva", 0.3, late=[2, 4], early=[0, 2])


def test_profiles_place_windows_on_the_surrogate():
    cpu = get_profile("cpu")
    assert cpu.surrogate_epochs == 40 and cpu.epochs == 20
    assert cpu.window(0, 10) == (0, 5) and cpu.window(100, 110) == (20, 25)
    assert get_profile("paper").window(100, 110) == (100, 110)
    windows = cpu.grid_windows()
    assert len(windows) >= 8 and all(b - a >= 5 for a, b in windows)
    assert all(w in windows for w in cpu.eva_windows().values())
    assert cpu.tuning_seed not in cpu.seeds
    with pytest.raises(EvalibError, match="unknown profile"):
        get_profile("gpu")


def test_run_caches_and_reruns_nothing(cache, shared_data):
    jobs = _jobs()
    table = run_jobs(jobs, cache, shared_data, progress=False)
    assert list(table["method"]) == ["full", "eva", "random"]
    assert (table["n_train"].iloc[1:] == 164).all()  # ceil(0.3 * 546)
    assert table["clean_test_acc"].between(0, 1).all()
    stamps = {p: p.stat().st_mtime_ns for p in (cache.results / "jobs").iterdir()}
    again = run_jobs(jobs, cache, shared_data, progress=False)
    pd.testing.assert_frame_equal(table.drop(columns="seconds"), again.drop(columns="seconds"))
    assert stamps == {p: p.stat().st_mtime_ns for p in (cache.results / "jobs").iterdir()}


def test_corrupt_entry_is_recomputed(cache, shared_data):
    job = _jobs()[2]
    first = run_job(job, cache, shared_data)
    path = cache.job_path(job)
    path.write_text(path.read_text()[:-40])  # torn write
    assert cache.job_result(job) is None
    second = run_job(job, cache, shared_data)
    assert second["clean_test_acc"] == first["clean_test_acc"]
    assert cache.job_result(job) is not None


def test_tampered_entry_fails_checksum(cache, tmp_path):
    path = tmp_path / "x.json"
    atomic_write_json(path, {"a": 1})
    assert read_json_checked(path) == {"a": 1}
    path.write_text(path.read_text().replace('\\"a\\": 1', '\\"a\\": 2'))
    assert read_json_checked(path) is None


def test_concurrent_writers_leave_one_valid_entry(tmp_path):
    path = tmp_path / "job.json"
    payloads = [{"worker": i, "data": list(range(2000))} for i in range(8)]
    threads = [threading.Thread(target=atomic_write_json, args=(path, p)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert read_json_checked(path) in payloads
    assert [p.name for p in tmp_path.iterdir()] == ["job.json"]


def test_rerun_reproduces_exactly(cache, shared_data, tmp_path, monkeypatch):
    job = _jobs()[1]
    row = run_job(job, cache, shared_data)
    assert row["provenance"]["cpu_capability"] and row["provenance"]["torch"]
    # from the committed selection: no surrogate is trained
    called = []
    monkeypatch.setattr(runner, "run_surrogate", lambda *a, **k: called.append(1))
    compared = rerun(cache.job_path(job), tmp_path / "rerun", shared_data, progress=False)
    assert compared.pop("stage") == ("training", "training") and not called
    assert all(a == b for a, b in compared.values()), compared
    monkeypatch.undo()
    again = rerun(cache.job_path(job), tmp_path / "rerun2", shared_data, progress=False,
                     stage="selection")  # fmt: skip
    assert again.pop("stage")[0] == "selection+training"
    assert again.pop("jaccard") == (1.0, 1.0)
    assert all(a == b for a, b in again.values()), again


def test_keys_ignore_the_package_version(monkeypatch):
    job = _jobs()[1]
    key = job.key()
    for module in (evalib, config, cache_module, runner):  # wherever a version could be read
        monkeypatch.setattr(module, "__version__", "9.9.9", raising=False)
    assert job.key() == key
    assert payload_key({"a": 1}) != payload_key({"a": 1}, schema=2)


def test_keys_are_pinned():
    """Committed results are found by these keys: a change here orphans them (bump the
    schema and migrate instead)."""
    cpu = get_profile("cpu")
    sel = SelectionSpec.make("eva", 0.05, **cpu.eva_windows())
    data, surrogate = cpu.data_spec("organamnist"), cpu.surrogate_config("organamnist", 0)
    job = Job(data, sel, surrogate, cpu.model, cpu.recipe, 0, min_steps=cpu.min_steps)
    assert job.key() == "23a7da1bb1d57ebe"
    assert Job(data, None, None, cpu.model, cpu.recipe, 1).key() == "8d14ff591c22d3b9"
    assert surrogate.key() == "f18cc6c727389a1d"
    assert selection_key(job) == "ff2bdc2b52ab7add"
    assert payload_key({"a": 1}) == "ce85eb41a2ce3d7b"


def test_committed_results_rebuild_their_keys():
    from pathlib import Path

    results = Path(__file__).resolve().parents[2] / "results"
    folders = (
        ("jobs", job_from_dict, "job"),
        ("surrogates", surrogate_from_dict, "surrogate"),
    )
    seen = 0
    for folder, build, kind in folders:
        for path in sorted(results.glob(f"*/{folder}/*.json")):
            row = read_json_checked(path)
            if row is None or not isinstance(row.get("config"), dict):
                continue
            if row.get("kind", kind) not in ("job", "surrogate"):  # a study task
                assert task_from_record(row).key() == path.stem, path
            else:
                assert config_key(kind, build(row["config"])) == row["key"] == path.stem, path
            seen += 1
    assert seen > 0


def test_a_field_at_its_default_leaves_old_keys_alone():
    job = _jobs()[1]
    assert config_key("job", job) == job.key()
    assert replace(job, min_steps=500).key() != job.key()
    body = _canonical(asdict(job))
    assert "min_steps" not in body and "min_steps" in asdict(job)


def test_migrate_rekeys_results_after_a_schema_bump(cache, shared_data, monkeypatch):
    job = _jobs()[2]
    row = run_job(job, cache, shared_data)
    monkeypatch.setattr(config, "SCHEMA", 2)  # payload_key reads it there
    assert cache.job_result(job) is None  # orphaned until migrated
    counts = migrate(cache.results)
    assert counts["moved"] == 1
    moved = cache.job_result(job)
    assert moved is not None and moved["clean_test_acc"] == row["clean_test_acc"]
    assert migrate(cache.results) == {"kept": 1, "moved": 0, "skipped": 0}


def test_weights_leave_old_keys_alone_and_key_new_jobs():
    job = _jobs()[1]
    body = _canonical(asdict(job))
    assert "weights" not in body and asdict(job)["weights"] is None
    assert replace(job, weights="0123456789abcdef").key() != job.key()
    again = job_from_dict(json.loads(json.dumps(asdict(replace(job, weights="ab" * 8)))))
    assert again.weights == "ab" * 8


def test_weights_store_round_trip_and_checks(cache):
    w = np.array([1.0, 0.0, 2.5, 1.0], np.float32)
    digest = save_weights(cache, "breastmnist", w)
    assert np.array_equal(load_weights(cache, "breastmnist", digest), w)
    assert save_weights(cache, "breastmnist", w.astype(np.float64)) == digest
    for bad in (np.array([1.0, -1.0]), np.array([np.nan, 1.0])):
        with pytest.raises(EvalibError, match="finite and non-negative"):
            save_weights(cache, "breastmnist", bad)
    with pytest.raises(EvalibError, match="no stored loss weights"):
        load_weights(cache, "breastmnist", "0" * 16)


def test_a_weighted_job_trains_with_its_weights(cache, shared_data):
    """Weights of 0 on every sample but those of class 0 train a model that predicts
    class 0 far more often than the unweighted run; the row names the weights."""
    full = Job(SMOKE.data_spec("breastmnist"), None, None, SMOKE.model, SMOKE.recipe, 0)
    _, train_split, _, _, _ = load_data(full.data, shared_data)
    labels = train_split.labels.numpy().reshape(-1)
    w = (labels == 0).astype(np.float32)
    weighted = replace(full, weights=save_weights(cache, "breastmnist", w))
    plain, row = run_job(full, cache, shared_data), run_job(weighted, cache, shared_data)
    assert row["config"]["weights"] == weighted.weights
    assert row["test_per_class"][0] > plain["test_per_class"][0]
    assert row["test_per_class"][1] < plain["test_per_class"][1]
    assert row["test_worst_class_acc"] == min(row["test_per_class"])
    short = replace(full, weights=save_weights(cache, "breastmnist", w[:-1]))
    with pytest.raises(EvalibError, match="hold .* values for a training split"):
        run_job(short, cache, shared_data)


def test_selection_store_round_trip(cache):
    ids = np.array([7, 3, 11, 0])
    digest = save_selection(cache, "organamnist", ids, 20)
    assert digest == indices_digest(ids)
    np.testing.assert_array_equal(load_selection(cache, "organamnist", digest), [0, 3, 7, 11])
    assert selection_path(cache, "organamnist", digest).stat().st_size < 400
    with pytest.raises(EvalibError, match="no stored selection"):
        load_selection(cache, "organamnist", "0" * 16)
    with pytest.raises(EvalibError, match="must lie in"):
        save_selection(cache, "organamnist", [25], 20)


def test_floor_budget_raises_steps_and_keeps_evaluations():
    job = _jobs()[2]  # random 30 %
    floored = replace(job, min_steps=50)
    n = 164
    base = effective_recipe(job, n, 546)
    rec = effective_recipe(floored, n, 546)
    assert base.total_steps(n) == 4 * 3  # ceil(164 / 64) steps × 4 epochs
    assert rec.total_steps(n) == 50
    evals_base = -(-base.num_epochs(n) // base.eval_every)
    evals_floor = -(-rec.num_epochs(n) // rec.eval_every)
    assert abs(evals_floor - evals_base) <= 1
    assert effective_recipe(replace(job, min_steps=5), n, 546) == base  # already above


def test_dynamics_must_match_job_data(cache, shared_data):
    job = _jobs()[1]
    other = replace(job, data=replace(job.data, train_subset=500))
    with pytest.raises(EvalibError, match="recorded on other samples"):
        dyn = run_surrogate(job.surrogate, cache, shared_data, progress=False)
        select_for_job(other, dyn, np.arange(500), np.zeros(500, int))


def test_summarize_ci():
    t = pd.DataFrame({"method": ["a"] * 3, "rate": [0.1] * 3, "clean_test_acc": [0.5, 0.6, 0.7]})
    s = groupby_summary(t).iloc[0]
    assert s["mean"] == pytest.approx(60.0) and s["std"] == pytest.approx(10.0)
    assert s["ci95"] == pytest.approx(4.302653 * 10 / np.sqrt(3), rel=1e-5)


def test_stale_checkpoint_from_older_code_is_discarded(cache, shared_data):
    job = _jobs()[2]
    ckpt = cache.checkpoint_dir("job", job.key())
    ckpt.mkdir(parents=True)
    import torch

    torch.save({"config": {"from": "an older evalib"}, "epoch": 1}, ckpt / "state.pt")
    row = run_job(job, cache, shared_data)
    assert 0 <= row["clean_test_acc"] <= 1 and not ckpt.exists()


def test_estimate_seconds_scales_by_images_and_epochs():
    import math

    import pandas as pd

    from evalib.runs.config import DataSpec, Job, ModelSpec, SelectionSpec
    from evalib.runs.costs import estimate_seconds
    from evalib.train import Recipe

    done = pd.DataFrame([
        {"dataset": "bloodmnist", "model": "convnet", "width": 0.25, "seconds": 100.0,
         "n_train": 1000, "epochs": 10},
        {"dataset": "bloodmnist", "model": "convnet", "width": 0.25, "seconds": 300.0,
         "n_train": 1000, "epochs": 10},
        {"dataset": "bloodmnist", "model": "convnet", "width": 0.25, "seconds": 200.0,
         "n_train": 2000, "epochs": 10},
    ])  # fmt: skip
    conv = ModelSpec("convnet", 0.25)
    job = Job(DataSpec("bloodmnist"), SelectionSpec.make("random", 0.1), None, conv,
              Recipe(epochs=20))  # fmt: skip
    # median of 0.01, 0.03, 0.01 s per image-epoch; ⌈0.1 · 11 959⌉ = 1196 images, 20 epochs
    assert estimate_seconds(done, [job]) == pytest.approx(0.01 * 1196 * 20)
    full = Job(DataSpec("bloodmnist"), None, None, conv, Recipe(epochs=20))
    assert estimate_seconds(done, [full]) == pytest.approx(0.01 * 11959 * 20)
    other = Job(DataSpec("bloodmnist"), None, None, ModelSpec("vgg", 0.125), Recipe(epochs=20))
    assert math.isnan(estimate_seconds(done, [job, other]))
    assert estimate_seconds(done, []) == 0.0


def test_a_stored_selection_outlives_the_surrogate(cache, shared_data, monkeypatch):
    job = _jobs()[1]  # eva
    row = run_job(job, cache, shared_data)
    assert selection_key(job) in read_selection_index(cache, "breastmnist")
    assert selection_key(job) == selection_key(replace(job, min_steps=40))
    assert selection_key(job) != selection_key(replace(job, seed=1))
    _rmtree(cache.surrogate_dir(job.surrogate))  # the scratch folder is gone
    called = []
    for module in (batch, runner):  # run_jobs records surrogates; run_job through runner
        monkeypatch.setattr(module, "run_surrogate", lambda *a, **k: called.append(1))
    floor = replace(job, min_steps=40)  # another budget: a new job, the same coreset
    assert floor.key() != job.key()
    again = run_jobs([floor], cache, shared_data, progress=False).iloc[0]
    assert not called
    assert again["indices_sha256"] == row["indices_sha256"]
    assert again["n_train"] == row["n_train"]


def test_selection_index_merges_writers_and_rejects_garbage(cache):
    remember_selections(cache, "organamnist", {"a": "1"})
    remember_selections(cache, "organamnist", {"b": "2"})
    assert read_selection_index(cache, "organamnist") == {"a": "1", "b": "2"}
    selection_index_path(cache, "organamnist").write_text("[1, 2]")
    with pytest.raises(EvalibError, match="not a JSON object"):
        read_selection_index(cache, "organamnist")
    selection_index_path(cache, "organamnist").write_text("{oops")
    with pytest.raises(EvalibError, match="unreadable"):
        read_selection_index(cache, "organamnist")


def test_notebooks_can_show_cached_results_without_training(cache, shared_data, monkeypatch,
                                                            capsys, tmp_path):  # fmt: skip
    jobs = _jobs()
    run_jobs(jobs[:1], cache, shared_data, progress=False)  # the full run only
    monkeypatch.setenv(ENV_TRAIN_MISSING, "0")
    S = notebook_setup("smoke", "breastmnist", tmp_path / "results", str(shared_data),
                          str(tmp_path / "scratch"))  # fmt: skip
    S = replace(S, cache=cache)
    called = []
    monkeypatch.setattr(notebook, "run_jobs", lambda *a, **k: called.append(1))
    table = S.run(jobs)
    assert not called and list(table["method"]) == ["full"]
    assert "2 of 3 jobs are not in" in capsys.readouterr().out
    monkeypatch.setenv(ENV_TRAIN_MISSING, "yes")
    with pytest.raises(EvalibError, match="EVALIB_TRAIN_MISSING must be 0 or 1"):
        notebook_setup("smoke", "breastmnist", tmp_path / "results")


def test_rerun_brings_the_stored_weights_and_given_samples(cache, shared_data, tmp_path):
    """A job trained with stored loss weights on a given coreset reruns in a fresh folder
    (its weights and samples are copied from the stored results) and reproduces."""
    full = Job(SMOKE.data_spec("breastmnist"), None, None, SMOKE.model, SMOKE.recipe, 0)
    _, train_split, ids, _, _ = load_data(full.data, shared_data)
    w = np.linspace(0.5, 2.0, len(ids)).astype(np.float32)
    from evalib.data import dataset_info

    n_total = dataset_info("breastmnist").n_samples[0]
    digest = save_selection(cache, "breastmnist", ids[::2], n_total)
    sel = SelectionSpec.make("given", 0.5, digest=digest)
    job = replace(full, selection=sel, weights=save_weights(cache, "breastmnist", w))
    run_job(job, cache, shared_data)
    compared = rerun(cache.job_path(job), tmp_path / "again", shared_data, progress=False)
    compared.pop("stage")
    assert all(a == b for a, b in compared.values()), compared
