"""The ``evalib`` command: ``info``, ``download``, ``profiles``, ``train``, ``score``,
``select``, ``grid``, ``evaluate``, ``rerun``, ``notebook``, ``methods``.

Every user-fixable problem ends in one line on stderr and exit status 2; no traceback.
Names (datasets, methods, profiles, models) are matched ignoring case, with suggestions
for near misses; every option's help shows its default and its valid choices.
Every option is checked before any work starts; no output path that evalib did not write
is ever replaced (see :mod:`evalib.io`).

This module holds :func:`main` (the console script) and the parser; the option types and
shared option groups are in :mod:`evalib.cli.options`, the commands in
:mod:`evalib.cli.data` (info, download, profiles), :mod:`evalib.cli.coresets` (train,
score, select, methods), :mod:`evalib.cli.studies` (grid, evaluate, rerun) and
:mod:`evalib.cli.notebooks` (notebook).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from evalib.cli.coresets import (
    cmd_methods,
    cmd_score,
    cmd_select,
    cmd_train,
    load_dynamics_checked,
    load_training_data,
    method_name,
    parse_params,
)
from evalib.cli.data import cmd_download, cmd_info, cmd_profiles, profile_summary
from evalib.cli.notebooks import add_parser as add_notebook_parser
from evalib.cli.options import (
    EPILOGS,
    MAX_WIDTH,
    _add_data_args,
    _add_data_root,
    _add_device,
    _add_method_args,
    _choices,
    _count,
    _dataset_names,
    _int_at_least,
    _model_names,
    _non_negative,
    _Parser,
    _path,
    _positive,
    _profile_names,
    _rate,
    _seed,
    _width,
    check_output_parents,
)
from evalib.cli.studies import cmd_evaluate, cmd_grid, cmd_rerun, pd_concat, read_indices
from evalib.errors import EvalibError
from evalib.io import HelpFormatter

#: ``evalib.studies.grids.STUDIES``, spelled out so that ``evalib --help`` imports no torch (tested)
STUDIES = ("tuning", "table1", "ablation", "dual", "cross", "balance", "pie", "distill",
           "segmentation")  # fmt: skip

__all__ = [
    "EPILOGS",
    "EXIT_BROKEN_PIPE",
    "MAX_WIDTH",
    "build_parser",
    "cmd_download",
    "cmd_evaluate",
    "cmd_grid",
    "cmd_info",
    "cmd_methods",
    "cmd_profiles",
    "cmd_rerun",
    "cmd_score",
    "cmd_select",
    "cmd_train",
    "load_dynamics_checked",
    "load_training_data",
    "main",
    "method_name",
    "parse_params",
    "pd_concat",
    "profile_summary",
    "read_indices",
]

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for `cmd | head`


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed on one line
        return exc.code if isinstance(exc.code, int) else 2
    try:
        check_output_parents(args)  # a typo in an output path never creates folders
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
    _add_data_root(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_info)

    p = command("download", "fetch MedMNIST files for offline use (MD5-checked, resumable)")
    _choices(p.add_argument("datasets", nargs="*", metavar="DATASET",
                            help="MedMNIST flags (case-insensitive)"), _dataset_names)  # fmt: skip
    p.add_argument("--all", action="store_true", help="every dataset evalib supports")
    p.add_argument("--data-root", "--root", dest="data_root", metavar="DIR", type=_path,
                   help="where to put <flag>.npz; created if missing, inside an existing "
                   "folder (default: $EVALIB_DATA_ROOT, else ~/.medmnist)")  # fmt: skip
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
    _add_device(p)
    p.add_argument("--threads", type=_count, default=None, help="torch CPU threads (≥ 1)")
    p.add_argument("--checkpoint-dir", type=_path, default=None,
                   help="resume from / save state here (a new, empty or evalib folder, "
                   "inside an existing folder)")  # fmt: skip
    p.add_argument("--checkpoint-every", type=_non_negative, default=None, metavar="SECONDS",
                   help="seconds between checkpoints; 0: every epoch "
                        "(default: $EVALIB_CHECKPOINT_EVERY or 300); always after the last")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--out", type=_path, required=True,
                   help="dynamics file (.npz) or folder (memory-mapped), inside an existing "
                   "folder; never replaces a file or folder that evalib did not write")  # fmt: skip
    p.set_defaults(func=cmd_train)

    p = command("score", "score every training sample from saved dynamics")
    _add_method_args(p)
    p.add_argument("--out", type=_path, required=True,
                   help="scores file (.csv or .npy), inside an existing folder")  # fmt: skip
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
                   "coresets folder of the same dynamics, inside an existing folder)")  # fmt: skip
    p.set_defaults(func=cmd_select)

    p = command("grid", "run (or resume) the jobs of the studies (evalib.studies.grids)")
    _choices(p.add_argument("--profile", default="cpu", help="scale (case-insensitive)"),
             _profile_names)  # fmt: skip
    _choices(p.add_argument("--dataset", "--datasets", dest="datasets", nargs="+",
                            default=["organamnist"], metavar="DATASET",
                            help="MedMNIST flags (case-insensitive)"), _dataset_names)  # fmt: skip
    p.add_argument("--what", nargs="+", default=["tuning", "table1"], metavar="STUDY",
                   choices=STUDIES,
                   help="studies of evalib.studies.grids; tuned arms (and PIE's trainings) are added "
                   "once what they depend on is done")  # fmt: skip
    p.add_argument("--results-dir", type=_path, default=None,
                   help="job results: <dir>/<profile>/jobs, created if missing inside an "
                   "existing folder (default: $EVALIB_RESULTS_DIR, else the checkout's "
                   "results/)")  # fmt: skip
    p.add_argument("--scratch", "--scratch-dir", dest="scratch", type=_path, default=None,
                   help="dynamics and checkpoints, created if missing inside an existing "
                   "folder (default: $EVALIB_CACHE, else ~/.cache/evalib)")  # fmt: skip
    _add_data_root(p)
    p.add_argument("--executor", default="process", choices=("serial", "process", "ray"),
                   help="where jobs run")  # fmt: skip
    p.add_argument("--workers", type=_count, default=2, help="parallel jobs (local executors)")
    p.add_argument("--threads", type=_count, default=1, help="torch threads per job")
    p.add_argument("--jobs-per-device", type=_count, default=None,
                   help="jobs sharing one GPU (default: chosen from each job's size)")  # fmt: skip
    _add_device(p)
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
                   help="<dir>/<profile> holds results, created if missing inside an existing "
                   "folder (default: $EVALIB_RESULTS_DIR, else the checkout's results/)")  # fmt: skip
    p.add_argument("--scratch", "--scratch-dir", dest="scratch", type=_path, default=None,
                   help="dynamics and checkpoints, created if missing inside an existing "
                   "folder (default: $EVALIB_CACHE, else ~/.cache/evalib)")  # fmt: skip
    _add_data_root(p)
    p.add_argument("--executor", default="serial", choices=("serial", "process"),
                   help="where jobs run")  # fmt: skip
    p.add_argument("--workers", type=_count, default=2, help="parallel jobs (process executor)")
    _add_device(p)
    p.set_defaults(func=cmd_evaluate)

    p = command("rerun", "retrain a stored job from its config and compare")
    p.add_argument("result", type=_path, help="a results/<profile>/jobs/<key>.json file")
    _add_data_root(p)
    p.add_argument("--scratch", "--scratch-dir", dest="scratch", type=_path, default=None,
                   help="folder in which a temporary folder for the rerun is made "
                   "(created if missing, inside an existing folder; default: the system's "
                   "temp folder)")  # fmt: skip
    p.set_defaults(func=cmd_rerun)

    add_notebook_parser(sub, command)

    p = command("methods", "list the scoring methods and their defaults")
    p.set_defaults(func=cmd_methods)
    return parser
