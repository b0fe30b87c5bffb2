"""The ``evalib`` command: ``info``, ``download``, ``profiles``, ``train``, ``score``,
``select``, ``grid``, ``rerun``, ``methods``.

Every user-fixable problem ends in one line on stderr and exit status 2; no traceback.
Names (datasets, methods, profiles, models) are matched ignoring case, with suggestions
for near misses; every option's help shows its default and its valid choices.
Every option is checked before any work starts; no output path that evalib did not write
is ever replaced (see :mod:`evalib.io`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from evalib.errors import EvalibError

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for `cmd | head`


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed on one line
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return int(args.func(args) or 0)
    except EvalibError as exc:
        print(f"evalib: error: {exc.cli_message}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`evalib info | head`): stop quietly
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print("evalib: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("evalib: error: out of memory", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # torch reports a failed allocation as a RuntimeError
        text = str(exc)
        if "out of memory" not in text.lower() and "can't allocate memory" not in text:
            raise
        print("evalib: error: out of memory while training; use a smaller --batch-size, "
              "--width or --subset", file=sys.stderr)  # fmt: skip
        return 2
    except OSError as exc:  # I/O problems not foreseen above still get one line
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        print(f"evalib: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the flush at exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors on one line (``evalib: error: argument --lr: …``)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"evalib: error: {message} (see {self.prog} --help)\n")


# ------------------------------------------------------------------ option value types


def _int_at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be an integer ≥ {minimum}, got {text!r}"
            ) from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer ≥ {minimum}, got {value}")
        return value

    parse.__name__ = f"integer ≥ {minimum}"
    return parse


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer seed ≥ 0, got {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be an integer seed in [0, 2^63), got {value}")
    return value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a finite number ≥ 0, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number ≥ 0, got {text}")
    return value


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a fraction in (0, 1], got {text!r}") from None
    if not 0.0 < value <= 1.0:  # also rejects NaN
        raise argparse.ArgumentTypeError(f"must be a fraction in (0, 1], got {text}")
    return value


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


def _flagged(flag: str, fn, *args, **kwargs):
    """``fn(*args)``, its EvalibError prefixed with the CLI ``flag`` that gave the value."""
    try:
        return fn(*args, **kwargs)
    except EvalibError as exc:
        raise EvalibError(f"{flag}: {exc.cli_message}") from None


def build_parser() -> argparse.ArgumentParser:
    from evalib import __version__

    parser = _Parser(
        prog="evalib",
        description="Data pruning on MedMNIST from recorded training dynamics.",
        epilog=EPILOGS["evalib"],
        formatter_class=HelpFormatter,
    )
    parser.add_argument("-V", "--version", action="version", version=f"evalib {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help[:1].upper() + help[1:] + ".",
                              epilog=EPILOGS.get(name), formatter_class=HelpFormatter)  # fmt: skip

    p = command("info", "datasets known, where data is looked for, what is present")
    p.add_argument(
        "--data-root", type=_path, help="folder with <flag>.npz (default: $EVALIB_DATA_ROOT)"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_info)

    p = command("download", "fetch MedMNIST files for offline use (MD5-checked, resumable)")
    _choices(p.add_argument("datasets", nargs="*", metavar="DATASET",
                            help="MedMNIST flags (case-insensitive)"), _dataset_names)  # fmt: skip
    p.add_argument("--all", action="store_true", help="every dataset evalib supports")
    p.add_argument("--data-root", "--root", dest="data_root", metavar="DIR", type=_path,
                   help="where to put <flag>.npz (default: $EVALIB_DATA_ROOT, else ~/.medmnist)")  # fmt: skip
    p.add_argument("--mirror", metavar="URL",
                   help="fetch from URL with {flag} in it (default: the official record)")  # fmt: skip
    p.add_argument("--retries", type=_int_at_least(0), default=3,
                   help="retries after a dropped connection")  # fmt: skip
    p.add_argument("--timeout", type=_positive, default=60.0, help="seconds without data per try")
    p.add_argument("--force", action="store_true",
                   help="replace a present file whose MD5 is not the official one")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_download)

    p = command("profiles", "what a profile (the scale of every notebook) holds")
    _choices(p.add_argument("name", nargs="?", help="a profile; all of them when omitted"),
             _profile_names)  # fmt: skip
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_profiles)

    p = command("train", "train a surrogate and save its dynamics")
    _add_data_args(p)
    _choices(p.add_argument("--model", default="resnet18", help="network (case-insensitive)"),
             _model_names)  # fmt: skip
    p.add_argument("--width", type=_width, default=1.0,
                   help=f"channel width multiplier, in (0, {MAX_WIDTH:g}]")  # fmt: skip
    p.add_argument("--epochs", type=_count, default=200, help="training epochs (≥ 1)")
    p.add_argument("--iterations", type=_count, default=None,
                   help="optimiser steps instead of epochs (≥ 1)")  # fmt: skip
    p.add_argument("--batch-size", type=_count, default=256, help="samples per optimiser step")
    p.add_argument("--lr", type=_positive, default=0.1,
                   help="peak learning rate (cosine schedule), finite and > 0")  # fmt: skip
    p.add_argument("--amp", choices=("none", "bf16", "fp16"), default="none",
                   help="mixed precision (fp16 needs CUDA)")  # fmt: skip
    p.add_argument("--channels-last", action="store_true", help="channels-last memory format")
    p.add_argument("--augment", choices=("none", "crop", "crop_flip"), default="none",
                   help="training augmentation (flips swap left/right organs)")  # fmt: skip
    p.add_argument("--eval-every", type=_count, default=1, help="epochs between val/test checks")
    p.add_argument(
        "--no-eval-pass", action="store_true", help="skip the final eval-mode pass (Entropy)"
    )
    p.add_argument("--seed", type=_seed, default=0, help="batch order seed and model init")
    p.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:1 or mps (default: auto)")
    p.add_argument("--threads", type=_count, default=None, help="torch CPU threads (≥ 1)")
    p.add_argument("--checkpoint-dir", type=_path, default=None,
                   help="resume from / save state here (a new, empty or evalib folder)")  # fmt: skip
    p.add_argument("--checkpoint-every", type=_non_negative, default=None, metavar="SECONDS",
                   help="seconds between checkpoints; 0: every epoch "
                        "(default: $EVALIB_CHECKPOINT_EVERY or 300); always after the last")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--out", type=_path, required=True,
                   help="dynamics file (.npz) or folder (memory-mapped); never replaces a "
                   "file or folder that evalib did not write")  # fmt: skip
    p.set_defaults(func=cmd_train)

    p = command("score", "score every training sample from saved dynamics")
    _add_method_args(p)
    p.add_argument("--out", type=_path, required=True, help="scores file (.csv or .npy)")
    p.set_defaults(func=cmd_score)

    p = command("select", "choose coresets at one or more rates")
    _add_method_args(p)
    p.add_argument("--rate", type=_rate, nargs="+", required=True,
                   help="distinct fractions in (0, 1]")  # fmt: skip
    p.add_argument("--seed", type=_seed, default=0, help="seed of random and CCS sampling")
    p.add_argument("--class-balanced", action="store_true", help="per-class quotas")
    p.add_argument("--rounding", choices=("ceil", "floor"), default="ceil", help="M = ⌈αN⌉ or ⌊αN⌋")
    p.add_argument("--out-dir", type=_path, required=True,
                   help="writes <method>-<rate>.npy/.csv and scores (a new, empty or evalib "
                   "folder)")  # fmt: skip
    p.set_defaults(func=cmd_select)

    p = command("grid", "run (or resume) the jobs of the studies (evalib.grids)")
    _choices(p.add_argument("--profile", default="cpu", help="scale (case-insensitive)"),
             _profile_names)  # fmt: skip
    _choices(p.add_argument("--dataset", "--datasets", dest="datasets", nargs="+",
                            default=["organamnist"], metavar="DATASET",
                            help="MedMNIST flags (case-insensitive)"), _dataset_names)  # fmt: skip
    p.add_argument("--what", nargs="+", default=["tuning", "table1"], metavar="STUDY",
                   choices=("tuning", "table1", "ablation", "dual", "cross"),
                   help="studies of evalib.grids; tuned arms are added once tuning is done")  # fmt: skip
    p.add_argument("--results-dir", type=_path, default=None,
                   help="job results: <dir>/<profile>/jobs (default: $EVALIB_RESULTS_DIR, "
                   "else the checkout's results/)")  # fmt: skip
    p.add_argument("--scratch", "--scratch-dir", dest="scratch", type=_path, default=None,
                   help="dynamics and checkpoints (default: $EVALIB_CACHE)")  # fmt: skip
    p.add_argument(
        "--data-root", type=_path, help="folder with <flag>.npz (default: $EVALIB_DATA_ROOT)"
    )
    p.add_argument("--executor", default="process", choices=("serial", "process", "ray"),
                   help="where jobs run")  # fmt: skip
    p.add_argument("--workers", type=_count, default=2, help="parallel jobs (local executors)")
    p.add_argument("--threads", type=_count, default=1, help="torch threads per job")
    p.add_argument("--jobs-per-device", type=_count, default=None,
                   help="jobs sharing one GPU (default: chosen from each job's size)")  # fmt: skip
    p.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:1 or mps (default: auto)")
    p.add_argument("--ray-address", default=None, help='existing Ray cluster, e.g. "auto"')
    p.add_argument("--dry-run", action="store_true", help="count the jobs, run nothing")
    p.set_defaults(func=cmd_grid)

    p = sub.add_parser(
        "evaluate",
        help="train your own coreset under a profile's protocol, beside Random and EVA",
        formatter_class=HelpFormatter,
        description="Train a coreset you chose (training-set indices in a .npy, .csv or .txt "
        "file) with the profile's model, recipe and seeds; report the clean (test, final "
        "epoch) and the paper's (validation, best epoch) protocols beside Random of the same "
        "size and the committed Table 1 rows at that size.",
        epilog=EPILOGS["evaluate"],
    )
    _choices(p.add_argument("--dataset", required=True, help="MedMNIST flag (case-insensitive)"),
             _dataset_names)  # fmt: skip
    p.add_argument("--indices", type=_path, required=True, help="file of training-set indices")
    _choices(p.add_argument("--profile", default="cpu", help="scale (case-insensitive)"),
             _profile_names)  # fmt: skip
    p.add_argument("--seeds", type=_seed, nargs="+", default=None, help="default: the profile's")
    p.add_argument("--results-dir", type=_path, default=None,
                   help="<dir>/<profile> holds results (default: $EVALIB_RESULTS_DIR, else "
                   "the checkout's results/)")  # fmt: skip
    p.add_argument("--scratch", "--scratch-dir", dest="scratch", type=_path, default=None,
                   help="dynamics and checkpoints (default: $EVALIB_CACHE)")  # fmt: skip
    p.add_argument(
        "--data-root", type=_path, help="folder with <flag>.npz (default: $EVALIB_DATA_ROOT)"
    )
    p.add_argument("--executor", default="serial", choices=("serial", "process"),
                   help="where jobs run")  # fmt: skip
    p.add_argument("--workers", type=_count, default=2, help="parallel jobs (process executor)")
    p.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:1 or mps (default: auto)")
    p.set_defaults(func=cmd_evaluate)

    p = command("rerun", "retrain a stored job from its config and compare")
    p.add_argument("result", type=_path, help="a results/<profile>/jobs/<key>.json file")
    p.add_argument(
        "--data-root", type=_path, help="folder with <flag>.npz (default: $EVALIB_DATA_ROOT)"
    )
    p.add_argument("--scratch", "--scratch-dir", dest="scratch", type=_path, default=None,
                   help="folder in which a temporary folder for the rerun is made "
                   "(created if missing; default: the system's temp folder)")  # fmt: skip
    p.set_defaults(func=cmd_rerun)

    p = command("methods", "list the scoring methods and their defaults")
    p.set_defaults(func=cmd_methods)
    return parser


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Help that shows each option's default (when it has one) and its valid choices, and
    keeps the line breaks of the usage examples in the epilogs."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        names = getattr(action, "lazy_choices", None)
        if names is None and action.choices is not None and action.metavar is not None:
            names = lambda: list(action.choices)  # noqa: E731 - the metavar hides them
        if names is not None:  # computed when help is shown, so that parsing stays fast
            text += "; one of: " + ", ".join(names()).replace("%", "%%")
        shown = action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE)
        if "%(default)" in text or "default:" in text or not shown:
            return text
        default = action.default
        if default is None or default is False or default == argparse.SUPPRESS or default == []:
            return text  # nothing to show (0 and 0.0 are shown)
        if isinstance(default, list | tuple):
            default = " ".join(str(d) for d in default)
        return f"{text} (default: {str(default).replace('%', '%%')})"


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
    from evalib.experiments import PROFILES

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
    "methods": """examples:
  evalib methods""",
}


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
    p.add_argument(
        "--data-root", type=_path, help="folder with <flag>.npz (default: $EVALIB_DATA_ROOT)"
    )
    p.add_argument("--skip-md5", action="store_true", help="accept a file that is not official")


def method_name(name: str) -> str:
    """The registry's spelling of ``name`` (``EVA`` → ``eva``); one-line error otherwise."""
    from evalib.names import canonical
    from evalib.scores import METHODS

    return canonical(name, METHODS, "method")


def load_dynamics_checked(args: argparse.Namespace):
    """Dynamics from --dynamics, checked against --dataset when given and checked to be
    scorable (finite values, every sample seen in some epoch)."""
    from evalib.dynamics import check_matches, check_scorable, load

    dyn = _flagged("--dynamics", load, args.dynamics)
    if args.dataset:
        from evalib.data import load as load_data

        ds = load_data(args.dataset, args.data_root, allow_download=False,
                       check_md5=not args.skip_md5)  # fmt: skip
        check_matches(dyn, ds.train.labels.numpy(), ds.info.flag)
    check_scorable(dyn, f"the dynamics in {args.dynamics}")
    return dyn


def parse_params(items: Sequence[str], method: str | None = None, extra_types=None) -> dict:
    """``["early=0,10", "variant=official"]`` → ``{"early": (0, 10), "variant": "official"}``.

    With ``method``, each value is parsed by the type the method declares for it (see
    :meth:`evalib.scores.MethodInfo.param_types`; ``extra_types`` adds names such as CCS's
    sampling options), and a name it does not take, or a name given twice, is an error."""
    from evalib.scores.registry import _scalar, get_method, parse_param

    declared = None
    if method is not None:
        declared = {**get_method(method).param_types(), **(extra_types or {})}
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise EvalibError(f"-p {item!r} is not KEY=VALUE")
        if key in out:
            raise EvalibError(f"-p {key} is given twice; give each parameter once")
        if declared is None:
            parts = [_scalar(v) for v in value.split(",")]
            out[key] = tuple(parts) if len(parts) > 1 else parts[0]
            continue
        if key not in declared:
            raise EvalibError(
                f"-p {item}: method {method!r} has no parameter {key} "
                f"(accepts: {', '.join(declared) or 'none'})"
            )
        out[key] = parse_param(key, value, declared[key])
    return out


def _scores_checked(method: str, scores, n: int):
    """Stated policy for samples without a finite score: none at all is an error; some
    are ranked last (never chosen before a scored sample), with a one-line warning."""
    import numpy as np

    from evalib.io import warn

    bad = int(np.count_nonzero(~np.isfinite(scores)))
    if bad == n:
        raise EvalibError(
            f"method {method!r} gave no finite score for any of the {n} samples "
            "(the epochs it uses hold no usable entry); check its window parameters"
        )
    if bad:
        warn(
            f"{bad} of {n} samples have no finite {method} score (unseen in every epoch it "
            "uses, or too few such epochs); they rank last"
        )
    return scores


def cmd_grid(args: argparse.Namespace) -> int:
    from evalib import experiments as ex
    from evalib import grids
    from evalib.data import dataset_info
    from evalib.io import warn
    from evalib.train import device_warning, pick_device

    profile = _flagged("--profile", _profile, args.profile)
    flags = [_flagged("--dataset", dataset_info, d).flag for d in args.datasets]
    dev = _flagged("--device", pick_device, args.device)
    root = ex.default_results_dir() if args.results_dir is None else Path(args.results_dir)
    cache = ex.Cache.at(root / profile.name, args.scratch, what=("--results-dir", "--scratch"))
    order = {name: i for i, name in enumerate(grids.STUDIES)}
    studies = sorted(args.what, key=order.__getitem__)

    def planned() -> list:  # tuning first, then seed by seed; grows as tuning completes
        jobs = [p.job for w in studies for d in flags for p in grids.study(w, profile, d, cache)]
        return sorted(dict.fromkeys(jobs), key=lambda j: (j.seed != profile.tuning_seed, j.seed))

    jobs = planned()
    done, missing = ex.collect(jobs, cache)
    print(f"{len(jobs)} jobs: {len(done)} in {cache.results}, {len(missing)} to run")
    if args.dry_run or not missing:
        return 0
    if (note := device_warning(args.device, dev)) is not None:
        warn(note)
    if profile.name == "paper" and dev.type == "cpu":
        warn(ex.paper_cpu_warning(profile, flags[0]))
    executor = ex.make_executor(
        args.executor, args.workers, args.threads, args.ray_address, args.jobs_per_device
    )
    while missing:
        ex.run_jobs(missing, cache, args.data_root, executor, args.device, threads=args.threads)
        jobs = planned()
        missing = ex.collect(jobs, cache)[1]
        if missing:
            print(f"{len(missing)} more jobs now that tuning is done")
    print(f"done: {len(jobs)} results in {cache.results / 'jobs'}")
    return 0


def _profile(name: str):
    """The profile called ``name`` (any case); one-line error with suggestions otherwise."""
    from evalib import experiments as ex
    from evalib.names import canonical

    return ex.get_profile(canonical(name, ex.PROFILES, "profile"))


def read_indices(path: str, n_total: int):
    """Training-set indices from a .npy, or a .csv/.txt of integers (one per line or
    comma-separated; a non-numeric header line is skipped); checked: integers, in range,
    no duplicates, not empty."""
    import numpy as np

    p = Path(path)
    try:
        if p.suffix == ".npy":
            values = np.load(p, allow_pickle=False)
        else:
            text = p.read_text().replace(",", " ").split()
            if text and not text[0].lstrip("-").isdigit():
                text = text[1:]
            values = np.array([float(t) for t in text])
    except FileNotFoundError:
        raise EvalibError(f"--indices: no such file {path}") from None
    except PermissionError:
        raise EvalibError(f"--indices: permission denied reading {path}") from None
    except IsADirectoryError:
        raise EvalibError(f"--indices: {path} is a folder; name a file") from None
    except (OSError, ValueError) as exc:
        raise EvalibError(f"--indices: cannot read integers from {path} ({exc})") from None
    values = np.asarray(values).ravel()
    if values.size == 0:
        raise EvalibError(f"--indices: {path} holds no indices")
    if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
        raise EvalibError(f"--indices: {path} must hold whole numbers")
    ids = values.astype(np.int64)
    if ids.min() < 0 or ids.max() >= n_total:
        raise EvalibError(
            f"--indices: values must lie in [0, {n_total}) for this training split, "
            f"got {ids.min()}..{ids.max()}"
        )
    if len(np.unique(ids)) != len(ids):
        raise EvalibError(f"--indices: {path} repeats {len(ids) - len(np.unique(ids))} indices")
    return ids


def cmd_evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from evalib import experiments as ex
    from evalib import grids, stats
    from evalib.data import dataset_info
    from evalib.io import warn
    from evalib.train import device_warning, pick_device

    profile = _flagged("--profile", _profile, args.profile)
    info = _flagged("--dataset", dataset_info, args.dataset)
    if args.seeds is not None and len(set(args.seeds)) != len(args.seeds):
        raise EvalibError("--seeds repeats a seed; give each seed once")
    dev = _flagged("--device", pick_device, args.device)
    ids = read_indices(args.indices, info.n_samples[0])
    root = ex.default_results_dir() if args.results_dir is None else Path(args.results_dir)
    cache = ex.Cache.at(root / profile.name, args.scratch, what=("--results-dir", "--scratch"))
    train_ids = ex.load_data(profile.data_spec(info.flag), args.data_root)[2]
    outside = np.setdiff1d(ids, train_ids)
    if len(outside):
        raise EvalibError(
            f"--indices: {len(outside)} indices (e.g. {outside[0]}) are not in profile "
            f"{profile.name}'s training split of {info.flag} ({len(train_ids)} samples)"
        )
    planned = grids.given_coreset(profile, info.flag, cache, ids, args.seeds)
    if (note := device_warning(args.device, dev)) is not None:
        warn(note)
    if profile.name == "paper" and dev.type == "cpu":
        warn(ex.paper_cpu_warning(profile, info.flag))
    executor = ex.make_executor(args.executor, args.workers)
    ex.run_jobs([p.job for p in planned], cache, args.data_root, executor, args.device)
    table, _ = grids.labelled_results(planned, cache)
    others = grids.same_size_rows(profile, info.flag, cache, len(ids))
    if not others.empty:
        others = others[others["arm"] != "random"]
    both = pd_concat(table, others)
    print(f"{info.flag}: your coreset of {len(ids)} samples ({len(ids) / len(train_ids):.2%}), "
          f"profile {profile.name}, seeds {sorted(set(table['seed']))}")  # fmt: skip
    for metric, name in (("clean_test_acc", "clean (test, final epoch)"),
                         ("paper_val_acc", "paper (validation, best epoch)")):  # fmt: skip
        summary = stats.summarize(both, metric, by=("budget", "arm"))
        print(f"\n{name}: mean ± 95 % half-width over seeds, %")
        for row in summary.itertuples():
            print(
                f"  {row.budget:<7} {row.arm:<14} {row.mean:6.2f} ± {row.ci95:5.2f}  (n={row.count})"
            )
    if others.empty:
        print("\nno committed Table 1 rate gives a coreset of this size; Random of the same "
              "size was trained instead")  # fmt: skip
    return 0


def pd_concat(*frames):
    import pandas as pd

    return pd.concat([f for f in frames if not f.empty], ignore_index=True)


def cmd_rerun(args: argparse.Namespace) -> int:
    import tempfile

    from evalib.experiments import rerun, stored_job

    stored_job(args.result)  # a bad record fails here, before any folder is made
    scratch = None
    if args.scratch is not None:
        scratch = Path(args.scratch).expanduser()
        if scratch.exists() and not scratch.is_dir():
            raise EvalibError(f"--scratch {scratch} is a file; name a folder")
        try:
            scratch.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EvalibError(f"--scratch {scratch}: cannot create it ({exc.strerror})") from exc
    try:
        tmp_dir = tempfile.TemporaryDirectory(prefix="evalib-rerun-", dir=scratch)
    except OSError as exc:
        raise EvalibError(f"--scratch {scratch}: cannot write there ({exc.strerror})") from exc
    with tmp_dir as tmp:
        compared = rerun(args.result, tmp, args.data_root)
    same = all(a == b for a, b in compared.values())
    for field, (stored, new) in compared.items():
        print(
            f"{field:<16} stored {stored!s:<20} rerun {new!s:<20} {'same' if stored == new else 'DIFFERENT'}"
        )
    print("reproduced exactly" if same else "NOT reproduced")
    return 0 if same else 1


def cmd_methods(args: argparse.Namespace) -> int:
    from evalib.scores import METHODS

    for name, info in METHODS.items():
        defaults = ", ".join(f"{k}={v}" for k, v in info.defaults.items())
        print(f"{name:<24} keep {info.direction:<8} {info.description}  [{defaults}]")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from evalib.io import check_output_file
    from evalib.scores import compute_scores
    from evalib.select import check_output_name, is_scores_file, save_scores

    out = Path(args.out)
    args.method = method_name(args.method)
    check_output_name(out, "--out")
    check_output_file(out, "scores", is_scores_file, what="--out")
    params = parse_params(args.param, args.method)
    dyn = load_dynamics_checked(args)
    scores = _scores_checked(args.method, compute_scores(args.method, dyn, **params),
                             dyn.num_samples)  # fmt: skip
    save_scores(scores, dyn.sample_ids, out)
    print(f"wrote {out}: {args.method} scores of {len(scores)} samples")
    return 0


def cmd_select(args: argparse.Namespace) -> int:
    import numpy as np

    from evalib.io import check_output_dir, claim_dir
    from evalib.scores import compute_scores
    from evalib.select import budget, is_coresets_dir, save_scores, save_selection, select

    out_dir = Path(args.out_dir)
    args.method = method_name(args.method)
    stems = {}
    for rate in args.rate:  # one file per rate: a rate given twice would be written twice
        stem = f"{args.method}-{rate:g}"
        if stem in stems:
            raise EvalibError(
                f"--rate {stems[stem]:g} is given twice"
                + (f" (as {stems[stem]!r} and {rate!r})" if stems[stem] != rate else "")
                + "; give each rate once"
            )
        stems[stem] = rate
    check_output_dir(out_dir, "coresets", legacy=is_coresets_dir, what="--out-dir")
    ccs = {"beta": float, "n_strata": int} if args.method == "ccs" else {}
    params = parse_params(args.param, args.method, ccs)
    dyn = load_dynamics_checked(args)
    for rate in args.rate:  # validate every rate before computing anything
        _flagged(f"--rate {rate:g}", budget, dyn.num_samples, rate, args.rounding)
    if args.method == "random":
        params.setdefault("seed", args.seed)
    sampling = {k: params.pop(k) for k in ("beta", "n_strata") if k in params}  # CCS options
    scores = _scores_checked(args.method, compute_scores(args.method, dyn, **params),
                             dyn.num_samples)  # fmt: skip
    selections = [  # all computed before anything is written: no partial output
        select(
            args.method,
            scores,
            rate,
            seed=args.seed,
            class_balanced=args.class_balanced,
            rounding=args.rounding,
            labels=dyn.labels,
            sample_ids=dyn.sample_ids,
            **sampling,
        )
        for rate in args.rate
    ]
    claim_dir(out_dir, "coresets", legacy=is_coresets_dir, what="--out-dir")
    written = [save_scores(scores, dyn.sample_ids, out_dir / f"{args.method}-scores.csv")]
    for sel in selections:
        stem = f"{args.method}-{sel.rate:g}"
        written += [save_selection(sel, out_dir / f"{stem}.{ext}") for ext in ("npy", "csv")]
        per_class = np.bincount(dyn.labels[sel.indices], minlength=dyn.num_classes).tolist()
        print(f"{args.method} at {sel.rate:.0%}: {sel.size} of {dyn.num_samples} samples "
              f"({per_class} per class)")  # fmt: skip
    print(f"wrote {len(written)} files to {out_dir}")
    return 0


def _add_data_args(p: argparse.ArgumentParser) -> None:
    _choices(p.add_argument("--dataset", required=True, help="MedMNIST flag (case-insensitive)"),
             _dataset_names)  # fmt: skip
    p.add_argument(
        "--data-root", type=_path, help="folder with <flag>.npz (default: $EVALIB_DATA_ROOT)"
    )
    p.add_argument("--subset", type=_count, default=None, help="train on a stratified subset of N")
    p.add_argument("--no-download", action="store_true", help="fail instead of downloading")
    p.add_argument("--skip-md5", action="store_true", help="accept a file that is not official")


def cmd_info(args: argparse.Namespace) -> int:
    from evalib import __version__
    from evalib.data import DATASETS, ENV_DATA_ROOT, UNSUPPORTED, data_root, present

    root = data_root(args.data_root)
    found = present(root)
    if args.json:
        payload = {
            "version": __version__,
            "data_root": str(root),
            "datasets": {
                f: {
                    "classes": d.n_classes,
                    "channels": d.n_channels,
                    "train_val_test": d.n_samples,
                    "present": str(found[f]) if found[f] else None,
                }
                for f, d in DATASETS.items()
            },
        }
        print(json.dumps(payload, indent=2))
        return 0
    source = (
        "--data-root"
        if args.data_root
        else (f"${ENV_DATA_ROOT}" if os.environ.get(ENV_DATA_ROOT) else "default")
    )
    print(f"evalib {__version__}")
    print(f"data root: {root} ({source}){_root_problem(root)}")
    print(f"{'dataset':<16}{'classes':>8}{'ch':>4}{'train/val/test':>24}  file")
    for flag, d in DATASETS.items():
        split = "/".join(str(x) for x in d.n_samples)
        status = "present" if found[flag] else "missing (downloads on first use)"
        print(f"{flag:<16}{d.n_classes:>8}{d.n_channels:>4}{split:>24}  {status}")
    print("not supported: " + ", ".join(sorted(UNSUPPORTED)))
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    from evalib.data import DATASETS, data_root, dataset_info, download, md5sum

    if args.all and args.datasets:
        raise EvalibError("give dataset names or --all, not both")
    if not args.all and not args.datasets:
        raise EvalibError("name the datasets to fetch (e.g. evalib download organsmnist) or --all")
    if args.retries < 0:
        raise EvalibError(f"--retries must be ≥ 0, got {args.retries}")
    if args.mirror is not None and "{flag}" not in args.mirror:
        raise EvalibError(f"--mirror must contain {{flag}}, got {args.mirror!r}")
    infos = list(DATASETS.values()) if args.all else [dataset_info(d) for d in args.datasets]
    infos = list(dict.fromkeys(infos))  # every name checked before anything is fetched
    root = data_root(args.data_root)
    for info in infos:
        target = root / f"{info.flag}.npz"
        if target.is_file():
            if md5sum(target) == info.md5:
                print(f"{info.flag}: present in {root} (MD5 matches)")
                continue
            if not args.force:
                raise EvalibError(
                    f"{target} exists but is not the official file (MD5 differs); "
                    "pass --force to replace it"
                )
        url = None if args.mirror is None else args.mirror.format(flag=info.flag)
        path = download(info.flag, root, timeout=args.timeout, retries=args.retries, url=url,
                        progress=not args.quiet)  # fmt: skip
        print(f"{info.flag}: downloaded to {path} (MD5 {info.md5} checked)")
    return 0


def cmd_profiles(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from evalib.experiments import PROFILES
    from evalib.names import canonical

    names = [canonical(args.name, PROFILES, "profile")] if args.name else list(PROFILES)
    if args.json:
        payload = {n: profile_summary(PROFILES[n], asdict) for n in names}
        print(json.dumps(payload if args.name is None else payload[names[0]], indent=2))
        return 0
    if args.name is None:
        for name in names:
            print(f"{name:<8} {PROFILES[name].description}")
        print("`evalib profiles NAME` shows everything a profile holds")
        return 0
    for key, value in profile_summary(PROFILES[names[0]], None).items():
        print(f"{key:<14} {value}")
    return 0


def profile_summary(profile, asdict=None) -> dict:
    """What ``profile`` holds, with the derived windows and method list: plain values when
    ``asdict`` (``dataclasses.asdict``) is given (for JSON), readable text otherwise."""
    recipe = profile.recipe
    eva = profile.eva_windows()
    grid = profile.grid_windows()
    methods = profile.table1_methods()
    if asdict is not None:
        return {
            "name": profile.name,
            "description": profile.description,
            "model": asdict(profile.model),
            "recipe": asdict(recipe),
            "seeds": list(profile.seeds),
            "rates": list(profile.rates),
            "data": {k: asdict(v) for k, v in profile.data.items()},
            "eva_windows": {k: list(v) for k, v in eva.items()},
            "grid_step": profile.grid_step,
            "grid_windows": [list(w) for w in grid],
            "table1_methods": [{"method": m, "params": p} for m, p in methods],
            "cross_models": [asdict(m) for m in profile.cross_models],
        }

    def subsets(spec) -> str:
        parts = [f"{split} {n}" for split, n in (("train", spec.train_subset),
                 ("val", spec.val_subset), ("test", spec.test_subset)) if n]  # fmt: skip
        return f"{spec.dataset} ({', '.join(parts) or 'full splits'})"

    def params(p: dict) -> str:
        return "" if not p else " (" + ", ".join(f"{k}={v}" for k, v in p.items()) + ")"

    opt = (f"SGD lr {recipe.lr}, momentum {recipe.momentum}"
           f"{' Nesterov' if recipe.nesterov else ''}, weight decay {recipe.weight_decay}, "
           f"cosine to {recipe.min_lr}")  # fmt: skip
    return {
        "profile": profile.name,
        "what": profile.description,
        "model": f"{profile.model.name}, width {profile.model.width}",
        "epochs": f"{recipe.epochs}"
        + (f" ({recipe.iterations} optimiser steps)" if recipe.iterations else ""),
        "batch": f"{recipe.batch_size} (drop last: {recipe.drop_last}), eval batch "
        f"{recipe.eval_batch_size}, val/test every {recipe.eval_every} epoch(s)",
        "optimiser": opt,
        "numerics": f"amp {recipe.amp}, channels-last {recipe.channels_last}, "
        f"augment {recipe.augment}",
        "seeds": ", ".join(str(x) for x in profile.seeds),
        "rates": ", ".join(f"{r:.0%}" for r in profile.rates),
        "data": "; ".join(subsets(v) for v in profile.data.values())
        + ("; other datasets: full splits" if profile.data else "full splits"),
        "EVA windows": ", ".join(f"{k} [{a}, {b})" for k, (a, b) in eva.items())
        + f" (the official [0, 10) and [100, 110) of 200 epochs, scaled to {profile.epochs})",
        "window grid": f"{len(grid)} windows of {grid[0][1] - grid[0][0]} epochs "
        f"(step {profile.grid_step} of 200, scaled)"
        if grid
        else "none",
        "Table 1": ", ".join(f"{m}{params(p)}" for m, p in methods),
        "cross-arch": ", ".join(f"{m.name} ×{m.width}" for m in profile.cross_models) or "none",
    }


def _root_problem(root: Path) -> str:
    """`` [problem]`` when the data root cannot be used as it is, else ``""``."""
    try:
        if not root.exists():
            return ""
        if not root.is_dir():
            return " [not a folder]"
        os.listdir(root)
    except PermissionError:
        return " [not readable: permission denied]"
    except OSError as exc:
        return f" [{exc.strerror}]"
    return ""


def load_training_data(args: argparse.Namespace):
    """(dataset, train subset split, subset indices) from the common data arguments."""
    import numpy as np

    from evalib.data import load, stratified_subset

    ds = load(
        args.dataset,
        args.data_root,
        allow_download=not args.no_download,
        check_md5=not args.skip_md5,
    )
    ids = np.arange(len(ds.train), dtype=np.int64)
    if args.subset is not None:
        ids = stratified_subset(ds.train.labels, args.subset, seed=0)
    return ds, ds.train.subset(ids), ids


def cmd_train(args: argparse.Namespace) -> int:
    from evalib import __version__
    from evalib.data import dataset_info
    from evalib.dynamics import check_output, save
    from evalib.io import check_output_dir, warn
    from evalib.models import MODEL_NAMES, build_model
    from evalib.names import canonical
    from evalib.train import (
        Recipe,
        cpu_hours,
        device_warning,
        is_checkpoint_dir,
        pick_device,
        seed_everything,
        train,
    )

    out = Path(args.out)
    args.model = canonical(args.model, MODEL_NAMES, "model")
    # every option is checked before the data is read and long before the first epoch
    check_output(out, what="--out")
    if args.checkpoint_dir is not None:
        ckpt = Path(args.checkpoint_dir)
        if ckpt.resolve() == out.resolve():
            raise EvalibError("--checkpoint-dir and --out must differ")
        check_output_dir(ckpt, "checkpoint", legacy=is_checkpoint_dir, what="--checkpoint-dir")
    info = _flagged("--dataset", dataset_info, args.dataset)
    dev = _flagged("--device", pick_device, args.device)
    if args.amp == "fp16" and dev.type != "cuda":
        raise EvalibError(f"--amp fp16 needs a CUDA device, not {dev.type}; use --amp bf16")
    recipe = Recipe(
        epochs=args.epochs,
        iterations=args.iterations,
        batch_size=args.batch_size,
        lr=args.lr,
        amp=args.amp,
        channels_last=args.channels_last,
        augment=args.augment,
        eval_every=args.eval_every,
    )
    seed_everything(args.seed)
    model = _flagged("--model", build_model, args.model, info.n_channels, info.n_classes,
                     width=args.width)  # fmt: skip
    ds, split, ids = load_training_data(args)
    if args.subset is not None and args.subset > len(ds.train):
        raise EvalibError(
            f"--subset {args.subset} exceeds the {len(ds.train)} training images of {ds.info.flag}"
        )
    for name, part in (("validation", ds.val), ("test", ds.test)):
        if len(part) == 0:
            raise EvalibError(f"the {name} split of {ds.path} is empty; evalib needs images there")
    if (note := device_warning(args.device, dev)) is not None:
        warn(note)
    hours = cpu_hours(args.model, args.width, len(split), recipe.num_epochs(len(split)))
    if dev.type == "cpu" and hours is not None and hours >= 1:
        warn(f"training {args.model} on the CPU: about {hours:.0f} CPU-core-hours (estimate); "
             "a GPU takes minutes")  # fmt: skip
    result = train(
        model,
        split,
        recipe,
        seed=args.seed,
        val=ds.val,
        test=ds.test,
        sample_ids=ids,
        eval_pass_epochs=() if args.no_eval_pass else (-1,),
        device=dev,
        threads=args.threads,
        checkpoint_dir=args.checkpoint_dir,
        checkpoint_every_s=args.checkpoint_every,
        progress=not args.quiet,
        desc=f"{args.dataset} {args.model}",
        meta={
            "dataset": ds.info.flag,
            "model": args.model,
            "width": args.width,
            "subset": args.subset,
            "evalib_version": __version__,
        },
    )
    dyn = result.dynamics.with_meta(history=result.history, seconds=result.seconds)
    save(dyn, out)
    last = result.history[-1]
    print(
        f"wrote {out}: dynamics {list(dyn.shape)} (epochs, samples, classes); "
        f"{result.steps} steps in {result.seconds:.1f} s; "
        f"final val acc {last.get('val_acc', float('nan')):.4f}, "
        f"test acc {last.get('test_acc', float('nan')):.4f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
