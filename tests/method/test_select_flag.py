"""The published code's class-balance flag as it behaved (equal quotas from the last class's
size), a key-neutral selection option."""

from __future__ import annotations

import numpy as np
import pytest

from evalib.errors import EvalibError
from evalib.runs.cache import selection_key
from evalib.runs.config import Job, SelectionSpec, get_profile, job_from_dict
from evalib.select import class_quotas, last_class_quotas, select


def _labels(sizes):
    return np.repeat(np.arange(len(sizes)), sizes)


def test_last_class_quota_by_hand():
    # sizes [5, 3, 8] at rate 0.5: the last class has 8 -> int(0.5 * 8) = 4 per class,
    # capped at each class's size
    assert last_class_quotas(_labels([5, 3, 8]), 0.5) == {0: 4, 1: 3, 2: 4}
    # the last class is the largest label, whatever its size
    assert last_class_quotas(_labels([8, 3, 5]), 0.5) == {0: 2, 1: 2, 2: 2}
    with pytest.raises(EvalibError, match="is 0"):
        last_class_quotas(_labels([5, 3, 1]), 0.5)


def test_the_flag_on_the_real_class_sizes():
    organ = [1956, 1390, 1357, 1474, 3963, 3817, 6164, 3919, 3929, 3031, 3561]
    q = last_class_quotas(_labels(organ), 0.02)
    assert set(q.values()) == {71} and sum(q.values()) == 781
    blood = [852, 2181, 1085, 2026, 849, 993, 2330, 1643]
    assert sum(last_class_quotas(_labels(blood), 0.02).values()) == 256


def test_select_with_the_flag_takes_the_best_of_each_class():
    y = _labels([5, 3, 8])
    scores = np.arange(16, dtype=float)  # later samples score higher
    sel = select("eva", scores, 0.5, labels=y, class_balanced=True, quota="last_class")
    counts = np.bincount(y[sel.indices], minlength=3)
    assert counts.tolist() == [4, 3, 4] and sel.size == 11
    assert set(sel.indices.tolist()) == {1, 2, 3, 4, 5, 6, 7, 12, 13, 14, 15}
    assert sel.params["quota"] == "last_class"
    # without class balance only the size comes from the flag: global top-11
    plain = select("eva", scores, 0.5, labels=y, quota="last_class")
    assert sorted(plain.indices.tolist()) == list(range(5, 16))
    # the default is unchanged: M = ceil(0.5 * 16) = 8, proportional quotas
    default = select("eva", scores, 0.5, labels=y, class_balanced=True)
    assert np.bincount(y[default.indices], minlength=3).tolist() == list(
        class_quotas(y, 8).values()
    )
    assert "quota" not in default.params
    with pytest.raises(EvalibError, match="quota must be"):
        select("eva", scores, 0.5, labels=y, quota="equal")


def test_random_with_the_flag_is_a_uniform_draw_of_the_flag_size():
    y = _labels([50, 30, 80])
    scores = np.random.default_rng(0).random(160)
    sel = select("random", scores, 0.5, labels=y, quota="last_class")
    assert sel.size == 40 + 30 + 40


def test_proportional_class_balance_fills_the_budget_exactly():
    y = _labels([1956, 1390, 1357, 1474, 3963, 3817, 6164, 3919, 3929, 3031, 3561])
    scores = np.random.default_rng(1).random(y.size)
    for rate in (0.02, 0.05):
        sel = select("random", scores, rate, labels=y, class_balanced=True)
        assert sel.size == int(np.ceil(rate * y.size))
        share = np.bincount(y[sel.indices]) / sel.size
        assert np.abs(share - np.bincount(y) / y.size).max() < 2 / sel.size


def test_the_option_leaves_every_existing_key_alone():
    cpu = get_profile("cpu")
    windows = cpu.eva_windows()
    data, surrogate = cpu.data_spec("organamnist"), cpu.surrogate_config("organamnist", 0)
    plain = Job(data, SelectionSpec.make("eva", 0.05, **windows), surrogate, cpu.model,
                cpu.recipe, 0, min_steps=cpu.min_steps)  # fmt: skip
    assert plain.key() == "23a7da1bb1d57ebe"  # pinned in tests/runs/test_experiments.py
    assert selection_key(plain) == "ff2bdc2b52ab7add"
    flag = Job(data, SelectionSpec.make("eva", 0.05, class_balanced=True, quota="last_class",
                                        **windows), surrogate, cpu.model, cpu.recipe, 0)  # fmt: skip
    assert flag.selection.quota == "last_class"
    assert flag.key() != plain.key() and selection_key(flag) != selection_key(plain)
    from dataclasses import asdict

    assert job_from_dict(asdict(flag)).key() == flag.key()
    assert job_from_dict(asdict(plain)).key() == plain.key()
