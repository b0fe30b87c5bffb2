"""Atomic writes, and the rule that evalib never overwrites what it did not write.

Atomic: a file or folder appears under its final name only when complete. Every result,
cache entry, selection and dynamics file goes through here, so a killed process or a full
disk leaves either the previous version or nothing, never a torn file.

Permissions: a file or folder written here ends with the mode a plain ``open()`` or
``mkdir()`` would give it under the current umask (``0o666 & ~umask``, ``0o777 & ~umask``);
a replaced file keeps its mode. Temporary files alone are private while being written.

Parents: :func:`check_parent` is the check for paths a user names (``--out``,
``--out-dir``, ...): their parent folder must exist, so a typo never creates a tree.

Ownership: every folder evalib creates or replaces holds a marker file ``.evalib-output``
(one line of JSON naming the kind of output, and optionally what the output was made
from, see :func:`marker_record`). An existing path is only replaced or written
into when it is absent, an empty folder, a folder whose marker names the same kind, or
output that evalib wrote before markers existed (recognised by its layout, see the
``legacy`` arguments). Anything else is refused with a one-line error before any work.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
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


def current_umask() -> int:
    """The process's umask, read without changing it where Linux shows it
    (``/proc/self/status``); elsewhere set and restored at once."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode(existing: str | os.PathLike | None = None) -> int:
    """Permission bits for a file evalib writes: those of ``existing`` when it is a file
    being replaced, else ``0o666 & ~umask`` (what ``open(path, "w")`` gives)."""
    if existing is not None:
        try:
            st = os.stat(existing)
            if stat.S_ISREG(st.st_mode):
                return stat.S_IMODE(st.st_mode)
        except OSError:
            pass
    return 0o666 & ~current_umask()


def dir_mode() -> int:
    """Permission bits for a folder evalib makes: ``0o777 & ~umask`` (as ``mkdir``)."""
    return 0o777 & ~current_umask()


def refuses_pickle(exc: BaseException) -> bool:
    """True when ``exc`` is numpy refusing an array of Python objects (a pickle) because
    evalib loads with ``allow_pickle=False``."""
    text = str(exc)
    return isinstance(exc, ValueError) and (
        "allow_pickle" in text or "Python objects in dtype" in text  # np.load, mmap
    )


def warn(message: str) -> None:
    """One line ``evalib: warning: ...`` on stderr (shown in notebooks as well)."""
    print(f"evalib: warning: {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- ownership


def marker_record(folder: str | os.PathLike) -> dict | None:
    """The JSON object in ``folder``'s marker file, or None (no marker, or unreadable)."""
    try:
        record = json.loads((Path(folder) / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def output_kind(folder: str | os.PathLike) -> str | None:
    """The kind named by ``folder``'s marker file, or None (no marker, or unreadable)."""
    kind = (marker_record(folder) or {}).get("kind")
    return kind if isinstance(kind, str) else None


def write_marker(folder: str | os.PathLike, kind: str, **facts) -> None:
    """Mark ``folder`` as evalib output of ``kind`` (one line of JSON); ``facts``
    (JSON-able) record what the output was made from."""
    from evalib import __version__

    path = Path(folder) / MARKER
    record = {"kind": kind, "evalib_version": __version__, **facts}
    with atomic_file(path, "w") as fh:
        fh.write(json.dumps(record, sort_keys=True) + "\n")


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


def check_parent(path: str | os.PathLike, what: str | None = None) -> None:
    """Raise a one-line EvalibError unless the folder that would hold ``path`` exists and
    is writable: a path a user names is never given missing parent folders (a typo in
    ``--out /nonexistent/dir/a.npz`` would create ``/nonexistent/dir``). Creates nothing."""
    path = Path(path).expanduser()
    label = _label(path, what)
    parent = Path(os.path.abspath(path)).parent
    try:
        if parent.is_dir():
            if not os.access(parent, os.W_OK | os.X_OK):
                raise EvalibError(f"cannot write {label}: {parent} is not writable")
            return
        above = parent
        while not os.path.lexists(above) and above != above.parent:
            above = above.parent
    except OSError as exc:
        raise EvalibError(f"cannot write {label}: {exc.strerror or exc}") from exc
    if os.path.lexists(above) and not above.is_dir():
        raise EvalibError(f"cannot write {label}: {above} is not a folder")
    raise EvalibError(
        f"cannot write {label}: the folder {parent} does not exist; evalib creates no "
        "parent folders: create it first, or fix the path"
    )


def _mkdir(folder: Path) -> None:
    """``mkdir -p`` (each new folder ``0o777 & ~umask``, as mkdir gives)."""
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
            os.fchmod(fh.fileno(), file_mode(path))  # mkstemp made it 0600
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
        os.chmod(tmp, dir_mode())  # mkdtemp made it 0700
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
