"""Job progress for long runs: a tqdm bar in a terminal, or one line per finished job with
the time elapsed and an ETA where a bar cannot be seen (a notebook run by papermill, whose
``--log-output`` forwards the lines to the terminal, or ``make reproduce``, which shows
them from ``$EVALIB_PROGRESS_FILE``)."""

from __future__ import annotations

import logging
import os
import sys
import time

from evalib.io import progress_bar

JOB_LOGGER = "evalib.jobs"
ENV_PROGRESS_FILE = "EVALIB_PROGRESS_FILE"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of each line (a notebook kernel,
    pytest's capture and papermill each replace it)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def log_job_progress(path: str | os.PathLike | None = None) -> logging.Handler | None:
    """Report one line per finished job (see :class:`JobProgress`) instead of a bar.

    Lines go to ``path``, else to the file named by ``$EVALIB_PROGRESS_FILE``, else to
    stderr, which papermill forwards to the terminal with ``--log-output``; nothing is set
    up when ``EVALIB_PROGRESS=0`` and no file is named. Calling it again replaces the
    previous destination. Returns the handler (None when silenced).
    """
    log = logging.getLogger(JOB_LOGGER)
    for old in [h for h in log.handlers if getattr(h, "_evalib", False)]:
        log.removeHandler(old)
        old.close()
    target = path or os.environ.get(ENV_PROGRESS_FILE)
    if target:
        handler: logging.Handler = logging.FileHandler(target, encoding="utf-8")
    elif os.environ.get("EVALIB_PROGRESS", "1") == "0":
        return None
    else:
        handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s evalib: %(message)s", "%H:%M:%S"))
    handler._evalib = True  # type: ignore[attr-defined]
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    return handler


def job_lines_enabled() -> bool:
    """True when :func:`log_job_progress` has set up a destination for job lines."""
    log = logging.getLogger(JOB_LOGGER)
    ours = any(getattr(h, "_evalib", False) for h in log.handlers)
    return ours and log.isEnabledFor(logging.INFO)


def log_job_line(message: str) -> None:
    """One progress line (a no-op unless :func:`log_job_progress` was called)."""
    logging.getLogger(JOB_LOGGER).info(message)


def duration(seconds: float) -> str:
    """``75`` → ``"1m15s"``, ``5400`` → ``"1h30m"``; ``"?"`` for NaN."""
    if seconds != seconds:  # NaN
        return "?"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class JobProgress:
    """Progress of a batch of jobs: a tqdm bar, or, once :func:`log_job_progress` was
    called (notebooks do it), one line per finished job with the time elapsed and an ETA
    (mean wall time per job finished in this run × jobs left).

    ``total``: all jobs; ``done``: those already finished (cached) at the start. Use as a
    context manager; ``bar`` is the tqdm bar (disabled in line mode) for executors that
    add counts to it.
    """

    def __init__(
        self, total: int, done: int = 0, enabled: bool = True, desc: str = "jobs", unit="job"
    ) -> None:
        self.total, self.done, self.desc = int(total), int(done), desc
        self.lines = enabled and job_lines_enabled()
        self.bar = progress_bar(enabled and not self.lines, total=total, initial=done,
                                desc=desc, unit=unit)  # fmt: skip
        self._start = time.perf_counter()
        self._ran = 0
        if self.lines and self.total > self.done:
            log_job_line(f"{desc}: {self.total - self.done} to run, {self.done} of "
                         f"{self.total} already done")  # fmt: skip

    def update(self, row: object = None) -> None:
        """One more job finished; ``row`` (its result dict) names it in the line."""
        self.bar.update(1)
        self.done += 1
        self._ran += 1
        if not self.lines:
            return
        elapsed = time.perf_counter() - self._start
        left = self.total - self.done
        eta = elapsed / self._ran * left
        name = _job_label(row)
        log_job_line(f"{self.desc} {self.done}/{self.total} done{' · ' + name if name else ''}"
                     f" · {duration(elapsed)} elapsed · ETA {duration(eta) if left else '0s'}")  # fmt: skip

    def close(self) -> None:
        self.bar.close()

    def __enter__(self) -> JobProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def rate_text(rate: float) -> str:
    """A rate as a percentage that never rounds a small rate to 0: ``0.05`` → ``"5%"``,
    ``0.025`` → ``"2.5%"``, ``0.001`` → ``"0.1%"`` (four significant digits)."""
    return f"{100 * float(rate):.4g}%"


def budget_text(budget: object) -> str:
    """A result row's ``budget`` in words: ``"epochs"`` → ``"paper's epochs"`` (as many
    epochs as the full run), ``"iterations"`` → ``"full run's steps"``, ``"min500"`` →
    ``"floor of 500 steps"``; other values as they are."""
    text = str(budget)
    if text == "epochs":
        return "paper's epochs"
    if text == "iterations":
        return "full run's steps"
    if text.startswith("min") and text[3:].isdigit():
        return f"floor of {int(text[3:])} steps"
    return text


def _job_label(row: object) -> str:
    """``"eva 5% seed 0 (organamnist) · floor of 500 steps"`` from a job's result dict ('' if
    not a dict); the budget is named so that the two budgets of one arm read apart."""
    if not isinstance(row, dict):
        return ""
    parts = [str(row["method"])] if "method" in row else []
    if isinstance(row.get("rate"), int | float):
        parts.append(rate_text(row["rate"]))
    if "seed" in row:
        parts.append(f"seed {row['seed']}")
    if "dataset" in row:
        parts.append(f"({row['dataset']})")
    label = " ".join(parts)
    if "budget" in row and label:
        label += f" · {budget_text(row['budget'])}"
    return label
