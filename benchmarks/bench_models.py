"""Training throughput of the profiles' networks on this CPU, as ratios to the ConvNet.

For every network of the ``cpu`` profile (the surrogate ConvNet and the cross-architecture
stand-ins, plus MobileNet-v2 at width 0.25, which that profile leaves out), one optimiser
step = forward + backward + SGD on a 28 × 28 single-channel batch, with bf16 autocast
(the profile's setting) and in fp32. Median of ``--reps`` timed steps after warm-up, at
``--threads`` torch threads (default 1, as each job of the process executor runs).
Prints images per second and the ratio to the ConvNet's; not a test.

Run: ``python benchmarks/bench_models.py [--reps 8] [--batch 128] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from evalib.models import build_model

NETWORKS = (("convnet", 0.25), ("resnet18", 0.125), ("vgg", 0.125), ("mobilenet_v2", 0.25))


def images_per_second(name: str, width: float, amp: bool, batch: int, reps: int) -> float:
    """Median training throughput (images/s) of one network over ``reps`` steps."""
    torch.manual_seed(0)
    model = build_model(name, 1, 11, width)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = torch.randn(batch, 1, 28, 28), torch.randint(0, 11, (batch,))
    times = []
    for step in range(reps + 2):  # two warm-up steps
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step >= 2:
            times.append(time.perf_counter() - t0)
    return batch / statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=8)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), batch {args.batch}")
    print(f"{'network':<22}{'bf16 img/s':>12}{'fp32 img/s':>12}{'bf16 / ConvNet':>16}")
    base = None
    for name, width in NETWORKS:
        bf16 = images_per_second(name, width, True, args.batch, args.reps)
        fp32 = images_per_second(name, width, False, args.batch, args.reps)
        base = base or bf16
        print(f"{f'{name} ×{width:g}':<22}{bf16:>12.0f}{fp32:>12.0f}{bf16 / base:>16.3f}")


if __name__ == "__main__":
    main()
