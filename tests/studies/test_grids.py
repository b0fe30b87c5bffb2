"""Study builders: the tuning grid, the validation-only choice, and the tuned arms."""

from __future__ import annotations

import pandas as pd
import pytest

from evalib.errors import EvalibError
from evalib.runs.cache import Cache, atomic_write_json, load_selection, load_weights, save_selection
from evalib.runs.config import Job, get_profile
from evalib.studies import grids

CPU = get_profile("cpu")
SMOKE = get_profile("smoke")


@pytest.fixture
def cache(tmp_path):
    return Cache.at(tmp_path / "results", tmp_path / "scratch")


def _fake_result(cache, job, val, test):
    atomic_write_json(
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
    with pytest.raises(EvalibError, match="unknown study 'tables'"):
        grids.study("tables", SMOKE, "organamnist", cache)


def test_page_views_label_arms_windows_and_chosen_windows(cache):
    p = SMOKE
    assert grids.cross_page(p, "organamnist", cache) == []  # nothing before tuning
    assert list(grids.chosen_windows(p, "organamnist", cache).columns) == ["arm", "rate", "windows"]
    planned = grids.tuning(p, "organamnist")
    for x in planned:
        _fake_result(cache, x.job, 0.5, 0.5)
    chosen = grids.chosen_windows(p, "organamnist", cache)
    assert set(chosen["arm"]) == {"exp_s", "var_s", "exp_d", "var_d"}
    first = grids.window_label(grids._params("eva", grids.grid_pairs(p.grid_windows())[0]))
    assert chosen.set_index("arm").at["var_d", "windows"] == first  # ties: the first pair
    page = grids.ablation_page(p, "organamnist", cache)
    assert {x.arm for x in page} == {"exp_s", "var_s", "exp_d", "var_d", "random", "full"}
    assert {x.job.rate for x in page if x.arm == "random"} == set(p.tune_rates)
    for x in page:
        _fake_result(cache, x.job, 0.6, 0.6)
    table, missing = grids.page_table(page, cache)
    assert missing == 0 and len(table) == len(page)
    assert set(table["method"]) == {x.arm for x in page}  # the arm, not the score method
    assert (table.loc[table["method"] == "var_d", "windows"] == first).all()
    assert (table.loc[table["method"] == "random", "windows"] == "").all()
    cross = grids.cross_page(p, "organamnist", cache)
    assert {x.job.model for x in cross} == {p.model, *p.cross_models}


def test_coreset_jaccard_reads_the_stored_selections(cache):
    d1 = save_selection(cache, "organamnist", [0, 1, 2, 3], 10)
    d2 = save_selection(cache, "organamnist", [2, 3, 4, 5], 10)
    table = pd.DataFrame({
        "method": ["a", "b", "a", "b", "a"], "dataset": "organamnist", "budget": "epochs",
        "rate": [0.4, 0.4, 0.4, 0.4, 0.2], "seed": [0, 0, 1, 1, 0],
        "indices_sha256": [d1, d2, d1, d1, d1],
    })  # fmt: skip
    out = grids.coreset_jaccard(table, cache, "a", "b")
    assert out.to_dict("records") == [
        {"budget": "epochs", "rate": 0.4, "seed": 0, "jaccard": 2 / 6},
        {"budget": "epochs", "rate": 0.4, "seed": 1, "jaccard": 1.0},
    ]  # the 20 % cell has no "b": left out


# ----------------------------------------------------------------------------- PIE


def _fake_prune_rows(cache, profile, dataset, n=50):
    """Prune rows with hand-made predictions over ``n`` training samples."""
    import numpy as np

    rng = np.random.default_rng(0)
    for task in grids.pie_prune(profile, dataset):
        s = len(task.sparsities)
        atomic_write_json(cache.job_path(task), {
            "key": task.key(), "kind": task.kind, "seed": task.seed,
            "sparsities": list(task.sparsities), "sample_ids": list(range(0, 2 * n, 2)),
            "dense_train": rng.integers(0, 3, n).tolist(), "dense_test": [0, 1],
            "pruned_train": rng.integers(0, 3, (s, n)).tolist(), "pruned_test": [[0, 1]] * s,
        })  # fmt: skip


@pytest.mark.parametrize(("profile", "prune", "coreset", "emphasis"),
                         [(SMOKE, 2, 6, 4), (CPU, 3, 18, 6)])  # fmt: skip
def test_pie_builders_declare_prune_tasks_then_plain_jobs(cache, profile, prune, coreset,
                                                          emphasis):  # fmt: skip
    tasks = grids.pie_prune(profile, "bloodmnist")
    assert len(tasks) == prune == profile.pie.dense_models
    assert {t.kind for t in tasks} == {"pie:prune"} and [t.seed for t in tasks] == list(
        range(prune)
    )
    assert all(t.sparsities == profile.pie.sparsities for t in tasks)
    assert grids.pie_trainings(profile, "bloodmnist", cache) == []  # no prune rows yet
    _fake_prune_rows(cache, profile, "bloodmnist")
    planned = grids.pie_trainings(profile, "bloodmnist", cache)
    arms = pd.Series([p.arm for p in planned])
    assert arms.str.startswith("coreset:").sum() == coreset
    assert arms.str.startswith("emphasis:").sum() == emphasis
    assert len(grids.jobs(planned)) == coreset + emphasis
    assert all(isinstance(p.job, Job) for p in planned)
    # Random and EVA are Table 1's very jobs; HTL is a stored "given" coreset
    table1 = {p.job for p in grids.table1(profile, "bloodmnist") if p.budget == "epochs"}
    assert {p.job for p in planned if p.arm in ("coreset:random", "coreset:eva")} <= table1
    htl = [p.job for p in planned if p.arm == "coreset:pie"]
    assert {j.selection.method for j in htl} == {"given"} and {j.surrogate for j in htl} == {None}
    for job in htl:
        ids = load_selection(cache, "bloodmnist", job.selection.param_dict()["digest"])
        assert set(ids.tolist()) <= set(range(0, 100, 2))
    weighted = [p.job for p in planned if p.arm.startswith("emphasis:weighted")]
    assert weighted and all(j.selection is None and j.weights for j in weighted)
    w = load_weights(cache, "bloodmnist", weighted[0].weights)
    assert w.shape == (50,) and w.min() >= 1.0
    uniform = [p.job for p in planned if p.arm == "emphasis:uniform"]
    assert uniform == [t.dense_job() for t in tasks]


def test_pie_profile_overrides_only_what_is_given():
    p = grids.pie_profile(SMOKE, sparsities=[0.5], lams=None, coreset_rates=[0.1])
    assert p.pie.sparsities == (0.5,) and p.pie.coreset_rates == (0.1,)
    assert p.pie.lams == SMOKE.pie.lams and grids.pie_profile(SMOKE) is SMOKE


def test_distillation_tasks_come_from_the_profile_settings():
    from collections import Counter

    from evalib.studies.distill import Evaluation, SyntheticSet

    todo = grids.distill(SMOKE)
    assert len(todo) == len(set(todo)) == 36  # 4 datasets x 2 IPCs: 8 sets, 24 evaluations, 4 full
    kinds = Counter(type(t).__name__ for t in todo)
    assert kinds == {"SyntheticSet": 8, "Evaluation": 28}
    assert todo[:8] == grids.distill_sets(SMOKE)
    cfg = SMOKE.distill
    syn = todo[0]
    assert isinstance(syn, SyntheticSet)
    assert (syn.iterations, syn.batch_real, syn.width) == (
        cfg.iterations,
        cfg.batch_real,
        cfg.width,
    )
    assert syn.data == SMOKE.data_spec(cfg.datasets[0])
    evals = [t for t in todo if isinstance(t, Evaluation)]
    assert Counter(t.method for t in evals) == {"distilled": 8, "random": 8, "eva": 8, "full": 4}
    assert {t.steps for t in evals if t.method == "full"} == {cfg.full_steps}
    assert {t.windows for t in evals if t.method == "eva"} == {
        (SMOKE.eva_windows()["early"], SMOKE.eva_windows()["late"])
    }
    assert len(grids.distill(CPU)) == 92  # 12 sets, 72 evaluations, 8 full (not run here)
    one = grids.distill(SMOKE, ["bloodmnist"], [5])
    assert [t.dataset for t in one] == ["bloodmnist"] * 5 and one[0].ipc == 5


def test_every_study_is_declared_through_grids_study(tmp_path):
    """`evalib grid --what <study>` reads grids.study: the related systems' tasks are
    there too, PIE's trainings only once its pruned networks are in the cache."""
    from evalib.runs.tasks import Task

    smoke = get_profile("smoke")
    cache = Cache.at(tmp_path / "results", tmp_path / "scratch")
    assert set(grids.STUDIES) >= {"pie", "distill", "segmentation"}
    pie = grids.study("pie", smoke, "bloodmnist", cache)
    assert [p.arm for p in pie] == ["pie:prune"] * smoke.pie.dense_models  # trainings wait
    distill = grids.study("distill", smoke, "bloodmnist", cache)
    assert {p.job.dataset for p in distill} == {"bloodmnist"}
    assert all(isinstance(p.job, Task) for p in distill)
    seg = grids.study("segmentation", smoke, "organamnist", cache)
    kinds = [p.arm for p in seg]
    assert kinds[0] == "segmentation:scoring" and "segmentation:retrain" in kinds
    assert {"dad", "el2n", "random"} <= set(kinds)
    with pytest.raises(EvalibError, match="unknown study"):
        grids.study("pies", smoke, "bloodmnist", cache)


def test_the_grid_command_offers_every_study():
    from evalib import cli

    assert cli.STUDIES == grids.STUDIES
