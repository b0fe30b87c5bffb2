"""Checkpoint and resume: a run killed at any point and resumed equals an uninterrupted one,
whatever the checkpoint cadence (every epoch, every few seconds, the default minutes).

The subprocess tests kill ``evalib train`` with SIGKILL at deterministic points (a hook
wrapped around the real CLI makes the process hang mid-epoch, or kill itself half-way
through writing ``state.pt``) and give it a clock in which every batch takes a fixed
time, so they never depend on how fast the machine is.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from evalib import data
from evalib import dynamics as dyn_io
from evalib.errors import EvalibError
from evalib.models import build_model
from evalib.train import Recipe, seed_everything, train
from tests.conftest import make_npz

ROOT = Path(__file__).resolve().parents[2]

# Runs the real CLI; environment variables arm deterministic kill points and a clock.
HOOK = r"""
import io, os, signal, sys, time
import torch
import evalib.checkpoints as C
import evalib.train as T
from evalib import cli

hang_epoch = int(os.environ.get("HOOK_HANG_IN_EPOCH", "-1"))
hang_batch = int(os.environ.get("HOOK_HANG_AT_BATCH", "0"))
die_at = int(os.environ.get("HOOK_DIE_IN_SAVE", "0"))
tick = float(os.environ.get("HOOK_SECONDS_PER_BATCH", "0"))
save_log = os.environ.get("HOOK_SAVE_LOG")
calls = {"float": 0, "batches": 0, "epochs": 0, "save": 0}
to_float, save, commit = T.to_float, torch.save, C.EpochStore.commit_epoch

def hanging_to_float(x):  # after an epoch's commit come the next epoch's training batches
    calls["float"] += 1
    calls["batches"] += 1
    if calls["epochs"] == hang_epoch and calls["float"] == hang_batch:
        open(os.environ["HOOK_MARKER"], "w").close()
        time.sleep(600)  # the test kills us here, mid-epoch
    return to_float(x)

def counting_commit(self, *args):  # once per finished epoch, checkpoint or not
    calls["epochs"] += 1
    calls["float"] = 0
    return commit(self, *args)

def dying_save(obj, fh, *args, **kwargs):  # SIGKILL half-way through writing state.pt
    calls["save"] += 1
    if save_log:
        with open(save_log, "a") as log:
            log.write(f"{obj['epoch']}\n")
    if calls["save"] == die_at:
        buf = io.BytesIO()
        save(obj, buf, *args, **kwargs)
        fh.write(buf.getvalue()[: len(buf.getvalue()) // 2])
        fh.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    return save(obj, fh, *args, **kwargs)

T.to_float = hanging_to_float
C.EpochStore.commit_epoch = counting_commit
torch.save = dying_save
if tick:  # a clock in which every batch (training or evaluation) takes `tick` seconds
    C._now = lambda: calls["batches"] * tick
sys.exit(cli.main(sys.argv[1:]))
"""

N_TRAIN, BATCH, EPOCHS = 200, 32, 10  # 7 training batches and 1 validation batch per epoch


@dataclass(frozen=True)
class Scenario:
    """A run killed mid-epoch, resumed and killed half-way through a checkpoint write,
    then resumed to the end. ``args``: extra CLI arguments; ``tick``: seconds per batch of
    the fake clock (0: the real clock); ``kill_epoch``: the epoch (0-indexed) in whose
    ``kill_batch``-th batch the first run is killed; ``die_in_save``: which checkpoint
    write of the second run is cut; ``saved``: epochs done in state.pt after the first
    kill and after the second; ``saves``: the epochs of every state.pt write, per run."""

    args: tuple[str, ...]
    tick: float
    kill_epoch: int
    kill_batch: int
    die_in_save: int
    saved: tuple[int, int]
    saves: tuple[tuple[int, ...], ...]
    epochs: int = EPOCHS
    subset: int | None = None


SCENARIOS = {
    # every epoch: three epochs done at the kill; the resumed run dies saving epoch 5
    "every epoch": Scenario(("--checkpoint-every", "0"), 0, 3, 4, 3, (3, 5),
                            ((1, 2, 3), (4, 5, 6), (6, 7, 8, 9, 10))),
    # every 20 s with 8 s per epoch (one batch = 1 s): after epochs 3, 6, 9 and the last;
    # the kill in epoch 7 loses one epoch, and the resumed run dies saving epoch 9
    "every 20 s": Scenario(("--checkpoint-every", "20"), 1, 7, 4, 1, (6, 6),
                           ((3, 6), (9,), (9, 10))),
}  # fmt: skip


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", **extra)
    env.pop("EVALIB_CHECKPOINT_EVERY", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _command(
    root: Path, out: Path, checkpoint: Path | None, sc: Scenario | None = None
) -> list[str]:
    sc = sc or SCENARIOS["every epoch"]
    cmd = [
        sys.executable, "-c", HOOK, "train", "--dataset", "organamnist",
        "--data-root", str(root), "--skip-md5", "--no-download",
        "--model", "convnet", "--width", "0.125", "--epochs", str(sc.epochs),
        "--batch-size", str(BATCH), "--threads", "1", "--seed", "3",
        "--quiet", "--out", str(out), *sc.args,
    ]  # fmt: skip
    if sc.subset is not None:
        cmd += ["--subset", str(sc.subset), "--batch-size", "256"]
    return cmd + (["--checkpoint-dir", str(checkpoint)] if checkpoint else [])


def _state(folder: Path) -> dict:
    return torch.load(folder / "state.pt", map_location="cpu", weights_only=True)


def _check(proc: subprocess.CompletedProcess | subprocess.Popen, rc: int, what: str) -> None:
    out = proc.stdout.read() if hasattr(proc.stdout, "read") else proc.stdout
    err = proc.stderr.read() if hasattr(proc.stderr, "read") else proc.stderr
    assert proc.returncode == rc, f"{what}: exit {proc.returncode}, wanted {rc}\n{out}\n{err}"


def _history(h: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in h]


def _assert_same(a: dyn_io.Dynamics, b: dyn_io.Dynamics) -> None:
    for name in dyn_io.ARRAY_FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert x.dtype == y.dtype and np.array_equal(x, y), f"{name} differs"


def _saves(log: Path) -> tuple[int, ...]:
    text = log.read_text() if log.exists() else ""
    log.unlink(missing_ok=True)
    return tuple(int(line) for line in text.split())


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_sigkill_mid_epoch_and_mid_save_then_resume_equals_uninterrupted(tmp_path, name):
    _kill_resume_compare(tmp_path, SCENARIOS[name])


@pytest.mark.slow
def test_paper_recipe_checkpoints_a_handful_of_times_and_resumes_after_sigkill(tmp_path):
    """The paper's recipe (200 epochs, batch 256, evaluation every epoch; the CLI's
    defaults) with the default cadence, on a 32-image subset with a small network and a
    clock in which every batch takes 1 s (2 s per epoch): state.pt is written after
    epochs 150 and 200 only, and a kill in epoch 170 resumes from epoch 150."""
    paper = Scenario((), 1, 170, 1, 1, (150, 150), ((150,), (200,), (200,)), 200, 32)
    _kill_resume_compare(tmp_path, paper)


def _kill_resume_compare(tmp_path: Path, sc: Scenario) -> None:
    make_npz(tmp_path / "organamnist.npz", n=(N_TRAIN, 40, 40), seed=5)
    ck, out, ref_out = tmp_path / "ck", tmp_path / "out.npz", tmp_path / "ref.npz"
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    # the uninterrupted reference (no checkpoint folder at all) runs alongside
    reference = subprocess.Popen(_command(tmp_path, ref_out, None, sc), env=_env(), **pipes)
    try:
        _kill_and_resume(tmp_path, ck, out, pipes, sc)
        reference.wait(timeout=600)
    finally:
        if reference.poll() is None:
            reference.kill()
            reference.wait()
    _check(reference, 0, "reference run")
    got, ref = dyn_io.load(out, mmap=False), dyn_io.load(ref_out, mmap=False)
    n = sc.subset or N_TRAIN
    assert got.shape == (sc.epochs, n, 11) and got.eval_log_probs.shape == (1, n, 11)
    _assert_same(got, ref)
    assert [r["epoch"] for r in got.meta["history"]] == list(range(sc.epochs))
    # wall-clock seconds differ; losses, accuracies, lr and steps must be bitwise equal
    assert _history(got.meta["history"]) == _history(ref.meta["history"])


def _kill_and_resume(tmp_path: Path, ck: Path, out: Path, pipes: dict, sc: Scenario) -> None:
    log = tmp_path / "saves.log"
    clock = {"HOOK_SECONDS_PER_BATCH": str(sc.tick), "HOOK_SAVE_LOG": str(log)}
    # 1. hang mid-epoch after some checkpoints exist, then SIGKILL
    marker = tmp_path / "hanging"
    env = _env(HOOK_HANG_IN_EPOCH=str(sc.kill_epoch), HOOK_HANG_AT_BATCH=str(sc.kill_batch),
               HOOK_MARKER=str(marker), **clock)  # fmt: skip
    proc = subprocess.Popen(_command(tmp_path, out, ck, sc), env=env, **pipes)
    deadline = time.monotonic() + 300
    try:
        while not (marker.exists() and (ck / "state.pt").exists()):
            if proc.poll() is not None:
                pytest.fail(
                    f"training exited (status {proc.returncode}) before it could be killed; "
                    f"retune the scenario\n{proc.stdout.read()}\n{proc.stderr.read()}"
                )
            if time.monotonic() > deadline:
                pytest.fail("training never reached the kill point within 300 s")
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    _check(proc, -signal.SIGKILL, "killed run")
    assert not out.exists()
    state = _state(ck)
    assert state["epoch"] == sc.saved[0] and len(state["history"]) == sc.saved[0]
    assert _saves(log) == sc.saves[0]

    # 2. resume, and die by SIGKILL half-way through writing state.pt
    env = _env(HOOK_DIE_IN_SAVE=str(sc.die_in_save), **clock)
    proc = subprocess.run(_command(tmp_path, out, ck, sc), env=env, **pipes)
    _check(proc, -signal.SIGKILL, "run killed while saving")
    assert _state(ck)["epoch"] == sc.saved[1]  # the previous state.pt is intact
    assert list(ck.glob(".state.*.tmp")), "the half-written state should be a temp file"
    saves = _saves(log)
    assert saves == sc.saves[1]
    # rows of the epoch being saved are on disk, but state.pt does not point at them
    assert np.load(ck / "seen.npy")[saves[-1] - 1].all()

    # 3. resume to completion
    proc = subprocess.run(_command(tmp_path, out, ck, sc), env=_env(**clock), **pipes)
    _check(proc, 0, "resumed run")
    assert not list(ck.glob(".state.*.tmp"))
    assert _state(ck)["epoch"] == sc.epochs
    assert _saves(log) == sc.saves[2]


# ----------------------------------------------------------------------------- in-process

RECIPE = Recipe(epochs=3, batch_size=16)


@pytest.fixture
def tiny(tiny_root):
    return data.load("organamnist", tiny_root, allow_download=False, check_md5=False)


def _run(split, val=None, seed=0, recipe=RECIPE, model=None, **kw):
    seed_everything(seed)
    model = model or build_model("convnet", 1, 11, width=0.125)
    return train(
        model, split, recipe, seed=seed, val=val, eval_pass_epochs=[-1], progress=False, **kw
    )


def _same_result(a, b) -> None:
    _assert_same(a.dynamics, b.dynamics)
    assert _history(a.history) == _history(b.history)
    assert a.steps == b.steps


def _max_pooled_convnet() -> torch.nn.Module:
    """The ConvNet of :func:`_run` with its first average pool swapped for a max pool."""
    model = build_model("convnet", 1, 11, width=0.125)
    for parent in model.modules():
        for name, child in parent.named_children():
            if isinstance(child, torch.nn.AvgPool2d):
                setattr(parent, name, torch.nn.MaxPool2d(2, 2))
                return model
    raise AssertionError("the ConvNet has no average pool")


def test_checkpoint_of_another_run_is_rejected_not_mixed(tiny, tmp_path):
    ck = tmp_path / "ck"
    first = _run(tiny.train, tiny.val, recipe=Recipe(epochs=2, batch_size=16), checkpoint_dir=ck)
    before = {p.name: p.read_bytes() for p in ck.iterdir()}
    others = {
        "samples": dict(split=tiny.train.subset(np.arange(30))),
        "seed": dict(seed=1),
        "recipe.lr": dict(recipe=Recipe(epochs=2, batch_size=16, lr=0.05)),
        "recipe.epochs": dict(recipe=Recipe(epochs=3, batch_size=16)),
        "record": dict(record=False),
        "data_digest": dict(split=tiny.test.subset(np.arange(12).repeat(4)[:40])),
        "architecture": dict(model=_max_pooled_convnet()),  # same parameters, other layers
    }
    for key, kw in others.items():
        kw = {"split": tiny.train, "recipe": Recipe(epochs=2, batch_size=16), **kw}
        with pytest.raises(EvalibError, match=rf"from a different run \(.*{key} ") as info:
            _run(val=tiny.val, checkpoint_dir=ck, **kw)
        assert "delete the folder" in str(info.value)
    assert {p.name: p.read_bytes() for p in ck.iterdir()} == before  # nothing touched
    again = _run(tiny.train, tiny.val, recipe=Recipe(epochs=2, batch_size=16), checkpoint_dir=ck)
    _same_result(again, first)  # a finished run resumes to the same result


def test_failed_checkpoint_write_keeps_previous_state(tiny, tmp_path, monkeypatch):
    reference = _run(tiny.train, tiny.val)
    ck = tmp_path / "ck"
    real_save, calls = torch.save, []

    def broken_save(obj, fh, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # epoch 1: write a part of the file, then fail
            fh.write(b"PK\x03\x04 half a checkpoint")
            fh.flush()
            raise RuntimeError("simulated crash in torch.save")
        return real_save(obj, fh, *args, **kwargs)

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(RuntimeError, match="simulated crash"):
        _run(tiny.train, tiny.val, checkpoint_dir=ck, checkpoint_every_s=0)
    assert _state(ck)["epoch"] == 1  # still the state after epoch 0
    assert not list(ck.glob(".state.*.tmp"))

    calls.clear()

    def disk_full(obj, fh, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(EvalibError, match=r"cannot write .*state\.pt: No space left"):
        _run(tiny.train, tiny.val, checkpoint_dir=ck)
    assert _state(ck)["epoch"] == 1 and not list(ck.glob(".state.*.tmp"))

    monkeypatch.setattr(torch, "save", real_save)
    _same_result(_run(tiny.train, tiny.val, checkpoint_dir=ck), reference)


def test_folder_without_state_starts_afresh(tiny, tmp_path):
    ck = tmp_path / "ck"
    ck.mkdir()
    np.save(ck / "log_probs.npy", np.ones((7, 3), np.float32))  # debris of a killed start
    (ck / ".state.abc.tmp").write_bytes(b"partial")
    _same_result(_run(tiny.train, tiny.val, checkpoint_dir=ck), _run(tiny.train, tiny.val))
    assert not (ck / ".state.abc.tmp").exists()


def test_missing_or_corrupt_checkpoint_files_are_clear_errors(tiny, tmp_path):
    ck = tmp_path / "ck"
    _run(tiny.train, tiny.val, recipe=Recipe(epochs=1, batch_size=16), checkpoint_dir=ck)
    (ck / "seen.npy").unlink()
    with pytest.raises(EvalibError, match=r"seen\.npy is missing or unreadable"):
        _run(tiny.train, tiny.val, recipe=Recipe(epochs=1, batch_size=16), checkpoint_dir=ck)
    (ck / "state.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(EvalibError, match=r"state\.pt is unreadable"):
        _run(tiny.train, tiny.val, recipe=Recipe(epochs=1, batch_size=16), checkpoint_dir=ck)


def test_partial_last_epoch_resumes_bitwise(tiny, tmp_path):
    """An iteration budget leaves unseen samples in the last epoch; they are stored as 0."""
    recipe = Recipe(iterations=7, batch_size=16)  # 3 + 3 + 1 steps
    reference = _run(tiny.train, recipe=recipe)
    assert reference.dynamics.seen.sum(1).tolist() == [40, 40, 16]
    last = reference.dynamics.log_probs[-1][~reference.dynamics.seen[-1]]
    assert not last.any()

    def stop(epoch):
        if epoch == 1:
            raise KeyboardInterrupt

    ck = tmp_path / "ck"
    with pytest.raises(KeyboardInterrupt):
        _run(tiny.train, recipe=recipe, checkpoint_dir=ck, on_epoch_end=stop, checkpoint_every_s=0)
    assert _state(ck)["epoch"] == 2
    _same_result(_run(tiny.train, recipe=recipe, checkpoint_dir=ck), reference)


class FakeClock:
    """Replaces the checkpoint clock: ``seconds_per_epoch`` pass at the end of every epoch
    (after its checkpoint decision); counts and records every state.pt write."""

    def __init__(self, monkeypatch, seconds_per_epoch: float = 1.0) -> None:
        import evalib.checkpoints as C

        self.now, self.step, self.saved = 0.0, seconds_per_epoch, []
        monkeypatch.setattr(C, "_now", lambda: self.now)
        real = torch.save

        def save(obj, fh, *args, **kwargs):
            self.saved.append(obj["epoch"])
            return real(obj, fh, *args, **kwargs)

        monkeypatch.setattr(torch, "save", save)

    def tick(self, epoch: int) -> None:
        self.now += self.step


CADENCE_RECIPE = Recipe(epochs=8, batch_size=16)


@pytest.mark.parametrize(
    ("every_s", "saved"),
    [
        (0, [1, 2, 3, 4, 5, 6, 7, 8]),  # every epoch
        (2.5, [4, 7, 8]),  # the first epoch ending 2.5 s after the last save, and the last
        (math.inf, [8]),  # only the last
    ],
)
def test_checkpoint_cadence_saves_on_time_and_resumes_bitwise(tiny, tmp_path, monkeypatch,
                                                              every_s, saved):  # fmt: skip
    reference = _run(tiny.train, tiny.val, recipe=CADENCE_RECIPE)  # no checkpoint folder
    clock = FakeClock(monkeypatch)
    ck = tmp_path / "ck"
    run = _run(tiny.train, tiny.val, recipe=CADENCE_RECIPE, checkpoint_dir=ck,
               checkpoint_every_s=every_s, on_epoch_end=clock.tick)  # fmt: skip
    assert clock.saved == saved
    _same_result(run, reference)

    # interrupted after epoch 4 (5 done): resumes from the last save, loses less than a cadence
    ck2, clock.saved[:] = tmp_path / "ck2", []

    def stop(epoch):
        clock.tick(epoch)
        if epoch == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(tiny.train, tiny.val, recipe=CADENCE_RECIPE, checkpoint_dir=ck2,
             checkpoint_every_s=every_s, on_epoch_end=stop)  # fmt: skip
    before = [e for e in saved if e <= 5]
    assert clock.saved == before
    assert (ck2 / "state.pt").exists() == bool(before)
    if before:
        assert _state(ck2)["epoch"] == before[-1] and 5 - before[-1] <= every_s
    resumed = _run(tiny.train, tiny.val, recipe=CADENCE_RECIPE, checkpoint_dir=ck2,
                   checkpoint_every_s=every_s, on_epoch_end=clock.tick)  # fmt: skip
    _same_result(resumed, reference)


def test_checkpoint_cadence_comes_from_the_environment_and_is_checked(tiny, tmp_path,
                                                                      monkeypatch):  # fmt: skip
    clock = FakeClock(monkeypatch)
    monkeypatch.setenv("EVALIB_CHECKPOINT_EVERY", "0")
    _run(tiny.train, checkpoint_dir=tmp_path / "a", on_epoch_end=clock.tick)
    assert clock.saved == [1, 2, 3]
    clock.saved.clear()
    monkeypatch.delenv("EVALIB_CHECKPOINT_EVERY")  # default: minutes, so only the last
    _run(tiny.train, checkpoint_dir=tmp_path / "b", on_epoch_end=clock.tick)
    assert clock.saved == [3]
    for bad in (-1, math.nan, "10"):
        with pytest.raises(EvalibError, match="checkpoint_every_s must be a number"):
            _run(tiny.train, checkpoint_dir=tmp_path / "c", checkpoint_every_s=bad)
    monkeypatch.setenv("EVALIB_CHECKPOINT_EVERY", "soon")
    with pytest.raises(EvalibError, match=r"EVALIB_CHECKPOINT_EVERY must be a number"):
        _run(tiny.train, checkpoint_dir=tmp_path / "d")


# ----------------------------------------------------------------------------- process pool

_POOL_PARENT = r"""
import os, sys, time
from evalib.runs.executors import ProcessExecutor

def work(path):
    with open(path, "w") as fh:
        fh.write(str(os.getpid()))
    time.sleep(600)

if __name__ == "__main__":
    for _ in ProcessExecutor(workers=1).run(work, [sys.argv[1]]):
        pass
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"))


def test_pool_workers_exit_when_the_parent_is_killed(tmp_path):
    """SIGKILL of the runner (``evalib grid`` killed) must not leave workers training."""
    script, marker = tmp_path / "parent.py", tmp_path / "worker.pid"
    script.write_text(_POOL_PARENT)
    parent = subprocess.Popen([sys.executable, str(script), str(marker)], env=_env())
    deadline = time.monotonic() + 120
    while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert marker.exists(), "the worker never started"
    worker = int(marker.read_text())
    assert _alive(worker)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 20
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(worker), "the pool worker outlived its killed parent"
