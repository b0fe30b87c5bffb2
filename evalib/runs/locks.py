"""One runner per job: a lock file that names its holder, and recovery from a dead one.

Before a job (or a surrogate, or a study task) is trained, its runner creates
``<name>.lock`` beside the result it will write (created with ``O_EXCL``, so two
processes never both succeed). The file holds one line of JSON naming the holder: host,
process id, the process's start time and when the lock was taken. While it trains, the
holder touches the file every :data:`HEARTBEAT_S` seconds; when it is done (result
written or failed) it removes the file.

A lock is *stale*, and is broken by the next runner that wants the job, when its
holder is on this host and its process is gone (or the id now belongs to another
process), or when the file was not touched for :data:`STALE_S` seconds (a holder on
another host that died). Breaking is serialised by an ``flock`` on the folder itself
(where ``fcntl`` is missing only the O_EXCL rule holds).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evalib.errors import EvalibError

HEARTBEAT_S = 30.0  # seconds between touches of a held lock
STALE_S = 600.0  # a lock untouched this long is stale (its holder died on another host)
POLL_S = 2.0  # seconds between looks at a lock held by another runner


@dataclass(frozen=True)
class Holder:
    """Who holds a lock: ``host``, ``pid``, the process's start (``proc_start``, clock
    ticks after boot from ``/proc``; None elsewhere), ``since`` (Unix time the lock was
    taken) and a ``token`` unique to the claim."""

    host: str
    pid: int
    proc_start: int | None
    since: float
    token: str

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))
        return f"pid {self.pid} on {self.host} since {when}"


class JobHeld(EvalibError):
    """The job is being run by another live runner (``holder``); it was not started."""

    def __init__(self, key: str, holder: Holder) -> None:
        super().__init__(f"job {key} is being run by another runner ({holder.describe()})")
        self.key = key
        self.holder = holder


def _stat_fields(pid: int) -> list[str] | None:
    """Fields 3, 4, ... of ``/proc/<pid>/stat`` (state first), or None where unreadable."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            text = fh.read()
        return text[text.rindex(")") + 2 :].split()
    except (OSError, ValueError):
        return None


def _proc_start(pid: int) -> int | None:
    """Start time of process ``pid`` (clock ticks after boot) from ``/proc``, or None."""
    fields = _stat_fields(pid)
    try:
        return int(fields[19]) if fields else None  # field 22 of stat
    except (ValueError, IndexError):
        return None


def _alive(pid: int, proc_start: int | None) -> bool:
    """True when process ``pid`` of this host exists and (where known) is the same process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by someone else
    except OSError:
        return False
    fields = _stat_fields(pid)
    if fields and fields[0] in ("Z", "X"):
        return False  # exited, not yet reaped by its parent
    if proc_start is not None:
        now = _proc_start(pid)
        if now is not None and now != proc_start:
            return False  # the id was reused by another process
    return True


def me() -> Holder:
    """A new holder record for this process."""
    pid = os.getpid()
    return Holder(socket.gethostname(), pid, _proc_start(pid), time.time(), uuid.uuid4().hex)


def read_holder(path: Path) -> Holder | None:
    """The holder named in the lock file at ``path``; None when absent or not (yet) readable."""
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
        return Holder(
            host=str(record["host"]),
            pid=int(record["pid"]),
            proc_start=None if record.get("proc_start") is None else int(record["proc_start"]),
            since=float(record["since"]),
            token=str(record["token"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def is_stale(path: Path, holder: Holder | None, stale_s: float = STALE_S) -> bool:
    """True when the lock at ``path`` may be broken: its holder is a process of this host
    that is gone, or the file was not touched for ``stale_s`` seconds."""
    try:
        age = time.time() - os.stat(path).st_mtime
    except FileNotFoundError:
        return True
    except OSError:
        return False
    if holder is not None and holder.host == socket.gethostname():
        if not _alive(holder.pid, holder.proc_start):
            return True
    return age > stale_s


@contextlib.contextmanager
def _guard(folder: Path) -> Iterator[None]:
    """Serialise the breaking of stale locks in ``folder`` among processes of one host."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fd = os.open(folder, os.O_RDONLY)  # the folder itself: no file is left behind
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


class Claim:
    """A held lock: touched every ``HEARTBEAT_S`` seconds until :meth:`release` (or the
    end of a ``with`` block) removes it."""

    def __init__(self, path: Path, holder: Holder, heartbeat_s: float = HEARTBEAT_S) -> None:
        self.path, self.holder = path, holder
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._touch, args=(heartbeat_s,), daemon=True)
        self._beat.start()

    def _touch(self, every: float) -> None:
        while not self._stop.wait(every):
            with contextlib.suppress(OSError):
                os.utime(self.path)

    def release(self) -> None:
        """Stop the heartbeat and remove the lock file if it is still this claim's."""
        self._stop.set()
        self._beat.join(timeout=5)
        found = read_holder(self.path)
        if found is not None and found.token == self.holder.token:
            with contextlib.suppress(OSError):
                self.path.unlink()

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def _create(path: Path, holder: Holder) -> bool:
    """Create the lock file naming ``holder``; False when it exists."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
    except FileExistsError:
        return False
    except OSError as exc:
        raise EvalibError(f"cannot create the lock {path}: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(asdict(holder)) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return True


def try_claim(path: str | os.PathLike, stale_s: float = STALE_S) -> Claim | Holder:
    """Take the lock at ``path``: a :class:`Claim` when this process now holds it, else
    the live :class:`Holder` that does. A stale lock (see :func:`is_stale`) is broken."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    holder = me()
    if _create(path, holder):
        return Claim(path, holder)
    found = read_holder(path)
    if not is_stale(path, found, stale_s):
        return found or Holder("?", -1, None, time.time(), "")  # being written just now
    with _guard(path.parent):
        again = read_holder(path)
        if (again is None) != (found is None) or (again and found and again.token != found.token):
            return again or Holder("?", -1, None, time.time(), "")  # someone broke it first
        if is_stale(path, again, stale_s):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        if _create(path, holder):
            return Claim(path, holder)
    return read_holder(path) or Holder("?", -1, None, time.time(), "")


def run_once(
    path: str | os.PathLike,
    key: str,
    cached: Callable[[], Any],
    compute: Callable[[], Any],
    *,
    wait: bool = True,
    poll_s: float = POLL_S,
    stale_s: float = STALE_S,
    on_wait: Callable[[Holder], None] | None = None,
) -> Any:
    """``cached()`` when it is not None, else ``compute()`` under the lock at ``path``.

    While another live runner holds the lock: with ``wait``, look again every ``poll_s``
    seconds until its result is there (returned) or its lock is gone or stale (then this
    process computes); without, raise :class:`JobHeld` at once (the caller comes back
    later). The result is looked up again after the lock is taken, so a job that another
    runner finished meanwhile is never computed twice. ``on_wait(holder)`` is called once,
    when waiting starts.
    """
    waited = False
    while True:
        found = cached()
        if found is not None:
            return found
        claim = try_claim(path, stale_s)
        if isinstance(claim, Claim):
            break
        if not wait:
            raise JobHeld(key, claim)
        if not waited and on_wait is not None:
            on_wait(claim)
        waited = True
        time.sleep(poll_s)
    with claim:
        found = cached()
        if found is not None:
            return found
        return compute()


def held_by(path: str | os.PathLike, stale_s: float = STALE_S) -> Holder | None:
    """The live holder of the lock at ``path``, or None (no lock, or a stale one)."""
    path = Path(path)
    if not path.exists():
        return None
    found = read_holder(path)
    return None if is_stale(path, found, stale_s) else found
