"""Mosaics, Dice by hand, DAD ignoring zeros, the U-Net, pruning selections, the study's
tasks (scoring run, retrain) through the one runner, its tables and builders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from evalib.data import Split
from evalib.errors import EvalibError
from evalib.runs import rerun, tasks
from evalib.runs.cache import Cache
from evalib.runs.config import get_profile
from evalib.studies import grids, mosaics
from evalib.studies import segmentation as seg


def patch_split(n: int = 10, classes: int = 3) -> Split:
    """Patch i is filled with the value i (so a mosaic shows where each patch went)."""
    images = torch.arange(n, dtype=torch.uint8)[:, None, None, None].expand(n, 1, 28, 28)
    return Split(images.contiguous(), torch.arange(n) % classes)


def test_mosaic_labels_match_their_patches():
    split = patch_split()
    m = mosaics.make_mosaics(split, n=7, grid=2, seed=3)
    assert m.images.shape == (7, 1, 56, 56) and m.masks.shape == (7, 56, 56)
    for i in range(7):
        for k, (r, c) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
            rows, cols = slice(28 * r, 28 * (r + 1)), slice(28 * c, 28 * (c + 1))
            src = int(m.patches[i, k])
            assert torch.all(m.images[i, 0, rows, cols] == src)  # the patch's own pixels
            assert torch.all(m.masks[i, rows, cols] == int(split.labels[src]))
            assert m.patch_labels[i, k] == int(split.labels[src])
    # deterministic, and 7 × 4 = 28 patches cycle through every one of the 10 sources
    assert np.array_equal(mosaics.make_mosaics(split, 7, 2, seed=3).patches, m.patches)
    assert set(m.patches.ravel()) == set(range(10))
    m3 = mosaics.make_mosaics(split, n=2, grid=3, seed=0)
    assert m3.images.shape == (2, 1, 84, 84)
    assert torch.all(m3.masks[1, 56:, 28:56] == int(split.labels[int(m3.patches[1, 7])]))


def test_dice_by_hand():
    target = torch.tensor([[[0, 0], [1, 1]]])  # 1 × 2 × 2, classes 0 and 1 present
    perfect = torch.nn.functional.one_hot(target, 3).permute(0, 3, 1, 2).float()
    assert mosaics.soft_dice(perfect, target).item() == pytest.approx(1.0)
    disjoint = torch.zeros(1, 3, 2, 2)
    disjoint[:, 2] = 1.0  # all mass on a class that is not in the target
    assert mosaics.soft_dice(disjoint, target).item() == pytest.approx(0.0)
    # one row of 2 pixels, target class 0 everywhere, p_0 = (0.5, 1.0):
    # class 0: 2 · 1.5 / (1.5 + 2) = 6/7; class 1 is absent from the target, so ignored
    probs = torch.tensor([[[[0.5, 1.0]], [[0.5, 0.0]]]])
    assert mosaics.soft_dice(probs, torch.zeros(1, 1, 2, dtype=torch.long)).item() == pytest.approx(
        6 / 7
    )
    # two classes present, p = 0.5 everywhere: each class 2·1 / (2 + 2) = 0.5
    half = torch.full((1, 2, 2, 2), 0.5)
    assert mosaics.soft_dice(half, target[:, :, :].clone()).item() == pytest.approx(0.5)
    logits = torch.log(perfect + 1e-3)
    assert mosaics.hard_dice(logits, target).item() == pytest.approx(1.0)


def test_pixel_el2n_by_hand():
    probs = torch.tensor([[[[0.5, 1.0]], [[0.5, 0.0]]]])
    target = torch.zeros(1, 1, 2, dtype=torch.long)
    # pixel 1: ‖(−0.5, 0.5)‖ = √0.5; pixel 2: 0 → mean √0.5 / 2
    assert mosaics.pixel_el2n(probs, target).item() == pytest.approx(np.sqrt(0.5) / 2)


def test_dad_ignores_zeros():
    dice = np.array([[0.0, 0.2, 0.0], [0.6, 0.4, 0.0], [0.8, 0.0, 0.0]])
    np.testing.assert_allclose(mosaics.dad_scores(dice), [0.7, 0.3, 0.0])
    np.testing.assert_allclose(mosaics.dad_scores(dice, (1, 3)), [0.7, 0.4, 0.0])
    with pytest.raises(EvalibError, match="window"):
        mosaics.dad_scores(dice, (2, 5))
    np.testing.assert_allclose(mosaics.el2n_scores(dice, 2), [0.3, 0.3, 0.0])


def test_selections():
    dad = np.array([0.9, 0.1, 0.5, 0.3, 0.7])
    el2n = np.array([0.0, 0.8, 0.2, 0.6, 0.1])
    assert mosaics.select_positions("dad_hard", 0.4, dad, el2n).tolist() == [1, 3]
    assert mosaics.select_positions("dad_easy", 0.4, dad, el2n).tolist() == [0, 4]
    assert sorted(mosaics.select_positions("dad_ambiguous", 0.6, dad, el2n).tolist()) == [2, 3, 4]
    assert mosaics.select_positions("el2n", 0.4, dad, el2n).tolist() == [1, 3]
    r = mosaics.select_positions("random", 0.6, dad, el2n, seed=1)
    assert (
        r.size == 3 and r.tolist() == mosaics.select_positions("random", 0.6, dad, el2n, 1).tolist()
    )
    with pytest.raises(EvalibError, match="unknown"):
        mosaics.select_positions("grand", 0.5, dad, el2n)


def test_unet_shapes_and_training_records(tmp_path):
    net = mosaics.TinyUNet(1, 3, width=0.25)
    assert net(torch.zeros(2, 1, 56, 56)).shape == (2, 3, 56, 56)
    assert net(torch.zeros(1, 1, 84, 84)).shape == (1, 3, 84, 84)
    with pytest.raises(EvalibError, match="divisible"):
        net(torch.zeros(1, 1, 30, 30))
    train = mosaics.make_mosaics(patch_split(), 6, seed=0)
    test = mosaics.make_mosaics(patch_split(), 3, seed=1)
    run = mosaics.train_segmentation(train, epochs=2, width=0.25, batch_size=4, progress=False)
    assert run.dice.shape == (2, 6) and (run.dice > 0).all() and (run.dice <= 1).all()
    assert run.el2n.shape == (2, 6) and (run.el2n >= 0).all()
    res = mosaics.evaluate_dice(run.model, test)
    assert 0 <= res["test_dice"] <= 1


def _seg_runs(el2n_shift: float) -> pd.DataFrame:
    base = {"random": (0.70, 0.71), "dad_easy": (0.75, 0.77), "dad_hard": (0.50, 0.50),
            "dad_ambiguous": (0.65, 0.66)}  # fmt: skip
    base["el2n"] = (0.70 + el2n_shift, 0.71 + el2n_shift + 0.01)
    rows = [{"method": m, "rate": rate, "seed": s, "test_dice": v[s] + (rate == 0.5) * 0.1}
            for m, v in base.items() for rate in (0.2, 0.5) for s in (0, 1)]  # fmt: skip
    return pd.DataFrame(rows)


def test_verdicts_by_hand():
    from evalib.studies.stats import HOLDS, INCONCLUSIVE

    el2n_low, dad_vs_el2n, dad_vs_random = seg.verdicts(_seg_runs(-0.10))
    # EL2N − Random = −10, −9 Dice points at both rates: 95 % CI ±6.35 excludes 0
    assert (
        el2n_low["parts"] == {"20\u00a0%": HOLDS, "50\u00a0%": HOLDS}
        and el2n_low["verdict"] == HOLDS
    )
    assert "dad_easy" in dad_vs_el2n["claim"]  # the best DAD rule by mean test Dice
    assert dad_vs_el2n["verdict"] == HOLDS  # +15, +15 at both rates
    assert dad_vs_random["verdict"] == HOLDS  # +5, +6: "matches or beats"
    el2n_high = seg.verdicts(_seg_runs(+0.05))[0]
    # +5, +6 with two seeds: the 95 % interval (± 6.35) includes 0 -> inconclusive
    assert el2n_high["verdict"] == INCONCLUSIVE


# ----------------------------------------------------------------------------- tasks


def _scoring(**kw) -> seg.ScoringRun:
    sizes = dict(n_train=8, n_test=4, grid=2, width=0.25, epochs=2, batch_size=4, lr=3e-3,
                 el2n_end=1)  # fmt: skip
    return seg.ScoringRun("organamnist", **{**sizes, **kw})


@pytest.fixture
def cache(tmp_path):
    return Cache.at(tmp_path / "results", tmp_path / "scratch")


@pytest.fixture
def tiny(tiny_root, monkeypatch):
    """The tiny organamnist.npz of ``tiny_root``, read without the official MD5 check."""
    from evalib import data

    real = data.load
    monkeypatch.setattr(data, "load", lambda flag, root=None, **kw: real(flag, root, False, False))
    return tiny_root


def test_task_configs_rebuild_their_keys_from_stored_rows(cache, tiny):
    scoring = _scoring(dad_window=(0, 2))
    retrain = seg.Retrain(scoring, "dad_hard", 0.5, 1)
    for task in (scoring, retrain):
        row = tasks.run_task(task, cache, tiny)
        again = tasks.task_from_record(row)
        assert again == task and again.key() == row["key"] == task.key()
        assert tasks.task_class(row["kind"]) is type(task)
    assert retrain.dataset == "organamnist" and retrain.size().n_train == 4 * 4
    assert seg.Retrain(_scoring(seed=1), "dad_hard", 0.5, 1).key() != retrain.key()
    with pytest.raises(EvalibError, match="unknown segmentation pruning method"):
        seg.Retrain(scoring, "grand", 0.5)
    with pytest.raises(EvalibError, match="el2n_end"):
        _scoring(el2n_end=3)


def test_a_task_run_twice_gives_the_same_row(tmp_path, tiny):
    rows = []
    for name in ("a", "b"):
        cache = Cache.at(tmp_path / name / "r", tmp_path / name / "s")
        retrain = seg.Retrain(_scoring(), "random", 0.5, 0)
        rows.append((tasks.run_task(retrain, cache, tiny),
                     cache.job_result(retrain.scoring)))  # fmt: skip
    volatile = {"seconds", "provenance", "torch_threads"}
    for a, b in zip(*rows, strict=True):
        assert {k: v for k, v in a.items() if k not in volatile} == {
            k: v for k, v in b.items() if k not in volatile
        }
    row, scoring_row = rows[0]
    assert row["n_train"] == 4 and row["method"] == "random" and 0 <= row["test_dice"] <= 1
    assert len(scoring_row["dad"]) == len(scoring_row["el2n"]) == 8
    assert [h["epoch"] for h in scoring_row["history"]] == [0, 1]


def test_rerun_of_a_stored_retrain_reproduces_it(cache, tiny, tmp_path):
    retrain = seg.Retrain(_scoring(), "el2n", 0.5, 0)
    stored = tasks.run_task(retrain, cache, tiny)
    compared = rerun.rerun(cache.job_path(retrain), tmp_path / "again", tiny, progress=False)
    assert set(compared) == {*seg.Retrain.reproduced, "stage"}
    for field in seg.Retrain.reproduced:
        assert compared[field][0] == compared[field][1] == stored[field], field
    scoring = rerun.rerun(cache.job_path(retrain.scoring), tmp_path / "again2", tiny, False)
    assert set(scoring) == {*seg.ScoringRun.reproduced, "stage"}
    assert all(a == b for a, b in (scoring[f] for f in seg.ScoringRun.reproduced))


def test_tables_from_rows():
    assert list(seg.scores_table(None).columns) == ["dad", "el2n", "first_epoch_dice"]
    row = {"dad": [0.1, 0.2], "el2n": [0.3, 0.4], "first_epoch_dice": [0.0, 0.1]}
    assert seg.scores_table(row)["el2n"].tolist() == [0.3, 0.4]
    runs = _seg_runs(0.0).assign(n_train=3, test_soft_dice=0.5, seconds=1.0, key="x")
    table = seg.runs_table(runs)
    assert list(table.columns) == seg.RUN_COLUMNS and len(table) == len(runs)
    assert list(seg.runs_table(pd.DataFrame()).columns) == seg.RUN_COLUMNS
    summary = seg.pruning_summary(table, full_dice=0.8)
    easy = summary.query("method == 'dad_easy' and rate == 0.2").iloc[0]
    assert easy["mean"] == pytest.approx(0.76) and easy["count"] == 2
    assert easy["minus_random"] == pytest.approx(0.76 - 0.705)
    assert easy["minus_full"] == pytest.approx(0.76 - 0.8)
    assert seg.pruning_summary(table, None)["minus_full"].isna().all()
    assert "not in the results" in seg.describe_full(None)


def test_builders_at_smoke_and_cpu():
    for name, n_retrains in (("smoke", 5 * 2 * 1), ("cpu", 5 * 2 * 3)):
        p = get_profile(name)
        scoring = grids.seg_scoring(p, "organamnist")
        retrains = grids.segmentation(p, "organamnist")
        assert len(retrains) == len(set(retrains)) == n_retrains
        assert {r.scoring for r in retrains} == {scoring}
        assert scoring.n_train == p.segmentation.n_train and scoring.epochs == p.segmentation.epochs
        assert {r.rate for r in retrains} == set(p.segmentation.rates)
        assert {r.seed for r in retrains} == set(p.segmentation.seeds)
        jobs = grids.dad_classification(p, "organamnist")
        rates = sorted({*sorted(p.rates)[:2], max(p.rates)})
        assert len(jobs) == 3 * len(rates) * len(p.seeds)
        assert {j.method for j in jobs} == {"dad", "el2n", "random"}
    retrains = grids.segmentation(get_profile("smoke"), "organamnist", rates=[0.1], seeds=[4])
    assert [(r.method, r.rate, r.seed) for r in retrains] == [(m, 0.1, 4) for m in mosaics.METHODS]
