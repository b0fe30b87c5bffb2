"""The ``evalib`` command's options: value types, shared option groups, help and epilogs.

Each value type turns an option's text into its value or fails with one line that says
what the option must be (argparse prefixes the option's name: ``argument --lr: must be
a finite number > 0, got '-1'``).
"""

from __future__ import annotations

import argparse
import math

from evalib.errors import EvalibError


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors on one line (``evalib: error: argument --lr: …``)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"evalib: error: {message} (see {self.prog} --help)\n")


# ------------------------------------------------------------------ option value types


def _checked(name: str, convert, ok, what: str, out_of_range: str | None = None):
    """Option type ``name``: ``convert(text)`` (``int`` or ``float``), kept when ``ok(value)``.

    Otherwise the error is ``must be <what>, got '<text>'`` (not a number) or ``must be
    <out_of_range or what>, got <value>`` (a number out of range; a float is shown as
    typed)."""

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
        if not ok(value):
            got = value if convert is int else text
            raise argparse.ArgumentTypeError(f"must be {out_of_range or what}, got {got}")
        return value

    parse.__name__ = name
    return parse


def _int_at_least(minimum: int):
    return _checked(f"integer ≥ {minimum}", int, lambda v: v >= minimum, f"an integer ≥ {minimum}")


_seed = _checked(
    "_seed", int, lambda v: 0 <= v < 2**63, "an integer seed ≥ 0", "an integer seed in [0, 2^63)"
)
_positive = _checked(
    "_positive", float, lambda v: math.isfinite(v) and v > 0, "a finite number > 0"
)
_non_negative = _checked(
    "_non_negative", float, lambda v: math.isfinite(v) and v >= 0, "a finite number ≥ 0"
)
_rate = _checked("_rate", float, lambda v: 0.0 < v <= 1.0, "a fraction in (0, 1]")  # no NaN

_count = _int_at_least(1)
MAX_WIDTH = 16.0  # a 16× ResNet-18 has ~3 billion weights (11 GB in float32): a typo, not a plan


def _width(text: str) -> float:
    value = _positive(text)
    if value > MAX_WIDTH:
        raise argparse.ArgumentTypeError(
            f"must be a width multiplier in (0, {MAX_WIDTH:g}], got {text}"
        )
    return value


def _path(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must be a path, got an empty string")
    return text


#: options that name something evalib writes: their parent folder must exist (checked by
#: :func:`check_output_parents` before any command runs; evalib creates no parent folders)
OUTPUT_OPTIONS = {
    "out": "--out",
    "out_dir": "--out-dir",
    "checkpoint_dir": "--checkpoint-dir",
    "results_dir": "--results-dir",
    "scratch": "--scratch",
}


def check_output_parents(args: argparse.Namespace) -> None:
    """One-line EvalibError when an output option's parent folder is missing or is a file."""
    from evalib.io import check_parent

    for dest, flag in OUTPUT_OPTIONS.items():
        value = getattr(args, dest, None)
        if value is not None:
            check_parent(value, flag)


def check_data_root(args: argparse.Namespace) -> None:
    """A ``--data-root`` that was given must be an existing folder (a typo would otherwise
    pass unnoticed when every job is cached, or download into a new folder)."""
    from pathlib import Path

    value = getattr(args, "data_root", None)
    if value is None:
        return
    root = Path(value).expanduser()
    if not root.exists():
        raise EvalibError(
            f"--data-root {value}: no such folder; create it, or fetch the files into it with "
            f"`evalib download DATASET --data-root {value}`"
        )
    if not root.is_dir():
        raise EvalibError(f"--data-root {value} is a file, not a folder")


def _flagged(flag: str, fn, *args, **kwargs):
    """``fn(*args)``, its EvalibError prefixed with the CLI ``flag`` that gave the value."""
    try:
        return fn(*args, **kwargs)
    except EvalibError as exc:
        raise EvalibError(f"{flag}: {exc.cli_message}") from None


def _choices(action: argparse.Action, names) -> argparse.Action:
    """Let ``action``'s help list ``names()`` (imported only when help is shown)."""
    action.lazy_choices = names
    return action


def _dataset_names() -> list[str]:
    from evalib.data import DATASETS

    return list(DATASETS)


def _method_names() -> list[str]:
    from evalib.scores import METHODS

    return sorted(METHODS)


def _model_names() -> list[str]:
    from evalib.models import MODEL_NAMES

    return list(MODEL_NAMES)


def _profile_names() -> list[str]:
    from evalib.runs.config import PROFILES

    return list(PROFILES)


EPILOGS = {
    "evalib": """examples:
  evalib info                                   datasets and where data is looked for
  evalib download organsmnist bloodmnist        fetch files for an offline machine
  evalib profiles cpu                           what the cpu profile runs
  evalib train --dataset bloodmnist --model resnet18 --epochs 200 --out dyn
  evalib select --dynamics dyn --method eva -p early=0,10 -p late=100,110 \\
      --rate 0.05 0.1 --out-dir coresets/
  evalib grid --profile cpu --dataset organamnist --what table1 --dry-run

`evalib COMMAND --help` shows each command's options and examples.""",
    "info": """examples:
  evalib info
  evalib info --data-root /data/medmnist --json""",
    "download": """examples:
  evalib download organsmnist                   into $EVALIB_DATA_ROOT (else ~/.medmnist)
  evalib download OrganAMNIST bloodmnist --data-root /data/medmnist
  evalib download --all --data-root /data/medmnist

An interrupted download resumes from <flag>.npz.part on the next run.""",
    "profiles": """examples:
  evalib profiles                               every profile in one line each
  evalib profiles cpu                           model, recipe, seeds, rates, windows, data
  evalib profiles paper --json""",
    "train": """examples:
  evalib train --dataset organamnist --out dyn.npz            the official recipe (GPU)
  evalib train --dataset BloodMNIST --model convnet --width 0.25 --epochs 20 \\
      --batch-size 128 --amp bf16 --subset 2000 --out dyn.npz  a CPU-sized run
  evalib train --dataset organamnist --checkpoint-dir ckpt --out dyn   resumable""",
    "score": """examples:
  evalib score --dynamics dyn.npz --method EVA -p early=0,10 -p late=100,110 --out eva.csv
  evalib score --dynamics dyn.npz --method forgetting --out forgetting.npy""",
    "select": """examples:
  evalib select --dynamics dyn.npz --method eva -p early=0,10 -p late=100,110 \\
      --rate 0.02 0.05 0.1 --out-dir coresets/
  evalib select --dynamics dyn.npz --method random --rate 0.1 --seed 1 --out-dir coresets/
  evalib select --dynamics dyn.npz --method ccs --rate 0.1 --class-balanced \\
      --dataset organamnist --out-dir coresets/      checks the dynamics against the data""",
    "grid": """examples:
  evalib grid --profile cpu --dataset organamnist bloodmnist --what table1 --dry-run
  OMP_NUM_THREADS=1 evalib grid --profile cpu --dataset organsmnist \\
      --what tuning table1 ablation --executor process --workers 2""",
    "evaluate": """examples:
  evalib select --dynamics dyn.npz --method el2n --rate 0.05 --out-dir coresets/
  evalib evaluate --dataset organamnist --indices coresets/el2n-0.05.npy --profile cpu""",
    "rerun": """examples:
  evalib rerun results/cpu/jobs/0123456789abcdef.json""",
    "notebook": """examples:
  evalib notebook 02_benchmark out.ipynb -p profile smoke -p dataset breastmnist
  evalib notebook notebooks/02_benchmark.ipynb out.ipynb -p profile paper \\
      -p dataset organsmnist -p data_root /data/medmnist -y "seeds: [0, 1]"

Every parameter is checked against the notebook's parameters cell (name and type) and
evalib's rules before a kernel starts; then papermill runs it in the notebook's folder.""",
    "methods": """examples:
  evalib methods""",
}


def _add_data_root(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-root",
        type=_path,
        help="existing folder with <flag>.npz (default: $EVALIB_DATA_ROOT, else ~/.medmnist)",
    )


def _add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:1 or mps (default: auto)")


def _add_method_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dynamics", type=_path, required=True, help="file or folder written by evalib train"
    )
    _choices(p.add_argument("--method", required=True,
                            help="scorer (case-insensitive; `evalib methods` shows defaults)"),
             _method_names)  # fmt: skip
    p.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="method parameter, e.g. -p early=0,10 -p late=100,110 -p variant=official",
    )
    _choices(p.add_argument("--dataset", help="check the dynamics against this dataset's "
                            "training split (case-insensitive)"), _dataset_names)  # fmt: skip
    _add_data_root(p)
    p.add_argument("--skip-md5", action="store_true", help="accept a file that is not official")


def _add_data_args(p: argparse.ArgumentParser) -> None:
    _choices(p.add_argument("--dataset", required=True, help="MedMNIST flag (case-insensitive)"),
             _dataset_names)  # fmt: skip
    _add_data_root(p)
    p.add_argument("--subset", type=_count, default=None, help="train on a stratified subset of N")
    p.add_argument("--no-download", action="store_true", help="fail instead of downloading")
    p.add_argument("--skip-md5", action="store_true", help="accept a file that is not official")
