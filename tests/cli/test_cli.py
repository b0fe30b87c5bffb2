"""The `evalib` command end to end: train on real data, score and select with every method."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalib import dynamics as dm
from evalib.cli import main
from evalib.scores import METHODS

RATES = ["0.02", "0.05", "0.1", "0.2", "0.3"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from tests.conftest import SHARED_DATA

    if not (SHARED_DATA / "organamnist.npz").exists():
        pytest.skip("real OrganAMNIST not available")
    out = tmp_path_factory.mktemp("cli") / "dyn.npz"
    code = main(["train", "--dataset", "organamnist", "--data-root", str(SHARED_DATA),
                 "--model", "resnet18", "--width", "0.125", "--subset", "2000", "--epochs", "4",
                 "--amp", "bf16", "--threads", "1", "--quiet", "--out", str(out)])  # fmt: skip
    assert code == 0
    return out


def test_train_writes_probability_dynamics(trained):
    d = dm.load(trained)
    assert d.shape == (4, 2000, 11)
    np.testing.assert_allclose(np.exp(d.log_probs.astype(np.float64)).sum(-1), 1.0, atol=5e-3)
    assert d.seen.all() and d.eval_log_probs.shape == (1, 2000, 11)
    assert d.meta["dataset"] == "organamnist" and len(d.meta["history"]) == 4
    assert len(np.unique(d.sample_ids)) == 2000 and d.sample_ids.max() < 34561


DUAL = ["-p", "early=0,2", "-p", "late=2,4"]
PARAMS = {  # windows that fit 4 recorded epochs
    **{m: DUAL for m in ("eva", "eva_paper", "exp_d", "var_d", "eva_official")},
    "exp_s": ["-p", "window=0,2"],
    "var_s": ["-p", "window=0,2"],
    "el2n": ["-p", "end=2"],
    "tdds": ["-p", "length=4", "-p", "window=2"],
}


@pytest.mark.parametrize("method", sorted(METHODS))
def test_select_every_method_at_every_rate(trained, method, tmp_path, capsys):
    args = ["select", "--dynamics", str(trained), "--method", method, *PARAMS.get(method, []),
            "--rate", *RATES, "--out-dir", str(tmp_path)]  # fmt: skip
    code = main(args)
    err = capsys.readouterr().err
    assert code == 0, err
    scores = pd.read_csv(tmp_path / f"{method}-scores.csv")
    assert len(scores) == 2000
    for rate in RATES:
        ids = np.load(tmp_path / f"{method}-{float(rate):g}.npy")
        assert len(ids) == int(np.ceil(float(rate) * 2000 - 1e-9))
        assert len(np.unique(ids)) == len(ids)
        table = pd.read_csv(tmp_path / f"{method}-{float(rate):g}.csv")
        assert table["sample_id"].tolist() == ids.tolist()


def test_score_writes_npy(trained, tmp_path):
    assert main(["score", "--dynamics", str(trained), "--method", "aum",
                 "--out", str(tmp_path / "aum.npy")]) == 0  # fmt: skip
    assert np.load(tmp_path / "aum.npy").shape == (2000,)


def test_info_lists_datasets(capsys, tmp_path):
    assert main(["info", "--data-root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"data root: {tmp_path} (--data-root)" in out
    assert "organsmnist" in out and "missing (downloads on first use)" in out


def test_methods_lists_registry(capsys):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in METHODS)


def test_grid_dry_run_counts_the_notebook_jobs(tmp_path, capsys):
    argv = ["grid", "--profile", "smoke", "--datasets", "breastmnist", "--what", "table1",
            "--results-dir", str(tmp_path), "--dry-run"]  # fmt: skip
    assert main(argv) == 0
    # smoke: 1 seed × (full + 7 arms × 2 rates + the same 7 arms under the floor budget at 5 %)
    assert "22 jobs: 0 in" in capsys.readouterr().out


def test_grid_finds_the_committed_results_from_any_folder(tmp_path, monkeypatch, capsys):
    from pathlib import Path

    from evalib.runs.batch import collect
    from evalib.runs.cache import ENV_RESULTS, Cache
    from evalib.runs.config import get_profile
    from evalib.studies import grids

    repo = Path(__file__).resolve().parents[2]
    monkeypatch.delenv(ENV_RESULTS, raising=False)
    monkeypatch.chdir(tmp_path)
    argv = ["grid", "--profile", "smoke", "--datasets", "organamnist", "--what", "table1",
            "--scratch", str(tmp_path / "scratch"), "--dry-run"]  # fmt: skip
    assert main(argv) == 0
    profile = get_profile("smoke")
    cache = Cache(repo / "results" / "smoke", tmp_path / "scratch")
    jobs = [p.job for p in grids.study("table1", profile, "organamnist", cache)]
    done, missing = collect(jobs, cache)
    out = capsys.readouterr().out
    assert f"{len(done)} in {repo / 'results' / 'smoke'}, {len(missing)} to run" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scratch"]


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["select", "-h"]])
def test_help_exits_zero(argv, capsys):
    assert main(argv) == 0
    assert "usage: evalib" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "the following arguments are required: COMMAND"),
        (["trian"], "invalid choice: 'trian'"),
        (["train", "--dataset", "organamnist"], "the following arguments are required: --out"),
        (["select", "--rounding", "round"], "argument --rounding: invalid choice: 'round'"),
    ],
)
def test_usage_errors_are_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("evalib: error: ") and "\n" not in err and message in err, err
