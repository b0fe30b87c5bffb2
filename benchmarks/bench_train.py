"""Benchmark the evalib trainer on real OrganAMNIST on this CPU; prints ratios, not a test.

Measured per model (ResNet-18 at width 0.25, ConvNet at width 1.0), batch 256, on a
stratified subset of the training split (default 768 samples, 3 steps per epoch, so
that a run fits in a few minutes on a 2-core CPU), after warm-up epochs, median of
``--reps`` interleaved repetitions, with ``--threads`` (default 2) torch threads:

* trainer efficiency: images/s of a real ``evalib.train.train`` epoch (record=True)
  divided by images/s of a bare forward + backward + SGD loop over the same model on
  pre-made float tensors (same batch size, same number of steps). Target ≥ 0.9.
* recording overhead: the same epoch with record=False vs record=True (target ≤ 3 %).
* speedup over an official-style loop: a ``torch.utils.data.Dataset`` that builds a PIL
  image per sample and applies ToTensor + Normalize(0.5, 0.5) (emulated with
  numpy/torch, because torchvision is not installed), through ``DataLoader(batch_size=256,
  shuffle=True)`` with num_workers 0 and 2, then forward/backward/step.
* bf16 autocast vs fp32: the same evalib epoch with ``amp="bf16"``.

On a machine shared with other processes whole-epoch wall times are noisy, so each ratio
is also given from the fastest single optimiser steps, from process CPU time at one
thread, and from the trainer's own costs timed in isolation (a train() epoch of a
one-layer model minus the bare loop; the record ops alone).

Run: ``python benchmarks/bench_train.py [--quick] [--samples 768] [--reps 3] [--threads 2]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.optim.optimizer import register_optimizer_step_post_hook
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from evalib import data  # noqa: E402
from evalib.models import build_model  # noqa: E402
from evalib.train import Recipe, train  # noqa: E402

BATCH = 256
THREADS = 2  # --threads
MODELS = (("resnet18", 0.25), ("convnet", 1.0))


# ----------------------------------------------------------------------------- loops


def _sgd(model: nn.Module) -> torch.optim.Optimizer:
    r = Recipe()
    return torch.optim.SGD(
        model.parameters(),
        lr=0.01,  # small, so repeated timing epochs do not blow the weights up
        momentum=r.momentum,
        nesterov=r.nesterov,
        weight_decay=r.weight_decay,
    )


def bare_epoch(model: nn.Module, opt, x: torch.Tensor, y: torch.Tensor, amp: bool = False):
    """forward + backward + SGD step over contiguous slices of pre-made float tensors."""
    model.train()
    for start in range(0, len(y), BATCH):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            out = model(x[start : start + BATCH])
        loss = F.cross_entropy(out.float(), y[start : start + BATCH])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def evalib_epoch(model, split: data.Split, record: bool, amp: str, seed: int, threads=None):
    """One real epoch of evalib.train.train (fresh optimiser and schedule, like a run)."""
    recipe = Recipe(epochs=1, batch_size=BATCH, lr=0.01, amp=amp)
    threads = threads or THREADS
    train(model, split, recipe, seed=seed, record=record, threads=threads, progress=False)


class OfficialStyle(Dataset):
    """MedMNIST's ``__getitem__`` as the official code uses it: a PIL image per sample,
    then ``transforms.ToTensor()`` and ``transforms.Normalize(mean=[.5], std=[.5])``.

    torchvision cannot be imported here, so both transforms are emulated per sample the
    way torchvision implements them (PIL → numpy → CHW float / 255, then (x − m) / s)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.images = images  # uint8 [N, H, W] as stored in the .npz
        self.labels = labels  # [N, 1], as in the .npz
        self.mean, self.std = [0.5], [0.5]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        img, target = self.images[i], self.labels[i].astype(int)
        img = Image.fromarray(img)  # mode "L"
        # transforms.ToTensor(): PIL → ndarray → [C, H, W] float in [0, 1]
        t = torch.from_numpy(np.array(img, np.uint8, copy=True))
        t = t.view(img.size[1], img.size[0], len(img.getbands()))
        t = t.permute((2, 0, 1)).contiguous().to(dtype=torch.float32).div(255)
        # transforms.Normalize(mean, std) (not in place: it clones)
        mean = torch.as_tensor(self.mean, dtype=t.dtype).view(-1, 1, 1)
        std = torch.as_tensor(self.std, dtype=t.dtype).view(-1, 1, 1)
        t = t.clone().sub_(mean).div_(std)
        return t, target


def official_epoch(model: nn.Module, opt, sched, loader: DataLoader) -> float:
    model.train()
    total = 0.0
    for inputs, targets in loader:
        targets = targets.squeeze(1).long()
        outputs = model(inputs)
        loss = F.cross_entropy(outputs, targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        total += loss.item()
    return total


# ----------------------------------------------------------------------------- timing


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


class StepClock:
    """Times whole epochs and each optimiser step within them.

    A global optimiser post-step hook marks the end of every step, so a step's time runs
    from the end of the previous one (or the start of the epoch call) and includes the
    data path, forward, backward and update. Other processes only ever add time, so the
    fastest steps approach the cost on an unloaded machine (given enough steps)."""

    def __init__(self) -> None:
        self.marks: list[float] = []
        register_optimizer_step_post_hook(self._mark)

    def _mark(self, *_args) -> None:
        self.marks.append(time.perf_counter())

    def run(self, fn: Callable[[], object]) -> tuple[float, list[float]]:
        self.marks = []
        t0 = time.perf_counter()
        fn()
        t1 = time.perf_counter()
        return t1 - t0, np.diff([t0, *self.marks]).tolist()


def per_call(fn: Callable[[], object], repeat: int) -> float:
    """Seconds per call of a cheap function (best of 3 batches of ``repeat`` calls)."""
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, (time.perf_counter() - t) / repeat)
    return best


def record_cost(n: int, c: int) -> float:
    """Seconds per epoch that record=True adds to a train epoch of ``n`` samples: the
    per-step log-softmax/half/scatter into the epoch buffer, and the end-of-epoch copy."""
    logits = torch.randn(BATCH, c)
    idx = torch.randperm(n)[:BATCH]
    buf = torch.empty((n, c), dtype=torch.float16)
    seen = torch.zeros(n, dtype=torch.bool)
    rows = np.zeros((2, n, c), np.float16)
    seen_rows = np.zeros((2, n), bool)

    def step():
        buf[idx] = F.log_softmax(logits.detach(), dim=1).half()
        seen[idx] = True

    def commit():
        rows[1] = buf.numpy()
        seen_rows[1] = seen.numpy()

    steps = -(-n // BATCH)
    return steps * per_call(step, 200) + per_call(commit, 20)


def trainer_overhead(split: data.Split, repeat: int = 15) -> float:
    """Seconds per epoch that a ``train`` call (one epoch, record=True, set-up included)
    spends outside the model's forward/backward/step: the same epoch with a model so small
    that its compute is negligible, minus the bare loop with it (fastest of ``repeat``)."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 11))
    x = data.to_float(split.images)
    y = split.labels
    opt = _sgd(model)
    run_train = lambda: evalib_epoch(model, split, True, "none", 0)  # noqa: E731
    run_bare = lambda: bare_epoch(model, opt, x, y)  # noqa: E731
    run_train(), run_bare()  # warm-up
    t_train = min(timed(run_train) for _ in range(repeat))
    t_bare = min(timed(run_bare) for _ in range(repeat))
    return max(0.0, t_train - t_bare)


# ----------------------------------------------------------------------------- main


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return " ".join(
                        f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags
                    )
    except OSError:
        pass
    return "?"


def load_text() -> str:
    try:
        return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "load average n/a"


def bench_model(name, width, split, raw_images, raw_labels, reps, workers, clock, log):
    torch.manual_seed(0)
    model = build_model(name, 1, 11, width=width)
    torch.set_num_threads(THREADS)
    x, y = data.to_float(split.images), split.labels
    steps = -(-len(split) // BATCH)
    opt = _sgd(model)

    # warm-up: oneDNN primitives, allocator, autocast kernels
    bare_epoch(model, opt, x, y)
    evalib_epoch(model, split, True, "none", 0)
    evalib_epoch(model, split, True, "bf16", 0)

    kinds = {
        "bare": lambda r: bare_epoch(model, opt, x, y),
        "rec": lambda r: evalib_epoch(model, split, True, "none", r),
        "norec": lambda r: evalib_epoch(model, split, False, "none", r),
        "bf16": lambda r: evalib_epoch(model, split, True, "bf16", r),
    }
    epochs: dict[str, list[float]] = {k: [] for k in kinds}
    step_times: dict[str, list[float]] = {k: [] for k in kinds}
    order = list(kinds)
    for r in range(reps):  # interleaved, rotating order: load drifts hit all kinds alike
        for k in order[r % len(order) :] + order[: r % len(order)]:
            epoch, st = clock.run(lambda k=k, r=r: kinds[k](r))
            epochs[k].append(epoch)
            step_times[k] += st
        log(
            f"  {name}: rep {r + 1}/{reps} "
            + " ".join(f"{k}={v[-1]:.2f}s" for k, v in epochs.items())
        )

    # one thread, process CPU time: a thread that other processes preempt accrues none,
    # so this direct check is far less noisy than wall time on a shared machine
    torch.set_num_threads(1)
    one = {
        "bare": lambda: bare_epoch(model, opt, x, y),
        "rec": lambda: evalib_epoch(model, split, True, "none", 0, threads=1),
        "norec": lambda: evalib_epoch(model, split, False, "none", 0, threads=1),
    }
    one["bare"]()  # warm-up at this thread count
    cpu: dict[str, list[float]] = {k: [] for k in one}
    for _ in range(2):
        for k, fn in one.items():
            c = time.process_time()
            fn()
            cpu[k].append(time.process_time() - c)
    torch.set_num_threads(THREADS)
    log(f"  {name}: 1 thread, CPU s: " + " ".join(f"{k}={min(v):.2f}" for k, v in cpu.items()))

    # official style: the model is warm already; worker start-up is part of every epoch
    # there (no persistent workers), so no warm-up epoch; two epochs each
    ds = OfficialStyle(raw_images, raw_labels)
    for nw in workers:
        key = f"official{nw}"
        loader = DataLoader(ds, batch_size=BATCH, shuffle=True, num_workers=nw)
        oopt = _sgd(model)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(oopt, T_max=steps * 2)
        epochs[key], step_times[key] = [], []
        for _ in range(2):
            epoch, st = clock.run(
                lambda lo=loader, o=oopt, s=sched: official_epoch(model, o, s, lo)
            )
            epochs[key].append(epoch)
            step_times[key] += st
        log(
            f"  {name}: official-style num_workers={nw}: "
            + " ".join(f"{v:.2f}s" for v in epochs[key])
        )

    def paired(a: str, b: str) -> float:
        return statistics.median(u / v for u, v in zip(epochs[a], epochs[b], strict=True))

    return {
        "steps": steps,
        "median": {k: statistics.median(v) for k, v in epochs.items()},
        "step_min": {k: min(v) for k, v in step_times.items()},
        "step_count": {k: len(v) for k, v in step_times.items()},
        "cpu1": {k: min(v) for k, v in cpu.items()},
        "paired": {
            "eff": paired("bare", "rec"),
            "rec": paired("rec", "norec"),
            "bf16": paired("bf16", "rec"),
        },
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="256 samples, 2 reps (< 1 min)")
    p.add_argument("--samples", type=int, default=None, help="training subset (default 768)")
    p.add_argument("--reps", type=int, default=None, help="repetitions (default 3)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    p.add_argument(
        "--data-root",
        default=os.environ.get(data.ENV_DATA_ROOT, "/work/shared/data"),
        help="folder with organamnist.npz (default $EVALIB_DATA_ROOT or /work/shared/data)",
    )
    args = p.parse_args(argv)
    samples = args.samples or (256 if args.quick else 768)
    reps = args.reps or (2 if args.quick else 3)
    workers = (0,) if args.quick else (0, 2)
    t_start = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t_start:6.1f}s] {msg}", flush=True)

    global THREADS
    THREADS = args.threads
    torch.set_num_threads(THREADS)
    print("evalib trainer benchmark")
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"{os.cpu_count()} logical CPUs: {cpu_model()} ({cpu_flags()})")  # fmt: skip
    print(f"python {platform.python_version()}, {load_text()} at start")

    ds = data.load("organamnist", args.data_root, allow_download=False)
    ids = data.stratified_subset(ds.train.labels, samples, seed=0)
    split = ds.train.subset(ids)
    with np.load(ds.path) as z:  # the official-style loop reads the npz arrays as they are
        raw_images = z["train_images"][ids]
        raw_labels = z["train_labels"][ids]
    print(f"OrganAMNIST train subset: {len(split)} samples, batch {BATCH}, "
          f"{-(-len(split) // BATCH)} steps/epoch, median of {reps} reps")  # fmt: skip

    over_epoch = trainer_overhead(split)
    log(f"trainer overhead outside the model: {over_epoch * 1e3:.2f} ms per epoch call")
    clock = StepClock()
    results = {}
    for name, width in MODELS:
        log(f"{name} width {width}")
        results[name] = bench_model(
            name, width, split, raw_images, raw_labels, reps, workers, clock, log
        )

    print()
    print(f"{'':44}" + "".join(f"{f'{m} w{w:g}':>22}" for m, w in MODELS))

    def line(label: str, values: list[str]) -> None:
        print(f"{label:44}" + "".join(f"{v:>22}" for v in values))

    rs = [results[m] for m, _ in MODELS]
    kinds = [
        ("bare", "bare fwd+bwd+SGD loop, float tensors"),
        ("rec", "evalib train, record=True"),
        ("norec", "evalib train, record=False"),
        ("bf16", "evalib train, record=True, bf16 autocast"),
    ] + [(f"official{nw}", f"official-style loop, num_workers={nw}") for nw in workers]
    print("epoch time, s: median of epochs | fastest step, ms (of k steps)")
    for key, label in kinds:
        line(
            f"  {label}",
            [
                f"{r['median'][key]:.2f} | {1e3 * r['step_min'][key]:.0f} ({r['step_count'][key]})"
                for r in rs
            ],
        )
    print("ratios: median of paired epochs | from the fastest steps")

    def ratio(r, paired: str | None, a: str, b: str, fmt: str, pct: bool = False) -> str:
        epoch = r["paired"][paired] if paired else r["median"][a] / r["median"][b]
        step = r["step_min"][a] / r["step_min"][b]
        if pct:
            epoch, step = 100 * (epoch - 1), 100 * (step - 1)
        return f"{epoch:{fmt}} | {step:{fmt}}"

    line("  trainer efficiency (target ≥ 0.9)", [ratio(r, "eff", "bare", "rec", ".3f") for r in rs])
    line(
        "    1 thread, CPU time (fastest of 2)",
        [f"{r['cpu1']['bare'] / r['cpu1']['rec']:.3f}" for r in rs],
    )
    line(
        "    from isolated overhead per step",
        [f"{1 / (1 + over_epoch / (r['steps'] * r['step_min']['bare'])):.4f}" for r in rs],
    )
    line(
        "  recording overhead, % (target ≤ 3)",
        [ratio(r, "rec", "rec", "norec", "+.1f", pct=True) for r in rs],
    )
    line(
        "    1 thread, CPU time (fastest of 2)",
        [f"{100 * (r['cpu1']['rec'] / r['cpu1']['norec'] - 1):+.1f}" for r in rs],
    )
    rec_cost = record_cost(len(split), 11)
    line(
        "    from isolated record cost per epoch",
        [f"{100 * rec_cost / (r['steps'] * r['step_min']['norec']):+.3f}" for r in rs],
    )
    for nw in workers:
        line(
            f"  speedup vs official-style, workers={nw}",
            [ratio(r, None, f"official{nw}", "rec", ".2f") for r in rs],
        )
    line("  bf16 / fp32 time", [ratio(r, "bf16", "bf16", "rec", ".2f") for r in rs])
    print()
    print(f"isolated: a train() call of one epoch spends {over_epoch * 1e3:.2f} ms outside the "
          f"model (set-up included; 1-layer model, train − bare loop, fastest of 15); "
          f"record=True costs {rec_cost * 1e3:.2f} ms per epoch")  # fmt: skip
    print("official-style loop: PIL.Image.fromarray per sample + ToTensor/Normalize emulated "
          "with numpy/torch (torchvision is not installed), DataLoader(batch_size=256, "
          "shuffle=True), CE loss, SGD, per-step cosine schedule, loss.item() per step")  # fmt: skip
    print("a step's time runs from the end of the previous optimiser step (or the start of "
          "the epoch call) to the end of its own, so it includes the data path")  # fmt: skip
    print(f"{load_text()} at end; total {time.perf_counter() - t_start:.0f} s. Other processes "
          "share this CPU: wall-time ratios (epochs and fastest steps) are noisy when the "
          "load average exceeds the core count; the 1-thread CPU-time and isolated "
          "estimates are the stable ones.")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
