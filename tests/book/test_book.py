"""The built book renders in a real browser: equations typeset offline, pages load.

The browser test uses ``_build/html`` when it exists. With ``EVALIB_BUILD_BOOK=1`` it
first builds the book itself, with warnings as errors, into a temporary folder. It is
skipped (with the reason) when Chromium is missing or there is no built book.
The checker's parsing helpers are also tested without a browser. The reader-names test
reads the built HTML only (no browser): no table shows a code name.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKER = ROOT / "scripts" / "check_book_browser.py"
MATH_PAGES = (
    "index.html",
    "book/intro.html:math",
    "book/method.html:math",
    "notebooks/02_benchmark.html:figures",  # a results page: its figures must be there
    "notebooks/10_claims.html",
)


def _load_checker():
    spec = importlib.util.spec_from_file_location("check_book_browser", CHECKER)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.browser
def test_pages_render_offline(html_dir: Path, tmp_path: Path) -> None:
    checker = _load_checker()
    if checker.find_chromium(None) is None:
        if os.environ.get("EVALIB_REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium is required here (EVALIB_REQUIRE_BROWSER=1) but missing")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    shots = tmp_path / "screenshots"
    proc = subprocess.run(
        [sys.executable, str(CHECKER), "--html-dir", str(html_dir), "--screenshots", str(shots),
         *MATH_PAGES],
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("ok ") == len(MATH_PAGES), proc.stdout
    for page in ("book__intro.png", "book__method.png", "notebooks__02_benchmark.png"):
        assert (shots / page).stat().st_size > 10_000


# ----------------------------------------------------------------------------- no browser


def test_page_spec_flags() -> None:
    checker = _load_checker()
    spec = checker.PageSpec.parse("notebooks/02_benchmark.html:figures:math")
    assert (spec.path, spec.math, spec.figures) == ("notebooks/02_benchmark.html", True, True)
    assert not checker.PageSpec.parse("book/intro.html").math
    with pytest.raises(ValueError):
        checker.PageSpec.parse("book/intro.html:maths")


def test_dom_scan_separates_prose_from_math_and_code() -> None:
    checker = _load_checker()
    dom = (
        "<html><head><script src='https://cdn.example.org/x.js'></script></head><body>"
        "<p>Typeset <mjx-container><svg></svg><mjx-assistive-mml>\\frac{a}{b}"
        "</mjx-assistive-mml></mjx-container> and code <pre>$$x$$</pre>.</p>"
        "<p>Left raw: \\(x^2\\)</p><img src='../_images/fig.png'>"
        "<link rel='stylesheet' href='//fonts.example.org/a.css'></body></html>"
    )
    scan = checker.DomScan()
    scan.feed(dom)
    text = " ".join(scan.text)
    assert scan.has_body and scan.mjx == 1 and scan.images == ["../_images/fig.png"]
    assert "\\frac" not in text and "$$" not in text
    hits = checker.raw_tex_snippets(text)
    assert len(hits) == 1 and "\\\\(" in hits[0]
    assert [r for r in scan.resources if checker.is_remote(r)] == [
        "https://cdn.example.org/x.js",
        "//fonts.example.org/a.css",
    ]


def test_is_remote() -> None:
    checker = _load_checker()
    assert not checker.is_remote("../_static/mathjax/tex-svg.js?v=1")
    assert not checker.is_remote("http://127.0.0.1:8000/book/intro.html")
    assert not checker.is_remote("data:image/png;base64,AAAA")
    assert checker.is_remote("https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-svg.js")


def test_header_links_are_collected_and_checked(tmp_path: Path) -> None:
    checker = _load_checker()
    (tmp_path / "_sources" / "notebooks").mkdir(parents=True)
    (tmp_path / "_sources" / "notebooks" / "x.ipynb").write_text("{}")
    page = tmp_path / "notebooks" / "x.html"
    page.parent.mkdir()
    page.write_text("")
    dom = (
        "<html><body><div class='header'><div class='article-header-buttons'>"
        "<div class='dropdown'><a href='../_sources/notebooks/x.ipynb'>ipynb</a>"
        "<a href='../_sources/notebooks/x.md'>md</a></div>"
        "<a href='https://github.com/a/b'>repo</a>"
        "<a href='https://mybinder.org/v2/gh/a/b/main?urlpath=tree/notebooks/x.ipynb'>b</a>"
        "</div><a href='../elsewhere.html'>not a header button</a></div></body></html>"
    )
    scan = checker.DomScan()
    scan.feed(dom)
    assert len(scan.header_links) == 4
    broken = [checker.broken_header_link(h, page, tmp_path) for h in scan.header_links]
    assert broken[0] == "" and broken[2] == "" and broken[3] == ""
    assert "not built" in broken[1]
    assert "malformed" in checker.broken_header_link("https://exa mple", page, tmp_path)
    assert "empty" in checker.broken_header_link("#", page, tmp_path)


def test_links_on_a_redirect_page_resolve_from_its_target(tmp_path: Path) -> None:
    # Jupyter Book's root index.html only redirects; Chromium's DOM is the target's.
    checker = _load_checker()
    (tmp_path / "_sources" / "book").mkdir(parents=True)
    (tmp_path / "_sources" / "book" / "intro.md").write_text("")
    (tmp_path / "book").mkdir()
    intro = tmp_path / "book" / "intro.html"
    intro.write_text("")
    index = tmp_path / "index.html"
    redirect = '<meta http-equiv="Refresh" content="0; url=book/intro.html" />'
    assert checker.redirect_target(redirect, index) == intro.resolve()
    assert checker.redirect_target("<html><body></body></html>", index) == index
    assert checker.redirect_target(redirect.replace("intro", "gone"), index) == index
    link = "../_sources/book/intro.md"
    assert checker.broken_header_link(link, index, tmp_path)  # from index.html: outside
    assert (
        checker.broken_header_link(link, checker.redirect_target(redirect, index), tmp_path) == ""
    )


# ----------------------------------------------------------------------------- reader names


class _Cells(HTMLParser):
    """The text of every table cell (``th``, ``td``) of a page, without what is marked as
    code (``code``, ``pre``, ``kbd``: a page may name a column or a parameter on purpose)
    or math (TeX source, typeset by MathJax)."""

    CODE = {"code", "pre", "kbd", "samp", "script", "style"}

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self._cell: list[str] | None = None
        self._code = 0
        self._stack: list[str] = []  # the open code or math elements

    def handle_starttag(self, tag, attrs) -> None:
        if tag in ("th", "td"):
            self._cell = []
        elif tag in self.CODE or "math" in (dict(attrs).get("class") or "").split():
            self._code += 1
            self._stack.append(tag)

    def handle_endtag(self, tag) -> None:
        if tag in ("th", "td") and self._cell is not None:
            self.cells.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif self._stack and tag == self._stack[-1]:
            self._stack.pop()
            self._code -= 1

    def handle_data(self, data) -> None:
        if self._cell is not None and not self._code:
            self._cell.append(data)


#: a hyphen-minus or a negative zero where a number is shown
_BAD_NUMBER = re.compile(r"(?<![\w.\-–])-\d|[−-]0(?:\.0+)?(?![\d.])|\+0\.0+(?![\d.])")


def _table_cells(html_dir: Path) -> dict[str, list[str]]:
    pages = {}
    for page in sorted(html_dir.rglob("*.html")):
        rel = page.relative_to(html_dir).as_posix()
        if rel.startswith(("_static/", "_sources/", "_images/")) or rel in ("search.html",):
            continue
        parser = _Cells()
        parser.feed(page.read_text(encoding="utf-8"))
        pages[rel] = parser.cells
    return pages


#: Pages whose committed outputs predate the reader-facing tables and still show code
#: names: they read recorded surrogate dynamics that were not in the cache when the
#: others were re-executed (recording them is a training run). Re-execute a page
#: (``python -m evalib.book.reproduce --only NAME``) and remove it here: the test fails
#: for a listed page that has become clean, so the list cannot outlive its reason.
NOT_REEXECUTED: frozenset[str] = frozenset()


def test_tables_show_reader_names_not_code_names(html_dir: Path) -> None:
    """No rendered table cell or header holds one of the package's own snake_case names
    (:func:`evalib.book.tables.code_names`: built from the source and the result files),
    a Python list, a hyphen as a minus sign or a negative zero (pages of
    :data:`NOT_REEXECUTED` excepted, and required to still need it)."""
    from evalib.book import tables

    names = tables.code_names(ROOT)
    problems, stale = [], set()
    for page, cells in _table_cells(html_dir).items():
        for cell in cells:
            found = tables.reader_problems(cell, names)
            found += [f"number format {m!r}" for m in _BAD_NUMBER.findall(cell)]
            if found and page in NOT_REEXECUTED:
                stale.add(page)
                continue
            problems += [f"{page}: {p} in {cell[:80]!r}" for p in found]
    assert not problems, f"{len(problems)} cells:\n" + "\n".join(problems[:40])
    clean = sorted(NOT_REEXECUTED - stale)
    assert not clean, f"re-executed, remove from NOT_REEXECUTED: {', '.join(clean)}"


def test_no_empty_index_one_search_field_and_no_formatter_comments(html_dir: Path) -> None:
    """The book has no general index page (it defines no entries), hides the theme's
    second search button at desktop width, and shows no ``# fmt: skip`` in its code."""
    assert not (html_dir / "genindex.html").exists()
    pages = [p for p in html_dir.rglob("*.html") if "_static" not in p.parts]
    assert not [p for p in pages if "genindex" in p.read_text(encoding="utf-8")]
    assert not [p.name for p in pages if "fmt: skip" in p.read_text(encoding="utf-8")]
    css = (ROOT / "book" / "_static" / "evalib.css").read_text()
    assert "#pst-header" in css and "min-width: 992px" in css


def test_every_executed_notebook_is_a_page_of_the_table_of_contents() -> None:
    """A notebook executed into ``notebooks/`` (a BloodMNIST twin, a second profile's page)
    that the table of contents misses would never be read; an entry without its notebook
    fails the build."""
    import yaml

    def files(entries: list) -> set[str]:
        out: set[str] = set()
        for entry in entries:
            if "file" in entry:
                out.add(entry["file"])
            out |= files(entry.get("sections", []) + entry.get("chapters", []))
        return out

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    listed = files(toc["parts"])
    executed = {str(p.relative_to(ROOT).with_suffix(""))
                for p in (ROOT / "notebooks").rglob("*.ipynb")}  # fmt: skip
    assert executed - listed == set()
    assert {f for f in listed if f.startswith("notebooks/")} - executed == set()
