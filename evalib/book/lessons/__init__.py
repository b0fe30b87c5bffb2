"""Each results page's "What this shows", written from the page's own tables.

One pure function per results page (notebooks 01–10). Each takes the DataFrames its
notebook has already computed and returns Markdown; nothing here reads a file, trains a
model or knows a profile. Every sentence carries the number behind it: a seed-paired
difference A − B in accuracy points with its 95 % t-interval half-width and the number
of seeds (:func:`evalib.studies.stats.paired_differences`), and where a claim is judged, its
verdict word from :mod:`evalib.studies.stats` (*holds*, *contradicted*, *inconclusive*,
*not tested*). A missing table, arm or rate, or a single seed, gives a sentence that
says what is missing instead of an exception.

==========================  ==========================================================
page                        builder
==========================  ==========================================================
01 dynamics                 :func:`dynamics`
02 benchmark (Table 1)      :func:`benchmark`
03 variance ablation        :func:`ablation`
04 dual windows             :func:`dual_window`
05 window grid              :func:`window_grid`
06 cross-architecture       :func:`cross_architecture`
07 pruning-identified       :func:`pruning_identified`
08 distillation             :func:`distillation`
09 DAD segmentation         :func:`dad`
10 claims                   :func:`claims_summary`
==========================  ==========================================================

The pages' functions live in :mod:`.coresets` (01–03), :mod:`.windows` (04–06),
:mod:`.related` (07–09) and :mod:`.summary` (10); why EVA's coresets lose to Random
(pages 02, 05, 10 and the landing page) in :mod:`.why`; shared formatting in :mod:`.text`.
"""

from evalib.book.lessons.coresets import ablation, benchmark, dynamics
from evalib.book.lessons.related import dad, distillation, pruning_identified
from evalib.book.lessons.summary import claims_summary
from evalib.book.lessons.text import num, pm, seeds_text, side
from evalib.book.lessons.why import (
    balance_meaning,
    class_balance,
    collapse_share,
    coreset_classes,
    distinct_coresets,
    grid_robustness,
    grid_verdict,
    identical_arms,
)
from evalib.book.lessons.windows import cross_architecture, dual_window, window_grid

__all__ = [
    "balance_meaning",
    "ablation",
    "benchmark",
    "claims_summary",
    "class_balance",
    "collapse_share",
    "coreset_classes",
    "cross_architecture",
    "dad",
    "distillation",
    "distinct_coresets",
    "dual_window",
    "dynamics",
    "grid_robustness",
    "grid_verdict",
    "identical_arms",
    "num",
    "pm",
    "pruning_identified",
    "seeds_text",
    "side",
    "window_grid",
]
