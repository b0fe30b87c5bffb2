"""evalib.io: what evalib writes ends with the permissions a plain ``open()`` or ``mkdir``
would give under the user's umask, and user-named paths get no invented parent folders."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
import torch

from evalib import dynamics as dm
from evalib.errors import EvalibError
from evalib.io import (
    MARKER,
    atomic_dir,
    atomic_file,
    check_parent,
    current_umask,
    marker_record,
    refuses_pickle,
    write_marker,
)
from evalib.recorder import Recorder
from evalib.scores import compute_scores
from evalib.select import save_scores, save_selection, select


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(params=[0o022, 0o077], ids=["umask022", "umask077"])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _dynamics() -> dm.Dynamics:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 12, 3))
    return dm.from_arrays(logits - np.log(np.exp(logits).sum(-1, keepdims=True)), np.arange(12) % 3)


def test_current_umask_reads_without_changing_it(umask):
    assert current_umask() == umask
    assert current_umask() == umask  # unchanged by the first read


def test_every_writer_gives_the_mode_of_a_plain_open(tmp_path, umask):
    """Files 0o666 & ~umask and folders 0o777 & ~umask, as open() and mkdir give (mkstemp
    and mkdtemp alone would leave 0o600 and 0o700)."""
    file_mode, dir_mode = 0o666 & ~umask, 0o777 & ~umask
    with atomic_file(tmp_path / "plain.bin") as fh:
        fh.write(b"x")
    with atomic_dir(tmp_path / "folder", "test") as tmp:
        (tmp / "inside.txt").write_text("y")
    dyn = _dynamics()
    dm.save(dyn, tmp_path / "dyn.npz")
    dm.save(dyn, tmp_path / "dyn_dir")
    rec = Recorder(num_samples=12, num_classes=3, labels=torch.arange(12) % 3)
    for _ in range(2):
        rec.record(torch.arange(12), torch.randn(12, 3))
        rec.end_epoch()
    dm.save(rec.dynamics(), tmp_path / "recorded.npz")
    sel = select("random", compute_scores("random", 12, seed=0), 0.5, seed=0)
    save_selection(sel, tmp_path / "random-0.5.npy")
    save_scores(sel.scores, np.arange(12), tmp_path / "scores.csv")
    from evalib.runs.cache import atomic_write_json

    atomic_write_json(tmp_path / "jobs" / "job.json", {"key": "k"})
    files = ["plain.bin", "dyn.npz", "recorded.npz", "random-0.5.npy", "scores.csv",
             "jobs/job.json", f"folder/{MARKER}", "folder/inside.txt", "dyn_dir/labels.npy",
             f"dyn_dir/{MARKER}"]  # fmt: skip
    for name in files:
        assert _mode(tmp_path / name) == file_mode, name
    for name in ("folder", "dyn_dir", "jobs"):
        assert _mode(tmp_path / name) == dir_mode, name
    leftovers = [p.name for p in tmp_path.rglob(".*") if p.name != MARKER]
    assert leftovers == []


def test_a_replaced_file_keeps_its_mode(tmp_path, umask):
    path = tmp_path / "kept.bin"
    with atomic_file(path) as fh:
        fh.write(b"1")
    os.chmod(path, 0o640)
    with atomic_file(path) as fh:
        fh.write(b"2")
    assert path.read_bytes() == b"2" and _mode(path) == 0o640


def test_markers_record_what_an_output_was_made_from(tmp_path):
    write_marker(tmp_path, "coresets", made_from={"dynamics": "abc", "samples": 3})
    record = marker_record(tmp_path)
    assert record["kind"] == "coresets" and record["made_from"] == {"dynamics": "abc", "samples": 3}
    (tmp_path / MARKER).write_text("[1, 2]")
    assert marker_record(tmp_path) is None


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda t: t / "missing" / "deeper" / "a.npz",
            r"the folder .*missing/deeper does not exist",
        ),
        (lambda t: t / "afile" / "a.npz", r"afile is not a folder"),
        (lambda t: t / "afile" / "sub" / "a.npz", r"afile is not a folder"),
    ],
)
def test_check_parent_refuses_missing_parents_in_one_line(tmp_path, make, message):
    (tmp_path / "afile").write_text("x")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(EvalibError, match=message) as err:
        check_parent(make(tmp_path), "--out")
    assert "\n" not in str(err.value) and str(err.value).startswith("cannot write --out ")
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing created
    check_parent(tmp_path / "new.npz", "--out")  # an existing parent is fine
    check_parent(tmp_path / "new_folder", "--out-dir")


def test_refuses_pickle_recognises_numpys_refusal(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError) as err:
        np.load(tmp_path / "objects.npy", allow_pickle=False)
    assert refuses_pickle(err.value)
    with pytest.raises(ValueError) as err:
        np.load(tmp_path / "objects.npy", mmap_mode="r", allow_pickle=False)
    assert refuses_pickle(err.value)
    assert not refuses_pickle(ValueError("cannot reshape"))
