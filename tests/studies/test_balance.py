"""The class-balance study (evalib.studies.grids.balance), its claims 1cb and 1f, and
identical coresets in the claims' comparisons."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from evalib.errors import EvalibError
from evalib.runs.cache import Cache, atomic_write_json
from evalib.runs.config import get_profile
from evalib.studies import claims, grids
from evalib.studies.stats import CONTRADICTED, HOLDS, INCONCLUSIVE

CPU = get_profile("cpu")
SMOKE = get_profile("smoke")
CONVNET = ("convnet", 0.25)
RESULTS = Path(__file__).resolve().parents[2] / "results"


@pytest.fixture
def cache(tmp_path):
    return Cache.at(tmp_path / "results", tmp_path / "scratch")


def _done(cache, planned, best=None):
    for i, p in enumerate(planned):
        val = 0.9 if p.job == best else 0.5 + 0.001 * i
        atomic_write_json(cache.job_path(p.job), {
            "key": p.job.key(), "final_val_acc": val, "clean_test_acc": val,
            "paper_val_acc": val, "method": p.job.method, "rate": p.job.rate,
            "seed": p.job.seed})  # fmt: skip


def test_the_study_tunes_class_balanced_eva_on_its_own_grid(cache):
    tuning = grids.balance_tuning(CPU, "organamnist")
    n_pairs = len(grids.grid_pairs(CPU.grid_windows()))
    assert len(tuning) == len({p.job for p in tuning}) == n_pairs * len(CPU.tune_rates)
    for p in tuning:
        sel = p.job.selection
        assert p.arm == "tune:eva_cb" and p.job.seed == CPU.tuning_seed
        assert sel.method == "eva" and sel.class_balanced and sel.quota == "proportional"
    # before any tuning: the two Random arms only, both budgets, every reported seed
    planned = grids.balance(CPU, "organamnist", cache)
    arms = Counter(p.arm for p in planned if not p.arm.startswith("tune:"))
    per_arm = len(CPU.seeds) * len(CPU.tune_rates) * 2
    assert arms == {"random_strat": per_arm, "random_flag": per_arm}
    strat = next(p.job.selection for p in planned if p.arm == "random_strat")
    flag = next(p.job.selection for p in planned if p.arm == "random_flag")
    assert strat.class_balanced and strat.quota == "proportional"
    assert not flag.class_balanced and flag.quota == "last_class"  # same size, no strata


def test_tuned_arms_join_once_their_tuning_is_done(cache):
    p = SMOKE
    tuning = grids.balance_tuning(p, "organamnist")
    best = tuning[-1].job
    _done(cache, tuning, best)
    planned = grids.balance(p, "organamnist", cache)
    cb = [x for x in planned if x.arm == "eva_cb_tuned"]
    assert len(cb) == len(p.seeds) * len(p.tune_rates) * 2
    assert all(x.job.selection.param_dict() == best.selection.param_dict() for x in cb)
    assert all(x.job.selection.class_balanced and x.job.seed in p.seeds for x in cb)
    assert not [x for x in planned if x.arm == "eva_flag"]  # EVA's own tuning is not done
    _done(cache, grids.tuning(p, "organamnist"))
    eva = grids.tuned_params(p, "organamnist", cache)
    flags = [x for x in grids.balance(p, "organamnist", cache) if x.arm == "eva_flag"]
    assert flags and all(x.job.selection.quota == "last_class" for x in flags)
    assert all(x.job.selection.param_dict() == eva[("eva", x.job.rate)] for x in flags)


def test_without_its_own_tuning_class_balanced_eva_takes_evas_chosen_pair(cache):
    """``balance_own_tuning=False`` (cpu200): no grid of class-balanced EVA; the arm joins,
    with EVA's own validation-chosen pair, once EVA's tuning stage is done."""
    p = replace(SMOKE, balance_own_tuning=False)
    before = grids.balance(p, "organamnist", cache)
    assert not [x for x in before if x.arm.startswith("tune:")]
    assert {x.arm for x in before} == {"random_strat", "random_flag"}
    _done(cache, grids.tuning(p, "organamnist"), best=grids.tuning(p, "organamnist")[-1].job)
    eva = grids.tuned_params(p, "organamnist", cache)
    after = grids.balance(p, "organamnist", cache)
    cb = [x for x in after if x.arm == "eva_cb_tuned"]
    assert len(cb) == len(p.seeds) * len(p.tune_rates) * 2
    for x in cb:
        sel = x.job.selection
        assert sel.class_balanced and sel.quota == "proportional"
        windows = {k: v for k, v in x.job.selection.param_dict().items() if k in ("early", "late")}
        assert windows == eva[("eva", x.job.rate)]
    assert get_profile("cpu200").balance_own_tuning is False and CPU.balance_own_tuning
    # a profile may run the study on some datasets only: nothing is planned elsewhere
    only = replace(p, balance_datasets=("organamnist",))
    assert grids.balance(only, "organamnist", cache)
    assert not grids.balance(only, "bloodmnist", cache)
    # ... and some arms only
    two = replace(p, balance_arms=("eva_cb_tuned", "random_strat"))
    assert {x.arm for x in grids.balance(two, "organamnist", cache)} == set(two.balance_arms)


def test_cpu200_runs_class_balanced_eva_and_stratified_random_on_organamnist_only(cache):
    cpu200 = get_profile("cpu200")
    assert grids.balance(cpu200, "bloodmnist", cache) == []
    assert grids.balance_tuning(cpu200, "organamnist") == []  # no grid of its own
    assert not grids.runs_balance(cpu200, "bloodmnist") and grids.runs_balance(CPU, "bloodmnist")
    planned = grids.balance(cpu200, "organamnist", cache)  # EVA not tuned in this cache
    assert Counter(p.arm for p in planned) == {"random_strat": 6}  # 3 seeds, 2 rates, epochs
    assert {p.budget for p in planned} == {"epochs"}


def test_the_balance_study_only_adds_jobs_at_cpu():
    """Its jobs are new: none has the key of a job of the other coreset studies, whose
    committed results therefore stay as they are."""
    cache = Cache(RESULTS / "cpu", RESULTS / "cpu")
    for dataset in ("organamnist", "bloodmnist"):
        planned = grids.study("balance", CPU, dataset, cache)
        # its grid (28 pairs x 2 rates), then 3 arms x 12 (eva_cb_tuned joins after the grid)
        arms = 4 if grids.balance_tuned_params(CPU, dataset, cache) is not None else 3
        assert len(planned) == 56 + arms * 12
        others = {p.job.key() for study in ("tuning", "table1", "ablation", "dual", "cross")
                  for p in grids.study(study, CPU, dataset, cache)}  # fmt: skip
        assert others and not {p.job.key() for p in planned} & others
    assert "balance" in grids.CORESET_STUDIES


def test_claim_6_runs_on_three_seeds_at_cpu_and_only_adds_jobs():
    cache = Cache(RESULTS / "cpu", RESULTS / "cpu")
    assert CPU.cross_seeds == (0, 1, 2)
    planned = grids.cross(CPU, "organamnist", cache)
    assert len(planned) == 24  # 2 networks x 2 rates x 2 arms x 3 seeds
    # seeds 0 and 1 keep the keys of their committed runs: a third seed only adds jobs
    first = [p for p in planned if p.job.seed in (0, 1)]
    assert len(first) == 16 and all(cache.job_result(p.job) is not None for p in first)


def _rows(arm, rate, accs, digests=None, budget="epochs", size=None):
    digests = digests or [f"{arm}{rate}{s}" for s in range(len(accs))]
    return [{"arm": arm, "rate": rate, "seed": s, "budget": budget, "clean_test_acc": a,
             "paper_val_acc": a, "model": CONVNET[0], "width": CONVNET[1],
             "indices_sha256": d, "n_train": size}
            for s, (a, d) in enumerate(zip(accs, digests, strict=True))]  # fmt: skip


def _table():
    rows = []
    rows += _rows("random", 0.02, (0.80, 0.81, 0.82), size=692)
    rows += _rows("random_strat", 0.02, (0.80, 0.80, 0.80), size=692)
    rows += _rows("eva_cb_tuned", 0.02, (0.83, 0.84, 0.85), size=692)  # +3, +4, +5
    rows += _rows("random_flag", 0.02, (0.82, 0.82, 0.82), size=781)
    rows += _rows("eva_flag", 0.02, (0.70, 0.72, 0.71), size=781)  # −12, −10, −11
    # VAR-D and VAR-S pick the same coreset on two of three seeds
    rows += _rows("var_s", 0.02, (0.60, 0.61, 0.62), ["x", "y", "z"])
    rows += _rows("var_d", 0.02, (0.60, 0.61, 0.65), ["x", "y", "w"])
    rows += _rows("exp_s", 0.02, (0.50, 0.50, 0.50))
    rows += _rows("exp_d", 0.02, (0.50, 0.50, 0.50))
    rows += _rows("var_s", 0.05, (0.70, 0.70, 0.70), ["a", "b", "c"])
    rows += _rows("var_d", 0.05, (0.70, 0.70, 0.70), ["a", "b", "c"])
    return pd.DataFrame(rows)


def test_claims_1cb_and_1f_by_hand():
    out = claims.evaluate(_table(), "organamnist", [0.02], surrogate_model=CONVNET)
    cb = out[out["claim"] == "1cb"].iloc[0]
    assert cb["diff"] == pytest.approx(4.0) and cb["verdict"] == HOLDS
    assert pd.isna(cb["paper"])  # the paper reports no class-balanced arm
    flag = out[out["claim"] == "1f"].iloc[0]
    assert flag["diff"] == pytest.approx(-11.0) and flag["verdict"] == CONTRADICTED
    assert flag["paper"] == pytest.approx(1.20)  # the paper's own EVA − Random at 2 %
    assert cb["identical"] == 0 and flag["identical"] == 0


def test_identical_coresets_are_counted_and_said():
    out = claims.evaluate(_table(), "organamnist", [0.02, 0.05], surrogate_model=CONVNET)
    four = out[out["claim"] == "4"].set_index("rate")
    assert four.loc[0.02, "identical"] == 2 and four.loc[0.02, "n_seeds"] == 3
    assert four.loc[0.05, "identical"] == 3 and four.loc[0.05, "diff"] == 0.0
    assert four.loc[0.05, "verdict"] == INCONCLUSIVE
    table = claims.comparison_table(out[out["claim"] == "4"]).set_index("rate")
    assert table.loc["5 %", "ours"] == "0 by construction (identical coresets on all 3 seeds)"
    assert table.loc["2 %", "ours"].endswith("(identical coresets on 2 of 3 seeds)")
    why = claims.summary(out).set_index("claim").loc["4", "why"]
    assert "0 by construction (identical coresets on all 3 seeds)" in why
    assert "VAR-D − VAR-S at 2 % (identical coresets on 2 of 3 seeds)" in why
    # claim 3's arms never share a coreset here
    assert (out.loc[out["claim"] == "3", "identical"] == 0).all()


def test_rows_without_digests_count_no_identical_coresets():
    out = claims.evaluate(_table().drop(columns="indices_sha256"), "organamnist", [0.05],
                          surrogate_model=CONVNET)  # fmt: skip
    assert (out["identical"] == 0).all()
    assert "0 by construction" not in claims.comparison_table(out)["ours"].str.cat()


def test_a_profile_plans_only_its_coreset_studies(cache):
    """cpu200 runs tuning, Table 1, the variance ablation and (on OrganAMNIST) class
    balance; notebook 04's dual study and 06's cross study plan nothing there."""
    cpu200 = get_profile("cpu200")
    assert grids.study("dual", cpu200, "organamnist", cache) == []
    assert grids.study("dual", CPU, "organamnist", cache)  # cpu keeps every study
    assert len(grids.study("tuning", cpu200, "organamnist", cache)) == 420  # 190 x 2 + 20 x 2
    with pytest.raises(EvalibError, match="unknown study"):
        grids.study("tunning", cpu200, "organamnist", cache)


def test_cpu200_plans_no_full_data_runs(cache):
    """No claim that cpu200 tests reads the full set; cpu keeps its full-data row."""
    cpu200 = get_profile("cpu200")
    assert not [p for p in grids.table1(cpu200, "organamnist", cache) if p.arm == "full"]
    assert len([p for p in grids.table1(CPU, "organamnist", cache) if p.arm == "full"]) == 3
