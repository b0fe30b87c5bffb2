"""Study builders: the tuning grid, the validation-only choice, and the tuned arms."""

from __future__ import annotations

import pandas as pd
import pytest

from evalib import experiments as ex
from evalib import grids

CPU = ex.get_profile("cpu")
SMOKE = ex.get_profile("smoke")


@pytest.fixture
def cache(tmp_path):
    return ex.Cache.at(tmp_path / "results", tmp_path / "scratch")


def _fake_result(cache, job, val, test):
    ex.atomic_write_json(
        cache.job_path(job),
        {"key": job.key(), "final_val_acc": val, "clean_test_acc": test, "paper_val_acc": val,
         "method": job.method, "rate": job.rate, "seed": job.seed},
    )  # fmt: skip


def test_tuning_covers_every_window_and_pair_on_the_tuning_seed_only():
    planned = grids.tuning(CPU, "organamnist")
    n_w = len(CPU.grid_windows())
    n_pairs = n_w * (n_w - 1) // 2
    per_rate = 2 * n_w + 2 * n_pairs  # EXP-S, VAR-S; EXP-D, EVA
    assert len(planned) == len({p.job for p in planned}) == per_rate * len(CPU.tune_rates)
    assert n_w >= 8 and n_pairs >= 28
    for p in planned:
        assert p.job.seed == CPU.tuning_seed and p.budget == "epochs"
        assert p.job.surrogate == CPU.surrogate_config("organamnist", CPU.tuning_seed)


def test_choice_uses_validation_never_test():
    table = pd.DataFrame(
        {
            "arm": ["eva", "eva", "eva"],
            "rate": [0.05] * 3,
            "params": [{"early": (0, 5), "late": (l0, l0 + 5)} for l0 in (5, 10, 15)],
            "final_val_acc": [0.70, 0.80, 0.75],
            "clean_test_acc": [0.90, 0.60, 0.95],  # test would pick another pair
        }
    )
    assert grids.choose_windows(table) == {("eva", 0.05): {"early": (0, 5), "late": (10, 15)}}


def test_tuned_arms_appear_only_after_tuning_and_never_on_the_tuning_seed(cache):
    p = SMOKE
    assert grids.ablation(p, "organamnist", cache) == []
    assert not [x for x in grids.table1(p, "organamnist", cache) if x.arm == "eva_tuned"]
    planned = grids.tuning(p, "organamnist")
    best = [x.job for x in planned if x.arm == "tune:eva"][-1]  # the best pair on validation
    for x in planned:
        _fake_result(cache, x.job, 0.9 if x.job == best else 0.5, 0.5)
    tuned = grids.tuned_params(p, "organamnist", cache)
    assert tuned[("eva", 0.05)] == best.selection.param_dict()
    assert tuned[("eva", 0.3)] == tuned[("eva", 0.05)]  # the nearest tuned rate
    arms = grids.ablation(p, "organamnist", cache)
    assert {x.arm for x in arms} == {"exp_s", "var_s", "exp_d", "var_d"}
    t1 = [x for x in grids.table1(p, "organamnist", cache) if x.arm == "eva_tuned"]
    assert len(t1) == len(p.seeds) * (len(p.rates) + len(p.floor_rates))
    for x in [*arms, *t1, *grids.cross(p, "organamnist", cache)]:
        assert x.job.seed != p.tuning_seed


def test_floor_budget_only_at_floor_rates():
    planned = grids.table1(CPU, "organamnist")
    floor = [p for p in planned if p.budget == "floor"]
    assert {p.job.rate for p in floor} == set(CPU.floor_rates)
    assert all(p.job.min_steps == CPU.min_steps for p in floor)
    assert all(p.job.min_steps == 0 for p in planned if p.budget == "epochs")
    published = {p.job.selection.param_dict()["late"] for p in planned if p.arm == "eva_published"}
    assert published == {CPU.eva_windows()["late"]}


def test_labelled_results_carry_arm_and_budget(cache):
    planned = grids.table1(SMOKE, "organamnist")[:3]
    _fake_result(cache, planned[1].job, 0.4, 0.3)
    table, missing = grids.labelled_results(planned, cache)
    assert missing == 2 and list(table["arm"]) == [planned[1].arm]
    assert list(table["budget"]) == [planned[1].budget]


def test_unknown_study_is_a_one_line_error(cache):
    with pytest.raises(ex.EvalibError, match="unknown study 'tables'"):
        grids.study("tables", SMOKE, "organamnist", cache)
