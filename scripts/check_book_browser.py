#!/usr/bin/env python3
"""Open built book pages in headless Chromium and check what a reader would see.

Usage:
    python scripts/check_book_browser.py [--html-dir _build/html] [--screenshots DIR]
        PAGE[:math][:figures] ...

PAGE is a path inside the HTML folder, e.g. ``book/method.html``. The optional flags
say what the page must contain: ``math`` (equations, typeset by MathJax) and
``figures`` (at least one ``<img>`` figure). Math is also checked on every page whose
built HTML contains math, flag or not.

The HTML folder is served on 127.0.0.1 (a random free port) for the duration of the
run; Chromium resolves no other host, so the check also proves that the pages render
offline. For every page it checks that

* the page is served and loads (HTTP 200, a DOM with a body);
* every math element of the built page became an ``mjx-container`` (MathJax ran), with
  no MathJax error, and no raw TeX (``$$``, ``\\begin{``, ``\\frac``, ``\\(``, ``\\[``)
  is left in the visible text outside MathJax output and code blocks;
* pages flagged ``figures`` have ``<img>`` figures whose files exist;
* every link of the header buttons (download, repository, issues, launch) works: a
  local link resolves to a file of the built book, a link to another host is a
  well-formed http(s) URL (it is not fetched: the check is offline);
* no script, stylesheet, image or frame is loaded from a remote host, neither in the
  DOM nor in Chromium's network log;
* a screenshot (1280x2000 by default) can be taken; it is written to the screenshots folder.

Exit status: 0 if every check passed; 1 with one ``FAIL page: reason`` line per failed
check; 2 for a usage problem (no Chromium, no HTML folder). Standard library only.
"""

from __future__ import annotations

import argparse
import functools
import html
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
)
VIRTUAL_TIME_MS = 10000
WINDOW = (1280, 2000)
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
RAW_TEX = ("$$", "\\begin{", "\\frac", "\\(", "\\[")
# Subtrees whose text is not prose: MathJax output, code, scripts, hidden templates.
SKIP_TEXT = {
    "script", "style", "noscript", "template", "textarea", "pre", "code", "kbd", "samp",
    "svg", "mjx-container", "mjx-assistive-mml", "head", "title",
}  # fmt: skip
# Elements whose URL attribute loads a resource (links with rel=stylesheet/preload/icon too).
RESOURCE_ATTRS = {
    "script": "src", "img": "src", "iframe": "src", "source": "src", "video": "src",
    "audio": "src", "embed": "src", "object": "data", "track": "src",
}  # fmt: skip
LOADING_RELS = {
    "stylesheet",
    "preload",
    "modulepreload",
    "icon",
    "shortcut",
    "prefetch",
    "manifest",
}
# The bar of header buttons (download, repository, launch) of sphinx-book-theme pages.
HEADER_CLASS = "article-header-buttons"
# Math elements as Sphinx writes them: <span class="math notranslate nohighlight">\(..\)</span>
# and <div class="math notranslate nohighlight">\[..\]</div>.
STATIC_MATH = re.compile(r'<(?:span|div)\b[^>]*class="[^"]*\bmath\b[^"]*"', re.I)


# ----------------------------------------------------------------------------- pages


@dataclass
class PageSpec:
    path: str
    math: bool = False
    figures: bool = False

    @staticmethod
    def parse(text: str) -> PageSpec:
        parts = text.split(":")
        spec = PageSpec(parts[0].lstrip("/"))
        for flag in parts[1:]:
            if flag not in ("math", "figures"):
                raise ValueError(f"unknown page flag {flag!r} in {text!r} (use math, figures)")
            setattr(spec, flag, True)
        if not spec.path:
            raise ValueError(f"empty page path in {text!r}")
        return spec


class DomScan(HTMLParser):
    """One pass over a dumped DOM: visible text, math containers, images, remote loads."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.mjx = 0
        self.mjx_errors = 0
        self.images: list[str] = []
        self.resources: list[str] = []
        self.has_body = False
        self.header_links: list[str] = []
        self._skip = 0
        self._header_depth = 0  # >0 inside the page header's button bar

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "body":
            self.has_body = True
        if tag == "mjx-container":
            self.mjx += 1
        if tag == "mjx-merror" or "data-mjx-error" in a:
            self.mjx_errors += 1
        if tag == "img" and a.get("src"):
            self.images.append(a["src"])
        if tag in RESOURCE_ATTRS and a.get(RESOURCE_ATTRS[tag]):
            self.resources.append(a[RESOURCE_ATTRS[tag]])
        if tag == "link" and a.get("href"):
            if set(a.get("rel", "").lower().split()) & LOADING_RELS:
                self.resources.append(a["href"])
        if tag in SKIP_TEXT:
            self._skip += 1
        if tag == "div" and (self._header_depth or HEADER_CLASS in a.get("class", "").split()):
            self._header_depth += 1
        if tag == "a" and self._header_depth:
            self.header_links.append(a.get("href", ""))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <x/> opens and closes at once: record it, but never enter a skipped subtree.
        self.handle_starttag(tag, attrs)
        if tag in SKIP_TEXT:
            self._skip -= 1

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIP_TEXT and self._skip > 0:
            self._skip -= 1
        if tag == "div" and self._header_depth:
            self._header_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)


def broken_header_link(href: str, page: Path, html_dir: Path) -> str:
    """Why a header button's link is broken ("" when it is fine).

    A local link must resolve to a file of the built book (``page`` is the HTML file the
    link is on); a link to another host must be a well-formed http(s) URL (the check runs
    offline, so it is not fetched).
    """
    raw = html.unescape(href.strip())
    if not raw or raw == "#":
        return f"empty link {href!r}"
    parsed = urllib.parse.urlsplit(raw)
    if parsed.scheme in ("http", "https") and parsed.hostname not in LOCAL_HOSTS:
        if not parsed.netloc or " " in raw or "." not in (parsed.hostname or ""):
            return f"malformed URL {raw!r}"
        return ""
    if parsed.scheme and parsed.scheme not in ("http", "https", "file"):
        return f"unexpected link scheme in {raw!r}"
    rel = urllib.parse.unquote(parsed.path)
    if parsed.scheme in ("http", "https"):  # the local server: path from the book's root
        target = (html_dir / rel.lstrip("/")).resolve()
    elif rel.startswith("/"):
        target = (html_dir / rel.lstrip("/")).resolve()
    else:
        target = (page.parent / rel).resolve() if rel else page
    if target.is_dir():
        target = target / "index.html"
    if not target.is_file():
        root = html_dir.resolve()
        shown = target.relative_to(root) if target.is_relative_to(root) else target
        return f"{raw} points to {shown}, which was not built"
    return ""


META_REFRESH = re.compile(
    r"<meta[^>]+http-equiv=[\"']?refresh[\"']?[^>]+content=[\"']?\s*\d+\s*;\s*url=([^\"'>]+)",
    re.IGNORECASE,
)


def redirect_target(static_html: str, page: Path) -> Path:
    """The file a meta-refresh page sends the browser to (``page`` itself when none).

    Jupyter Book's root ``index.html`` only redirects to the first page, so the links in the
    DOM Chromium dumps are relative to that page, not to ``index.html``.
    """
    match = META_REFRESH.search(static_html)
    if not match:
        return page
    rel = urllib.parse.unquote(urllib.parse.urlsplit(html.unescape(match.group(1).strip())).path)
    target = (page.parent / rel).resolve()
    return target if target.is_file() else page


def is_remote(url: str) -> bool:
    parsed = urllib.parse.urlsplit(html.unescape(url.strip()))
    if parsed.scheme in ("", "data", "blob", "about", "chrome", "file", "javascript"):
        return parsed.scheme == "" and url.strip().startswith("//")  # protocol-relative
    return parsed.hostname not in LOCAL_HOSTS


def raw_tex_snippets(text: str) -> list[str]:
    hits = []
    for token in RAW_TEX:
        i = text.find(token)
        if i >= 0:
            snippet = " ".join(text[max(0, i - 30) : i + 40].split())
            hits.append(f"{token!r} in “…{snippet}…”")
    return hits


# ----------------------------------------------------------------------------- server


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        # Chromium closes connections it no longer needs: not a failure of the page.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LocalServer:
    """Serve a folder on 127.0.0.1 at a free port, in a background thread."""

    def __init__(self, root: Path) -> None:
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.httpd = _QuietServer(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> LocalServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{urllib.parse.quote(path)}"


# ----------------------------------------------------------------------------- chromium


def find_chromium(explicit: str | None) -> str | None:
    for cand in (explicit, os.environ.get("CHROMIUM"), DEFAULT_CHROMIUM):
        if cand and Path(cand).is_file() and os.access(cand, os.X_OK):
            return cand
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def run_chromium(
    chromium: str, url: str, extra: list[str], timeout: float
) -> tuple[subprocess.CompletedProcess[str] | None, list[str], str]:
    """Run Chromium once with a fresh profile.

    Returns (process or None, URLs the page requested, error message).
    """
    with tempfile.TemporaryDirectory(
        prefix="chromium-profile-", ignore_cleanup_errors=True
    ) as profile:
        netlog = Path(profile) / "netlog.json"
        cmd = [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            # Resolve nothing but the local server: the book must render offline.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
            f"--log-net-log={netlog}",
            f"--virtual-time-budget={VIRTUAL_TIME_MS}",
            *extra,
            url,
        ]
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired:
            return None, [], f"Chromium did not finish within {timeout:.0f} s"
        except OSError as exc:
            return None, [], f"cannot start Chromium: {exc}"
        return proc, page_requests(netlog), ""


def page_requests(netlog: Path) -> list[str]:
    """URLs of the requests made on behalf of a page served from the local host.

    Chromium's net log holds one event per line. Requests started for the page carry the
    page's site in ``network_isolation_key``; the browser's own background requests
    (update checks, time sync, account probes) carry another key and are ignored, since
    they say nothing about the book.
    """
    urls: set[str] = set()
    if not netlog.is_file():
        return []
    for line in netlog.read_text(errors="replace").splitlines():
        if '"network_isolation_key"' not in line or '"url"' not in line:
            continue
        try:
            event = json.loads(line.strip().rstrip(","))
        except ValueError:
            continue
        params = event.get("params", {}) if isinstance(event, dict) else {}
        key = str(params.get("network_isolation_key", ""))
        sites = key.split()
        if sites and all(urllib.parse.urlsplit(s).hostname in LOCAL_HOSTS for s in sites):
            urls.add(str(params.get("url", "")))
    return sorted(u for u in urls if u)


# ----------------------------------------------------------------------------- checks


def check_page(
    spec: PageSpec,
    html_dir: Path,
    server: LocalServer,
    chromium: str,
    shots: Path,
    timeout: float,
    window: tuple[int, int] = WINDOW,
) -> tuple[list[str], str]:
    """Return (failure reasons, one-line summary) for one page."""
    fails: list[str] = []
    file = html_dir / spec.path
    if not file.is_file():
        return [f"{spec.path} does not exist in {html_dir}"], ""
    static = file.read_text(errors="replace")
    n_math = len(STATIC_MATH.findall(static))
    shown_file = redirect_target(
        static, file
    )  # the page Chromium ends on (root index.html redirects)
    url = server.url(spec.path)
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            if resp.status != 200:
                fails.append(f"HTTP {resp.status} from the local server")
    except (urllib.error.URLError, OSError) as exc:
        return [f"the local server did not serve it ({exc})"], ""

    proc, requested, err = run_chromium(chromium, url, ["--dump-dom"], timeout)
    if proc is None:
        return [err], ""
    dom = proc.stdout
    scan = DomScan()
    scan.feed(dom)
    scan.close()
    if proc.returncode != 0 or not scan.has_body:
        tail = " ".join(proc.stderr.strip().splitlines()[-2:])[:200]
        fails.append(f"page did not load (Chromium exit {proc.returncode}; {tail or 'empty DOM'})")
        return fails, ""

    # Math: every math element typeset, no MathJax error, no raw TeX in visible text.
    if spec.math and n_math == 0:
        fails.append("flagged math but the built page contains no math element")
    if n_math:
        if scan.mjx == 0:
            fails.append(f"{n_math} math elements but no mjx-container: MathJax did not run")
        elif scan.mjx < n_math:
            fails.append(f"only {scan.mjx} of {n_math} math elements were typeset by MathJax")
    if scan.mjx_errors:
        fails.append(f"{scan.mjx_errors} MathJax error(s) in the typeset math")
    visible = " ".join(scan.text)
    for hit in raw_tex_snippets(visible):
        fails.append(f"raw TeX left in visible text: {hit}")

    # Figures: <img> elements whose files exist.
    figures = [s for s in scan.images if not s.startswith("data:") and "/_static/" not in s]
    figures += [s for s in scan.images if s.startswith("data:image")]
    if spec.figures:
        if not figures:
            fails.append("flagged figures but the page has no <img> figure")
        for src in figures:
            if src.startswith("data:") or is_remote(src):
                continue
            target = (file.parent / urllib.parse.unquote(src.split("?")[0].split("#")[0])).resolve()
            if not target.is_file() or target.stat().st_size == 0:
                fails.append(f"figure {src} is missing or empty")

    # Every link of the header buttons works: local ones resolve to built files, remote
    # ones are well-formed URLs (not fetched: the check runs offline).
    for href in scan.header_links:
        reason = broken_header_link(href, shown_file, html_dir)
        if reason:
            fails.append(f"header link broken: {reason}")

    # Nothing loaded from a remote host.
    remote_dom = sorted({r for r in scan.resources if is_remote(r)})
    if remote_dom:
        fails.append(f"loads from a remote host: {', '.join(remote_dom[:3])}")
    remote_net = [u for u in requested if u.startswith(("http", "ws")) and is_remote(u)]
    if remote_net:
        fails.append(f"Chromium requested remote URLs: {', '.join(remote_net[:3])}")

    # Screenshot (a separate run, after the same virtual-time budget).
    shot = shots / (re.sub(r"[^A-Za-z0-9_.-]+", "__", spec.path.removesuffix(".html")) + ".png")
    shot.unlink(missing_ok=True)
    extra = [f"--screenshot={shot}", f"--window-size={window[0]},{window[1]}"]
    proc2, _, err2 = run_chromium(chromium, url, extra, timeout)
    if proc2 is None:
        fails.append(f"screenshot: {err2}")
    elif not shot.is_file() or shot.stat().st_size < 1000:
        fails.append(f"screenshot was not written to {shot}")
    summary = (
        f"{n_math} math element(s), {scan.mjx} typeset, {len(figures)} figure(s), "
        f"{len(scan.header_links)} header link(s), screenshot {shot}"
    )
    return fails, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Check built Jupyter Book pages in headless Chromium (math, figures, offline)."
    )
    parser.add_argument("pages", nargs="+", metavar="PAGE[:math][:figures]")
    parser.add_argument(
        "--html-dir", default="_build/html", help="built HTML (default _build/html)"
    )
    parser.add_argument(
        "--screenshots", default=None, help="folder for PNGs (default <html-dir>/../screenshots)"
    )
    parser.add_argument(
        "--chromium", default=None, help=f"browser binary (default {DEFAULT_CHROMIUM})"
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per Chromium run")
    parser.add_argument(
        "--window-size",
        default=f"{WINDOW[0]},{WINDOW[1]}",
        help="screenshot size W,H in CSS pixels (default %(default)s)",
    )
    args = parser.parse_args(argv)

    html_dir = Path(args.html_dir).resolve()
    if not (html_dir / "index.html").is_file() and not html_dir.is_dir():
        print(f"check_book_browser: no built HTML at {html_dir}", file=sys.stderr)
        return 2
    chromium = find_chromium(args.chromium)
    if chromium is None:
        print(
            "check_book_browser: Chromium not found (apt-get install chromium, or pass --chromium)",
            file=sys.stderr,
        )
        return 2
    try:
        specs = [PageSpec.parse(p) for p in args.pages]
    except ValueError as exc:
        print(f"check_book_browser: {exc}", file=sys.stderr)
        return 2
    try:
        width, height = (int(v) for v in args.window_size.split(","))
    except ValueError:
        print(
            f"check_book_browser: --window-size must be W,H, got {args.window_size!r}",
            file=sys.stderr,
        )
        return 2
    shots = Path(args.screenshots) if args.screenshots else html_dir.parent / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)

    failures = 0
    with LocalServer(html_dir) as server:
        for spec in specs:
            fails, summary = check_page(
                spec, html_dir, server, chromium, shots, args.timeout, (width, height)
            )
            for reason in fails:
                print(f"FAIL {spec.path}: {reason}")
            if not fails:
                print(f"ok   {spec.path}: {summary}")
            failures += len(fails)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
