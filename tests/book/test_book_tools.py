"""Build-time helpers: header buttons, notebook folding and titles, the class mode."""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from evalib.book import bookconfig, classroom, reproduce
from evalib.dynamics import from_arrays
from evalib.errors import EvalibError

# ----------------------------------------------------------------------------- buttons


def test_one_repository_url_turns_every_button_on() -> None:
    opts = bookconfig.button_options(
        {"repository_url": "https://github.com/someone/eva-companion",
         "launch_buttons": {"notebook_interface": "classic", "binderhub_url": ""}}
    )  # fmt: skip
    assert opts["use_repository_button"] and opts["use_issues_button"]
    assert opts["launch_buttons"]["binderhub_url"] == bookconfig.BINDER
    assert opts["launch_buttons"]["colab_url"] == bookconfig.COLAB
    assert opts["launch_buttons"]["notebook_interface"] == "classic"


def test_no_url_no_buttons_and_colab_only_for_github() -> None:
    off = bookconfig.button_options({"repository_url": "", "launch_buttons": {"colab_url": "x"}})
    assert not off["use_repository_button"] and not off["use_issues_button"]
    assert not any(off["launch_buttons"][k] for k in ("binderhub_url", "colab_url"))
    gitlab = bookconfig.button_options({"repository_url": "https://gitlab.com/a/b"})
    assert gitlab["use_repository_button"] and gitlab["launch_buttons"]["colab_url"] == ""


# ----------------------------------------------------------------------------- notebooks


def _nb(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Table 1 (paper Table 1)\n\nText."),
        nbformat.v4.new_code_cell(
            f'EVALIB_REPOSITORY = "{reproduce.INSTALL_PLACEHOLDER}"',
            metadata={"tags": ["remove-cell"]},
        ),  # fmt: skip
        nbformat.v4.new_code_cell("profile = 'smoke'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("profile = 'cpu'", metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_code_cell("print(1)"),
    ]
    nbformat.write(nb, path)
    return path


def test_repository_url_is_written_into_the_install_cell(tmp_path: Path) -> None:
    cfg = tmp_path / "_config.yml"
    cfg.write_text("repository:\n  url: https://github.com/a/b\n  branch: main\n")
    assert reproduce.repository_url(cfg) == "https://github.com/a/b"
    assert reproduce.repository_url(tmp_path / "missing.yml") == ""
    nb = nbformat.read(_nb(tmp_path / "x.ipynb"), as_version=4)
    n_cells = len(nb.cells)
    for _ in range(2):  # once, however often it is called
        reproduce.add_install_cell(nb, "https://github.com/a/b")
    assert len(nb.cells) == n_cells
    assert 'EVALIB_REPOSITORY = "https://github.com/a/b"' in nb.cells[1].source
    assert nb.cells[1].metadata["tags"] == ["remove-cell"]
    bare = nbformat.v4.new_notebook()
    bare.cells = [nbformat.v4.new_markdown_cell("# T"), nbformat.v4.new_code_cell("x = 1")]
    reproduce.add_install_cell(bare, "")
    assert [c.cell_type for c in bare.cells] == ["markdown", "code", "code"]
    assert 'EVALIB_REPOSITORY = ""' in bare.cells[1].source and bare.cells[2].source == "x = 1"


def test_parameters_folded_code_hidden_title_with_dataset(tmp_path: Path) -> None:
    path = _nb(tmp_path / "x.ipynb")
    reproduce.hide_parameters(path)
    reproduce.fold_code(path)
    reproduce.title_with_dataset(path, "bloodmnist")
    reproduce.title_with_dataset(path, "bloodmnist")  # idempotent
    cells = nbformat.read(path, as_version=4).cells
    tags = [c.metadata.get("tags", []) for c in cells]
    assert "hide-cell" in tags[2] and "hide-cell" in tags[3]
    assert "hide-input" not in tags[2] and "hide-input" in tags[4]
    assert tags[1] == ["remove-cell"]
    assert cells[0].source.splitlines()[0] == "# Table 1 (paper Table 1) · BloodMNIST"


def test_every_notebook_has_an_install_cell_and_hidden_parameters() -> None:
    import jupytext

    for src in sorted(reproduce.notebook_dir().glob("*.py")):
        nb = jupytext.read(src)  # the sources leave the install cell to evalib.book.reproduce
        assert not [c for c in nb.cells if "EVALIB_REPOSITORY" in c.source], src.name
        reproduce.add_install_cell(nb, "")
        install = [c for c in nb.cells if "EVALIB_REPOSITORY" in c.source]
        assert len(install) == 1 and "remove-cell" in install[0].metadata["tags"], src.name
        first_code = next(c for c in nb.cells if c.cell_type == "code")
        assert first_code is install[0], f"{src.name}: install evalib before anything else"
        params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(params) == 1, src.name


# ----------------------------------------------------------------------------- class mode


def _data(root: Path):
    from evalib import data

    return data.load("organamnist", root, allow_download=False, check_md5=False)


def test_class_mode_trains_one_model_per_method_rate_seed(tiny_root: Path) -> None:
    ds = _data(tiny_root)
    n = len(ds.train)
    labels = ds.train.labels.numpy()
    rng = np.random.default_rng(0)
    logp = np.log(rng.dirichlet(np.ones(11), size=(4, n))).astype(np.float16)
    dyn = from_arrays(logp, labels, sample_ids=np.arange(n))
    plan = classroom.ClassPlan(methods=(("random", {}), ("el2n", {"end": 2})), rates=(0.25,),
                               seeds=(0, 1), steps=3, batch_size=8, test_subset=None)  # fmt: skip
    table = classroom.run_class(dyn, ds, plan, threads=1)
    assert len(table) == 4 and set(table["method"]) == {"random", "el2n"}
    assert (table["n_train"] == 10).all() and (table["steps"] == 3).all()
    assert table["test_acc"].between(0, 1).all()
    gaps = classroom.against_random(table)
    assert list(gaps["method"]) == ["el2n"] and gaps["seeds"].iloc[0] == 2
    wide = table.pivot_table(index="seed", columns="method", values="test_acc")
    assert gaps["minus_random"].iloc[0] == pytest.approx(
        100 * (wide["el2n"] - wide["random"]).mean()
    )


def test_class_mode_refuses_dynamics_of_another_split(tiny_root: Path) -> None:
    ds = _data(tiny_root)
    n = len(ds.train)
    wrong = (ds.train.labels.numpy() + 1) % 11
    dyn = from_arrays(np.zeros((2, n, 11), np.float16), wrong)
    with pytest.raises(EvalibError, match="not recorded on this dataset"):
        classroom.run_class(dyn, ds, classroom.ClassPlan(steps=1))


def test_committed_class_dynamics_are_small_and_consistent() -> None:
    path = reproduce.notebook_dir() / classroom.CLASS_DYNAMICS
    assert path.stat().st_size < 5e6
    dyn = classroom.load_class_dynamics(reproduce.notebook_dir())
    assert dyn.num_samples == 5000 and dyn.meta["dataset"] == "organamnist"
    assert np.bincount(dyn.labels).min() > 0  # stratified: every class is there
    # 10 epochs: windows of K = 2 on the grid, the late one nearest to epoch 100 of 200
    assert classroom.default_windows(dyn.num_epochs) == {"early": (0, 2), "late": (4, 6)}
    with pytest.raises(EvalibError, match="regenerate"):
        classroom.load_class_dynamics(Path("/nonexistent"))


def test_against_random_needs_random_rows() -> None:
    t = pd.DataFrame({"method": ["eva"], "rate": [0.1], "seed": [0], "test_acc": [0.5]})
    with pytest.raises(EvalibError, match="no Random"):
        classroom.against_random(t)


def test_class_results_never_overwrite_a_users_folder(tmp_path: Path) -> None:
    table = pd.DataFrame({"method": ["random"], "rate": [0.05], "test_acc": [0.5]})
    out = classroom.save_table(table, tmp_path / "class")
    assert pd.read_csv(out).equals(table)
    classroom.save_table(table.assign(test_acc=0.6), tmp_path / "class")  # ours: replaced
    assert pd.read_csv(out)["test_acc"].tolist() == [0.6]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    with pytest.raises(EvalibError, match="class results folder"):
        classroom.save_table(table, mine)
    assert (mine / "thesis.tex").read_text() == "years of work"
    assert not (mine / "walkthrough.csv").exists()


def test_formatter_directives_are_kept_out_of_rendered_code() -> None:
    code = ("x = [1,  2]  # fmt: skip\n"
            "# fmt: off\n"
            "y = 3  # a comment that stays\n"
            "z = 4 #fmt:skip\n")  # fmt: skip
    assert bookconfig.strip_directives(code) == (
        "x = [1,  2]\ny = 3  # a comment that stays\nz = 4\n"
    )
    assert bookconfig.strip_directives("a = 1\n\nb = 2") == "a = 1\n\nb = 2"  # blank lines stay
