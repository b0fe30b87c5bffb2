"""Every notebook executes end to end with papermill at the smoke profile."""

from __future__ import annotations

import pytest

from evalib.book.reproduce import NOTEBOOKS, execute, notebook_dir

pytestmark = [pytest.mark.notebooks, pytest.mark.slow]


@pytest.fixture(scope="session")
def nb_dirs(tmp_path_factory):
    base = tmp_path_factory.mktemp("nb")
    return {"results": base / "results", "scratch": base / "scratch", "out": base / "out"}


# Pages that only read what other notebooks computed: those run first when their
# results are not in the session's results folder yet (so each test also runs alone).
READS_FROM = {"10_claims": ("02_benchmark", "03_variance_ablation")}


# Per-notebook parameters of the smoke runs: the walkthrough's default mode, "class",
# trains on real OrganAMNIST coresets; it has its own test below.
SMOKE_EXTRA = {"00_walkthrough": {"mode": "profile"}}


def _smoke(name: str, nb_dirs: dict, shared_data, **extra):
    nb_dirs["out"].mkdir(exist_ok=True)
    return execute(
        name,
        {
            "profile": "smoke",
            "data_root": str(shared_data),
            "results_dir": str(nb_dirs["results"]),
            "scratch_dir": str(nb_dirs["scratch"]),
            **SMOKE_EXTRA.get(name, {}),
            **extra,
        },
        output=nb_dirs["out"] / f"{name}{'_' + extra['mode'] if 'mode' in extra else ''}.ipynb",
        progress=False,
    )


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_at_smoke(name, nb_dirs, shared_data):
    if not (notebook_dir() / f"{name}.py").exists():
        pytest.fail(f"notebook {name}.py is missing")
    for upstream in READS_FROM.get(name, ()):
        if not (nb_dirs["out"] / f"{upstream}.ipynb").exists():
            _smoke(upstream, nb_dirs, shared_data)
    out = _smoke(name, nb_dirs, shared_data)
    import nbformat

    nb = nbformat.read(out, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]  # fmt: skip
    assert not errors
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]  # fmt: skip
    assert images, f"{name} drew no figure"


def test_wrong_parameter_type_is_one_line(nb_dirs, shared_data):
    import papermill

    with pytest.raises(papermill.PapermillExecutionError, match="parameter rates must be"):
        execute(
            "02_benchmark",
            {"profile": "smoke", "rates": "0.05", "data_root": str(shared_data),
             "results_dir": str(nb_dirs["results"]), "scratch_dir": str(nb_dirs["scratch"])},
            output=nb_dirs["out"] / "bad.ipynb",
            progress=False,
        )  # fmt: skip


def test_walkthrough_class_mode(nb_dirs, shared_data):
    """The class mode on the committed dynamics, cut to one seed and one rate: its table,
    its comparison with Random and its timing record are written."""
    import json

    import pandas as pd

    _smoke("00_walkthrough", nb_dirs, shared_data, mode="class", seeds=[0], rates=[0.1])
    table = pd.read_csv(nb_dirs["results"] / "class" / "walkthrough.csv")
    assert set(table["method"]) == {"random", "eva", "el2n", "forgetting"}
    assert (table["rate"] == 0.1).all() and (table["seed"] == 0).all()
    run = json.loads((nb_dirs["results"] / "class" / "walkthrough_run.json").read_text())
    assert run["seconds"] > 0 and run["mode"] == "class"
