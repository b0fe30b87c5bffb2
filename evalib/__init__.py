"""evalib: data pruning on MedMNIST, built around recorded training dynamics."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("evalib")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+src"

from evalib.errors import EvalibError

__all__ = ["EvalibError", "__version__"]
