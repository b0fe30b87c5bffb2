"""Fixtures of the book tests: the built book, built once per test session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _jupyter_book() -> str | None:
    local = Path(sys.executable).with_name("jupyter-book")
    return str(local) if local.is_file() else shutil.which("jupyter-book")


@pytest.fixture(scope="session")
def html_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.environ.get("EVALIB_BUILD_BOOK") == "1":
        jb = _jupyter_book()
        if jb is None:
            pytest.skip("EVALIB_BUILD_BOOK=1 but jupyter-book is not installed")
        out = tmp_path_factory.mktemp("book")
        cmd = [jb, "build", str(ROOT), "--path-output", str(out), "-W", "-n", "--keep-going"]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, "book build failed:\n" + (proc.stdout + proc.stderr)[-4000:]
        built = out / "_build" / "html"
    else:
        built = ROOT / "_build" / "html"
        if not (built / "index.html").is_file():
            pytest.skip(
                "no built book in _build/html (run `make book`, or set EVALIB_BUILD_BOOK=1)"
            )
    return built
