"""Budgets, top-k, class quotas, CCS sampling, select() and the writers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from evalib.dynamics import from_arrays
from evalib.errors import EvalibError
from evalib.scores import aum
from evalib.select import (
    Selection,
    budget,
    ccs_beta,
    ccs_sample,
    class_quotas,
    rank,
    read_selection,
    save_scores,
    save_selection,
    select,
    top_k,
    top_k_balanced,
    water_fill,
)


def rand_dyn(n=60, t=12, c=4, seed=0, sample_ids=None):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(t, n, c)) * 2
    lp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    labels = np.arange(n) % c
    return from_arrays(lp, labels, sample_ids=sample_ids)


# ----------------------------------------------------------------------------- budget


def test_budget_rounding():
    assert budget(10, 0.3) == 3 and budget(10, 0.3, "floor") == 3  # 0.3 * 10 is not 3.0000..4
    assert budget(34561, 0.02) == 692 and budget(34561, 0.02, "floor") == 691  # 691.22
    assert budget(7, 1.0) == 7
    assert budget(3, 0.01) == 1


@pytest.mark.parametrize("rate", [0, -0.1, 1.0001, 2, float("nan"), "a", None])
def test_budget_bad_rate(rate):
    with pytest.raises(EvalibError):
        budget(10, rate)


def test_budget_floor_to_zero_and_bad_args():
    with pytest.raises(EvalibError):
        budget(10, 0.05, "floor")
    with pytest.raises(EvalibError):
        budget(10, 0.5, "round")
    with pytest.raises(EvalibError):
        budget(0, 0.5)


# ----------------------------------------------------------------------------- top-k


def test_top_k_direction_ties_and_nan():
    s = np.array([0.5, np.nan, 0.9, 0.5, 0.1, 0.9])
    # highest: 0.9 (idx 2, 5 by index), 0.5 (idx 0, 3), 0.1, NaN last
    np.testing.assert_array_equal(rank(s, "highest"), [2, 5, 0, 3, 4, 1])
    np.testing.assert_array_equal(rank(s, "lowest"), [4, 0, 3, 2, 5, 1])
    np.testing.assert_array_equal(top_k(s, 3, "highest"), [2, 5, 0])
    assert top_k(s, 3, "lowest").dtype == np.int64
    with pytest.raises(EvalibError):
        top_k(s, 0, "highest")
    with pytest.raises(EvalibError):
        top_k(s, 7, "highest")
    with pytest.raises(EvalibError):
        top_k(s, 2, "largest")


scores_st = hnp.arrays(
    np.float64,
    st.integers(1, 40),
    elements=st.one_of(st.floats(-5, 5), st.sampled_from([0.0, 1.0, np.nan])),
)


@settings(max_examples=150, deadline=None)
@given(scores_st, st.floats(0.001, 1.0), st.sampled_from(["highest", "lowest"]))
def test_top_k_invariants(scores, rate, direction):
    n = scores.size
    m = budget(n, rate)
    idx = top_k(scores, m, direction)
    assert idx.size == m and np.unique(idx).size == m
    rest = np.setdiff1d(np.arange(n), idx)
    sel, other = scores[idx], scores[rest]
    sign = 1.0 if direction == "highest" else -1.0
    if np.isnan(sel).any():  # NaN only once every finite score is taken
        assert not np.isfinite(other).any()
    fin_sel, fin_other = sel[np.isfinite(sel)], other[np.isfinite(other)]
    if fin_sel.size and fin_other.size:
        assert (sign * fin_sel).min() >= (sign * fin_other).max()
    # equal scores straddling the cut: the smaller index is the one selected
    for i in idx:
        tied = rest[scores[rest] == scores[i]]
        assert (tied > i).all()
    # priority order: non-increasing sign-adjusted score among finite entries
    f = sign * sel[np.isfinite(sel)]
    assert (np.diff(f) <= 0).all()


# ----------------------------------------------------------------------------- class quotas


def test_class_quotas_by_hand():
    # sizes 50, 30, 20 (N = 100), M = 7: shares 3.5, 2.1, 1.4 -> floors 3, 2, 1 (sum 6);
    # largest remainder .5 (class 0) -> [4, 2, 1]
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    assert class_quotas(labels, 7) == {0: 4, 1: 2, 2: 1}
    # sizes 97, 1, 1, 1, M = 4: every class needs >= 1 -> [1, 1, 1, 1]
    labels = np.repeat([0, 1, 2, 3], [97, 1, 1, 1])
    assert class_quotas(labels, 4) == {0: 1, 1: 1, 2: 1, 3: 1}
    # M = 6: shares 5.82, .06, .06, .06 -> [5, 1, 1, 1] would be 8 > 6 ... -> [3, 1, 1, 1]
    assert class_quotas(labels, 6) == {0: 3, 1: 1, 2: 1, 3: 1}
    with pytest.raises(EvalibError, match="classes"):
        class_quotas(labels, 3)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(1, 30), min_size=1, max_size=8), st.floats(0.01, 1.0))
def test_class_quotas_invariants(sizes, rate):
    labels = np.repeat(np.arange(len(sizes)) * 3, sizes)  # labels need not be 0..K-1
    n, k = len(labels), len(sizes)
    m = budget(n, rate)
    if m < k:
        with pytest.raises(EvalibError):
            class_quotas(labels, m)
        return
    q = class_quotas(labels, m)
    vals = np.array([q[c] for c in sorted(q)])
    sz = np.array(sizes)
    assert vals.sum() == m and (vals >= 1).all() and (vals <= sz).all()
    share = m * sz / n
    if (share >= 1).all():
        assert (np.abs(vals - share) < 1).all()


def test_top_k_balanced_takes_best_per_class():
    scores = np.array([9, 8, 7, 6, 5, 4, 3, 2, 1, 0], float)
    labels = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
    # N = 10, M = 5: shares 3, 2 -> class 0 takes 9, 8, 7 ; class 1 takes 3, 2
    idx = top_k_balanced(scores, labels, 5, "highest")
    np.testing.assert_array_equal(idx, [0, 1, 2, 6, 7])
    idx = top_k_balanced(scores, labels, 5, "lowest")
    np.testing.assert_array_equal(idx, [9, 8, 5, 4, 3])


# ----------------------------------------------------------------------------- CCS


def test_water_fill_by_hand():
    # sizes 10, 1, 5, 0 with M = 9: order 0 (empty), 1, 5, 10
    #   empty: min(0, 9 // 4) = 0 ; size 1: min(1, 9 // 3) = 1 -> 8 left
    #   size 5: min(5, 8 // 2) = 4 -> 4 left ; size 10: min(10, 4 // 1) = 4
    np.testing.assert_array_equal(water_fill([10, 1, 5, 0], 9), [4, 1, 4, 0])
    np.testing.assert_array_equal(water_fill([2, 2], 10), [2, 2])


def test_ccs_budget_cutoff_and_seed():
    rng = np.random.default_rng(1)
    s = rng.normal(size=500)
    m, beta = 50, 0.2
    a = ccs_sample(s, m, beta=beta, seed=0)
    assert a.size == m and np.unique(a).size == m
    dropped = np.argsort(s, kind="stable")[: math.floor(beta * 500)]
    assert np.intersect1d(a, dropped).size == 0
    np.testing.assert_array_equal(a, ccs_sample(s, m, beta=beta, seed=0))
    assert not np.array_equal(a, ccs_sample(s, m, beta=beta, seed=1))
    # covers the score range: some samples from the top decile of the kept scores
    assert (s[a] > np.quantile(s, 0.9)).any()


def test_ccs_strata_allocation_by_hand():
    # scores 0..9 (10 samples) and one outlier 100: 2 strata over [0, 100] -> bin 0 has
    # 10 samples, bin 1 has the outlier; M = 3: outlier stratum (size 1) gets
    # min(1, 3 // 2) = 1, the other min(10, 2) = 2 -> the outlier is always selected
    s = np.array([*range(10), 100.0])
    for seed in range(5):
        idx = ccs_sample(s, 3, beta=0.0, n_strata=2, seed=seed)
        assert 10 in idx and idx.size == 3


def test_ccs_clips_cutoff_and_handles_nan():
    s = np.array([0.0, 1, 2, 3, np.nan])
    # beta 0.9 would drop floor(4.5) = 4 > N_finite - M = 1 -> drops only sample 0
    idx = ccs_sample(s, 3, beta=0.9, seed=0)
    np.testing.assert_array_equal(idx, [1, 2, 3])
    # M larger than the finite samples: NaN samples are added last
    np.testing.assert_array_equal(ccs_sample(s, 5, beta=0.5, seed=0), [0, 1, 2, 3, 4])
    with pytest.raises(EvalibError):
        ccs_sample(s, 3, beta=1.0)


def test_ccs_beta_defaults():
    assert ccs_beta(0.1) == 0.3 and ccs_beta(0.5) == 0.0 and ccs_beta(0.02) == 0.4


def test_select_ccs_on_dynamics():
    d = rand_dyn(n=200)
    sel = select("ccs", d, 0.1, seed=3)
    assert sel.indices.size == 20 and np.unique(sel.indices).size == 20
    a = aum(d, margin="prob")
    dropped = np.argsort(a, kind="stable")[: math.floor(0.3 * 200)]  # beta(0.1) = 0.3
    assert np.intersect1d(sel.indices, dropped).size == 0
    assert sel.params["beta"] == 0.3
    np.testing.assert_array_equal(sel.indices, select("ccs", d, 0.1, seed=3).indices)
    assert not np.array_equal(sel.indices, select("ccs", d, 0.1, seed=4).indices)
    bal = select("ccs", d, 0.1, seed=3, class_balanced=True, beta=0.1)
    assert np.bincount(d.labels[bal.indices]).tolist() == [5, 5, 5, 5]


# ----------------------------------------------------------------------------- select


def test_select_dynamics_maps_sample_ids():
    ids = np.arange(100, 160)
    d = rand_dyn(sample_ids=ids)
    sel = select("eva", d, 0.1, early=(0, 4), late=(6, 12))
    assert isinstance(sel, Selection)
    assert sel.indices.size == 6 and sel.indices.dtype == np.int64
    np.testing.assert_array_equal(sel.sample_ids, ids[sel.indices])
    assert sel.scores.shape == (60,)
    assert sel.method == "eva" and sel.rate == 0.1 and sel.direction == "highest"
    assert sel.params["early"] == (0, 4) and sel.params["variant"] == "paper"
    np.testing.assert_array_equal(sel.indices, top_k(sel.scores, 6, "highest"))


def test_select_direction_lowest_for_aum_and_floor():
    d = rand_dyn()
    sel = select("aum", d, 0.25, rounding="floor")
    assert sel.indices.size == 15
    assert sel.scores[sel.indices].max() <= np.delete(sel.scores, sel.indices).min()


def test_select_random_uses_seed():
    d = rand_dyn()
    a, b = select("random", d, 0.2, seed=1), select("random", d, 0.2, seed=2)
    assert not np.array_equal(np.sort(a.indices), np.sort(b.indices))
    np.testing.assert_array_equal(a.indices, select("random", d, 0.2, seed=1).indices)


def test_select_class_balanced():
    d = rand_dyn()  # 4 classes x 15
    sel = select("forgetting", d, 0.2, class_balanced=True)
    assert np.bincount(d.labels[sel.indices]).tolist() == [3, 3, 3, 3]
    with pytest.raises(EvalibError, match="classes"):
        select("forgetting", d, 0.05, class_balanced=True)  # M = 3 < 4 classes


def test_select_from_scores():
    s = np.array([0.3, 0.1, 0.9, 0.5])
    sel = select("my_score", s, 0.5, direction="lowest", sample_ids=[10, 11, 12, 13])
    np.testing.assert_array_equal(sel.indices, [1, 0])
    np.testing.assert_array_equal(sel.sample_ids, [11, 10])
    with pytest.raises(EvalibError):
        select("eva", s, 0.5, class_balanced=True)  # no labels
    with pytest.raises(EvalibError):
        select("my_score", s, 0.5)  # unknown method and no direction
    with pytest.raises(EvalibError):
        select("eva", s, 0.0)


# ----------------------------------------------------------------------------- writers


def test_writers_round_trip(tmp_path):
    s = np.array([0.3, np.nan, 0.9, 0.5])
    sel = select("x", s, 0.5, direction="highest", sample_ids=[7, 8, 9, 10])
    p_npy = save_selection(sel, tmp_path / "sel.npy")
    np.testing.assert_array_equal(np.load(p_npy), [9, 10])
    p_csv = save_selection(sel, tmp_path / "sub" / "sel.csv")
    lines = p_csv.read_text().splitlines()
    assert lines[0] == "rank,position,sample_id,score"
    assert lines[1] == "0,2,9,0.90000000000000002" and lines[2].startswith("1,3,10,0.5")
    np.testing.assert_array_equal(read_selection(p_csv), [9, 10])
    np.testing.assert_array_equal(read_selection(p_npy), [9, 10])
    q = save_scores(s, [7, 8, 9, 10], tmp_path / "scores.csv")
    assert q.read_text().splitlines()[2] == "1,8,nan"
    np.testing.assert_array_equal(np.load(save_scores(s, [7, 8, 9, 10], tmp_path / "s.npy")), s)
    # atomic: no temporary files left behind
    assert sorted(p.name for p in tmp_path.rglob("*") if p.name.startswith(".")) == []


def test_writers_reject_bad_input(tmp_path):
    sel = select("x", np.arange(4.0), 0.5, direction="highest")
    with pytest.raises(EvalibError):
        save_selection(sel, tmp_path / "sel.txt")
    with pytest.raises(EvalibError):
        save_scores(np.arange(3.0), [1, 2], tmp_path / "s.npy")
    with pytest.raises(EvalibError):
        read_selection(tmp_path / "missing.npy")
