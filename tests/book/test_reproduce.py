"""`python -m evalib.book.reproduce` argument handling (nothing is executed), the notebooks' typed
parameters cells, and the one-line-per-job progress that papermill runs show."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from evalib.book import reproduce as rp
from evalib.errors import EvalibError
from evalib.progress import JOB_LOGGER, JobProgress, duration, log_job_progress

ROOT = Path(__file__).resolve().parents[2]


def test_default_plan_is_the_books():
    runs = rp.plan("cpu")
    assert [r.name for r in runs if r.output is None] == list(rp.NOTEBOOKS)
    bench = [r for r in runs if r.name == "02_benchmark"]
    assert [r.parameters["dataset"] for r in bench] == ["organamnist", "bloodmnist"]
    assert bench[1].output == rp.notebook_dir() / "extra" / "02_benchmark_bloodmnist.ipynb"
    pie = next(r for r in runs if r.name == "07_pruning_identified")
    assert pie.parameters["dataset"] == "bloodmnist"  # the cpu book's stated part


def test_plan_for_organsmnist():
    runs = rp.plan("paper", datasets=["OrganSMNIST"], data_root="/data")
    assert {r.parameters["dataset"] for r in runs} == {"organsmnist"}
    assert all(r.output is None for r in runs)  # one dataset: every page is OrganSMNIST's
    assert len(runs) == len(rp.NOTEBOOKS)
    claims = next(r for r in runs if r.name == "10_claims")
    assert claims.parameters["datasets"] == ["organsmnist"]
    assert all(r.parameters["data_root"] == "/data" for r in runs)


def test_plan_for_two_datasets_and_some_notebooks():
    runs = rp.plan("smoke", only=["02_BENCHMARK", "00_walkthrough"],
                   datasets=["bloodmnist", "organsmnist", "bloodmnist"])  # fmt: skip
    assert [(r.name, r.parameters["dataset"], r.output is None) for r in runs] == [
        ("02_benchmark", "bloodmnist", True),
        ("02_benchmark", "organsmnist", False),
        ("00_walkthrough", "bloodmnist", True),
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"datasets": ["organsmnst"]},
            r"unknown dataset 'organsmnst' \(did you mean 'organsmnist'",
        ),
        ({"datasets": ["chestmnist"]}, "multi-label"),
        ({"only": ["02_bench"]}, r"unknown notebook '02_bench' \(did you mean '02_benchmark'"),
    ],
)
def test_plan_refuses_bad_names(kwargs, message):
    with pytest.raises(EvalibError, match=message):
        rp.plan("cpu", **kwargs)


def test_main_reports_bad_names_in_one_line(capsys):
    assert rp.main(["--profile", "smoke", "--datasets", "nosuchmnist"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("evalib.book.reproduce: error: unknown dataset") and "\n" not in err


def test_missing_notebook_packages_explained_in_one_line():
    """Without the notebooks extra, one line names the extra instead of a traceback."""
    code = (
        "import sys, importlib.util as u\n"
        "real = u.find_spec\n"
        "u.find_spec = lambda n, *a: None if n in ('papermill', 'jupytext') else real(n, *a)\n"
        "from evalib.book.reproduce import main\n"
        "sys.exit(main(['--profile', 'smoke', '--only', '02_benchmark']))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert lines == [
        "evalib.book.reproduce: error: running the notebooks needs papermill, jupytext: "
        "pip install 'evalib[notebooks]' (or make setup)"
    ]


def test_reproduce_help_shows_dataset_option():
    out = subprocess.run([sys.executable, "-m", "evalib.book.reproduce", "--help"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "--dataset DATASET [DATASET ...], --datasets DATASET [DATASET ...]" in out
    assert "(default: cpu)" in out and "organsmnist" in out


# ----------------------------------------------------------------------------- papermill


def _parameters(source: str) -> list[str]:
    return [line for line in source.splitlines() if re.match(r"^\w+\s*[:=]", line)]


@pytest.mark.parametrize("name", rp.NOTEBOOKS)
def test_parameters_cells_are_typed(name):
    """`papermill --help-notebook` shows a type for every parameter, in the .py and in the
    paired .ipynb (which papermill reads)."""
    papermill = pytest.importorskip("papermill")
    params = papermill.inspect_notebook(str(ROOT / "notebooks" / f"{name}.ipynb"))
    assert params, name
    untyped = [p for p, v in params.items() if v["inferred_type_name"] == "None"]
    assert not untyped, f"{name}: no type for {untyped}"
    for p, v in params.items():
        if v["default"] == "None":
            assert v["inferred_type_name"].startswith("Optional["), (name, p)
        if "list[" in v["inferred_type_name"]:
            assert f'-y "{p}: [' in v["help"], (name, p)  # how to pass a list
    jupytext = pytest.importorskip("jupytext")
    py = jupytext.read(ROOT / "notebooks" / f"{name}.py")
    ipynb = jupytext.read(ROOT / "notebooks" / f"{name}.ipynb")

    def cell(nb):
        return next(c.source for c in nb.cells if "parameters" in c.metadata.get("tags", []))

    assert cell(py) == cell(ipynb), f"{name}: .py and .ipynb parameters differ"


def test_list_passed_as_text_gets_the_y_hint(tmp_path):
    from evalib.book.notebook import notebook_setup

    with pytest.raises(EvalibError, match=r'give lists as YAML, e.g. -y "seeds: \[0, 1\]"'):
        notebook_setup("smoke", "organamnist", tmp_path, seeds="[0, 1]")


# ----------------------------------------------------------------------------- progress


@pytest.fixture
def job_log():
    """Restores the job logger after a test changed its destination."""
    yield
    log = logging.getLogger(JOB_LOGGER)
    for h in [h for h in log.handlers if getattr(h, "_evalib", False)]:
        log.removeHandler(h)
        h.close()


def test_one_line_per_finished_job_with_eta(job_log, tmp_path, monkeypatch):
    monkeypatch.delenv("EVALIB_PROGRESS_FILE", raising=False)
    path = tmp_path / "progress.log"
    log_job_progress(path)
    clock = iter([100.0, 130.0, 160.0, 190.0])
    monkeypatch.setattr("evalib.progress.time.perf_counter", lambda: next(clock))
    rows = [{"method": "eva", "rate": 0.05, "seed": s, "dataset": "organamnist"} for s in (0, 1)]
    with JobProgress(total=5, done=2) as jp:
        assert jp.lines and jp.bar.disable
        for row in rows:
            jp.update(row)
        jp.update(None)
    lines = [line.split(" evalib: ", 1)[1] for line in path.read_text().splitlines()]
    assert lines == [
        "jobs: 3 to run, 2 of 5 already done",
        "jobs 3/5 done · eva 5% seed 0 (organamnist) · 30s elapsed · ETA 1m00s",
        "jobs 4/5 done · eva 5% seed 1 (organamnist) · 1m00s elapsed · ETA 30s",
        "jobs 5/5 done · 1m30s elapsed · ETA 0s",
    ]


def test_lines_go_to_stderr_unless_silenced(job_log, monkeypatch, capsys):
    monkeypatch.delenv("EVALIB_PROGRESS_FILE", raising=False)
    monkeypatch.setenv("EVALIB_PROGRESS", "1")
    log_job_progress()
    with JobProgress(total=1) as jp:
        jp.update({"method": "random", "rate": 0.3, "seed": 2})
    err = capsys.readouterr().err
    assert "evalib: jobs 1/1 done · random 30% seed 2" in err
    monkeypatch.setenv("EVALIB_PROGRESS", "0")
    assert log_job_progress() is None  # silenced: no destination, back to the (silent) bar
    with JobProgress(total=1) as jp:
        assert not jp.lines
        jp.update({"method": "random"})
    assert "evalib:" not in capsys.readouterr().err


def test_run_jobs_reports_each_job(job_log, tmp_path, monkeypatch):
    """run_jobs reports every job its executor finishes (the executor here only returns rows)."""
    from evalib.runs.batch import run_jobs
    from evalib.runs.cache import Cache
    from evalib.runs.config import DataSpec, Job, SelectionSpec

    class Rows:
        def run(self, fn, items):
            for job in items:
                yield {"method": job.method, "rate": job.rate, "seed": job.seed}

    path = tmp_path / "lines.log"
    log_job_progress(path)
    jobs = [Job(DataSpec("organamnist"), SelectionSpec.make("random", r), None, seed=s)
            for r in (0.05, 0.3) for s in (0, 1)]  # fmt: skip
    table = run_jobs(jobs, Cache.at(tmp_path / "results", tmp_path / "scratch"),
                        executor=Rows())  # fmt: skip
    assert table.empty  # nothing was cached by this executor
    text = path.read_text()
    assert "jobs: 4 to run, 0 of 4 already done" in text
    assert "jobs 4/4 done · random 30% seed 1" in text and text.count(" done · ") == 4


def test_reproduce_echoes_kernel_lines(tmp_path, capsys, monkeypatch):
    """What a notebook's kernel writes to $EVALIB_PROGRESS_FILE reaches the terminal."""
    monkeypatch.delenv("EVALIB_PROGRESS_FILE", raising=False)
    path = tmp_path / "p.log"
    with rp._echo_lines(path):
        import os

        with open(os.environ["EVALIB_PROGRESS_FILE"], "a") as fh:
            fh.write("12:00:00 evalib: jobs 1/2 done\n")
    assert "EVALIB_PROGRESS_FILE" not in __import__("os").environ
    assert "    12:00:00 evalib: jobs 1/2 done" in capsys.readouterr().out


@pytest.mark.parametrize(("seconds", "text"), [(5, "5s"), (75, "1m15s"), (5400, "1h30m")])
def test_duration(seconds, text):
    assert duration(seconds) == text


def test_no_train_reaches_the_kernels_through_the_environment(monkeypatch, tmp_path):
    seen = []
    monkeypatch.setattr(
        rp, "execute", lambda *a, **k: seen.append(os.environ.get("EVALIB_TRAIN_MISSING"))
    )
    monkeypatch.setattr(rp, "missing_modules", lambda: [])
    monkeypatch.setenv("EVALIB_TRAIN_MISSING", "1")  # restored after the test
    monkeypatch.setenv("EVALIB_PROGRESS", "1")
    argv = ["--profile", "smoke", "--only", "05_window_grid", "--no-train"]
    assert rp.main([*argv, "--out-dir", str(tmp_path / "pages")]) == 0
    assert seen and set(seen) == {"0"}


def test_toc_lists_every_extra_dataset_page_of_the_dataset_map():
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = {}
    for part in toc["parts"]:
        for chapter in part["chapters"]:
            files[chapter["file"]] = [s["file"] for s in chapter.get("sections", [])]
    extra = {f"notebooks/{nb}": [f"notebooks/extra/{nb}_{d}" for d in ds[1:]]
             for nb, ds in rp.DATASETS.items()}  # fmt: skip
    # then the pages at a second profile that have been executed (PROFILE_PAGES)
    for profile, pages in rp.PROFILE_PAGES.items():
        for nb, ds in pages.items():
            done = dict.fromkeys(rp.profile_page(nb, profile, d) for d in ds)
            extra.setdefault(f"notebooks/{nb}", []).extend(
                str(p.relative_to(ROOT).with_suffix("")) for p in done if p.exists()
            )
    for page, sections in extra.items():
        assert files.get(page) == sections, page
    listed = {s for sections in files.values() for s in sections if "/extra/" in s}
    assert listed == {s for sections in extra.values() for s in sections}


@pytest.mark.parametrize(
    ("text", "artist"),
    [
        ("Text(0.5, 0.98, 'one training image per class · organamnist')", True),
        ("[<matplotlib.lines.Line2D at 0x7f3c>,\n <matplotlib.lines.Line2D at 0x7f3d>]", True),
        ("[Text(0, 0.5, 'a'), Text(1, 0.5, 'b')]", True),
        ("<Figure size 800x300 with 2 Axes>", True),
        ("<seaborn.axisgrid.FacetGrid at 0x7f1>", True),
        ("<BarContainer object of 5 artists>", True),
        ("(0.0, 1.0)", False),
        ("'Text(1)'", False),
        ("42", False),
    ],
)
def test_artist_reprs_are_recognised(text, artist):
    out = {"output_type": "execute_result", "data": {"text/plain": text}}
    assert rp.is_artist_repr(out) is artist
    rich = {"output_type": "execute_result", "data": {"text/plain": text, "text/html": "<b/>"}}
    assert not rp.is_artist_repr(rich)  # an object with a rich display is kept


def test_drop_artist_reprs_keeps_the_figure_and_real_results(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    text = new_output("execute_result", {"text/plain": "Text(0.5, 0.98, 'title')"},
                      execution_count=1)  # fmt: skip
    image = new_output("display_data", {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})
    value = new_output("execute_result", {"text/plain": "3"}, execution_count=2)
    nb = new_notebook(cells=[new_code_cell("fig.suptitle('title')", outputs=[image, text]),
                             new_code_cell("1 + 2", outputs=[value])])  # fmt: skip
    path = tmp_path / "page.ipynb"
    nbformat.write(nb, path)
    assert rp.drop_artist_reprs(path) == 1
    cells = nbformat.read(path, as_version=4).cells
    assert [o["output_type"] for o in cells[0].outputs] == ["display_data"]
    assert cells[1].outputs[0]["data"]["text/plain"] == "3"
    assert rp.drop_artist_reprs(path) == 0  # idempotent


# ----------------------------------------------------------------------------- the committed book


@pytest.fixture
def executed(monkeypatch, tmp_path):
    """Record the outputs main() would execute notebooks into (nothing is executed)."""
    seen: list = []
    monkeypatch.setattr(rp, "execute", lambda name, params, output=None, **k: seen.append(output))
    monkeypatch.setattr(rp, "missing_modules", lambda: [])
    monkeypatch.setattr(rp, "default_out_dir", lambda profile: tmp_path / "build" / profile)
    monkeypatch.setenv("EVALIB_PROGRESS", "1")  # main sets it to 0: restored after the test
    return seen


def _git_status() -> str:
    return subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout  # fmt: skip


def test_the_committed_pages_name_the_book_profile():
    """The book's profile is read from its committed pages: every page was executed at it,
    but the pages of a second profile (:data:`PROFILE_PAGES`), executed at theirs."""
    import json

    from evalib.book.booktext import book_profile

    profile = rp.committed_profile()
    assert profile == book_profile()  # the pages and the generated text agree
    second = {rp.profile_page(nb, q, d): q for q, pages in rp.PROFILE_PAGES.items()
              for nb, ds in pages.items() for d in ds}  # fmt: skip
    pages = sorted(rp.notebook_dir().glob("*.ipynb")) + sorted(
        rp.notebook_dir().glob("extra/*.ipynb")
    )
    for page in pages:
        meta = json.loads(page.read_text())["metadata"]
        expected = second.get(page.resolve(), profile)
        assert meta["papermill"]["parameters"]["profile"] == expected, page.name


def test_another_profile_never_replaces_the_book(executed, tmp_path, capsys):
    other = next(p for p in ("smoke", "paper") if p != rp.committed_profile())
    assert rp.main(["--profile", other, "--only", "02_benchmark"]) == 0
    folder = tmp_path / "build" / other
    assert executed == [
        folder / "02_benchmark.ipynb",
        folder / "extra" / "02_benchmark_bloodmnist.ipynb",
    ]
    out = capsys.readouterr().out
    assert f"the executed notebooks are in {folder}" in out and "--in-place replaces them" in out
    executed.clear()
    assert rp.main(["--profile", other, "--only", "02_benchmark", "--in-place"]) == 0
    assert executed == [None, rp.notebook_dir() / "extra" / "02_benchmark_bloodmnist.ipynb"]
    executed.clear()
    assert rp.main(["--profile", rp.committed_profile(), "--only", "02_benchmark"]) == 0
    assert executed[0] is None  # the book's own profile replaces its pages, as before


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--in-place", "--out-dir", "OUT"], r"--in-place and --out-dir exclude each other"),
        (["--out-dir", "MISSING/pages"], r"cannot write --out-dir .*MISSING does not exist"),
        (["--out-dir", "USER"], r"--out-dir .*USER already holds files that evalib did not write"),
        (["--data-root", "MISSING"], r"--data-root .*MISSING: no such folder"),
        (["--only", "02_bench"], r"unknown notebook '02_bench'"),
    ],
)
def test_reproduce_checks_its_folders_before_any_run(extra, message, executed, tmp_path, capsys):
    (tmp_path / "USER").mkdir()
    (tmp_path / "USER" / "notes.txt").write_text("mine")
    argv = ["--profile", "smoke", "--only", "02_benchmark"]
    argv += [
        str(tmp_path / a) if a in ("OUT", "USER") or a.startswith("MISSING") else a for a in extra
    ]
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    assert rp.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("evalib.book.reproduce: error: ") and "\n" not in err, err
    assert re.search(message, err), err
    assert executed == [] and sorted(str(p) for p in tmp_path.rglob("*")) == before


@pytest.mark.notebooks
@pytest.mark.slow
def test_a_smoke_reproduce_run_leaves_the_checkout_clean(tmp_path, shared_data, monkeypatch):
    """`make reproduce PROFILE=smoke NOTEBOOKS=...` on a clean checkout leaves `git status`
    as it was: pages go to build/reproduce/smoke/, results to the git-ignored results/smoke/."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    monkeypatch.setenv("EVALIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("EVALIB_RESULTS_DIR", raising=False)
    monkeypatch.setenv("EVALIB_PROGRESS", "1")  # main sets it to 0: restored after the test
    before = _git_status()
    out = tmp_path / "pages"
    argv = ["--profile", "smoke", "--only", "01_dynamics", "--data-root", str(shared_data),
            "--out-dir", str(out)]  # fmt: skip
    if rp.committed_profile() == "smoke":
        pytest.skip("the committed book is the smoke profile's")
    assert rp.main(argv) == 0
    assert (out / "01_dynamics.ipynb").is_file()
    assert _git_status() == before


def test_pages_at_a_second_profile_are_book_pages_beside_the_book():
    """cpu200's window-grid and claims pages are written in place, under names of their
    own; any other notebook at cpu200 goes to the build folder."""
    from evalib.book.reproduce import PROFILE_PAGES, output_folder, plan

    runs = plan("cpu200")
    assert [r.name for r in runs] == ["05_window_grid", "05_window_grid", "10_claims"]
    assert [r.output.name for r in runs] == [
        "05_window_grid_cpu200_bloodmnist.ipynb",
        "05_window_grid_cpu200_organamnist.ipynb",
        "10_claims_cpu200.ipynb",
    ]
    assert runs[2].parameters["datasets"] == list(PROFILE_PAGES["cpu200"]["10_claims"])
    assert output_folder("cpu200", None, False, ["05_window_grid", "10_claims"]) is None
    assert output_folder("cpu200", None, False, ["02_benchmark"]) is not None
    assert all(r.output is None or "cpu200" not in r.output.name for r in plan("cpu"))
