"""The bad-input table: each case exits non-zero with one line naming the problem,
prints no traceback, and leaves no partial files."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from evalib import dynamics as dm
from evalib.book.notebook import NOTEBOOK_PARAMETERS, check_parameter_names, notebook_setup
from evalib.cli import main
from evalib.errors import EvalibError
from evalib.official import import_official_pickle
from evalib.runs.cache import ENV_RESULTS, Cache, atomic_write_json, default_results_dir
from evalib.runs.config import DataSpec, Job, ModelSpec
from evalib.runs.rerun import REPRODUCED_FIELDS
from evalib.train import Recipe
from tests.conftest import make_npz


@pytest.fixture
def world(tmp_path):
    """A data root with tiny files, a dynamics file recorded on it, an empty output dir."""
    root = tmp_path / "data"
    make_npz(root / "organamnist.npz")
    make_npz(root / "bloodmnist.npz", channels=3, classes=8)
    (root / "breastmnist.npz").write_bytes(b"not a zip at all")
    good = make_npz(tmp_path / "x.npz").read_bytes()
    (root / "retinamnist.npz").write_bytes(good[: len(good) // 3])
    make_npz(
        root / "pathmnist.npz", channels=3, classes=9, train_images=np.zeros((40, 28, 28), np.uint8)
    )
    make_npz(
        root / "dermamnist.npz", channels=3, classes=7, train_labels=np.full((40, 1), 9, np.uint8)
    )
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 40, 11))
    labels = np.load(root / "organamnist.npz")["train_labels"].reshape(-1)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    dm.save(dm.from_arrays(logp, labels, meta={"dataset": "organamnist"}), tmp_path / "dyn.npz")
    blood = np.load(root / "bloodmnist.npz")["train_labels"].reshape(-1)
    dm.save(
        dm.from_arrays(logp[..., :8], blood, meta={"dataset": "bloodmnist"}), tmp_path / "blood.npz"
    )
    out = tmp_path / "out"
    out.mkdir()  # empty: output paths inside it have an existing parent (evalib makes none)
    return {"root": str(root), "dyn": str(tmp_path / "dyn.npz"), "blood": str(tmp_path / "blood.npz"),
            "out": out, "tmp": tmp_path}  # fmt: skip


TRAIN = ["train", "--model", "convnet", "--width", "0.125", "--epochs", "1", "--quiet",
         "--skip-md5", "--no-download"]  # fmt: skip
SELECT = ["select", "--method", "eva", "-p", "early=0,2", "-p", "late=3,5"]

CASES = {
    "unknown dataset": (TRAIN + ["--dataset", "nosuchmnist"], "unknown dataset 'nosuchmnist'"),
    "file missing offline": (TRAIN + ["--dataset", "organsmnist"], "organsmnist.npz not found in"),
    "not a zip": (TRAIN + ["--dataset", "breastmnist"], "damaged or truncated"),
    "truncated npz": (TRAIN + ["--dataset", "retinamnist"], "damaged or truncated"),
    "wrong shape": (TRAIN + ["--dataset", "pathmnist"], r"images must be \[N, H, W, 3\]"),
    "labels out of range": (TRAIN + ["--dataset", "dermamnist"], r"outside \[0, 6\]"),
    "multi-label": (TRAIN + ["--dataset", "chestmnist"], "multi-label"),
    "3D dataset": (TRAIN + ["--dataset", "organmnist3d"], "3D dataset"),
    "rate zero": (SELECT + ["--rate", "0"], r"argument --rate: must be a fraction in \(0, 1\]"),
    "rate above one": (SELECT + ["--rate", "1.5"], r"--rate: must be a fraction in \(0, 1\]"),
    "windows overlap": (
        ["select", "--method", "eva", "-p", "early=0,3", "-p", "late=2,5", "--rate", "0.1"],
        "must not overlap",
    ),  # fmt: skip
    "window reversed": (
        ["select", "--method", "var_s", "-p", "window=4,2", "--rate", "0.1"],
        "invalid",
    ),  # fmt: skip
    "window beyond epochs": (
        ["select", "--method", "eva", "-p", "early=0,2", "-p", "late=4,9", "--rate", "0.1"],
        "T = 6",
    ),  # fmt: skip
    "window shorter than 2": (
        ["select", "--method", "var_s", "-p", "window=1,2", "--rate", "0.1"],
        "at least 2",
    ),  # fmt: skip
    "class left empty": (SELECT + ["--rate", "0.05", "--class-balanced"], "class"),
    "unknown method": (["select", "--method", "magic", "--rate", "0.1"], "unknown method 'magic'"),
    "bad parameter": (
        ["select", "--method", "eva", "-p", "colour=red", "--rate", "0.1"],
        "no parameter colour",
    ),  # fmt: skip
}


def _args(argv, world):
    argv = list(argv)
    if argv[0] == "train":
        argv += ["--data-root", world["root"], "--out", str(world["out"] / "dyn.npz")]
    else:
        argv += ["--dynamics", world["dyn"], "--out-dir", str(world["out"])]
    return argv


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_table(case, world, capsys):
    argv, message = CASES[case]
    assert main(_args(argv, world)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("evalib: error: ") and "\n" not in err, err
    assert __import__("re").search(message, err), err
    assert not world["out"].exists() or not any(world["out"].iterdir())


def test_dynamics_from_other_dataset(world, capsys):
    argv = ["select", "--method", "random", "--rate", "0.1", "--dynamics", world["blood"],
            "--dataset", "organamnist", "--data-root", world["root"], "--skip-md5",
            "--out-dir", str(world["out"])]  # fmt: skip
    assert main(argv) == 2
    assert "recorded on bloodmnist, not organamnist" in capsys.readouterr().err
    assert not any(world["out"].iterdir())


def test_dynamics_labels_disagree(world, capsys):
    d = dm.load(world["dyn"])
    shuffled = dm.from_arrays(d.log_probs, np.roll(d.labels, 1))
    dm.save(shuffled, world["tmp"] / "other.npz")
    argv = ["score", "--method", "forgetting", "--dynamics", str(world["tmp"] / "other.npz"),
            "--dataset", "organamnist", "--data-root", world["root"], "--skip-md5",
            "--out", str(world["out"] / "s.csv")]  # fmt: skip
    assert main(argv) == 2
    assert "labels disagree with organamnist" in capsys.readouterr().err


def test_output_folder_not_writable(world, capsys):
    blocker = world["tmp"] / "file"
    blocker.write_text("x")
    argv = TRAIN + ["--dataset", "organamnist", "--data-root", world["root"],
                    "--out", str(blocker / "sub" / "dyn.npz")]  # fmt: skip
    assert main(argv) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_results_dir_not_writable(world):
    blocker = world["tmp"] / "file"
    blocker.write_text("x")
    with pytest.raises(EvalibError, match="is not a folder"):
        Cache.at(blocker / "results", world["tmp"] / "scratch")


def test_disk_full_during_save_leaves_nothing(world, monkeypatch, capsys):
    real_fsync = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    argv = ["score", "--method", "forgetting", "--dynamics", world["dyn"],
            "--out", str(world["out"] / "s.csv")]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "\n" not in err.strip()
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert not world["out"].exists() or list(world["out"].iterdir()) == []
    dyn = dm.load(world["dyn"])
    monkeypatch.setattr(np, "save", lambda *a, **k: full(0))  # the folder format's writer
    with pytest.raises(EvalibError, match="No space left"):
        dm.save(dyn, world["tmp"] / "copy_dir")
    assert not (world["tmp"] / "copy_dir").exists()
    assert not [p for p in world["tmp"].iterdir() if p.name.startswith(".copy_dir")]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"rates": "0.05"}, "parameter rates must be a non-empty list"),
        ({"seeds": [0.5]}, "parameter seeds must be a list of integers"),
        ({"profile": 3}, "parameter profile must be"),
        ({"rates": [0.0]}, r"rates must be a list of fractions in \(0, 1\], got 0.0"),
        ({"profile": "huge"}, "unknown profile 'huge'"),
        ({"dataset": "chestmnist"}, "multi-label"),
    ],
)
def test_notebook_parameters_are_checked(kwargs, message, tmp_path):
    params = {"profile": "smoke", "dataset": "organamnist", "results_dir": str(tmp_path), **kwargs}
    with pytest.raises(EvalibError, match=message):
        notebook_setup(**params)


def test_real_process_prints_no_traceback(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "evalib.cli", "train", "--dataset", "organsmnist", "--data-root",
         str(tmp_path), "--no-download", "--out", str(tmp_path / "d.npz")],
        capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "organsmnist.npz not found in" in proc.stderr
    assert list(tmp_path.iterdir()) == []


# ============================================================================ shared helpers


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes (hidden files too)."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def one_line(err: str, pattern: str) -> None:
    """The CLI's error contract: one line, prefixed, no traceback, naming the problem."""
    import re

    err = err.strip()
    assert err.startswith("evalib: error: "), err
    assert "\n" not in err and "Traceback" not in err, err
    assert re.search(pattern, err), err


@pytest.fixture
def user(world):
    """A folder of the user's, with files evalib must never touch."""
    mine = world["tmp"] / "mine"
    (mine / "thesis").mkdir(parents=True)
    (mine / "notes.txt").write_text("my notes")
    (mine / "thesis" / "ch1.tex").write_text("\\chapter{One}")
    (mine / "table.csv").write_text("a,b\n1,2\n")
    (mine / "notes.npz").write_text("not a dynamics file")
    (mine / "smoke").mkdir()
    (mine / "smoke" / "plan.txt").write_text("the user's own smoke folder")
    return mine


def _indices_file(world) -> Path:
    path = world["tmp"] / "indices.txt"
    path.write_text("0\n1\n2\n")
    return path


def _evalib_dyn_dir(world) -> Path:
    target = world["tmp"] / "dyn_dir"
    dm.save(dm.load(world["dyn"]), target)
    return target


# ============================================================================ 1. no data loss

TRAIN_OK = TRAIN + ["--dataset", "organamnist"]  # with --data-root added below

OUTPUT_CASES = {  # name: (argv from (world, user), message)
    "train --out user folder": (
        lambda w, u: TRAIN_OK + ["--out", u],
        r"--out .*mine already holds files that evalib did not write \(notes\.npz",
    ),
    "train --out user folder, trailing slash": (
        lambda w, u: TRAIN_OK + ["--out", f"{u}/"],
        r"already holds files that evalib did not write",
    ),
    "train --out existing MedMNIST npz": (
        lambda w, u: TRAIN_OK + ["--out", Path(w["root"]) / "bloodmnist.npz"],
        r"--out .*bloodmnist\.npz exists and is not an evalib dynamics file",
    ),
    "train --out user file named .npz": (
        lambda w, u: TRAIN_OK + ["--out", u / "notes.npz"],
        r"notes\.npz exists and is not an evalib dynamics file",
    ),
    "train --out a user file as folder": (
        lambda w, u: TRAIN_OK + ["--out", u / "notes.txt"],
        r"--out .*notes\.txt is a file, not a folder",
    ),
    "train --out a folder holding a .npz name": (
        lambda w, u: TRAIN_OK + ["--out", u / "thesis" / ".." / "thesis"],
        r"already holds files",
    ),
    "train --checkpoint-dir user folder": (
        lambda w, u: TRAIN_OK + ["--out", w["out"] / "d.npz", "--checkpoint-dir", u],
        r"--checkpoint-dir .*mine already holds files",
    ),
    "score --out user csv": (
        lambda w, u: [
            "score",
            "--method",
            "forgetting",
            "--dynamics",
            w["dyn"],
            "--out",
            u / "table.csv",
        ],
        r"--out .*table\.csv exists and is not an evalib scores file",
    ),  # fmt: skip
    "score --out user folder": (
        lambda w, u: ["score", "--method", "forgetting", "--dynamics", w["dyn"], "--out", u],
        r"--out .*mine: write \.npy or \.csv|is a folder",
    ),
    "score --out wrong suffix": (
        lambda w, u: [
            "score",
            "--method",
            "forgetting",
            "--dynamics",
            w["dyn"],
            "--out",
            w["out"] / "s.txt",
        ],
        r"--out .*s\.txt: write \.npy or \.csv",
    ),  # fmt: skip
    "select --out-dir user folder": (
        lambda w, u: SELECT + ["--rate", "0.1", "--dynamics", w["dyn"], "--out-dir", u],
        r"--out-dir .*mine already holds files that evalib did not write",
    ),
    "select --out-dir a dynamics folder": (
        lambda w, u: (
            SELECT + ["--rate", "0.1", "--dynamics", w["dyn"], "--out-dir", _evalib_dyn_dir(w)]
        ),
        r"--out-dir .*dyn_dir holds evalib dynamics output, not coresets",
    ),  # fmt: skip
    "grid --results-dir user folder": (
        lambda w, u: [
            "grid",
            "--profile",
            "smoke",
            "--datasets",
            "breastmnist",
            "--results-dir",
            u,
            "--scratch",
            w["tmp"] / "scratch",
            "--dry-run",
        ],
        r"--results-dir .*mine/smoke already holds files that evalib did not write",
    ),  # fmt: skip
    "grid --scratch user folder": (
        lambda w, u: [
            "grid",
            "--profile",
            "smoke",
            "--datasets",
            "breastmnist",
            "--results-dir",
            w["tmp"] / "res",
            "--scratch",
            u,
            "--dry-run",
        ],
        r"--scratch .*mine already holds files that evalib did not write",
    ),  # fmt: skip
    "evaluate --results-dir user folder": (
        lambda w, u: [
            "evaluate",
            "--dataset",
            "breastmnist",
            "--indices",
            _indices_file(w),
            "--profile",
            "smoke",
            "--results-dir",
            u,
            "--scratch",
            w["tmp"] / "scratch",
            "--data-root",
            w["root"],
        ],
        r"--results-dir .*mine/smoke already holds files that evalib did not write",
    ),  # fmt: skip
}


@pytest.mark.parametrize("case", list(OUTPUT_CASES))
def test_output_paths_evalib_did_not_write_are_refused(case, world, user, capsys):
    build, message = OUTPUT_CASES[case]
    argv = [str(a) for a in build(world, user)]
    if argv[0] == "train":
        argv += ["--data-root", "/nonexistent/data"]  # refused before the data is looked for
    before = snapshot(world["tmp"])
    assert main(argv) == 2
    one_line(capsys.readouterr().err, message)
    assert snapshot(world["tmp"]) == before
    assert not world["out"].exists() or not any(world["out"].iterdir())


@pytest.mark.parametrize("folder", ["user", "empty"])
def test_out_dot_is_refused_before_training(folder, world, user, monkeypatch, capsys):
    here = user if folder == "user" else world["tmp"] / "empty"
    here.mkdir(exist_ok=True)
    monkeypatch.chdir(here)
    before = snapshot(world["tmp"])
    argv = TRAIN_OK + ["--data-root", world["root"], "--out", "."]
    assert main(argv) == 2
    one_line(capsys.readouterr().err, r"--out \. is the working folder .*name a new folder")
    assert snapshot(world["tmp"]) == before


def test_library_writers_refuse_user_paths(world, user):
    import torch

    from evalib.book.reproduce import execute
    from evalib.data import Split
    from evalib.models import build_model
    from evalib.train import Recipe, train

    before = snapshot(user)
    dyn = dm.load(world["dyn"])
    calls = {
        "dynamics folder": lambda: dm.save(dyn, user),
        "dynamics npz": lambda: dm.save(dyn, user / "notes.npz"),
        "results cache": lambda: Cache.at(user, world["tmp"] / "s"),
        "scratch cache": lambda: Cache.at(world["tmp"] / "r", user),
        "notebook results_dir": lambda: notebook_setup("smoke", "organamnist", user,
                                                          scratch_dir=str(world["tmp"] / "s")),
        "checkpoint folder": lambda: train(
            build_model("convnet", 1, 11, 0.125),
            Split(torch.zeros(8, 1, 28, 28, dtype=torch.uint8), torch.arange(8) % 11),
            Recipe(epochs=1, batch_size=4), checkpoint_dir=user, progress=False,
        ),
        "reproduce output": lambda: execute("01_dynamics", {}, output=user / "notes.txt"),
    }  # fmt: skip
    for name, call in calls.items():
        with pytest.raises(EvalibError, match="evalib did not write|not an evalib") as err:
            call()
        assert "\n" not in str(err.value), name
    assert snapshot(user) == before


def test_replacing_evalib_outputs_stays_allowed_and_atomic(world, monkeypatch):
    from evalib.io import MARKER, output_kind

    dyn = dm.load(world["dyn"])
    folder = world["tmp"] / "dyn_dir"
    dm.save(dyn, folder)
    assert output_kind(folder) == "dynamics"
    dm.save(dyn, folder)  # replaced: it is evalib's
    (folder / MARKER).unlink()  # written before markers existed: recognised by its files
    dm.save(dyn, folder)
    assert output_kind(folder) == "dynamics"
    dm.save(dyn, world["tmp"] / "again.npz")
    dm.save(dyn, world["tmp"] / "again.npz")
    kept = snapshot(folder)

    def full(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np, "save", full)
    with pytest.raises(EvalibError, match="No space left"):
        dm.save(dyn, folder)
    assert snapshot(folder) == kept  # a failed replacement keeps the old version whole


def test_select_twice_into_its_own_folder(world, capsys):
    argv = SELECT + ["--rate", "0.1", "0.2", "--dynamics", world["dyn"], "--out-dir",
                     str(world["out"])]  # fmt: skip
    assert main(argv) == 0
    from evalib.io import MARKER, output_kind

    assert output_kind(world["out"]) == "coresets"
    assert main(argv) == 0  # rewriting evalib's own coresets is fine
    (world["out"] / MARKER).unlink()  # an older evalib's folder: recognised by its files
    assert main(argv) == 0
    assert "wrote 5 files" in capsys.readouterr().out


def test_train_replaces_its_own_npz(world, capsys):
    out = world["out"] / "d.npz"
    argv = TRAIN_OK + ["--data-root", world["root"], "--out", str(out)]
    assert main(argv) == 0
    first = out.read_bytes()
    assert main(argv) == 0
    assert dm.load(out).shape == dm.load(world["dyn"]).shape[:0] + (1, 40, 11)
    assert len(first) > 0


def test_committed_results_folders_are_accepted_untouched(tmp_path):
    from evalib.io import MARKER

    repo_results = Path(__file__).resolve().parents[2] / "results"
    for profile in ("cpu",):  # the committed ones (results/smoke is git-ignored)
        folder = repo_results / profile
        if not folder.is_dir():
            continue
        cache = Cache.at(folder, tmp_path / "scratch")
        assert cache.results == folder
        assert not (folder / MARKER).exists()  # no file is added to the committed results
    from evalib.book.reproduce import NOTEBOOKS, is_executed_notebook, notebook_dir

    for name in NOTEBOOKS:
        if (notebook_dir() / f"{name}.ipynb").exists():
            assert is_executed_notebook(notebook_dir() / f"{name}.ipynb"), name


def test_results_layout_of_later_studies_is_recognised(tmp_path):
    """Folders main's studies add to results/<profile>/ (committed selections, candidate
    networks) keep a results folder evalib's own, and nothing is added to it."""
    from evalib.io import MARKER

    folder = tmp_path / "cpu"
    for sub in ("jobs", "surrogates", "selections/organamnist", "candidates", "organamnist"):
        (folder / sub).mkdir(parents=True)
    (folder / "claims_verdicts.csv").write_text("a\n")
    before = snapshot(folder)
    assert Cache.at(folder, tmp_path / "scratch").results == folder
    assert snapshot(folder) == before and not (folder / MARKER).exists()


# ============================================================================ 2. checked up front

VALIDATION = {  # name: (argv, message); train cases get --data-root and --out added
    "lr nan": (TRAIN_OK + ["--lr", "nan"], r"argument --lr: must be a finite number > 0, got nan"),
    "lr zero": (TRAIN_OK + ["--lr", "0"], r"argument --lr: must be a finite number > 0"),
    "lr negative": (TRAIN_OK + ["--lr", "-0.1"], r"argument --lr: .*got -0.1"),
    "lr text": (TRAIN_OK + ["--lr", "fast"], r"argument --lr: .*got 'fast'"),
    "lr inf": (TRAIN_OK + ["--lr", "inf"], r"argument --lr: must be a finite number"),
    "width zero": (TRAIN_OK + ["--width", "0"], r"argument --width: must be a finite number > 0"),
    "threads zero": (TRAIN_OK + ["--threads", "0"], r"argument --threads: must be an integer ≥ 1"),
    "threads text": (TRAIN_OK + ["--threads", "two"], r"argument --threads: .*got 'two'"),
    "epochs zero": (TRAIN_OK + ["--epochs", "0"], r"argument --epochs: must be an integer ≥ 1"),
    "iterations zero": (TRAIN_OK + ["--iterations", "0"], r"argument --iterations: .*≥ 1"),
    "batch zero": (TRAIN_OK + ["--batch-size", "0"], r"argument --batch-size: .*≥ 1, got 0"),
    "eval-every zero": (TRAIN_OK + ["--eval-every", "0"], r"argument --eval-every: .*≥ 1"),
    "subset zero": (TRAIN_OK + ["--subset", "0"], r"argument --subset: .*≥ 1"),
    "subset too large": (TRAIN_OK + ["--subset", "41"], r"--subset 41 exceeds the 40 training"),
    "width huge": (TRAIN_OK + ["--width", "1e9"], r"argument --width: .*in \(0, 16\], got 1e9"),
    "out empty": (TRAIN_OK + ["--out", ""], r"argument --out: must be a path, got an empty"),
    "rounds to zero": (
        SELECT + ["--rate", "0.01", "--rounding", "floor"],
        r"--rate 0\.01: rate 0\.01 of N = 40 samples rounds down to 0; .*--rounding ceil$",
    ),
    "dynamics not evalib's": (
        ["score", "--method", "aum", "--dynamics", __file__, "--out", "s.csv"],
        r"--dynamics: .*test_bad_input\.py is not a dynamics file",
    ),
    "seed negative": (TRAIN_OK + ["--seed", "-1"], r"argument --seed: .*seed in \[0, 2\^63\)"),
    "device typo": (TRAIN_OK + ["--device", "cdua"], r"--device: device 'cdua' is not a device"),
    "device gpu": (TRAIN_OK + ["--device", "gpu"], r"--device: .*use auto, cpu, cuda, cuda:N"),
    "device cuda absent": (TRAIN_OK + ["--device", "cuda"], r"--device: device 'cuda' is not av"),
    "device cuda index": (TRAIN_OK + ["--device", "cuda:7"], r"--device: device 'cuda:7' is not"),
    "device mps absent": (TRAIN_OK + ["--device", "mps"], r"--device: device 'mps' is not avail"),
    "fp16 on cpu": (TRAIN_OK + ["--device", "cpu", "--amp", "fp16"], r"--amp fp16 needs a CUDA"),
    "model typo": (TRAIN_OK + ["--model", "resnet19"], r"unknown model 'resnet19'"),
    "empty validation split": (TRAIN + ["--dataset", "octmnist"], r"octmnist\.npz:val is empty"),
    "workers zero": (
        ["grid", "--profile", "smoke", "--workers", "0"],
        r"argument --workers: .*≥ 1",
    ),
    "grid threads zero": (["grid", "--threads", "0"], r"argument --threads: .*≥ 1, got 0"),
    "grid profile": (["grid", "--profile", "huge", "--dry-run"], r"--profile: unknown profile"),
    "grid dataset": (
        ["grid", "--datasets", "chestmnist", "--dry-run"],
        r"--dataset: .*multi-label",
    ),
    "grid device": (["grid", "--device", "cdua", "--dry-run"], r"--device: device 'cdua'"),
    "rate twice": (SELECT + ["--rate", "0.1", "0.1"], r"--rate 0\.1 is given twice"),
    "rates equal as files": (
        SELECT + ["--rate", "0.1", "0.1000000001"],
        r"--rate 0\.1 is given twice \(as 0\.1 and 0\.1000000001\)",
    ),
    "rate nan": (SELECT + ["--rate", "nan"], r"argument --rate: must be a fraction in \(0, 1\]"),
    "param not a number": (
        ["select", "--method", "tdds", "-p", "decay=abc", "--rate", "0.1"],
        r"-p decay=abc: decay must be a number",
    ),
    "param nan": (
        [
            "select",
            "--method",
            "eva_official",
            "-p",
            "early=0,2",
            "-p",
            "late=3,5",
            "-p",
            "weight=nan",
            "--rate",
            "0.1",
        ],
        r"-p weight=nan: weight must be a finite number",
    ),  # fmt: skip
    "window not integers": (
        ["select", "--method", "eva", "-p", "early=a,b", "-p", "late=3,5", "--rate", "0.1"],
        r"-p early=a,b: early must be an epoch window START,END",
    ),
    "window of three": (
        ["select", "--method", "var_s", "-p", "window=0,2,4", "--rate", "0.1"],
        r"-p window=0,2,4: window must be an epoch window",
    ),
    "seed not integer": (
        ["select", "--method", "random", "-p", "seed=1.5", "--rate", "0.1"],
        r"-p seed=1.5: seed must be an integer",
    ),
    "seed negative param": (
        ["select", "--method", "random", "-p", "seed=-3", "--rate", "0.1"],
        r"random seed must be an integer in \[0, 2\^63\)",
    ),
    "end not integer": (
        ["select", "--method", "el2n", "-p", "end=2.5", "--rate", "0.1"],
        r"-p end=2.5: end must be an integer",
    ),
    "ccs beta text": (
        ["select", "--method", "ccs", "-p", "beta=x", "--rate", "0.1"],
        r"-p beta=x: beta must be a number",
    ),
    "tdds window text": (
        ["select", "--method", "tdds", "-p", "window=a,b", "--rate", "0.1"],
        r"-p window=a,b: window must be an integer",
    ),
    "param twice": (SELECT + ["-p", "early=1,3", "--rate", "0.1"], r"-p early is given twice"),
    "param without value": (
        ["select", "--method", "eva", "-p", "early", "--rate", "0.1"],
        r"-p 'early' is not KEY=VALUE",
    ),
    "beta for another method": (
        ["select", "--method", "aum", "-p", "beta=0.2", "--rate", "0.1"],
        r"method 'aum' has no parameter beta",
    ),
}


def _validation_args(argv, world):
    argv = [str(a) for a in argv]
    if argv[0] == "train":
        return argv + ["--data-root", world["root"], "--out", str(world["out"] / "dyn.npz")]
    if argv[0] == "select":
        return argv + ["--dynamics", world["dyn"], "--out-dir", str(world["out"])]
    if argv[0] == "score":
        return [str(world["out"] / a) if a == "s.csv" else a for a in argv]
    return argv + ["--results-dir", str(world["tmp"] / "res"), "--scratch", str(world["tmp"] / "s")]


@pytest.mark.parametrize("case", list(VALIDATION))
def test_every_option_is_checked_before_work(case, world, capsys):
    make_npz(Path(world["root"]) / "octmnist.npz", n=(40, 0, 12), classes=4)
    argv, message = VALIDATION[case]
    before = snapshot(world["tmp"])
    assert main(_validation_args(argv, world)) == 2
    one_line(capsys.readouterr().err, message)
    after = snapshot(world["tmp"])
    assert {k: v for k, v in after.items() if not k.startswith(("res/", "s/"))} == before
    assert not world["out"].exists() or not any(world["out"].iterdir())


def _bad_dynamics(kind: str, path: Path, labels: np.ndarray) -> Path:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 40, 11))
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    if kind == "all NaN":
        logp[:] = np.nan
    elif kind == "one NaN":
        logp[3, 7, 2] = np.nan
    seen = np.ones((6, 40), bool)
    if kind == "never seen":
        seen[:, 5] = False
    if kind == "seen early only":
        seen[2:] = False
    d = dm.from_arrays(logp, labels, seen=seen, meta={"dataset": "organamnist"})
    if kind in ("meta is a list", "labels are floats"):
        arrays = {k: getattr(d, k) for k in ("log_probs", "labels", "seen", "sample_ids")}
        meta = "[1, 2]" if kind == "meta is a list" else "{}"
        if kind == "labels are floats":
            arrays["labels"] = arrays["labels"].astype(np.float32)
        np.savez(path, meta=np.array(meta), **arrays)
        return path
    dm.save(d, path)
    return path


DYNAMICS_CASES = {
    "all NaN": ("forgetting", [], r"NaN or \+inf log-probabilities at 240 of 240 seen"),
    "one NaN": ("forgetting", [], r"NaN or \+inf log-probabilities at 1 of 240 .*epoch 3"),
    "never seen": ("forgetting", [], r"1 of 40 samples were never seen in any epoch"),
    "seen early only": (
        "eva",
        ["-p", "early=2,4", "-p", "late=4,6"],
        r"gave no finite score for any of the 40",
    ),
    "meta is a list": ("forgetting", [], r"metadata must be a JSON object, got list"),
    "labels are floats": ("forgetting", [], r"labels must be an integer array, got float32"),
}


@pytest.mark.parametrize("case", list(DYNAMICS_CASES))
@pytest.mark.parametrize("command", ["score", "select"])
def test_unusable_dynamics_select_nothing(case, command, world, capsys):
    method, params, message = DYNAMICS_CASES[case]
    labels = np.load(Path(world["root"]) / "organamnist.npz")["train_labels"].reshape(-1)
    path = _bad_dynamics(case, world["tmp"] / "bad.npz", labels)
    before = snapshot(world["tmp"])
    argv = [command, "--method", method, *params, "--dynamics", str(path)]
    argv += (["--out", str(world["out"] / "s.csv")] if command == "score"
             else ["--rate", "0.1", "--out-dir", str(world["out"])])  # fmt: skip
    assert main(argv) == 2
    one_line(capsys.readouterr().err, message)
    assert snapshot(world["tmp"]) == before
    assert not any(world["out"].iterdir())


def test_some_unscored_samples_rank_last_with_a_warning(world, capsys):
    labels = np.load(Path(world["root"]) / "organamnist.npz")["train_labels"].reshape(-1)
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 40, 11))
    seen = np.ones((6, 40), bool)
    seen[2:4, :3] = False  # three samples unseen in the early window only
    d = dm.from_arrays(logits - np.log(np.exp(logits).sum(-1, keepdims=True)), labels, seen=seen)
    dm.save(d, world["tmp"] / "gaps.npz")
    argv = ["select", "--method", "var_s", "-p", "window=2,4", "--rate", "0.5", "--dynamics",
            str(world["tmp"] / "gaps.npz"), "--out-dir", str(world["out"])]  # fmt: skip
    assert main(argv) == 0
    err = capsys.readouterr().err.strip()
    assert err == (
        "evalib: warning: 3 of 40 samples have no finite var_s score (unseen in every epoch it "
        "uses, or too few such epochs); they rank last"
    )
    chosen = np.load(world["out"] / "var_s-0.5.npy")
    assert not set(chosen.tolist()) & {0, 1, 2}


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _job_record(path: Path, **changes) -> Path:
    job = Job(DataSpec("organamnist", train_subset=20, val_subset=6, test_subset=6), None,
                 None, ModelSpec("convnet", 0.125), Recipe(epochs=1, batch_size=8))  # fmt: skip
    row = {"key": job.key(), "config": __import__("dataclasses").asdict(job),
           **{f: 0 for f in REPRODUCED_FIELDS}}  # fmt: skip
    row.update(changes)
    row = {k: v for k, v in row.items() if v is not None}
    atomic_write_json(path, row)
    return path


RERUN_CASES = {
    "no config": (lambda t: _job_record(t / "r.json", config=None), [], r"holds no job config"),
    "surrogate record": (
        lambda t: _job_record(
            t / "r.json", config={"data": {}, "model": {}, "recipe": {}, "seed": 0}
        ),
        [],
        r"holds no job config",
    ),
    "not json": (lambda t: _write(t / "r.json", "{"), [], r"not a valid job"),
    "missing": (lambda t: t / "nothing.json", [], r"not a job result file \(not found\)"),
    "a folder": (lambda t: t, [], r"not a job result file \(a folder\)"),
    "fields missing": (
        lambda t: _job_record(t / "r.json", clean_test_acc=None),
        [],
        r"lacks the stored fields",
    ),
    "scratch is a file": (
        lambda t: _job_record(t / "r.json"),
        lambda t: ["--scratch", t / "r.json"],
        r"--scratch .*r\.json is a file",
    ),
}


@pytest.mark.parametrize("case", list(RERUN_CASES))
def test_rerun_bad_records(case, world, capsys):
    make, extra, message = RERUN_CASES[case]
    folder = world["tmp"] / "rec"
    folder.mkdir()
    path = make(folder)
    extra = extra(folder) if callable(extra) else extra
    before = snapshot(world["tmp"])
    assert main(["rerun", str(path), *map(str, extra), "--data-root", world["root"]]) == 2
    one_line(capsys.readouterr().err, message)
    assert snapshot(world["tmp"]) == before


def test_rerun_creates_a_missing_scratch_folder(world, capsys):
    path = _job_record(world["tmp"] / "r.json")
    (world["tmp"] / "new").mkdir()  # the folder itself is made, never its parents
    scratch = world["tmp"] / "new" / "scratch"
    assert main(["rerun", str(path), "--scratch", str(scratch), "--data-root", world["root"]]) == 2
    one_line(capsys.readouterr().err, r"not the official organamnist\.npz .*add --skip-md5")
    assert scratch.is_dir() and list(scratch.iterdir()) == []  # its temporary folder is gone


NOTEBOOK_CASES = [
    ({"device": "cdua"}, r"device 'cdua' is not a device name"),
    ({"device": 0}, r"parameter device must be a device name"),
    ({"workers": 0}, r"parameter workers must be an integer ≥ 1, got 0"),
    ({"executor": "threads"}, r"parameter executor must be one of serial, process, ray"),
    ({"seeds": [0, 0]}, r"parameter seeds lists 0 twice"),
    ({"seeds": []}, r"parameter seeds must be a non-empty list"),
    ({"seeds": [-1]}, r"parameter seeds must be a list of integers ≥ 0"),
    ({"rates": [float("nan")]}, r"parameter rates must be a list of fractions in \(0, 1\]"),
    ({"rates": [0.1, 0.1]}, r"parameter rates lists 0.1 twice"),
    ({"data_root": __file__}, r"parameter data_root must be a folder"),
    ({"extra": {"rate": 0}}, r"parameter rate must be a fraction in \(0, 1\], got 0"),
    ({"extra": {"grid_rates": [2]}}, r"parameter grid_rates must be a list of fractions"),
    ({"extra": {"grid_seeds": [0.5]}}, r"parameter grid_seeds must be a list of integers"),
    (
        {"extra": {"sparsities": [1.0]}},
        r"parameter sparsities must be a list of fractions in \(0, 1\)",
    ),
    ({"extra": {"lams": [-1]}}, r"parameter lams must be a list of finite numbers > 0"),
    ({"extra": {"ipcs": [0]}}, r"parameter ipcs must be a list of image counts"),
    ({"extra": {"datasets": ["chestmnist"]}}, r"multi-label"),
]


@pytest.mark.parametrize("kwargs, message", NOTEBOOK_CASES)
def test_every_notebook_parameter_is_checked(kwargs, message, tmp_path):
    params = {"profile": "smoke", "dataset": "organamnist", "results_dir": str(tmp_path / "r"),
              "scratch_dir": str(tmp_path / "s"), **kwargs}  # fmt: skip
    with pytest.raises(EvalibError, match=message) as err:
        notebook_setup(**params)
    assert "\n" not in str(err.value)
    assert list(tmp_path.iterdir()) == []  # nothing was created


@pytest.mark.parametrize(
    "names, message",
    [
        (["datset"], r"unknown notebook parameter 'datset'; did you mean 'dataset'\?"),
        (["profile", "seed"], r"unknown notebook parameter 'seed'; did you mean 'seeds'\?"),
        (["colour"], r"unknown notebook parameter 'colour'; this notebook takes profile"),
    ],
)
def test_unknown_notebook_parameter_names(names, message):
    with pytest.raises(EvalibError, match=message):
        check_parameter_names(names, NOTEBOOK_PARAMETERS)
    check_parameter_names(["profile", "PAPERMILL_INPUT_PATH"], NOTEBOOK_PARAMETERS)


def test_empty_split_is_never_scored_as_zero():
    import torch

    from evalib.data import Split
    from evalib.models import build_model
    from evalib.train import Recipe, evaluate, train

    empty = Split(torch.zeros(0, 1, 28, 28, dtype=torch.uint8), torch.zeros(0, dtype=torch.long))
    model = build_model("convnet", 1, 11, 0.125)
    with pytest.raises(EvalibError, match="empty split"):
        evaluate(model, empty)
    some = Split(torch.zeros(8, 1, 28, 28, dtype=torch.uint8), torch.arange(8) % 11)
    with pytest.raises(EvalibError, match="the validation split is empty"):
        train(model, some, Recipe(epochs=1), val=empty, progress=False)
    with pytest.raises(EvalibError, match="recipe.lr must be a finite number > 0, got nan"):
        train(model, some, Recipe(epochs=1, lr=float("nan")), progress=False)
    with pytest.raises(EvalibError, match="threads must be an integer ≥ 1, got 0"):
        train(model, some, Recipe(epochs=1), threads=0, progress=False)


# ============================================================================ 3. honest I/O errors


def _deny(monkeypatch, name: str) -> None:
    """Make opening files called ``name`` fail as for a user without read access (the
    tests may run as root, for whom file modes do not apply)."""
    import builtins

    real_open = builtins.open

    def guarded(file, *args, **kwargs):
        if isinstance(file, str | os.PathLike) and Path(file).name == name:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded)


IO_CASES = {  # name: (argv, setup, message, forbidden word)
    "data file unreadable": (
        TRAIN_OK, lambda mp, w: _deny(mp, "organamnist.npz"),
        r"cannot read .*organamnist\.npz: permission denied; the file may be fine", "delete",
    ),
    "data root unreadable": (
        TRAIN_OK, "root",
        r"cannot look into data root .*: permission denied", "delete",
    ),
    "data file missing": (
        TRAIN + ["--dataset", "organsmnist"], None, r"organsmnist\.npz not found in", "delete",
    ),
    "data file damaged": (
        TRAIN + ["--dataset", "retinamnist"], None,
        r"retinamnist\.npz is damaged or truncated .* delete it and it is downloaded again", None,
    ),
    "data file not official": (
        [a for a in TRAIN_OK if a != "--skip-md5"], None,
        r"is not the official organamnist\.npz \(MD5 .*add --skip-md5$", "check_md5",
    ),
    "dynamics unreadable": (
        ["score", "--method", "forgetting", "--dynamics", "DYN", "--out", "OUT"],
        lambda mp, w: _deny(mp, "dyn.npz"), r"--dynamics: cannot read dynamics from .*permission",
        "delete",
    ),
    "dynamics missing": (
        ["score", "--method", "forgetting", "--dynamics", "NONE", "--out", "OUT"], None,
        r"--dynamics: dynamics file not found", None,
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(IO_CASES))
def test_io_problems_have_their_own_message(case, world, monkeypatch, capsys):
    argv, setup, message, forbidden = IO_CASES[case]
    swap = {"DYN": world["dyn"], "NONE": str(world["tmp"] / "none.npz"),
            "OUT": str(world["out"] / "s.csv")}  # fmt: skip
    argv = [swap.get(a, a) for a in argv]
    if argv[0] == "train":
        argv += ["--data-root", world["root"], "--out", str(world["out"] / "dyn.npz")]
    if setup == "root":
        real = Path.is_file
        root = Path(world["root"])
        monkeypatch.setattr(Path, "is_file", lambda p: (_ for _ in ()).throw(
            PermissionError(errno.EACCES, "Permission denied")) if p.parent == root else real(p))  # fmt: skip
    elif setup is not None:
        setup(monkeypatch, world)
    before = snapshot(world["tmp"]) if setup is None else None
    assert main(argv) == 2
    err = capsys.readouterr().err
    one_line(err, message)
    if forbidden:
        assert forbidden not in err
    if before is not None:
        assert snapshot(world["tmp"]) == before


def test_closed_pipe_exits_quietly_in_process(monkeypatch, capsys):
    class Closed:
        def write(self, text):
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")

        def flush(self):
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", Closed())
    assert main(["methods"]) == 141
    assert capsys.readouterr().err == ""


def test_closed_pipe_exits_quietly(tmp_path):
    """`evalib info | head -0`: the reader is gone before evalib writes."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "evalib.cli", "info", "--data-root", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert err == ""


# ============================================================================ 4. devices


def test_device_names_and_absent_devices(monkeypatch):
    import torch

    from evalib import devices as tr

    assert tr.pick_device("cpu") == torch.device("cpu")
    assert tr.pick_device(" CPU ") == torch.device("cpu")
    for bad, message in [("cdua", "is not a device name"), ("gpu:0", "is not a device name"),
                         ("cuda:x", "is not a device name"), ("meta", "is not supported")]:  # fmt: skip
        with pytest.raises(EvalibError, match=message):
            tr.pick_device(bad)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", "12.4")  # a CUDA build whose driver fails
    with pytest.raises(EvalibError, match=r"built for CUDA 12\.4 but cannot use a GPU"):
        tr.pick_device("cuda")
    monkeypatch.setattr(tr, "_mps_available", lambda: False)
    assert tr.pick_device(None) == torch.device("cpu")
    note = tr.device_warning(None, torch.device("cpu"))
    assert note is not None and "driver too old" in note and "runs on the CPU" in note
    assert tr.device_warning("cpu", torch.device("cpu")) is None  # asked for: no warning
    monkeypatch.setattr(torch.version, "cuda", None)
    with pytest.raises(EvalibError, match="no CUDA support"):
        tr.pick_device("cuda:0")
    assert tr.device_warning(None, torch.device("cpu")) is None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert tr.pick_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(EvalibError, match=r"'cuda:2' does not exist: .*2 CUDA device\(s\)"):
        tr.pick_device("cuda:2")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(tr, "_mps_available", lambda: True)
    assert tr.pick_device("auto") == torch.device("mps")
    assert tr.pick_device("mps") == torch.device("mps")
    monkeypatch.delenv("PYTORCH_ENABLE_MPS_FALLBACK", raising=False)
    assert "PYTORCH_ENABLE_MPS_FALLBACK" in tr.device_warning(None, torch.device("mps"))
    monkeypatch.setenv("PYTORCH_ENABLE_MPS_FALLBACK", "1")
    assert tr.device_warning(None, torch.device("mps")) is None


def test_paper_profile_on_cpu_warns_with_its_cost(tmp_path, monkeypatch, capsys):
    import torch

    from evalib import devices as tr

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(tr, "_mps_available", lambda: False)
    notebook_setup("paper", "organamnist", tmp_path / "r", scratch_dir=str(tmp_path / "s"))
    err = capsys.readouterr().err.strip()
    hours = 34561 * 200 / tr.RESNET18_IMAGES_PER_CORE_SECOND / 3600
    assert err.splitlines()[-1] == (
        "evalib: warning: the paper profile is running on the CPU: one resnet18 run of 200 "
        f"epochs on 34561 images takes about {hours:.0f} CPU-core-hours (estimate) and a "
        "notebook runs dozens; use a GPU, or the cpu profile"
    )
    notebook_setup("smoke", "organamnist", tmp_path / "r", scratch_dir=str(tmp_path / "s"))
    assert "paper profile" not in capsys.readouterr().err


# ============================================================================ 5. papermill paths


def test_results_dir_defaults_to_the_checkout_whatever_the_cwd(tmp_path, monkeypatch):
    from evalib.io import MARKER

    repo = Path(__file__).resolve().parents[2]
    monkeypatch.delenv(ENV_RESULTS, raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_results_dir() == repo / "results"
    setup = notebook_setup("smoke", "organamnist", scratch_dir=str(tmp_path / "s"))
    assert setup.cache.results == repo / "results" / "smoke"
    if (repo / ".git").exists():  # what a smoke run writes there is never committed
        ignored = subprocess.run(["git", "check-ignore", "-q", f"results/smoke/{MARKER}"],
                                 cwd=repo, capture_output=True)  # fmt: skip
        assert ignored.returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]  # nothing in the cwd
    monkeypatch.setenv(ENV_RESULTS, str(tmp_path / "elsewhere"))
    setup = notebook_setup("smoke", "organamnist", scratch_dir=str(tmp_path / "s"))
    assert setup.cache.results == tmp_path / "elsewhere" / "smoke"


@pytest.mark.notebooks
def test_papermill_rejects_a_misspelt_parameter(tmp_path):
    """The README's papermill command, from the repository root, with a typo: the run
    stops at the setup cell, naming the parameter, before any data is read."""
    repo = Path(__file__).resolve().parents[2]
    papermill = Path(sys.executable).with_name("papermill")
    if not papermill.exists():
        pytest.skip("papermill is not installed")
    env = {**os.environ, ENV_RESULTS: str(tmp_path / "results"),
           "EVALIB_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(repo)}  # fmt: skip
    proc = subprocess.run(
        [str(papermill), "notebooks/01_dynamics.ipynb", str(tmp_path / "out.ipynb"),
         "-p", "profile", "smoke", "-p", "datset", "bloodmnist"],
        capture_output=True, text=True, env=env, cwd=repo, timeout=600,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "unknown notebook parameter 'datset'; did you mean 'dataset'?" in proc.stderr
    assert not (tmp_path / "results").exists()  # stopped before the cache was made


# ============================================================================ 6. safe unpickling


def test_official_pickle_reader_builds_only_its_own_types(tmp_path):
    import pickle

    import torch

    records = {"data-name": "x", "training_dynamics": [
        {"epoch": 0, "iteration": 0, "idx": torch.arange(3), "output": torch.zeros(3, 4).half()},
        {"epoch": np.int64(1), "iteration": 0, "idx": np.arange(3),
         "output": np.zeros((3, 4), np.float16)},
    ]}  # fmt: skip
    (tmp_path / "ok.pkl").write_bytes(pickle.dumps(records))
    d = import_official_pickle(tmp_path / "ok.pkl", np.array([0, 1, 2]))
    assert d.shape == (2, 3, 4) and d.seen.all()

    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(tmp_path / "pwned"),))

    (tmp_path / "evil.pkl").write_bytes(
        pickle.dumps([{"epoch": 0, "idx": [0], "output": Payload()}])
    )
    with pytest.raises(EvalibError, match=r"refused: it names posix\.mkdir, which the official"):
        import_official_pickle(tmp_path / "evil.pkl", np.array([0]))
    assert not (tmp_path / "pwned").exists()
    (tmp_path / "odd.pkl").write_bytes(pickle.dumps([{"epoch": 0}]))
    with pytest.raises(EvalibError, match="not an official per-batch dict"):
        import_official_pickle(tmp_path / "odd.pkl", np.array([0]))


# ============================================================================ 7. real processes


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--dataset", "organamnist", "--lr", "nan", "--out", "OUT"], "argument --lr"),
        (["train", "--dataset", "organamnist", "--device", "cdua", "--out", "OUT"], "--device"),
        (["train", "--dataset", "organamnist", "--out", "USER"], "evalib did not write"),
        (
            [
                "select",
                "--method",
                "eva",
                "-p",
                "early=x",
                "--rate",
                "0.1",
                "--dynamics",
                "DYN",
                "--out-dir",
                "OUT",
            ],
            "-p early=x",
        ),  # fmt: skip
    ],
)
def test_real_process_bad_values_print_one_line(argv, message, world, user):
    swap = {"OUT": str(world["out"]), "USER": str(user), "DYN": world["dyn"]}
    env = {**os.environ, "OMP_NUM_THREADS": "1", "EVALIB_DATA_ROOT": world["root"]}
    before = snapshot(world["tmp"])
    proc = subprocess.run(
        [sys.executable, "-m", "evalib.cli", *[swap.get(a, a) for a in argv]],
        capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert proc.returncode == 2
    one_line(proc.stderr, message)
    assert snapshot(world["tmp"]) == before
