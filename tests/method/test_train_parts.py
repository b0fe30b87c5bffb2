"""The parts the training loop carries: evaluation schedule, epoch record, acceleration,
the training data on the device, the optimiser, and the one-pass test evaluation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from evalib import accel, data
from evalib.errors import EvalibError
from evalib.models import build_model
from evalib.recorder import Recorder
from evalib.train import (
    Recipe,
    TrainingData,
    evaluate,
    evaluate_and_predict,
    predictions,
    seed_everything,
)
from evalib.train_parts import Acceleration, EpochRecord, EvalSchedule, Optimisation

CPU = torch.device("cpu")


@pytest.fixture
def tiny(tiny_root):
    return data.load("organamnist", tiny_root, allow_download=False, check_md5=False)


# ----------------------------------------------------------------------------- EvalSchedule


def test_schedule_evaluates_val_every_k_and_last_test_last_only():
    s = EvalSchedule.of(7, 3, ())
    assert [e for e in range(7) if s.validates(e)] == [2, 5, 6]  # every 3rd, and the last
    assert [e for e in range(7) if s.tests(e)] == [6]
    assert [e for e in range(7) if s.is_last(e)] == [6]
    assert [s.eval_pass_row(e) for e in range(7)] == [None] * 7


def test_schedule_eval_passes_wrap_negative_sorted_and_distinct():
    s = EvalSchedule.of(5, 1, [-1, 0, 4, 2, -3])
    assert s.eval_pass_epochs == (0, 2, 4)
    assert [s.eval_pass_row(e) for e in range(5)] == [0, None, 1, None, 2]
    assert EvalSchedule.of(5, 1, np.array([-1])).eval_pass_epochs == (4,)


@pytest.mark.parametrize(
    "args", [(0, 1, ()), (3, 0, ()), (3, 1, (3,)), (3, 1, (2, 1)), (3, 1, (1, 1)), (3, 1, (-1,))]
)
def test_schedule_refuses_what_train_never_builds(args):
    with pytest.raises(EvalibError):
        EvalSchedule(*args)


# ----------------------------------------------------------------------------- EpochRecord


def test_epoch_record_keeps_what_the_recorder_keeps():
    logits = torch.randn(5, 3, generator=torch.Generator().manual_seed(0)) * 10
    idx = torch.tensor([4, 0, 2, 1, 3])
    rec = EpochRecord(7, 3, CPU)
    rec.start_epoch()
    rec.put(idx[:3], logits[:3])
    rec.put(idx[3:], logits[3:])
    mine = Recorder(7, 3, labels=np.zeros(7, int))
    mine.record(idx, logits)
    mine.end_epoch()
    expected = mine.dynamics()
    log_probs, seen = rec.tensors()
    assert log_probs.dtype == torch.float16 and seen.tolist() == expected.seen[0].tolist()
    assert np.array_equal(log_probs.numpy()[seen.numpy()], expected.log_probs[0][:5])
    rec.start_epoch()
    assert not rec.seen.any()  # a new epoch: nothing seen yet


# ----------------------------------------------------------------------------- Acceleration


def test_cuda_speedups_are_never_chosen_on_the_cpu(monkeypatch):
    monkeypatch.setenv(accel.ENV_CUDA_GRAPHS, "1")
    a = Acceleration.choose(CPU, "bf16", False, cuda_graphs=True, cuda_channels_last=True)
    assert (a.graphs, a.channels_last, a.memory_format) == (False, False, torch.contiguous_format)
    assert a.cuda_meta(compiled=False) is None
    assert not a.grad_scaler().is_enabled()
    forced = Acceleration.choose(CPU, "none", True)  # the recipe's channels_last: anywhere
    assert forced.channels_last and forced.memory_format == torch.channels_last
    x = torch.zeros(2, 3, 4, 4)
    assert forced.batch(x).is_contiguous(memory_format=torch.channels_last)
    model = forced.place(torch.nn.Conv2d(3, 3, 3))
    assert model.weight.is_contiguous(memory_format=torch.channels_last)


def test_cuda_speedups_come_from_arguments_then_the_environment(monkeypatch):
    cuda = torch.device("cuda")  # only the decision: nothing runs on it
    monkeypatch.delenv(accel.ENV_CUDA_GRAPHS, raising=False)
    monkeypatch.setenv(accel.ENV_CUDA_CHANNELS_LAST, "0")
    a = Acceleration.choose(cuda, "fp16")
    assert (a.graphs, a.channels_last) == (True, False)
    assert a.cuda_meta(compiled=False) == {"graphs": False, "channels_last": False}
    b = Acceleration.choose(cuda, "none", cuda_graphs=False, cuda_channels_last=True)
    assert (b.graphs, b.channels_last) == (False, True)


def test_fp16_autocast_off_cuda_is_a_one_line_error():
    with pytest.raises(EvalibError, match="needs a CUDA device"):
        Acceleration.choose(CPU, "fp16").autocast()


# ----------------------------------------------------------------------------- TrainingData


def _split(n=6):
    images = torch.arange(n * 16, dtype=torch.uint8).reshape(n, 1, 4, 4)
    return data.Split(images, torch.arange(n) % 3)


def test_training_data_batches_and_losses():
    split, a = _split(), Acceleration(CPU)
    plain = TrainingData.on(CPU, split)
    idx = torch.tensor([5, 1])
    x, y = plain.batch(idx, "none", torch.Generator(), a)
    assert torch.equal(x, data.to_float(split.images[idx])) and y.tolist() == [2, 1]
    per_sample = torch.tensor([1.0, 3.0])
    assert plain.loss(per_sample, idx).item() == 2.0 and len(plain) == 6
    weighted = TrainingData.on(CPU, split, [0, 1, 0, 0, 0, 3])
    assert weighted.loss(per_sample, idx).item() == pytest.approx((3 * 1 + 1 * 3) / 4)
    zero = TrainingData.on(CPU, split, np.zeros(6))
    assert zero.loss(per_sample, idx).item() == 0.0  # all weights 0: no NaN


def test_training_data_augments_from_the_generator_only():
    split, a = _split(), Acceleration(CPU)
    td, idx = TrainingData.on(CPU, split), torch.tensor([0, 3, 4])
    first = td.batch(idx, "crop_flip", torch.Generator().manual_seed(1), a)[0]
    again = td.batch(idx, "crop_flip", torch.Generator().manual_seed(1), a)[0]
    other = td.batch(idx, "crop_flip", torch.Generator().manual_seed(2), a)[0]
    assert torch.equal(first, again) and not torch.equal(first, other)


@pytest.mark.parametrize("bad", [np.ones(5), -np.ones(6), np.full(6, np.nan)])
def test_training_data_refuses_bad_weights(bad):
    with pytest.raises(EvalibError, match=r"sample_weights must be \[6\] finite and ≥ 0"):
        TrainingData.on(CPU, _split(), bad)


# ----------------------------------------------------------------------------- Optimisation


def test_optimisation_steps_the_cosine_schedule_every_iteration():
    model = torch.nn.Linear(2, 2)
    recipe = Recipe(lr=0.1, min_lr=1e-4)
    opt = Optimisation.of(model, recipe, 4, torch.amp.GradScaler("cuda", enabled=False))
    lrs = []
    for _ in range(4):
        before = model.weight.detach().clone()
        opt.step(model(torch.ones(1, 2)).sum())
        assert not torch.equal(before, model.weight)
        lrs.append(opt.lr)
    cosine = [1e-4 + (0.1 - 1e-4) * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(1, 5)]
    assert lrs == pytest.approx(cosine)
    assert opt.parts() == (opt.optimizer, opt.scheduler, opt.scaler)
    group = opt.optimizer.param_groups[0]
    assert group["nesterov"] and group["momentum"] == 0.9 and group["weight_decay"] == 5e-4


# ----------------------------------------------------------------------------- evaluation


def test_one_pass_gives_evaluate_and_predictions_bitwise(tiny):
    seed_everything(0)
    model = build_model("convnet", 1, 11, width=0.125)
    recipe = Recipe(eval_batch_size=5)  # 40 samples in 8 batches
    calls = []
    model.register_forward_hook(lambda m, i, o: calls.append(len(i[0])))
    model.train()
    accuracy, preds = evaluate_and_predict(model, tiny.train, recipe)
    assert calls == [5] * 8 and model.training  # one pass; the training mode is restored
    assert accuracy == evaluate(model, tiny.train, recipe)
    expected = predictions(model, tiny.train, recipe)
    assert preds.dtype == np.int64 and np.array_equal(preds, expected)
    assert evaluate_and_predict(model, tiny.train, recipe, predict=False)[1] is None
