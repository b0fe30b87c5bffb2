"""The book's header buttons from one setting: ``repository.url`` in ``_config.yml``.

Jupyter Book needs four settings to show the repository, issue, Colab and Binder
buttons, and fails when a button is on but the URL is empty. This Sphinx extension
(listed in ``_config.yml``) derives them from the repository URL alone: with a GitHub or
GitLab URL set, the buttons appear on every page (Colab only for GitHub, as Colab only
opens GitHub notebooks); with none, they stay off and the book builds offline as before.
The download button always works, because the build ships the page sources
(``html_copy_source``) under ``_sources/``: it offers the notebooks and the PDF, not the
prose pages' Markdown, whose numbers are substitution placeholders (the book's CSS hides
that entry).

It also keeps formatter directives out of the rendered code: a ``# fmt: skip`` comment
tells ruff to leave a line alone and says nothing to a reader (:func:`strip_directives`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

BINDER = "https://mybinder.org"
COLAB = "https://colab.research.google.com"


def button_options(theme: Mapping, launch: Mapping | None = None) -> dict:
    """Theme options with the repository buttons and launch links set from
    ``theme["repository_url"]`` (pure: returns a new dict)."""
    out = dict(theme)
    url = str(out.get("repository_url") or "").strip()
    on = url.startswith(("https://", "http://"))
    github = on and "github.com" in url.lower()
    out["use_repository_button"] = on
    out["use_issues_button"] = on and ("github.com" in url.lower() or "gitlab" in url.lower())
    buttons = dict(launch if launch is not None else out.get("launch_buttons") or {})
    if on:
        buttons["binderhub_url"] = buttons.get("binderhub_url") or BINDER
        buttons["colab_url"] = (buttons.get("colab_url") or COLAB) if github else ""
    else:  # the theme cannot build launch links without a repository
        for key in ("binderhub_url", "colab_url", "jupyterhub_url", "deepnote_url"):
            buttons[key] = ""
    out["launch_buttons"] = buttons
    return out


#: a trailing formatter directive (ruff's and black's): ``  # fmt: skip``, ``# fmt: off``
DIRECTIVE = re.compile(r"[ \t]*#[ \t]*fmt:[ \t]*(?:skip|off|on)[ \t]*$", re.MULTILINE)


def strip_directives(code: str) -> str:
    """``code`` without formatter directives at the ends of its lines (a line that held
    only a directive is dropped)."""
    lines = []
    for line in code.split("\n"):
        stripped = DIRECTIVE.sub("", line)
        if stripped.strip() or not line.strip():
            lines.append(stripped)
    return "\n".join(lines)


def _on_doctree_read(app, doctree) -> None:
    from docutils import nodes

    for block in doctree.findall(nodes.literal_block):
        text = block.astext()
        if DIRECTIVE.search(text):
            clean = strip_directives(text)
            block.children = [nodes.Text(clean)]
            block.rawsource = clean


def _on_config_inited(app, config) -> None:
    config.html_theme_options = button_options(config.html_theme_options or {})


def setup(app):
    """Sphinx entry point."""
    app.connect("config-inited", _on_config_inited)
    app.connect("doctree-read", _on_doctree_read)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
