"""What a `paper`-profile epoch costs besides forward/backward, on this CPU and on a GPU.

For the `paper` profile's network (ResNet-18, width 1; ``--width`` for a quick run at a
smaller width) on OrganAMNIST, this measures on this CPU, with one torch thread:

* compute: forward + backward + SGD step per training image (a batch of ``--batch``
  real images; CPU time of the process, which other load on the machine hardly moves);
* evaluation: an eval-mode forward per image (``--eval-images`` validation images);
* data path: the trainer's per-batch gather, conversion to float, labels, and loss and
  accuracy sums, per image (batches of 256), plus the epoch's permutation;
* recording: the per-sample log-softmax written into the epoch buffer, per image, plus
  the end-of-epoch copy of the rows into the memory-mapped dynamics file;
* checkpoint: one atomic ``state.pt`` write (model, optimiser, scheduler, generator) by
  the trainer's own store, in wall seconds (it waits for the disk).

and models from them the per-epoch cost of the two runs that set the profile's cost: a
2 % coreset job (no recording) and the full-set surrogate run (recording), each with
checkpoints after every epoch (before the cadence change) and every
``evalib.checkpoints.CHECKPOINT_EVERY_S`` seconds (after). Epochs are the profile's; a job
evaluates the validation split after every epoch and the test split after the last
(spread over the epochs here), a surrogate also does one eval pass over its training
set. Nothing trains a full epoch: the full set is extrapolated from the per-image costs.

The GPU model replaces the measured compute per image by ``1 / --gpu-images-per-s``, a
stated assumption (not a measurement: this project had no GPU), and divides evaluation,
data path and per-image recording by the same speed-up over this CPU; host-side work
(checkpoint writes, the permutation, the copy of recorded rows) keeps its CPU time. From
it, the wall time of the profile's Table 1 and window grid on N GPUs (one job per GPU
at a time; packing several small jobs per GPU is assumed to gain nothing, which is the
pessimistic side).

Writes ``results/scaling/paper_overheads.csv`` (per-epoch costs),
``results/scaling/paper_grid_hours.csv`` (grids on N GPUs),
``results/scaling/paper_costs_inputs.csv`` (what was measured and what assumed) and the
Markdown tables ``results/scaling/paper_costs.md`` that book/scaling.md includes.

Run (about two minutes at width 1 on a loaded 2-core machine)::

    nice -n 10 python benchmarks/bench_overheads.py            # the committed tables
    nice -n 10 python benchmarks/bench_overheads.py --width 0.25 --out /tmp/x  # quick
    python benchmarks/bench_overheads.py --render-only         # Markdown from the CSVs
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from evalib import (
    checkpoints,  # noqa: E402
    data,  # noqa: E402
)
from evalib import train as T  # noqa: E402
from evalib.io import atomic_file  # noqa: E402
from evalib.models import build_model  # noqa: E402
from evalib.ranking import budget  # noqa: E402
from evalib.runs.config import get_profile
from evalib.runs.costs import train_size
from evalib.studies.labels import dataset_title, model_name

ROOT = Path(__file__).resolve().parents[1]
DATASET = "organamnist"
CORESET_RATE = 0.02
GPU_COUNTS = (1, 4, 8, 16, 32, 64)
#: assumed training throughput of ResNet-18 (width 1) on 28×28 images, batch 256, fp32
#: (TF32 convolutions) on one A100-class GPU; pass your own measurement instead
GPU_IMAGES_PER_S = 15_000.0


# ----------------------------------------------------------------------------- measuring


def cpu_seconds(fn: Callable[[], object], reps: int, warmup: int = 1) -> float:
    """Median process CPU seconds of ``fn()`` over ``reps`` calls after ``warmup``."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return statistics.median(times)


def wall_seconds(fn: Callable[[], object], reps: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


@dataclass(frozen=True)
class Costs:
    """Seconds of each part, per image where it grows with the images, else per call."""

    train: float  # forward + backward + step, per training image (on-device)
    eval: float  # eval-mode forward, per image (on-device)
    data: float  # gather, to_float, labels, loss and accuracy sums, per image (on-device)
    record: float  # log-softmax into the epoch buffer, per training image (on-device)
    perm: float  # the epoch's permutation, per training image (host)
    commit: float  # copy of an epoch's recorded rows to the file, per image (host)
    save_job: float  # one state.pt write of a job (wall; host)
    save_surrogate: float  # one state.pt write of a recording run, rows flushed (wall; host)


def measure(args, sizes: dict[str, int]) -> Costs:
    torch.set_num_threads(1)
    ds = data.load(DATASET, args.data_root, allow_download=False)
    profile = get_profile("paper")
    recipe = profile.recipe
    torch.manual_seed(0)
    model = build_model(profile.model.name, ds.info.n_channels, ds.info.n_classes, args.width)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=recipe.momentum,
                          nesterov=recipe.nesterov, weight_decay=recipe.weight_decay)  # fmt: skip
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=1000, eta_min=recipe.min_lr)
    x = data.to_float(ds.train.images[: args.batch])
    y = ds.train.labels[: args.batch]

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()

    model.train()
    train = cpu_seconds(step, args.reps) / args.batch
    print(f"compute      {train * 1e3:9.3f} ms per training image (batch {args.batch})", flush=True)
    val = ds.val.subset(np.arange(min(args.eval_images, len(ds.val))))
    ev_recipe = replace(recipe, eval_batch_size=len(val))
    evals = cpu_seconds(lambda: T.evaluate(model, val, ev_recipe), args.reps) / len(val)
    print(f"evaluation   {evals * 1e3:9.3f} ms per image", flush=True)

    n_full, classes = len(ds.train), ds.info.n_classes
    images, labels = ds.train.images, ds.train.labels
    gen = torch.Generator().manual_seed(0)
    perm = torch.randperm(n_full, generator=gen)
    batches = [perm[i : i + recipe.batch_size] for i in range(0, 16 * recipe.batch_size,
                                                               recipe.batch_size)]  # fmt: skip
    logits = torch.randn(recipe.batch_size, classes)
    buf = torch.empty((n_full, classes), dtype=torch.float16)
    seen = torch.zeros(n_full, dtype=torch.bool)

    def data_path():
        loss_sum, correct = torch.zeros(()), torch.zeros((), dtype=torch.long)
        for idx in batches:
            xb = data.to_float(images[idx]).contiguous()
            yb = labels[idx]
            per_sample = F.cross_entropy(logits, yb, reduction="none")
            loss_sum += per_sample.detach().sum()
            correct += (logits.argmax(1) == yb).sum()
        return xb, float(loss_sum), int(correct)

    def recording():
        for idx in batches:
            buf[idx] = F.log_softmax(logits.detach(), dim=1).half()
            seen[idx] = True

    per_images = len(batches) * recipe.batch_size
    data_cost = cpu_seconds(data_path, args.reps) / per_images
    record_cost = cpu_seconds(recording, args.reps) / per_images
    print(f"data path    {data_cost * 1e6:9.3f} µs per image", flush=True)
    print(f"recording    {record_cost * 1e6:9.3f} µs per image", flush=True)

    saves, commit = {}, 0.0
    perm_cost = cpu_seconds(lambda: torch.randperm(n_full, generator=gen), args.reps) / n_full
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    history = [{"epoch": 0, "seconds": 0.0}]
    with tempfile.TemporaryDirectory(dir=args.scratch) as tmp:
        for name, n in sizes.items():
            record = name == "full"  # the full-set run that records is the surrogate
            logp = torch.zeros((n, classes), dtype=torch.float16)
            mask = torch.ones(n, dtype=torch.bool)
            store = checkpoints.EpochStore(Path(tmp) / name, recipe.epochs, n, classes, 1,
                                         record, {"bench": name}, every_s=math.inf)  # fmt: skip
            if record:  # rows written into the memory-mapped file, no state.pt
                commit = (
                    cpu_seconds(
                        lambda s=store, lp=logp, m=mask: s.commit_epoch(
                            False, 0, 1, history, lp, m, None, None, model, opt, sched, scaler, gen
                        ),
                        args.reps,
                    )
                    / n
                )
            store.every_s = 0.0  # every commit writes state.pt now

            def save(s=store, lp=logp, m=mask, rec=record):
                s.commit_epoch(True, 0, 1, history, lp if rec else None, m if rec else None,
                               None, None, model, opt, sched, scaler, gen)  # fmt: skip

            saves[name] = wall_seconds(save, args.reps)
            size = (Path(tmp) / name / "state.pt").stat().st_size
            print(f"checkpoint   {saves[name]:9.3f} s wall, {size / 2**20:.1f} MiB ({name})",
                  flush=True)  # fmt: skip
    return Costs(train, evals, data_cost, record_cost, perm_cost, commit, saves["coreset"],
                 saves["full"])  # fmt: skip


# ----------------------------------------------------------------------------- modelling


@dataclass(frozen=True)
class Run:
    name: str
    n_train: int
    epochs: int
    record: bool


def epoch_costs(c: Costs, run: Run, n_val: int, n_test: int, scale: float, compute: float,
                cadence: float) -> dict:  # fmt: skip
    """Seconds per epoch of ``run``: on-device work divided by ``scale`` (1 on this CPU,
    the GPU's speed-up otherwise), ``compute`` per training image, and the checkpoint
    writes amortised over the epochs (``cadence`` 0: every epoch)."""
    n, e = run.n_train, run.epochs
    parts = {
        "compute_s": n * compute,
        "eval_s": (n_val + n_test / e + (n / e if run.record else 0)) * c.eval / scale,
        "record_s": n * (c.record / scale + c.commit) if run.record else 0.0,
        "data_s": n * (c.data / scale + c.perm),
    }
    without = sum(parts.values())
    # a write at the end of every epoch that ends ≥ cadence after the last, and the last
    saves = e if cadence == 0 else min(e, 1 + math.floor(e * without / cadence))
    parts["checkpoint_s"] = (c.save_surrogate if run.record else c.save_job) * saves / e
    parts["saves_per_job"] = saves
    return parts


def overhead_rows(c: Costs, runs: list[Run], n_val: int, n_test: int, gpu: float,
                  cadence: float) -> pd.DataFrame:  # fmt: skip
    speedup = c.train * gpu  # CPU seconds per image / GPU seconds per image
    rows = []
    for device, scale, compute in (("this CPU (measured)", 1.0, c.train),
                                   ("GPU (model)", speedup, 1 / gpu)):  # fmt: skip
        for run in runs:
            for label, every in (("every epoch", 0.0), (f"every {cadence:g} s", cadence)):
                p = epoch_costs(c, run, n_val, n_test, scale, compute, every)
                over = p["checkpoint_s"] + p["eval_s"] + p["record_s"] + p["data_s"]
                epoch = p["compute_s"] + over
                rows.append({
                    "device": device, "run": run.name, "n_train": run.n_train,
                    "epochs": run.epochs, "records": run.record, "checkpoints": label,
                    "saves_per_job": p["saves_per_job"],
                    **{k: p[k] for k in ("compute_s", "checkpoint_s", "eval_s", "record_s",
                                         "data_s")},
                    **{k.replace("_s", "_pct"): 100 * p[k] / p["compute_s"]
                       for k in ("checkpoint_s", "eval_s", "record_s", "data_s")},
                    "overhead_pct": 100 * over / p["compute_s"],
                    "epoch_s": epoch, "job_h": run.epochs * epoch / 3600,
                })  # fmt: skip
    return pd.DataFrame(rows)


def grid_rows(c: Costs, n_val: int, n_test: int, gpu: float, cadence: float) -> pd.DataFrame:
    """Hours of the profile's Table 1 and window grid on N GPUs, from the GPU model."""
    from evalib.book.reproduce import grid_jobs

    profile = get_profile("paper")
    full = data.dataset_info(DATASET).n_samples[0]
    speedup = c.train * gpu

    def seconds(n: int, epochs: int, record: bool, every: float) -> float:
        p = epoch_costs(c, Run("", n, epochs, record), n_val, n_test, speedup, 1 / gpu, every)
        return epochs * sum(v for k, v in p.items() if k.endswith("_s"))

    rows = []
    for what, label in (("table1", "Table 1"), ("grid", "window grid")):
        jobs = grid_jobs(what, profile, DATASET)
        surrogates = {j.surrogate for j in jobs if j.selection is not None
                      and j.method != "random" and j.surrogate is not None}  # fmt: skip
        for every, when in ((0.0, "every epoch"), (cadence, f"every {cadence:g} s")):
            work = []
            for job in jobs:
                n = train_size(job)
                recipe = job.recipe
                if job.budget == "iterations" and job.selection is not None:
                    recipe = replace(recipe, iterations=recipe.total_steps(full), epochs=1)
                work.append(seconds(n, recipe.num_epochs(n), False, every))
            sur = [seconds(s.data.train_subset or full, s.recipe.epochs, True, every)
                   for s in surrogates]  # fmt: skip
            for gpus in GPU_COUNTS:
                first = math.ceil(len(sur) / gpus) * max(sur, default=0.0)
                low = first + sum(work) / gpus
                rows.append({"grid": label, "jobs": len(jobs), "surrogates": len(sur),
                             "checkpoints": when, "gpus": gpus, "hours_low": low / 3600,
                             "hours_high": (low + max(work)) / 3600})  # fmt: skip
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- output


def inputs_rows(c: Costs, args, sizes, n_val, n_test, cadence) -> pd.DataFrame:
    m, a, e = "measured on this CPU", "assumed", "from evalib"
    rows = [
        ("network", f"{get_profile('paper').model.name} width {args.width:g}", "", e),
        ("dataset", DATASET, "", e),
        ("training images, full set", sizes["full"], "images", e),
        (f"training images, {CORESET_RATE:.0%} coreset", sizes["coreset"], "images", e),
        ("validation images, every epoch", n_val, "images", e),
        ("test images, after the last epoch", n_test, "images", e),
        ("epochs", get_profile("paper").recipe.epochs, "epochs", e),
        ("checkpoint cadence after the change", cadence, "s", e),
        ("compute per training image", c.train * 1e3, "ms (CPU time, 1 thread)", m),
        ("measured on a batch of", args.batch, "images", m),
        ("evaluation per image", c.eval * 1e3, "ms (CPU time, 1 thread)", m),
        ("data path per training image", c.data * 1e6, "µs (CPU time, 1 thread)", m),
        ("recording per training image", c.record * 1e6, "µs (CPU time, 1 thread)", m),
        ("checkpoint write, coreset job", c.save_job, "s (wall)", m),
        ("checkpoint write, surrogate", c.save_surrogate, "s (wall)", m),
        ("GPU training throughput", args.gpu_images_per_s, "images/s", a),
        ("GPU speed-up over this CPU", c.train * args.gpu_images_per_s,
         "× (compute, evaluation, data path, recording)", a),
        ("CPU", f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores", "", m),
        ("torch", torch.__version__, "", m),
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["quantity", "value", "unit", "source"])


def _fmt(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2g}" if x < 1 else f"{x:.2f}"


def _seconds(s: float) -> str:
    if s < 1:
        return f"{s * 1e3:.3g} ms"
    return f"{s:.3g} s" if s < 100 else f"{s:,.0f} s"


def _duration(hours: float) -> str:
    seconds = hours * 3600
    if seconds < 60:
        return f"{seconds:.2g} s"
    return f"{seconds / 60:.2g} min" if seconds < 3600 else f"{_fmt(hours)} h"


def _network_title(text: object) -> str:
    """The inputs' ``network`` (code name, as :func:`inputs_rows` writes it) for readers:
    ``"resnet18 width 1"`` -> ``"ResNet-18, width 1"``."""
    name, _, width = str(text).partition(" width ")
    return f"{model_name(name)}, width {width}" if width else model_name(name)


#: inputs whose value the CSV keeps as a code name -> how the Markdown shows it
_READER_VALUES = {"network": _network_title, "dataset": dataset_title}


def render(folder: Path) -> str:
    """The Markdown of book/scaling.md's cost tables, from the CSVs in ``folder`` (the
    network and the dataset under the names readers know, :data:`_READER_VALUES`)."""
    over = pd.read_csv(folder / "paper_overheads.csv")
    grid = pd.read_csv(folder / "paper_grid_hours.csv")
    inputs = pd.read_csv(folder / "paper_costs_inputs.csv", keep_default_na=False)
    inputs["value"] = [_READER_VALUES[q](v) if q in _READER_VALUES else v
                       for q, v in zip(inputs["quantity"], inputs["value"], strict=True)]  # fmt: skip
    value = dict(zip(inputs["quantity"], inputs["value"], strict=True))
    lines = [
        "<!-- generated by benchmarks/bench_overheads.py from results/scaling/paper_*.csv;"
        " do not edit -->",
        "",
        f"Per-epoch costs of the `paper` profile's runs ({value['network']}, {value['dataset']}),"
        " as a percentage of the epoch's forward/backward compute:",
        "",
        "| device | run | checkpoints | writes per job | compute per epoch | checkpoint |"
        " evaluation | recording | data path | all overheads | one run |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in over.itertuples():
        lines.append(
            f"| {r.device} | {r.run} | {r.checkpoints} | {r.saves_per_job:,} | "
            f"{_seconds(r.compute_s)} | {_fmt(r.checkpoint_pct)} % | {_fmt(r.eval_pct)} % | "
            f"{_fmt(r.record_pct) + ' %' if r.records else 'off'} | {_fmt(r.data_pct)} % | "
            f"{_fmt(r.overhead_pct)} % | "
            f"{_duration(r.job_h)} |"
        )
    lines += [
        "",
        "Wall time of the profile's grids on OrganAMNIST with $N$ GPUs, from the GPU model "
        "(surrogate runs first, then one job per GPU at a time; from the total work over $N$"
        " to that plus the longest job):",
        "",
        "| grid | jobs | checkpoints | " + " | ".join(f"{n} GPU{'s' if n > 1 else ''}"
                                                       for n in GPU_COUNTS) + " |",
        "|---|---|---|" + "---|" * len(GPU_COUNTS),
    ]  # fmt: skip
    for (label, when), g in grid.groupby(["grid", "checkpoints"], sort=False):
        cells = [f"{_fmt(lo)}–{_fmt(hi)} h" for lo, hi in zip(g.hours_low, g.hours_high,
                                                             strict=True)]  # fmt: skip
        lines.append(f"| {label} | {g.jobs.iloc[0]:,} | {when} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Inputs (written by the benchmark to `results/scaling/paper_costs_inputs.csv`):",
        "",
    ]
    lines += ["| quantity | value | unit | source |", "|---|---|---|---|"]
    for r in inputs.itertuples():
        v = r.value
        try:
            v = _fmt(float(v)) if not str(v).isdigit() else f"{int(v):,}"
        except ValueError:
            pass
        lines.append(f"| {r.quantity} | {v} | {r.unit} | {r.source} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--width", type=float, default=get_profile("paper").model.width)
    ap.add_argument("--batch", type=int, default=32, help="images per measured training step")
    ap.add_argument("--eval-images", type=int, default=128)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--gpu-images-per-s", type=float, default=GPU_IMAGES_PER_S,
                    help="assumed GPU training throughput (images/s)")  # fmt: skip
    ap.add_argument("--data-root", default=None, help="folder with organamnist.npz")
    ap.add_argument("--scratch", default=None, help="folder for the checkpoint writes")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "scaling")
    ap.add_argument("--render-only", action="store_true", help="Markdown from existing CSVs")
    args = ap.parse_args()
    if not args.render_only:
        t0 = time.perf_counter()
        profile = get_profile("paper")
        full, n_val, n_test = data.dataset_info(DATASET).n_samples
        sizes = {"coreset": budget(full, CORESET_RATE), "full": full}
        cadence = checkpoints.CHECKPOINT_EVERY_S
        costs = measure(args, sizes)
        runs = [Run(f"{100 * CORESET_RATE:g} % coreset job", sizes["coreset"], profile.epochs, False),
                Run("full-set surrogate", sizes["full"], profile.epochs, True)]  # fmt: skip
        over = overhead_rows(costs, runs, n_val, n_test, args.gpu_images_per_s, cadence)
        grid = grid_rows(costs, n_val, n_test, args.gpu_images_per_s, cadence)
        inputs = inputs_rows(costs, args, sizes, n_val, n_test, cadence)
        args.out.mkdir(parents=True, exist_ok=True)
        for name, frame in (("paper_overheads", over), ("paper_grid_hours", grid),
                            ("paper_costs_inputs", inputs)):  # fmt: skip
            with atomic_file(args.out / f"{name}.csv", "w") as fh:
                frame.to_csv(fh, index=False, float_format="%.6g")
        show = ["device", "run", "checkpoints", "saves_per_job", "checkpoint_pct", "eval_pct",
                "record_pct", "data_pct", "overhead_pct", "job_h"]  # fmt: skip
        with pd.option_context("display.width", 200, "display.float_format", "{:.3g}".format):
            print(over[show].to_string(index=False))
        print(f"benchmark took {time.perf_counter() - t0:.0f} s")
    text = render(args.out)
    with atomic_file(args.out / "paper_costs.md", "w") as fh:
        fh.write(text)
    print(f"wrote {args.out / 'paper_costs.md'}")


if __name__ == "__main__":
    main()
