"""The ``evalib`` command: ``info``, ``train``, ``score``, ``select``.

Every user-fixable problem ends in one line on stderr and exit status 2; no traceback.
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
    parser = _Parser(
        prog="evalib", description="Data pruning on MedMNIST from recorded training dynamics."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="datasets known, where data is looked for, what is present")
    p.add_argument(
        "--data-root", type=_path, help="folder with <flag>.npz (default: $EVALIB_DATA_ROOT)"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("train", help="train a surrogate and save its dynamics")
    _add_data_args(p)
    p.add_argument("--model", default="resnet18", help="network name (default resnet18)")
    p.add_argument("--width", type=_width, default=1.0, help="width multiplier (default 1.0)")
    p.add_argument("--epochs", type=_count, default=200)
    p.add_argument("--iterations", type=_count, default=None,
                   help="optimiser steps instead of epochs")  # fmt: skip
    p.add_argument("--batch-size", type=_count, default=256)
    p.add_argument("--lr", type=_positive, default=0.1, help="learning rate, finite and > 0")
    p.add_argument("--amp", choices=("none", "bf16", "fp16"), default="none")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--augment", choices=("none", "crop", "crop_flip"), default="none")
    p.add_argument("--eval-every", type=_count, default=1, help="epochs between val/test checks")
    p.add_argument(
        "--no-eval-pass", action="store_true", help="skip the final eval-mode pass (Entropy)"
    )
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:1, mps (default: auto)")
    p.add_argument("--threads", type=_count, default=None, help="torch CPU threads (≥ 1)")
    p.add_argument("--checkpoint-dir", type=_path, default=None,
                   help="resume/save state every epoch here (a new, empty or evalib folder)")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--out", type=_path, required=True,
                   help="dynamics file (.npz) or folder (memory-mapped); never replaces a "
                   "file or folder that evalib did not write")  # fmt: skip
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("score", help="score every training sample from saved dynamics")
    _add_method_args(p)
    p.add_argument("--out", type=_path, required=True, help="scores file (.csv or .npy)")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("select", help="choose coresets at one or more rates")
    _add_method_args(p)
    p.add_argument("--rate", type=_rate, nargs="+", required=True,
                   help="distinct fractions in (0, 1]")  # fmt: skip
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--class-balanced", action="store_true", help="per-class quotas")
    p.add_argument("--rounding", choices=("ceil", "floor"), default="ceil", help="M = ⌈αN⌉ or ⌊αN⌋")
    p.add_argument("--out-dir", type=_path, required=True,
                   help="writes <method>-<rate>.npy/.csv and scores (a new, empty or evalib "
                   "folder)")  # fmt: skip
    p.set_defaults(func=cmd_select)

    p = sub.add_parser("grid", help="run (or resume) the jobs of the results notebooks")
    p.add_argument("--profile", default="cpu", help="smoke, cpu or paper")
    p.add_argument("--datasets", nargs="+", default=["organamnist"])
    p.add_argument("--what", nargs="+", default=["table1"],
                   choices=("table1", "variance", "dual", "grid", "cross"))  # fmt: skip
    p.add_argument("--results-dir", type=_path, default=None,
                   help="job results: <dir>/<profile>/jobs (default: $EVALIB_RESULTS_DIR, "
                   "else the checkout's results/)")  # fmt: skip
    p.add_argument(
        "--scratch", type=_path, default=None, help="dynamics and checkpoints ($EVALIB_CACHE)"
    )
    p.add_argument(
        "--data-root", type=_path, help="folder with <flag>.npz (default: $EVALIB_DATA_ROOT)"
    )
    p.add_argument("--executor", default="process", choices=("serial", "process", "ray"))
    p.add_argument("--workers", type=_count, default=2, help="parallel jobs (local executors)")
    p.add_argument("--threads", type=_count, default=1, help="torch threads per job")
    p.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:1, mps (default: auto)")
    p.add_argument("--ray-address", default=None, help='existing Ray cluster, e.g. "auto"')
    p.add_argument("--dry-run", action="store_true", help="count the jobs, run nothing")
    p.set_defaults(func=cmd_grid)

    p = sub.add_parser("rerun", help="retrain a stored job from its config and compare")
    p.add_argument("result", type=_path, help="a results/<profile>/jobs/<key>.json file")
    p.add_argument(
        "--data-root", type=_path, help="folder with <flag>.npz (default: $EVALIB_DATA_ROOT)"
    )
    p.add_argument("--scratch", type=_path, default=None,
                   help="folder in which a temporary folder for the rerun is made "
                   "(created if missing; default: the system's temp folder)")  # fmt: skip
    p.set_defaults(func=cmd_rerun)

    p = sub.add_parser("methods", help="list the scoring methods and their defaults")
    p.set_defaults(func=cmd_methods)
    return parser


def _add_method_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dynamics", type=_path, required=True, help="file or folder written by evalib train"
    )
    p.add_argument("--method", required=True, help="see `evalib methods`")
    p.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="method parameter, e.g. -p early=0,10 -p late=100,110 -p variant=official",
    )
    p.add_argument("--dataset", help="check the dynamics against this dataset's training split")
    p.add_argument(
        "--data-root", type=_path, help="folder with <flag>.npz (default: $EVALIB_DATA_ROOT)"
    )
    p.add_argument("--skip-md5", action="store_true", help="accept a file that is not official")


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
    from evalib.data import dataset_info
    from evalib.io import warn
    from evalib.reproduce import grid_jobs
    from evalib.train import device_warning, pick_device

    profile = _flagged("--profile", ex.get_profile, args.profile)
    flags = [_flagged("--datasets", dataset_info, d).flag for d in args.datasets]
    dev = _flagged("--device", pick_device, args.device)
    root = ex.default_results_dir() if args.results_dir is None else Path(args.results_dir)
    cache = ex.Cache.at(root / profile.name, args.scratch, what=("--results-dir", "--scratch"))
    jobs = [j for w in args.what for d in flags for j in grid_jobs(w, profile, d)]
    jobs = sorted(dict.fromkeys(jobs), key=lambda j: j.seed)  # seed by seed
    done, missing = ex.collect(jobs, cache)
    print(f"{len(jobs)} jobs: {len(done)} in {cache.results}, {len(missing)} to run")
    if args.dry_run or not missing:
        return 0
    if (note := device_warning(args.device, dev)) is not None:
        warn(note)
    if profile.name == "paper" and dev.type == "cpu":
        warn(ex.paper_cpu_warning(profile, flags[0]))
    executor = ex.make_executor(args.executor, args.workers, args.threads, args.ray_address)
    table = ex.run_jobs(jobs, cache, args.data_root, executor, args.device, threads=args.threads)
    print(f"done: {len(table)} results in {cache.results / 'jobs'}")
    return 0


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
    p.add_argument("--dataset", required=True, help="MedMNIST flag, e.g. organamnist")
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


def _check_writable(path: Path, what: str | None = None) -> None:
    """Fail fast, creating nothing, when ``path`` could not be written later."""
    from evalib.io import check_writable

    check_writable(path, what)


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
    from evalib.models import build_model
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
    # every option is checked before the data is read and long before the first epoch
    check_output(out, what="--out")
    if args.checkpoint_dir is not None:
        ckpt = Path(args.checkpoint_dir)
        if ckpt.resolve() == out.resolve():
            raise EvalibError("--checkpoint-dir and --out must differ")
        check_output_dir(ckpt, "checkpoint", legacy=is_checkpoint_dir, what="--checkpoint-dir")
    info = dataset_info(args.dataset)
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
