"""Accuracy measures of predictions against labels (pure numpy)."""

from __future__ import annotations

import numpy as np

from evalib.errors import EvalibError


def per_class_accuracy(preds: object, labels: object, num_classes: int | None = None) -> np.ndarray:
    """Accuracy of each class [C] float64 (fraction of its samples predicted right);
    NaN for a class with no sample."""
    p, y = np.asarray(preds).reshape(-1), np.asarray(labels).reshape(-1)
    if p.shape != y.shape:
        raise EvalibError(f"{p.size} predictions for {y.size} labels")
    c = (
        int(num_classes)
        if num_classes is not None
        else int(max(p.max(initial=0), y.max(initial=0))) + 1
    )
    total = np.bincount(y, minlength=c)[:c].astype(np.float64)
    right = np.bincount(y[p == y], minlength=c)[:c].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, right / np.maximum(total, 1), np.nan)
