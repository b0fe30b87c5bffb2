"""The look every figure shares: one colour per method, shades for a method's arms,
the page width, the matplotlib/seaborn style and method names on axes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

try:
    import matplotlib.pyplot as plt
    import seaborn as sns
except ModuleNotFoundError as exc:  # the core install has no plotting packages
    raise ModuleNotFoundError(
        f"evalib.book.plots needs {exc.name}: pip install 'evalib[plots]'", name=exc.name
    ) from None

from evalib.studies import labels

#: one colour per method, used by every figure: Okabe–Ito and Tol colours, at least 25
#: CIELAB units apart (tests/test_plots.py); Random is grey and the full data black,
#: the two references every figure compares with.
METHOD_COLORS: dict[str, str] = {
    "full": "#000000",
    "random": "#7f7f7f",
    "forgetting": "#E69F00",
    "entropy": "#56B4E9",
    "el2n": "#009E73",
    "aum": "#CC79A7",
    "ccs": "#0072B2",
    "eva": "#D55E00",
    "eva_paper": "#D55E00",  # the same score as EVA under another name
    "eva_tuned": "#D55E00",  # EVA with windows tuned on validation: EVA's own colour
    "eva_published": "#FF0000",  # EVA with the published windows
    "eva_official": "#FB9A99",
    "exp_s": "#B2DF8A",
    "var_s": "#332288",
    "exp_d": "#FDBF6F",
    "var_d": "#9E2F8E",
    "cartography": "#1F9E9E",
    "tdds": "#808000",
    "dad": "#A0522D",
    "pie": "#CCBB44",  # Tol yellow: dark enough for a line on white
    "eva_cb": "#661100",  # class-balanced EVA (its tuning grid)
    "eva_cb_tuned": "#661100",  # class-balanced EVA: a dark shade of EVA's family
    "eva_flag": "#882255",  # EVA with the published code's class-balance flag
    "random_strat": "#444444",  # stratified Random: a darker grey than Random
    "random_flag": "#B0A080",  # Random of the flag's size: a warm grey
}
#: Names that share another method's colour on purpose (the same score).
ALIASES = {"eva_paper": "eva", "eva_tuned": "eva", "eva_cb": "eva_cb_tuned"}
_SPARE = ("#6699CC", "#117733", "#882255", "#BBBBBB", "#44AA99", "#661100")


def method_color(method: str) -> str:
    """The colour of ``method`` in every figure (a spare colour for unknown names,
    always the same one for the same name)."""
    if method in METHOD_COLORS:
        return METHOD_COLORS[method]
    return _SPARE[sum(map(ord, method)) % len(_SPARE)]


def _shade(color: str, amount: float) -> tuple[float, float, float]:
    """``color`` mixed with white (``amount`` > 0) or black (< 0)."""
    from matplotlib.colors import to_rgb

    rgb = np.array(to_rgb(color))
    target = np.ones(3) if amount > 0 else np.zeros(3)
    return tuple(float(v) for v in rgb + abs(amount) * (target - rgb))


def arm_palette(arm_methods: Sequence[tuple[str, str]]) -> dict[str, tuple[float, float, float]]:
    """Colours for figure arms (label, method) in order: an arm gets its method's colour;
    a second or third arm of the same method (e.g. another window) a lighter, then darker
    shade of it (darker first for a light colour, whose lighter shade would vanish on a
    white background), so every arm stays distinguishable."""
    from matplotlib.colors import to_rgb

    seen: dict[str, int] = {}
    out = {}
    for label_, method in arm_methods:
        k = seen.get(method, 0)
        seen[method] = k + 1
        base = method_color(method)
        steps = (0.45, -0.4, 0.7, -0.6)
        if _luminance(base) > 0.55:  # light: darker shades first, milder lighter ones
            steps = (-0.45, 0.35, -0.65, -0.25)
        out[label_] = to_rgb(base) if k == 0 else _shade(base, steps[(k - 1) % len(steps)])
    return out


def _luminance(color: str | tuple[float, float, float]) -> float:
    """Relative luminance (0 black … 1 white) of ``color``, WCAG's formula."""
    from matplotlib.colors import to_rgb

    rgb = np.array(to_rgb(color))
    lin = np.where(rgb <= 0.03928, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return float(lin @ np.array([0.2126, 0.7152, 0.0722]))


#: the widest a figure is drawn, in inches: the book's text column is about 790 px wide
#: at a 1400 px window and figures are drawn at 100 dpi, so a wider figure is shrunk and
#: its text with it (tests/test_plots.py checks every helper against it)
MAX_WIDTH = 8.4


def setup_style() -> None:
    """The notebooks' display style: a quiet, print-friendly seaborn style for figures,
    and every DataFrame shown through :func:`evalib.book.tables.to_html` (no row numbers, no
    all-NaN columns, integers as integers, p-values below 0.001 as "< 0.001", wide
    tables transposed or split to fit the page) when running under IPython."""
    from evalib.book import tables

    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    plt.rcParams["figure.dpi"] = 100
    tables.install_display()


def label(method: str) -> str:
    """A method's name on a figure (its short name, :func:`evalib.studies.labels.label`)."""
    return labels.label(method, short=True)
