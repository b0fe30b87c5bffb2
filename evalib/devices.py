"""Which torch device to run on, and one-line messages when the wanted one is missing.

``pick_device`` turns a name (``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps``) into a
device checked to exist; ``cuda_problem`` and ``device_warning`` say in words why no GPU
is used; ``cpu_hours`` sizes the warning given before a long run on the CPU.
"""

from __future__ import annotations

import os

import torch

from evalib.errors import EvalibError

DEVICES = "auto, cpu, cuda, cuda:N or mps"
# Rough CPU speed of a width-1 ResNet-18 on 28×28 images (forward + backward + step),
# measured on this project's 2-core machines; used only to size the warning below.
RESNET18_IMAGES_PER_CORE_SECOND = 20.0


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def cuda_problem() -> str:
    """Why CUDA cannot be used on this machine, in words (for one-line messages)."""
    if torch.version.cuda is None:
        return "this torch build has no CUDA support (a CPU-only build); install a CUDA build"
    return (
        f"torch is built for CUDA {torch.version.cuda} but cannot use a GPU "
        "(torch.cuda.is_available() is False): no GPU, or a driver too old for that "
        "CUDA version; check nvidia-smi"
    )


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The torch device to train on, checked to exist.

    ``None`` or ``"auto"``: CUDA when usable, else an Apple-silicon GPU (MPS), else the CPU.
    Otherwise ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``; a typo or a device this
    machine lacks is a one-line EvalibError. On MPS, operations it lacks fall back to
    the CPU when ``PYTORCH_ENABLE_MPS_FALLBACK=1`` was set before torch was imported
    (``import evalib`` sets it on macOS)."""
    if device is None or str(device).strip().lower() in ("", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    text = str(device).strip()
    try:
        dev = torch.device(text.lower())
    except (RuntimeError, ValueError, TypeError):
        raise EvalibError(f"device {text!r} is not a device name; use {DEVICES}") from None
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise EvalibError(f"device {text!r} is not available: {cuda_problem()}")
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise EvalibError(
                f"device {text!r} does not exist: this machine has {count} CUDA device(s), "
                f"cuda:0 to cuda:{count - 1}"
            )
        return dev
    if dev.type == "mps":
        if not _mps_available():
            raise EvalibError(
                f"device {text!r} is not available: no Apple-silicon GPU is usable here "
                "(torch.backends.mps.is_available() is False)"
            )
        return dev
    raise EvalibError(f"device {text!r} is not supported; use {DEVICES}")


def device_warning(requested: str | torch.device | None, dev: torch.device) -> str | None:
    """A one-line warning when a GPU was expected but ``dev`` is the CPU, else None: a torch
    built for CUDA that cannot reach a GPU (often a driver that does not match the build)."""
    auto = requested is None or str(requested).strip().lower() in ("", "auto")
    if dev.type == "cpu" and auto and torch.version.cuda is not None:
        return f"{cuda_problem()}; training runs on the CPU"
    if dev.type == "mps" and os.environ.get("PYTORCH_ENABLE_MPS_FALLBACK") != "1":
        return (
            "training on MPS without PYTORCH_ENABLE_MPS_FALLBACK=1: an operation MPS lacks "
            "will fail; set it before Python starts to run such operations on the CPU"
        )
    return None


def cpu_hours(model: str, width: float, images: int, epochs: int) -> float | None:
    """Estimated CPU-core-hours of training ``model`` (ResNet-18 family only, else None) on
    ``images`` 28×28 images for ``epochs`` epochs; cost grows with width² (FLOPs)."""
    if model != "resnet18":
        return None
    per_second = RESNET18_IMAGES_PER_CORE_SECOND / max(width, 1e-3) ** 2
    return images * epochs / per_second / 3600
