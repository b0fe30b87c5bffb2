"""Results hold only what the code writes: the manifest of evalib.book.outputs, read off
the code, against every committed file under results/<profile>/."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from evalib.book.outputs import unwritten, written_patterns
from evalib.runs.config import PROFILES

ROOT = Path(__file__).resolve().parents[2]


def _committed(folder: Path) -> list[str] | None:
    """Files git tracks under ``folder``, relative to it (None outside a git checkout)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        return None
    done = subprocess.run(["git", "ls-files", "-z", str(folder.relative_to(ROOT))], cwd=ROOT,
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        return None
    prefix = str(folder.relative_to(ROOT)) + "/"
    return [f[len(prefix) :] for f in done.stdout.split("\0") if f]


def test_every_committed_result_file_is_written_by_the_code():
    patterns = written_patterns(ROOT)
    checked = 0
    for profile in PROFILES:
        folder = ROOT / "results" / profile
        files = _committed(folder)
        if files is None:  # an unpacked release: every file there, locks aside
            if not folder.is_dir():
                continue
            files = [str(p.relative_to(folder)) for p in folder.rglob("*")
                     if p.is_file() and not p.name.endswith(".lock")]  # fmt: skip
        assert unwritten(files, patterns) == [], (
            f"results/{profile} holds files that no notebook, study or script writes; "
            "delete them or restore the code that writes them"
        )
        checked += len(files)
    assert checked > 100  # the committed cpu and smoke results were seen


def test_the_manifest_comes_from_the_code(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "evalib").mkdir()
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "notebooks" / "01_x.py").write_text(
        "table.to_csv(S.out_dir() / 'grid.csv')\n"
        "for k in ks:\n"
        "    t.to_csv(S.out_dir() / f'table1_{k}.csv')\n"
        "v.to_csv(S.cache.results / 'claims.csv')\n"
        "rows = S.cache.results.glob('*/*_verdicts.csv')\n"  # a glob is not a path built
        "S.out_dir().mkdir()\n"
    )
    (tmp_path / "evalib" / "cache.py").write_text(
        "def job_path(self, job):\n"
        "    return self.results / 'jobs' / f'{job.key()}.json'\n"
        "def selections(cache, d):\n"
        "    return cache.results / 'selections' / d\n"  # a folder, not a file
        "def index(cache, d):\n"
        "    return cache.results / 'selections' / d / 'index.json'\n"
        "def elsewhere(root):\n"
        "    return root / 'notes.csv'\n"  # no results folder behind it
    )
    (tmp_path / "benchmarks" / "bench.py").write_text(
        "OUT = Path(__file__).parents[1] / 'results' / 'cpu' / 'candidates'\n"
        "SCALING = ROOT / 'results' / 'scaling' / 'costs.csv'\n"  # not a profile's folder
        "(OUT / f'{name}-{width}.json').write_text(body)\n"
    )
    patterns = written_patterns(tmp_path, profiles=("cpu", "smoke"))
    assert patterns == {
        ".evalib-output",
        "*/grid.csv",
        "*/table1_*.csv",
        "claims.csv",
        "jobs/*.json",
        "selections/*/index.json",
        "candidates/*-*.json",
    }
    files = ["organamnist/grid.csv", "bloodmnist/table1_clean.csv", "jobs/0a1b.json",
             "selections/organamnist/index.json", "organamnist/grid_best.csv",
             "organamnist/deeper/grid.csv", "claims_transfer.csv", "candidates/convnet-0.5.json"]  # fmt: skip
    assert unwritten(files, patterns) == [
        "claims_transfer.csv",
        "organamnist/deeper/grid.csv",  # * stands for one folder, not several
        "organamnist/grid_best.csv",
    ]


@pytest.mark.parametrize("name", ["window_grid_best.csv", "dual_window.csv"])
def test_the_first_editions_tables_are_gone(name):
    """2-epoch windows on one seed: no page writes them any more, and none is committed."""
    assert f"*/{name}" not in written_patterns(ROOT)
    files = _committed(ROOT / "results")
    if files is None:
        pytest.skip("not a git checkout")
    assert not [f for f in files if f.endswith("/" + name)]
