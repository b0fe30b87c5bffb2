"""Which pip index serves the torch build that ``make setup`` installs (standard library only).

    python scripts/torch_index.py VARIANT [INDEX]

prints the pip arguments (``--index-url URL``, or nothing for PyPI's default build) on
stdout and one line on stderr saying which build that is and why.

The index is probed once (one request, :data:`PROBE_TIMEOUT_S` seconds) before pip is
pointed at it, so that a machine that cannot reach download.pytorch.org does not wait
through pip's retries: there the default index is used instead (PyPI, or whatever pip
is configured with: a mirror, ``--find-links``), and a line says so. An index given
with INDEX that cannot be reached is an error (exit status 2), not a silent fallback.

VARIANT is one of
  auto    the CPU build, unless ``nvidia-smi`` reports an NVIDIA driver: then the newest
          CUDA build that the driver and the GPU support (below)
  cpu     the CPU build (https://download.pytorch.org/whl/cpu)
  cu126   CUDA 12.6: driver >= 525, GPUs from Maxwell (compute capability 5.0) to Hopper
  cu130   CUDA 13.0: driver >= 580, GPUs from Turing (7.5) to Blackwell
  cu132   CUDA 13.2: driver >= 580, GPUs from Turing (7.5) to Blackwell
  pypi    PyPI's default build (for torch 2.13 on Linux x86-64: CUDA 13.0)
INDEX, when given, replaces the index URL.

Sources: the PyTorch 2.13 release matrix (CUDA 12.6 and 13.0 stable, 13.2 experimental;
architectures per CUDA version) and NVIDIA's CUDA minor-version compatibility table
(CUDA 12.x needs driver >= 525, CUDA 13.x needs driver >= 580).
"""

from __future__ import annotations

import platform
import subprocess
import sys
import urllib.error
import urllib.request

BASE = "https://download.pytorch.org/whl/"
PROBE_TIMEOUT_S = 5.0
# variant → (minimum driver major version, minimum compute capability); cpu needs neither
CUDA = {"cu126": (525, 5.0), "cu130": (580, 7.5), "cu132": (580, 7.5)}
VARIANTS = ("auto", "cpu", *CUDA, "pypi")


def gpu_facts(run=subprocess.run) -> tuple[int, float | None] | None:
    """(driver major version, lowest compute capability or None) from ``nvidia-smi``;
    None when there is no NVIDIA driver."""
    try:
        out = run(["nvidia-smi", "--query-gpu=driver_version,compute_cap",
                   "--format=csv,noheader"], capture_output=True, text=True, timeout=20)  # fmt: skip
        if out.returncode != 0:  # an older nvidia-smi without compute_cap
            out = run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                      capture_output=True, text=True, timeout=20)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    rows = [
        [f.strip() for f in line.split(",")] for line in out.stdout.splitlines() if line.strip()
    ]
    if out.returncode != 0 or not rows:
        return None
    try:
        driver = min(int(r[0].split(".")[0]) for r in rows)
        caps = [float(r[1]) for r in rows if len(r) > 1]
    except ValueError:
        return None
    return driver, (min(caps) if caps else None)


def choose(variant: str, facts: tuple[int, float | None] | None, system: str) -> tuple[str, str]:
    """(variant, reason) for ``variant`` given the GPU ``facts`` and the OS ``system``."""
    if variant != "auto":
        return variant, "chosen with TORCH_VARIANT"
    if system != "Linux":
        return "pypi", f"{system}: PyPI's build (no CUDA builds for this system)"
    if facts is None:
        return "cpu", "no NVIDIA driver found (nvidia-smi)"
    driver, cap = facts
    for name in ("cu130", "cu126"):
        need_driver, need_cap = CUDA[name]
        if driver >= need_driver and (cap is None or cap >= need_cap):
            gpu = f", compute capability {cap}" if cap is not None else ""
            return name, f"NVIDIA driver {driver}{gpu}"
    return "cpu", f"NVIDIA driver {driver} is older than 525, which CUDA 12 builds need"


def pip_args(variant: str, index: str = "") -> list[str]:
    """pip arguments that select ``variant`` (``index`` overrides the URL)."""
    if index:
        return ["--index-url", index]
    if variant == "pypi":
        return []
    return ["--index-url", BASE + variant]


def unreachable(url: str, timeout: float = PROBE_TIMEOUT_S, opener=urllib.request.urlopen):
    """Why the package index at ``url`` cannot be reached (one request for its ``torch/``
    page, ``timeout`` seconds), or None when it answers."""
    page = url.rstrip("/") + "/torch/"
    try:
        with opener(page, timeout=timeout) as response:
            response.read(1)
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return str(reason) or type(exc).__name__
    return None


def main(argv: list[str], opener=urllib.request.urlopen) -> int:
    variant = argv[0] if argv else "auto"
    index = argv[1] if len(argv) > 1 else ""
    if variant not in VARIANTS:
        print(f"TORCH_VARIANT={variant!r} is not one of {', '.join(VARIANTS)}", file=sys.stderr)
        return 2
    facts = gpu_facts() if variant == "auto" and platform.system() == "Linux" else None
    chosen, reason = choose(variant, facts, platform.system())
    args = pip_args(chosen, index)
    if args:
        why = unreachable(args[1], opener=opener)
        if why is not None and index:
            print(f"TORCH_INDEX={index} cannot be reached ({why}); check the URL, or leave "
                  "TORCH_INDEX unset", file=sys.stderr)  # fmt: skip
            return 2
        if why is not None:
            print(f"torch build: {args[1]} cannot be reached ({why}); installing "
                  f"{chosen!r} from the default index instead (PyPI, or your pip "
                  "configuration); `make torch-info` shows what it gave", file=sys.stderr)  # fmt: skip
            print("")
            return 0
    where = args[1] if args else "PyPI"
    print(f"torch build: {chosen} from {where} ({reason})", file=sys.stderr)
    print(" ".join(args))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
