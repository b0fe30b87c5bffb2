"""The ``evalib`` command: ``info``, ``download``, ``profiles``, ``train``, ``score``,
``select``, ``grid``, ``rerun``, ``methods``.

Every user-fixable problem ends in one line on stderr and exit status 2; no traceback.
Names (datasets, methods, profiles, models) are matched ignoring case, with suggestions
for near misses; every option's help shows its default and its valid choices.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from evalib.errors import EvalibError


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except EvalibError as exc:
        print(f"evalib: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("evalib: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    from evalib import __version__

    parser = argparse.ArgumentParser(
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
    p.add_argument("--data-root", help="folder with <flag>.npz (default: $EVALIB_DATA_ROOT)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_info)

    p = command("download", "fetch MedMNIST files for offline use (MD5-checked, resumable)")
    _choices(p.add_argument("datasets", nargs="*", metavar="DATASET",
                            help="MedMNIST flags (case-insensitive)"), _dataset_names)  # fmt: skip
    p.add_argument("--all", action="store_true", help="every dataset evalib supports")
    p.add_argument("--data-root", "--root", dest="data_root", metavar="DIR",
                   help="where to put <flag>.npz (default: $EVALIB_DATA_ROOT, else ~/.medmnist)")  # fmt: skip
    p.add_argument("--mirror", metavar="URL",
                   help="fetch from URL with {flag} in it (default: the official record)")  # fmt: skip
    p.add_argument("--retries", type=int, default=3, help="retries after a dropped connection")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds without data per try")
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
    p.add_argument("--width", type=float, default=1.0, help="channel width multiplier")
    p.add_argument("--epochs", type=int, default=200, help="training epochs")
    p.add_argument("--iterations", type=int, default=None, help="optimiser steps instead of epochs")
    p.add_argument("--batch-size", type=int, default=256, help="samples per optimiser step")
    p.add_argument("--lr", type=float, default=0.1, help="peak learning rate (cosine schedule)")
    p.add_argument("--amp", choices=("none", "bf16", "fp16"), default="none",
                   help="mixed precision (fp16 needs CUDA)")  # fmt: skip
    p.add_argument("--channels-last", action="store_true", help="channels-last memory format")
    p.add_argument("--augment", choices=("none", "crop", "crop_flip"), default="none",
                   help="training augmentation (flips swap left/right organs)")  # fmt: skip
    p.add_argument("--eval-every", type=int, default=1, help="epochs between val/test checks")
    p.add_argument(
        "--no-eval-pass", action="store_true", help="skip the final eval-mode pass (Entropy)"
    )
    p.add_argument("--seed", type=int, default=0, help="batch order seed and model init")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 … (default: auto)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--checkpoint-dir", default=None, help="resume from / save state here")
    p.add_argument("--checkpoint-every", type=float, default=None, metavar="SECONDS",
                   help="seconds between checkpoints; 0: every epoch "
                        "(default: $EVALIB_CHECKPOINT_EVERY or 300); always after the last")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--out", required=True, help="dynamics file (.npz) or folder (memory-mapped)")
    p.set_defaults(func=cmd_train)

    p = command("score", "score every training sample from saved dynamics")
    _add_method_args(p)
    p.add_argument("--out", required=True, help="scores file (.csv or .npy)")
    p.set_defaults(func=cmd_score)

    p = command("select", "choose coresets at one or more rates")
    _add_method_args(p)
    p.add_argument("--rate", type=float, nargs="+", required=True, help="fractions in (0, 1]")
    p.add_argument("--seed", type=int, default=0, help="seed of random and CCS sampling")
    p.add_argument("--class-balanced", action="store_true", help="per-class quotas")
    p.add_argument("--rounding", choices=("ceil", "floor"), default="ceil", help="M = ⌈αN⌉ or ⌊αN⌋")
    p.add_argument("--out-dir", required=True, help="writes <method>-<rate>.npy/.csv and scores")
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
    p.add_argument("--results-dir", default="results", help="job results: <dir>/<profile>/jobs")
    p.add_argument("--scratch", "--scratch-dir", dest="scratch", default=None,
                   help="dynamics and checkpoints (default: $EVALIB_CACHE)")  # fmt: skip
    p.add_argument("--data-root", help="folder with <flag>.npz (default: $EVALIB_DATA_ROOT)")
    p.add_argument("--executor", default="process", choices=("serial", "process", "ray"),
                   help="where jobs run")  # fmt: skip
    p.add_argument("--workers", type=int, default=2, help="parallel jobs (local executors)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per job")
    p.add_argument("--jobs-per-device", type=int, default=None,
                   help="jobs sharing one GPU (default: chosen from each job's size)")  # fmt: skip
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
    p.add_argument("--indices", required=True, help="file of training-set indices")
    _choices(p.add_argument("--profile", default="cpu", help="scale (case-insensitive)"),
             _profile_names)  # fmt: skip
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="default: the profile's")
    p.add_argument("--results-dir", default="results", help="<dir>/<profile> holds results")
    p.add_argument("--scratch", "--scratch-dir", dest="scratch", default=None,
                   help="dynamics and checkpoints (default: $EVALIB_CACHE)")  # fmt: skip
    p.add_argument("--data-root", help="folder with <flag>.npz (default: $EVALIB_DATA_ROOT)")
    p.add_argument("--executor", default="serial", choices=("serial", "process"),
                   help="where jobs run")  # fmt: skip
    p.add_argument("--workers", type=int, default=2, help="parallel jobs (process executor)")
    p.set_defaults(func=cmd_evaluate)

    p = command("rerun", "retrain a stored job from its config and compare")
    p.add_argument("result", help="a results/<profile>/jobs/<key>.json file")
    p.add_argument("--data-root", help="folder with <flag>.npz (default: $EVALIB_DATA_ROOT)")
    p.add_argument("--scratch", "--scratch-dir", dest="scratch", default=None,
                   help="fresh folder for the rerun (default: a temporary one)")  # fmt: skip
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
    p.add_argument("--dynamics", required=True, help="file or folder written by evalib train")
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
    p.add_argument("--data-root", help="folder with <flag>.npz (default: $EVALIB_DATA_ROOT)")
    p.add_argument("--skip-md5", action="store_true", help="accept a file that is not official")


def method_name(name: str) -> str:
    """The registry's spelling of ``name`` (``EVA`` → ``eva``); one-line error otherwise."""
    from evalib.names import canonical
    from evalib.scores import METHODS

    return canonical(name, METHODS, "method")


def load_dynamics_checked(args: argparse.Namespace):
    """Dynamics from --dynamics, checked against --dataset when given."""
    from evalib.dynamics import check_matches, load

    dyn = load(args.dynamics)
    if args.dataset:
        from evalib.data import load as load_data

        ds = load_data(args.dataset, args.data_root, allow_download=False,
                       check_md5=not args.skip_md5)  # fmt: skip
        check_matches(dyn, ds.train.labels.numpy(), ds.info.flag)
    return dyn


def parse_params(items: Sequence[str]) -> dict:
    """``["early=0,10", "variant=official"]`` → ``{"early": (0, 10), "variant": "official"}``."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise EvalibError(f"parameter {item!r} is not KEY=VALUE")
        parts = [_scalar(v) for v in value.split(",")]
        out[key.strip()] = tuple(parts) if len(parts) > 1 else parts[0]
    return out


def _scalar(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text.strip()


def cmd_grid(args: argparse.Namespace) -> int:
    from evalib import experiments as ex
    from evalib import grids
    from evalib.data import dataset_info
    from evalib.names import canonical

    profile = ex.get_profile(canonical(args.profile, ex.PROFILES, "profile"))
    flags = [dataset_info(d).flag for d in args.datasets]
    cache = ex.Cache.at(Path(args.results_dir) / profile.name, args.scratch)
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
    executor = ex.make_executor(
        args.executor, args.workers, args.threads, args.ray_address, args.jobs_per_device
    )
    while missing:
        ex.run_jobs(missing, cache, args.data_root, executor, threads=args.threads)
        jobs = planned()
        missing = ex.collect(jobs, cache)[1]
        if missing:
            print(f"{len(missing)} more jobs now that tuning is done")
    print(f"done: {len(jobs)} results in {cache.results / 'jobs'}")
    return 0


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
    from evalib.names import canonical

    profile = ex.get_profile(canonical(args.profile, ex.PROFILES, "profile"))
    info = dataset_info(args.dataset)
    ids = read_indices(args.indices, info.n_samples[0])
    train_ids = ex.load_data(profile.data_spec(info.flag), args.data_root)[2]
    outside = np.setdiff1d(ids, train_ids)
    if len(outside):
        raise EvalibError(
            f"--indices: {len(outside)} indices (e.g. {outside[0]}) are not in profile "
            f"{profile.name}'s training split of {info.flag} ({len(train_ids)} samples)"
        )
    cache = ex.Cache.at(Path(args.results_dir) / profile.name, args.scratch)
    planned = grids.given_coreset(profile, info.flag, cache, ids, args.seeds)
    executor = ex.make_executor(args.executor, args.workers)
    ex.run_jobs([p.job for p in planned], cache, args.data_root, executor)
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

    from evalib.experiments import rerun

    with tempfile.TemporaryDirectory(dir=args.scratch) as tmp:
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
    from evalib.scores import compute_scores
    from evalib.select import save_scores

    out = Path(args.out)
    args.method = method_name(args.method)
    _check_writable(out)
    dyn = load_dynamics_checked(args)
    scores = compute_scores(args.method, dyn, **parse_params(args.param))
    save_scores(scores, dyn.sample_ids, out)
    print(f"wrote {out}: {args.method} scores of {len(scores)} samples")
    return 0


def cmd_select(args: argparse.Namespace) -> int:
    import numpy as np

    from evalib.scores import compute_scores
    from evalib.select import budget, save_scores, save_selection, select

    out_dir = Path(args.out_dir)
    args.method = method_name(args.method)
    _check_writable(out_dir / "x")
    dyn = load_dynamics_checked(args)
    params = parse_params(args.param)
    for rate in args.rate:  # validate every rate before computing anything
        budget(dyn.num_samples, rate, args.rounding)
    if args.method == "random":
        params.setdefault("seed", args.seed)
    sampling = {k: params.pop(k) for k in ("beta", "n_strata") if k in params}  # CCS options
    scores = compute_scores(args.method, dyn, **params)
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
    p.add_argument("--data-root", help="folder with <flag>.npz (default: $EVALIB_DATA_ROOT)")
    p.add_argument("--subset", type=int, default=None, help="train on a stratified subset of N")
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
    print(f"data root: {root} ({source})")
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


def _check_writable(path: Path) -> None:
    """Fail fast, creating nothing, when ``path`` could not be written later."""
    folder = path.resolve().parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise EvalibError(f"cannot write {path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK):
        raise EvalibError(f"cannot write {path}: {folder} is not writable")


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
    from evalib.dynamics import save
    from evalib.models import MODEL_NAMES, build_model
    from evalib.names import canonical
    from evalib.train import Recipe, seed_everything, train

    out = Path(args.out)
    args.model = canonical(args.model, MODEL_NAMES, "model")
    _check_writable(out)
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
    ds, split, ids = load_training_data(args)
    seed_everything(args.seed)
    model = build_model(args.model, ds.info.n_channels, ds.info.n_classes, width=args.width)
    result = train(
        model,
        split,
        recipe,
        seed=args.seed,
        val=ds.val,
        test=ds.test,
        sample_ids=ids,
        eval_pass_epochs=() if args.no_eval_pass else (-1,),
        device=args.device,
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
