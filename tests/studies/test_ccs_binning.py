"""CCS's strata: the paper's bins over [min, max] (evalib's) against the CCS code's over
[min, 1.0001 max], and the numbers the method page quotes."""

from __future__ import annotations

import numpy as np

from evalib.scores import compute_scores
from evalib.select import ccs_sample
from evalib.studies.ccs_binning import CODE_UPPER, budgets, compare, strata


def test_the_code_rule_moves_edge_samples_down():
    s = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    assert strata(s, 2).tolist() == [0, 0, 1, 1, 1]  # the paper: 0.5 opens the upper stratum
    assert strata(s, 2, CODE_UPPER).tolist() == [0, 0, 0, 1, 1]  # the code: just below its edge
    negative = np.array([-1.0, -0.5, 0.0])  # max = 0: the code's top edge is max itself
    assert strata(negative, 2, CODE_UPPER).tolist() == [0, 1, -1]
    assert strata(np.ones(4), 3).tolist() == [0, 0, 0, 0]


def test_the_paper_rule_is_what_ccs_sample_does():
    """With one stratum per budget place, ccs_sample takes one sample from each non-empty
    stratum of the paper's rule: the strata of its picks are exactly those."""
    rng = np.random.default_rng(3)
    s = rng.normal(size=400)
    which = strata(s, 8)
    sizes = np.bincount(which, minlength=8)
    m = int(np.count_nonzero(sizes))
    picked = ccs_sample(s, m, beta=0.0, n_strata=8, seed=0)
    assert sorted(which[picked].tolist()) == sorted(np.flatnonzero(sizes).tolist())
    assert budgets(which, m, 8).tolist() == (sizes > 0).astype(int).tolist()


def test_compare_counts_moved_samples_and_budget():
    rng = np.random.default_rng(0)
    aum_like = rng.normal(2.0, 3.0, size=5000)
    table = compare(aum_like, [0.02, 0.3, 0.9])
    assert list(table.columns) == ["rate", "beta", "pool", "m", "moved_samples", "moved_budget"]
    assert (table["moved_samples"] > 0).all()  # some samples always sit near an edge
    assert (table["moved_samples"] < table["pool"] * 0.05).all()  # but few of them
    assert (table["moved_budget"] <= table["m"]).all()
    assert table["m"].tolist() == [100, 1500, 4500]


def test_the_method_page_quotes_the_committed_class_dynamics():
    from evalib.book import booktext
    from evalib.book.classroom import load_class_dynamics
    from evalib.runs.config import get_profile

    profile = booktext.book_profile()
    values = booktext.ccs_binning_values(booktext.ROOT, profile)
    dyn = load_class_dynamics(booktext.ROOT / "notebooks")
    table = compare(compute_scores("ccs", dyn), get_profile(profile).rates)
    low, high = int(table["moved_samples"].min()), int(table["moved_samples"].max())
    assert values["ccs_binning_moved"].startswith(f"{low}–{high} of the ")
    if table["moved_budget"].max() == 0:
        assert values["ccs_binning_budget"].startswith("the budget of every stratum stays")
    else:
        assert f"up to {int(table['moved_budget'].max())} of the" in values["ccs_binning_budget"]
    text = (booktext.ROOT / "book" / "method.md").read_text()
    for key in values:
        assert "{{ " + key + " }}" in text, key
