"""Scores against hand-computed values on tiny dynamics, plus window-statistics properties.

log_probs are stored as float16, so values are compared with an absolute tolerance of
2e-3 (the float16 rounding of log 0.5 or log 0.25 moves p by at most ~5e-4).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from evalib.dynamics import from_arrays
from evalib.errors import EvalibError
from evalib.scores import (
    METHODS,
    WindowStats,
    aum,
    cartography,
    centrality,
    check_window,
    check_windows,
    compare_at_rate,
    compute_scores,
    dad,
    direction,
    el2n,
    entropy,
    error_norm,
    eva,
    eva_official,
    eva_paper,
    exp_d,
    exp_s,
    forgetting,
    random_scores,
    selection_overlap,
    tdds,
    var_d,
    var_s,
)

TOL = 2e-3
R2 = math.sqrt(2.0)


def q_dyn(q, seen=None, labels=None, **kw):
    """Dynamics whose sample i at epoch t has p = [q, 1 - q, 0] and label 0.

    Then S_t(i) = ||p - e_0|| = sqrt((1 - q)^2 + (1 - q)^2) = sqrt(2) * (1 - q).
    ``q`` is [N, T] (one row per sample, easier to read).
    """
    q = np.asarray(q, np.float64).T  # -> [T, N]
    probs = np.stack([q, 1 - q, np.zeros_like(q)], axis=-1)
    with np.errstate(divide="ignore"):
        lp = np.log(probs)
    n = q.shape[1]
    labels = np.zeros(n, np.int64) if labels is None else labels
    return from_arrays(lp, labels, seen=None if seen is None else np.asarray(seen).T, **kw)


def p_dyn(probs, labels, seen=None, **kw):
    """Dynamics from probabilities given as [N, T, C] (per sample, per epoch)."""
    p = np.asarray(probs, np.float64).transpose(1, 0, 2)
    with np.errstate(divide="ignore"):
        lp = np.log(p)
    return from_arrays(lp, labels, seen=None if seen is None else np.asarray(seen).T, **kw)


# ----------------------------------------------------------------------------- error norm


def test_error_norm_by_hand():
    # p = [0.5, 0.25, 0.25], y = 0: sqrt(0.5^2 + 0.25^2 + 0.25^2) = sqrt(0.375) = 0.612372
    # p = [0.5, 0.25, 0.25], y = 1: sqrt(0.5^2 + 0.75^2 + 0.25^2) = sqrt(0.875) = 0.935414
    # p = [1, 0, 0], y = 0: 0 ;  p = [1, 0, 0], y = 1: sqrt(1 + 1) = 1.414214
    d = p_dyn(
        [[[0.5, 0.25, 0.25], [1, 0, 0]], [[0.5, 0.25, 0.25], [1, 0, 0]]],
        labels=[0, 1],
    )
    s = error_norm(d)  # [T=2, N=2]
    np.testing.assert_allclose(s, [[0.612372, 0.935414], [0.0, R2]], atol=TOL)
    assert s.dtype == np.float64


def test_error_norm_unseen_is_zero_and_never_nan():
    # the recorded value of an unseen entry is garbage (here NaN); S must be 0 there
    lp = np.log(np.full((2, 1, 3), 1 / 3))
    lp[1, 0] = np.nan
    d = from_arrays(lp, [0], seen=np.array([[True], [False]]))
    s = error_norm(d)
    # uniform over 3 classes, y = 0: sqrt((2/3)^2 + 2 * (1/3)^2) = sqrt(6/9) = 0.816497
    np.testing.assert_allclose(s[:, 0], [0.816497, 0.0], atol=TOL)


# ----------------------------------------------------------------------------- windows


def test_window_mean_var_by_hand():
    # one sample, q = [1, 0.5, 0.75, 0.25] -> S = sqrt(2) * [0, 0.5, 0.25, 0.75]
    #   = [0, 0.707107, 0.353553, 1.060660]
    st_ = WindowStats.from_dynamics(q_dyn([[1, 0.5, 0.75, 0.25]]))
    # [0, 4): mean = sqrt(2) * 1.5 / 4 = 0.530330
    #   var0 = 2 * var([0, .5, .25, .75]) = 2 * ((.375^2 + .125^2 + .125^2 + .375^2) / 4)
    #        = 2 * 0.078125 = 0.15625 ; var1 = 0.15625 * 4 / 3 = 0.208333
    np.testing.assert_allclose(st_.mean(0, 4), [0.530330], atol=TOL)
    np.testing.assert_allclose(st_.var(0, 4, ddof=0), [0.15625], atol=TOL)
    np.testing.assert_allclose(st_.var(0, 4, ddof=1), [0.208333], atol=TOL)
    # [1, 3): S = [0.707107, 0.353553] -> mean 0.530330, var0 = (0.353553 / 2)^2 = 0.03125
    np.testing.assert_allclose(st_.mean(1, 3), [0.530330], atol=TOL)
    np.testing.assert_allclose(st_.var(1, 3), [0.03125], atol=TOL)
    np.testing.assert_allclose(st_.std(1, 3), [0.176777], atol=TOL)
    assert st_.count(1, 3).tolist() == [2]


def test_missing_mask_vs_zero_by_hand():
    # q = [0.5, (unseen), 0.5]: seen S = 1/sqrt(2) = 0.707107 twice
    d = q_dyn([[0.5, 0.9, 0.5]], seen=[[True, False, True]])
    mask = WindowStats.from_dynamics(d, missing="mask")
    zero = WindowStats.from_dynamics(d, missing="zero")
    # mask: [0.707107, 0.707107] -> mean 0.707107, var 0
    np.testing.assert_allclose(mask.mean(0, 3), [0.707107], atol=TOL)
    np.testing.assert_allclose(mask.var(0, 3), [0.0], atol=TOL)
    # zero: [0.707107, 0, 0.707107] -> mean sqrt(2)/3 = 0.471405,
    #   var0 = (2 * (1/(3 sqrt 2))^2 + (sqrt(2)/3)^2) / 3 = (1/9 + 2/9) / 3 = 1/9
    np.testing.assert_allclose(zero.mean(0, 3), [0.471405], atol=TOL)
    np.testing.assert_allclose(zero.var(0, 3), [1 / 9], atol=TOL)
    assert mask.count(0, 3).tolist() == [2] and zero.count(0, 3).tolist() == [3]


def test_too_few_seen_entries_give_nan():
    d = q_dyn([[0.5, 0.9, 0.9], [0.5, 0.5, 0.5]], seen=[[True, False, False], [True, True, True]])
    st_ = WindowStats.from_dynamics(d)
    # sample 0 has one seen epoch in [0, 3): var ddof 0 = 0, ddof 1 undefined -> NaN
    assert st_.var(0, 3, ddof=0)[0] == 0.0
    assert np.isnan(st_.var(0, 3, ddof=1)[0])
    # no seen epoch in [1, 3): mean and variance NaN; sample 1 is fine
    assert np.isnan(st_.mean(1, 3)[0]) and np.isnan(st_.var(1, 3)[0])
    assert np.isfinite(st_.var(1, 3, ddof=1)[1])


def _direct(values, seen, a, b, missing, ddof):
    x, s = values[a:b], seen[a:b]
    n = x.shape[1]
    mean = np.full(n, np.nan)
    var = np.full(n, np.nan)
    for i in range(n):
        col = x[s[:, i], i] if missing == "mask" else np.where(s[:, i], x[:, i], 0.0)
        if col.size >= 1:
            mean[i] = col.mean()
        if col.size >= ddof + 1:
            var[i] = col.var(ddof=ddof)
    return mean, var


@st.composite
def window_case(draw):
    t = draw(st.integers(2, 12))
    n = draw(st.integers(1, 6))
    values = draw(
        hnp.arrays(np.float64, (t, n), elements=st.floats(0, math.sqrt(2), allow_nan=False))
    )
    seen = draw(hnp.arrays(np.bool_, (t, n)))
    a = draw(st.integers(0, t - 2))
    b = draw(st.integers(a + 2, t))
    return values, seen, a, b


@settings(max_examples=150, deadline=None)
@given(window_case(), st.sampled_from(["mask", "zero"]), st.sampled_from([0, 1]))
def test_prefix_sum_stats_match_direct(case, missing, ddof):
    values, seen, a, b = case
    st_ = WindowStats(values, seen, missing=missing)
    mean, var = _direct(values, seen, a, b, missing, ddof)
    np.testing.assert_allclose(st_.mean(a, b), mean, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(st_.var(a, b, ddof=ddof), var, atol=1e-12, equal_nan=True)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 6), st.integers(3, 10), st.floats(-1e3, 1e3), st.floats(1e-4, 1e-2))
def test_variance_accurate_for_large_offset(n, t, offset, scale):
    # values = offset + small noise: the shifted prefix sums must not lose the variance
    rng = np.random.default_rng(n * 100 + t)
    values = offset + scale * rng.random((t, n))
    st_ = WindowStats(values)
    np.testing.assert_allclose(st_.var(0, t), values.var(axis=0), rtol=1e-6, atol=1e-14)


@pytest.mark.parametrize(
    "window",
    [(3, 3), (4, 2), (-1, 3), (0, 11), (5, 6), (0, 1), ("0", 3), (0.5, 3), (1,), None],
)
def test_invalid_single_window_raises(window):
    with pytest.raises(EvalibError):
        check_window(window, 10)


@pytest.mark.parametrize(
    "early,late",
    [((0, 5), (4, 8)), ((4, 8), (0, 4)), ((0, 4), (6, 11)), ((0, 1), (2, 4)), ((2, 2), (3, 5))],
)
def test_invalid_dual_windows_raise(early, late):
    with pytest.raises(EvalibError):
        check_windows(early, late, 10)


def test_valid_windows_touching_and_at_last_epoch():
    assert check_windows((0, 4), (4, 10), 10) == ((0, 4), (4, 10))
    assert check_window((8, 10), 10) == (8, 10)


def test_window_stats_reject_bad_windows_and_ddof():
    st_ = WindowStats(np.zeros((5, 2)))
    for a, b in [(3, 3), (4, 2), (0, 6), (-1, 2)]:
        with pytest.raises(EvalibError):
            st_.mean(a, b)
    with pytest.raises(EvalibError):
        st_.var(2, 3)  # K = 1
    with pytest.raises(EvalibError):
        st_.var(0, 3, ddof=2)
    with pytest.raises(EvalibError):
        WindowStats(np.zeros((5, 2)), missing="drop")


# ----------------------------------------------------------------------------- EVA


def eva_example():
    # windows: early [0, 2), late [2, 4); S = sqrt(2) * (1 - q)
    # A: q = [1, 0, 1, 1]    -> S = [0, 1.4142, 0, 0]: V0 early = (1.4142 / 2)^2 = 0.5, late 0
    # B: q = [1, 1, 1, 0.5]  -> S late = [0, 0.7071]: V0 late = (0.7071 / 2)^2 = 0.125
    # C: q = [0.5, 1, 1, 1]  -> S early = [0.7071, 0]: V0 early = 0.125
    return q_dyn([[1, 0, 1, 1], [1, 1, 1, 0.5], [0.5, 1, 1, 1]])


def test_eva_paper_vs_official_by_hand_rank_differently():
    d = eva_example()
    early, late = (0, 2), (2, 4)
    # paper: V_early + V_late = [0.5, 0.125, 0.125]
    paper = eva_paper(d, early, late)
    np.testing.assert_allclose(paper, [0.5, 0.125, 0.125], atol=TOL)
    # official: ddof 1 doubles each (K = 2): early [1, 0, 0.25] (sum 1.25), late [0, 0.25, 0]
    # (sum 0.25); 0.5 * early / 1.25 + 0.5 * late / 0.25 = [0.4, 0.5, 0.1]
    official = eva_official(d, early, late)
    np.testing.assert_allclose(official, [0.4, 0.5, 0.1], atol=TOL)
    assert np.argmax(paper) == 0 and np.argmax(official) == 1
    # weight = 1 keeps only the early window: [1, 0, 0.25] / 1.25 = [0.8, 0, 0.2]
    np.testing.assert_allclose(eva_official(d, early, late, weight=1.0), [0.8, 0, 0.2], atol=TOL)
    np.testing.assert_array_equal(eva(d, early, late, variant="official"), official)
    np.testing.assert_array_equal(var_d(d, early, late), paper)
    cmp = compare_at_rate(paper, official, 1 / 3)
    assert cmp["m"] == 1 and cmp["intersection"] == 0 and cmp["jaccard"] == 0.0


def test_ablations_by_hand():
    d = eva_example()
    # EXP-S [0, 2): means of S = [0.7071, 0, 0.3536]; VAR-S [0, 2) = [0.5, 0, 0.125]
    np.testing.assert_allclose(exp_s(d, (0, 2)), [0.707107, 0, 0.353553], atol=TOL)
    np.testing.assert_allclose(var_s(d, (0, 2)), [0.5, 0, 0.125], atol=TOL)
    np.testing.assert_allclose(var_s(d, (0, 2), ddof=1), [1.0, 0, 0.25], atol=TOL)
    # EXP-D: early means + late means = [0.7071 + 0, 0 + 0.3536, 0.3536 + 0]
    np.testing.assert_allclose(exp_d(d, (0, 2), (2, 4)), [0.707107, 0.353553, 0.353553], atol=TOL)


def test_scores_accept_prebuilt_window_stats():
    d = eva_example()
    st_ = WindowStats.from_dynamics(d)
    np.testing.assert_array_equal(eva_paper(st_, (0, 2), (2, 4)), eva_paper(d, (0, 2), (2, 4)))
    with pytest.raises(EvalibError):
        eva_paper(st_, (0, 2), (2, 4), missing="zero")


def test_late_window_ending_at_last_epoch_is_not_zero():
    # the official code returns all zeros for a late window ending at T; we must not.
    # B's only variance lives in the late window [2, 4), which ends at T = 4
    d = eva_example()
    assert eva_paper(d, (0, 2), (2, 4))[1] == pytest.approx(0.125, abs=TOL)
    assert eva_official(d, (0, 2), (2, 4))[1] == pytest.approx(0.5, abs=TOL)
    assert var_s(d, (2, 4))[1] == pytest.approx(0.125, abs=TOL)


def test_eva_errors():
    d = eva_example()
    with pytest.raises(EvalibError):
        eva(d, (0, 2), (2, 4), variant="unknown")
    with pytest.raises(EvalibError):
        eva_official(d, (0, 2), (2, 4), weight=1.5)
    with pytest.raises(EvalibError):
        eva_paper(d, (0, 3), (2, 4))  # overlap
    with pytest.raises(EvalibError):
        eva_paper(d)  # default windows [0, 10), [100, 110) do not fit T = 4
    flat = q_dyn([[1, 1, 1, 1], [0.5, 0.5, 0.5, 0.5]])
    with pytest.raises(EvalibError, match="zero total variance"):
        eva_official(flat, (0, 2), (2, 4))


def test_missing_zero_reproduces_official_inflation():
    # sample 0 skipped at epoch 1: zero-fill puts S = 0 there and inflates its variance
    d = q_dyn([[0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.25]], seen=[[1, 0, 1, 1], [1, 1, 1, 1]])
    m = var_s(d, (0, 3), missing="mask")
    z = var_s(d, (0, 3), missing="zero")
    # mask: sample 0 S = [0.7071, 0.7071] -> 0 ; zero: [0.7071, 0, 0.7071] -> 1/9
    np.testing.assert_allclose(m, [0, 0], atol=TOL)
    np.testing.assert_allclose(z, [1 / 9, 0], atol=TOL)


def test_selection_overlap_by_hand():
    # A = {0, 1, 2, 3}, B = {2, 3, 4}: |A & B| = 2, |A | B| = 5, min size 3
    o = selection_overlap([0, 1, 2, 3], np.array([4, 3, 2]))
    assert o == {"size_a": 4, "size_b": 3, "intersection": 2, "jaccard": 0.4, "overlap": 2 / 3}
    assert selection_overlap([], [])["jaccard"] == 0.0


# ----------------------------------------------------------------------------- baselines


def test_forgetting_by_hand():
    # label 0; "correct" = q > 0.5 (p = [q, 1 - q, 0])
    # s0: correct 1,0,1,0  -> events at t=1 and t=3: 2
    # s1: never correct    -> 0 ("zero") or T = 4 ("max")
    # s2: 1,(unseen, stored incorrect),1,1 -> unseen skipped: 0 (naive reading would say 1)
    # s3: 0,1,1,0          -> 1
    q = [[0.9, 0.1, 0.9, 0.1], [0.1, 0.1, 0.1, 0.1], [0.9, 0.1, 0.9, 0.9], [0.1, 0.9, 0.9, 0.1]]
    seen = np.ones((4, 4), bool)
    seen[2, 1] = False
    d = q_dyn(q, seen=seen)
    np.testing.assert_array_equal(forgetting(d), [2, 0, 0, 1])
    np.testing.assert_array_equal(forgetting(d, never_learned="max"), [2, 4, 0, 1])
    with pytest.raises(EvalibError):
        forgetting(d, never_learned="inf")


def test_forgetting_never_seen_is_nan():
    d = q_dyn([[0.9, 0.1], [0.9, 0.9]], seen=[[False, False], [True, True]])
    f = forgetting(d)
    assert np.isnan(f[0]) and f[1] == 0


def test_entropy_by_hand():
    # [0.5, .25, .25]: -(0.5 ln 0.5 + 2 * 0.25 ln 0.25) = 0.5 ln 2 + 0.5 ln 4 = 1.039721
    # [1, 0, 0]: 0 ;  [1/3] * 3: ln 3 = 1.098612
    ev = np.log(np.array([[[0.5, 0.25, 0.25], [1.0, 1e-30, 1e-30], [1 / 3, 1 / 3, 1 / 3]]]))
    train = np.log(np.full((2, 3, 3), 1 / 3))
    d = from_arrays(train, [0, 1, 2], eval_log_probs=ev, eval_epochs=[1])
    np.testing.assert_allclose(entropy(d), [1.039721, 0.0, 1.098612], atol=TOL)
    # explicit fallback to the last training epoch: uniform -> ln 3 each
    np.testing.assert_allclose(entropy(d, source="train_last"), [1.098612] * 3, atol=TOL)
    with pytest.raises(EvalibError):
        entropy(from_arrays(train, [0, 1, 2]))  # no eval pass and no explicit fallback


def test_entropy_eval_pass_is_the_last_one():
    ev = np.log(np.array([[[1 / 3] * 3], [[0.5, 0.25, 0.25]]]))
    d = from_arrays(np.log(np.full((1, 1, 3), 1 / 3)), [0], eval_log_probs=ev, eval_epochs=[9, 3])
    # the pass after epoch 9 (index 0, uniform) is the final one: ln 3
    np.testing.assert_allclose(entropy(d), [1.098612], atol=TOL)


def test_el2n_by_hand():
    # S = sqrt(2) * (1 - q); q rows: s0 [0.5, 0.75, 1], s1 [1, 1, 0.5]
    # CCS, end=2: sum S over epochs 0, 1: s0 0.7071 + 0.3536 = 1.0607 ; s1 0 + 0 = 0
    d = q_dyn([[0.5, 0.75, 1], [1, 1, 0.5]])
    np.testing.assert_allclose(el2n(d, end=2), [1.060660, 0.0], atol=TOL)
    # Paul, epoch 2, two runs: run1 S = [0, 0.7071], run2 (q = 0.75 for both) S = 0.3536
    #   mean over runs = [0.1768, 0.5303]
    d2 = q_dyn([[0.5, 0.5, 0.75], [0.5, 0.5, 0.75]])
    np.testing.assert_allclose(
        el2n([d, d2], variant="paul", epoch=2), [0.176777, 0.530330], atol=TOL
    )
    with pytest.raises(EvalibError):
        el2n([d, q_dyn([[0.5, 0.5, 0.5]])], variant="paul", epoch=1)  # different samples
    with pytest.raises(EvalibError):
        el2n([d, d2], variant="ccs")
    with pytest.raises(EvalibError):
        el2n(d, variant="paul", epoch=3)  # beyond T


def test_el2n_masked_sum_counts_missing_as_mean():
    # s0 seen at epoch 0 only, S = 0.7071: mask -> 2 * 0.7071 ; zero -> 0.7071 + 0
    d = q_dyn([[0.5, 0.9]], seen=[[True, False]])
    np.testing.assert_allclose(el2n(d, end=2), [1.414214], atol=TOL)
    np.testing.assert_allclose(el2n(d, end=2, missing="zero"), [0.707107], atol=TOL)


def test_aum_by_hand_equals_logit_margin():
    # logits z -> log-softmax differs by a constant, margins are z_y - max_{c != y} z_c
    # s0 (y=0): z = [2, 0, -1] then [1, 3, 0]: margins 2, -2 -> mean 0
    # s1 (y=2): z = [0, 0, 1] then [0, 0, 4]: margins 1, 4 -> mean 2.5
    z = np.array([[[2, 0, -1], [0, 0, 1]], [[1, 3, 0], [0, 0, 4]]], np.float64)  # [T, N, C]
    lp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    d = from_arrays(lp, [0, 2])
    np.testing.assert_allclose(aum(d), [0.0, 2.5], atol=5e-3)
    np.testing.assert_allclose(aum(d, window=(1, 2)), [-2.0, 4.0], atol=5e-3)  # epoch 1 only
    # prob margin summed (CCS): s0 softmax([2,0,-1]) = [.8438, .1142, .0420] -> .7296 ;
    #   softmax([1,3,0]) = [.1142, .8438, .0420] -> -.7296 ; sum 0
    # s1: softmax([0,0,1]) = [.2119, .2119, .5761] -> .3643 ; softmax([0,0,4]) =
    #   [.0177, .0177, .9647] -> .9470 ; sum 1.3113
    np.testing.assert_allclose(aum(d, margin="prob"), [0.0, 1.3113], atol=TOL)
    np.testing.assert_allclose(compute_scores("ccs", d), aum(d, margin="prob"))


def test_cartography_and_dad_by_hand():
    # p_y = q = [1, 0.75, 0.25, 0]: confidence = 0.5, deviations .5, .25, -.25, -.5
    # variability = sqrt((.25 + .0625 + .0625 + .25) / 4) = sqrt(0.15625) = 0.395285
    # correctness: q > 0.5 at epochs 0, 1 -> 0.5
    # DAD ignores the zero entry: mean(1, .75, .25) = 0.666667
    d = q_dyn([[1, 0.75, 0.25, 0]])
    c = cartography(d)
    np.testing.assert_allclose(c.confidence, [0.5], atol=TOL)
    np.testing.assert_allclose(c.variability, [0.395285], atol=TOL)
    np.testing.assert_allclose(c.correctness, [0.5], atol=TOL)
    np.testing.assert_allclose(dad(d, keep="easy"), [0.666667], atol=TOL)
    np.testing.assert_allclose(dad(d, keep="hard", window=(1, 3)), [0.5], atol=TOL)
    np.testing.assert_allclose(
        compute_scores("cartography_variability", d), c.variability, atol=1e-12
    )


def test_dad_modes_select_both_ends_and_middle():
    # DAD = q here (constant q); ranking ascending: s3 (.2), s1 (.4), s0 (.5), s4 (.7), s2 (.9)
    q = np.array([0.5, 0.4, 0.9, 0.2, 0.7])[:, None].repeat(3, axis=1)
    d = q_dyn(q)
    raw = dad(d, keep="hard")
    np.testing.assert_allclose(raw, [0.5, 0.4, 0.9, 0.2, 0.7], atol=TOL)
    # centrality: ranks 0..4, centre 2 -> -|rank - 2|: s3 -2, s1 -1, s0 0, s4 -1, s2 -2
    np.testing.assert_allclose(dad(d), [0, -1, -2, -2, -1])
    assert direction("dad", keep="hard") == "lowest"
    assert direction("dad", keep="easy") == "highest"
    assert direction("dad") == "highest"


def test_centrality_keeps_nan_and_breaks_ties_by_index():
    c = centrality(np.array([3.0, np.nan, 1.0, 2.0]))
    # finite ascending: idx2 (1.0) r0, idx3 (2.0) r1, idx0 (3.0) r2; centre 1
    np.testing.assert_array_equal(c[[0, 2, 3]], [-1, -1, 0])
    assert np.isnan(c[1])


def test_tdds_by_hand():
    # A = [.5, .25, .25], B = [.25, .5, .25]; label 0
    # d(A->B) = |.25 ln(.25/.5)| + |.5 ln(.5/.25)| + 0 = .75 ln 2 = 0.519860 ; d(B->A) same
    # s0 A,A,B,B: d = [0, .51986, 0]; s1 A,B,A,B: d = [.51986] * 3; s2 A,A,A,A: d = 0
    # L = 4, K = 3: windows k=0 (d0, d1), k=1 (d1, d2); u = ||d - mean|| over the window
    #   s0: both windows [0, .51986] -> u = sqrt(2) * .25993 = 0.367597 ; s1, s2: u = 0
    # weights decay * (1 - decay)^(L - K - k), decay .5: k=0 -> .25, k=1 -> .5
    #   s0 = .75 * 0.367597 = 0.275698
    a, b = [0.5, 0.25, 0.25], [0.25, 0.5, 0.25]
    d = p_dyn([[a, a, b, b], [a, b, a, b], [a, a, a, a]], labels=[0, 0, 0])
    s = tdds(d, length=4, window=3, decay=0.5)
    np.testing.assert_allclose(s, [0.275698, 0.0, 0.0], atol=TOL)
    with pytest.raises(EvalibError):
        tdds(d, length=4, window=5)
    with pytest.raises(EvalibError):
        tdds(d, length=30)  # beyond T
    with pytest.raises(EvalibError):
        tdds(d, length=4, window=3, decay=1.0)


def test_random_scores_seeded():
    d = q_dyn(np.full((6, 2), 0.5))
    np.testing.assert_array_equal(random_scores(d, seed=3), np.random.default_rng(3).random(6))
    assert not np.array_equal(random_scores(d, seed=3), random_scores(d, seed=4))


# ----------------------------------------------------------------------------- registry


def test_registry_names_and_directions():
    required = {
        "random", "forgetting", "entropy", "el2n", "aum", "ccs", "eva", "eva_official",
        "eva_paper", "exp_s", "var_s", "exp_d", "var_d", "cartography_confidence",
        "cartography_variability", "tdds", "dad",
    }  # fmt: skip
    assert required <= set(METHODS)
    assert direction("aum") == "lowest" and direction("eva") == "highest"
    assert direction("forgetting") == "highest" and direction("entropy") == "highest"


def test_compute_scores_all_methods_shape():
    rng = np.random.default_rng(0)
    t, n = 120, 7
    z = rng.normal(size=(t, n, 3)) * 2
    lp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    d = from_arrays(lp, rng.integers(0, 3, n), eval_log_probs=lp[-1:], eval_epochs=[t - 1])
    for name in METHODS:
        s = compute_scores(name, d)
        assert s.shape == (n,) and s.dtype == np.float64, name
        assert np.isfinite(s).all(), name
    np.testing.assert_array_equal(
        compute_scores("eva", d, variant="official"), compute_scores("eva_official", d)
    )


def test_compute_scores_errors():
    d = q_dyn(np.full((3, 4), 0.5))
    with pytest.raises(EvalibError, match="unknown method"):
        compute_scores("nope", d)
    with pytest.raises(EvalibError, match="no parameter"):
        compute_scores("forgetting", d, window=(0, 2))
    with pytest.raises(EvalibError, match="no parameter"):
        compute_scores("eva_paper", d, variant="official")
    with pytest.raises(EvalibError):
        compute_scores("cartography_confidence", d, measure="variability")  # pinned
