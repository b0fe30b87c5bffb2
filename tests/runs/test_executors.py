"""Executors and packing: jobs placed on devices, shares chosen from job size, same results.

No test needs a GPU: device placement runs with device names that no job touches
(``cuda:0``, ``cuda:1`` on a machine without CUDA: the job function only reports the
device it was handed), and the results test places real jobs on ``("cpu",)``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import pytest
import torch

from evalib.errors import EvalibError
from evalib.runs import executor_base as base
from evalib.runs import executors as exe
from evalib.runs import packing, ray_executor
from evalib.runs.batch import _JobCall, _SurrogateCall, benchmark_jobs, run_jobs
from evalib.runs.cache import Cache, atomic_write_json
from evalib.runs.config import DataSpec, Job, SurrogateConfig, get_profile
from evalib.runs.costs import train_size
from evalib.runs.packing import JobSize, jobs_per_device, network_memory

GIB = 2**30
ORGANAMNIST_TRAIN = 34_561


# ----------------------------------------------------------------------------- packing


@pytest.mark.parametrize(("model", "width"), [("resnet18", 0.125), ("convnet", 0.25),
                                              ("vgg", 0.125)])  # fmt: skip
def test_shape_count_equals_a_real_cpu_step(model, width):
    """The meta-device count of parameters, saved activations, largest output and FLOPs is
    what a real training step on the CPU saves and computes."""
    state = torch.random.get_rng_state()
    counted = network_memory(model, width)
    assert torch.equal(torch.random.get_rng_state(), state)  # no random numbers drawn
    measured = network_memory(model, width, device="cpu")
    assert counted == measured
    assert counted.param_bytes > 0 and counted.saved_per_image > counted.largest_output_per_image


def test_jobs_per_device_follows_job_size_and_memory():
    k = {n: jobs_per_device(n, "resnet18", 1.0, 80 * 10**9) for n in (692, 1729, 6913, 34561)}
    assert k[692] >= k[1729] >= k[6913] >= k[34561] == 1  # smaller coresets pack tighter
    assert k[692] > 1
    # a heavier network packs fewer jobs of the same size
    assert jobs_per_device(692, "resnet18", 0.125, 80 * 10**9) >= k[692]
    # memory: the packed jobs' bounds fit in the usable part of the device
    for memory in (2 * GIB, 4 * GIB, 8 * GIB, 80 * 10**9):
        for n, model, width in ((692, "resnet18", 1.0), (1729, "convnet", 0.25)):
            kk = jobs_per_device(n, model, width, memory)
            assert 1 <= kk <= packing.MAX_JOBS_PER_DEVICE
            need = packing.job_memory_bytes(n, model, width)
            assert kk == 1 or kk * need <= packing.USABLE_FRACTION * memory
    assert jobs_per_device(692, "resnet18", 1.0, 4 * GIB) < k[692]  # memory binds
    assert jobs_per_device(692, "resnet18", 1.0, GIB) == 1  # not even one fits
    # the bound covers parameters, optimiser state and a batch of saved activations
    net = network_memory("resnet18", 1.0)
    need = packing.job_memory_bytes(692, "resnet18", 1.0)
    assert need > packing.CONTEXT_BYTES + 3 * net.param_bytes + 256 * net.saved_per_image
    with pytest.raises(EvalibError, match="device memory"):
        jobs_per_device(692, "resnet18", 1.0, 0)
    with pytest.raises(EvalibError, match="n_train"):
        jobs_per_device(0, "resnet18", 1.0, GIB)
    with pytest.raises(EvalibError, match="unknown model"):
        jobs_per_device(10, "resnet7", 1.0, GIB)


def test_job_functions_size_their_jobs():
    p = get_profile("paper")
    jobs = benchmark_jobs(p, "organamnist", ["random"], rates=(0.02,), seeds=(0,))
    call = _JobCall(Cache(Path("r"), Path("s")), None, None, 1)
    full, coreset = jobs
    assert call.job_size(full) == JobSize(ORGANAMNIST_TRAIN, "resnet18", 1.0)
    assert call.job_size(coreset) == JobSize(train_size(coreset), "resnet18", 1.0)
    sur = _SurrogateCall(call.cache, None, None, 1)
    assert sur.job_size(SurrogateConfig(DataSpec("organamnist", 600))) == JobSize(
        600, "resnet18", 1.0, record=True
    )
    assert base.job_size(call, coreset) == call.job_size(coreset)
    assert base.job_size(abs, coreset) is None  # a plain function cannot size anything
    bad = Job(DataSpec("nosuchmnist"), None, None)
    assert base.job_size(call, bad) is None  # the job itself reports it when it runs


# ----------------------------------------------------------------------------- placement


@dataclass(frozen=True)
class Where:
    """Reports where it ran; sleeps so that jobs overlap. ``sizes``: item -> n_train."""

    device: str | None = None
    seconds: float = 0.4
    sizes: tuple[tuple[int, int], ...] = ()

    def __call__(self, item: int) -> tuple[int, str | None, int, float, float]:
        start = time.monotonic()
        time.sleep(self.seconds)
        return item, self.device, os.getpid(), start, time.monotonic()

    def job_size(self, item: int) -> JobSize:
        return JobSize(dict(self.sizes)[item], "resnet18", 1.0)


def _most_at_once(spans: list[tuple[float, float]]) -> int:
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    now = most = 0
    for _, d in events:
        now += d
        most = max(most, now)
    return most


def test_placement_goes_round_robin_and_never_overfills_a_device():
    half, full = Fraction(1, 2), Fraction(1)
    used = dict.fromkeys(("cuda:0", "cuda:1"), Fraction(0))
    order = []
    while (device := exe.place(used, half)) is not None:
        used[device] += half
        order.append(device)
    assert order == ["cuda:0", "cuda:1", "cuda:0", "cuda:1"]
    assert exe.place(used, full) is None
    used["cuda:1"] -= half
    assert exe.place(used, full) is None and exe.place(used, half) == "cuda:1"
    used["cuda:1"] = Fraction(0)
    assert exe.place(used, full) == "cuda:1"
    third = Fraction(1, 3)
    assert exe.place({"cuda:0": 2 * third, "cuda:1": full}, third) == "cuda:0"


@pytest.mark.slow
def test_process_executor_hands_each_job_its_device_and_packs_two_per_device():
    executor = exe.ProcessExecutor(jobs_per_device=2, devices=("cuda:0", "cuda:1"))
    rows = list(executor.run(Where(), range(6)))
    assert sorted(r[0] for r in rows) == list(range(6))
    by_device = {d: [r for r in rows if r[1] == d] for d in ("cuda:0", "cuda:1")}
    assert sum(len(v) for v in by_device.values()) == 6 and all(by_device.values())
    pids = {d: {r[2] for r in v} for d, v in by_device.items()}
    assert not pids["cuda:0"] & pids["cuda:1"]  # a worker process serves one device
    assert all(len(p) <= 2 for p in pids.values())
    for v in by_device.values():
        assert _most_at_once([(r[3], r[4]) for r in v]) <= 2
    # an explicitly chosen device is kept; a plain function runs as it is
    assert base.on_device(Where(device="cpu"), "cuda:1").device == "cpu"
    assert base.on_device(Where(), "cuda:1").device == "cuda:1"
    assert base.on_device(abs, "cuda:1") is abs


@pytest.mark.slow
def test_process_executor_chooses_shares_from_job_size():
    memory = 80 * 10**9
    sizes = ((0, 692), (1, 34_561), (2, 1729), (3, 692))
    fn = Where(seconds=0.3, sizes=sizes)
    executor = exe.ProcessExecutor(devices=("cuda:0",), device_memory_bytes=memory)
    share = {i: Fraction(1, jobs_per_device(n, "resnet18", 1.0, memory)) for i, n in sizes}
    assert [executor.share(fn, i, "cuda:0") for i, _ in sizes] == [share[i] for i, _ in sizes]
    assert share[1] == 1 and share[0] < share[2] < 1
    rows = list(executor.run(fn, [i for i, _ in sizes]))
    assert sorted(r[0] for r in rows) == [0, 1, 2, 3]
    spans = {r[0]: (r[3], r[4]) for r in rows}
    for t in {s for s, _ in spans.values()}:  # the shares running at any start sum to ≤ 1
        assert sum(share[i] for i, (s, e) in spans.items() if s <= t < e) <= 1
    full = spans[1]  # the full-set job had the device to itself
    assert all(e <= full[0] or s >= full[1] for i, (s, e) in spans.items() if i != 1)
    # without a size, a job takes a whole device; off CUDA, jobs_per_device is `workers`
    assert executor.share(abs, 0, "cuda:0") == 1
    assert exe.ProcessExecutor(workers=3).share(fn, 0, "cpu") == Fraction(1, 3)


def test_executor_settings_are_checked():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(EvalibError, match="jobs_per_device must be a positive integer"):
            exe.ProcessExecutor(jobs_per_device=bad)
        with pytest.raises(EvalibError, match="jobs_per_device must be a positive integer"):
            exe.make_executor("ray", jobs_per_device=bad)
    with pytest.raises(EvalibError, match="workers must be a positive integer"):
        exe.ProcessExecutor(workers=0)
    with pytest.raises(EvalibError, match="devices must name at least one device"):
        exe.ProcessExecutor(devices=())
    assert exe.make_executor("process", 3, 1, None, 2) == exe.ProcessExecutor(3, 1, 2)
    assert exe.make_executor("ray", jobs_per_device=4).gpus_per_job == 0.25
    assert exe.make_executor("ray").gpus_per_job is None


def test_ray_asks_for_a_share_of_a_gpu_by_job_size():
    memory = 80 * 10**9
    fn = Where(sizes=((0, 692), (1, 34_561)))
    ray = ray_executor.RayExecutor(device_memory_bytes=memory, progress=False)
    k = jobs_per_device(692, "resnet18", 1.0, memory)
    assert k > 1
    share = ray.gpus_for(fn, 0, cluster_gpus=True)
    assert share <= 1 / k and k * share <= 1 and share > 1 / k - 1e-4
    assert ray.gpus_for(fn, 1, cluster_gpus=True) == 1.0
    assert ray.gpus_for(fn, 0, cluster_gpus=False) == 0.0
    assert ray.gpus_for(abs, 0, cluster_gpus=True) == 1.0  # unknown size: a whole GPU
    fixed = ray_executor.RayExecutor(gpus_per_job=0.5, progress=False)
    assert fixed.gpus_for(fn, 1, cluster_gpus=True) == 0.5


# ----------------------------------------------------------------------------- results


COMPARED = ["key", "method", "rate", "seed", "n_train", "steps", "indices_sha256",
            "paper_val_acc", "clean_test_acc", "final_val_acc", "best_val_epoch"]  # fmt: skip


@pytest.mark.slow
def test_two_jobs_per_device_give_the_serial_results(shared_data, tmp_path):
    p = get_profile("smoke")
    jobs = benchmark_jobs(p, "breastmnist", ["random", ("eva", p.eva_windows())],
                             rates=(0.3,), seeds=(0,))  # fmt: skip
    serial = Cache.at(tmp_path / "serial", tmp_path / "scratch")
    run_jobs(jobs, serial, shared_data, "serial", threads=1, progress=False)
    packed = Cache.at(tmp_path / "packed", tmp_path / "scratch")  # the same surrogate
    executor = exe.ProcessExecutor(threads=1, jobs_per_device=2, devices=("cpu",))
    run_jobs(jobs, packed, shared_data, executor, threads=1, progress=False)
    for job in jobs:
        got, want = packed.job_result(job), serial.job_result(job)
        assert {k: got[k] for k in COMPARED} == {k: want[k] for k in COMPARED}, job.method
        strip = [{k: v for k, v in h.items() if k != "seconds"} for h in got["history"]]
        assert strip == [{k: v for k, v in h.items() if k != "seconds"} for h in want["history"]]


# ----------------------------------------------------------------------------- duck typing


def test_portable_and_cached_result_work_by_duck_typing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cache = Cache.at("res", "scr")
    call = _JobCall(cache, "data", None, None)
    moved = ray_executor.portable(call, threads=2)
    assert moved.cache == Cache(tmp_path / "res", tmp_path / "scr")
    assert moved.data_root == str(tmp_path / "data") and moved.threads == 2
    job = Job(DataSpec("breastmnist", 50, 20, 20), None, None)
    assert base.is_job(job) and not base.is_job(SurrogateConfig(job.data))
    assert base.cached_result(call, job) is None
    atomic_write_json(cache.job_path(job), {"key": job.key(), "x": 1})
    assert base.cached_result(call, job) == {"key": job.key(), "x": 1}
    assert base.cached_result(abs, job) is None
    assert base.describe(job).startswith("breastmnist full 100% seed 0")
    assert ray_executor.portable(abs) is abs
