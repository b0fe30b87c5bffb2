"""Atomic writes, and the rule that evalib never overwrites what it did not write.

Atomic: a file or folder appears under its final name only when complete. Every result,
cache entry, selection and dynamics file goes through here, so a killed process or a full
disk leaves either the previous version or nothing, never a torn file.

Ownership: every folder evalib creates or replaces holds a marker file ``.evalib-output``
(one line of JSON naming the kind of output). An existing path is only replaced or written
into when it is absent, an empty folder, a folder whose marker names the same kind, or
output that evalib wrote before markers existed (recognised by its layout, see the
``legacy`` arguments). Anything else is refused with a one-line error before any work.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from evalib.errors import EvalibError

MARKER = ".evalib-output"


def _fail(path: Path, exc: OSError) -> EvalibError:
    return EvalibError(f"cannot write {path}: {exc.strerror or exc}")


def warn(message: str) -> None:
    """One line ``evalib: warning: ...`` on stderr (shown in notebooks as well)."""
    print(f"evalib: warning: {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- ownership


def output_kind(folder: str | os.PathLike) -> str | None:
    """The kind named by ``folder``'s marker file, or None (no marker, or unreadable)."""
    try:
        record = json.loads((Path(folder) / MARKER).read_text())
    except (OSError, ValueError):
        return None
    kind = record.get("kind") if isinstance(record, dict) else None
    return kind if isinstance(kind, str) else None


def write_marker(folder: str | os.PathLike, kind: str) -> None:
    """Mark ``folder`` as evalib output of ``kind`` (one line of JSON)."""
    from evalib import __version__

    path = Path(folder) / MARKER
    try:
        path.write_text(json.dumps({"kind": kind, "evalib_version": __version__}) + "\n")
    except OSError as exc:
        raise _fail(path, exc) from exc


def _label(path: Path, what: str | None) -> str:
    return f"{what} {path}" if what else str(path)


def _listing(folder: Path, what: str | None) -> list[str]:
    try:
        return sorted(os.listdir(folder))
    except OSError as exc:
        raise EvalibError(f"cannot read {_label(folder, what)}: {exc.strerror or exc}") from exc


def is_cwd_or_above(path: str | os.PathLike) -> bool:
    """True when ``path`` is the working folder or one of its parents (never replaced)."""
    try:
        target, here = Path(path).resolve(), Path.cwd().resolve()
    except OSError:
        return False
    return target == here or target in here.parents


def check_output_dir(
    path: str | os.PathLike,
    kind: str,
    *,
    legacy: Callable[[Path], bool] | None = None,
    what: str | None = None,
    hint: str = "choose a new or empty folder",
) -> None:
    """Raise EvalibError unless ``path`` may be used as an evalib ``kind`` folder.

    Allowed: absent; an empty folder; a folder marked as ``kind``; or a folder that
    ``legacy`` recognises as ``kind`` output written before markers existed. ``what`` names
    the option in messages (e.g. ``"--out"``). Creates and changes nothing.
    """
    path = Path(path)
    label = _label(path, what)
    if not os.path.lexists(path):
        check_writable(path, what)
        return
    if not path.is_dir():
        raise EvalibError(f"{label} is a file, not a folder; {hint}")
    names = _listing(path, what)
    if not names:
        return
    found = output_kind(path)
    if found == kind:
        return
    if found is not None:
        raise EvalibError(f"{label} holds evalib {found} output, not {kind}; {hint}")
    if legacy is not None and legacy(path):
        return
    shown = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
    raise EvalibError(
        f"{label} already holds files that evalib did not write ({shown}); "
        f"evalib never writes into such a folder: {hint}"
    )


def claim_dir(
    path: str | os.PathLike,
    kind: str,
    *,
    legacy: Callable[[Path], bool] | None = None,
    what: str | None = None,
    hint: str = "choose a new or empty folder",
) -> Path:
    """Check ``path`` with :func:`check_output_dir`, create it and mark it as ``kind``.

    A folder recognised by ``legacy`` is used as it is (no marker is added to it)."""
    path = Path(path)
    check_output_dir(path, kind, legacy=legacy, what=what, hint=hint)
    if path.is_dir() and output_kind(path) is None and _listing(path, what):
        return path  # legacy layout: leave it untouched
    _mkdir(path)
    if output_kind(path) != kind:
        write_marker(path, kind)
    return path


def check_output_file(
    path: str | os.PathLike,
    kind: str,
    is_ours: Callable[[Path], bool],
    *,
    what: str | None = None,
) -> None:
    """Raise EvalibError unless ``path`` is absent (in a writable place) or an evalib ``kind``
    file that ``is_ours`` recognises (which may be replaced). Creates nothing."""
    path = Path(path)
    label = _label(path, what)
    if not os.path.lexists(path):
        check_writable(path, what)
        return
    if path.is_dir():
        raise EvalibError(f"{label} is a folder; name a file")
    if not is_ours(path):
        raise EvalibError(
            f"{label} exists and is not an evalib {kind} file; evalib never overwrites "
            "a file it did not write: choose another name"
        )
    check_writable(path, what)


def check_writable(path: str | os.PathLike, what: str | None = None) -> None:
    """Fail fast, creating nothing, when ``path`` could not be written later."""
    path = Path(path)
    label = _label(path, what)
    folder = Path(os.path.abspath(path)).parent
    try:
        while not folder.exists():
            folder = folder.parent
    except OSError as exc:
        raise EvalibError(f"cannot write {label}: {exc.strerror or exc}") from exc
    if not folder.is_dir():
        raise EvalibError(f"cannot write {label}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise EvalibError(f"cannot write {label}: {folder} is not writable")


def _mkdir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _fail(folder, exc) from exc


@contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary sibling of ``path`` for writing; fsync and rename it on success.

    On any error the temporary file is removed and an OSError becomes a one-line
    EvalibError (e.g. "No space left on device").
    """
    path = Path(path)
    _mkdir(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _fail(path, exc) from exc
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _fail(path, exc) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_dir(
    path: str | os.PathLike,
    kind: str = "output",
    *,
    legacy: Callable[[Path], bool] | None = None,
    what: str | None = None,
) -> Iterator[Path]:
    """Fill a temporary sibling folder, then swap it in for ``path``.

    The new folder is marked as ``kind``. An existing ``path`` is replaced only when
    :func:`check_output_dir` allows it (checked before anything is written); the working
    folder and its parents are never replaced.
    """
    path = Path(path)
    if is_cwd_or_above(path):
        raise EvalibError(
            f"{_label(path, what)} is the working folder or one of its parents; "
            "name a new folder inside it"
        )
    check_output_dir(path, kind, legacy=legacy, what=what)
    path = Path(os.path.abspath(path))
    _mkdir(path.parent)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    except OSError as exc:
        raise _fail(path, exc) from exc
    try:
        yield tmp
        write_marker(tmp, kind)
        if os.path.lexists(path):
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _fail(path, exc) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def progress_bar(enabled: bool = True, **kwargs):
    """A text tqdm bar (plain text in notebooks too); ``EVALIB_PROGRESS=0`` silences all."""
    from tqdm import tqdm

    quiet = os.environ.get("EVALIB_PROGRESS", "1") == "0"
    return tqdm(disable=quiet or not enabled, **kwargs)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Help that shows each option's default (when it has one) and its valid choices, and
    keeps the line breaks of the usage examples in the epilogs."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        names = getattr(action, "lazy_choices", None)
        if names is None and action.choices is not None and action.metavar is not None:
            names = lambda: list(action.choices)  # noqa: E731 - the metavar hides them
        if names is not None:  # computed when help is shown, so that parsing stays fast
            text += "; one of: " + ", ".join(names()).replace("%", "%%")
        shown = action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE)
        if "%(default)" in text or "default:" in text or not shown:
            return text
        default = action.default
        if default is None or default is False or default == argparse.SUPPRESS or default == []:
            return text  # nothing to show (0 and 0.0 are shown)
        if isinstance(default, list | tuple):
            default = " ".join(str(d) for d in default)
        return f"{text} (default: {str(default).replace('%', '%%')})"
