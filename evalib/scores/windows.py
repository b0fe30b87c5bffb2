"""Per-epoch quantities of a :class:`~evalib.dynamics.Dynamics` and O(N) window statistics.

Shapes: T epochs, N samples, C classes. A window is a half-open epoch range ``[a, b)`` of
``K = b - a`` epochs. :class:`WindowStats` does one O(TN) pass of prefix sums (float64)
over a per-epoch quantity; afterwards the mean or variance of any window costs O(N).

Missing entries (``seen[t, i] == False``) follow one of two conventions, ``missing=``:

* ``"mask"`` (default): the entry is left out; statistics use the seen epochs only.
* ``"zero"``: the entry counts as the value 0, as in the official EVA/CCS code, where a
  sample skipped by a drop-last loader keeps a zero in the score array.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from evalib.dynamics import Dynamics
from evalib.errors import EvalibError

Window = tuple[int, int]
MISSING_MODES = ("mask", "zero")
# Smallest finite float16: clamp -inf log-probs to it so that sums stay finite.
_LP_FLOOR = float(np.finfo(np.float16).min)
_CHUNK_ELEMS = 1 << 22  # ~4M float32 per chunk of [t, N, C] (16 MB)


# ----------------------------------------------------------------------------- validation


def _as_int(x: Any, what: str) -> int:
    if isinstance(x, bool):
        raise EvalibError(f"{what} must be an integer epoch, got {x!r}")
    try:
        return operator.index(x)
    except TypeError:
        raise EvalibError(f"{what} must be an integer epoch, got {x!r}") from None


def suggest_window(num_epochs: int, min_len: int = 2) -> Window | None:
    """A window of ``num_epochs`` dynamics after the official early window [0, 10) of 200
    epochs, scaled: ``(0, K)`` with ``K = max(min_len, round(T / 20))``; None when
    ``T < min_len``."""
    k = max(min_len, round(num_epochs * 10 / 200))
    return (0, k) if k <= num_epochs else None


def suggest_windows(num_epochs: int, min_len: int = 2) -> tuple[Window, Window] | None:
    """Dual windows for ``num_epochs`` dynamics after the official [0, 10) and [100, 110)
    of 200 epochs, scaled (each ``K = max(min_len, round(T / 20))`` epochs, the late one
    starting at ``T / 2``); None when ``T < 2 * min_len``."""
    k = max(min_len, round(num_epochs * 10 / 200))
    if 2 * k > num_epochs:
        return None
    late = min(max(k, num_epochs // 2), num_epochs - k)
    return (0, k), (late, late + k)


def _fmt(w: Window) -> str:
    return f"({w[0]}, {w[1]})"


def window_hint(num_epochs: int, min_len: int = 2, dual: bool = False) -> str:
    """What windows these dynamics allow, for an error message: the minimum number of
    epochs, and a valid (scaled official) choice."""
    need = 2 * min_len if dual else min_len
    if num_epochs < need:
        what = (
            f"two windows of at least {min_len} epochs each need"
            if dual
            else (f"a window of at least {min_len} epoch(s) needs")
        )
        return (f"these dynamics have T = {num_epochs} epoch(s), but {what} T >= {need}: "
                f"record at least {need} epochs")  # fmt: skip
    if dual:
        early, late = suggest_windows(num_epochs, min_len)  # type: ignore[misc]
        return (f"these dynamics have T = {num_epochs} epochs; valid e.g. early={_fmt(early)}, "
                f"late={_fmt(late)} (the official windows, scaled)")  # fmt: skip
    window = suggest_window(num_epochs, min_len)
    return f"these dynamics have T = {num_epochs} epochs; valid e.g. {_fmt(window)}"  # type: ignore[arg-type]


def check_window(
    window: Any, num_epochs: int, *, min_len: int = 2, name: str = "window", dual: bool = False
) -> Window:
    """Validate ``window = (a, b)``: 0 <= a < b <= T and K = b - a >= ``min_len``.

    Returns ``(a, b)`` as Python ints; raises EvalibError otherwise (never silent zeros),
    saying how many epochs a window needs and suggesting a valid one for these dynamics
    (``dual``: the window is one of a pair, :func:`check_windows`).
    """
    try:
        a, b = window
    except (TypeError, ValueError):
        raise EvalibError(f"{name} must be a pair (start, end), got {window!r}") from None
    a, b = _as_int(a, f"{name} start"), _as_int(b, f"{name} end")
    if not 0 <= a < b <= num_epochs:
        raise EvalibError(
            f"{name} [{a}, {b}) is invalid: need 0 <= start < end <= T = {num_epochs} "
            f"(half-open epoch range); {window_hint(num_epochs, min_len, dual)}"
        )
    if b - a < min_len:
        raise EvalibError(
            f"{name} [{a}, {b}) has K = {b - a} epoch(s); at least {min_len} needed; "
            f"{window_hint(num_epochs, min_len, dual)}"
        )
    return a, b


def check_windows(
    early: Any, late: Any, num_epochs: int, *, min_len: int = 2
) -> tuple[Window, Window]:
    """Validate a dual window: both valid and ordered, early end <= late start."""
    e = check_window(early, num_epochs, min_len=min_len, name="early window", dual=True)
    lt = check_window(late, num_epochs, min_len=min_len, name="late window", dual=True)
    if e[1] > lt[0]:
        raise EvalibError(
            f"early window [{e[0]}, {e[1]}) and late window [{lt[0]}, {lt[1]}) must not "
            f"overlap and must be ordered (early end <= late start); "
            f"{window_hint(num_epochs, min_len, dual=True)}"
        )
    return e, lt


def check_missing(missing: str) -> str:
    if missing not in MISSING_MODES:
        raise EvalibError(f"missing must be 'mask' or 'zero', got {missing!r}")
    return missing


# ----------------------------------------------------------------------------- per-epoch


def per_epoch(dyn: Dynamics, fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """Apply ``fn(log_probs [t, N, C] float32, labels [N]) -> [t, N]`` epoch-chunk-wise.

    Log-probs are clamped to the float16 range (no -inf). Returns [T, N] float64 with
    unseen entries set to 0 (their recorded values are undefined).
    """
    t_all, n, c = dyn.shape
    out = np.zeros((t_all, n), np.float64)
    step = max(1, _CHUNK_ELEMS // max(1, n * c))
    for t0 in range(0, t_all, step):
        lp = np.array(dyn.log_probs[t0 : t0 + step], dtype=np.float32)  # a copy
        np.maximum(lp, _LP_FLOOR, out=lp)
        out[t0 : t0 + step] = fn(lp, dyn.labels)
    out[~np.asarray(dyn.seen)] = 0.0
    return out


def _label_col(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return np.take_along_axis(x, labels[None, :, None], axis=2)[..., 0]


def _error_norm_chunk(lp: np.ndarray, labels: np.ndarray) -> np.ndarray:
    p = np.exp(lp)
    lp_y = _label_col(lp, labels)
    np.put_along_axis(p, labels[None, :, None], 0.0, axis=2)
    sq = np.einsum("tnc,tnc->tn", p, p)
    sq += np.square(np.expm1(lp_y))  # (p_y - 1)^2 without cancellation near p_y = 1
    return np.sqrt(sq)


def error_norm(dyn: Dynamics) -> np.ndarray:
    """S_t(i) = ||p_t(i) - onehot(y_i)||_2, [T, N] float64 in [0, sqrt(2)]; unseen = 0."""
    return per_epoch(dyn, _error_norm_chunk)


def true_class_prob(dyn: Dynamics) -> np.ndarray:
    """p_t(i)_y, [T, N] float64; unseen = 0."""
    return per_epoch(dyn, lambda lp, y: np.exp(_label_col(lp, y)))


def correctness(dyn: Dynamics) -> np.ndarray:
    """1.0 where argmax_c p_t(i) == y_i (first maximum on ties), [T, N] float64; unseen = 0."""
    return per_epoch(dyn, lambda lp, y: (np.argmax(lp, axis=2) == y[None, :]).astype(np.float64))


def _margin_chunk(lp: np.ndarray, labels: np.ndarray, prob: bool) -> np.ndarray:
    x = np.exp(lp) if prob else lp
    own = _label_col(x, labels)
    np.put_along_axis(x, labels[None, :, None], -np.inf, axis=2)
    return own - x.max(axis=2)


def margin(dyn: Dynamics, kind: str = "logit") -> np.ndarray:
    """Per-epoch margin, [T, N] float64; unseen = 0.

    ``"logit"``: logit_y - max_{c != y} logit_c. Log-softmax differs from the logits by a
    per-sample, per-epoch constant, so this equals log p_y - max_{c != y} log p_c exactly.
    ``"prob"``: p_y - max_{c != y} p_c (the margin CCS accumulates).
    """
    if kind not in ("logit", "prob"):
        raise EvalibError(f"margin must be 'logit' or 'prob', got {kind!r}")
    if dyn.num_classes < 2:
        raise EvalibError("a margin needs at least 2 classes")
    return per_epoch(dyn, lambda lp, y: _margin_chunk(lp, y, kind == "prob"))


# ----------------------------------------------------------------------------- WindowStats


class WindowStats:
    """Prefix sums of a per-epoch quantity X [T, N] for O(N) window mean / variance.

    Built once in O(TN) (float64 prefix sums of X, X^2 and of the count of used entries);
    then ``mean(a, b)``, ``var(a, b, ddof)`` cost O(N) for any window ``[a, b)``.
    Values are shifted by each sample's overall mean before summing, which keeps the
    variance from sums of squares accurate (no catastrophic cancellation).

    Args:
        values: [T, N] per-epoch values (entries where ``seen`` is False are ignored).
        seen: [T, N] bool, or None for all seen.
        missing: ``"mask"`` (drop unseen entries) or ``"zero"`` (unseen entries count as 0).
        extra_mask: [T, N] bool, further entries to leave out in ``"mask"`` mode (e.g. DAD's
            zero entries). Ignored in ``"zero"`` mode.
        copy: if False and ``values`` is already float64, it is reused as scratch space
            (overwritten) to save one [T, N] buffer.
    """

    def __init__(
        self,
        values: np.ndarray,
        seen: np.ndarray | None = None,
        *,
        missing: str = "mask",
        extra_mask: np.ndarray | None = None,
        copy: bool = True,
    ) -> None:
        self.missing = check_missing(missing)
        # x is modified in place below
        x = np.array(values, dtype=np.float64) if copy else np.asarray(values, dtype=np.float64)
        if x.ndim != 2:
            raise EvalibError(f"values must be [T, N], got shape {x.shape}")
        t, n = x.shape
        seen = np.ones((t, n), bool) if seen is None else np.asarray(seen, dtype=bool)
        if seen.shape != (t, n):
            raise EvalibError(f"seen must be [{t}, {n}], got {seen.shape}")
        self.num_epochs, self.num_samples = t, n
        if missing == "mask":
            use = seen if extra_mask is None else seen & np.asarray(extra_mask, bool)
            x[~use] = 0.0
            cnt = np.zeros((t + 1, n), np.int32)
            np.cumsum(use, axis=0, dtype=np.int32, out=cnt[1:])
            self._count: np.ndarray | None = cnt
            with np.errstate(invalid="ignore", divide="ignore"):
                shift = x.sum(axis=0) / cnt[-1]
            shift[cnt[-1] == 0] = 0.0
            x -= shift
            x[~use] = 0.0
        else:
            x[~seen] = 0.0
            self._count = None
            shift = x.mean(axis=0) if t else np.zeros(n)
            x -= shift
        self._shift = shift
        self._s1 = np.zeros((t + 1, n), np.float64)
        np.cumsum(x, axis=0, out=self._s1[1:])
        np.square(x, out=x)
        self._s2 = np.zeros((t + 1, n), np.float64)
        np.cumsum(x, axis=0, out=self._s2[1:])

    @classmethod
    def from_dynamics(cls, dyn: Dynamics, *, missing: str = "mask") -> WindowStats:
        """Window statistics of the error norm S (see :func:`error_norm`)."""
        return cls(error_norm(dyn), dyn.seen, missing=missing, copy=False)

    def _window(self, a: int, b: int, min_len: int) -> Window:
        return check_window((a, b), self.num_epochs, min_len=min_len)

    def count(self, a: int, b: int) -> np.ndarray:
        """[N] int64 number of entries used in ``[a, b)`` (K for every sample under "zero")."""
        a, b = self._window(a, b, 1)
        if self._count is None:
            return np.full(self.num_samples, b - a, np.int64)
        return (self._count[b] - self._count[a]).astype(np.int64)

    def mean(self, a: int, b: int) -> np.ndarray:
        """[N] float64 mean over the used entries of ``[a, b)`` (K >= 1 allowed here, e.g. for
        a single-epoch EL2N; the window scorers require K >= 2); NaN where none is used."""
        a, b = self._window(a, b, 1)
        n = self.count(a, b).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = self._shift + (self._s1[b] - self._s1[a]) / n
        out[n == 0] = np.nan
        return out

    def sum(self, a: int, b: int) -> np.ndarray:
        """[N] float64: K * mean under "mask" (missing entries count as the mean), plain sum
        under "zero"; NaN where no entry is used."""
        a, b = self._window(a, b, 1)
        return (b - a) * self.mean(a, b)

    def var(self, a: int, b: int, ddof: int = 0) -> np.ndarray:
        """[N] float64 variance over the used entries of ``[a, b)`` (K >= 2 required).

        ``ddof=0`` population, ``ddof=1`` unbiased. NaN where fewer than ``ddof + 1``
        entries are used.
        """
        if ddof not in (0, 1):
            raise EvalibError(f"ddof must be 0 or 1, got {ddof!r}")
        a, b = self._window(a, b, 2)
        n = self.count(a, b).astype(np.float64)
        s1 = self._s1[b] - self._s1[a]
        s2 = self._s2[b] - self._s2[a]
        with np.errstate(invalid="ignore", divide="ignore"):
            out = (s2 - s1 * s1 / n) / (n - ddof)
        np.maximum(out, 0.0, out=out)  # rounding can leave -1e-17
        out[n < ddof + 1] = np.nan
        return out

    def std(self, a: int, b: int, ddof: int = 0) -> np.ndarray:
        """[N] float64 square root of :meth:`var`."""
        return np.sqrt(self.var(a, b, ddof))


def stats_for(source: Dynamics | WindowStats, missing: str | None) -> WindowStats:
    """Error-norm WindowStats of ``source`` (built, or passed through if already stats)."""
    if isinstance(source, WindowStats):
        if missing is not None and missing != source.missing:
            raise EvalibError(
                f"these WindowStats were built with missing={source.missing!r}, "
                f"not {missing!r}; build new ones"
            )
        return source
    if not isinstance(source, Dynamics):
        raise EvalibError(f"expected Dynamics or WindowStats, got {type(source).__name__}")
    return WindowStats.from_dynamics(source, missing=check_missing(missing or "mask"))
