"""The book's header buttons from one setting: ``repository.url`` in ``_config.yml``.

Jupyter Book needs four settings to show the repository, issue, Colab and Binder
buttons, and fails when a button is on but the URL is empty. This Sphinx extension
(listed in ``_config.yml``) derives them from the repository URL alone: with a GitHub or
GitLab URL set, the buttons appear on every page (Colab only for GitHub, as Colab only
opens GitHub notebooks); with none, they stay off and the book builds offline as before.
The download button always works, because the build ships the page sources
(``html_copy_source``): the notebooks and Markdown files under ``_sources/``.
"""

from __future__ import annotations

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


def _on_config_inited(app, config) -> None:
    config.html_theme_options = button_options(config.html_theme_options or {})


def setup(app):
    """Sphinx entry point."""
    app.connect("config-inited", _on_config_inited)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
