"""``evalib info``, ``download`` and ``profiles``: the datasets, the files, the profiles."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from evalib.errors import EvalibError


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
    if args.data_root is not None:  # created if missing, but only inside an existing folder
        from evalib.io import check_parent

        check_parent(root, "--data-root")
        if root.exists() and not root.is_dir():
            raise EvalibError(f"--data-root {args.data_root} is a file, not a folder")
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

    from evalib.names import canonical
    from evalib.runs.config import PROFILES

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
            return " [no such folder yet]"
        if not root.is_dir():
            return " [not a folder]"
        os.listdir(root)
    except PermissionError:
        return " [not readable: permission denied]"
    except OSError as exc:
        return f" [{exc.strerror}]"
    return ""
