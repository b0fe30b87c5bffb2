"""Pruning masks, PIE / HTL on hand-made predictions, per-class accuracy, the prune task
(deterministic, rebuilt from its row, rerun), tables and verdicts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from evalib import metrics
from evalib.data import Split
from evalib.errors import EvalibError
from evalib.runs import tasks
from evalib.runs.cache import Cache
from evalib.runs.config import DataSpec, ModelSpec
from evalib.studies import pie, pie_tables
from evalib.train import Recipe


def tiny_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 3, 3),
        nn.BatchNorm2d(3),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(4),
        nn.Flatten(),
        nn.Linear(3 * 4 * 4, 2),
    )


def tiny_split(n: int = 24, seed: int = 0) -> Split:
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    images = labels[:, None, None, None] * 120 + torch.randint(0, 60, (n, 1, 28, 28), generator=g)
    return Split(images.to(torch.uint8), labels.long())


def all_weights(model):
    return torch.cat([m.weight.detach().flatten() for _, m in pie.prunable_modules(model)])


# ----------------------------------------------------------------------------- pruning


@pytest.mark.parametrize("s", [0.0, 0.3, 0.5, 0.9])
def test_global_magnitude_pruning_is_exact(s):
    net = tiny_net()
    w = all_weights(net)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    pruned = pie.prune(net, s)
    k = round(s * w.numel())
    after = all_weights(pruned)
    assert int((after == 0).sum()) == k
    assert pie.weight_sparsity(pruned) == pytest.approx(k / w.numel())
    if 0 < k < w.numel():  # every removed |w| ≤ every kept |w|, and kept ones unchanged
        removed, kept = w.abs()[after == 0], w.abs()[after != 0]
        assert removed.max() <= kept.min()
        assert torch.equal(after[after != 0], w[after != 0])
    # biases, norm parameters and buffers untouched; the input model unchanged
    for name in ("0.bias", "1.weight", "1.bias", "1.running_mean", "5.bias"):
        assert torch.equal(pruned.state_dict()[name], before[name])
    for name, value in net.state_dict().items():
        assert torch.equal(value, before[name])


def test_pruning_is_global_not_per_layer():
    net = nn.Sequential(nn.Linear(2, 2, bias=False), nn.Linear(2, 2, bias=False))
    net[0].weight.data = torch.tensor([[0.1, 0.2], [0.3, 0.4]])
    net[1].weight.data = torch.tensor([[5.0, 6.0], [7.0, 8.0]])
    masks = pie.magnitude_masks(net, 0.5)
    assert not masks["0"].any() and masks["1"].all()


def test_ties_still_give_exact_count():
    net = nn.Sequential(nn.Linear(4, 5))
    net[0].weight.data.fill_(0.5)
    assert int((~pie.magnitude_masks(net, 0.35)["0"]).sum()) == 7  # round(0.35 * 20)


def test_bad_sparsity():
    with pytest.raises(EvalibError, match="sparsity"):
        pie.prune(tiny_net(), 1.0)


def test_fine_tune_keeps_the_mask():
    net = tiny_net()
    pruned = pie.prune(net, 0.6)
    zeros = all_weights(pruned) == 0
    tuned = pie.fine_tune(pruned, tiny_split(), steps=3, recipe=Recipe(batch_size=8), lr=0.1)
    after = all_weights(tuned)
    assert torch.all(after[zeros] == 0)
    assert not torch.equal(after[~zeros], all_weights(pruned)[~zeros])
    assert not any(n.endswith("_orig") for n in tuned.state_dict())  # mask made permanent


# ----------------------------------------------------------------------------- PIE / HTL


def test_modal_ties_go_to_lowest_class():
    preds = np.array([[2, 1, 0, 3], [1, 1, 2, 3], [2, 0, 1, 0]])
    assert pie.modal(preds).tolist() == [2, 1, 0, 3]
    assert pie.modal(np.array([[4, 3], [3, 4]])).tolist() == [3, 3]


def test_pie_and_htl_by_hand():
    dense = np.array([[0, 1, 2, 1], [0, 1, 2, 0], [1, 1, 2, 1]])  # modal 0, 1, 2, 1
    p30 = np.array([[0, 1, 2, 1], [0, 1, 2, 1], [0, 1, 2, 1]])  # no PIE
    p50 = np.array([[1, 1, 2, 0], [1, 1, 0, 0], [0, 1, 0, 1]])  # modal 1, 1, 0, 0
    p90 = np.array([[1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]])  # modal 1, 0, 0, 0
    assert pie.pie_mask(dense, p30).tolist() == [False] * 4
    assert pie.pie_mask(dense, p50).tolist() == [True, False, True, True]
    assert pie.pie_mask(dense, p90).tolist() == [True, True, True, True]
    htl = pie.htl_scores(dense, {0.3: p30, 0.5: p50, 0.9: p90})
    np.testing.assert_allclose(htl, [2 / 3, 1 / 3, 2 / 3, 2 / 3])
    np.testing.assert_allclose(pie.htl_scores(dense, np.stack([p30, p90])), [0.5] * 4)


def test_pie_shapes_checked():
    with pytest.raises(EvalibError, match="samples"):
        pie.pie_mask(np.zeros((2, 3), int), np.zeros((2, 4), int))
    with pytest.raises(EvalibError, match="integer"):
        pie.modal(np.zeros((2, 3)))


# ----------------------------------------------------------------------------- accuracy


def test_per_class_and_worst_class_by_hand():
    labels = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    preds = np.array([0, 0, 0, 1, 1, 0, 2, 2, 0, 2])
    pc = metrics.per_class_accuracy(preds, labels, num_classes=4)
    np.testing.assert_allclose(pc[:3], [0.75, 0.5, 0.75])
    assert np.isnan(pc[3])  # class 3 absent
    rep = pie.accuracy_report(preds, labels, num_classes=4)
    assert rep["accuracy"] == pytest.approx(0.7)
    assert rep["worst_class"] == 1 and rep["worst_class_accuracy"] == pytest.approx(0.5)
    assert rep["balanced_accuracy"] == pytest.approx(2 / 3)
    assert rep["per_class"][3] is None


# ----------------------------------------------------------------------------- emphasis


def test_emphasis_and_oversampling():
    htl = np.array([0.0, 0.25, 0.5, 1.0])
    np.testing.assert_allclose(pie.emphasis_weights(htl, 2.0), [1.0, 1.5, 2.0, 3.0])
    assert pie.oversample(htl, 2.0).tolist() == [0, 1, 1, 2, 2, 3, 3, 3]
    with pytest.raises(EvalibError):
        pie.emphasis_weights(htl, -1.0)


def test_htl_coreset_keeps_highest_with_stable_ties():
    htl = np.array([0.25, 0.5, 0.0, 0.5, 0.25, 1.0])
    sel = pie.htl_selection(htl, 0.5)
    assert sel.indices.tolist() == [5, 1, 3]
    sel2 = pie.htl_selection(htl, 4 / 6, labels=[0, 0, 0, 1, 1, 1], class_balanced=True)
    assert sorted(sel2.indices.tolist()) == [0, 1, 3, 5]


# ----------------------------------------------------------------------------- the task


def _task(**kw) -> pie.PruneTask:
    base = dict(data=DataSpec("breastmnist", train_subset=60, val_subset=20, test_subset=30), model=ModelSpec("convnet", 0.0625),
                recipe=Recipe(epochs=1, batch_size=8), seed=0, sparsities=(0.5, 0.9),
                fine_tune_steps=2)  # fmt: skip
    return pie.PruneTask(**{**base, **kw})


def test_prune_task_runs_deterministically_and_rebuilds_from_its_row(tmp_path, shared_data):
    task = _task()
    cache = Cache.at(tmp_path / "res", tmp_path / "scratch")
    row = tasks.run_task(task, cache, shared_data)
    assert row["kind"] == "pie:prune" and tasks.task_from_record(row) == task
    assert len(row["dense_train"]) == 60 and len(row["dense_test"]) == 30
    assert np.asarray(row["pruned_test"]).shape == (2, 30)
    assert row["weight_sparsity"][1] == pytest.approx(0.9, abs=0.01)
    # the dense network is read back from the scratch folder: the same predictions
    again = tasks.run_task(task, cache, shared_data, store=False)
    # and trained afresh in another scratch folder: the same predictions again
    fresh = tasks.run_task(task, Cache.at(tmp_path / "r2", tmp_path / "s2"), shared_data)
    for other in (again, fresh):
        for f in ("dense_train", "dense_test", "pruned_train", "pruned_test", *task.reproduced):
            assert other[f] == row[f], f
    assert again["dense_seconds"] == row["dense_seconds"]  # not trained a second time


def test_prune_task_checks_its_settings():
    with pytest.raises(EvalibError, match="sparsity"):
        _task(sparsities=(0.5, 1.0))
    with pytest.raises(EvalibError, match="one sparsity"):
        _task(sparsities=())
    assert _task().key() != _task(fine_tune_steps=3).key()


def test_rerun_reproduces_a_stored_prune_row(tmp_path, shared_data):
    from evalib.runs.rerun import rerun

    task = _task(seed=1, sparsities=(0.7,), fine_tune_steps=0)
    cache = Cache.at(tmp_path / "res", tmp_path / "scratch")
    tasks.run_task(task, cache, shared_data)
    compared = rerun(cache.job_path(task), tmp_path / "again", shared_data, progress=False)
    assert compared.pop("stage") == ("task", "task")
    assert set(compared) == set(task.reproduced)
    for field_, (stored, new) in compared.items():
        assert stored == new, field_


def test_pie_result_from_rows_gives_htl():
    rows = [{"seed": k, "sparsities": [0.5, 0.9], "dense_train": [0, 1, 2, 1],
             "dense_test": [0, 1], "pruned_train": [[0, 1, 2, 0], [1, 0, 2, 0]],
             "pruned_test": [[0, 1], [1, 1]]} for k in (1, 0)]  # fmt: skip
    res = pie_tables.PIEResult.from_rows(rows)
    assert res.seeds == (0, 1) and res.dense["train"].shape == (2, 4)
    np.testing.assert_allclose(res.htl, [0.5, 0.5, 0.0, 1.0])
    table = pie_tables.pruning_table(res, np.array([0, 1]), 3)
    assert list(table["sparsity"]) == [0.0, 0.5, 0.9]
    assert list(table["accuracy"]) == [100.0, 100.0, 50.0]
    assert pie_tables.PIEResult.from_rows([]) is None
    assert pie_tables.pruning_table(None, np.array([0]), 2).empty


def test_verdicts_by_hand():
    import pandas as pd

    from evalib.studies.stats import CONTRADICTED, HOLDS

    pruning = pd.DataFrame(
        [{"seed": k, "sparsity": 0.0, "accuracy": 90.0 + k, "worst_class_accuracy": 80.0}
         for k in range(3)]
        + [{"seed": k, "sparsity": 0.5, "accuracy": 90.0, "worst_class_accuracy": 80.0}
           for k in range(3)]
        + [{"seed": k, "sparsity": 0.9, "accuracy": 85.0, "worst_class_accuracy": 60.0 - k}
           for k in range(3)]
    )  # fmt: skip
    emphasis = pd.DataFrame(
        [{"variant": "uniform", "seed": k, "accuracy": 90.0 + k, "worst_class_accuracy": 80.0 + k}
         for k in range(3)]
        + [{"variant": "weighted λ=2", "seed": k, "accuracy": 89.0 + k,
            "worst_class_accuracy": 85.0 + k + 0.1 * k} for k in range(3)]
    )  # fmt: skip
    coreset = pd.DataFrame(
        [{"method": m, "rate": 0.05, "seed": k, "accuracy": a + k}
         for m, a in (("pie", 50.0), ("random", 70.0)) for k in range(3)]
    )  # fmt: skip
    hooker, overall, worst, core = pie_tables.verdicts(pruning, emphasis, coreset)
    # worst-class drop − overall drop at sparsity 0.9: (20 + k) − (5 + k) = 15 for each k
    assert hooker["parts"] == {"sparsity 0.9": HOLDS} and "+15.00" in hooker["ours"]
    assert overall["verdict"] == CONTRADICTED  # −1 point for every seed
    assert worst["verdict"] == HOLDS  # +5.0, +5.1, +5.2
    assert core["parts"] == {"5\u00a0%": CONTRADICTED}
