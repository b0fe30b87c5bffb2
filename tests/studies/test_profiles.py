"""Claims under two profiles, side by side, on hand-made comparison tables."""

from __future__ import annotations

import pandas as pd

from evalib.studies.profiles import side_by_side, verdict_changes
from evalib.studies.stats import CONTRADICTED, HOLDS, INCONCLUSIVE, UNTESTED


def _rows(verdicts: dict[tuple[str, float], tuple[float, str]], protocol="clean") -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "dataset": "bloodmnist",
                "protocol": protocol,
                "claim": claim,
                "part": f"part {claim}",
                "rate": rate,
                "budget": "epochs",
                "diff": d,
                "ci95": 2.0,
                "n_seeds": 3,
                "verdict": v,
            }
            for (claim, rate), (d, v) in verdicts.items()
        ]  # fmt: skip
    )


def test_side_by_side_keeps_parts_both_profiles_tested():
    a = _rows({("1", 0.02): (-30.0, CONTRADICTED), ("1", 0.05): (-20.0, CONTRADICTED),
               ("2a", 0.02): (-5.0, HOLDS)})  # fmt: skip
    b = _rows({("1", 0.02): (1.0, INCONCLUSIVE), ("4", 0.02): (0.5, INCONCLUSIVE)})
    out = side_by_side({"cpu": a, "cpu200": b})
    assert list(out["rate"]) == [0.02]  # 5 % only under cpu, claim 4 only under cpu200
    row = out.iloc[0]
    assert (row["diff cpu"], row["diff cpu200"]) == (-30.0, 1.0)
    assert (row["verdict cpu"], row["verdict cpu200"]) == (CONTRADICTED, INCONCLUSIVE)
    assert row["n cpu200"] == 3


def test_side_by_side_reads_one_protocol_and_the_claims_asked():
    a = pd.concat([_rows({("1", 0.02): (-3.0, CONTRADICTED)}),
                   _rows({("1", 0.02): (9.0, HOLDS)}, protocol="paper")])  # fmt: skip
    out = side_by_side({"cpu": a, "cpu200": a}, protocol="paper")
    assert list(out["diff cpu"]) == [9.0]
    assert side_by_side({"cpu": a, "cpu200": a}, claims=("4",)).empty
    assert side_by_side({"cpu": a, "cpu200": pd.DataFrame()}).empty


def test_verdict_changes_combines_rates_like_the_claims():
    a = _rows({("1", 0.02): (-30.0, CONTRADICTED), ("1", 0.05): (-1.0, INCONCLUSIVE)})
    b = _rows({("1", 0.02): (2.0, HOLDS), ("1", 0.05): (1.0, HOLDS)})
    same = _rows({("1", 0.02): (-10.0, CONTRADICTED), ("1", 0.05): (0.0, INCONCLUSIVE)})
    changed = verdict_changes(side_by_side({"cpu": a, "cpu200": b}), ["cpu", "cpu200"])
    assert changed.to_dict("records") == [
        {"claim": "1", "dataset": "bloodmnist", "budget": "epochs", "cpu": CONTRADICTED,
         "cpu200": HOLDS, "changed": True}
    ]  # fmt: skip
    kept = verdict_changes(side_by_side({"cpu": a, "cpu200": same}), ["cpu", "cpu200"])
    assert kept["changed"].tolist() == [False] and kept["cpu200"].iloc[0] == CONTRADICTED


def test_window_variance_shares_sum_to_one_and_follow_the_variance():
    import numpy as np

    from evalib.scores import WindowStats
    from evalib.studies.overlaps import window_variance_shares

    # error norms [T=4, N=2]: sample 0 varies in epochs 0-1 only, sample 1 is constant
    s = np.array([[0.0, 0.5], [1.0, 0.5], [1.0, 0.5], [1.0, 0.5]])
    shares = window_variance_shares(WindowStats(s), [(0, 2), (2, 4)])
    assert shares["total"].tolist() == [0.25, 0.0]  # population variance of (0, 1)
    assert shares["share"].tolist() == [1.0, 0.0]
    assert shares["end_frac"].tolist() == [0.5, 1.0]


def test_surrogate_history_reads_the_committed_record(tmp_path):
    import json

    from evalib.runs.cache import atomic_write_json
    from evalib.runs.config import get_profile
    from evalib.studies.profiles import surrogate_history

    cfg = get_profile("cpu").surrogate_config("bloodmnist", 3)
    path = tmp_path / "cpu" / "surrogates" / f"{cfg.key()}.json"
    path.parent.mkdir(parents=True)
    history = [{"epoch": e, "train_acc": a} for e, a in enumerate([0.5, 0.9])]
    atomic_write_json(path, {"key": cfg.key(), "history": history})
    curve = surrogate_history(tmp_path, "cpu", "bloodmnist", 3)
    assert curve["train_acc"].tolist() == [0.5, 0.9]
    assert curve["frac"].tolist() == [1 / 40, 2 / 40]  # of the profile's 40 epochs
    assert surrogate_history(tmp_path, "cpu200", "bloodmnist", 3).empty
    json.dumps(curve.to_dict("list"))


def test_shares_by_profile_sets_one_arm_of_each_profile_beside_the_first_reference():
    from evalib.studies.profiles import shares_by_profile

    def summary(arms, rates):
        return pd.DataFrame([{"arm": a, "rate": r, "class": 0, "share": 0.1} for a in arms
                             for r in rates])  # fmt: skip

    both = shares_by_profile({"cpu": summary(["random", "eva_tuned", "eva_published"],
                                             [0.02, 0.05, 0.1]),
                              "cpu200": summary(["random", "eva_tuned"], [0.02, 0.05])})  # fmt: skip
    assert sorted(set(both["arm"])) == ["eva_tuned · cpu", "eva_tuned · cpu200", "random"]
    assert set(both["rate"]) == {0.02, 0.05}  # the rates every profile has
    assert len(both) == 6
    assert shares_by_profile({"cpu": summary(["random"], [0.02])}).empty  # no EVA rows


def test_the_class_balance_checks_join_where_both_profiles_ran_them():
    """1cb is compared where both profiles have it, and nowhere else: not where the second
    profile's table lacks it, nor where it says "not tested" (cpu200 on BloodMNIST)."""
    a = _rows({("1", 0.02): (-30.0, CONTRADICTED), ("1cb", 0.02): (-14.0, CONTRADICTED)})
    b = _rows({("1", 0.02): (-40.0, CONTRADICTED), ("1cb", 0.02): (-3.0, INCONCLUSIVE)})
    out = side_by_side({"cpu": a, "cpu200": b})
    assert list(out["claim"]) == ["1", "1cb"]
    changes = verdict_changes(out, ["cpu", "cpu200"]).set_index("claim")["changed"]
    assert changes.to_dict() == {"1": False, "1cb": True}
    assert list(side_by_side({"cpu": a, "cpu200": b.iloc[:1]})["claim"]) == ["1"]
    untested = b.assign(verdict=[CONTRADICTED, UNTESTED], diff=[-40.0, float("nan")])
    out = side_by_side({"cpu": a, "cpu200": untested})
    assert list(out["claim"]) == ["1"]
    assert not verdict_changes(out, ["cpu", "cpu200"])["changed"].any()
