"""``evalib train``, ``score``, ``select`` and ``methods``: from training dynamics to
coresets."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from evalib.cli.options import _flagged, check_data_root
from evalib.errors import EvalibError


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
    check_data_root(args)
    params = parse_params(args.param, args.method)
    dyn = load_dynamics_checked(args)
    scores = _scores_checked(args.method, compute_scores(args.method, dyn, **params),
                             dyn.num_samples)  # fmt: skip
    save_scores(scores, dyn.sample_ids, out)
    print(f"wrote {out}: {args.method} scores of {len(scores)} samples")
    return 0


def dynamics_fingerprint(dyn) -> str:
    """16 hex digits that tell two recorded runs apart without reading all of them: the
    shape, labels, sample ids and the last epoch's log-probabilities (a few MB at most)."""
    import hashlib

    import numpy as np

    h = hashlib.sha256(repr(tuple(dyn.shape)).encode())
    for arr in (dyn.labels, dyn.sample_ids, dyn.seen[-1], dyn.log_probs[-1]):
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()[:16]


def _describe(made_from: dict) -> str:
    dataset = made_from.get("dataset") or "an unnamed dataset"
    return f"{dataset}, {made_from.get('samples')} samples, dynamics {made_from.get('dynamics')}"


def check_coresets_dir_matches(out_dir: Path, made_from: dict, method: str, settings: dict,
                               scores, sample_ids) -> None:  # fmt: skip
    """Refuse (one line) an ``--out-dir`` that holds coresets of other dynamics, or of
    ``method`` with other settings: writing into it would leave a mix of old and new files
    that no file name tells apart. A folder without a record (an older evalib's) is
    judged by its score files: same samples, and the same scores for ``method``."""
    import numpy as np
    import pandas as pd

    from evalib.io import marker_record

    if not out_dir.is_dir():
        return
    record = marker_record(out_dir) or {}
    hint = "choose another --out-dir (evalib never mixes coresets of different runs)"
    old = record.get("made_from")
    if isinstance(old, dict) and old != made_from:
        raise EvalibError(
            f"--out-dir {out_dir} holds coresets of other dynamics ({_describe(old)}), not of "
            f"--dynamics ({_describe(made_from)}); {hint}"
        )
    old_settings = (record.get("methods") or {}).get(method)
    if isinstance(old_settings, dict) and old_settings != settings:
        changed = ", ".join(
            f"{k}={old_settings.get(k)!r} → {settings.get(k)!r}"
            for k in sorted(set(old_settings) | set(settings))
            if old_settings.get(k) != settings.get(k)
        )
        raise EvalibError(
            f"--out-dir {out_dir} holds {method} coresets made with other settings "
            f"({changed}); {hint}"
        )
    if old is not None:
        return
    for path in sorted(out_dir.glob("*-scores.csv")):  # no record: compare the files
        try:
            table = pd.read_csv(path)
            same_ids = np.array_equal(table["sample_id"].to_numpy(np.int64), sample_ids)
        except (OSError, ValueError, KeyError):
            same_ids = False
        if not same_ids:
            raise EvalibError(
                f"--out-dir {out_dir} holds coresets of other samples ({path.name}: other "
                f"sample ids than the {len(sample_ids)} of --dynamics); {hint}"
            )
        if path.name == f"{method}-scores.csv" and not np.allclose(
            table["score"].to_numpy(np.float64), scores, rtol=1e-12, atol=0, equal_nan=True
        ):
            raise EvalibError(
                f"--out-dir {out_dir} holds {method} coresets of other scores ({path.name} "
                f"differs: other dynamics or other settings); {hint}"
            )


def cmd_select(args: argparse.Namespace) -> int:
    import numpy as np

    from evalib.io import check_output_dir, claim_dir, marker_record, write_marker
    from evalib.progress import rate_text
    from evalib.ranking import budget
    from evalib.scores import compute_scores
    from evalib.select import is_coresets_dir, save_scores, save_selection, select

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
    check_data_root(args)
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
    made_from = {"dynamics": dynamics_fingerprint(dyn), "samples": dyn.num_samples,
                 "dataset": dyn.meta.get("dataset")}  # fmt: skip
    settings = {"params": {k: list(v) if isinstance(v, tuple) else v
                           for k, v in sorted({**params, **sampling}.items())},
                "seed": args.seed, "class_balanced": args.class_balanced,
                "rounding": args.rounding}  # fmt: skip
    check_coresets_dir_matches(out_dir, made_from, args.method, settings, scores,
                               np.asarray(dyn.sample_ids, np.int64))  # fmt: skip
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
    methods = dict((marker_record(out_dir) or {}).get("methods") or {})
    written = [save_scores(scores, dyn.sample_ids, out_dir / f"{args.method}-scores.csv")]
    for sel in selections:
        stem = f"{args.method}-{sel.rate:g}"
        written += [save_selection(sel, out_dir / f"{stem}.{ext}") for ext in ("npy", "csv")]
        per_class = np.bincount(dyn.labels[sel.indices], minlength=dyn.num_classes).tolist()
        print(f"{args.method} at {rate_text(sel.rate)}: {sel.size} of {dyn.num_samples} "
              f"samples ({per_class} per class)")  # fmt: skip
    # what the folder's coresets were made from: a later select into it must match
    write_marker(out_dir, "coresets", made_from=made_from,
                 methods={**methods, args.method: settings})  # fmt: skip
    print(f"wrote {len(written)} files to {out_dir}")
    return 0


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
    from evalib.checkpoints import is_checkpoint_dir
    from evalib.data import dataset_info
    from evalib.devices import cpu_hours, device_warning, pick_device
    from evalib.dynamics import check_output, save
    from evalib.io import check_output_dir, warn
    from evalib.models import MODEL_NAMES, build_model
    from evalib.names import canonical
    from evalib.train import Recipe, seed_everything, train

    out = Path(args.out)
    args.model = canonical(args.model, MODEL_NAMES, "model")
    # every option is checked before the data is read and long before the first epoch
    check_output(out, what="--out")
    if args.checkpoint_dir is not None:
        ckpt = Path(args.checkpoint_dir)
        if ckpt.resolve() == out.resolve():
            raise EvalibError("--checkpoint-dir and --out must differ")
        check_output_dir(ckpt, "checkpoint", legacy=is_checkpoint_dir, what="--checkpoint-dir")
    check_data_root(args)
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
