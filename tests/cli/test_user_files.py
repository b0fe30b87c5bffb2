"""Issue #26, "respect the user's files, machine and habits": every case exits with its
status, prints one line, and leaves every file of the user as it was."""

# ruff: noqa: F811 - the ``world`` fixture is imported from test_bad_input

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from evalib import dynamics as dm
from evalib.cli import main
from tests.cli.test_bad_input import SELECT, TRAIN, one_line, snapshot, world  # noqa: F401

TRAIN_OK = TRAIN + ["--dataset", "organamnist"]


def _run(argv, world, capsys, status=2, message=None):
    """``evalib ARGV`` exits with ``status`` and one line matching ``message``; no file
    under the test folder changed."""
    before = snapshot(world["tmp"])
    assert main([str(a) for a in argv]) == status
    captured = capsys.readouterr()
    if message is not None:
        one_line(captured.err, message)
    assert snapshot(world["tmp"]) == before
    return captured


# ----------------------------------------------------------------------------- paths

MISSING = "no-such-dir"
PARENT_CASES = {  # name: (argv from world, message); the parent folder does not exist
    "train --out file": (
        lambda w: TRAIN_OK + ["--data-root", w["root"], "--out", w["tmp"] / MISSING / "a.npz"],
        r"cannot write --out .*no-such-dir/a\.npz: the folder .*no-such-dir does not exist",
    ),
    "train --out folder": (
        lambda w: TRAIN_OK + ["--data-root", w["root"], "--out", w["tmp"] / MISSING / "dyn"],
        r"cannot write --out .*: the folder .*no-such-dir does not exist",
    ),
    "train --checkpoint-dir": (
        lambda w: (
            TRAIN_OK
            + [
                "--data-root",
                w["root"],
                "--out",
                w["out"] / "d.npz",
                "--checkpoint-dir",
                w["tmp"] / MISSING / "ckpt",
            ]
        ),  # fmt: skip
        r"cannot write --checkpoint-dir .*no-such-dir does not exist",
    ),
    "score --out": (
        lambda w: [
            "score",
            "--method",
            "forgetting",
            "--dynamics",
            w["dyn"],
            "--out",
            w["tmp"] / MISSING / "s.csv",
        ],  # fmt: skip
        r"cannot write --out .*no-such-dir does not exist",
    ),
    "select --out-dir": (
        lambda w: (
            SELECT
            + [
                "--rate",
                "0.1",
                "--dynamics",
                w["dyn"],
                "--out-dir",
                w["tmp"] / MISSING / "coresets",
            ]
        ),  # fmt: skip
        r"cannot write --out-dir .*no-such-dir does not exist",
    ),
    "grid --results-dir": (
        lambda w: [
            "grid",
            "--profile",
            "smoke",
            "--datasets",
            "breastmnist",
            "--dry-run",
            "--results-dir",
            w["tmp"] / MISSING / "results",
        ],  # fmt: skip
        r"cannot write --results-dir .*no-such-dir does not exist",
    ),
    "grid --scratch": (
        lambda w: [
            "grid",
            "--profile",
            "smoke",
            "--datasets",
            "breastmnist",
            "--dry-run",
            "--results-dir",
            w["out"],
            "--scratch",
            w["tmp"] / MISSING / "s",
        ],  # fmt: skip
        r"cannot write --scratch .*no-such-dir does not exist",
    ),
    "evaluate --results-dir": (
        lambda w: [
            "evaluate",
            "--dataset",
            "breastmnist",
            "--indices",
            w["dyn"],
            "--results-dir",
            w["tmp"] / MISSING / "r",
        ],  # fmt: skip
        r"cannot write --results-dir .*no-such-dir does not exist",
    ),
    "rerun --scratch": (
        lambda w: ["rerun", w["dyn"], "--scratch", w["tmp"] / MISSING / "s"],
        r"cannot write --scratch .*no-such-dir does not exist",
    ),
    "download --data-root": (
        lambda w: ["download", "organsmnist", "--data-root", w["tmp"] / MISSING / "data"],
        r"cannot write --data-root .*no-such-dir does not exist",
    ),
    "a file as parent": (
        lambda w: [
            "score",
            "--method",
            "forgetting",
            "--dynamics",
            w["dyn"],
            "--out",
            Path(w["dyn"]) / "s.csv",
        ],  # fmt: skip
        r"cannot write --out .*dyn\.npz is not a folder",
    ),
}


@pytest.mark.parametrize("case", list(PARENT_CASES))
def test_a_missing_parent_folder_is_an_error_not_created(case, world, capsys):
    build, message = PARENT_CASES[case]
    _run(build(world), world, capsys, 2, message)
    assert not (world["tmp"] / MISSING).exists()


DATA_ROOT_CASES = {
    "train": lambda w: TRAIN_OK + ["--out", w["out"] / "d.npz"],
    "select": lambda w: SELECT + ["--rate", "0.1", "--dynamics", w["dyn"], "--out-dir", w["out"]],
    "grid, every job cached or not": lambda w: [
        "grid",
        "--profile",
        "smoke",
        "--datasets",
        "breastmnist",
        "--dry-run",
        "--results-dir",
        w["out"],
        "--scratch",
        w["out"],
    ],  # fmt: skip
}


@pytest.mark.parametrize("case", list(DATA_ROOT_CASES))
def test_a_missing_data_root_is_an_error(case, world, capsys):
    argv = DATA_ROOT_CASES[case](world) + ["--data-root", world["tmp"] / "nodata"]
    _run(argv, world, capsys, 2, r"--data-root .*nodata: no such folder; create it, or fetch")
    assert not (world["tmp"] / "nodata").exists()


def test_info_names_a_missing_data_root(world, capsys):
    out = _run(["info", "--data-root", world["tmp"] / "nodata"], world, capsys, 0).out
    assert "[no such folder yet]" in out


# ----------------------------------------------------------------------------- coresets


def _select(world, dynamics, *extra, rate="0.1", method=("--method", "eva", "-p", "early=0,2",
                                                          "-p", "late=3,5")):  # fmt: skip
    return [*("select", *method), "--rate", rate, "--dynamics", dynamics,
            "--out-dir", world["out"] / "coresets", *extra]  # fmt: skip


def _other_run(world, name: str, seed: int, n: int = 40, classes: int = 11) -> str:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(6, n, classes))
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    path = world["tmp"] / name
    dm.save(dm.from_arrays(logp, np.arange(n) % classes), path)
    return str(path)


def test_select_never_mixes_coresets_of_other_dynamics(world, capsys):
    assert main([str(a) for a in _select(world, world["dyn"], rate="0.2")]) == 0
    capsys.readouterr()
    cases = {
        "another dataset": (world["blood"], r"holds coresets of other dynamics \(.*\), not of "),
        "another run, same dataset": (
            _other_run(world, "other_seed.npz", 7),
            r"holds coresets of other dynamics .*dynamics [0-9a-f]{16}\)",
        ),
    }
    for dynamics, message in cases.values():
        _run(_select(world, dynamics), world, capsys, 2, message)
    # the same method with other settings would leave eva-0.2 of one kind, eva-0.1 of another
    _run(_select(world, world["dyn"], "--class-balanced"), world, capsys, 2,
         r"holds eva coresets made with other settings \(class_balanced=False → True\)")  # fmt: skip
    _run(_select(world, world["dyn"], method=("--method", "eva", "-p", "early=0,3", "-p",
                                              "late=3,5")), world, capsys, 2,
         r"holds eva coresets made with other settings \(params=")  # fmt: skip
    # the same dynamics: another method, or the same settings at another rate, are welcome
    assert main([str(a) for a in _select(world, world["dyn"], rate="0.3")]) == 0
    assert main([str(a) for a in _select(world, world["dyn"], method=("--method", "random"))]) == 0
    names = sorted(p.name for p in (world["out"] / "coresets").iterdir())
    assert "eva-0.3.npy" in names and "random-0.1.npy" in names


def test_a_folder_without_a_record_is_judged_by_its_score_files(world, capsys):
    from evalib.io import MARKER

    assert main([str(a) for a in _select(world, world["dyn"])]) == 0
    (world["out"] / "coresets" / MARKER).unlink()  # as an older evalib left it
    capsys.readouterr()
    blood = world["blood"]
    _run(_select(world, blood), world, capsys, 2, r"holds coresets of other samples|other scores")
    other = _other_run(world, "other_seed.npz", 7)
    _run(_select(world, other), world, capsys, 2, r"holds eva coresets of other scores")
    assert main([str(a) for a in _select(world, world["dyn"])]) == 0  # the same run: fine


def test_small_rates_are_shown_as_they_are(world, capsys):
    argv = _select(world, world["dyn"], rate="0.001", method=("--method", "random"))
    assert main([str(a) for a in argv]) == 0
    out = capsys.readouterr().out
    assert "random at 0.1%: 1 of 40 samples" in out and " at 0%" not in out


# ----------------------------------------------------------------------------- messages


def test_pickled_labels_are_called_python_objects_not_damage(world, capsys):
    from tests.conftest import make_npz

    root = world["tmp"] / "pickled"
    labels = np.array([[i % 11] for i in range(40)], dtype=object)
    make_npz(root / "organamnist.npz", train_labels=labels)
    argv = TRAIN_OK + ["--skip-md5", "--data-root", root, "--out", world["out"] / "d.npz"]
    _run(argv, world, capsys, 2,
         r"the array train_labels holds Python objects \(a pickle\), which evalib refuses to "
         r"unpickle")  # fmt: skip
    d = dm.load(world["dyn"])
    np.savez(world["tmp"] / "pickled_dyn.npz", log_probs=d.log_probs, seen=d.seen,
             sample_ids=d.sample_ids, labels=np.array(list(d.labels), dtype=object))  # fmt: skip
    argv = ["score", "--method", "forgetting", "--dynamics", world["tmp"] / "pickled_dyn.npz",
            "--out", world["out"] / "s.csv"]  # fmt: skip
    _run(argv, world, capsys, 2, r"holds Python objects \(a pickle\), which evalib refuses")
    np.save(world["tmp"] / "idx.npy", np.array([1, 2], dtype=object), allow_pickle=True)
    argv = ["evaluate", "--dataset", "organamnist", "--indices", world["tmp"] / "idx.npy",
            "--results-dir", world["out"], "--scratch", world["out"]]  # fmt: skip
    _run(argv, world, capsys, 2, r"--indices: .*idx\.npy holds Python objects")


def test_short_runs_get_the_minimum_epochs_and_valid_windows(world, capsys):
    two = _other_run(world, "two.npz", 1)
    d = dm.load(two)
    dm.save(dm.from_arrays(d.log_probs[:2], d.labels), world["tmp"] / "two.npz")
    argv = ["select", "--method", "eva", "--rate", "0.1", "--dynamics", world["tmp"] / "two.npz",
            "--out-dir", world["out"] / "c"]  # fmt: skip
    _run(argv, world, capsys, 2,
         r"early window \[0, 10\) is invalid.*T = 2 epoch\(s\), but two windows of at least 2 "
         r"epochs each need T >= 4: record at least 4 epochs")  # fmt: skip
    argv[2] = "tdds"
    _run(argv, world, capsys, 2,
         r"TDDS trajectory \[0, 30\) needs T >= 30 epochs; .*T = 2 .*e\.g\. length=2, window=2")  # fmt: skip
    argv[2:3] = ["eva"]
    argv = [*argv[:-2], "--dynamics", world["dyn"], "--out-dir", world["out"] / "c"]
    _run(argv, world, capsys, 2,
         r"T = 6 epochs; valid e\.g\. early=\(0, 2\), late=\(3, 5\)")  # fmt: skip


def test_evaluate_claims_no_interval_for_one_seed():
    from evalib.cli.studies import spread

    assert spread(float("nan"), 1).strip() == "(n=1, no interval)"
    assert "nan" not in spread(float("nan"), 1)
    assert spread(12.345, 3) == "± 12.35  (n=3)"
    assert len(spread(float("nan"), 1)) >= len("± 1.23")


def test_progress_lines_name_the_budget():
    from evalib.progress import _job_label, rate_text

    paper = {"method": "random", "rate": 0.05, "seed": 0, "dataset": "organamnist",
             "budget": "epochs"}  # fmt: skip
    floor = {**paper, "budget": "min500"}
    assert _job_label(paper) == "random 5% seed 0 (organamnist) · paper's epochs"
    assert _job_label(floor) == "random 5% seed 0 (organamnist) · floor of 500 steps"
    assert [rate_text(r) for r in (0.05, 0.025, 0.001, 1.0)] == ["5%", "2.5%", "0.1%", "100%"]


def test_smoke_description_is_not_seconds():
    from evalib.runs.config import get_profile

    text = get_profile("smoke").description
    assert "seconds" not in text and re.search(r"minutes per notebook and dataset", text)


# ----------------------------------------------------------------------------- evalib notebook


@pytest.fixture
def no_kernel(monkeypatch):
    """Fail the test if a kernel would start: the checks come first."""
    import papermill

    def started(*a, **k):
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(papermill, "execute_notebook", started)


NOTEBOOK_CASES = {  # name: (extra argv, message)
    "misspelt name": (
        ["-p", "datset", "breastmnist"],
        r"unknown notebook parameter 'datset'; did you mean 'dataset'\?",
    ),  # fmt: skip
    "text for an int": (["-p", "workers", "two"], r"parameter workers must be int, got str 'two'"),
    "list as text": (["-p", "seeds", "[0, 1]"], r'give lists as YAML, e\.g\. -y "seeds: \[0, 1\]"'),
    "wrong list items": (
        ["-y", "rates: [a, b]"],
        r"parameter rates must be Optional\[list\[float\]\]",
    ),
    "unknown profile": (["-p", "profile", "huge"], r"unknown profile 'huge'"),
    "unknown dataset": (["-p", "dataset", "organsmnst"], r"unknown dataset 'organsmnst'"),
    "missing data_root": (
        ["-p", "data_root", "/no/such/medmnist"],
        r"parameter data_root: no such folder /no/such/medmnist",
    ),  # fmt: skip
    "results_dir parent missing": (
        ["-p", "results_dir", "/no/such/parent/results"],
        r"parameter results_dir .*/no/such/parent does not exist",
    ),  # fmt: skip
    "YAML not a mapping": (["-y", "[1, 2]"], r"-y '\[1, 2\]' must hold name: value pairs"),
    "bad YAML": (["-y", "seeds: [0"], r"-y 'seeds: \[0': not YAML"),
    "YAML file missing": (["-f", "/no/such/params.yml"], r"-f /no/such/params\.yml: cannot read"),
}


@pytest.mark.parametrize("case", list(NOTEBOOK_CASES))
def test_notebook_parameters_are_checked_before_a_kernel(case, world, no_kernel, capsys):
    extra, message = NOTEBOOK_CASES[case]
    argv = ["notebook", "02_benchmark", world["out"] / "run.ipynb", "-p", "profile", "smoke",
            *extra]  # fmt: skip
    _run(argv, world, capsys, 2, message)


@pytest.mark.parametrize(
    ("notebook", "output", "message"),
    [
        ("02_bench", "run.ipynb", r"unknown notebook '02_bench' \(did you mean '02_benchmark'"),
        ("nowhere/x.ipynb", "run.ipynb", r"no notebook nowhere/x\.ipynb: no such file"),
        ("02_benchmark", "missing/run.ipynb", r"cannot write output .*missing does not exist"),
        ("02_benchmark", "run.txt", r"output .*run\.txt: write an \.ipynb file"),
        ("02_benchmark", "USER", r"exists and is not an evalib executed notebook"),
        ("02_benchmark", "PAGE", r"OUTPUT .*02_benchmark\.ipynb is in the book's notebooks"),
        ("02_benchmark", "EXTRA", r"OUTPUT .*is in the book's notebooks folder"),
        ("SELF", "SELF", r"OUTPUT .*mine\.ipynb is the notebook itself"),
    ],
)
def test_notebook_paths_are_checked_before_a_kernel(notebook, output, message, world, no_kernel,
                                                    capsys):  # fmt: skip
    from evalib.book.reproduce import notebook_dir

    user = world["tmp"] / "mine.ipynb"
    user.write_text("my own notebook")
    special = {"USER": user, "SELF": user, "PAGE": notebook_dir() / "02_benchmark.ipynb",
               "EXTRA": notebook_dir() / "extra" / "02_benchmark_bloodmnist.ipynb"}  # fmt: skip
    out = special.get(output, world["out"] / output)
    pages = {p: p.read_bytes() for p in (special["PAGE"], special["EXTRA"])}
    _run(["notebook", special.get(notebook, notebook), out], world, capsys, 2, message)
    assert user.read_text() == "my own notebook"
    assert all(p.read_bytes() == b for p, b in pages.items())  # the book is never touched


def test_notebook_values_are_read_as_papermill_reads_them():
    import argparse

    from evalib.cli.notebooks import gather_parameters, resolve_value

    assert [resolve_value(v) for v in ("True", "None", "3", "0.5", "cpu")] == [
        True, None, 3, 0.5, "cpu"]  # fmt: skip
    args = argparse.Namespace(parameters_file=[], parameters_yaml=["seeds: [0, 1]", "workers: 1"],
                              parameters=[["workers", "3"]], parameters_raw=[["device", "3"]])  # fmt: skip
    assert gather_parameters(args) == {"seeds": [0, 1], "workers": 3, "device": "3"}


@pytest.mark.notebooks
@pytest.mark.slow
def test_notebook_runs_a_checked_notebook(world, shared_data, tmp_path, monkeypatch, capsys):
    """A good parameter set runs the notebook with papermill and writes the executed notebook."""
    monkeypatch.setenv("EVALIB_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("EVALIB_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "walk.ipynb"
    argv = ["notebook", "00_walkthrough", str(out), "-p", "profile", "smoke", "-p", "mode",
            "class", "-p", "data_root", str(shared_data), "-y", "seeds: [0]", "-y",
            "rates: [0.1]", "--quiet"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    import nbformat

    nb = nbformat.read(out, as_version=4)
    assert nb.metadata["papermill"]["parameters"]["rates"] == [0.1]
    assert os.stat(out).st_mode & 0o044  # readable by others under a 022 umask
