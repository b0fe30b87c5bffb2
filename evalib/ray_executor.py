"""The Ray executor, kept importable under its old name: it lives in :mod:`evalib.executors`.

``from evalib.ray_executor import RayExecutor`` works as before; new code imports it from
:mod:`evalib.executors`. Ray is imported only when an executor starts running, so this
module imports without Ray installed.
"""

from evalib.executors import (
    INSTALL_HINT,
    RayExecutor,
    cached_result,
    describe,
    portable,
    ray_available,
)

__all__ = ["INSTALL_HINT", "RayExecutor", "cached_result", "describe", "portable", "ray_available"]
