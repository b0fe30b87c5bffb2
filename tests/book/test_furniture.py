"""The book's furniture as a reader meets it: the row labels of the Ray benchmark table and
the prose that explains them, the bibliography's labels and citation links, and the page
sources the download menu offers.

The checks of the built pages read the book of the ``html_dir`` fixture (``conftest.py``:
built by the test run with ``EVALIB_BUILD_BOOK=1``, else ``_build/html``) and decide
what is hidden the way a browser does: the rules of the shipped ``_static/evalib.css``
that set ``display: none``, matched against the page with CSS selectors (soupsieve,
which Beautiful Soup uses; both come with the book's theme).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from evalib.book import booktext
from evalib.studies.labels import is_code_name

ROOT = Path(__file__).resolve().parents[2]
SCALING = ROOT / "results" / "scaling"
#: a MyST substitution as a page's source writes it
PLACEHOLDER = re.compile(r"\{\{\s*[A-Za-z_][\w.]*\s*\}\}")


# ----------------------------------------------------------------------------- the Ray table


def _row_labels(table: str) -> list[str]:
    """The first cell of every body row of a Markdown pipe table."""
    rows = [line for line in table.splitlines() if line.startswith("|")][2:]
    return [row.split("|")[1].strip() for row in rows]


def _ray_section() -> str:
    text = (ROOT / "book" / "scaling.md").read_text(encoding="utf-8")
    start = text.index("\n## A grid run through Ray on this machine")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else len(text)]


def test_ray_table_labels_its_rows_for_readers() -> None:
    columns = [c for c in pd.read_csv(SCALING / "ray_smoke.csv").columns if c != "executor"]
    labels = _row_labels(booktext.ray_smoke_table(SCALING))
    assert len(labels) == len(columns) and len(set(labels)) == len(labels)
    bad = [x for x in labels if is_code_name(x) or "_" in x or "`" in x]
    assert not bad, f"code names as row labels: {bad}"


def test_ray_table_names_a_new_column_in_words(tmp_path: Path) -> None:
    pd.DataFrame({"executor": ["serial"], "queue_wait_s": [1.5], "cold_starts": [0]}).to_csv(
        tmp_path / "ray_smoke.csv", index=False
    )
    assert _row_labels(booktext.ray_smoke_table(tmp_path)) == ["queue wait (s)", "cold starts"]


def test_ray_section_explains_the_rows_by_the_table_s_names() -> None:
    """The prose names no CSV column, and every row or column it names in italics is one
    the table shows."""
    frame = pd.read_csv(SCALING / "ray_smoke.csv")
    section = _ray_section()
    named = [c for c in frame.columns if re.search(rf"\b{re.escape(c)}\b", section) and "_" in c]
    assert not named, f"the prose names CSV columns: {named}"
    shown = set(_row_labels(booktext.ray_smoke_table(SCALING))) | set(frame["executor"])
    italics = {" ".join(m.split()) for m in re.findall(r"(?<![*\w])\*([^*]+)\*(?!\*)", section)}
    assert italics, "the section explains no row or column by name"
    assert italics <= shown, f"named in the prose but not in the table: {italics - shown}"


# ----------------------------------------------------------------------------- built pages


def _pages(html_dir: Path) -> list[Path]:
    skip = ("_static/", "_sources/", "_images/")
    return [p for p in sorted(html_dir.rglob("*.html"))
            if not p.relative_to(html_dir).as_posix().startswith(skip)]  # fmt: skip


def _hiding_selectors(css: str) -> list[str]:
    """The selectors of the style sheet's top-level rules (not inside @media) that set
    ``display: none``."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    selectors, depth, start = [], 0, 0
    for i, ch in enumerate(css):
        if ch == "{":
            if depth == 0:
                head, body_start = css[start:i].strip(), i + 1
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                body = css[body_start:i]
                if not head.startswith("@") and re.search(r"display\s*:\s*none", body):
                    selectors += _split_selectors(head)
                start = i + 1
    return selectors


def _split_selectors(group: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in group:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    return [p for p in [*parts, cur.strip()] if p]


class _Page:
    def __init__(self, path: Path, selectors: list[str]) -> None:
        bs4 = pytest.importorskip("bs4")
        self.path = path
        self.soup = bs4.BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        self._hidden = {id(el) for sel in selectors for el in self.soup.select(sel)}

    def hidden(self, el) -> bool:
        """True when ``el`` or one of its ancestors is hidden by the style sheet."""
        return any(id(e) in self._hidden for e in (el, *el.parents))


@pytest.fixture(scope="module")
def pages(html_dir: Path) -> list[_Page]:
    selectors = _hiding_selectors((html_dir / "_static" / "evalib.css").read_text("utf-8"))
    return [_Page(p, selectors) for p in _pages(html_dir)]


def test_download_menu_offers_no_source_with_placeholders(html_dir: Path, pages) -> None:
    """A Markdown page's source holds MyST placeholders that only the build fills in: the
    menu must not offer it. A notebook page still offers its .ipynb."""
    offered, notebooks = [], 0
    for page in pages:
        for a in page.soup.select(".dropdown-download-buttons a[href]"):
            target = (page.path.parent / a["href"].split("#")[0]).resolve()
            if html_dir / "_sources" not in target.parents or page.hidden(a):
                continue
            assert target.is_file(), f"{page.path.name}: dead download link {a['href']}"
            if PLACEHOLDER.search(target.read_text(encoding="utf-8")):
                offered.append(f"{page.path.relative_to(html_dir)} -> {a['href']}")
            notebooks += target.suffix == ".ipynb"
    assert not offered, "sources with placeholders offered for download:\n" + "\n".join(offered)
    assert notebooks, "no notebook page offers its .ipynb any more"
    placeholders = [p for p in (html_dir / "_sources").rglob("*.md")
                    if PLACEHOLDER.search(p.read_text(encoding="utf-8"))]  # fmt: skip
    assert placeholders, "no source holds a placeholder: this test checks nothing"


def test_bibliography_shows_no_numeric_labels(html_dir: Path, pages) -> None:
    page = next(p for p in pages if p.path == html_dir / "book" / "bibliography.html")
    entries = page.soup.select("div.citation-list > div.citation")
    assert len(entries) >= 10
    shown = [e.select_one("span.label").get_text(strip=True) for e in entries
             if e.select_one("span.label") and not page.hidden(e.select_one("span.label"))]  # fmt: skip
    assert not shown, f"bibliography entries show labels: {shown[:5]}"


def test_every_citation_links_to_its_entry(html_dir: Path, pages) -> None:
    """Author-year citations in the text link to the bibliography's entries (a list type
    the citations cannot resolve into leaves them unlinked)."""
    broken, n = [], 0
    for page in pages:
        for cite in page.soup.select("span.bibtex-citation"):
            links = cite.select("a[href]")
            n += 1
            if not links:
                broken.append(f"{page.path.name}: {cite.get_text()}")
            for a in links:
                file, _, frag = a["href"].partition("#")
                target = (page.path.parent / file).resolve() if file else page.path
                ids = re.findall(r'id="([^"]+)"', target.read_text(encoding="utf-8"))
                if frag not in ids:
                    broken.append(f"{page.path.name}: {a['href']}")
    assert n, "no citations found"
    assert not broken, f"citations without an entry: {broken[:5]}"
