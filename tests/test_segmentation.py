"""Mosaics, Dice by hand, DAD ignoring zeros, the U-Net, pruning selections."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from evalib import segmentation as seg
from evalib.data import Split
from evalib.errors import EvalibError
from evalib.experiments import Cache


def patch_split(n: int = 10, classes: int = 3) -> Split:
    """Patch i is filled with the value i (so a mosaic shows where each patch went)."""
    images = torch.arange(n, dtype=torch.uint8)[:, None, None, None].expand(n, 1, 28, 28)
    return Split(images.contiguous(), torch.arange(n) % classes)


def test_mosaic_labels_match_their_patches():
    split = patch_split()
    m = seg.make_mosaics(split, n=7, grid=2, seed=3)
    assert m.images.shape == (7, 1, 56, 56) and m.masks.shape == (7, 56, 56)
    for i in range(7):
        for k, (r, c) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
            rows, cols = slice(28 * r, 28 * (r + 1)), slice(28 * c, 28 * (c + 1))
            src = int(m.patches[i, k])
            assert torch.all(m.images[i, 0, rows, cols] == src)  # the patch's own pixels
            assert torch.all(m.masks[i, rows, cols] == int(split.labels[src]))
            assert m.patch_labels[i, k] == int(split.labels[src])
    # deterministic, and 7 × 4 = 28 patches cycle through every one of the 10 sources
    assert np.array_equal(seg.make_mosaics(split, 7, 2, seed=3).patches, m.patches)
    assert set(m.patches.ravel()) == set(range(10))
    m3 = seg.make_mosaics(split, n=2, grid=3, seed=0)
    assert m3.images.shape == (2, 1, 84, 84)
    assert torch.all(m3.masks[1, 56:, 28:56] == int(split.labels[int(m3.patches[1, 7])]))


def test_dice_by_hand():
    target = torch.tensor([[[0, 0], [1, 1]]])  # 1 × 2 × 2, classes 0 and 1 present
    perfect = torch.nn.functional.one_hot(target, 3).permute(0, 3, 1, 2).float()
    assert seg.soft_dice(perfect, target).item() == pytest.approx(1.0)
    disjoint = torch.zeros(1, 3, 2, 2)
    disjoint[:, 2] = 1.0  # all mass on a class that is not in the target
    assert seg.soft_dice(disjoint, target).item() == pytest.approx(0.0)
    # one row of 2 pixels, target class 0 everywhere, p_0 = (0.5, 1.0):
    # class 0: 2 · 1.5 / (1.5 + 2) = 6/7; class 1 is absent from the target, so ignored
    probs = torch.tensor([[[[0.5, 1.0]], [[0.5, 0.0]]]])
    assert seg.soft_dice(probs, torch.zeros(1, 1, 2, dtype=torch.long)).item() == pytest.approx(
        6 / 7
    )
    # two classes present, p = 0.5 everywhere: each class 2·1 / (2 + 2) = 0.5
    half = torch.full((1, 2, 2, 2), 0.5)
    assert seg.soft_dice(half, target[:, :, :].clone()).item() == pytest.approx(0.5)
    logits = torch.log(perfect + 1e-3)
    assert seg.hard_dice(logits, target).item() == pytest.approx(1.0)


def test_pixel_el2n_by_hand():
    probs = torch.tensor([[[[0.5, 1.0]], [[0.5, 0.0]]]])
    target = torch.zeros(1, 1, 2, dtype=torch.long)
    # pixel 1: ‖(−0.5, 0.5)‖ = √0.5; pixel 2: 0 → mean √0.5 / 2
    assert seg.pixel_el2n(probs, target).item() == pytest.approx(np.sqrt(0.5) / 2)


def test_dad_ignores_zeros():
    dice = np.array([[0.0, 0.2, 0.0], [0.6, 0.4, 0.0], [0.8, 0.0, 0.0]])
    np.testing.assert_allclose(seg.dad_scores(dice), [0.7, 0.3, 0.0])
    np.testing.assert_allclose(seg.dad_scores(dice, (1, 3)), [0.7, 0.4, 0.0])
    with pytest.raises(EvalibError, match="window"):
        seg.dad_scores(dice, (2, 5))
    np.testing.assert_allclose(seg.el2n_scores(dice, 2), [0.3, 0.3, 0.0])


def test_selections():
    dad = np.array([0.9, 0.1, 0.5, 0.3, 0.7])
    el2n = np.array([0.0, 0.8, 0.2, 0.6, 0.1])
    assert seg.select_positions("dad_hard", 0.4, dad, el2n).tolist() == [1, 3]
    assert seg.select_positions("dad_easy", 0.4, dad, el2n).tolist() == [0, 4]
    assert sorted(seg.select_positions("dad_ambiguous", 0.6, dad, el2n).tolist()) == [2, 3, 4]
    assert seg.select_positions("el2n", 0.4, dad, el2n).tolist() == [1, 3]
    r = seg.select_positions("random", 0.6, dad, el2n, seed=1)
    assert r.size == 3 and r.tolist() == seg.select_positions("random", 0.6, dad, el2n, 1).tolist()
    with pytest.raises(EvalibError, match="unknown"):
        seg.select_positions("grand", 0.5, dad, el2n)


def test_unet_shapes_and_training_records(tmp_path):
    net = seg.TinyUNet(1, 3, width=0.25)
    assert net(torch.zeros(2, 1, 56, 56)).shape == (2, 3, 56, 56)
    assert net(torch.zeros(1, 1, 84, 84)).shape == (1, 3, 84, 84)
    with pytest.raises(EvalibError, match="divisible"):
        net(torch.zeros(1, 1, 30, 30))
    train = seg.make_mosaics(patch_split(), 6, seed=0)
    test = seg.make_mosaics(patch_split(), 3, seed=1)
    run = seg.train_segmentation(train, epochs=2, width=0.25, batch_size=4, progress=False)
    assert run.dice.shape == (2, 6) and (run.dice > 0).all() and (run.dice <= 1).all()
    assert run.el2n.shape == (2, 6) and (run.el2n >= 0).all()
    res = seg.evaluate_dice(run.model, test)
    assert 0 <= res["test_dice"] <= 1
    cfg = seg.SegSettings(n_train=6, n_test=3, width=0.25, epochs=2, rates=(0.5,), seeds=(0,),
                          el2n_end=1, batch_size=4)  # fmt: skip
    cache = Cache.at(tmp_path / "r", tmp_path / "s")
    dice, el2n, row = seg.scoring_run(cache, train, test, cfg, progress=False)
    again = seg.scoring_run(cache, train, test, cfg, progress=False)
    assert np.array_equal(again[0], dice) and again[2] == row
    table = seg.run_pruning(cache, train, test, cfg, seg.dad_scores(dice), el2n[0],
                            methods=("random", "dad_hard"), progress=False)  # fmt: skip
    assert table["n_train"].tolist() == [3, 3]


def _seg_runs(el2n_shift: float) -> pd.DataFrame:
    base = {"random": (0.70, 0.71), "dad_easy": (0.75, 0.77), "dad_hard": (0.50, 0.50),
            "dad_ambiguous": (0.65, 0.66)}  # fmt: skip
    base["el2n"] = (0.70 + el2n_shift, 0.71 + el2n_shift + 0.01)
    rows = [{"method": m, "rate": rate, "seed": s, "test_dice": v[s] + (rate == 0.5) * 0.1}
            for m, v in base.items() for rate in (0.2, 0.5) for s in (0, 1)]  # fmt: skip
    return pd.DataFrame(rows)


def test_verdicts_by_hand():
    from evalib.claims import HOLDS, INCONCLUSIVE

    el2n_low, dad_vs_el2n, dad_vs_random = seg.verdicts(_seg_runs(-0.10))
    # EL2N − Random = −10, −9 Dice points at both rates: 95 % CI ±6.35 excludes 0
    assert el2n_low["parts"] == {"20%": HOLDS, "50%": HOLDS} and el2n_low["verdict"] == HOLDS
    assert "dad_easy" in dad_vs_el2n["claim"]  # the best DAD rule by mean test Dice
    assert dad_vs_el2n["verdict"] == HOLDS  # +15, +15 at both rates
    assert dad_vs_random["verdict"] == HOLDS  # +5, +6: "matches or beats"
    el2n_high = seg.verdicts(_seg_runs(+0.05))[0]
    # +5, +6 with two seeds: the 95 % interval (± 6.35) includes 0 -> inconclusive
    assert el2n_high["verdict"] == INCONCLUSIVE
