"""The look every figure shares: one colour per method, shades for a method's arms,
the page width, the matplotlib/seaborn style and method names on axes; and the check
that every figure a page shows can be read (:func:`check_figure`): no text under 8 px at
a 1400 px window, no code name or Python list in a label, no legend over the data, no
tick labels on top of each other. :func:`setup_style` runs it on every figure a notebook
displays."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np

try:
    import matplotlib.pyplot as plt
    import seaborn as sns
except ModuleNotFoundError as exc:  # the core install has no plotting packages
    raise ModuleNotFoundError(
        f"evalib.book.plots needs {exc.name}: pip install 'evalib[plots]'", name=exc.name
    ) from None

from evalib.book import tables
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


#: the width, in CSS pixels, of a notebook's figure on the page at a 1400 px window (the
#: book's text column, measured in Chromium on the built book: ``.cell_output img``); a
#: wider figure is scaled down to it, and its text with it
COLUMN_PX = 772
#: the smallest text, in CSS pixels at that width, a page may show
MIN_TEXT_PX = 8.0
#: the padding ``savefig(bbox_inches="tight")`` adds around a figure (the inline backend's)
TIGHT_PAD_IN = 0.1


class FigureTextError(ValueError):
    """A figure a page would show has text a reader cannot read (:func:`check_figure`)."""


@contextlib.contextmanager
def _recording_drawn_text() -> Iterator[list]:
    """While the block runs, every Text artist that draws itself is appended to the list
    it yields (only texts that are drawn: visible, non-empty, ticks in view)."""
    from matplotlib.text import Text

    drawn: list = []
    original = Text.draw

    def draw(self, renderer):  # noqa: ANN001
        if self.get_visible() and self.get_text().strip():
            drawn.append(self)
        return original(self, renderer)

    Text.draw = draw
    try:
        yield drawn
    finally:
        Text.draw = original


def rendered_width_px(fig: plt.Figure) -> float:
    """The width of ``fig`` as a page shows it, in pixels: its tight bounding box (what
    the notebook's inline backend saves) at the figure's dpi."""
    renderer = fig.canvas.get_renderer()
    box = fig.get_tightbbox(renderer)
    return float((box.width + 2 * TIGHT_PAD_IN) * fig.dpi)


def _data_points(ax) -> np.ndarray:  # noqa: ANN001
    """Display coordinates of what ``ax`` plots: line vertices, bar corners and centres,
    scatter offsets, error-bar segment ends."""
    from matplotlib.collections import LineCollection, PathCollection
    from matplotlib.patches import Rectangle

    pts = [np.empty((0, 2))]
    for line in ax.get_lines():
        xy = np.asarray(line.get_xydata(), dtype=float)
        if len(xy) and line.get_visible():
            shown = line.get_transform().transform(xy)
            pts.append(shown)
            if len(shown) > 1 and line.get_linestyle() not in ("None", "none", ""):
                t = np.linspace(0, 1, 12)[:, None, None]  # points along each segment
                with np.errstate(invalid="ignore"):  # a point at log(0) is infinite: dropped below
                    pts.append(((1 - t) * shown[:-1] + t * shown[1:]).reshape(-1, 2))
    for patch in ax.patches:
        if isinstance(patch, Rectangle) and patch.get_visible() and patch.get_width() != 0:
            b = patch.get_window_extent()
            pts.append(np.array([[b.x0, b.y1], [b.x1, b.y1], [(b.x0 + b.x1) / 2, b.y1],
                                 [(b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2]]))  # fmt: skip
    for coll in ax.collections:
        if not coll.get_visible():
            continue
        if isinstance(coll, PathCollection) and len(coll.get_offsets()):
            pts.append(coll.get_offset_transform().transform(np.asarray(coll.get_offsets())))
        elif isinstance(coll, LineCollection):
            for seg in coll.get_segments():
                if len(seg):
                    pts.append(coll.get_transform().transform(np.asarray(seg, dtype=float)))
    out = np.concatenate(pts)
    return out[np.all(np.isfinite(out), axis=1)]


def _inside(points: np.ndarray, box, margin: float = 1.0) -> bool:  # noqa: ANN001
    if not len(points):
        return False
    x, y = points[:, 0], points[:, 1]
    return bool(np.any((x > box.x0 + margin) & (x < box.x1 - margin)
                       & (y > box.y0 + margin) & (y < box.y1 - margin)))  # fmt: skip


def _overlapping_ticks(axis, drawn: set, renderer) -> list[str]:  # noqa: ANN001
    """Pairs of neighbouring drawn tick labels of ``axis`` that overlap: for level text,
    their boxes; for rotated text, lines of text closer together than the type is high."""
    ticks = [t for t in axis.get_ticklabels() if t in drawn]
    out = []
    level = [t for t in ticks if t.get_rotation() % 180 == 0]
    boxes = sorted(((t.get_window_extent(renderer), t.get_text()) for t in level),
                   key=lambda b: (b[0].x0, b[0].y0))  # fmt: skip
    for (a, ta), (b, tb) in zip(boxes, boxes[1:], strict=False):
        if a.x1 - 1 > b.x0 and a.y1 - 1 > b.y0 and b.y1 - 1 > a.y0:
            out.append(f"tick labels {ta!r} and {tb!r} overlap")
    turned = [t for t in ticks if t.get_rotation() % 180 != 0]
    anchors = sorted(((t.get_transform().transform(t.get_position()), t) for t in turned),
                     key=lambda a: tuple(a[0]))  # fmt: skip
    for (a, ta), (b, tb) in zip(anchors, anchors[1:], strict=False):
        angle = np.deg2rad(ta.get_rotation())  # parallel lines of text through the anchors
        apart = abs((b[0] - a[0]) * np.sin(angle) - (b[1] - a[1]) * np.cos(angle))
        if apart < 0.8 * renderer.points_to_pixels(ta.get_fontsize()):
            out.append(f"tick labels {ta.get_text()!r} and {tb.get_text()!r} overlap")
    return out


def legibility_problems(
    fig: plt.Figure,
    column_px: float = COLUMN_PX,
    min_px: float = MIN_TEXT_PX,
    names: frozenset[str] | None = None,
) -> list[str]:
    """What keeps a reader from reading ``fig`` on the page: text smaller than
    ``min_px`` once the figure is scaled to ``column_px`` (font size × dpi / 72 × the
    scale), text holding a code name or a Python list
    (:func:`evalib.book.tables.reader_problems`), a legend drawn over its axes' data or
    over other text, tick labels on top of each other. Empty when there is nothing to
    fix."""
    with _recording_drawn_text() as drawn:
        fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    scale = min(1.0, column_px / rendered_width_px(fig))
    problems = []
    for text in dict.fromkeys(drawn):
        shown = " ".join(text.get_text().split())
        px = text.get_fontsize() * fig.dpi / 72 * scale
        if px < min_px - 1e-9:
            problems.append(f"{shown[:40]!r} is {px:.1f} px at a 1400 px window "
                            f"({text.get_fontsize():.1f} pt, figure scaled ×{scale:.2f}); "
                            f"needs {min_px:g}")  # fmt: skip
        problems += [f"{p} in {shown[:40]!r}" for p in tables.reader_problems(shown, names)]
    drawn_set = set(drawn)
    legends = [(ax.get_legend(), ax) for ax in fig.axes] + [(lg, None) for lg in fig.legends]
    for legend, ax in legends:
        if legend is None or not legend.get_visible():
            continue
        box = legend.get_window_extent(renderer)
        where = f"the legend of {ax.get_title()!r}" if ax is not None else "the figure legend"
        if any(_inside(_data_points(a), box) for a in ([ax] if ax is not None else fig.axes)):
            problems.append(f"{where} covers data")
        own = set(legend.get_texts()) | {legend.get_title()}
        for text in drawn_set - own:
            b = text.get_window_extent(renderer)
            if b.x0 < box.x1 - 1 and box.x0 < b.x1 - 1 and b.y0 < box.y1 - 1 and box.y0 < b.y1 - 1:
                problems.append(
                    f"{where} covers the text {' '.join(text.get_text().split())[:30]!r}"
                )
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            problems += _overlapping_ticks(axis, drawn_set, renderer)
    return problems


def check_figure(fig: plt.Figure, **kwargs) -> plt.Figure:
    """``fig`` unchanged when a reader can read it, else a :class:`FigureTextError`
    naming every problem of :func:`legibility_problems` (``kwargs`` go to it)."""
    problems = legibility_problems(fig, **kwargs)
    if problems:
        title = fig._suptitle.get_text() if fig._suptitle is not None else ""
        raise FigureTextError(f"figure {title!r} cannot be read on the page: "
                              + "; ".join(problems))  # fmt: skip
    return fig


def install_figure_check(shell: object | None = None) -> bool:
    """Make ``shell`` (default: the running IPython kernel) run :func:`check_figure` on
    every figure it displays, before drawing it: an illegible figure becomes an error
    in the executed notebook (which the notebook tests reject) instead of a page.
    Returns False, doing nothing, outside IPython."""
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None:
        return False
    from matplotlib.figure import Figure

    png = shell.display_formatter.formatters["image/png"]
    try:
        draw = png.lookup_by_type(Figure)
    except KeyError:  # the inline backend registers its formatter once it is loaded
        plt.close(plt.figure())
        try:
            draw = png.lookup_by_type(Figure)
        except KeyError:
            return False
    if getattr(draw, "checks_legibility", False):
        return True

    def checked(fig, *args, **kwargs):  # noqa: ANN001
        return draw(check_figure(fig), *args, **kwargs)

    checked.checks_legibility = True  # type: ignore[attr-defined]
    png.for_type(Figure, checked)
    return True


def setup_style() -> None:
    """The notebooks' display style: a quiet, print-friendly seaborn style for figures,
    every figure displayed checked by :func:`check_figure`, and every DataFrame shown
    through :func:`evalib.book.tables.to_html` (reader-facing names, no row numbers, no
    all-NaN columns, integers as integers, p-values below 0.001 as "< 0.001", wide
    tables transposed or split to fit the page) when running under IPython."""
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    plt.rcParams["figure.dpi"] = 100
    tables.install_display()
    install_figure_check()


def label(method: str) -> str:
    """A method's name on a figure (its short name, :func:`evalib.studies.labels.label`)."""
    return labels.label(method, short=True)
