"""Runtime speed settings of the training loop: mixed precision (AMP), and on CUDA
CUDA graphs (``torch.compile``) and the channels-last memory format.

None of them is part of a run's identity: the CUDA ones are off on the CPU, where
results are bitwise reproducible, and are read from arguments or the environment.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from evalib.errors import EvalibError

#: "0" turns off a CUDA-only speed-up that train() is not told about
ENV_CUDA_GRAPHS = "EVALIB_CUDA_GRAPHS"
ENV_CUDA_CHANNELS_LAST = "EVALIB_CUDA_CHANNELS_LAST"


def env_flag(value: bool | None, env: str) -> bool:
    """``value`` if given, else on unless the environment variable ``env`` is "0"."""
    return bool(value) if value is not None else os.environ.get(env, "1") != "0"


def compiled(model: nn.Module) -> nn.Module:
    """``model`` compiled with CUDA graphs, or ``model`` itself where Triton (which
    ``torch.compile`` needs on CUDA) is missing. The compiled module shares the model's
    parameters; checkpoints keep saving the model's own state dict."""
    try:
        from torch.utils._triton import has_triton

        ready = has_triton()
    except ImportError:
        ready = False
    if not ready:
        import warnings

        warnings.warn(
            "Triton is not installed: training without CUDA graphs "
            f"(set {ENV_CUDA_GRAPHS}=0 to silence this)",
            stacklevel=3,
        )
        return model
    return torch.compile(model, mode="reduce-overhead", dynamic=False)


def autocast(dev: torch.device, amp: str):
    """The autocast context of ``amp`` ("none", "bf16" or "fp16") on ``dev``."""
    if amp == "none":
        return torch.autocast(dev.type, enabled=False)
    if amp == "fp16" and dev.type != "cuda":
        raise EvalibError(
            "amp='fp16' needs a CUDA device; use 'bf16' on the CPU",
            cli="--amp fp16 needs a CUDA device; use --amp bf16 on the CPU",
        )
    return torch.autocast(dev.type, dtype=torch.bfloat16 if amp == "bf16" else torch.float16)
