"""The paper-profile cost model of benchmarks/bench_overheads.py, and the book's tables.

The benchmark's measurements are not repeated here (that is the benchmark's job); these
tests check the arithmetic that turns them into per-epoch costs, and that the Markdown
the scaling page includes is exactly what the committed CSV files give.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCALING = ROOT / "results" / "scaling"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location(
        "bench_overheads", ROOT / "benchmarks" / "bench_overheads.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def _costs(bench, save=2.0):
    return bench.Costs(train=0.01, eval=0.004, data=1e-5, record=1e-6, perm=1e-7,
                       commit=2e-7, save_job=save, save_surrogate=3.0)  # fmt: skip


def test_epoch_costs_count_checkpoint_writes_by_cadence(bench):
    c = _costs(bench)
    job = bench.Run("job", 1000, 200, record=False)
    every = bench.epoch_costs(c, job, 500, 2000, 1.0, c.train, cadence=0)
    assert every["saves_per_job"] == 200 and every["checkpoint_s"] == pytest.approx(2.0)
    assert every["compute_s"] == pytest.approx(10.0)
    assert every["eval_s"] == pytest.approx((500 + 2000 / 200) * 0.004)
    assert every["record_s"] == 0
    # 200 epochs of about 12 s: a write every 300 s is 8 writes, plus the last
    timed = bench.epoch_costs(c, job, 500, 2000, 1.0, c.train, cadence=300)
    assert timed["saves_per_job"] == 1 + int(200 * 12.04 // 300)
    assert timed["checkpoint_s"] == pytest.approx(2.0 * timed["saves_per_job"] / 200)
    # a short job writes once; epochs longer than the cadence write after every epoch
    fast = bench.epoch_costs(c, job, 500, 2000, 1000.0, 1e-5, cadence=300)
    assert fast["saves_per_job"] == 1
    slow = bench.epoch_costs(c, job, 500, 2000, 1.0, 1.0, cadence=300)
    assert slow["saves_per_job"] == 200
    surrogate = bench.Run("sur", 1000, 200, record=True)
    rec = bench.epoch_costs(c, surrogate, 500, 2000, 1.0, c.train, cadence=0)
    assert rec["record_s"] == pytest.approx(1000 * (1e-6 + 2e-7))
    assert rec["checkpoint_s"] == pytest.approx(3.0)


def test_gpu_rows_scale_device_work_and_keep_host_work(bench):
    c = _costs(bench)
    runs = [bench.Run("job", 1000, 200, record=False)]
    rows = bench.overhead_rows(c, runs, 500, 2000, gpu=1000.0, cadence=300.0)
    cpu = rows[(rows.device == "this CPU (measured)") & (rows.checkpoints == "every epoch")]
    gpu = rows[(rows.device == "GPU (model)") & (rows.checkpoints == "every epoch")]
    speedup = c.train * 1000.0
    assert gpu.compute_s.item() == pytest.approx(1000 / 1000.0)
    assert gpu.eval_s.item() == pytest.approx(cpu.eval_s.item() / speedup)
    assert gpu.checkpoint_s.item() == pytest.approx(cpu.checkpoint_s.item())  # host: the same
    assert gpu.checkpoint_pct.item() == pytest.approx(100 * 2.0 / 1.0)


def test_the_book_tables_are_generated_from_the_committed_csv(bench):
    folder = ROOT / "results" / "scaling"
    assert (folder / "paper_costs.md").read_text() == bench.render(folder)


def test_paper_cost_tables_name_the_network_and_dataset_for_readers(bench) -> None:
    """The inputs CSV keeps the code names; the Markdown the page includes (what the
    benchmark writes) shows the names readers know."""
    inputs = pd.read_csv(SCALING / "paper_costs_inputs.csv", keep_default_na=False)
    value = dict(zip(inputs["quantity"], inputs["value"], strict=True))
    network, dataset = str(value["network"]).split()[0], str(value["dataset"])
    committed = (SCALING / "paper_costs.md").read_text(encoding="utf-8")
    assert committed == bench.render(SCALING)
    assert not re.search(rf"\b({re.escape(network)}|{re.escape(dataset)})\b", committed)
