"""Mosaic segmentation, the pure parts: data, network, metrics, one training loop.

The dense task of the DAD study (:mod:`evalib.studies.segmentation`, notebook 09), written from
He et al.'s description of DAD:

* **mosaics** (:func:`make_mosaics`): a g×g grid of 28×28 patches of a MedMNIST split
  (56×56 for g = 2, 84×84 for g = 3); every pixel of a patch is labelled with the
  patch's class (C classes, no background). Patches are drawn deterministically from a
  seed.
* a **tiny U-Net** (:class:`TinyUNet`): two down- and two up-sampling stages with skip
  connections, a width knob;
* **per-sample soft Dice** (:func:`soft_dice`: softmax against one-hot, mean over the
  classes present in the target) and the **EL2N-style gradient-norm score**
  (:func:`pixel_el2n`: ‖softmax − one-hot‖₂ averaged over pixels), both recorded for
  every training sample at every epoch from the training forward pass
  (:func:`train_segmentation`);
* **DAD** (:func:`dad_scores`: mean Dice over a window, zeros ignored), the early EL2N
  mean (:func:`el2n_scores`) and the pruning rules (:func:`select_positions`: keep hard
  / easy / ambiguous by DAD, keep the highest EL2N, or at random).

Nothing here reads or writes results; the study's tasks live in
:mod:`evalib.studies.segmentation`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from evalib.data import Split, to_float
from evalib.devices import pick_device
from evalib.errors import EvalibError
from evalib.io import progress_bar

PATCH = 28
METHODS = ("random", "el2n", "dad_hard", "dad_easy", "dad_ambiguous")


# ----------------------------------------------------------------------------- mosaics


@dataclass(frozen=True, eq=False)
class Mosaics:
    """``images`` uint8 [n, ch, g·28, g·28], ``masks`` int64 [n, g·28, g·28] (pixel class),
    ``patches`` int64 [n, g·g] (source indices, row-major), ``patch_labels`` [n, g·g]."""

    images: torch.Tensor
    masks: torch.Tensor
    patches: np.ndarray
    patch_labels: np.ndarray
    num_classes: int

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def subset(self, positions: Any) -> Mosaics:
        pos = np.asarray(positions, np.int64)
        idx = torch.from_numpy(pos)
        return Mosaics(self.images[idx], self.masks[idx], self.patches[pos],
                       self.patch_labels[pos], self.num_classes)  # fmt: skip


def make_mosaics(
    split: Split, n: int, grid: int = 2, seed: int = 0, num_classes: int | None = None
) -> Mosaics:
    """``n`` mosaics of grid×grid patches of ``split`` (28×28 images); each pixel's label
    is the class of its patch. Patches are taken in the order of a seeded permutation of
    the split (repeated if n·grid² exceeds it), so the result depends only on the seed."""
    if n < 1 or grid < 1:
        raise EvalibError(f"need n ≥ 1 mosaics of grid ≥ 1, got n={n}, grid={grid}")
    if tuple(split.images.shape[2:]) != (PATCH, PATCH):
        raise EvalibError(
            f"mosaic patches must be {PATCH}×{PATCH}, got {tuple(split.images.shape[2:])}"
        )
    total = len(split)
    need = n * grid * grid
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(total) for _ in range(-(-need // total))])
    patches = order[:need].reshape(n, grid * grid).astype(np.int64)
    labels = split.labels.numpy()[patches]
    imgs = split.images[torch.from_numpy(patches.reshape(-1))]
    ch = imgs.shape[1]
    side = grid * PATCH
    images = (imgs.reshape(n, grid, grid, ch, PATCH, PATCH)
              .permute(0, 3, 1, 4, 2, 5).reshape(n, ch, side, side).contiguous())  # fmt: skip
    lab = torch.from_numpy(labels).reshape(n, grid, 1, grid, 1)
    masks = lab.expand(n, grid, PATCH, grid, PATCH).reshape(n, side, side).contiguous()
    c = int(num_classes) if num_classes is not None else int(split.labels.max()) + 1
    return Mosaics(images, masks.long(), patches, labels.astype(np.int64), c)


# ----------------------------------------------------------------------------- network


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class TinyUNet(nn.Module):
    """U-Net with two 2×2 max-pool downsamplings and two transposed-conv upsamplings.

    Channels c, 2c, 4c (bottleneck), 2c, c with c = max(4, round(16·width)); each stage
    is two conv3x3-BN-ReLU; skip connections concatenate; a 1×1 head gives per-pixel
    logits. Input [B, in_channels, H, W] with H, W divisible by 4 → [B, num_classes, H, W].
    """

    def __init__(self, in_channels: int, num_classes: int, width: float = 1.0) -> None:
        super().__init__()
        if width <= 0:
            raise EvalibError(f"width must be > 0, got {width}")
        c = max(4, int(round(16 * width)))
        self.enc1, self.enc2, self.mid = (
            _block(in_channels, c),
            _block(c, 2 * c),
            _block(2 * c, 4 * c),
        )
        self.up2 = nn.ConvTranspose2d(4 * c, 2 * c, 2, stride=2)
        self.dec2 = _block(4 * c, 2 * c)
        self.up1 = nn.ConvTranspose2d(2 * c, c, 2, stride=2)
        self.dec1 = _block(2 * c, c)
        self.head = nn.Conv2d(c, num_classes, 1)
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 4 or x.shape[-2] % 4:
            raise EvalibError(f"TinyUNet needs H, W divisible by 4, got {tuple(x.shape[-2:])}")
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        m = self.mid(F.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([self.up2(m), e2], 1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], 1))
        return self.head(d1)


# ----------------------------------------------------------------------------- metrics


def soft_dice(probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample soft Dice [B]: for each class c present in the target,
    2·Σ p_c·y_c / (Σ p_c + Σ y_c) over pixels, then the mean over present classes.

    probs: [B, C, H, W] (softmax, or one-hot for hard Dice); target: [B, H, W] int."""
    c = probs.shape[1]
    onehot = F.one_hot(target.long(), c).permute(0, 3, 1, 2).to(probs.dtype)
    inter = (probs * onehot).sum((2, 3))
    denom = probs.sum((2, 3)) + onehot.sum((2, 3))
    present = onehot.sum((2, 3)) > 0
    dice = torch.where(present, 2 * inter / denom.clamp_min(1e-12), torch.zeros_like(inter))
    return dice.sum(1) / present.sum(1).clamp_min(1)


def hard_dice(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample Dice [B] of the argmax segmentation (mean over classes in the target)."""
    pred = F.one_hot(logits.argmax(1), logits.shape[1]).permute(0, 3, 1, 2).float()
    return soft_dice(pred, target)


def pixel_el2n(probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """EL2N for dense labels, [B]: ‖softmax − one-hot‖₂ per pixel, averaged over pixels."""
    onehot = F.one_hot(target.long(), probs.shape[1]).permute(0, 3, 1, 2).to(probs.dtype)
    return torch.linalg.vector_norm(probs - onehot, dim=1).mean((1, 2))


def dad_scores(dice: Any, window: tuple[int, int] | None = None) -> np.ndarray:
    """Dynamic Average Dice [N]: mean of ``dice`` [T, N] over epochs [a, b) (default
    all), zero entries ignored (they mark epochs where a sample was not recorded); a
    sample with no non-zero entry gets 0."""
    d = np.asarray(dice, np.float64)
    if d.ndim != 2:
        raise EvalibError(f"dice must be [T, N], got shape {d.shape}")
    a, b = (0, d.shape[0]) if window is None else (int(window[0]), int(window[1]))
    if not 0 <= a < b <= d.shape[0]:
        raise EvalibError(f"DAD window [{a}, {b}) must lie inside [0, {d.shape[0]})")
    sub = d[a:b]
    count = (sub != 0).sum(0)
    return np.where(count > 0, sub.sum(0) / np.maximum(count, 1), 0.0)


def el2n_scores(el2n: Any, end: int) -> np.ndarray:
    """Mean of the pixel EL2N [T, N] over the early epochs [0, end), [N]."""
    e = np.asarray(el2n, np.float64)
    if not 1 <= end <= e.shape[0]:
        raise EvalibError(f"EL2N end must lie in [1, {e.shape[0]}], got {end}")
    return e[:end].mean(0)


# ----------------------------------------------------------------------------- training


@dataclass(frozen=True, eq=False)
class SegRun:
    """A trained U-Net; ``dice`` / ``el2n`` [T, N] float32 recorded per epoch (training
    forward pass, weights before the step); ``history``: one dict per epoch."""

    model: nn.Module
    dice: np.ndarray
    el2n: np.ndarray
    history: list[dict[str, float]] = field(default_factory=list)


def train_segmentation(
    data: Mosaics,
    epochs: int,
    width: float = 1.0,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    device: str | None = None,
    progress: bool = True,
) -> SegRun:
    """Train a fresh :class:`TinyUNet` (init seeded by ``seed``) with Adam on
    cross-entropy + (1 − mean soft Dice); record every sample's soft Dice and pixel
    EL2N at every epoch."""
    dev = pick_device(device)
    n = len(data)
    if n == 0 or epochs < 1:
        raise EvalibError(f"need ≥ 1 mosaic and ≥ 1 epoch, got {n} and {epochs}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = TinyUNet(data.images.shape[1], data.num_classes, width).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(int(seed))
    images, masks = data.images.to(dev), data.masks.to(dev)
    dice = np.zeros((epochs, n), np.float32)
    el2n = np.zeros((epochs, n), np.float32)
    history = []
    with progress_bar(progress, total=epochs, desc="U-Net", unit="epoch") as bar:
        for epoch in range(epochs):
            model.train()
            perm = torch.randperm(n, generator=gen)
            loss_sum = 0.0
            for start in range(0, n, batch_size):
                idx = perm[start : start + batch_size]
                x, y = to_float(images[idx.to(dev)]), masks[idx.to(dev)]
                logits = model(x)
                probs = logits.softmax(1)
                d = soft_dice(probs, y)
                loss = F.cross_entropy(logits, y) + (1 - d.mean())
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                dice[epoch, idx.numpy()] = d.detach().cpu().numpy()
                el2n[epoch, idx.numpy()] = pixel_el2n(probs.detach(), y).cpu().numpy()
                loss_sum += float(loss.detach()) * len(idx)
            history.append({"epoch": epoch, "train_loss": loss_sum / n,
                            "train_soft_dice": float(dice[epoch].mean())})  # fmt: skip
            bar.update(1)
    return SegRun(model.cpu().eval(), dice, el2n, history)


@torch.no_grad()
def evaluate_dice(model: nn.Module, data: Mosaics, batch_size: int = 128) -> dict[str, float]:
    """Mean per-sample hard Dice (argmax) and soft Dice of ``model`` in eval mode."""
    dev = next(model.parameters()).device
    was = model.training
    model.eval()
    hard, soft = [], []
    for start in range(0, len(data), batch_size):
        x = to_float(data.images[start : start + batch_size].to(dev))
        y = data.masks[start : start + batch_size].to(dev)
        logits = model(x)
        hard.append(hard_dice(logits, y).cpu())
        soft.append(soft_dice(logits.softmax(1), y).cpu())
    model.train(was)
    return {
        "test_dice": float(torch.cat(hard).mean()),
        "test_soft_dice": float(torch.cat(soft).mean()),
    }


# ----------------------------------------------------------------------------- pruning


def select_positions(
    method: str, rate: float, dad: np.ndarray, el2n: np.ndarray, seed: int = 0
) -> np.ndarray:
    """Kept positions [M] int64 (M = ⌈rate·N⌉): ``random`` (seeded), ``el2n`` (highest
    pixel EL2N, as EL2N keeps), ``dad_hard`` (lowest DAD), ``dad_easy`` (highest DAD),
    ``dad_ambiguous`` (the middle of the DAD ranking); ties by position."""
    from evalib.ranking import budget, top_k
    from evalib.scores.baselines import centrality

    n = len(dad)
    m = budget(n, rate)
    if method == "random":
        return np.sort(np.random.default_rng(seed).permutation(n)[:m]).astype(np.int64)
    table = {
        "el2n": (el2n, "highest"),
        "dad_hard": (dad, "lowest"),
        "dad_easy": (dad, "highest"),
        "dad_ambiguous": (centrality(np.asarray(dad, np.float64)), "highest"),
    }
    if method not in table:
        raise EvalibError(
            f"unknown segmentation pruning method {method!r}; valid: {', '.join(METHODS)}"
        )
    scores, direction = table[method]
    return top_k(scores, m, direction)


__all__ = [
    "METHODS",
    "PATCH",
    "Mosaics",
    "SegRun",
    "TinyUNet",
    "dad_scores",
    "el2n_scores",
    "evaluate_dice",
    "hard_dice",
    "make_mosaics",
    "pixel_el2n",
    "select_positions",
    "soft_dice",
    "train_segmentation",
]
