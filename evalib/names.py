"""Name matching shared by datasets, methods, profiles and models: case-insensitive, with
"did you mean" suggestions for near misses (:mod:`difflib`)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from evalib.errors import EvalibError


def suggestions(name: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """Up to ``n`` of ``choices`` that look like ``name`` (case and ``-``/``_`` ignored):
    those it begins (``blood`` → ``bloodmnist``), then close spellings."""
    options = {_key(c): c for c in choices}
    key = _key(name)
    starts = sorted(o for o in options if len(key) >= 3 and o.startswith(key))
    scored = sorted(((difflib.SequenceMatcher(None, key, o).ratio(), o) for o in options),
                    reverse=True)  # fmt: skip
    best = scored[0][0] if scored else 0.0
    close = [o for r, o in scored if r >= max(0.75, best - 0.05)]  # the clear best, or ties
    picked = list(dict.fromkeys([*starts, *close]))[:n]
    return [options[c] for c in picked]


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """``" (did you mean 'eva'?)"`` or ``""`` when nothing is close."""
    close = suggestions(name, choices)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"


def canonical(name: str, choices: Iterable[str], what: str) -> str:
    """The entry of ``choices`` equal to ``name`` ignoring case and surrounding spaces.

    Raises EvalibError naming the near misses and every valid choice otherwise, e.g.
    ``unknown method 'ev' (did you mean 'eva'?); known: aum, ccs, …``.
    """
    options = list(choices)
    if isinstance(name, str):
        key = name.strip().lower()
        for option in options:
            if option.lower() == key:
                return option
    raise EvalibError(
        f"unknown {what} {name!r}{did_you_mean(str(name), options)}; "
        f"known: {', '.join(sorted(options))}"
    )


def _key(text: str) -> str:
    return str(text).strip().lower().replace("-", "_")
