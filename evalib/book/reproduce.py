"""Execute every notebook with papermill at one profile (``make reproduce PROFILE=cpu``).

Notebooks run in ``notebooks/`` in order. At the book's profile (the one its committed
pages were executed at, :func:`evalib.book.booktext.book_profile`) each executed
notebook replaces the page the book shows; at any other profile the executed notebooks
go to a separate folder (``build/reproduce/<profile>/``, or ``--out-dir``) and the book
is left as it is, unless ``--in-place`` asks for its pages to be replaced. Jobs are
cached, so an interrupted run resumes where it stopped. ``--dataset`` runs the notebooks
for any MedMNIST 2D set (OrganSMNIST included) instead of the book's; one line per
finished job is printed while a notebook runs.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from evalib.errors import EvalibError
from evalib.runs.config import PROFILES

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
MULTI_DATASET = ("08_distillation", "10_claims")  # notebooks with a ``datasets`` parameter
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
        # PIE trains K dense and K emphasis networks on the full training split
        "07_pruning_identified": {"dataset": "bloodmnist"},
    },
}


#: Pages of the book executed at a profile other than the book's, kept beside its own pages
#: (``notebooks/extra/<name>_<profile>[_<dataset>].ipynb``): profile → notebook → the
#: datasets it is a page for. A reproduce run at such a profile writes these pages in place.
PROFILE_PAGES: dict[str, dict[str, tuple[str, ...]]] = {
    "cpu200": {
        "05_window_grid": ("bloodmnist", "organamnist"),
        "10_claims": ("bloodmnist", "organamnist"),
    },
}


def profile_page(name: str, profile: str, dataset: str | None = None) -> Path:
    """The book's page of notebook ``name`` executed at the second profile ``profile``."""
    tail = f"_{dataset}" if dataset and name not in MULTI_DATASET else ""
    return notebook_dir() / "extra" / f"{name}_{profile}{tail}.ipynb"


def notebook_parameters(name: str, profile: str) -> dict:
    """Extra papermill parameters of ``name`` at ``profile`` (empty when none)."""
    return dict(PARAMETERS.get(profile, {}).get(name, {}))


def notebook_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "notebooks"


def default_out_dir(profile: str) -> Path:
    """Where the executed notebooks of a profile other than the book's go:
    ``build/reproduce/<profile>/`` in the checkout (git-ignored; ``make clean`` removes it)."""
    return notebook_dir().parent / "build" / "reproduce" / profile


def executed_profile(page: str | os.PathLike) -> str | None:
    """The ``profile`` parameter a notebook was executed with (its papermill metadata),
    or None when it was not executed by papermill or cannot be read."""
    import json

    try:
        meta = json.loads(Path(page).read_text(encoding="utf-8"))["metadata"]
        return str(meta["papermill"]["parameters"]["profile"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


#: the page whose profile is the book's (as :func:`evalib.book.booktext.book_profile` reads it)
BOOK_PAGE = "10_claims"


def committed_profile() -> str:
    """The profile the book's committed pages were executed at: the claims page's
    papermill ``profile``, else ``cpu``."""
    return executed_profile(notebook_dir() / f"{BOOK_PAGE}.ipynb") or "cpu"


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

    Before the run, the cell that installs evalib where it is missing is put first, with
    the repository URL of ``_config.yml`` (:func:`add_install_cell`); after it, the parameter cells are folded
    away, the stray return values of plotting calls (``Text(...)``,
    ``[<matplotlib.lines.Line2D ...>]``) are dropped (:func:`drop_artist_reprs`), the
    code of results pages is folded (:func:`fold_code`), and pages run for several
    datasets get the dataset in their title (:func:`title_with_dataset`).

    Checked before the kernel starts: the notebook exists, every parameter name is one its
    ``parameters`` cell declares, and ``output`` is absent or a notebook evalib executed
    before (any other file is never replaced). The output is replaced atomically, and only
    when the run succeeded; a failed run leaves the previous notebook as it was.
    """
    import tempfile

    import jupytext
    import nbformat
    import papermill

    from evalib.book.notebook import check_parameter_names
    from evalib.io import atomic_file, check_output_file
    from evalib.studies import labels

    folder = cwd or notebook_dir()
    script = folder / f"{name}.py"
    if not script.is_file():
        raise EvalibError(f"no notebook {name!r} in {folder}; known: {', '.join(NOTEBOOKS)}")
    out = Path(output) if output is not None else folder / f"{name}.ipynb"
    check_output_file(out, "executed notebook", is_executed_notebook, what="output")
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / f"{name}.ipynb"
        nb = jupytext.read(script)
        add_install_cell(nb, repository_url())
        jupytext.write(nb, source)
        check_parameter_names(parameters, declared_parameters(source))
        done = Path(tmp) / "executed.ipynb"
        lines = Path(tmp) / "progress.log"
        with _echo_lines(lines if progress else None):
            papermill.execute_notebook(
                str(source), str(done), parameters=parameters, cwd=str(folder),
                kernel_name="python3", progress_bar=progress, log_output=False,
            )  # fmt: skip
        hide_parameters(done)
        drop_artist_reprs(done)
        if name not in SHOW_CODE:
            fold_code(done)
        profile = str(parameters.get("profile", ""))
        if name in PROFILE_PAGES.get(profile, {}):
            suffix = labels.profile_title(profile)
            if name not in MULTI_DATASET:
                suffix += " · " + labels.dataset_title(str(parameters["dataset"]))
            title_with(done, suffix)
        elif name in DATASETS and parameters.get("dataset"):
            title_with_dataset(done, str(parameters["dataset"]))
        nb = nbformat.read(done, as_version=4)
        nb.metadata["evalib"] = {"kind": "executed notebook", "notebook": name}
        with atomic_file(out, "w") as fh:
            nbformat.write(nb, fh)
    return out


def find_notebook(text: str) -> Path:
    """The notebook that ``text`` names: an existing ``.ipynb`` or jupytext ``.py`` file,
    else a notebook of the book by name (``02_benchmark``, any case: its ``.py`` source).
    One-line EvalibError otherwise."""
    from evalib.names import canonical

    path = Path(text).expanduser()
    if path.is_file():
        if path.suffix not in (".ipynb", ".py"):
            raise EvalibError(f"{text} is not a notebook: name an .ipynb or a jupytext .py file")
        return path
    if path.exists():
        raise EvalibError(f"{text} is a folder; name a notebook")
    if path.suffix or len(path.parts) > 1:
        raise EvalibError(f"no notebook {text}: no such file")
    name = canonical(text, NOTEBOOKS, "notebook")
    return notebook_dir() / f"{name}.py"


def notebook_parameters_declared(source: Path) -> dict[str, str]:
    """Name → type (papermill's inferred type name) of each parameter that the
    ``parameters`` cell of the notebook ``source`` (``.ipynb``) declares."""
    import papermill

    return {
        name: str(info.get("inferred_type_name") or "None")
        for name, info in papermill.inspect_notebook(str(source)).items()
    }


def run_notebook(
    source: str | os.PathLike,
    output: str | os.PathLike,
    parameters: dict,
    progress: bool = True,
) -> Path:
    """Execute the notebook ``source`` (``.ipynb``, or a jupytext ``.py``) with papermill
    into ``output``, after checking ``parameters`` against its ``parameters`` cell
    (names, types and values, :func:`evalib.book.notebook.check_parameters`) before any
    kernel starts. The kernel runs in the notebook's folder; one line per finished job is
    printed while it runs. ``output`` must be absent or a notebook evalib or papermill
    executed, in an existing folder; it is written atomically and only on success (a
    failed run raises ``PapermillExecutionError`` and leaves it as it was)."""
    import tempfile

    import jupytext
    import nbformat
    import papermill

    from evalib.book.notebook import check_parameters
    from evalib.io import atomic_file, check_output_file, check_parent

    source, out = Path(source), Path(output)
    check_parent(out, "output")
    check_output_file(out, "executed notebook", is_executed_notebook, what="output")
    if out.suffix != ".ipynb":
        raise EvalibError(f"output {out}: write an .ipynb file, not {out.suffix or 'no suffix'!r}")
    with tempfile.TemporaryDirectory() as tmp:
        if source.suffix == ".py":
            nb = jupytext.read(source)
            add_install_cell(nb, repository_url())
            staged = Path(tmp) / f"{source.stem}.ipynb"
            jupytext.write(nb, staged)
        else:
            staged = source
        try:
            declared = notebook_parameters_declared(staged)
        except (OSError, ValueError, KeyError) as exc:
            raise EvalibError(f"cannot read the notebook {source}: {exc}") from None
        check_parameters(parameters, declared)
        done = Path(tmp) / "executed.ipynb"
        lines = Path(tmp) / "progress.log"
        with _echo_lines(lines if progress else None):
            papermill.execute_notebook(
                str(staged), str(done), parameters=parameters, cwd=str(source.parent.resolve()),
                progress_bar=progress, log_output=False,
            )  # fmt: skip
        nb = nbformat.read(done, as_version=4)
        with atomic_file(out, "w") as fh:
            nbformat.write(nb, fh)
    return out


@contextlib.contextmanager
def _echo_lines(path: Path | None, prefix: str = "    ") -> Iterator[None]:
    """While the block runs, print each line that the notebook's kernel writes to ``path``
    (it finds the file in ``$EVALIB_PROGRESS_FILE``): job progress reaches the terminal
    without entering the executed notebook."""
    from evalib.progress import ENV_PROGRESS_FILE

    if path is None:
        yield
        return
    path.touch()
    stop = threading.Event()

    def follow() -> None:
        with open(path, encoding="utf-8") as fh:
            while True:
                line = fh.readline()
                if line:
                    print(prefix + line.rstrip(), flush=True)
                elif stop.is_set():  # the block ended: lines written since the last read
                    for rest in fh:
                        print(prefix + rest.rstrip(), flush=True)
                    return
                else:
                    time.sleep(0.5)

    before = os.environ.get(ENV_PROGRESS_FILE)
    os.environ[ENV_PROGRESS_FILE] = str(path)  # the kernel inherits the environment
    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
        if before is None:
            os.environ.pop(ENV_PROGRESS_FILE, None)
        else:
            os.environ[ENV_PROGRESS_FILE] = before


SHOW_CODE = ("00_walkthrough",)  # the classroom page keeps its code open
#: in the install cell (:data:`INSTALL_CELL`); replaced by ``repository.url`` of ``_config.yml``
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


INSTALL_CELL = """\
# Where evalib is missing (this notebook opened in Colab or Binder), install it: from the
# checkout this notebook sits in, else from the repository the book was built from.
# Nothing happens where evalib is installed.
import importlib.util
import subprocess
import sys
from pathlib import Path

EVALIB_REPOSITORY = "{repository_url}"  # written by evalib.book.reproduce from _config.yml
if importlib.util.find_spec("evalib") is None:
    checkout = Path.cwd().parent
    if (checkout / "pyproject.toml").exists():
        source = str(checkout)
    elif EVALIB_REPOSITORY.startswith("http"):
        source = f"git+{EVALIB_REPOSITORY}"
    else:
        raise ModuleNotFoundError("evalib is not installed: pip install it from its repository")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", source], check=True)"""


def add_install_cell(nb, url: str) -> None:
    """Make the first code cell of ``nb`` the (hidden) cell that installs evalib where it
    is missing, with ``url`` as the repository (in place; once). The notebook sources
    leave it out: every executed notebook gets the same cell from here."""
    import nbformat

    nb.cells = [c for c in nb.cells if not _is_install_cell(c)]
    source = INSTALL_CELL.replace(INSTALL_PLACEHOLDER, url)
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["remove-cell"]})
    first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
    nb.cells.insert(first_code, cell)


def _is_install_cell(cell) -> bool:
    return cell.cell_type == "code" and "EVALIB_REPOSITORY = " in cell.source


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


#: the plain-text repr of what a plotting call returns (``fig.suptitle(...)`` as the last
#: line of a cell gives ``Text(0.5, 0.98, '...')``): a matplotlib or seaborn object, a
#: ``Text``, or a list of them; such an output says nothing to a reader
ARTIST_REPR = re.compile(
    r"""^\s*(?:
        \[?\s*(?:Text\(.*?\)\s*,?\s*)+\]?  # Text(...), [Text(...), ...]
      | \[?\s*(?:<(?:matplotlib|seaborn|mpl_toolkits)\.[^<>]*>\s*,?\s*)+\]?  # <matplotlib.X ...>
      | <(?:Figure|Axes|BarContainer|ErrorbarContainer|StemContainer)\b[^<>]*>
    )\s*$""",
    re.VERBOSE | re.DOTALL,
)


def is_artist_repr(output: dict) -> bool:
    """True for an ``execute_result`` whose only content is the plain-text repr of a
    plotting object (:data:`ARTIST_REPR`)."""
    if output.get("output_type") != "execute_result":
        return False
    data = output.get("data") or {}
    text = data.get("text/plain", "")
    text = "".join(text) if isinstance(text, list) else str(text)
    return set(data) == {"text/plain"} and bool(ARTIST_REPR.match(text))


def drop_artist_reprs(path: Path) -> int:
    """Remove from the notebook at ``path`` the outputs :func:`is_artist_repr` matches
    (the figure itself, a separate ``display_data`` output, stays); returns how many."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    n = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        keep = [o for o in cell.get("outputs", []) if not is_artist_repr(o)]
        n += len(cell.get("outputs", [])) - len(keep)
        cell.outputs = keep
    if n:
        nbformat.write(nb, path)
    return n


def fold_code(path: Path) -> None:
    """Tag every other code cell ``hide-input``: the book shows results first and the
    code behind a "show code" toggle. Cells tagged ``remove-input`` (the generated "What
    this shows") keep showing their output only."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    keep = {"parameters", "injected-parameters", "remove-cell", "remove-input"}
    for cell in nb.cells:
        if cell.cell_type == "code" and not keep & set(cell.metadata.get("tags", [])):
            _tag(cell, "hide-input")
    nbformat.write(nb, path)


def title_with_dataset(path: Path, dataset: str) -> None:
    """Append the dataset's name to the notebook's first heading (its page title), so
    the pages of one notebook run on two datasets have different titles in the
    navigation, the search results and the Previous / Next links."""
    from evalib.studies.labels import dataset_title

    title_with(path, dataset_title(dataset))


def title_with(path: Path, name: str) -> None:
    """Append `` · name`` to the notebook's first heading (its page title), once."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
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


@dataclass(frozen=True)
class Run:
    """One notebook execution: ``name`` with ``parameters``, written to ``output`` (None:
    the book's page ``notebooks/<name>.ipynb``; other pages of the book are
    ``notebooks/extra/<name>_<dataset>.ipynb``)."""

    name: str
    parameters: dict
    output: Path | None


NEEDS = ("papermill", "jupytext", "nbformat", "ipykernel", "matplotlib", "seaborn")


def missing_modules(names: tuple[str, ...] = NEEDS) -> list[str]:
    """Which of the notebooks' requirements are not importable here."""
    return [n for n in names if importlib.util.find_spec(n) is None]


def plan(
    profile: str,
    only: list[str] | None = None,
    datasets: list[str] | None = None,
    data_root: str | None = None,
    executor: str = "serial",
    ray_address: str | None = None,
    out_dir: Path | None = None,
) -> list[Run]:
    """Every notebook execution of a reproduce run, in order (nothing is executed).

    ``datasets`` (MedMNIST flags, any case): the datasets to run instead of the book's:
    each per-dataset notebook runs for each of them (the first is the page, the others go
    to ``notebooks/extra/``), the single-dataset notebooks run for the first one, and the
    notebooks with a ``datasets`` parameter get the whole list. ``out_dir``: write every
    executed notebook there (same layout: ``<name>.ipynb``, ``extra/...``) instead of
    replacing the book's pages."""
    from evalib.data import dataset_info
    from evalib.names import canonical

    pages = PROFILE_PAGES.get(profile, {})
    default = list(pages) if pages else list(NOTEBOOKS)
    names = [canonical(n, NOTEBOOKS, "notebook") for n in only] if only else default
    flags = list(dict.fromkeys(dataset_info(d).flag for d in datasets or []))
    folder = notebook_dir()
    runs = []
    for name in names:
        book = pages.get(name) or DATASETS.get(name, ("organamnist",))
        for i, dataset in enumerate(flags or book):
            if flags and i and name not in DATASETS:
                break  # a single-dataset notebook runs once, for the first dataset
            params = {"profile": profile, "dataset": dataset, "executor": executor,
                      **notebook_parameters(name, profile)}  # fmt: skip
            if flags:
                params["dataset"] = dataset  # the user's choice wins over the book's
                if name in MULTI_DATASET:
                    params["datasets"] = flags
            elif name in pages and name in MULTI_DATASET:
                params["datasets"] = list(book)
            if data_root:
                params["data_root"] = data_root
            if ray_address:
                params["ray_address"] = ray_address
            out = None if i == 0 else folder / "extra" / f"{name}_{dataset}.ipynb"
            if name in pages:
                out = profile_page(name, profile, dataset)
                if name in MULTI_DATASET and i:
                    break
            if out_dir is not None:
                out = Path(out_dir) / (out or folder / f"{name}.ipynb").relative_to(folder)
            runs.append(Run(name, params, out))
    return runs


def build_parser() -> argparse.ArgumentParser:
    from evalib.io import HelpFormatter

    parser = argparse.ArgumentParser(
        prog="python -m evalib.book.reproduce",
        description=__doc__.split("\n\n")[0],
        formatter_class=HelpFormatter,
        epilog="""examples:
  python -m evalib.book.reproduce --profile smoke --only 02_benchmark
  python -m evalib.book.reproduce --profile cpu --no-train   pages from the committed results only
  python -m evalib.book.reproduce --profile cpu --dataset organsmnist     OrganSMNIST pages
  make reproduce PROFILE=paper DATASETS="organsmnist organamnist"     then builds the book""",
    )
    parser.add_argument("--profile", default="cpu", choices=tuple(PROFILES),
                        help="scale of every notebook")  # fmt: skip
    parser.add_argument("--only", nargs="*", default=None, metavar="NOTEBOOK",
                        help="notebooks to run (default: all, in order)")  # fmt: skip
    parser.add_argument("--dataset", "--datasets", dest="datasets", nargs="+", default=None,
                        metavar="DATASET", help="MedMNIST 2D flags to run instead of the "
                        "book's (OrganAMNIST and BloodMNIST)")  # fmt: skip
    parser.add_argument("--data-root", default=None, help="folder with <flag>.npz "
                        "(default: $EVALIB_DATA_ROOT, else ~/.medmnist)")  # fmt: skip
    parser.add_argument("--executor", default="serial", choices=("serial", "process", "ray"),
                        help="where each notebook's jobs run")  # fmt: skip
    parser.add_argument(
        "--ray-address",
        default=None,
        help='Ray cluster for --executor ray ("auto", "host:6379"); default: one per notebook',
    )
    parser.add_argument("--no-train", action="store_true",
                        help="show only the results already in results/ (each page says how "
                        "many of its jobs are missing); train nothing")  # fmt: skip
    parser.add_argument("--out-dir", default=None, metavar="DIR",
                        help="where the executed notebooks go when --profile is not the "
                        "book's (default: build/reproduce/<profile>/, created; a DIR you "
                        "name must lie in an existing folder)")  # fmt: skip
    parser.add_argument("--in-place", action="store_true",
                        help="replace the book's pages (notebooks/*.ipynb) even when "
                        "--profile is not the profile they were executed at")  # fmt: skip
    return parser


def output_folder(
    profile: str, out_dir: str | None, in_place: bool, names: list[str] | None = None
) -> Path | None:
    """Where a reproduce run at ``profile`` writes its executed notebooks: None (the book's
    pages) at the book's profile, with ``in_place``, or when every notebook run (``names``;
    None: the profile's default) is a page of the book at that profile
    (:data:`PROFILE_PAGES`); else ``out_dir`` or
    :func:`default_out_dir`, checked (and created) before anything runs."""
    from evalib.io import check_parent, claim_dir

    if in_place:
        if out_dir is not None:
            raise EvalibError("--in-place and --out-dir exclude each other")
        return None
    if out_dir is None and profile == committed_profile():
        return None
    if (
        out_dir is None
        and profile in PROFILE_PAGES
        and set(names or PROFILE_PAGES[profile]) <= set(PROFILE_PAGES[profile])
    ):
        return None  # the book's pages at a second profile
    if out_dir is not None:
        check_parent(out_dir, "--out-dir")
        folder = Path(out_dir).expanduser()
    else:
        folder = default_out_dir(profile)
    return claim_dir(folder, "executed notebooks", what="--out-dir")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.data_root is not None and not Path(args.data_root).expanduser().is_dir():
            raise EvalibError(f"--data-root {args.data_root}: no such folder")
        checked = plan(args.profile, args.only, args.datasets)  # names checked before any folder
        names = list(dict.fromkeys(r.name for r in checked))
        out_dir = output_folder(args.profile, args.out_dir, args.in_place, names)
        runs = plan(args.profile, args.only, args.datasets, args.data_root, args.executor,
                    args.ray_address, out_dir)  # fmt: skip
    except EvalibError as exc:
        print(f"evalib.book.reproduce: error: {exc.cli_message}", file=sys.stderr)
        return 2
    missing = missing_modules()
    if missing:
        print(f"evalib.book.reproduce: error: running the notebooks needs {', '.join(missing)}: "
              "pip install 'evalib[notebooks]' (or make setup)", file=sys.stderr)  # fmt: skip
        return 2
    os.environ["EVALIB_PROGRESS"] = "0"  # committed notebooks show results, not bars
    if args.no_train:
        os.environ["EVALIB_TRAIN_MISSING"] = "0"  # the kernels inherit it (Setup.run)
    from papermill.exceptions import PapermillExecutionError

    names = list(dict.fromkeys(r.name for r in runs))
    for run in runs:
        i = names.index(run.name) + 1
        t0 = time.perf_counter()
        dataset = run.parameters["dataset"]
        print(f"[{i}/{len(names)}] {run.name} · {dataset} · profile {args.profile}", flush=True)
        try:
            execute(run.name, run.parameters, run.output)
        except EvalibError as exc:
            print(f"evalib.book.reproduce: error: {exc.cli_message}", file=sys.stderr)
            return 2
        except PapermillExecutionError as exc:  # a cell failed: name it in one line
            print(f"evalib.book.reproduce: error: {run.name} ({dataset}) failed: {exc.ename}: "
                  f"{exc.evalue}", file=sys.stderr)  # fmt: skip
            return 1
        print(f"    done in {time.perf_counter() - t0:.0f} s", flush=True)
    if out_dir is not None:
        print(f"the executed notebooks are in {out_dir}; the book's pages (profile "
              f"{committed_profile()}) were left as they are (--in-place replaces them)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
