"""Display helpers for tables: integers, p-values, empty columns, wide tables."""

from __future__ import annotations

import math

import pandas as pd

from evalib.book import tables


def test_format_p() -> None:
    assert tables.format_p(0.0004) == "< 0.001"
    assert tables.format_p(0.001) == "0.001"
    assert tables.format_p(0.2468) == "0.247"
    assert tables.format_p(math.nan) == tables.MISSING
    assert tables.format_p("x") == tables.MISSING


def test_for_display_formats_each_kind_of_column() -> None:
    df = pd.DataFrame({
        "method": ["eva", "random"],
        "n_seeds": [3.0, 1.0],  # floats because a NaN elsewhere made them so
        "diff": [1.23456, math.nan],
        "p_value": [1e-5, 0.04],
        "empty": [math.nan, math.nan],
        "steps": [400, 1200],
    })  # fmt: skip
    out = tables.for_display(df)
    assert list(out.columns) == ["method", "n_seeds", "diff", "p_value", "steps"]
    assert list(out["n_seeds"]) == ["3", "1"] and list(out["steps"]) == ["400", "1,200"]
    assert list(out["diff"]) == ["1.23", tables.MISSING]
    assert list(out["p_value"]) == ["< 0.001", "0.040"]
    assert list(out["method"]) == ["eva", "random"]
    assert tables.for_display(df, digits_by_column={"diff": 1})["diff"][0] == "1.2"
    assert df["n_seeds"].dtype == float  # the input is not changed


def test_integer_columns() -> None:
    df = pd.DataFrame({"a": [1.0, 2.0, math.nan], "b": [1.5, 2.0, 3.0], "c": ["x", "y", "z"],
                       "d": [True, False, True]})  # fmt: skip
    assert tables.integer_columns(df) == ["a"]


def test_split_and_fit_wide_tables() -> None:
    wide = pd.DataFrame({"rate": [0.02, 0.05], **{f"m{i}": [i, i + 1] for i in range(10)}})
    parts = tables.split_wide(wide, keys=["rate"], max_columns=4)
    assert all(p.columns[0] == "rate" and p.shape[1] <= 4 for p in parts)
    assert [c for p in parts for c in p.columns if c != "rate"] == [f"m{i}" for i in range(10)]
    fitted = tables.fit_width(wide, keys=["rate"], max_columns=4)
    assert len(fitted) == 1 and fitted[0].shape == (10, 2)  # transposed: short and wide
    tall = pd.concat([wide] * 5, ignore_index=True)
    assert len(tables.fit_width(tall, keys=["rate"], max_columns=4)) == len(parts)
    small = wide.iloc[:, :3]
    assert tables.fit_width(small, max_columns=4)[0] is small


def test_eva_gaps_prefers_the_tuned_arm_and_names_the_best_other() -> None:
    from evalib.studies import paper

    rows = [("random", 0.02, 50.0), ("el2n", 0.02, 55.0), ("ccs", 0.02, 52.0),
            ("eva_published", 0.02, 40.0), ("eva_tuned", 0.02, 60.0), ("full", 1.0, 90.0)]  # fmt: skip
    table = pd.DataFrame(rows, columns=["method", "rate", "ours_mean"])
    out = paper.eva_gaps(table).iloc[0]
    assert out["eva_arm"] == "eva_tuned" and out["eva_minus_random"] == 10.0
    assert out["best_other"] == "el2n" and out["eva_minus_best_other"] == 5.0
    without = paper.eva_gaps(table[table["method"] != "eva_tuned"]).iloc[0]
    assert without["eva_arm"] == "eva_published" and without["eva_minus_random"] == -10.0


def test_whole_floats_are_integers_only_where_they_count_something() -> None:
    df = pd.DataFrame({
        "n_seeds": [3.0, 3.0],  # a count stored as float
        "steps": [400.0, 1200.0],
        "chosen_val": [92.0, 91.0],  # an accuracy that happens to be whole
        "jaccard": [1.0, 1.0],
        "with_gap": [2.0, math.nan],  # float only because of the NaN
    })  # fmt: skip
    assert tables.integer_columns(df) == ["n_seeds", "steps", "with_gap"]
    out = tables.for_display(df)
    assert list(out["n_seeds"]) == ["3", "3"] and list(out["with_gap"]) == ["2", tables.MISSING]
    assert list(out["chosen_val"]) == ["92.00", "91.00"]


def test_float_digits() -> None:
    assert tables.float_digits([0.02, 0.05, 0.1]) == 2
    assert tables.float_digits([0.005, 0.3]) == 3  # a rate keeps its last digit
    assert tables.float_digits([0.3612, 0.5181]) == 3  # Dice, Jaccard: three decimals
    assert tables.float_digits([81.645, 12.3]) == 2
    assert tables.float_digits([math.nan]) == 2


def test_fit_page_keeps_narrow_tables_and_transposes_short_wide_ones() -> None:
    narrow = pd.DataFrame({"method": ["eva", "random"], "mean": [80.123, 79.0]})
    (only,) = tables.fit_page(narrow)
    assert list(only["mean"]) == ["80.12", "79.00"]
    wide = pd.DataFrame({"variant": ["uniform", "weighted"],
                         **{f"long_metric_name_{i}": [90.0 + i, 91.5] for i in range(9)}})  # fmt: skip
    assert tables.display_width(tables.for_display(wide), False) > 40
    (t,) = tables.fit_page(wide, max_chars=40)
    assert list(t.columns) == ["uniform", "weighted"]  # the text column became the header
    assert t.index[0] == "long_metric_name_0"


def test_fit_page_splits_long_wide_tables_repeating_the_key_columns() -> None:
    wide = pd.DataFrame({"dataset": ["organamnist"] * 8, "claim": list("12345612"),
                         **{f"column_number_{i}": range(8) for i in range(10)}})  # fmt: skip
    parts = tables.fit_page(wide, max_chars=60)
    assert len(parts) > 1
    assert all(list(p.columns[:2]) == ["dataset", "claim"] for p in parts)
    assert all(tables.display_width(p, False) <= 60 for p in parts)
    shown = [c for p in parts for c in p.columns if c.startswith("column_number_")]
    assert shown == [f"column_number_{i}" for i in range(10)]


def test_to_html_hides_row_numbers_and_keeps_p_value_floors_together() -> None:
    df = pd.DataFrame({"comparison": ["EVA − Random"], "p_value": [1e-6], "n_seeds": [3.0],
                       "empty": [math.nan]})  # fmt: skip
    page = tables.to_html(df)
    assert "<th>0</th>" not in page and "empty" not in page
    assert "&lt;&nbsp;0.001" in page and ">3<" in page
    assert "<th>p value</th>" in page and "<th>seeds</th>" in page  # headers for readers
    indexed = pd.DataFrame({"mean": [1.5]}, index=pd.Index([0.05], name="rate"))
    assert "<th>5\u00a0%</th>" in tables.to_html(indexed)  # a named index, as a percent


def test_install_display_routes_dataframes_through_to_html() -> None:
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        assert tables.install_display(shell)
        html, _ = shell.display_formatter.format(pd.DataFrame({"p": [1e-9]}))
        assert "&lt;&nbsp;0.001" in html["text/html"]
    finally:
        shell.display_formatter.formatters["text/html"].pop(pd.DataFrame, None)
        InteractiveShell.clear_instance()
    assert tables.install_display(None) is False  # not under IPython: nothing to do


def test_readable_shows_no_code_name_and_rates_as_percents() -> None:
    df = pd.DataFrame({
        "method": ["eva_tuned", "random"], "rate": [0.02, 0.3], "dataset": ["organamnist"] * 2,
        "budget": ["floor", "epochs"], "model": ["resnet18 ×0.125", "vgg ×0.125"],
        "arm": ["var_d", "VAR-S [5, 10)"], "paper_mean": [1.0, -0.004], "ours_ci95": [2.0, 3.0],
    })  # fmt: skip
    out = tables.readable(df)
    assert list(out.columns) == ["method", "rate", "dataset", "training budget", "network", "arm",
                                 "paper, mean", "ours, 95 % CI ±"]  # fmt: skip
    assert list(out["method"]) == ["EVA (tuned)", "Random"]
    assert list(out["rate"]) == ["2\u00a0%", "30\u00a0%"] and out["dataset"][0] == "OrganAMNIST"
    assert list(out["training budget"]) == ["step floor", "paper's epochs"]
    assert list(out["network"]) == ["ResNet-18 ×0.125", "VGG ×0.125"]
    assert list(out["arm"]) == ["VAR-D", "VAR-S [5, 10)"]  # a mixed column: codes only
    shown = tables.for_display(out)
    assert list(shown["paper, mean"]) == ["1.00", "0.00"]  # no negative zero
    wide = pd.DataFrame({0.02: [1.0], 0.05: [-2.5]}).rename_axis(columns="rate")
    assert list(tables.readable(wide).columns) == ["2\u00a0%", "5\u00a0%"]
    assert "−2.50" in tables.to_html(wide)  # the one minus sign


def test_code_names_come_from_the_package_and_its_result_tables() -> None:
    names = tables.code_names()
    # constants of the studies, method keys of the labels, headers the notebooks write
    assert {"clean_test_acc", "eva_tuned", "dad_ambiguous", "n_seeds"} <= names
    assert "accuracy" not in names and "EVA tuned" not in names
    assert tables.reader_problems("mean of clean_test_acc, 3 seeds") == [
        "code name 'clean_test_acc'"]  # fmt: skip
    assert tables.reader_problems("low rates: ['2%', '5%']") == ["Python list \"['2%', '5%']\""]
    assert tables.reader_problems("rates [0.02, 0.05] and window [5, 10)") == [
        "Python list '[0.02, 0.05]'"]  # fmt: skip
    assert tables.reader_problems("EVA (windows tuned on validation) at 2 %") == []


def test_long_text_columns_get_wide_cells() -> None:
    df = pd.DataFrame({"claim": ["1", "2"], "verdict": ["holds", "contradicted"],
                       "why": ["a sentence long enough to need a wide cell, " * 2, "short"]})  # fmt: skip
    page = tables.to_html(df)
    assert page.count('<td class="long-text">') == 2 and page.count("<td>") == 4


def test_a_flag_column_reads_yes_and_no() -> None:
    shown = tables.readable(pd.DataFrame({"narrow": [True, False], "n": [1, 2]}))
    assert list(shown.iloc[:, 0]) == ["yes", "no"] and list(shown.iloc[:, 1]) == [1, 2]
