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


def execute(
    name: str,
    parameters: dict,
    output: Path | None = None,
    cwd: Path | None = None,
    progress: bool = True,
) -> Path:
    """Run ``notebooks/<name>.py`` through papermill; write the executed notebook to
    ``output`` (default: the paired ``notebooks/<name>.ipynb``, which the book shows).

    Before the run, the repository URL of ``_config.yml`` is written into the notebook's
    install cell (:data:`INSTALL_PLACEHOLDER`); after it, the parameter cells are folded
    away, the code of results pages is folded (:func:`fold_code`), and pages run for
    several datasets get the dataset in their title (:func:`title_with_dataset`)."""
    import tempfile

    import jupytext
    import papermill

    folder = cwd or notebook_dir()
    out = Path(output) if output is not None else folder / f"{name}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / f"{name}.ipynb"
        nb = jupytext.read(folder / f"{name}.py")
        fill_repository_url(nb, repository_url())
        jupytext.write(nb, source)
        papermill.execute_notebook(
            str(source), str(out), parameters=parameters, cwd=str(folder),
            kernel_name="python3", progress_bar=progress, log_output=False,
        )  # fmt: skip
    hide_parameters(out)
    if name not in SHOW_CODE:
        fold_code(out)
    if name in DATASETS and parameters.get("dataset"):
        title_with_dataset(out, str(parameters["dataset"]))
    return out


SHOW_CODE = ("00_walkthrough",)  # the classroom page keeps its code open
#: in each notebook's install cell; replaced by ``repository.url`` of ``_config.yml``
INSTALL_PLACEHOLDER = "{repository_url}"


def repository_url(config: Path | None = None) -> str:
    """``repository.url`` of the book's ``_config.yml`` ("" when unset or unreadable)."""
    path = config or notebook_dir().parent / "_config.yml"
    try:
        import yaml

        data = yaml.safe_load(path.read_text()) or {}
    except (ImportError, OSError, ValueError):
        return ""
    repo = data.get("repository") or {}
    return str(repo.get("url") or "") if isinstance(repo, dict) else ""


def fill_repository_url(nb, url: str) -> int:
    """Write ``url`` over :data:`INSTALL_PLACEHOLDER` in the code cells of ``nb`` (in
    place); returns how many cells changed."""
    n = 0
    for cell in nb.cells:
        if cell.cell_type == "code" and INSTALL_PLACEHOLDER in cell.source:
            cell.source = cell.source.replace(INSTALL_PLACEHOLDER, url)
            n += 1
    return n


def _tag(cell, tag: str) -> None:
    tags = cell.metadata.setdefault("tags", [])
    if tag not in tags:
        tags.append(tag)


def hide_parameters(path: Path) -> None:
    """Tag the parameter cells (the notebook's and papermill's injected one)
    ``hide-cell``: the book folds them behind a toggle, and the page opens with its
    title and the profile banner the next cell prints."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if {"parameters", "injected-parameters"} & set(cell.metadata.get("tags", [])):
            _tag(cell, "hide-cell")
    nbformat.write(nb, path)


def fold_code(path: Path) -> None:
    """Tag every other code cell ``hide-input``: the book shows results first and the
    code behind a "show code" toggle."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    keep = {"parameters", "injected-parameters", "remove-cell"}
    for cell in nb.cells:
        if cell.cell_type == "code" and not keep & set(cell.metadata.get("tags", [])):
            _tag(cell, "hide-input")
    nbformat.write(nb, path)


def title_with_dataset(path: Path, dataset: str) -> None:
    """Append the dataset's name to the notebook's first heading (its page title), so
    the pages of one notebook run on two datasets have different titles in the
    navigation, the search results and the Previous / Next links."""
    import nbformat

    from evalib.ablations import dataset_title

    nb = nbformat.read(path, as_version=4)
    name = dataset_title(dataset)
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.split("\n")
        for i, line in enumerate(lines):
            if line.startswith("# "):
                if not line.rstrip().endswith(name):
                    lines[i] = f"{line.rstrip()} · {name}"
                cell.source = "\n".join(lines)
                nbformat.write(nb, path)
                return


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
