"""The CUDA-only speed-ups are runtime settings: off on the CPU whatever they say, read
from arguments or the environment, and without effect on a CPU run's result.

Their effect on a GPU is not measured here (the project had no GPU); this checks the
switches, not the speed.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import evalib.train as T
from evalib import accel, data
from evalib.models import build_model


@pytest.fixture
def tiny(tiny_root):
    return data.load("organamnist", tiny_root, allow_download=False, check_md5=False)


def _run(split, val, **kw):
    T.seed_everything(0)
    model = build_model("convnet", 1, 11, width=0.125)
    recipe = T.Recipe(epochs=2, batch_size=16)
    return T.train(model, split, recipe, val=val, progress=False, device="cpu", **kw)


def test_cuda_speedups_stay_off_on_the_cpu(tiny, monkeypatch):
    def no_compile(model):
        raise AssertionError("compiled on the CPU")

    monkeypatch.setattr(T, "compiled", no_compile)
    plain = _run(tiny.train, tiny.val, cuda_graphs=False, cuda_channels_last=False)
    asked = _run(tiny.train, tiny.val, cuda_graphs=True, cuda_channels_last=True)

    def strip(history):
        return [{k: v for k, v in row.items() if k != "seconds"} for row in history]

    assert strip(plain.history) == strip(asked.history)
    assert np.array_equal(plain.dynamics.log_probs, asked.dynamics.log_probs)
    assert "cuda" not in asked.meta  # the CUDA choices are recorded on CUDA runs only
    first = next(asked.model.parameters())
    assert first.is_contiguous()  # not channels_last


def test_settings_come_from_arguments_then_the_environment(monkeypatch):
    monkeypatch.delenv(accel.ENV_CUDA_GRAPHS, raising=False)
    assert accel.env_flag(None, accel.ENV_CUDA_GRAPHS) is True  # on by default (on CUDA)
    monkeypatch.setenv(accel.ENV_CUDA_GRAPHS, "0")
    assert accel.env_flag(None, accel.ENV_CUDA_GRAPHS) is False
    assert accel.env_flag(True, accel.ENV_CUDA_GRAPHS) is True  # an argument wins
    monkeypatch.setenv(accel.ENV_CUDA_CHANNELS_LAST, "1")
    assert accel.env_flag(None, accel.ENV_CUDA_CHANNELS_LAST) is True
    assert accel.env_flag(False, accel.ENV_CUDA_CHANNELS_LAST) is False


def test_without_triton_training_runs_eager_with_a_warning():
    from torch.utils._triton import has_triton

    if has_triton():
        pytest.skip("Triton is installed here")
    model = torch.nn.Linear(2, 2)
    with pytest.warns(UserWarning, match="Triton is not installed"):
        assert accel.compiled(model) is model
