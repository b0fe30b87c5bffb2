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
        "06_cross_architecture": {"seeds": [0], "rates": [0.05, 0.3]},
        # PIE trains K dense and K emphasis networks on the full training split
        "07_pruning_identified": {"dataset": "bloodmnist"},
    },
}


def notebook_parameters(name: str, profile: str) -> dict:
    """Extra papermill parameters of ``name`` at ``profile`` (empty when none)."""
    return dict(PARAMETERS.get(profile, {}).get(name, {}))


def notebook_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "notebooks"


def execute(
    name: str,
    parameters: dict,
    output: Path | None = None,
    cwd: Path | None = None,
    progress: bool = True,
) -> Path:
    """Run ``notebooks/<name>.py`` through papermill; write the executed notebook to
    ``output`` (default: the paired ``notebooks/<name>.ipynb``, which the book shows)."""
    import tempfile

    import jupytext
    import papermill

    folder = cwd or notebook_dir()
    out = Path(output) if output is not None else folder / f"{name}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / f"{name}.ipynb"
        jupytext.write(jupytext.read(folder / f"{name}.py"), source)
        papermill.execute_notebook(
            str(source), str(out), parameters=parameters, cwd=str(folder),
            kernel_name="python3", progress_bar=progress, log_output=False,
        )  # fmt: skip
    if name not in SHOW_CODE:
        fold_code(out)
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
    os.environ["EVALIB_PROGRESS"] = "0"  # committed notebooks show results, not bars
    names = args.only or NOTEBOOKS
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
            execute(name, params, out)
            print(f"    done in {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
