"""Views of the studies for the pages: the jobs behind a page, its table of labelled rows,
coreset overlaps, the chosen windows, your own coreset, the claims' rows and the compute
table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from evalib.runs.batch import collect
from evalib.runs.cache import Cache, load_selection, save_selection
from evalib.runs.config import Job, Profile, SelectionSpec
from evalib.runs.costs import estimate_seconds
from evalib.runs.runner import surrogate_record
from evalib.studies.grids.coresets import (
    BUDGETS,
    Planned,
    ablation,
    cross,
    labelled_results,
    table1,
    tuned_arms,
    tuned_params,
    window_label,
)
from evalib.studies.grids.studies import CORESET_STUDIES, study
from evalib.studies.labels import STUDIES as STUDY_NAMES

# ----------------------------------------------------------------------------- pages


def jobs(planned: Sequence[Planned]) -> list[Job]:
    """The jobs of ``planned``, each once, in order."""
    return list(dict.fromkeys(p.job for p in planned))


def _references(profile: Profile, dataset: str, seeds: Sequence[int] | None,
                rates: Sequence[float], arms: Sequence[str]) -> list[Planned]:  # fmt: skip
    """Table 1's runs of ``arms`` (e.g. Random, the full set) at ``rates`` on ``seeds``."""
    return [p for p in table1(profile, dataset, None, seeds, rates) if p.arm in arms]


def ablation_page(profile: Profile, dataset: str, cache: Cache,
                  seeds: Sequence[int] | None = None) -> list[Planned]:  # fmt: skip
    """The variance ablation and dual-window pages: the four tuned arms (:func:`ablation`),
    with Random at the same rates and budgets and the full set (Table 1's runs) as
    references. Empty arms until the tuning stage is done."""
    refs = _references(profile, dataset, seeds, profile.tune_rates, ("random", "full"))
    return ablation(profile, dataset, cache, seeds) + refs


def cross_page(profile: Profile, dataset: str, cache: Cache,
               rates: Sequence[float] = (0.05, 0.30)) -> list[Planned]:  # fmt: skip
    """The cross-architecture page: :func:`cross`, and the same arms on the surrogate's own
    network (Table 1's runs on the cross seeds) with its full-set runs."""
    if tuned_params(profile, dataset, cache) is None:
        return []
    own = [p for p in table1(profile, dataset, cache, profile.cross_seeds, rates)
           if p.arm in ("random", "eva_tuned", "full") and p.budget == "epochs"]  # fmt: skip
    return own + cross(profile, dataset, cache, rates)


def _windows_text(job: Job) -> str:
    params = job.selection.param_dict() if job.selection is not None else {}
    return window_label(params) if "window" in params or {"early", "late"} <= params.keys() else ""


def page_table(planned: Sequence[Planned], cache: Cache) -> tuple[pd.DataFrame, int]:
    """:func:`labelled_results` for a page: ``method`` is the arm (so tuned and published
    EVA, or VAR-D and EVA, stay apart), ``windows`` the window text ("" without windows),
    and how many planned jobs are missing."""
    table, missing = labelled_results(planned, cache)
    if table.empty:
        return table, missing
    windows = {p.job.key(): _windows_text(p.job) for p in planned}
    table = table.assign(method=table["arm"], windows=table["key"].map(windows))
    return table, missing


def coreset_jaccard(table: pd.DataFrame, cache: Cache, a: str, b: str,
                    by: Sequence[str] = ("budget", "rate", "seed")) -> pd.DataFrame:  # fmt: skip
    """Jaccard index of the coresets that arms ``a`` and ``b`` trained on, per ``by`` cell
    of a :func:`page_table` (read from the stored selections; columns ``*by, jaccard``)."""
    ids: dict[str, Any] = {}

    def chosen(dataset: str, digest: str):
        if digest not in ids:
            ids[digest] = set(load_selection(cache, dataset, digest).tolist())
        return ids[digest]

    rows = []
    cells = table[table["method"].isin((a, b))].groupby(list(by), sort=True)
    for key, cell in cells:
        digests = cell.drop_duplicates("method").set_index("method")
        if not {a, b} <= set(digests.index):
            continue
        sa = chosen(str(digests.at[a, "dataset"]), str(digests.at[a, "indices_sha256"]))
        sb = chosen(str(digests.at[b, "dataset"]), str(digests.at[b, "indices_sha256"]))
        keys = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(by, keys, strict=True)),
                     "jaccard": len(sa & sb) / max(1, len(sa | sb))})  # fmt: skip
    return pd.DataFrame(rows, columns=[*by, "jaccard"])


def chosen_windows(profile: Profile, dataset: str, cache: Cache) -> pd.DataFrame:
    """Per tuned arm and tuning rate, the windows chosen on validation (empty until the
    tuning stage is done)."""
    tuned = tuned_params(profile, dataset, cache)
    if tuned is None:
        return pd.DataFrame(columns=["arm", "rate", "windows"])
    rows = [{"arm": "var_d" if arm == "eva" else arm, "rate": rate,
             "windows": window_label(tuned[(arm, float(rate))])}
            for rate in profile.tune_rates for arm in tuned_arms(profile)]  # fmt: skip
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- your own coreset


def given_coreset(profile: Profile, dataset: str, cache: Cache, chosen_ids,
                  seeds: Sequence[int] | None = None) -> list[Planned]:  # fmt: skip
    """A user's coreset (sample ids into the training split) under the profile's protocol:
    arm "yours" on every seed, beside Random of the same size drawn per seed, both budgets
    where the profile has a floor. The selection is stored in ``cache`` by its digest;
    committed Random and EVA rows at a profile rate of the same size are found by
    :func:`same_size_rows`."""
    from evalib.data import dataset_info

    n_total = dataset_info(dataset).n_samples[0]
    data = profile.data_spec(dataset)
    digest = save_selection(cache, dataset, chosen_ids, n_total)
    size = len(load_selection(cache, dataset, digest))
    rate = size / min(n_total, data.train_subset or n_total)
    floor = profile.min_steps > 0
    out = []
    for seed in profile.seeds if seeds is None else seeds:
        for budget in BUDGETS if floor else ("epochs",):
            steps = profile.min_steps if budget == "floor" else 0
            yours = SelectionSpec.make("given", rate, digest=digest, rounding="floor")
            rnd = SelectionSpec.make("random", rate, rounding="floor")
            for arm, sel in (("yours", yours), ("random", rnd)):
                job = Job(data, sel, None, profile.model, profile.recipe, seed, min_steps=steps)
                out.append(Planned(arm, budget, job))
    return out


def same_size_rows(profile: Profile, dataset: str, cache: Cache, size: int) -> pd.DataFrame:
    """Committed Table 1 rows (every arm, both budgets) at the profile rate whose coreset has
    ``size`` samples; empty when no profile rate gives that size."""
    from evalib.data import dataset_info
    from evalib.ranking import budget

    n_total = dataset_info(dataset).n_samples[0]
    rates = [r for r in profile.rates if budget(n_total, r) == size]
    if not rates:
        return pd.DataFrame()
    planned = [p for p in table1(profile, dataset, cache) if p.job.rate in rates]
    return labelled_results(planned, cache)[0]


# ----------------------------------------------------------------------------- reading


def claim_results(profile: Profile, dataset: str, cache: Cache) -> tuple[pd.DataFrame, int]:
    """Labelled results of every study the claims read (Table 1, the ablation, the
    cross-architecture runs and the class-balance arms, without their tuning jobs) for
    ``dataset``, and how many of their jobs are missing."""
    planned = [p for name in ("table1", "ablation", "cross", "balance")
               for p in study(name, profile, dataset, cache)
               if not p.arm.startswith("tune:")]  # fmt: skip
    return labelled_results(planned, cache)


def surrogate_seeds(profile: Profile) -> tuple[int, ...]:
    """Seeds whose surrogate the profile trains: the tuning seed, then the reported ones."""
    return tuple(dict.fromkeys((profile.tuning_seed, *profile.seeds)))


def compute_table(profile: Profile, datasets: Sequence[str], cache: Cache) -> pd.DataFrame:
    """CPU-hours spent per dataset and study, as recorded in each result (a job shared by
    two studies counts in the first), the surrogates first; jobs missing and an estimate
    of the hours they need (:func:`evalib.runs.costs.estimate_seconds`)."""
    rows, seen = [], set()
    for dataset in datasets:
        done_s = [surrogate_record(profile.surrogate_config(dataset, s), cache)
                  for s in surrogate_seeds(profile)]  # fmt: skip
        secs = [r["seconds"] for r in done_s if r is not None]
        rows.append({"dataset": dataset, "study": "surrogates", "runs done": len(secs),
                     "runs missing": len(done_s) - len(secs), "CPU-hours": sum(secs) / 3600})  # fmt: skip
        studies = [
            (name, [p.job for p in study(name, profile, dataset, cache)])
            for name in CORESET_STUDIES
        ]
        every = [j for _, jobs in studies for j in jobs]
        timed = collect(every, cache)[0]
        for name, jobs in studies:
            jobs = [j for j in dict.fromkeys(jobs) if j not in seen]
            seen.update(jobs)
            done, missing = collect(jobs, cache)
            hours = float(done["seconds"].sum()) / 3600 if len(done) else 0.0
            rows.append({"dataset": dataset, "study": name, "runs done": len(done),
                         "runs missing": len(missing), "CPU-hours": hours,
                         "CPU-hours to go (est.)": estimate_seconds(timed, missing) / 3600})  # fmt: skip
    return pd.DataFrame(rows)


def cost_line(jobs: pd.DataFrame, profile: Profile, dataset: str, cache: Cache) -> str:
    """What a page's jobs (its result rows, one per ``key``, with ``seconds``) cost, and
    how the claims page's compute table (:func:`compute_table`, which counts a job shared
    by two studies once, under the first) books them: ``"63 jobs; 42.5 CPU-minutes in
    total when computed (in the compute table: 36 under variance ablation, 27 under
    Table 1)"``."""
    head = (
        f"{len(jobs):,} jobs; {jobs['seconds'].sum() / 60:.1f} CPU-minutes in total when computed"
    )
    first: dict[str, str] = {}
    for name in CORESET_STUDIES:
        for p in study(name, profile, dataset, cache):
            first.setdefault(p.job.key(), name)
    booked = jobs["key"].map(first).value_counts(sort=False)
    if len(booked) <= 1:
        return head
    parts = [f"{n:,} under {STUDY_NAMES.get(name, name)}" for name, n in booked.items()]
    return f"{head} (in the compute table: {', '.join(parts)})"
