"""The Recorder: dynamics from a plain PyTorch loop, equal to evalib's trainer on the same run."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from evalib import dynamics as dm
from evalib.data import Split
from evalib.errors import EvalibError
from evalib.recorder import Recorder
from evalib.scores import compute_scores
from evalib.train import Recipe, train

N, C, EPOCHS, BATCH, SEED = 70, 5, 3, 16, 7  # 70 = 4 full batches of 16 and one of 6


def _model() -> nn.Module:
    torch.manual_seed(SEED)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(),
        nn.Linear(64, C),
    )  # fmt: skip


@pytest.fixture
def data() -> Split:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, C, N)
    images = np.clip(labels[:, None, None, None] * 50 + rng.integers(0, 40, (N, 1, 28, 28)), 0, 255)
    return Split(torch.from_numpy(images.astype(np.uint8)), torch.from_numpy(labels))


def test_plain_loop_equals_trainer(data):
    trainer = train(_model(), data, Recipe(epochs=EPOCHS, batch_size=BATCH), seed=SEED,
                    eval_pass_epochs=(-1,), progress=False).dynamics  # fmt: skip

    model = _model()
    recipe = Recipe()
    opt = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                          nesterov=True, weight_decay=recipe.weight_decay)  # fmt: skip
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(
        opt, T_max=EPOCHS * -(-N // BATCH), eta_min=recipe.min_lr
    )
    dataset = TensorDataset(torch.arange(N), data.images, data.labels)
    order = torch.Generator().manual_seed(SEED)
    rec = Recorder(N, C, epochs=EPOCHS, labels=data.labels)
    for epoch in range(EPOCHS):
        model.train()
        loader = DataLoader(dataset, batch_size=BATCH, sampler=torch.randperm(N, generator=order))
        for idx, x, y in loader:
            logits = model(x.float().mul_(2.0 / 255.0).sub_(1.0))
            rec.record(idx, logits)
            loss = F.cross_entropy(logits.float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        if epoch == EPOCHS - 1:  # an eval-mode pass after the last epoch, as the trainer's
            model.eval()
            with torch.no_grad():
                for idx, x, _ in DataLoader(dataset, batch_size=1024):
                    rec.record_eval(idx, model(x.float().mul_(2.0 / 255.0).sub_(1.0)))
        rec.end_epoch()
    mine = rec.dynamics()

    assert mine.shape == trainer.shape == (EPOCHS, N, C)
    np.testing.assert_array_equal(mine.log_probs, trainer.log_probs)
    np.testing.assert_array_equal(mine.seen, trainer.seen)
    np.testing.assert_array_equal(mine.labels, trainer.labels)
    np.testing.assert_array_equal(mine.sample_ids, trainer.sample_ids)
    np.testing.assert_array_equal(mine.eval_log_probs, trainer.eval_log_probs)
    np.testing.assert_array_equal(mine.eval_epochs, trainer.eval_epochs)
    for method, params in (("forgetting", {}), ("el2n", {"end": 2}), ("aum", {}), ("entropy", {}),
                           ("var_s", {"window": (1, 3)})):  # fmt: skip
        np.testing.assert_array_equal(
            compute_scores(method, mine, **params), compute_scores(method, trainer, **params)
        )


def test_unseen_samples_and_numpy_logits():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(6, 3)).astype(np.float32)
    rec = Recorder(8, 3, labels=np.arange(8) % 3)
    rec.record(np.arange(6), logits)  # samples 6 and 7 not met this epoch
    rec.end_epoch()
    rec.record(torch.arange(8), torch.from_numpy(rng.normal(size=(8, 3)).astype(np.float32)))
    rec.end_epoch()
    d = rec.dynamics()
    assert d.seen.tolist() == [[True] * 6 + [False] * 2, [True] * 8]
    assert not d.log_probs[0, 6:].any()
    expected = F.log_softmax(torch.from_numpy(logits), dim=1).half().numpy()
    np.testing.assert_allclose(d.log_probs[0, :6].astype(np.float32), expected, atol=2e-3)
    assert d.eval_log_probs is None and d.meta == {"source": "Recorder"}


def test_labels_from_targets_and_save_roundtrip(tmp_path):
    rec = Recorder(4, 2, meta={"model": "mine"})
    rec.record([2, 0], torch.zeros(2, 2), targets=torch.tensor([1, 0]))
    rec.record([1, 3], torch.zeros(2, 2), targets=[1, 1])
    rec.end_epoch()
    dm.save(rec.dynamics(), tmp_path / "d.npz")
    back = dm.load(tmp_path / "d.npz")
    assert back.labels.tolist() == [0, 1, 1, 1] and back.meta["model"] == "mine"


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (lambda r: r.record([0, 1], torch.zeros(2, 4)), r"logits must be \[B, 3\]"),
        (lambda r: r.record([0, 9], torch.zeros(2, 3)), r"indices must lie in \[0, 3\]"),
        (lambda r: r.record([0, 1, 2], torch.zeros(2, 3)), "3 indices for 2 rows"),
        (lambda r: r.end_epoch(), "ended with no record"),
        (lambda r: (r.record([0], torch.zeros(1, 3)), r.dynamics()), "call end_epoch"),
        (lambda r: r.dynamics(), "nothing recorded"),
        (
            lambda r: [(r.record([0], torch.zeros(1, 3)), r.end_epoch()) for _ in range(3)],
            "made for 2 epochs",
        ),
        (
            lambda r: (
                r.record([0], torch.zeros(1, 3)),
                r.record_eval([0], torch.zeros(1, 3)),
                r.end_epoch(),
            ),
            "missed 3 of 4",
        ),  # fmt: skip
    ],
)
def test_mistakes_are_one_line_errors(steps, message):
    rec = Recorder(4, 3, epochs=2, labels=[0, 1, 2, 0])
    with pytest.raises(EvalibError, match=message):
        steps(rec)


def test_missing_labels_refused():
    rec = Recorder(3, 2)
    rec.record([0, 1, 2], torch.zeros(3, 2), targets=[0, 1, 0])
    rec.end_epoch()
    assert rec.dynamics().labels.tolist() == [0, 1, 0]
    rec = Recorder(3, 2)
    rec.record([0, 1], torch.zeros(2, 2), targets=[0, 1])
    rec.end_epoch()
    with pytest.raises(EvalibError, match="1 of 3 samples have no label"):
        rec.dynamics()


def readme_example() -> str:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = text.split("## Record dynamics in your own training loop", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_recorder_example_runs(tmp_path, monkeypatch, capsys):
    """The README's example, verbatim: a loop, the Recorder, then `evalib select` on it."""
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_example(), "README.md", "exec"), {"__name__": "readme"})
    d = dm.load(tmp_path / "my_run.npz")
    assert d.seen.all() and d.num_classes == 4
    section = (Path(__file__).resolve().parents[2] / "README.md").read_text().split(
        "## Record dynamics in your own training loop", 1)[1]  # fmt: skip
    command = re.search(r"```bash\n(evalib select [^`]*?)\n```", section, re.S).group(1)
    from evalib.cli import main

    argv = command.replace("\\\n", " ").split()[1:]
    assert main(argv) == 0, capsys.readouterr().err
    assert (tmp_path / "coresets" / "eva-0.1.npy").exists()
