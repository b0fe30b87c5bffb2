"""Figure helpers the notebooks call. Each returns the matplotlib Figure it drew.

The shared look lives in :mod:`.style`; the figures of notebooks 01–06 in
:mod:`.coresets`, of 07–09 in :mod:`.related`.
"""

from evalib.book.plots.coresets import (
    ablation_bars,
    accuracy_vs_rate,
    grid_heatmaps,
    learning_curves,
    missing_convention,
    overlap_heatmaps,
    paired_bars,
    representative_samples,
    score_trajectories,
    trajectories_with_window_stats,
)
from evalib.book.plots.related import (
    SEG_METHODS,
    distill_accuracy,
    distill_images,
    distill_losses,
    distill_predictor,
    pie_classes,
    pie_coresets,
    pie_emphasis,
    pie_pruning,
    seg_mosaics,
    seg_pruning,
    seg_scores,
)
from evalib.book.plots.style import (
    ALIASES,
    MAX_WIDTH,
    METHOD_COLORS,
    _shade,
    arm_palette,
    label,
    method_color,
    setup_style,
)

__all__ = [
    "ALIASES",
    "MAX_WIDTH",
    "METHOD_COLORS",
    "SEG_METHODS",
    "_shade",
    "ablation_bars",
    "accuracy_vs_rate",
    "arm_palette",
    "distill_accuracy",
    "distill_images",
    "distill_losses",
    "distill_predictor",
    "grid_heatmaps",
    "label",
    "learning_curves",
    "method_color",
    "missing_convention",
    "overlap_heatmaps",
    "paired_bars",
    "pie_classes",
    "pie_coresets",
    "pie_emphasis",
    "pie_pruning",
    "representative_samples",
    "score_trajectories",
    "seg_mosaics",
    "seg_pruning",
    "seg_scores",
    "setup_style",
    "trajectories_with_window_stats",
]
