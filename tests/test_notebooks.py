"""Every notebook executes end to end with papermill at the smoke profile."""

from __future__ import annotations

import pytest

from evalib.reproduce import NOTEBOOKS, execute, notebook_dir

pytestmark = [pytest.mark.notebooks, pytest.mark.slow]


@pytest.fixture(scope="session")
def nb_dirs(tmp_path_factory):
    base = tmp_path_factory.mktemp("nb")
    return {"results": base / "results", "scratch": base / "scratch", "out": base / "out"}


# Pages that only read what other notebooks computed: those run first when their
# results are not in the session's results folder yet (so each test also runs alone).
READS_FROM = {"10_claims": ("02_benchmark", "03_variance_ablation")}


def _smoke(name: str, nb_dirs: dict, shared_data):
    nb_dirs["out"].mkdir(exist_ok=True)
    return execute(
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
