"""Display helpers for tables: integers, p-values, empty columns, wide tables."""

from __future__ import annotations

import math

import pandas as pd

from evalib import tables


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
    assert list(out["n_seeds"]) == ["3", "1"] and list(out["steps"]) == ["400", "1200"]
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
    from evalib import paper

    rows = [("random", 0.02, 50.0), ("el2n", 0.02, 55.0), ("ccs", 0.02, 52.0),
            ("eva_published", 0.02, 40.0), ("eva_tuned", 0.02, 60.0), ("full", 1.0, 90.0)]  # fmt: skip
    table = pd.DataFrame(rows, columns=["method", "rate", "ours_mean"])
    out = paper.eva_gaps(table).iloc[0]
    assert out["eva_arm"] == "eva_tuned" and out["eva_minus_random"] == 10.0
    assert out["best_other"] == "el2n" and out["eva_minus_best_other"] == 5.0
    without = paper.eva_gaps(table[table["method"] != "eva_tuned"]).iloc[0]
    assert without["eva_arm"] == "eva_published" and without["eva_minus_random"] == -10.0
