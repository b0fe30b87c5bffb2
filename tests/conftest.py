"""Shared fixtures: tiny MedMNIST-format files made here, and the real files when present."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def make_npz(
    path: Path,
    n=(40, 12, 12),
    channels: int = 1,
    classes: int = 11,
    size: int = 28,
    seed: int = 0,
    **overrides,
) -> Path:
    """Write a MedMNIST-format npz with class-dependent images (learnable in a few steps)."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, count in zip(("train", "val", "test"), n, strict=True):
        labels = np.arange(count) % classes
        rng.shuffle(labels)
        base = (labels[:, None, None] * (255 // classes)).astype(np.int16)
        noise = rng.integers(0, 30, size=(count, size, size))
        img = np.clip(base + noise, 0, 255).astype(np.uint8)
        if channels == 3:
            img = np.repeat(img[..., None], 3, axis=-1)
        arrays[f"{split}_images"] = img
        arrays[f"{split}_labels"] = labels.astype(np.uint8)[:, None]
    arrays.update(overrides)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


@pytest.fixture
def tiny_root(tmp_path) -> Path:
    """A data root holding a tiny organamnist.npz (1 channel, 11 classes)."""
    make_npz(tmp_path / "organamnist.npz")
    make_npz(tmp_path / "bloodmnist.npz", channels=3, classes=8)
    return tmp_path


@pytest.fixture
def shared_data() -> Path:
    """The real MedMNIST files in ../shared/data; skips when they are absent."""
    root = Path(os.environ.get("EVALIB_SHARED_DATA", SHARED_DATA))
    if not (root / "breastmnist.npz").exists():
        pytest.skip(f"real MedMNIST files not found in {root}")
    return root


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
    yield
