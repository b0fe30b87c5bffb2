"""The ``evalib`` command: ``info``, ``train``, ``score``, ``select``.

Every user-fixable problem ends in one line on stderr and exit status 2; no traceback.
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
    parser = argparse.ArgumentParser(
        prog="evalib", description="Data pruning on MedMNIST from recorded training dynamics."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="datasets known, where data is looked for, what is present")
    p.add_argument("--data-root", help="folder with <flag>.npz (default: $EVALIB_DATA_ROOT)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("train", help="train a surrogate and save its dynamics")
    _add_data_args(p)
    p.add_argument("--model", default="resnet18", help="network name (default resnet18)")
    p.add_argument("--width", type=float, default=1.0, help="width multiplier (default 1.0)")
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--iterations", type=int, default=None, help="optimiser steps instead of epochs")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--amp", choices=("none", "bf16", "fp16"), default="none")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--augment", choices=("none", "crop", "crop_flip"), default="none")
    p.add_argument("--eval-every", type=int, default=1, help="epochs between val/test checks")
    p.add_argument(
        "--no-eval-pass", action="store_true", help="skip the final eval-mode pass (Entropy)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 … (default: auto)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--checkpoint-dir", default=None, help="resume from / save state here")
    p.add_argument("--checkpoint-every", type=float, default=None, metavar="SECONDS",
                   help="seconds between checkpoints; 0: every epoch "
                        "(default: $EVALIB_CHECKPOINT_EVERY or 300); always after the last")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--out", required=True, help="dynamics file (.npz) or folder (memory-mapped)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("score", help="score every training sample from saved dynamics")
    _add_method_args(p)
    p.add_argument("--out", required=True, help="scores file (.csv or .npy)")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("select", help="choose coresets at one or more rates")
    _add_method_args(p)
    p.add_argument("--rate", type=float, nargs="+", required=True, help="fractions in (0, 1]")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--class-balanced", action="store_true", help="per-class quotas")
    p.add_argument("--rounding", choices=("ceil", "floor"), default="ceil", help="M = ⌈αN⌉ or ⌊αN⌋")
    p.add_argument("--out-dir", required=True, help="writes <method>-<rate>.npy/.csv and scores")
    p.set_defaults(func=cmd_select)

    p = sub.add_parser("grid", help="run (or resume) the jobs of the results notebooks")
    p.add_argument("--profile", default="cpu", help="smoke, cpu or paper")
    p.add_argument("--datasets", nargs="+", default=["organamnist"])
    p.add_argument("--what", nargs="+", default=["tuning", "table1"],
                   choices=("tuning", "table1", "ablation", "dual", "cross"),
                   help="studies (evalib.grids); tuned arms are added once tuning is done")  # fmt: skip
    p.add_argument("--results-dir", default="results", help="job results: <dir>/<profile>/jobs")
    p.add_argument("--scratch", default=None, help="dynamics and checkpoints ($EVALIB_CACHE)")
    p.add_argument("--data-root", help="folder with <flag>.npz (default: $EVALIB_DATA_ROOT)")
    p.add_argument("--executor", default="process", choices=("serial", "process", "ray"))
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
        description="Train a coreset you chose (training-set indices in a .npy, .csv or .txt "
        "file) with the profile's model, recipe and seeds; report the clean (test, final "
        "epoch) and the paper's (validation, best epoch) protocols beside Random of the same "
        "size and the committed Table 1 rows at that size.",
        epilog="example: evalib evaluate --dataset organamnist --indices coresets/el2n-0.05.npy "
        "--profile cpu",
    )
    p.add_argument("--dataset", required=True, help="MedMNIST flag, e.g. organamnist")
    p.add_argument("--indices", required=True, help="file of training-set indices")
    p.add_argument("--profile", default="cpu", help="smoke, cpu or paper (default: cpu)")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="default: the profile's")
    p.add_argument("--results-dir", default="results", help="<dir>/<profile> holds results")
    p.add_argument("--scratch", default=None, help="dynamics and checkpoints ($EVALIB_CACHE)")
    p.add_argument("--data-root", help="folder with <flag>.npz (default: $EVALIB_DATA_ROOT)")
    p.add_argument("--executor", default="serial", choices=("serial", "process"))
    p.add_argument("--workers", type=int, default=2, help="parallel jobs (process executor)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("rerun", help="retrain a stored job from its config and compare")
    p.add_argument("result", help="a results/<profile>/jobs/<key>.json file")
    p.add_argument("--data-root", help="folder with <flag>.npz (default: $EVALIB_DATA_ROOT)")
    p.add_argument("--scratch", default=None, help="fresh folder for the rerun (default: temp)")
    p.set_defaults(func=cmd_rerun)

    p = sub.add_parser("methods", help="list the scoring methods and their defaults")
    p.set_defaults(func=cmd_methods)
    return parser


def _add_method_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dynamics", required=True, help="file or folder written by evalib train")
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
    p.add_argument("--data-root", help="folder with <flag>.npz (default: $EVALIB_DATA_ROOT)")
    p.add_argument("--skip-md5", action="store_true", help="accept a file that is not official")


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

    profile = ex.get_profile(args.profile)
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

    profile = ex.get_profile(args.profile)
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
    p.add_argument("--dataset", required=True, help="MedMNIST flag, e.g. organamnist")
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
    from evalib.models import build_model
    from evalib.train import Recipe, seed_everything, train

    out = Path(args.out)
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
