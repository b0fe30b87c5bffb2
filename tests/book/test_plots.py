"""Figure helpers: distinct method colours, reference lines, chosen samples."""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from evalib.book import plots  # noqa: E402
from evalib.studies import labels  # noqa: E402


def _lab(color) -> np.ndarray:
    """sRGB → CIELAB (D65), enough to measure how different two colours look."""
    rgb = np.array(to_rgb(color))
    lin = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = m @ lin / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def test_every_method_has_a_distinct_colour() -> None:
    names = [m for m in plots.METHOD_COLORS if m not in plots.ALIASES]  # aliases share a colour
    assert all(plots.METHOD_COLORS[a] == plots.METHOD_COLORS[b] for a, b in plots.ALIASES.items())
    assert set(labels.LONG) - {"full", "distilled", "dad_hard", "dad_easy", "dad_ambiguous"} <= set(
        names
    ) | set(plots.ALIASES) | {"full"}
    worst = min(
        (float(np.linalg.norm(_lab(plots.METHOD_COLORS[a]) - _lab(plots.METHOD_COLORS[b]))), a, b)
        for a, b in itertools.combinations(names, 2)
    )
    assert worst[0] >= 20, f"{worst[1]} and {worst[2]} look alike (ΔE {worst[0]:.1f})"
    # EVA and AUM were near-identical pinks before
    assert np.linalg.norm(_lab(plots.method_color("eva")) - _lab(plots.method_color("aum"))) > 40


def test_unknown_methods_get_a_stable_colour() -> None:
    assert plots.method_color("new_score") == plots.method_color("new_score")


def test_arm_palette_shades_repeated_methods() -> None:
    pal = plots.arm_palette([("VAR-S early", "var_s"), ("VAR-S late", "var_s"), ("EVA", "eva")])
    assert pal["VAR-S early"] == to_rgb(plots.method_color("var_s"))
    assert pal["VAR-S late"] != pal["VAR-S early"]
    assert pal["EVA"] == to_rgb(plots.method_color("eva"))


def _long() -> pd.DataFrame:
    rows = []
    for proto in ("paper", "clean"):
        for rate in ("2", "5"):
            for seed in range(3):
                for arm, method, acc in (("VAR-S", "var_s", 60), ("EXP-S", "exp_s", 30),
                                         ("Random", "random", 50)):  # fmt: skip
                    rows.append({"protocol_label": proto, "rate_label": rate, "arm": arm,
                                 "method": method, "accuracy": acc + seed})  # fmt: skip
    out = pd.DataFrame(rows)
    out["rate_label"] = pd.Categorical(out["rate_label"], categories=["2", "5"])
    return out


def test_ablation_bars_draws_a_random_reference() -> None:
    long = _long()
    arms = long[long["method"] != "random"]
    fig = plots.ablation_bars(arms, "t", order=["EXP-S", "VAR-S"], full={"clean": 90.0},
                              random=long[long["method"] == "random"])  # fmt: skip
    ax_paper, ax_clean = fig.axes[:2]
    dashes = [c for c in ax_clean.collections if c.get_label() == "Random (mean)"]
    assert len(dashes) == 1
    # one dash per rate at the mean Random accuracy (50 + mean seed 1)
    refs = [c for c in ax_clean.collections if c.get_gid() == "random-reference"]
    assert len(refs) == 2
    assert {round(float(s[0][1]), 6) for c in refs for s in c.get_segments()} == {51.0}
    assert any(line.get_label() == "full data" for line in ax_clean.get_lines())
    assert not any(line.get_label() == "full data" for line in ax_paper.get_lines())
    bars = [p.get_height() for p in ax_clean.patches]
    assert sorted(bars) == [31.0, 31.0, 61.0, 61.0]
    plt.close(fig)
    fig = plots.ablation_bars(arms, "t")  # no references: still draws
    assert not [c for c in fig.axes[0].collections if c.get_label() == "Random (mean)"]
    plt.close(fig)


def test_representative_samples_and_their_figure() -> None:
    t, n = 10, 50
    rng = np.random.default_rng(0)
    s = np.full((t, n), 0.7) + rng.normal(0, 0.01, (t, n))
    s[:, 3] = 0.0  # learned from the start
    s[:, 4] = 1.4  # never learned
    s[:, 7] = np.where(np.arange(t) % 2 == 0, 1.2, 0.1)  # flips every epoch
    s[:, 9] = 1.1  # hard and steady: high error, no variance
    s[:, 11] = np.linspace(1.0, 1.3, t)  # hard, drifting
    windows = {"early": (0, 2), "late": (5, 7)}
    picks = plots.representative_samples(s, windows)
    assert picks["highest EVA score"] == 7
    assert picks["high error, low variance"] == 9
    assert picks["learned early"] == 3 and picks["never learned"] == 4
    assert len(set(picks.values())) == len(picks)
    fig = plots.trajectories_with_window_stats(s, picks, windows, "t")
    ax, ax_v, ax_m = fig.axes[:3]
    assert len(ax.get_lines()) >= len(picks)
    # the variance bars are the samples' population variances inside each window
    heights = sorted(round(p.get_width(), 6) for p in ax_v.patches)
    expected = sorted(round(float(s[a:b, i].var()), 6) for i in picks.values()
                      for a, b in windows.values())  # fmt: skip
    assert heights == pytest.approx(expected)
    plt.close(fig)


def test_paired_bars_draws_one_bar_per_comparison_and_rate_with_a_zero_line() -> None:
    rows = [
        {"comparison": c, "rate": r, "seed": s, "protocol": p, "diff": d + s}
        for c, d in (("VAR-S − EXP-S", 3.0), ("VAR-D − EXP-D", -2.0))
        for r in (0.02, 0.05)
        for s in (0, 1)
        for p in ("paper", "clean")
    ]
    fig = plots.paired_bars(pd.DataFrame(rows), "title", "VAR − EXP (points)")
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["paper protocol (n = 2 seeds)",
                                               "clean protocol (n = 2 seeds)"]  # fmt: skip
    from evalib.studies.stats import t_interval

    half = t_interval([3.0, 4.0])[2]  # the interval the verdicts use, not a bootstrap
    for ax in axes:
        heights = sorted(round(b.get_height(), 6) for b in ax.patches if b.get_width() > 0)
        assert heights == [-1.5, -1.5, 3.5, 3.5]  # mean over seeds 0 and 1
        caps = [seg for c in ax.collections for seg in c.get_segments()]
        spans = sorted(round(float(abs(s[1][1] - s[0][1])) / 2, 6) for s in caps)
        assert spans == pytest.approx([half] * 4)
        assert [ln for ln in ax.lines if ln.get_gid() == "zero-line"]
        assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "5"]
    plt.close(fig)


def test_shades_of_light_colours_stay_visible_on_white() -> None:
    """A second arm of a light-coloured method (EXP-S late) is darker, not near white."""
    white = _lab("#ffffff")
    for method in plots.METHOD_COLORS:
        arms = [(f"{method} {k}", method) for k in range(3)]
        for colour in plots.arm_palette(arms).values():
            assert np.linalg.norm(_lab(colour) - white) > 20, method


def _width(fig) -> float:
    return float(fig.get_size_inches()[0])


def test_figures_fit_the_text_column_unshrunk() -> None:
    """No helper draws wider than the book's text column, where a wider figure would be
    shrunk together with its labels."""
    rng = np.random.default_rng(0)
    s = rng.uniform(0, 1.4, (12, 40))
    windows = {"early": (0, 3), "late": (6, 9)}
    hist = [{"epoch": e, "train_loss": 1 / (e + 1), "train_acc": 0.9, "val_acc": 0.8}
            for e in range(5)]  # fmt: skip
    long = _long()
    per_seed = pd.DataFrame([{"comparison": "A − B", "rate": 0.02, "seed": k, "protocol": p,
                              "diff": float(k)} for k in range(2) for p in ("paper", "clean")])  # fmt: skip
    summary = pd.DataFrame({"method": ["eva", "random"], "rate": [0.05, 0.05], "mean": [80.0, 79.0],
                            "std": [1.0, 1.0]})  # fmt: skip
    figures = [
        plots.learning_curves(hist, "t"),
        plots.score_trajectories(s, [0, 1], ["a", "b"], "t", windows=list(windows.values())),
        plots.accuracy_vs_rate(summary, "t"),
        plots.ablation_bars(long, "t"),
        plots.trajectories_with_window_stats(
            s, plots.representative_samples(s, windows), windows, "t"
        ),  # fmt: skip
        plots.paired_bars(per_seed, "t", "A − B"),
    ]
    for fig in figures:
        assert _width(fig) <= plots.MAX_WIDTH + 1e-9, fig.axes[0].get_title()
        plt.close(fig)


def _grid(n: int) -> pd.DataFrame:
    labels = [f"[{2 * i}, {2 * i + 2})" for i in range(n)]
    m = pd.DataFrame(np.nan, index=labels, columns=labels)
    for i in range(n):
        for j in range(i, n):
            m.iloc[i, j] = 50.0 + i + j
    return m


def test_grid_heatmaps_write_legible_values_in_every_cell() -> None:
    panels = [[(f"{r} · {p}", _grid(8)) for p in ("paper", "clean")] for r in ("2%", "5%")]
    fig = plots.grid_heatmaps(panels, "t")
    assert _width(fig) <= plots.MAX_WIDTH + 1e-9
    heat = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in heat] == ["2% · paper", "2% · clean", "5% · paper",
                                               "5% · clean"]  # fmt: skip
    for ax in heat:
        texts = [t for t in ax.texts if t.get_text()]
        assert len(texts) == 8 * 9 // 2  # the upper triangle and the diagonal
        assert min(t.get_fontsize() for t in texts) >= 7
    plt.close(fig)
    fig = plots.grid_heatmaps([[("big", _grid(20))]], "t")  # too many cells: colours only
    assert not [t for ax in fig.axes for t in ax.texts if t.get_text()]
    plt.close(fig)


def test_missing_convention_draws_the_overlap_and_the_affected_shares() -> None:
    table = pd.DataFrame({"rate": [0.02, 0.05], "m": [10, 25], "jaccard": [0.9, 1.0],
                          "affected_all": [0.04, 0.04], "affected_mask": [0.05, 0.04],
                          "affected_zero": [0.11, 0.08]})  # fmt: skip
    fig = plots.missing_convention(table, "title")
    left, right = fig.axes[:2]
    assert [round(b.get_height(), 6) for b in left.patches] == [0.9, 1.0]
    assert sorted(round(b.get_height(), 6) for b in right.patches) == [4, 4, 4, 5, 8, 11]
    assert [t.get_text() for t in right.get_xticklabels()] == ["2", "5"]
    assert len(fig.legends[0].get_texts()) == 3  # one legend, below the panels
    plt.close(fig)


# ----------------------------------------------------------------------------- PIE


def test_pie_pruning_draws_three_accuracy_lines_and_two_pie_lines() -> None:
    table = pd.DataFrame({"sparsity": [0.0, 0.5, 0.9], "accuracy": [90.0, 89.0, 70.0],
                          "balanced_accuracy": [85.0, 84.0, 60.0],
                          "worst_class_accuracy": [70.0, 65.0, 20.0],
                          "pie_train": [0.0, 1.0, 9.0], "pie_test": [0.0, 2.0, 12.0]})  # fmt: skip
    fig = plots.pie_pruning(table, "t")
    ax1, ax2 = fig.axes
    assert [ln.get_label() for ln in ax1.get_lines()] == ["overall", "balanced", "worst class"]
    assert list(ax1.get_lines()[2].get_xdata()) == [0.0, 50.0, 90.0]
    assert list(ax2.get_lines()[1].get_ydata()) == [0.0, 2.0, 12.0]
    plt.close(fig)


def test_pie_classes_draws_dense_and_pruned_bars_and_the_htl_histogram() -> None:
    per_class = pd.DataFrame({"class": ["a", "b", "c"], "train_share": [50.0, 30.0, 20.0],
                              "dense_acc": [90.0, 80.0, 70.0],
                              "pruned_acc_0.9": [85.0, 60.0, 10.0],
                              "drop": [5.0, 20.0, 60.0], "mean_htl": [0.1, 0.2, 0.5]})  # fmt: skip
    fig = plots.pie_classes(per_class, np.array([0.0, 0.0, 0.5, 1.0]), "t")
    ax1, ax2 = fig.axes
    assert [c.get_label() for c in ax1.containers] == ["dense", "pruned 90%"]
    assert [p.get_height() for p in ax1.containers[1]] == [85.0, 60.0, 10.0]
    assert [p.get_height() for p in ax2.patches] == [50.0, 25.0, 25.0]  # HTL 0, 0.5, 1
    plt.close(fig)


def test_pie_coresets_draws_one_errorbar_line_per_method_and_panel() -> None:
    summary = pd.DataFrame([
        {"method": m, "rate": r, "accuracy_mean": a + 10 * r, "accuracy_std": 1.0,
         "worst_class_accuracy_mean": a - 20, "worst_class_accuracy_std": float("nan")}
        for m, a in (("eva", 60.0), ("pie", 40.0), ("random", 55.0)) for r in (0.05, 0.3)
    ])  # fmt: skip
    fig = plots.pie_coresets(summary, "t")
    ax1, ax2 = fig.axes
    for ax in (ax1, ax2):
        assert len(ax.containers) == 3
        assert [c.get_label() for c in ax.containers] == ["EVA", "HTL (PIE)", "Random"]
    assert ax1.get_lines()[0].get_color() == plots.method_color("eva")
    assert list(ax1.get_xticks()) == [5.0, 30.0]
    plt.close(fig)


def test_pie_emphasis_draws_bars_per_variant_and_a_line_per_variant() -> None:
    summary = pd.DataFrame([
        {"variant": v, **{f"{m}_{s}": x + (1.0 if s == "mean" else 0.5)
                          for m in ("accuracy", "balanced_accuracy", "worst_class_accuracy")
                          for s in ("mean", "std")}}
        for v, x in (("uniform", 80.0), ("weighted λ=2", 81.0))
    ])  # fmt: skip
    per_class = pd.DataFrame({"uniform": [90.0, 70.0], "weighted λ=2": [88.0, 75.0]},
                             index=pd.Index(["a", "b"], name="class"))  # fmt: skip
    fig = plots.pie_emphasis(summary, per_class, "t")
    ax1, ax2 = fig.axes
    assert [c.get_label() for c in ax1.containers if c.get_label()[0] != "_"] == [
        "uniform", "weighted λ=2"]  # fmt: skip
    assert len(ax1.patches) == 6  # 2 variants x 3 metrics
    assert [ln.get_label() for ln in ax2.get_lines()] == ["uniform", "weighted λ=2"]
    assert list(ax2.get_lines()[1].get_ydata()) == [88.0, 75.0]
    plt.close(fig)


# ----------------------------------------------------------------------------- segmentation


def _seg_summary() -> pd.DataFrame:
    rows = [{"method": m, "rate": r, "mean": 0.5 + 0.1 * i + r / 10, "std": 0.01}
            for i, m in enumerate(plots.SEG_METHODS) for r in (0.2, 0.5)]  # fmt: skip
    return pd.DataFrame(rows)


def test_seg_mosaics_draws_images_over_their_labels() -> None:
    images = np.zeros((5, 1, 56, 56), np.uint8)
    masks = np.zeros((5, 56, 56), np.int64)
    labels = np.array([[0, 1, 2, 0]] * 5)
    fig = plots.seg_mosaics(images, masks, labels, ["liver", "kidney", "lung"], "mosaics", n=3)
    axes = fig.axes
    assert len(axes) == 6 and all(len(ax.images) == 1 for ax in axes)
    assert axes[0].get_title() == "liver, kidney,\nlung, liver"  # every name in full
    plt.close(fig)


def test_seg_scores_draws_curve_scatter_and_histogram() -> None:
    history = pd.DataFrame({"epoch": [0, 1, 2], "train_soft_dice": [0.2, 0.4, 0.5]})
    scores = pd.DataFrame({"dad": [0.1, 0.5, 0.9, 0.4], "el2n": [0.8, 0.4, 0.1, 0.5]})
    fig = plots.seg_scores(history, scores, 2, "scores")
    curve, scatter, hist = fig.axes
    assert list(curve.lines[0].get_xdata()) == [1, 2, 3]
    assert len(scatter.collections[0].get_offsets()) == 4
    assert "epochs 0–1" in scatter.get_xlabel()
    assert sum(p.get_height() for p in hist.patches) == 4
    plt.close(fig)
    empty = plots.seg_scores(pd.DataFrame(columns=["epoch", "train_soft_dice"]),
                             pd.DataFrame(columns=["dad", "el2n"]), 1, "nothing yet")  # fmt: skip
    assert not empty.axes[0].lines and not empty.axes[2].patches
    plt.close(empty)


def test_seg_pruning_draws_one_line_per_rule_and_the_full_reference() -> None:
    fig = plots.seg_pruning(_seg_summary(), "pruning", full=0.9)
    ax = fig.axes[0]
    assert ax.get_legend_handles_labels()[1][0] == "full training set"
    assert [c.get_label() for c in ax.containers] == [
        "Random", "EL2N (pixel mean)", "DAD keep-hard", "DAD keep-easy", "DAD keep-ambiguous"]  # fmt: skip
    assert len(ax.containers) == 5  # one errorbar line per rule
    full = [ln for ln in ax.lines if list(ln.get_ydata()) == [0.9, 0.9]]
    assert len(full) == 1
    assert [t.get_text() for t in ax.get_xticklabels()] == ["20", "50"]
    plt.close(fig)
    empty = plots.seg_pruning(_seg_summary().iloc[:0], "nothing yet")
    assert empty.axes[0].get_legend() is None
    plt.close(empty)


# ----------------------------------------------------------------------------- distillation


def _distill_summary() -> pd.DataFrame:
    rows = [{"dataset": d, "method": m, "ipc": i, "mean": 50.0 + i + k, "std": 1.0}
            for d in ("bloodmnist", "breastmnist") for i in (1, 10)
            for k, m in enumerate(("distilled", "random", "eva"))]  # fmt: skip
    rows += [{"dataset": d, "method": "full", "ipc": np.nan, "mean": 90.0, "std": np.nan}
             for d in ("bloodmnist", "breastmnist")]  # fmt: skip
    return pd.DataFrame(rows)


def test_distill_accuracy_draws_one_line_per_method_and_the_full_set() -> None:
    fig = plots.distill_accuracy(_distill_summary(), "t")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["BloodMNIST", "BreastMNIST"]
    for ax in axes:
        assert len(ax.containers) == 3  # one errorbar line per method
        gids = {ln.get_gid() for ln in ax.get_lines()} - {None}
        assert gids == {"method-distilled", "method-random", "method-eva", "full"}
        full = [ln for ln in ax.get_lines() if ln.get_gid() == "full"]
        assert len(full) == 1 and full[0].get_ydata()[0] == 90.0
        assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "10"]
    assert _width(fig) <= plots.MAX_WIDTH + 1e-9
    plt.close(fig)


def test_distill_images_shows_one_image_per_class() -> None:
    examples = {"bloodmnist": (np.random.default_rng(0).random((3, 8, 8, 3)), ["a", "b", "c"]),
                "breastmnist": (np.zeros((2, 8, 8, 1)), ["x", "y"])}  # fmt: skip
    fig = plots.distill_images(examples, "t")
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 5 and [ax.get_title() for ax in shown] == ["a", "b", "c", "x", "y"]
    assert shown[-1].images[0].get_array().ndim == 2  # grey images drawn as one channel
    assert _width(fig) <= plots.MAX_WIDTH + 1e-9
    plt.close(fig)


def test_distill_losses_draws_one_curve_per_budget() -> None:
    syn = pd.DataFrame([{"dataset": "bloodmnist", "ipc": i, "loss_curve": [[0.5, 4.0], [2.5, 1.0]]}
                        for i in (10, 1)])  # fmt: skip
    fig = plots.distill_losses(syn, "t")
    ax = fig.axes[0]
    assert [ln.get_gid() for ln in ax.get_lines()] == ["ipc-1", "ipc-10"]
    assert ax.get_lines()[0].get_ydata().tolist() == [4.0, 1.0] and ax.get_yscale() == "log"
    plt.close(fig)


def test_distill_predictor_draws_points_the_diagonal_and_zero() -> None:
    from evalib.studies import distill_core

    points = distill_core.predictor_table(_distill_summary())
    fig = plots.distill_predictor(points, "t")
    left, right = fig.axes
    assert {c.get_gid() for c in left.collections} == {"points-bloodmnist", "points-breastmnist"}
    assert {c.get_gid() for c in right.collections} == {"gain-bloodmnist", "gain-breastmnist"}
    assert [ln.get_gid() for ln in left.get_lines()] == ["diagonal"]
    assert [ln.get_gid() for ln in right.get_lines()] == ["zero-line"]
    assert len(left.texts) == 4  # one IPC label per point
    assert _width(fig) <= plots.MAX_WIDTH + 1e-9
    plt.close(fig)


def test_overlap_heatmaps_name_every_arm_on_both_axes() -> None:
    arms = [f"[{5 * i}, {5 * i + 5})" for i in range(30)]
    mat = pd.DataFrame(np.eye(30), index=arms, columns=arms)
    figs = plots.overlap_heatmaps({0.02: mat, 0.05: mat}, "t")
    assert len(figs) == 2
    ax = figs[0].axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == arms
    assert [t.get_text() for t in ax.get_yticklabels()] == arms
    assert figs[0]._suptitle.get_text() == "t · rate 2\u00a0%"  # over the figure, not the axes
    assert figs[0].get_size_inches()[0] <= plots.MAX_WIDTH
    for f in figs:
        plt.close(f)


# ----------------------------------------------------------------------------- legibility


def test_text_size_is_measured_on_the_page_and_small_text_is_rejected() -> None:
    """A label's size on the page is its type size × dpi / 72 × the scale at which the
    text column shows the figure: 8 pt is fine on a figure as wide as the column, 5 pt is
    not, and the same 8 pt on a figure twice the column's width is scaled below 8 px."""
    from evalib.book.plots import style

    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot([0, 1], [0, 1])
    ax.set_title("fine", fontsize=8)
    ax.tick_params(labelsize=8)
    ax.set_xlabel("rate", fontsize=8)
    ax.set_ylabel("accuracy", fontsize=8)
    assert style.rendered_width_px(fig) <= style.COLUMN_PX
    assert style.legibility_problems(fig) == []
    ax.set_xlabel("too small", fontsize=5)
    (problem,) = style.legibility_problems(fig)
    assert problem.startswith("'too small' is 6.9 px")
    with pytest.raises(style.FigureTextError, match="too small"):
        style.check_figure(fig)
    ax.set_xlabel("rate", fontsize=8)
    fig.set_size_inches(16, 3)  # twice the column: shown at half size
    assert any("scaled ×0.4" in p or "scaled ×0.5" in p for p in style.legibility_problems(fig))
    plt.close(fig)


def test_code_names_lists_overlaps_and_covered_data_are_reported() -> None:
    from evalib.book.plots import style

    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(range(10), [0, 9, 0, 9, 0, 9, 0, 9, 0, 9], label="clean_test_acc")
    ax.legend(loc="upper center")  # over the line's peaks and segments
    ax.set_title(str(["2%", "5%"]))
    found = " | ".join(style.legibility_problems(fig))
    assert "code name 'clean_test_acc'" in found and "Python list" in found
    assert "legend of" in found and "covers data" in found
    ax.get_legend().remove()
    ax.get_lines()[0].set_label("test accuracy")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside the axes: fine
    ax.set_title("accuracy")
    ax.set_xticks(range(10), [f"a long label {i}" for i in range(10)])
    found = " | ".join(style.legibility_problems(fig))
    assert "tick labels 'a long label 0' and 'a long label 1' overlap" in found
    assert "legend" not in found and "code name" not in found
    # turned labels: their boxes overlap, their lines of text need not
    ax.set_xticks(range(10), [f"a long label {i}" for i in range(10)], rotation=45, ha="right")
    assert not [p for p in style.legibility_problems(fig) if "overlap" in p]
    ax.set_xticks([i / 10 for i in range(10)], [f"label {i}" for i in range(10)], rotation=90)
    assert [p for p in style.legibility_problems(fig) if "overlap" in p]
    plt.close(fig)


def test_every_figure_a_notebook_shows_is_checked() -> None:
    """``setup_style`` installs the check into IPython's figure formatter: an illegible
    figure is not drawn (its error goes into the notebook instead), a legible one is."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.core.pylabtools import select_figure_formats
    from matplotlib.figure import Figure

    from evalib.book.plots import style

    shell = InteractiveShell.instance()
    try:
        select_figure_formats(shell, {"png"})
        assert style.install_figure_check(shell) and style.install_figure_check(shell)
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.plot([0, 1])
        assert "image/png" in shell.display_formatter.format(fig)[0]
        ax.set_title("tiny", fontsize=4)
        assert "image/png" not in shell.display_formatter.format(fig)[0]
        plt.close(fig)
    finally:
        shell.display_formatter.formatters["image/png"].pop(Figure, None)
        InteractiveShell.clear_instance()
    assert style.install_figure_check(None) is False  # not under IPython: nothing to do


def test_every_helper_figure_is_legible_on_the_page() -> None:
    """Each helper's figure, on data shaped like the book's, passes the check every
    notebook applies to what it shows."""
    from evalib.book.plots import style

    rng = np.random.default_rng(0)
    s = rng.uniform(0, 1.4, (12, 40))
    windows = {"early": (0, 3), "late": (6, 9)}
    hist = [{"epoch": e, "train_loss": 1 / (e + 1), "train_acc": 0.5 + e / 10, "val_acc": 0.8}
            for e in range(5)]  # fmt: skip
    per_seed = pd.DataFrame([{"comparison": c, "rate": r, "seed": k, "protocol": p,
                              "diff": float(k) - 1} for c in ("VAR-S − EXP-S", "VAR-D − EXP-D")
                             for r in (0.02, 0.05) for k in range(3)
                             for p in ("paper", "clean")])  # fmt: skip
    arms = [f"[{5 * i}, {5 * i + 5})" for i in range(8)]
    arms += [f"{a} + {b}" for i, a in enumerate(arms) for b in arms[i + 1 :]]
    mat = pd.DataFrame(rng.uniform(0, 1, (len(arms), len(arms))), index=arms, columns=arms)
    figures = [
        plots.learning_curves(hist, "surrogate"),
        plots.ablation_bars(_long(), "t", order=["EXP-S", "VAR-S", "Random"]),
        plots.trajectories_with_window_stats(
            s, plots.representative_samples(s, windows), windows, "t"
        ),  # fmt: skip
        plots.paired_bars(per_seed, "t", "VAR − EXP (points)"),
        plots.grid_heatmaps(
            [[(f"{r} · {p}", _grid(8)) for p in ("paper", "clean")] for r in ("2 %", "5 %")], "t"
        ),  # fmt: skip
        *plots.overlap_heatmaps({0.02: mat}, "t"),
    ]
    for fig in figures:
        assert style.legibility_problems(fig) == [], fig.get_suptitle()
        plt.close(fig)
