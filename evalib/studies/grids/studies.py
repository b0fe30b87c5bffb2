"""The catalogue of studies: :data:`STUDIES` by name, :func:`study` for each."""

from __future__ import annotations

from evalib.errors import EvalibError
from evalib.runs.cache import Cache
from evalib.runs.config import Profile
from evalib.studies.grids.balance import balance
from evalib.studies.grids.coresets import Planned, ablation, cross, dual, table1, tuning
from evalib.studies.grids.related import (
    dad_classification,
    distill,
    pie_prune,
    pie_trainings,
    seg_scoring,
    segmentation,
)

#: The coreset studies (Table 1 and the ablations) on the profile's classifier.
CORESET_STUDIES = ("tuning", "table1", "ablation", "dual", "cross", "balance")
#: Every study ``evalib grid --what`` runs: the coreset studies and the related systems'.
STUDIES = (*CORESET_STUDIES, "pie", "distill", "segmentation")


def study(name: str, profile: Profile, dataset: str, cache: Cache) -> list[Planned]:
    """The planned jobs (and study tasks) of study ``name`` (one of :data:`STUDIES`);
    a study with stages returns what can be declared with the results in ``cache``. A
    coreset study outside the profile's ``studies`` plans nothing."""
    if name in CORESET_STUDIES and profile.studies is not None and name not in profile.studies:
        return []
    if name == "tuning":
        return tuning(profile, dataset)
    if name == "table1":
        return table1(profile, dataset, cache)
    if name == "ablation":
        return ablation(profile, dataset, cache)
    if name == "dual":
        return dual(profile, dataset)
    if name == "cross":
        return cross(profile, dataset, cache)
    if name == "balance":
        return balance(profile, dataset, cache)
    if name == "pie":  # the trainings join once the pruned networks' rows are in
        prune = [Planned(t.kind, "", t) for t in pie_prune(profile, dataset)]
        return prune + pie_trainings(profile, dataset, cache)
    if name == "distill":
        return [Planned(t.kind, "", t) for t in distill(profile, (dataset,))]
    if name == "segmentation":
        tasks = [seg_scoring(profile, dataset), *segmentation(profile, dataset)]
        return [Planned(t.kind, "", t) for t in tasks] + [
            Planned(j.method, "epochs", j) for j in dad_classification(profile, dataset)
        ]
    raise EvalibError(f"unknown study {name!r}; choose one of {', '.join(STUDIES)}")
