"""evalib: data pruning on MedMNIST, built around recorded training dynamics."""

import os
import sys
from importlib.metadata import PackageNotFoundError, version

if sys.platform == "darwin":  # MPS: run an operation it lacks on the CPU instead of failing
    os.environ.setdefault("PYTORCH_ENABLE_MPS_FALLBACK", "1")  # read when torch is imported

try:
    __version__ = version("evalib")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+src"

from evalib.errors import EvalibError

__all__ = ["EvalibError", "__version__"]
