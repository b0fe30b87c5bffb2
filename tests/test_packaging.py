"""Install files agree: environment.yml (and its CPU variant) lists what pyproject.toml and
the Makefile install, with the same bounds; the torch index choice of `make setup`."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")
packaging = pytest.importorskip("packaging.requirements")
from packaging.requirements import Requirement  # noqa: E402
from packaging.specifiers import SpecifierSet  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# PyPI distribution (with extras) → conda-forge package
CONDA_NAME = {"torch": "pytorch", "matplotlib": "matplotlib-base", "ray[default]": "ray-default"}
CONDA_ONLY = {"python", "pip"}


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def makefile_extras() -> list[str]:
    """The extras `make setup` installs: ``pip install -e ".[book,dev,ray]"``."""
    found = re.search(r'pip install -q -e "\.\[([a-z,]+)\]"', (ROOT / "Makefile").read_text())
    assert found, "Makefile no longer installs evalib with extras"
    return found.group(1).split(",")


def requirements(extras: list[str]) -> dict[str, SpecifierSet]:
    """Name (with extras) → specifier of the core and ``extras``, self-references expanded."""
    project = pyproject()["project"]
    optional = project["optional-dependencies"]
    out: dict[str, SpecifierSet] = {}
    todo = list(project["dependencies"]) + [r for e in extras for r in optional[e]]
    while todo:
        req = Requirement(todo.pop())
        if req.name == "evalib":
            todo += [r for e in req.extras for r in optional[e]]
            continue
        name = req.name + (f"[{','.join(sorted(req.extras))}]" if req.extras else "")
        assert name not in out or out[name] == req.specifier, f"{name} bounded twice"
        out[name] = req.specifier
    return out


def conda_deps(path: Path) -> tuple[dict, dict[str, SpecifierSet], list[str]]:
    env = yaml.safe_load(path.read_text())
    conda, pip = {}, []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip += dep["pip"]
            continue
        name, _, spec = dep.partition(" ")
        conda[name] = spec.replace(" ", "")
    return env, conda, pip


@pytest.mark.parametrize(
    ("filename", "torch_package"),
    [("environment.yml", "pytorch"), ("environment-cpu.yml", "pytorch-cpu")],
)
def test_environment_matches_pyproject(filename, torch_package):
    env, conda, pip = conda_deps(ROOT / filename)
    assert env["channels"] == ["conda-forge", "nodefaults"]
    extras = makefile_extras()
    wanted = {CONDA_NAME.get(n, n): spec for n, spec in requirements(extras).items()}
    wanted[torch_package] = wanted.pop("pytorch")
    listed = {n: s for n, s in conda.items() if n not in CONDA_ONLY}
    assert sorted(listed) == sorted(wanted), "environment and pyproject list other packages"
    for name, spec in wanted.items():
        assert SpecifierSet(conda[name]) == spec, f"{name}: {conda[name]} here, {spec} in pyproject"
    python = conda["python"].lstrip("=")
    assert python in SpecifierSet(pyproject()["project"]["requires-python"])
    assert f"Programming Language :: Python :: {python}" in pyproject()["project"]["classifiers"]
    assert pip == [f'-e ".[{",".join(extras)}]"'] or pip == [f"-e .[{','.join(extras)}]"]
    pin = re.search(r"medmnist==[\d.]+", (ROOT / "Makefile").read_text()).group(0)
    assert f"pip install --no-deps {pin}" in (ROOT / filename).read_text()


def test_sphinx_stack_is_bounded_above():
    """The book is built with -W: every package of the Sphinx stack has an upper bound."""
    reqs = requirements(["book"])
    for name in ("sphinx", "myst-nb", "sphinx-book-theme", "jupyter-book"):
        assert any(s.operator in ("<", "<=", "~=", "==") for s in reqs[name]), name


def test_declared_python_is_the_tested_one():
    project = pyproject()["project"]
    tested = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert tested in SpecifierSet(project["requires-python"])
    declared = [c.rsplit(" ", 1)[-1] for c in project["classifiers"]
                if c.startswith("Programming Language :: Python :: 3.")]  # fmt: skip
    assert declared == [tested]


def test_core_install_has_no_plotting_or_notebook_packages():
    core = {Requirement(r).name for r in pyproject()["project"]["dependencies"]}
    assert not core & {"matplotlib", "seaborn", "papermill", "jupytext", "jupyter-book"}
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert pyproject()["project"]["license"] == "MIT"


# ----------------------------------------------------------------------------- make setup


def torch_index():
    spec = __import__("importlib.util").util.spec_from_file_location(
        "torch_index", ROOT / "scripts" / "torch_index.py"
    )
    module = __import__("importlib.util").util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("facts", "system", "expected"),
    [
        (None, "Linux", "cpu"),  # no NVIDIA driver
        ((590, 9.0), "Linux", "cu130"),  # Hopper, new driver
        ((570, 8.6), "Linux", "cu126"),  # driver too old for CUDA 13
        ((590, 6.1), "Linux", "cu126"),  # Pascal: CUDA 13 builds dropped it
        ((590, None), "Linux", "cu130"),  # nvidia-smi without compute_cap
        ((470, 8.0), "Linux", "cpu"),  # driver too old for CUDA 12
        (None, "Darwin", "pypi"),
    ],
)
def test_auto_torch_build(facts, system, expected):
    assert torch_index().choose("auto", facts, system)[0] == expected


def test_torch_index_arguments():
    ti = torch_index()
    assert ti.pip_args("cpu") == ["--index-url", "https://download.pytorch.org/whl/cpu"]
    assert ti.pip_args("cu126") == ["--index-url", "https://download.pytorch.org/whl/cu126"]
    assert ti.pip_args("pypi") == []
    assert ti.pip_args("cpu", "https://mirror/whl") == ["--index-url", "https://mirror/whl"]
    assert ti.choose("cu132", None, "Linux")[0] == "cu132"


def test_torch_index_reads_nvidia_smi():
    ti = torch_index()

    def fake(out):
        return lambda *a, **k: subprocess.CompletedProcess(a, 0, stdout=out, stderr="")

    assert ti.gpu_facts(fake("575.51.03, 8.9\n590.10, 7.5\n")) == (575, 7.5)
    assert ti.gpu_facts(fake("")) is None

    def missing(*a, **k):
        raise FileNotFoundError("nvidia-smi")

    assert ti.gpu_facts(missing) is None
    bad = subprocess.run([sys.executable, str(ROOT / "scripts" / "torch_index.py"), "cu999"],
                         capture_output=True, text=True)  # fmt: skip
    assert bad.returncode == 2 and "not one of" in bad.stderr


def test_makefile_stamp_depends_on_torch_choice(tmp_path):
    """`make setup TORCH_SPEC=...` after a first setup reinstalls torch: the stamp that
    guards the torch install is named after spec, variant and index."""

    def stamp(*assignments: str) -> str:
        out = subprocess.run(
            ["make", "-n", "-p", "--no-builtin-rules", f"VENV={tmp_path / 'venv'}", *assignments,
             "help"], cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        return re.search(r"^TORCH_STAMP := (.+)$", out, re.M).group(1)

    default = stamp()
    assert default == stamp()
    assert stamp("TORCH_SPEC=torch==2.12.0") != default
    assert stamp("TORCH_VARIANT=cu126") != default
    assert stamp("TORCH_INDEX=https://mirror/whl") != default
    text = (ROOT / "Makefile").read_text()
    assert "$(VENV)/.installed: $(TORCH_STAMP)" in text
    assert "--force-reinstall --no-deps" in text


def test_make_help_and_clean():
    """`make help` lists every target; `make clean` removes build outputs, never results,
    data, notebooks or the virtual environment."""
    text = subprocess.run(["make", "help"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout  # fmt: skip
    for target in ("setup", "test", "book", "reproduce", "lint", "clean", "torch-info"):
        assert re.search(rf"^  {target} +\S", text, re.M), target
    plan = subprocess.run(["make", "-n", "clean"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout  # fmt: skip
    assert "_build" in plan and "__pycache__" in plan and "-prune" in plan
    removed = " ".join(line for line in plan.splitlines() if line.startswith("rm "))
    for kept in ("results", "data", "notebooks", "shared", "*.npz", ".venv"):
        assert kept not in removed, kept


# ----------------------------------------------------------------------------- one torch story


def test_torch_is_the_tested_series_everywhere():
    """pyproject.toml, both conda files, the Makefile's pin and the README name one tested
    torch series: a plain `pip install -e .` cannot pull an untested newer torch."""
    torch = requirements([])["torch"]
    assert any(s.operator == "<" for s in torch), "torch has no upper bound in pyproject.toml"
    for filename, package in (
        ("environment.yml", "pytorch"),
        ("environment-cpu.yml", "pytorch-cpu"),
    ):
        conda = conda_deps(ROOT / filename)[1]
        assert SpecifierSet(conda[package]) == torch, filename
    pin = re.search(r"^TORCH_SPEC \?= torch==([\d.]+)$", (ROOT / "Makefile").read_text(), re.M)
    assert pin and pin.group(1) in torch, "make setup pins a torch outside pyproject's range"
    raw = next(d for d in pyproject()["project"]["dependencies"] if d.startswith("torch"))
    assert f"`{raw}`" in (ROOT / "README.md").read_text(), "the README names another range"


def _opener(error=None):
    import io

    def open_(url, timeout):
        assert url.endswith("/torch/") and timeout <= 10  # one short probe
        if error is not None:
            raise error
        return io.BytesIO(b"<html>")

    return open_


def test_unreachable_torch_index_falls_back_at_once(capsys):
    """A machine that cannot reach download.pytorch.org probes it once and installs from
    the default index (pip's configuration), instead of pip retrying five times."""
    import urllib.error

    ti = torch_index()
    down = _opener(urllib.error.URLError("Name or service not known"))
    assert ti.main(["cpu"], opener=down) == 0
    out, err = capsys.readouterr()
    assert out.strip() == ""  # no --index-url: the default index
    assert "cannot be reached (Name or service not known)" in err and err.count("\n") == 1
    assert ti.main(["cpu", "https://mirror.example/whl"], opener=down) == 2  # named: an error
    assert "TORCH_INDEX=https://mirror.example/whl cannot be reached" in capsys.readouterr().err
    assert ti.main(["cpu"], opener=_opener()) == 0
    assert capsys.readouterr().out.split() == [
        "--index-url",
        "https://download.pytorch.org/whl/cpu",
    ]
    assert ti.main(["pypi"], opener=down) == 0  # PyPI itself is never probed
    assert capsys.readouterr().out.strip() == ""


def test_make_help_shows_every_variable_with_its_default():
    text = subprocess.run(["make", "help"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout  # fmt: skip
    assigned = re.findall(r"^([A-Z_]+) \?= ?(.*)$", (ROOT / "Makefile").read_text(), re.M)
    assert {name for name, _ in assigned} >= {"PROFILE", "TORCH_SPEC", "IN_PLACE", "NOTEBOOKS"}
    for name, default in assigned:
        shown = default or "empty"
        assert re.search(rf"^  {name} +.+\(default: {re.escape(shown)}\)$", text, re.M), name
