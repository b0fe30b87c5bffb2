"""``evalib grid``, ``evaluate`` and ``rerun``: the jobs of the studies, your own coreset
under a profile's protocol, and one stored job trained again."""

from __future__ import annotations

import argparse
from pathlib import Path

from evalib.cli.options import _flagged, check_data_root
from evalib.errors import EvalibError


def cmd_grid(args: argparse.Namespace) -> int:
    from evalib.book.notebook import paper_cpu_warning
    from evalib.data import dataset_info
    from evalib.devices import device_warning, pick_device
    from evalib.io import warn
    from evalib.runs.batch import collect, run_jobs
    from evalib.runs.cache import Cache, default_results_dir
    from evalib.runs.executors import make_executor
    from evalib.studies import grids

    profile = _flagged("--profile", _profile, args.profile)
    flags = [_flagged("--dataset", dataset_info, d).flag for d in args.datasets]
    dev = _flagged("--device", pick_device, args.device)
    root = default_results_dir() if args.results_dir is None else Path(args.results_dir)
    check_data_root(args)  # also when every job is cached: a typo is still a typo
    cache = Cache.at(root / profile.name, args.scratch, what=("--results-dir", "--scratch"))
    order = {name: i for i, name in enumerate(grids.STUDIES)}
    studies = sorted(args.what, key=order.__getitem__)

    def planned() -> list:  # tuning first, then seed by seed; grows as tuning completes
        jobs = [p.job for w in studies for d in flags for p in grids.study(w, profile, d, cache)]
        return sorted(
            dict.fromkeys(jobs),
            key=lambda j: (getattr(j, "seed", 0) != profile.tuning_seed, getattr(j, "seed", 0)),
        )

    jobs = planned()
    done, missing = collect(jobs, cache)
    print(f"{len(jobs)} jobs: {len(done)} in {cache.results}, {len(missing)} to run")
    if args.dry_run or not missing:
        return 0
    if (note := device_warning(args.device, dev)) is not None:
        warn(note)
    if profile.name == "paper" and dev.type == "cpu":
        warn(paper_cpu_warning(profile, flags[0]))
    executor = make_executor(
        args.executor, args.workers, args.threads, args.ray_address, args.jobs_per_device
    )
    while missing:
        run_jobs(missing, cache, args.data_root, executor, args.device, threads=args.threads)
        jobs = planned()
        missing = collect(jobs, cache)[1]
        if missing:
            print(
                f"{len(missing)} more jobs now that the runs they depend on are done (tuning, PIE's pruned networks)"
            )
    print(f"done: {len(jobs)} results in {cache.results / 'jobs'}")
    return 0


def _profile(name: str):
    """The profile called ``name`` (any case); one-line error with suggestions otherwise."""
    from evalib.names import canonical
    from evalib.runs.config import PROFILES, get_profile

    return get_profile(canonical(name, PROFILES, "profile"))


def read_indices(path: str, n_total: int):
    """Training-set indices from a .npy, or a .csv/.txt of integers (one per line or
    comma-separated; a non-numeric header line is skipped); checked: integers, in range,
    no duplicates, not empty."""
    import numpy as np

    from evalib.io import refuses_pickle

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
        if refuses_pickle(exc):
            raise EvalibError(
                f"--indices: {path} holds Python objects (a pickle), which evalib refuses to "
                "unpickle (it could run code); save the indices as an integer array"
            ) from None
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

    from evalib.book.notebook import paper_cpu_warning
    from evalib.data import dataset_info
    from evalib.devices import device_warning, pick_device
    from evalib.io import warn
    from evalib.runs.batch import run_jobs
    from evalib.runs.cache import Cache, default_results_dir
    from evalib.runs.executors import make_executor
    from evalib.runs.runner import load_data
    from evalib.studies import grids, stats

    profile = _flagged("--profile", _profile, args.profile)
    info = _flagged("--dataset", dataset_info, args.dataset)
    if args.seeds is not None and len(set(args.seeds)) != len(args.seeds):
        raise EvalibError("--seeds repeats a seed; give each seed once")
    dev = _flagged("--device", pick_device, args.device)
    ids = read_indices(args.indices, info.n_samples[0])
    root = default_results_dir() if args.results_dir is None else Path(args.results_dir)
    check_data_root(args)
    cache = Cache.at(root / profile.name, args.scratch, what=("--results-dir", "--scratch"))
    train_ids = load_data(profile.data_spec(info.flag), args.data_root)[2]
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
        warn(paper_cpu_warning(profile, info.flag))
    executor = make_executor(args.executor, args.workers)
    run_jobs([p.job for p in planned], cache, args.data_root, executor, args.device)
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
            print(f"  {row.budget:<7} {row.arm:<14} {row.mean:6.2f} {spread(row.ci95, row.count)}")
    if others.empty:
        print("\nno committed Table 1 rate gives a coreset of this size; Random of the same "
              "size was trained instead")  # fmt: skip
    return 0


def spread(half_width: float, n: int) -> str:
    """``"± 1.23  (n=3)"``; with one seed (or no finite interval) no interval is claimed:
    ``"         (n=1, no interval)"``, aligned with the others."""
    import math

    if n < 2 or not math.isfinite(half_width):
        return f"{'':8} (n={n}, no interval)"
    return f"± {half_width:5.2f}  (n={n})"


def pd_concat(*frames):
    import pandas as pd

    return pd.concat([f for f in frames if not f.empty], ignore_index=True)


def cmd_rerun(args: argparse.Namespace) -> int:
    import tempfile

    from evalib.runs.rerun import rerun, stored_job

    stored_job(args.result)  # a bad record fails here, before any folder is made
    check_data_root(args)
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
