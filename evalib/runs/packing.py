"""How many training jobs share one device: a memory bound and a size rule, per job.

A job is sized by its training-set size and its network (:class:`JobSize`). Two limits
choose how many such jobs run on one device at a time (:func:`jobs_per_device`):

* **memory**: :func:`job_memory_bytes` bounds what one job holds on the device, from a
  count of the network's parameters and of the activations autograd keeps for a batch
  (:func:`network_memory`, counted from shapes and checked against a real step on the
  CPU), and at most ``USABLE_FRACTION`` of the device's memory is handed out;
* **size**: a job whose epoch trains less than ``FILL_IMAGES`` ResNet-18 (width 1)
  equivalent images is assumed not to fill a device, so ``FILL_IMAGES`` worth of such
  jobs share one (at most ``MAX_JOBS_PER_DEVICE``). The work per image is the network's
  multiply-adds per training image, counted on the CPU. This is an assumption about
  GPUs, not a measurement: no GPU was available to this project.

The executors (:mod:`evalib.runs.executors`) enforce the share on CUDA with
``torch.cuda.set_per_process_memory_fraction``, so a job that outgrows its bound fails
with an out-of-memory error instead of starving the jobs beside it.

Every function here is pure: the same arguments give the same answer and nothing is
changed (networks are built on PyTorch's meta device: nothing is initialised, and the
global random generator is not touched).
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

from evalib.errors import EvalibError

#: bytes a CUDA context takes in each process (typical for recent drivers; not measured)
CONTEXT_BYTES = 512 * 2**20
#: fraction of a device's memory handed out to jobs (the rest: allocator slack)
USABLE_FRACTION = 0.8
#: most jobs ever packed onto one device
MAX_JOBS_PER_DEVICE = 8
#: training images per epoch (ResNet-18, width 1, equivalents) assumed to fill a device
FILL_IMAGES = 8192
#: MedMNIST images (channels: 3, the larger case), and the classes of the largest set
IMAGE_SHAPE = (3, 28, 28)
NUM_CLASSES = 11


class JobSize(NamedTuple):
    """What packing needs to know of a job: ``n_train`` training images of ``model`` at
    ``width``, and whether it records per-sample outputs (a surrogate run)."""

    n_train: int
    model: str
    width: float
    record: bool = False


class NetworkMemory(NamedTuple):
    """Per-network facts of one training step (see :func:`network_memory`).

    ``param_bytes``: float32 parameters and buffers; ``saved_per_image``: bytes autograd
    keeps for the backward pass per training image (parameters excluded);
    ``largest_output_per_image``: the biggest single layer output per image;
    ``flops_per_image``: floating-point operations of one training image (forward and
    backward, as counted by ``torch.utils.flop_counter``)."""

    param_bytes: int
    saved_per_image: float
    largest_output_per_image: float
    flops_per_image: float


MEASURE_BATCH = 4


@functools.lru_cache(maxsize=64)
def network_memory(
    model: str,
    width: float,
    image_shape: tuple[int, int, int] = IMAGE_SHAPE,
    device: str = "meta",
) -> NetworkMemory:
    """Count ``model`` at ``width``: one training step (cross-entropy, backward) on a
    batch of ``MEASURE_BATCH`` zero images, recording the distinct storages autograd
    saves, the largest layer output and the FLOPs.

    ``device="meta"`` (the default) counts from shapes alone, in well under a second
    and without computing anything; ``device="cpu"`` runs the step for real (the tests
    check that both give the same counts)."""
    import torch
    import torch.nn.functional as F
    from torch.utils.flop_counter import FlopCounterMode

    from evalib.models import build_model

    with torch.device("meta"):  # no initialisation: no random numbers are drawn
        net = build_model(model, image_shape[0], NUM_CLASSES, width)
    if device != "meta":
        net = net.to_empty(device=device)
        with torch.no_grad():
            for t in [*net.parameters(), *net.buffers()]:
                t.fill_(1.0 if t.is_floating_point() else 0)

    def key(t: torch.Tensor) -> int:
        storage = t.untyped_storage()
        return storage._cdata if device == "meta" else storage.data_ptr()

    tensors = [*net.parameters(), *net.buffers()]
    params = {key(t) for t in tensors}
    param_bytes = sum(t.numel() * t.element_size() for t in tensors)
    saved: dict[int, int] = {}
    largest = [0]

    def pack(t: torch.Tensor) -> torch.Tensor:
        if key(t) not in params:
            saved[key(t)] = t.untyped_storage().nbytes()
        return t

    def hook(_module, _inputs, output) -> None:
        if isinstance(output, torch.Tensor):
            largest[0] = max(largest[0], output.numel() * output.element_size())

    net.train()
    handles = [m.register_forward_hook(hook) for m in net.modules() if not list(m.children())]
    x = torch.zeros((MEASURE_BATCH, *image_shape), device=device)
    y = torch.zeros(MEASURE_BATCH, dtype=torch.long, device=device)
    try:
        with FlopCounterMode(display=False) as counter:
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                loss = F.cross_entropy(net(x), y)
            loss.backward()
    finally:
        for h in handles:
            h.remove()
    return NetworkMemory(
        param_bytes=int(param_bytes),
        saved_per_image=sum(saved.values()) / MEASURE_BATCH,
        largest_output_per_image=largest[0] / MEASURE_BATCH,
        flops_per_image=counter.get_total_flops() / MEASURE_BATCH,
    )


def job_memory_bytes(
    n_train: int,
    model_name: str,
    width: float,
    *,
    record: bool = False,
    batch_size: int = 256,
    eval_batch_size: int = 1024,
    image_shape: tuple[int, int, int] = IMAGE_SHAPE,
) -> int:
    """Upper estimate of the device memory of one training job, in bytes:

    ``CONTEXT_BYTES`` + 4 × parameters (weights, gradients, momentum, one copy in
    flight) + the training set on the device (uint8 images, int64 labels and
    permutation; float16 outputs per sample when recording) + the larger of the
    training peak (a batch of saved activations plus two layer outputs of gradient in
    flight) and the evaluation peak (three layer outputs of an evaluation batch).
    Activations are float32 (mixed precision needs less)."""
    if n_train < 1:
        raise EvalibError(f"n_train must be ≥ 1, got {n_train}")
    net = network_memory(model_name, float(width), tuple(image_shape))
    pixels = math.prod(image_shape)
    data = n_train * (pixels + 8 + 8 + (NUM_CLASSES * 2 + 1 if record else 0))
    train_peak = batch_size * (net.saved_per_image + 2 * net.largest_output_per_image)
    eval_peak = eval_batch_size * 3 * net.largest_output_per_image
    return int(CONTEXT_BYTES + 4 * net.param_bytes + data + max(train_peak, eval_peak))


def jobs_per_device(
    n_train: int,
    model_name: str,
    width: float,
    device_memory_bytes: int,
    *,
    record: bool = False,
) -> int:
    """Jobs of this size to run at once on one device of ``device_memory_bytes``.

    The smaller of the memory limit ⌊``USABLE_FRACTION`` × memory / job bytes⌋ (see
    :func:`job_memory_bytes`) and the size rule ⌊``FILL_IMAGES`` ResNet-18 images /
    (``n_train`` × work per image of this network)⌋, clipped to
    [1, ``MAX_JOBS_PER_DEVICE``]. One job per device when even one does not fit."""
    if device_memory_bytes <= 0:
        raise EvalibError(f"device memory must be > 0 bytes, got {device_memory_bytes}")
    need = job_memory_bytes(n_train, model_name, width, record=record)
    by_memory = int(USABLE_FRACTION * device_memory_bytes // need)
    reference = network_memory("resnet18", 1.0).flops_per_image
    work = n_train * network_memory(model_name, float(width)).flops_per_image
    by_size = int(FILL_IMAGES * reference // work)
    return max(1, min(MAX_JOBS_PER_DEVICE, by_memory, by_size))


def share_of_device(size: JobSize | None, device_memory_bytes: int | None) -> float:
    """The fraction of a device one job of ``size`` takes: 1 / :func:`jobs_per_device`;
    a whole device when the size or the device's memory is unknown."""
    if size is None or not device_memory_bytes:
        return 1.0
    n, model, width, record = size
    return 1.0 / jobs_per_device(n, model, width, device_memory_bytes, record=record)
