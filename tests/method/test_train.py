import numpy as np
import pytest
import torch

from evalib import data
from evalib.errors import EvalibError
from evalib.models import build_model
from evalib.train import Recipe, evaluate, predictions, seed_everything, train

FAST = Recipe(epochs=3, batch_size=16, eval_every=1)


def _run(split, seed=0, recipe=FAST, **kw):
    seed_everything(seed)
    model = build_model("convnet", 1, 11, width=0.125)
    return train(model, split, recipe, seed=seed, progress=False, **kw)


@pytest.fixture
def tiny(tiny_root):
    return data.load("organamnist", tiny_root, allow_download=False, check_md5=False)


def test_records_dynamics_of_every_sample(tiny):
    r = _run(tiny.train, val=tiny.val, test=tiny.test, eval_pass_epochs=[-1])
    d = r.dynamics
    assert d.shape == (3, 40, 11)
    assert d.seen.all()  # no drop_last: every sample every epoch
    probs = np.exp(d.log_probs.astype(np.float64))
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=5e-3)
    assert d.eval_log_probs.shape == (1, 40, 11) and d.eval_epochs.tolist() == [2]
    assert [h["epoch"] for h in r.history] == [0, 1, 2]
    assert all(0 <= h["val_acc"] <= 1 for h in r.history)
    assert ["test_acc" in h for h in r.history] == [False, False, True]  # clean protocol: last
    assert 0 <= r.history[-1]["test_acc"] <= 1
    assert r.steps == 3 * 3  # ceil(40 / 16) steps per epoch


def test_same_seed_same_dynamics_different_seed_differs(tiny):
    a = _run(tiny.train, seed=1).dynamics
    b = _run(tiny.train, seed=1).dynamics
    c = _run(tiny.train, seed=2).dynamics
    assert np.array_equal(a.log_probs, b.log_probs)
    assert not np.array_equal(a.log_probs, c.log_probs)


def test_drop_last_marks_unseen(tiny):
    r = _run(tiny.train, recipe=Recipe(epochs=2, batch_size=16, drop_last=True))
    assert r.dynamics.seen.sum(1).tolist() == [32, 32]


def test_iteration_budget_gives_partial_last_epoch(tiny):
    r = _run(tiny.train, recipe=Recipe(iterations=4, batch_size=16))
    assert r.steps == 4 and r.dynamics.num_epochs == 2
    assert r.dynamics.seen.sum(1).tolist() == [40, 16]


def test_cosine_schedule_reaches_min_lr(tiny):
    r = _run(tiny.train, recipe=Recipe(epochs=2, batch_size=16, min_lr=1e-4))
    assert r.history[-1]["lr"] == pytest.approx(1e-4)


def test_learns_an_easy_task(tiny):
    r = _run(tiny.train, recipe=Recipe(epochs=15, batch_size=8, lr=0.05), val=tiny.val)
    assert r.history[-1]["train_acc"] > 0.5
    assert evaluate(r.model, tiny.train) > 0.5


def test_bf16_and_augment_run(tiny):
    r = _run(tiny.train, recipe=Recipe(epochs=1, batch_size=16, amp="bf16", augment="crop"))
    assert np.isfinite(r.dynamics.log_probs.astype(np.float32)).all()


def test_sample_weights_change_training(tiny):
    w = np.ones(40)
    w[:20] = 0.0
    a = _run(tiny.train).dynamics.log_probs
    b = _run(tiny.train, sample_weights=w).dynamics.log_probs
    assert not np.array_equal(a, b)
    with pytest.raises(EvalibError, match="sample_weights"):
        _run(tiny.train, sample_weights=-w)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epochs": 0}, "epochs must be"),
        ({"batch_size": 0}, "batch_size"),
        ({"amp": "fp8"}, "amp must be one of"),
        ({"augment": "rotate"}, "augment must be one of"),
    ],
)
def test_recipe_validation(kwargs, message):
    with pytest.raises(EvalibError, match=message):
        Recipe(**kwargs)


def test_fp16_needs_cuda(tiny):
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(EvalibError, match="needs a CUDA device"):
        _run(tiny.train, recipe=Recipe(epochs=1, amp="fp16"))


def test_final_test_predictions_come_from_the_last_test_pass(tiny, tmp_path):
    test = tiny.test.subset(np.arange(7))  # a batch size no other pass has
    seed_everything(0)
    model = build_model("convnet", 1, 11, width=0.125)
    sizes = []
    model.register_forward_hook(lambda m, i, o: sizes.append(len(i[0])))
    r = train(model, tiny.train, FAST, val=tiny.val, test=test, progress=False)
    assert sizes.count(7) == 1  # the test split is seen once, after the last epoch
    preds = r.test_predictions
    assert preds.dtype == np.int64 and np.array_equal(preds, predictions(r.model, test))
    assert r.history[-1]["test_acc"] == float(np.mean(preds == test.labels.numpy()))
    assert _run(tiny.train, val=tiny.val).test_predictions is None  # no test split, none
    # a finished run found in its checkpoint folder runs no epoch, and still predicts
    first = _run(tiny.train, test=test, record=False, checkpoint_dir=tmp_path / "ck")
    again = _run(tiny.train, test=test, record=False, checkpoint_dir=tmp_path / "ck")
    assert again.history == first.history
    assert np.array_equal(again.test_predictions, first.test_predictions)
