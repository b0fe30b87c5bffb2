"""Every notebook executes end to end with papermill at the smoke profile."""

from __future__ import annotations

import pytest

from evalib.reproduce import NOTEBOOKS, execute, notebook_dir

pytestmark = [pytest.mark.notebooks, pytest.mark.slow]


@pytest.fixture(scope="session")
def nb_dirs(tmp_path_factory):
    base = tmp_path_factory.mktemp("nb")
    return {"results": base / "results", "scratch": base / "scratch", "out": base / "out"}


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_at_smoke(name, nb_dirs, shared_data):
    if not (notebook_dir() / f"{name}.py").exists():
        pytest.fail(f"notebook {name}.py is missing")
    nb_dirs["out"].mkdir(exist_ok=True)
    out = execute(
        name,
        {
            "profile": "smoke",
            "data_root": str(shared_data),
            "results_dir": str(nb_dirs["results"]),
            "scratch_dir": str(nb_dirs["scratch"]),
        },
        output=nb_dirs["out"] / f"{name}.ipynb",
        progress=False,
    )
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
