"""Execute every notebook with papermill at one profile (``make reproduce PROFILE=cpu``).

Notebooks run in ``notebooks/`` in order; each executed notebook replaces its input so
the book shows it. Jobs are cached, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from evalib.errors import EvalibError

NOTEBOOKS = (
    "00_walkthrough",
    "01_dynamics",
    "02_benchmark",
    "03_variance_ablation",
    "04_dual_window",
    "05_window_grid",
    "06_cross_architecture",
    "07_pruning_identified",
    "08_distillation",
    "09_dad_segmentation",
    "10_claims",
)
DATASETS = {  # notebook → datasets it is run for (the first one is the book's page)
    "02_benchmark": ("organamnist", "bloodmnist"),
    "03_variance_ablation": ("organamnist", "bloodmnist"),
    "04_dual_window": ("organamnist", "bloodmnist"),
    "05_window_grid": ("organamnist", "bloodmnist"),
    "06_cross_architecture": ("organamnist", "bloodmnist"),
}


# Per-notebook parameters used for the book, by profile: where a full grid would not fit
# the profile's budget, the book runs a stated part of it.
PARAMETERS: dict[str, dict[str, dict]] = {
    "cpu": {
        "04_dual_window": {"seeds": [0]},  # claim 4 is judged on 03's three seeds
        "05_window_grid": {"grid_rates": [0.05], "grid_seeds": [0]},
        "06_cross_architecture": {"seeds": [0], "rates": [0.05, 0.3]},
        # PIE trains K dense and K emphasis networks on the full training split
        "07_pruning_identified": {"dataset": "bloodmnist"},
    },
}


def notebook_parameters(name: str, profile: str) -> dict:
    """Extra papermill parameters of ``name`` at ``profile`` (empty when none)."""
    return dict(PARAMETERS.get(profile, {}).get(name, {}))


GRIDS = {  # name → the notebook whose jobs it is
    "table1": "02_benchmark",
    "variance": "03_variance_ablation",
    "dual": "04_dual_window",
    "grid": "05_window_grid",
    "cross": "06_cross_architecture",
}


def grid_jobs(what: str, profile, dataset: str) -> list:
    """The jobs notebook ``GRIDS[what]`` runs for ``dataset`` at ``profile`` with its book
    parameters, so that filling the cache ahead (``evalib grid``) matches the notebooks."""
    from evalib import ablations as ab
    from evalib import experiments as ex

    p = notebook_parameters(GRIDS[what], profile.name)
    rates = tuple(p.get("rates") or profile.rates)
    seeds = tuple(p.get("seeds") or profile.seeds)
    if what == "table1":
        return ex.benchmark_jobs(profile, dataset, profile.table1_methods(), rates, seeds)
    if what == "variance":
        return ab.variance_ablation_jobs(profile, dataset, rates, seeds)
    if what == "dual":
        return ab.dual_window_jobs(profile, dataset, rates, seeds)
    if what == "grid":
        g_rates, g_seeds = ab.resolve_grid(rates, seeds, p.get("grid_rates"), p.get("grid_seeds"))
        return ab.window_grid_jobs(profile, dataset, g_rates, g_seeds)
    return ab.cross_architecture_jobs(profile, dataset, rates, seeds)


def notebook_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "notebooks"


def is_executed_notebook(path: str | os.PathLike) -> bool:
    """True when ``path`` is a notebook that :func:`execute` (or papermill, or jupytext's
    pairing with a ``notebooks/*.py`` source) wrote: such a file may be replaced."""
    import json

    path = Path(path)
    if path.suffix != ".ipynb":
        return False
    try:
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError, UnicodeDecodeError, AttributeError):
        return False
    if not isinstance(meta, dict):
        return False
    formats = str((meta.get("jupytext") or {}).get("formats", ""))
    return "evalib" in meta or "papermill" in meta or "py:percent" in formats


def declared_parameters(source: Path) -> list[str]:
    """Names assigned in the ``parameters`` cell of the notebook at ``source``."""
    import papermill

    return list(papermill.inspect_notebook(str(source)))


def execute(
    name: str,
    parameters: dict,
    output: Path | None = None,
    cwd: Path | None = None,
    progress: bool = True,
) -> Path:
    """Run ``notebooks/<name>.py`` through papermill; write the executed notebook to
    ``output`` (default: the paired ``notebooks/<name>.ipynb``, which the book shows).

    Checked before the kernel starts: the notebook exists, every parameter name is one its
    ``parameters`` cell declares, and ``output`` is absent or a notebook evalib executed
    before (any other file is never replaced). The output is replaced atomically, and only
    when the run succeeded; a failed run leaves the previous notebook as it was.
    """
    import tempfile

    import jupytext
    import nbformat
    import papermill

    from evalib.experiments import check_parameter_names
    from evalib.io import atomic_file, check_output_file

    folder = cwd or notebook_dir()
    script = folder / f"{name}.py"
    if not script.is_file():
        raise EvalibError(f"no notebook {name!r} in {folder}; known: {', '.join(NOTEBOOKS)}")
    out = Path(output) if output is not None else folder / f"{name}.ipynb"
    check_output_file(out, "executed notebook", is_executed_notebook, what="output")
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / f"{name}.ipynb"
        jupytext.write(jupytext.read(script), source)
        check_parameter_names(parameters, declared_parameters(source))
        done = Path(tmp) / "executed.ipynb"
        papermill.execute_notebook(
            str(source), str(done), parameters=parameters, cwd=str(folder),
            kernel_name="python3", progress_bar=progress, log_output=False,
        )  # fmt: skip
        if name not in SHOW_CODE:
            fold_code(done)
        nb = nbformat.read(done, as_version=4)
        nb.metadata["evalib"] = {"kind": "executed notebook", "notebook": name}
        with atomic_file(out, "w") as fh:
            nbformat.write(nb, fh)
    return out


SHOW_CODE = ("00_walkthrough",)  # the classroom page keeps its code open


def fold_code(path: Path) -> None:
    """Tag every code cell but the parameters ``hide-input``: the book shows results
    first and the code behind a "show code" toggle."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    keep = {"parameters", "injected-parameters"}
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if cell.cell_type == "code" and not keep & set(tags) and "hide-input" not in tags:
            tags.append("hide-input")
    nbformat.write(nb, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu", choices=("smoke", "cpu", "paper"))
    parser.add_argument("--only", nargs="*", default=None, help="notebook names to run")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--executor", default="serial", choices=("serial", "process", "ray"))
    parser.add_argument(
        "--ray-address",
        default=None,
        help='Ray cluster for --executor ray ("auto", "host:6379"); default: one per notebook',
    )
    args = parser.parse_args(argv)
    from papermill.exceptions import PapermillExecutionError

    os.environ["EVALIB_PROGRESS"] = "0"  # committed notebooks show results, not bars
    names = args.only or NOTEBOOKS
    unknown = [n for n in names if n not in NOTEBOOKS]
    if unknown:
        print(f"reproduce: error: --only {unknown[0]!r} is not a notebook; known: "
              f"{', '.join(NOTEBOOKS)}", file=sys.stderr)  # fmt: skip
        return 2
    for i, name in enumerate(names, 1):
        for dataset in DATASETS.get(name, ("organamnist",)):
            params = {"profile": args.profile, "dataset": dataset, "executor": args.executor,
                      **notebook_parameters(name, args.profile)}  # fmt: skip
            if args.data_root:
                params["data_root"] = args.data_root
            if args.ray_address:
                params["ray_address"] = args.ray_address
            folder = notebook_dir()
            out = None if dataset == DATASETS.get(name, ("organamnist",))[0] else (
                folder / "extra" / f"{name}_{dataset}.ipynb"
            )  # fmt: skip
            t0 = time.perf_counter()
            print(f"[{i}/{len(names)}] {name} · {dataset} · profile {args.profile}", flush=True)
            try:
                execute(name, params, out)
            except EvalibError as exc:
                print(f"reproduce: error: {exc.cli_message}", file=sys.stderr)
                return 2
            except PapermillExecutionError as exc:  # a cell failed: name it in one line
                print(f"reproduce: error: {name} ({dataset}) failed: {exc.ename}: "
                      f"{exc.evalue}", file=sys.stderr)  # fmt: skip
                return 1
            print(f"    done in {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
