"""Every study's job list: the one place that notebooks, ``reproduce``, ``evalib grid``
and the claims page read.

The coreset studies and the two-stage fair test live in :mod:`.coresets`, the views the
pages take of them in :mod:`.pages`, the related systems' studies in :mod:`.related`;
:func:`study` names them all.
"""

from __future__ import annotations

from evalib.studies.grids.balance import (
    BALANCE_ARMS,
    balance,
    balance_tuned_params,
    balance_tuning,
)
from evalib.studies.grids.coresets import (
    BUDGETS,
    FIXED_METHODS,
    TUNED_ARMS,
    Planned,
    Window,
    _params,
    ablation,
    choose_windows,
    cross,
    dual,
    full_jobs,
    grid_pairs,
    labelled_results,
    table1,
    tuned_arms,
    tuned_params,
    tuning,
    tuning_table,
    window_label,
)
from evalib.studies.grids.pages import (
    ablation_page,
    chosen_windows,
    claim_results,
    compute_table,
    coreset_jaccard,
    cost_line,
    cross_page,
    given_coreset,
    jobs,
    page_table,
    same_size_rows,
    surrogate_seeds,
)
from evalib.studies.grids.related import (
    dad_classification,
    distill,
    distill_sets,
    pie_profile,
    pie_prune,
    pie_prune_rows,
    pie_trainings,
    seg_scoring,
    segmentation,
)
from evalib.studies.grids.studies import CORESET_STUDIES, STUDIES, study

__all__ = [
    "BALANCE_ARMS",
    "balance",
    "balance_tuned_params",
    "balance_tuning",
    "CORESET_STUDIES",
    "BUDGETS",
    "FIXED_METHODS",
    "Planned",
    "STUDIES",
    "TUNED_ARMS",
    "tuned_arms",
    "Window",
    "_params",
    "ablation",
    "ablation_page",
    "choose_windows",
    "chosen_windows",
    "claim_results",
    "compute_table",
    "cost_line",
    "coreset_jaccard",
    "cross",
    "cross_page",
    "dad_classification",
    "distill",
    "distill_sets",
    "dual",
    "full_jobs",
    "given_coreset",
    "grid_pairs",
    "jobs",
    "labelled_results",
    "page_table",
    "pie_profile",
    "pie_prune",
    "pie_prune_rows",
    "pie_trainings",
    "same_size_rows",
    "seg_scoring",
    "segmentation",
    "study",
    "surrogate_seeds",
    "table1",
    "tuned_params",
    "tuning",
    "tuning_table",
    "window_label",
]
