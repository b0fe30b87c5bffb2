"""Tables as a reader should see them: the notebooks' display formatting, in one place.

Every function takes a DataFrame of results and returns a new one (nothing is changed in
place), with values turned into display strings where that is the point:

* :func:`for_display`: drop all-NaN columns, integers as integers, other numbers with a
  fixed number of decimals, p-values below 0.001 as ``< 0.001``, missing values as ``—``;
* :func:`split_wide` / :func:`fit_width`: a table too wide for a page split into
  several, each repeating the key columns, or transposed when it is short and wide.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

MISSING = "—"
P_FLOOR = 0.001


def format_p(p: object, floor: float = P_FLOOR, digits: int = 3) -> str:
    """``"< 0.001"`` below ``floor``, else the value with ``digits`` decimals."""
    try:
        x = float(p)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return MISSING
    if math.isnan(x):
        return MISSING
    return f"< {floor:g}" if x < floor else f"{x:.{digits}f}"


def drop_empty(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` without its all-NaN (or all-None) columns."""
    return frame.loc[:, frame.notna().any(axis=0)] if len(frame) else frame


def integer_columns(frame: pd.DataFrame) -> list[str]:
    """Numeric columns whose non-missing values are all whole numbers (counts, seeds,
    epochs stored as floats because of a NaN elsewhere)."""
    out = []
    for c in frame.columns:
        col = frame[c]
        if pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
            continue
        vals = col.dropna().to_numpy(dtype=float)
        if len(vals) and np.all(np.isfinite(vals)) and np.all(vals == np.round(vals)):
            out.append(c)
    return out


def _p_like(name: object) -> bool:
    n = str(name).lower()
    return (
        n in ("p", "pvalue", "p_value", "p-value")
        or n.startswith(("p_", "p-"))
        or (n.endswith(("_p", " p", "pvalue", "p_value", "p-value")))
    )


def for_display(
    frame: pd.DataFrame,
    digits: int = 2,
    p_columns: Iterable[str] | None = None,
    digits_by_column: dict[str, int] | None = None,
) -> pd.DataFrame:
    """A copy of ``frame`` as display strings: all-NaN columns dropped, whole-number
    columns as integers, p-value columns (``p_columns``, default: names like ``p``,
    ``p_value``, ``…_p``) through :func:`format_p`, other numbers with ``digits``
    decimals (or ``digits_by_column[c]``), missing values as ``—``. Text is unchanged."""
    out = drop_empty(frame).copy()
    p_cols = set(p_columns) if p_columns is not None else {c for c in out if _p_like(c)}
    ints = set(integer_columns(out)) - p_cols
    per = dict(digits_by_column or {})
    for c in out.columns:
        col = out[c]
        if c in p_cols:
            out[c] = [format_p(v) for v in col]
        elif c in ints:
            out[c] = [MISSING if pd.isna(v) else f"{int(round(float(v)))}" for v in col]
        elif pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            d = per.get(c, digits)
            out[c] = [MISSING if pd.isna(v) else f"{float(v):.{d}f}" for v in col]
        else:
            out[c] = [MISSING if v is None or (isinstance(v, float) and math.isnan(v)) else v
                      for v in col]  # fmt: skip
    return out


def split_wide(
    frame: pd.DataFrame, keys: Sequence[str] = (), max_columns: int = 8
) -> list[pd.DataFrame]:
    """``frame`` cut into tables of at most ``max_columns`` columns each, every part
    starting with the ``keys`` columns (so each part can be read alone)."""
    keys = [k for k in keys if k in frame.columns]
    rest = [c for c in frame.columns if c not in keys]
    step = max(1, max_columns - len(keys))
    if len(rest) <= step:
        return [frame]
    return [frame[keys + rest[i : i + step]] for i in range(0, len(rest), step)]


def fit_width(
    frame: pd.DataFrame, keys: Sequence[str] = (), max_columns: int = 8, max_rows: int = 6
) -> list[pd.DataFrame]:
    """Tables that fit a page: ``[frame]`` when it has at most ``max_columns`` columns;
    transposed (key columns as the header) when it is wide but has at most ``max_rows``
    rows; else :func:`split_wide`."""
    if frame.shape[1] <= max_columns:
        return [frame]
    if len(frame) <= max_rows:
        keys = [k for k in keys if k in frame.columns]
        t = frame.set_index(keys) if keys else frame
        t = t.T
        if isinstance(t.columns, pd.MultiIndex):
            t.columns = [" · ".join(map(str, c)) for c in t.columns]
        if t.shape[1] <= max_columns:
            return [t]
    return split_wide(frame, keys, max_columns)
