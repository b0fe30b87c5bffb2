"""The landing page's Findings, written from the claims page's tables (pure functions).

Input: the frames the claims notebook writes to ``results/<profile>/``:

* ``claims_verdicts.csv``: one row per (dataset, protocol, claim) with a ``verdict`` word
  (any extra key column, e.g. a training budget, splits the findings further);
* ``claims_comparisons.csv`` and ``claims_transfer.csv``: the comparisons behind each
  verdict (``comparison``, ``diff`` in accuracy points, optional ``rate``, ``ci95``,
  ``n_seeds``, ``direction``, ``paper``, ``model_label``).

Output: Markdown, one item per claim and dataset with the verdict, one sentence with the
numbers behind it and its main caveat. Nothing here reads files or knows a profile; the
caller (:mod:`evalib.book.booktext`) passes what to say about the profile and the windows.

Verdict words are read, never assumed: the older words (holds / partly / does not hold)
and the newer ones (holds / contradicted / inconclusive) are both sorted into
:data:`CATEGORIES`, and a word this module does not know is shown as it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import pandas as pd

from evalib.studies import claims as _claims

HOLDS, CONTRADICTED, INCONCLUSIVE, UNTESTED, OTHER = (
    "holds",
    "contradicted",
    "inconclusive",
    "not tested",
    "other",
)
CATEGORIES = (HOLDS, CONTRADICTED, INCONCLUSIVE, UNTESTED, OTHER)
#: verdict word (lower case) -> category; old and new vocabularies side by side
SYNONYMS: dict[str, str] = {
    "holds": HOLDS,
    "hold": HOLDS,
    "supported": HOLDS,
    "contradicted": CONTRADICTED,
    "does not hold": CONTRADICTED,
    "fails": CONTRADICTED,
    "refuted": CONTRADICTED,
    "inconclusive": INCONCLUSIVE,
    "partly": INCONCLUSIVE,
    "partly holds": INCONCLUSIVE,
    "mixed": INCONCLUSIVE,
    "not tested": UNTESTED,
    "untested": UNTESTED,
    "no results": UNTESTED,
}

#: the paper's claims as the book numbers them (intro page, claims page): evalib.studies.claims
CLAIMS: dict[str, str] = {c.claim: c.text for c in _claims.CLAIMS}
#: claims whose selection depends on the window choice
WINDOWED = frozenset({"1", "3", "4", "5", "6"})  # 1p: the published windows
KEYS = ("dataset", "protocol", "claim")
PRIMARY = "clean"  # the protocol the findings report; the other one is a caveat


def category(word: object) -> str:
    """The category of a verdict word (case and spacing ignored); unknown words: OTHER."""
    if not isinstance(word, str) or not word.strip():
        return UNTESTED
    return SYNONYMS.get(" ".join(word.lower().split()), OTHER)


def claim_text(claim: object) -> str:
    """The claim's short statement, or ``"claim N"`` for a number this module lacks."""
    return CLAIMS.get(_claim_id(claim), f"claim {claim}")


def _claim_id(claim: object) -> str:
    """ "1" for 1, 1.0 and "1"; other ids ("1p", "2a") as they are."""
    number = _num(claim)
    return str(int(number)) if math.isfinite(number) and number == int(number) else str(claim)


def _claim_rank(claim: object) -> tuple[int, str]:
    order = list(CLAIMS)
    cid = _claim_id(claim)
    return (order.index(cid) if cid in order else len(order), cid)


def _num(value: object) -> float:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return out


def format_comparison(row: Mapping[str, object], paper: bool = True, seeds: bool = True) -> str:
    """``"EVA − Random at 2 %: −17.9 ± 2.3"`` (points; ``(1 seed)`` without an interval
    unless ``seeds`` is False, ``paper +1.2`` appended when the paper reports the same
    difference)."""
    text = next((str(row[k]) for k in ("comparison", "part") if _given(row.get(k))), "difference")
    model = next((row[k] for k in ("model_label", "model") if _given(row.get(k))), None)
    if isinstance(model, str) and model:
        text += f" on {model}"
    rate = _num(row.get("rate"))
    if not math.isnan(rate):
        text += f" at {100 * rate:g} %"
    diff, ci, n = _num(row.get("diff")), _num(row.get("ci95")), _num(row.get("n_seeds"))
    value = f"{diff:+.1f}".replace("-", "−")
    if not math.isnan(ci):
        value += f" ± {ci:.1f}"
    elif seeds and not math.isnan(n) and n <= 1:
        value += " (1 seed)"
    extra = _num(row.get("paper")) if paper else math.nan
    if not math.isnan(extra):
        value += f" (paper {extra:+.1f})".replace("-", "−")
    return f"{text}: {value}"


def _given(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


#: the side of 0 each kind of claim expects (evalib.studies.claims.Part.kind)
KIND_DIRECTION = {"better": 1.0, "matches": 1.0, "worse": -1.0, "no_better": -1.0}


def _margin(rows: pd.DataFrame) -> pd.Series:
    """How far each comparison is on the claimed side of 0 (negative: the wrong side);
    the side comes from a ``direction`` column (+1 / −1), else from ``kind``."""
    if "direction" in rows:
        direction = rows["direction"].fillna(1).astype(float)
    elif "kind" in rows:
        direction = rows["kind"].map(KIND_DIRECTION).fillna(1.0)
    else:
        direction = pd.Series(1.0, index=rows.index)
    return direction * rows["diff"].astype(float)


def numbers_sentence(rows: pd.DataFrame, max_listed: int = 4) -> str:
    """One sentence with the numbers behind a verdict: every comparison when there are
    at most ``max_listed``, else their range and the one closest to the wrong side."""
    rows = rows.dropna(subset=["diff"]) if "diff" in rows else rows.iloc[0:0]
    if rows.empty:
        return "No comparison of this claim has results yet."
    seeds = pd.to_numeric(rows.get("n_seeds"), errors="coerce") if "n_seeds" in rows else None
    seed_note = ""
    uniform = seeds is not None and seeds.notna().all() and seeds.nunique() == 1
    if uniform:
        n = int(seeds.iloc[0])
        seed_note = (" (1 seed, accuracy points, no interval)" if n == 1 else
                     f" ({n} seeds, accuracy points ± 95 % interval)")  # fmt: skip
    if len(rows) <= max_listed:
        parts = [format_comparison(r, seeds=not uniform) for _, r in rows.iterrows()]
        return "; ".join(parts) + seed_note + "."
    diffs = rows["diff"].astype(float)
    lo, hi = f"{diffs.min():+.1f}".replace("-", "−"), f"{diffs.max():+.1f}".replace("-", "−")
    worst = rows.loc[_margin(rows).idxmin()]
    return (
        f"{len(rows)} comparisons, from {lo} to {hi} points; closest to the wrong side: "
        f"{format_comparison(worst, seeds=not uniform)}{seed_note}."
    )


def _matching(frame: pd.DataFrame, key: Mapping[str, object]) -> pd.DataFrame:
    mask = pd.Series(True, index=frame.index)
    for col, value in key.items():
        if col in frame.columns:
            mask &= frame[col].astype(str) == str(value)
    return frame[mask]


def _same_claim(frame: pd.DataFrame, claim: object) -> pd.DataFrame:
    if "claim" not in frame:
        return frame.iloc[0:0]
    as_num = pd.to_numeric(frame["claim"], errors="coerce")
    if math.isnan(_num(claim)):
        return frame[frame["claim"].astype(str) == str(claim)]
    return frame[as_num == _num(claim)]


def main_caveat(
    claim: object,
    rows: pd.DataFrame,
    other_verdict: str | None,
    windows_note: str = "",
    scale_note: str = "",
) -> str:
    """The first that applies: a single seed; a verdict that differs under the paper's
    protocol; the window choice (for windowed claims); the profile's scale."""
    if "n_seeds" in rows and len(rows):
        seeds = pd.to_numeric(rows["n_seeds"], errors="coerce")
        if (seeds.fillna(0) <= 1).any():
            return "part of it rests on a single seed, with no interval"
    if other_verdict is not None and category(other_verdict) != category(
        rows["verdict"].iloc[0] if "verdict" in rows and len(rows) else None
    ):
        return (
            f"under the paper's protocol (validation split, best epoch) it reads "
            f"*{other_verdict}* instead"
        )
    if _claim_id(claim) in WINDOWED and windows_note:
        return windows_note
    return scale_note or "a reduced profile tests the direction of the claim, not its numbers"


def findings(
    verdicts: pd.DataFrame,
    comparisons: pd.DataFrame,
    primary: str = PRIMARY,
    windows_note: str = "",
    scale_note: str = "",
    title: Callable[[str], str] = str,
    order: Sequence[str] = (),
) -> list[dict]:
    """One dict per claim and dataset (and any extra key column of ``verdicts``) under
    the ``primary`` protocol: claim, claim_text, dataset, label, verdict, category,
    sentence, caveat. ``comparisons`` holds the rows of every protocol (rows without a
    ``protocol`` column count as ``primary``). Datasets follow ``order`` (others after,
    alphabetically)."""
    if verdicts.empty or not {"dataset", "claim", "verdict"} <= set(verdicts.columns):
        return []
    v = verdicts.copy()
    if "protocol" not in v:
        v["protocol"] = primary
    c = comparisons.copy()
    if "protocol" not in c:
        c["protocol"] = primary
    c["protocol"] = c["protocol"].fillna(primary)
    extra = [k for k in v.columns if k not in (*KEYS, "verdict", "why")]
    main = v[v["protocol"] == primary]
    if main.empty:  # no row of the primary protocol: report the first one there is
        main = v[v["protocol"] == v["protocol"].iloc[0]]
        primary = str(main["protocol"].iloc[0])
    out = []
    tested = {(str(r["dataset"]), _claim_id(r["claim"])) for _, r in main.iterrows()
              if category(r["verdict"]) != UNTESTED}  # fmt: skip
    for _, r in main.iterrows():
        if (
            category(r["verdict"]) == UNTESTED
            and (str(r["dataset"]), _claim_id(r["claim"])) in tested
        ):
            continue  # e.g. a claim at 30 %, where the floor budget does not apply
        key = {k: r[k] for k in ("dataset", *extra)}
        rows = _same_claim(_matching(c[c["protocol"] == primary], key), r["claim"])
        rows = rows.assign(verdict=r["verdict"])
        other = _same_claim(_matching(v[v["protocol"] != primary], key), r["claim"])
        other_word = str(other["verdict"].iloc[0]) if len(other) else None
        label = title(str(r["dataset"]))
        if extra:
            label += " (" + ", ".join(f"{k} {r[k]}" for k in extra) + ")"
        out.append({
            "claim": r["claim"], "claim_text": claim_text(r["claim"]),
            "dataset": r["dataset"], "label": label, "verdict": str(r["verdict"]),
            "category": category(r["verdict"]), "sentence": numbers_sentence(rows),
            "caveat": main_caveat(r["claim"], rows, other_word, windows_note, scale_note),
        })  # fmt: skip
    rank = {d: i for i, d in enumerate(order)}
    out.sort(key=lambda f: (_claim_rank(f["claim"]), rank.get(str(f["dataset"]), len(rank)),
                            str(f["label"])))  # fmt: skip
    return out


def headline(items: Sequence[Mapping[str, object]]) -> str:
    """One sentence: which claims hold on every dataset tested, which are contradicted on
    every one, and which are mixed or open."""
    if not items:
        return "No claim has been judged yet."
    by_claim: dict[object, list[str]] = {}
    where: dict[object, list[str]] = {}
    for f in items:
        by_claim.setdefault(f["claim"], []).append(str(f["category"]))
        if f["category"] == CONTRADICTED:
            place = str(f.get("label", f.get("dataset", ""))).split(" (")[0]  # not its budget
            if place not in where.setdefault(f["claim"], []):
                where[f["claim"]].append(place)

    def names(claims: list[object]) -> str:
        nums = [str(c) for c in claims]
        word = "claim" if len(nums) == 1 else "claims"
        return f"{word} {', '.join(nums[:-1]) + ' and ' + nums[-1] if len(nums) > 1 else nums[0]}"

    held = [c for c, cats in by_claim.items() if all(x == HOLDS for x in cats)]
    against = [c for c, cats in by_claim.items() if all(x == CONTRADICTED for x in cats)]
    rest = [c for c in by_claim if c not in held and c not in against]
    parts = []
    if held:
        parts.append(f"{names(held)} {'holds' if len(held) == 1 else 'hold'} on every "
                     "dataset tested")  # fmt: skip
    if against:
        parts.append(f"{names(against)} {'is' if len(against) == 1 else 'are'} contradicted "
                     "on every dataset tested")  # fmt: skip
    if rest:
        parts.append(f"{names(rest)} {'gets' if len(rest) == 1 else 'get'} mixed or "
                     "inconclusive verdicts")  # fmt: skip
    text = "; ".join(parts)
    text = text[0].upper() + text[1:] + "."
    partial = [f"claim {c} on {' and '.join(where[c])}" for c in rest if c in where]
    if partial:
        text += f" Contradicted on part of the datasets or budgets only: {', '.join(partial)}."
    return text


def findings_markdown(items: Sequence[Mapping[str, object]], intro: str = "") -> str:
    """The Findings section's body: ``intro``, the headline, then one bullet per claim
    and dataset under a bold line per claim."""
    lines = [intro, ""] if intro else []
    if not items:
        return "\n".join([*lines, "No claims results were found for this profile yet: run "
                          "the claims notebook (`notebooks/10_claims`).", ""])  # fmt: skip
    lines += [f"**In short.** {headline(items)}", ""]
    current = None
    for f in items:
        if f["claim"] != current:
            current = f["claim"]
            text = str(f["claim_text"])
            lines += ["", f"**{f['claim']}. {text[0].upper() + text[1:]}.**", ""]
        lines.append(f"- *{f['label']}: {f['verdict']}.* {f['sentence']} "
                     f"Caveat: {f['caveat']}.")  # fmt: skip
    return "\n".join(lines).strip() + "\n"


def why_random_wins(
    robustness: pd.DataFrame,
    shares: pd.DataFrame | None = None,
    accuracy: pd.DataFrame | None = None,
    rates: Sequence[float] | None = None,
) -> str:
    """The landing page's "why" of claim 1: whether any window of the tuning grid could
    have beaten Random (even the best by test, an upper bound no method could use), and
    what the tuned EVA coresets hold class by class against Random's.

    Inputs are what the pages write to ``results/<profile>/<dataset>/``, concatenated over
    datasets: ``window_robustness.csv`` (page 05,
    :func:`evalib.studies.composition.grid_robustness` with a ``dataset`` column),
    ``coreset_classes.csv`` (page 02, :func:`~evalib.studies.composition.class_shares`)
    and ``per_class_accuracy.csv`` (page 02,
    :func:`~evalib.studies.composition.per_class_accuracy`); ``rates``: the rates to
    describe the coresets at (default: the lowest one). Markdown; ``""`` without input."""
    from evalib.book.lessons.why import coreset_classes, grid_verdict
    from evalib.studies import composition

    parts = []
    verdict = grid_verdict(robustness) if isinstance(robustness, pd.DataFrame) else ""
    if verdict:
        parts.append(verdict)
    if isinstance(shares, pd.DataFrame) and len(shares) and "rate" in shares:
        low = [min(shares["rate"])] if rates is None else list(rates)
        acc = None
        if isinstance(accuracy, pd.DataFrame) and len(accuracy):
            acc = composition.accuracy_summary(accuracy)
        text = coreset_classes(composition.share_summary(shares),
                               composition.top_classes_share(shares), acc, rates=low)  # fmt: skip
        bullets = [line for line in text.splitlines() if line.startswith("- ")]
        if bullets:
            parts.append("What the tuned EVA coresets hold, against Random's:\n\n"
                         + "\n".join(bullets))  # fmt: skip
    if not parts:
        return ""
    return "**Why EVA loses to Random here.** " + "\n\n".join(parts) + "\n"
