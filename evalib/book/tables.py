"""Tables as a reader should see them: the notebooks' display formatting, in one place.

Every function takes a DataFrame of results and returns a new one (nothing is changed in
place), with values turned into display strings where that is the point:

* :func:`readable`: reader-facing names (:mod:`evalib.studies.labels`) for headers, methods,
  datasets, networks and budgets, rates as percents: no code name reaches a reader;
* :func:`for_display`: drop all-NaN columns, integers as integers, other numbers with a
  fixed number of decimals, p-values below 0.001 as ``< 0.001``, missing values as ``—``;
* :func:`split_wide` / :func:`fit_width`: a table too wide for a page split into
  several, each repeating the key columns, or transposed when it is short and wide;
* :func:`to_html` and :func:`install_display`: every DataFrame a notebook shows goes
  through both (``plots.setup_style`` installs it), so the executed pages need no
  formatting code of their own.
"""

from __future__ import annotations

import ast
import functools
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from evalib.studies import labels

MISSING = "—"
ROOT = Path(__file__).resolve().parents[2]
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


#: column names that hold counts (of seeds, steps, images, …) or a sign (``direction``):
#: whole numbers stored as floats print as integers there, whatever else the column holds
COUNT_NAME = re.compile(
    r"(^|_)(n|m|k|count|counts|seeds?|steps|epochs?|jobs|runs|size|params|images|samples|"
    r"classes|ipc|writes|intersection|shape|direction|sign)(_|$)|^n_|^num_",
    re.IGNORECASE,
)


def integer_columns(frame: pd.DataFrame) -> list[str]:
    """Columns to print as integers: integer columns, and float columns whose values are
    all whole numbers when they are floats only because of a missing value (a NaN) or
    their name says they count something (:data:`COUNT_NAME`: ``n_seeds``, ``steps``);
    an accuracy that happens to be 92.0 keeps its decimals."""
    out = []
    for c in frame.columns:
        col = frame[c]
        if pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
            continue
        if pd.api.types.is_integer_dtype(col):
            out.append(c)
            continue
        vals = col.dropna().to_numpy(dtype=float)
        whole = len(vals) and np.all(np.isfinite(vals)) and np.all(vals == np.round(vals))
        name = " ".join(map(str, c)) if isinstance(c, tuple) else str(c)
        if whole and (col.isna().any() or COUNT_NAME.search(name)):
            out.append(c)
    return out


def float_digits(values: Iterable[float], digits: int = 2) -> int:
    """Decimals to print a float column with: ``digits``; for a column of fractions
    (every value in (-1, 1): rates, Jaccard indices, correlations, Dice) the fewest of
    ``digits`` … 3 that print every value exactly (a rate of 0.005), else 3."""
    vals = [float(v) for v in values if not (v is None or pd.isna(v))]
    vals = [v for v in vals if math.isfinite(v)]
    if not vals or max(abs(v) for v in vals) >= 1:
        return digits
    for d in range(digits, 4):
        if all(abs(round(v, d) - v) < 1e-9 for v in vals):
            return d
    return max(digits, 3)


def _p_like(name: object) -> bool:
    n = str(name).lower()
    return (
        n in ("p", "pvalue", "p_value", "p-value", "p value")
        or n.startswith(("p_", "p-", "p "))
        or (n.endswith(("_p", " p", "pvalue", "p_value", "p-value", "p value")))
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
    decimals (more where :func:`float_digits` needs them, or ``digits_by_column[c]``), all
    numbers with thousands separators, U+2212 as the minus sign and no negative zero
    (:func:`evalib.studies.labels.fmt_number`), missing values as ``—``. Text is
    unchanged."""
    out = drop_empty(frame).copy()
    p_cols = set(p_columns) if p_columns is not None else {c for c in out if _p_like(c)}
    ints = set(integer_columns(out)) - p_cols
    per = dict(digits_by_column or {})
    for c in out.columns:
        col = out[c]
        if c in p_cols:
            out[c] = [format_p(v) for v in col]
        elif c in ints:
            out[c] = [MISSING if pd.isna(v) else labels.fmt_number(round(float(v)), 0) for v in col]
        elif pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            d = per[c] if c in per else float_digits(col, digits)
            out[c] = [MISSING if pd.isna(v) else labels.fmt_number(float(v), d) for v in col]
        else:
            out[c] = [MISSING if v is None or (isinstance(v, float) and math.isnan(v)) else v
                      for v in col]  # fmt: skip
    return out


#: columns that hold a selection rate (a fraction of the training set)
RATE_NAME = re.compile(r"(^|_)rate$")


def _is_rate_column(name: object, col: pd.Series) -> bool:
    vals = pd.to_numeric(col, errors="coerce").dropna()
    return (
        bool(RATE_NAME.search(str(name)))
        and len(vals) > 0
        and bool(((vals > 0) & (vals <= 1)).all())
    )


def _label_level(values: Iterable[object], name: object) -> list[object]:
    """One level of column or index labels, as headers: rates (a level named ``rate``)
    as percents, method keys as their long names, column names by
    :func:`evalib.studies.labels.column_label`."""
    out = []
    for v in values:
        if str(name) == "rate" and isinstance(v, (int, float, np.number)) and 0 < float(v) <= 1:
            out.append(labels.fmt_percent(float(v)))
        elif isinstance(v, str) and str(name) == "dataset":
            out.append(labels.dataset_title(v))
        elif isinstance(v, str) and str(name) == "budget":
            out.append(labels.budget_label(v))
        elif isinstance(v, str) and str(name) in ("model", "model_label"):
            out.append(labels.model_title(v))
        elif isinstance(v, str) and str(name) == "study":
            out.append(labels.STUDIES.get(v, v))
        elif isinstance(v, str):
            out.append(labels.column_label(v))
        else:
            out.append(v)
    return out


def _readable_index(index: pd.Index) -> pd.Index:
    if isinstance(index, pd.MultiIndex):
        arrays = [_label_level(index.get_level_values(i), index.names[i])
                  for i in range(index.nlevels)]  # fmt: skip
        return pd.MultiIndex.from_arrays(arrays, names=[_name(n) for n in index.names])
    if isinstance(index, pd.RangeIndex) and index.name is None:
        return index
    return pd.Index(_label_level(index, index.name), name=_name(index.name))


def _name(name: object) -> object:
    return labels.column_label(name) if isinstance(name, str) else name


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` in reader-facing names: headers and index names by
    :func:`evalib.studies.labels.column_label`; a column of method keys by the methods'
    short names (a table's rows stay one line), datasets by MedMNIST's spelling, networks and
    budgets by their display names, any other snake_case value with its underscores as
    spaces; rates (columns or levels named ``rate``) as percents; flags as yes and no. Numbers stay numbers for :func:`for_display`."""
    out = frame.copy()
    for c in out.columns:
        col = out[c]
        name = c[-1] if isinstance(c, tuple) else c
        key = str(name)
        if _is_rate_column(name, col):
            out[c] = [MISSING if pd.isna(v) else labels.fmt_percent(float(v)) for v in col]
        elif pd.api.types.is_bool_dtype(col):  # a flag reads as a word, not Python's True
            out[c] = ["yes" if v else "no" for v in col]
        elif col.dtype == object or pd.api.types.is_string_dtype(col):
            text = [v for v in col if isinstance(v, str)]
            if key == "dataset":
                out[c] = [labels.dataset_title(v) if isinstance(v, str) else v for v in col]
            elif key == "budget":
                out[c] = [labels.budget_label(v) if isinstance(v, str) else v for v in col]
            elif key in ("study", "notebook"):
                out[c] = [labels.STUDIES.get(v, v) if isinstance(v, str) else v for v in col]
            elif text and all(v in labels.LONG for v in text):
                out[c] = [labels.short(v) if isinstance(v, str) else v for v in col]
            else:
                out[c] = [labels.value_label(v) for v in col]
    out.index = _readable_index(out.index)
    if not isinstance(out.columns, pd.MultiIndex):
        shown = _label_level(out.columns, out.columns.name)
        seen: set[object] = set()
        for i, (orig, new) in enumerate(zip(out.columns, shown, strict=True)):
            if new in seen:  # two columns with one display name: the later one says more
                shown[i] = str(orig).replace("_", " ")
            seen.add(shown[i])
        out.columns = pd.Index(shown, name=_name(out.columns.name))
    else:
        out.columns = _readable_index(out.columns)
    return out


def _snake_constants(package: Path) -> set[str]:
    """Every string constant of the package's source that is a snake_case identifier."""
    names: set[str] = set()
    for path in package.rglob("*.py"):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and labels.is_code_name(node.value):
                names.add(node.value)
    return names


@functools.lru_cache(maxsize=4)
def code_names(root: Path = ROOT) -> frozenset[str]:
    """The package's own snake_case names, which no reader should meet in a table or a
    figure: every snake_case string constant of ``evalib``'s source (the columns its
    studies write, method keys, parameters), the method keys of
    :mod:`evalib.studies.labels`, and the column headers of the committed result tables
    (``results/**/*.csv``, whose names may be built at run time)."""
    names = _snake_constants(root / "evalib") | {k for k in labels.LONG if "_" in k}
    for path in (root / "results").rglob("*.csv"):
        try:
            with open(path, encoding="utf-8") as fh:
                header = fh.readline()
        except (OSError, UnicodeDecodeError):
            continue
        names |= {h.strip().strip('"') for h in header.split(",") if labels.is_code_name(
            h.strip().strip('"'))}  # fmt: skip
    return frozenset(names)


_TOKEN = re.compile(r"[A-Za-z0-9_.]+")
#: a Python list literal as ``str(list)`` writes it: quoted items, or decimal numbers
LIST_LITERAL = re.compile(
    r"\[\s*(?:'[^'\]]*'|\"[^\"\]]*\"|-?\d+\.\d+)"
    r"(?:\s*,\s*(?:'[^'\]]*'|\"[^\"\]]*\"|-?\d+\.\d+))*\s*\]"
)


def code_names_in(text: object, names: Iterable[str] | None = None) -> list[str]:
    """The code names (default :func:`code_names`) that ``text`` holds as words."""
    known = code_names() if names is None else frozenset(names)
    return [t for t in _TOKEN.findall(str(text)) if "_" in t and t.strip(".") in known]


def reader_problems(text: object, names: Iterable[str] | None = None) -> list[str]:
    """What a reader should not see in ``text`` (a table cell, a figure label): code
    names (:func:`code_names_in`) and Python list literals."""
    problems = [f"code name {n!r}" for n in code_names_in(text, names)]
    problems += [f"Python list {m!r}" for m in LIST_LITERAL.findall(str(text))]
    return problems


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


# ----------------------------------------------------------------------------- display

#: how many characters of table text fit across the book's text column (about 790 px
#: wide at a 1400 px window, at some 9.5 px per character of table text with padding)
PAGE_CHARS = 84
#: a header or a value can wrap at spaces, and a header also after an underscore
_BREAKS = re.compile(r"[\s_]+")


def _tokens(text: object) -> int:
    """The longest piece of ``text`` that cannot wrap (its narrowest rendered width)."""
    text = str(text).replace(f"< {P_FLOOR:g}", f"<~{P_FLOOR:g}")  # kept together in HTML
    return max((len(t) for t in _BREAKS.split(text) if t), default=0)


def _index_shown(frame: pd.DataFrame) -> bool:
    """False for a default 0, 1, 2, … index without a name: row numbers say nothing."""
    idx = frame.index
    default = isinstance(idx, pd.RangeIndex) and idx.start == 0 and idx.step == 1
    return not (default and idx.name is None)


def display_width(frame: pd.DataFrame, index: bool | None = None) -> int:
    """The narrowest width of ``frame`` as a page table, in characters: per column the
    longest piece of its header or of a value that cannot wrap, plus one for padding,
    and the same for the index levels when they are shown (``index``; default: unless
    the index is the default row numbering)."""
    index = _index_shown(frame) if index is None else index
    width = 0
    for c in frame.columns:
        names = c if isinstance(c, tuple) else (c,)
        head = max(_tokens(n) for n in names)
        width += max([head, *(_tokens(v) for v in frame[c])]) + 1
    if index:
        for i in range(frame.index.nlevels):
            values = frame.index.get_level_values(i)
            width += max([_tokens(frame.index.names[i] or ""), *map(_tokens, values)]) + 1
    return width


def _format_index(index: pd.Index, digits: int) -> pd.Index:
    """``index`` with numeric levels printed like numeric columns (integers as integers,
    decimals by :func:`float_digits`)."""

    def fmt(level: pd.Index) -> pd.Index:
        if pd.api.types.is_bool_dtype(level) or not pd.api.types.is_numeric_dtype(level):
            return level
        vals = level.to_numpy(dtype=float)
        finite = vals[np.isfinite(vals)]
        if len(finite) and np.all(finite == np.round(finite)):
            return pd.Index([MISSING if pd.isna(v) else f"{int(v)}" for v in vals],
                            name=level.name)  # fmt: skip
        d = float_digits(vals, digits)
        return pd.Index([MISSING if pd.isna(v) else f"{v:.{d}f}" for v in vals], name=level.name)

    if isinstance(index, pd.MultiIndex):
        return pd.MultiIndex.from_arrays(
            [fmt(index.get_level_values(i)) for i in range(index.nlevels)], names=index.names
        )
    return fmt(index)


def _keys(frame: pd.DataFrame, show_index: bool) -> list:
    """The columns each part of a split table repeats: none when the index is shown (it
    is repeated anyway), else the leading text columns (at most two)."""
    if show_index:
        return []
    keys = []
    for c in frame.columns[:2]:
        if pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]):
            break
        keys.append(c)
    return keys


def fit_page(
    frame: pd.DataFrame, max_chars: int = PAGE_CHARS, max_rows: int = 6
) -> list[pd.DataFrame]:
    """Formatted parts of ``frame`` (:func:`for_display`) that each fit ``max_chars``:
    the table itself when it fits; transposed when it is short (at most ``max_rows``
    rows) and the transposed table fits; else its columns cut into several tables, each
    repeating the index (or the leading text columns when the index is row numbers)."""
    show = _index_shown(frame)
    out = for_display(frame)
    if show:
        out.index = _format_index(out.index, 2)
    if display_width(out, show) <= max_chars or out.shape[1] <= 1:
        return [out]
    keys = [k for k in _keys(frame, show) if k in out.columns]
    if len(out) <= max_rows:
        t = (out.set_index(keys) if keys else out).T
        if isinstance(t.columns, pd.MultiIndex):
            t.columns = [" · ".join(map(str, c)) for c in t.columns]
        if display_width(t, True) <= max_chars:
            return [t]
    budget = max_chars - (display_width(out[keys], show) if keys else
                          (display_width(out.iloc[:, :0], True) if show else 0))  # fmt: skip
    parts, current, used = [], [], 0
    for c in [c for c in out.columns if c not in keys]:
        w = display_width(out[[c]], False)
        if current and used + w > budget:
            parts.append(out[keys + current])
            current, used = [], 0
        current.append(c)
        used += w
    if current:
        parts.append(out[keys + current])
    return parts


def _breakable_headers(table_html: str) -> str:
    """Let the header cells of ``table_html`` wrap after an underscore (``<wbr>``)."""

    def cell(m: re.Match) -> str:
        return m.group(1) + m.group(2).replace("_", "_<wbr>") + m.group(3)

    return re.sub(r"(<th[^>]*>)([^<]*)(</th>)", cell, table_html)


#: a text column whose longest value has more characters reads as sentences
LONG_TEXT = 48


def long_text_columns(frame: pd.DataFrame, threshold: int = LONG_TEXT) -> list[int]:
    """Positions of the columns of ``frame`` that hold long text (explanations)."""
    return [i for i in range(frame.shape[1])  # by position: a transposed table may repeat names
            if frame.iloc[:, i].map(lambda v: len(v) if isinstance(v, str) else 0).max()
            > threshold]  # fmt: skip


def _mark_long_text(table_html: str, positions: Sequence[int]) -> str:
    """Give the body cells of the columns at ``positions`` the class ``long-text`` (wide
    enough to read as sentences, ``book/_static/evalib.css``)."""
    if not positions:
        return table_html
    wanted = set(positions)

    def row(m: re.Match) -> str:
        k = -1

        def cell(c: re.Match) -> str:
            nonlocal k
            k += 1
            return '<td class="long-text"' if k in wanted else c.group(0)

        return re.sub(r"<td(?=[\s>])", cell, m.group(0))

    head, sep, body = table_html.partition("<tbody>")
    return head + sep + re.sub(r"<tr[\s>].*?</tr>", row, body, flags=re.DOTALL)


def to_html(frame: pd.DataFrame, max_chars: int = PAGE_CHARS) -> str:
    """``frame`` as the book shows it: reader-facing names (:func:`readable`),
    :func:`fit_page`'s parts as HTML tables (class ``dataframe``, like pandas' own), long
    text in wide cells, no row numbers, at most pandas' ``display.max_rows`` rows each."""
    tables = []
    for part in fit_page(readable(frame), max_chars):
        body = part.to_html(
            index=_index_shown(part), border=0, escape=True,
            na_rep=MISSING, max_rows=pd.get_option("display.max_rows"), notebook=False,
        )  # fmt: skip
        # a p-value floor is one token: "< 0.001" never wraps after its "<"
        body = body.replace(f"&lt; {P_FLOOR:g}", f"&lt;&nbsp;{P_FLOOR:g}")
        body = body.replace(' style="text-align: right;"', "")  # the page's CSS aligns
        tables.append(_mark_long_text(_breakable_headers(body), long_text_columns(part)))
    if len(tables) > 1:
        tables.insert(0, f"<p><em>One wide table, shown in {len(tables)} parts.</em></p>")
    return "<div>" + "\n".join(tables) + "</div>"


def _html_formatter(frame: pd.DataFrame) -> str | None:
    try:
        return to_html(frame)
    except Exception:  # never lose an output to the display hook: pandas' own HTML
        return frame._repr_html_()


def install_display(shell: object | None = None) -> bool:
    """Make ``shell`` (default: the running IPython kernel) show every DataFrame through
    :func:`to_html`. Returns False, doing nothing, outside IPython."""
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None:
        return False
    shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, _html_formatter)
    return True
