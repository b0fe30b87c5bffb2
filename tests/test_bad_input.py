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
from evalib import experiments as ex
from evalib.cli import main
from evalib.errors import EvalibError
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
    return {"root": str(root), "dyn": str(tmp_path / "dyn.npz"), "blood": str(tmp_path / "blood.npz"),
            "out": out, "tmp": tmp_path}  # fmt: skip


TRAIN = ["train", "--model", "convnet", "--width", "0.125", "--epochs", "1", "--quiet",
         "--skip-md5", "--no-download"]  # fmt: skip
SELECT = ["select", "--method", "eva", "-p", "early=0,2", "-p", "late=3,5"]

CASES = {
    "unknown dataset": (TRAIN + ["--dataset", "nosuchmnist"], "unknown dataset 'nosuchmnist'"),
    "file missing offline": (TRAIN + ["--dataset", "organsmnist"], "organsmnist.npz not found in"),
    "not a zip": (TRAIN + ["--dataset", "breastmnist"], "corrupt or truncated"),
    "truncated npz": (TRAIN + ["--dataset", "retinamnist"], "corrupt or truncated"),
    "wrong shape": (TRAIN + ["--dataset", "pathmnist"], r"images must be \[N, H, W, 3\]"),
    "labels out of range": (TRAIN + ["--dataset", "dermamnist"], r"outside \[0, 6\]"),
    "multi-label": (TRAIN + ["--dataset", "chestmnist"], "multi-label"),
    "3D dataset": (TRAIN + ["--dataset", "organmnist3d"], "3D dataset"),
    "rate zero": (SELECT + ["--rate", "0"], r"rate must lie in \(0, 1\]"),
    "rate above one": (SELECT + ["--rate", "1.5"], r"rate must lie in \(0, 1\]"),
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
    assert not world["out"].exists()


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
    with pytest.raises(EvalibError, match="cannot create folder"):
        ex.Cache.at(blocker / "results", world["tmp"] / "scratch")


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
        ({"rates": "0.05"}, "parameter rates must be a list"),
        ({"seeds": [0.5]}, "parameter seeds must be a list of integers"),
        ({"profile": 3}, "parameter profile must be"),
        ({"rates": [0.0]}, r"rates must lie in \(0, 1\]"),
        ({"profile": "huge"}, "unknown profile 'huge'"),
        ({"dataset": "chestmnist"}, "multi-label"),
    ],
)
def test_notebook_parameters_are_checked(kwargs, message, tmp_path):
    params = {"profile": "smoke", "dataset": "organamnist", "results_dir": str(tmp_path), **kwargs}
    with pytest.raises(EvalibError, match=message):
        ex.notebook_setup(**params)


def test_real_process_prints_no_traceback(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "evalib.cli", "train", "--dataset", "organsmnist", "--data-root",
         str(tmp_path), "--no-download", "--out", str(tmp_path / "d.npz")],
        capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "organsmnist.npz not found in" in proc.stderr
    assert list(tmp_path.iterdir()) == []
