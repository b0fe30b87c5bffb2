"""The landing page's Findings, result first, from the claims page's tables (pure functions).

Input: the frames the claims notebook writes to ``results/<profile>/``:

* ``claims_verdicts.csv``: one row per (dataset, protocol, claim) and any extra key
  column (the training ``budget``) with a ``verdict`` word;
* ``claims_comparisons.csv`` (and ``claims_transfer.csv`` where a profile has one): the
  comparisons behind each verdict: ``part`` ("EVA tuned − Random"), ``kind`` (better,
  worse, matches, no_better), ``rate``, ``diff`` in accuracy points, ``ci95`` (half-width
  of the 95 % t-interval over seeds), ``n_seeds``, ``paper`` (the paper's difference).

Output, in this order on the page: a headline sentence, one plain sentence per claim
(what was compared, which way it went, by how much, the verdict per dataset), a
coloured verdict grid (claims × datasets × budgets, the deciding difference and its
interval in each cell), then the settings and the caveats, said once. Everything is
read from the frames: whatever claims, datasets, budgets and profiles they hold are
listed. Nothing here reads files; :mod:`evalib.book.booktext` does.

Verdict words are read, never assumed: the older words (holds / partly / does not hold)
and the newer ones (holds / contradicted / inconclusive) are both sorted into
:data:`CATEGORIES`, and a word this module does not know is shown as it is.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from evalib.studies import claims as _claims
from evalib.studies import labels

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
#: the mark a grid cell shows with its colour (colour alone is not enough to read it)
MARKS = {HOLDS: "✓", CONTRADICTED: "✗", INCONCLUSIVE: "?", UNTESTED: "–", OTHER: "·"}

#: the paper's claims as the book numbers them (intro page, claims page)
CLAIMS: dict[str, str] = {c.claim: c.text for c in _claims.CLAIMS}
KEYS = ("dataset", "protocol", "claim")
PRIMARY = "clean"  # the protocol the findings report; the other one is a caveat
#: the columns of :func:`cells` that are not key columns
_CELL_COLUMNS = ("claim", "dataset", "verdict", "category", "part", "model", "rate", "diff",
                 "ci95", "n_seeds", "paper", "identical")  # fmt: skip
#: the side of 0 each kind of claim expects (evalib.studies.claims.Part.kind)
KIND_DIRECTION = _claims.KIND_SIGN
#: how a sentence names the two sides of a comparison part ("EVA tuned − Random")
PART_NAMES = {
    "EVA tuned": "EVA with windows tuned on validation",
    "EVA published": "EVA with the published windows",
    "EVA tuned 30 %": "EVA at 30 %",
}
#: how a sentence names the reference side of a comparison
SENTENCE_NAMES = {"Full data": "the full training set"}
#: how the headline names the reference a method is compared with
REFERENCE = {"Random": "a random subset of the same size"}


def category(word: object) -> str:
    """The category of a verdict word (case and spacing ignored); unknown words: OTHER."""
    if not isinstance(word, str) or not word.strip():
        return UNTESTED
    return SYNONYMS.get(" ".join(word.lower().split()), OTHER)


def claim_id(claim: object) -> str:
    """ "1" for 1, 1.0 and "1"; other ids ("1p", "2a") as they are."""
    try:
        number = float(claim)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(claim)
    return str(int(number)) if math.isfinite(number) and number == int(number) else str(claim)


def claim_rank(claim: object) -> tuple[int, str]:
    """Sort key: the paper's order (:data:`CLAIMS`), unknown claims after, by id."""
    order = list(CLAIMS)
    cid = claim_id(claim)
    return (order.index(cid) if cid in order else len(order), cid)


def _ordered(values: Sequence[object], order: Sequence[str] = ()) -> list[str]:
    rank = {v: i for i, v in enumerate(order)}
    return sorted(dict.fromkeys(str(v) for v in values), key=lambda v: (rank.get(v, len(rank)), v))


def _direction(rows: pd.DataFrame) -> pd.Series:
    """+1 where a claim expects a positive difference, −1 where a negative one (from a
    ``direction`` column, else from ``kind``; +1 when neither says)."""
    if "direction" in rows:
        return rows["direction"].fillna(1).astype(float)
    if "kind" in rows:
        return rows["kind"].map(KIND_DIRECTION).fillna(1.0)
    return pd.Series(1.0, index=rows.index)


# ----------------------------------------------------------------------------- the cells


def extra_keys(verdicts: pd.DataFrame) -> list[str]:
    """Key columns of ``verdicts`` beyond dataset, protocol and claim (e.g. ``budget``)."""
    return [k for k in verdicts.columns if k not in (*KEYS, "verdict", "why")]


def _primary_rows(frame: pd.DataFrame, protocol: str) -> pd.DataFrame:
    if frame.empty:
        return frame
    if "protocol" not in frame:
        return frame.assign(protocol=protocol)
    return frame[frame["protocol"].fillna(protocol) == protocol]


def cells(
    verdicts: pd.DataFrame, comparisons: pd.DataFrame, protocol: str = PRIMARY
) -> pd.DataFrame:
    """One row per (claim, dataset, extra keys) of ``protocol``: the verdict, its category
    and the comparison that decides it (the one most against the claim; where the claim
    holds, its weakest): ``part``, ``model``, ``rate``, ``diff``, ``ci95``, ``n_seeds``.
    Empty without the columns dataset, claim and verdict."""
    if verdicts.empty or not {"dataset", "claim", "verdict"} <= set(verdicts.columns):
        return pd.DataFrame()
    extra = extra_keys(verdicts)
    v = _primary_rows(verdicts, protocol)
    c = _primary_rows(comparisons, protocol)
    if not c.empty and "diff" in c:
        c = c.dropna(subset=["diff"]).assign(claim_id=c["claim"].map(claim_id))
    rows = []
    for _, r in v.iterrows():
        out = {"claim": claim_id(r["claim"]), "dataset": str(r["dataset"]),
               **{k: r[k] for k in extra}, "verdict": str(r["verdict"]),
               "category": category(r["verdict"])}  # fmt: skip
        mask = pd.Series(c["claim_id"] == out["claim"], index=c.index) if len(c) else None
        if mask is not None:
            for k in ("dataset", *extra):
                if k in c:
                    mask &= c[k].astype(str) == str(r[k])
            behind = c[mask]
            if len(behind):
                worst = behind.loc[_claims.decisive(behind, _direction(behind))]
                for k in ("part", "model", "rate", "diff", "ci95", "n_seeds", "paper", "identical"):
                    out[k] = worst.get(k)
        rows.append(out)
    frame = pd.DataFrame(rows)
    return frame.sort_values("claim", key=lambda s: s.map(claim_rank), kind="stable")


def _given(value: object) -> bool:
    return (
        value is not None
        and not (isinstance(value, float) and math.isnan(value))
        and (not isinstance(value, str) or bool(value.strip()))
    )


def interval_text(diff: object, ci95: object) -> str:
    """``"−40.6 ± 6.9"``, or the difference alone where there is no interval."""
    if not _given(diff):
        return "—"
    text = labels.fmt_number(float(diff), 1, sign=True)
    return text + (f" ± {labels.fmt_number(float(ci95), 1)}" if _given(ci95) else "")


# ----------------------------------------------------------------------------- sentences


def _sides(part: object) -> tuple[str, str]:
    """A comparison part "A − B" as the two names a sentence uses."""
    a, _, b = str(part).partition(" − ")

    def name(side: str) -> str:
        side = side.strip()
        return PART_NAMES.get(side, labels.label(side))

    b_name = name(b) if b else ""
    return name(a), SENTENCE_NAMES.get(b_name, b_name)


def _names(items: Sequence[str], conj: str = "and") -> str:
    items = list(dict.fromkeys(items))
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {conj} " + items[-1]


def _magnitude(lo: float, hi: float) -> str:
    """``"24–41"`` for magnitudes ``lo`` ≤ ``hi`` (whole points from 10 up, else one
    decimal; one number when both round the same)."""
    digits = 0 if lo >= 10 else 1
    a, b = labels.fmt_number(lo, digits), labels.fmt_number(hi, digits)
    return a if a == b else f"{a}–{b}"


def direction_phrase(diffs: Sequence[float]) -> str:
    """Where differences A − B lie, in words: ``"24–41 points below"``,
    ``"5.0–49 points above"``, ``"from 1.4 points below to 6.6 above"``, ``"0.0 points apart"``."""
    d = [float(x) for x in diffs if _given(x)]
    if not d:
        return "no result yet"
    lo, hi = min(d), max(d)
    if hi < 0:
        return f"{_magnitude(-hi, -lo)} points below"
    if lo > 0:
        return f"{_magnitude(lo, hi)} points above"
    if lo == hi == 0:
        return "0.0 points apart (the same coresets)"
    return (f"from {labels.fmt_number(-lo, 1)} points below to "
            f"{labels.fmt_number(hi, 1)} above")  # fmt: skip


def _rates_text(rates: Sequence[object]) -> str:
    values = sorted({float(r) for r in rates if _given(r)})
    return "at " + _names([labels.fmt_percent(r) for r in values]) if values else ""


def _verdict_text(per_key: Mapping[str, str]) -> str:
    """``"contradicted"`` when every budget agrees, else each budget's verdict."""
    words = list(per_key.values())
    if len(set(words)) <= 1:
        return words[0] if words else "not tested"
    return ", ".join(f"{w} with the {labels.budget_label(k)}" for k, w in per_key.items())


def claim_sentence(
    claim: str,
    comparisons: pd.DataFrame,
    grid: pd.DataFrame,
    title: Callable[[str], str] = labels.dataset_title,
    order: Sequence[str] = (),
) -> str:
    """One Markdown list item for ``claim``: its short name and what is compared at which
    rates (and on which networks), then the verdict and where the differences lie per
    dataset (the verdict per budget where budgets disagree), with the paper's own
    difference where its Table 1 gives one. ``comparisons``: this claim's rows of the
    primary protocol; ``grid``: this claim's rows of :func:`cells`."""
    rows = comparisons.dropna(subset=["diff"]) if "diff" in comparisons else comparisons.iloc[:0]
    parts = list(dict.fromkeys(rows["part"])) if "part" in rows else []
    sides = [_sides(p) for p in parts]
    short = labels.claim_short(claim)
    bs = list(dict.fromkeys(b for _, b in sides))
    named = short.lower()  # what the claim's name says already is not repeated
    if len(bs) == 1 and bs[0]:
        a_names = _names([a for a, _ in sides if a.lower() not in named])
        b_text = "" if bs[0].lower() in named else f" against {bs[0]}"
        subject = (a_names + b_text).strip()
    else:
        subject = _names([f"{a} against {b}" if b else a for a, b in sides])
    models = sorted({labels.model_title(m) for m in rows.get("model", pd.Series(dtype=object))
                     if _given(m)})  # fmt: skip
    if models:
        subject += f" on {_names(models)}"
    if "rate" in rows and len(rows) and "%" not in subject + short:
        rates = _rates_text(rows["rate"]).removeprefix("at ")
        subject = f"{subject}, {rates}" if subject else rates
    extra = [k for k in grid.columns if k not in _CELL_COLUMNS]
    found = []  # (verdict text, dataset clause)
    for flag in _ordered(grid["dataset"], order):
        g = grid[(grid["dataset"] == flag) & (grid["category"] != UNTESTED)]
        if g.empty:
            continue
        per = ({str(r[extra[0]]): str(r["verdict"]) for _, r in g.iterrows()} if extra else
               {"": str(g["verdict"].iloc[0])})  # fmt: skip
        d = rows[rows["dataset"].astype(str) == flag] if "dataset" in rows else rows
        phrase = direction_phrase(d["diff"])
        clause = f"{phrase if not found else phrase.replace(' points', '', 1)} on {title(flag)}"
        paper = [float(x) for x in d.get("paper", pd.Series(dtype=float)) if _given(x)]
        if paper:
            lo, hi = min(paper), max(paper)
            shown = labels.fmt_number(lo, 1, sign=True)
            if labels.fmt_number(hi, 1) != labels.fmt_number(lo, 1):
                shown += f" to {labels.fmt_number(hi, 1, sign=True)}"
            clause += f" (paper: {shown})"
        found.append((_verdict_text(per), clause))
    head = f"**{claim} · {short}**" if not short.startswith("claim ") else f"**Claim {claim}**"
    head += f" ({subject})" if subject else ""
    if not found:
        return f"- {head}. Not tested yet."
    if len({w for w, _ in found}) == 1:
        body = f"*{_capital(found[0][0])}*: " + ", ".join(c for _, c in found)
    else:
        body = "; ".join(f"*{_capital(w) if i == 0 else w}*: {c}" for i, (w, c) in enumerate(found))
    return f"- {head}. {body}."


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def headline(
    comparisons: pd.DataFrame,
    grid: pd.DataFrame,
    scale: str,
    title: Callable[[str], str] = labels.dataset_title,
    order: Sequence[str] = (),
) -> str:
    """The result in two sentences: the first claim's comparison in words (how much less
    or more accurate a network trained on the method's coreset is than one trained on
    the reference, per dataset), then how many claims hold, are contradicted or stay
    inconclusive. ``scale`` names the profile ("at the `cpu` scale (…)")."""
    if grid.empty:
        return "No claim has been judged yet."
    first = grid["claim"].iloc[0]
    rows = comparisons.dropna(subset=["diff"]) if "diff" in comparisons else comparisons
    rows = rows[rows["claim"].map(claim_id) == first] if len(rows) else rows
    text = ""
    if len(rows) and "part" in rows:
        a, b = _sides(rows["part"].iloc[0])
        places = []
        for flag in _ordered(rows["dataset"], order):
            d = rows[rows["dataset"].astype(str) == flag]["diff"].astype(float)
            if d.max() < 0:
                gap = f"{_magnitude(-d.max(), -d.min())} points less accurate"
            elif d.min() > 0:
                gap = f"{_magnitude(d.min(), d.max())} points more accurate"
            else:
                gap = f"within {labels.fmt_number(max(-d.min(), d.max()), 1)} points"
            places.append(f"{gap} on {title(flag)}")
        text = (f"**{_capital(scale)}, a network trained on {a.split(' with ')[0]}'s coreset of "
                f"{_rates_text(rows['rate']).removeprefix('at ').replace(' and ', ' or ')} of "
                f"the training images is {_names(places)} than one trained on "
                f"{REFERENCE.get(b, b)}.** ")  # fmt: skip
    per_claim = grid[grid["category"] != UNTESTED].groupby("claim", sort=False)["category"]
    held = sum(all(c == HOLDS for c in cats) for _, cats in per_claim)
    against = sum(any(c == CONTRADICTED for c in cats) for _, cats in per_claim)
    rest = per_claim.ngroups - held - against
    untested = grid["claim"].nunique() - per_claim.ngroups
    text += (f"Of the {per_claim.ngroups} claims tested, {held} "
             f"{'holds' if held == 1 else 'hold'} everywhere it was tested, {against} "
             f"{'is' if against == 1 else 'are'} contradicted somewhere and {rest} "
             f"{'is' if rest == 1 else 'are'} inconclusive: their intervals are too wide to tell.")  # fmt: skip
    if untested:
        text += (f" {untested} more {'is' if untested == 1 else 'are'} listed below but "
                 "not tested at this profile.")  # fmt: skip
    return text


def verdict_summary(grid: pd.DataFrame, profile: str) -> str:
    """One sentence naming the claims (by id) that hold on every dataset and budget
    tested, those contradicted on at least one, and the rest; grammatical for any
    count (for the teaching page's solutions)."""
    if grid.empty:
        return "No claim has been judged yet."
    tested = grid[grid["category"] != UNTESTED]
    by = {c: list(g["category"]) for c, g in tested.groupby("claim", sort=False)}
    held = [c for c, cats in by.items() if all(x == HOLDS for x in cats)]
    against = [c for c, cats in by.items() if any(x == CONTRADICTED for x in cats)]
    rest = [c for c in by if c not in held and c not in against]

    def claims_(ids: list[str]) -> str:
        return ("claim " if len(ids) == 1 else "claims ") + _names(ids)

    parts = []
    if held:
        verb = "holds" if len(held) == 1 else "hold"
        parts.append(f"{claims_(held)} {verb} on every dataset and budget tested")
    if against:
        verb = "is" if len(against) == 1 else "are"
        parts.append(f"{claims_(against)} {verb} contradicted on at least one")
    if rest:
        verb = "is" if len(rest) == 1 else "are"
        parts.append(f"{claims_(rest)} {verb} inconclusive")
    if not held:
        parts.insert(0, "no claim holds on every dataset and budget tested")
    text = f"At the `{profile}` profile, " + "; ".join(parts)
    return text + "."


# ----------------------------------------------------------------------------- the grid


def grid_html(
    grid: pd.DataFrame,
    caption: str,
    title: Callable[[str], str] = labels.dataset_title,
    order: Sequence[str] = (),
) -> str:
    """The verdict grid as an HTML table (classes styled by ``book/_static/evalib.css``):
    one row per claim, one column per dataset and budget; each cell holds a mark and the
    verdict's colour, the deciding difference ± its 95 % half-width, and the rate (and
    network) it was measured at, with its number of seeds where it differs from the most
    common one (which the caption gives); an untested cell holds a dash."""
    if grid.empty:
        return ""
    extra = [k for k in grid.columns if k not in _CELL_COLUMNS]
    key = extra[0] if extra else None
    datasets = _ordered(grid["dataset"], order)
    budgets = _ordered(grid[key].astype(str), list(labels.BUDGETS)) if key else [""]
    esc = html.escape
    seeds = pd.to_numeric(grid.get("n_seeds"), errors="coerce").dropna()
    common = int(seeds.mode().iloc[0]) if len(seeds) else None  # said once, in the caption
    head1 = ['<th rowspan="2" scope="col">claim</th>'] + [
        f'<th colspan="{len(budgets)}" scope="colgroup">{esc(title(d))}</th>' for d in datasets
    ]
    head2 = [f'<th scope="col">{esc(labels.budget_label(b))}</th>' for _ in datasets
             for b in budgets]  # fmt: skip
    lines = ['<div class="evalib-grid-wrap"><table class="evalib-grid">',
             f"<caption>{caption}</caption>",
             f"<thead><tr>{''.join(head1)}</tr>",
             f"<tr>{''.join(head2) if key else ''}</tr></thead>", "<tbody>"]  # fmt: skip
    for claim in list(dict.fromkeys(grid["claim"])):
        g = grid[grid["claim"] == claim]
        short = labels.claim_short(claim)
        name = "" if short.startswith("claim ") else f'<span class="claim-name">{esc(short)}</span>'
        row = [f'<th scope="row"><span class="claim-id">{esc(str(claim))}</span>{name}</th>']
        for d in datasets:
            for b in budgets:
                hit = g[(g["dataset"] == d) & ((g[key].astype(str) == b) if key else True)]
                if hit.empty or hit["category"].iloc[0] == UNTESTED:
                    row.append('<td class="v-untested" title="not tested">–</td>')
                    continue
                r = hit.iloc[0]
                cat = r["category"]
                diff_text = interval_text(r.get("diff"), r.get("ci95")).replace("± ", "±\u00a0")
                where = labels.fmt_percent(r["rate"]) if _given(r.get("rate")) else ""
                if _given(r.get("model")):
                    # no line break inside a network's name ("ResNet-18 ×0.125") on a phone
                    name = labels.model_title(r["model"]).replace("-", "\u2011")
                    where += f", {name.replace(' ', chr(0xA0))}"
                n_cell = int(r["n_seeds"]) if _given(r.get("n_seeds")) else None
                n = f"n\u00a0=\u00a0{n_cell}" if n_cell is not None and n_cell != common else ""
                same = _given(r.get("identical")) and n_cell and int(r["identical"]) >= n_cell
                if same:  # a difference of 0 by construction: the two arms chose one coreset
                    n = ", ".join(x for x in (n, "identical coresets") if x)
                a, b = _sides(r.get("part", ""))
                tip = f"{r['verdict']}: {a} − {b} at {where}" if b else str(r["verdict"])
                row.append(
                    f'<td class="v-{cat.replace(" ", "-")}" title="{esc(tip)}">'
                    f'<span class="mark">{MARKS.get(cat, "·")}</span> '
                    f'<span class="verdict">{esc(str(r["verdict"]))}</span>'
                    f'<span class="diff">{esc(diff_text)}</span>'
                    f'<span class="where">{esc(where)}{", " + n if n else ""}</span></td>'
                )
        lines.append(f"<tr>{''.join(row)}</tr>")
    lines += ["</tbody></table></div>"]
    return "\n".join(lines)


def seeds_text(grid: pd.DataFrame) -> str:
    """``"3 seeds"``, or ``"3 seeds (2 for claim 6)"`` where some claims have fewer."""
    if "n_seeds" not in grid or grid["n_seeds"].dropna().empty:
        return "the seeds run so far"
    n = grid.dropna(subset=["n_seeds"]).astype({"n_seeds": int})
    common = int(n["n_seeds"].mode().iloc[0])
    others = n[n["n_seeds"] != common].groupby("n_seeds")["claim"].unique()
    text = f"{common} seed{'s' if common != 1 else ''}"
    if len(others):
        text += (
            " ("
            + "; ".join(
                f"{k} for claim{'s' if len(c) > 1 else ''} {_names(list(c))}"
                for k, c in others.items()
            )
            + ")"
        )
    return text


# ----------------------------------------------------------------------------- the page


@dataclass(frozen=True)
class ProfileResults:
    """What the Findings show of one profile: its name, the scale in words ("a ConvNet
    ×0.25 trained 20 epochs"), the settings and window notes, and its claims tables."""

    name: str
    verdicts: pd.DataFrame
    comparisons: pd.DataFrame
    scale: str = ""
    settings: str = ""
    windows: str = ""


def protocol_differences(
    verdicts: pd.DataFrame, primary: str = PRIMARY, title: Callable[[str], str] = str
) -> list[str]:
    """Where the other protocol's verdict falls in another category than the primary
    one's: ``"claim 4 on OrganAMNIST (paper's epochs): holds"``."""
    if verdicts.empty or "protocol" not in verdicts or verdicts["protocol"].nunique() < 2:
        return []
    extra = extra_keys(verdicts)
    keys = ["claim", "dataset", *extra]
    v = verdicts.assign(claim=verdicts["claim"].map(claim_id))
    main = v[v["protocol"] == primary].set_index(keys)["verdict"]
    other = v[v["protocol"] != primary].drop_duplicates(keys).set_index(keys)["verdict"]
    out = []
    for k in main.index.intersection(other.index):
        if category(main[k]) != category(other[k]):
            where = title(k[1]) + (" (" + ", ".join(labels.budget_label(x) for x in k[2:]) + ")"
                                   if extra else "")  # fmt: skip
            out.append((claim_rank(k[0]), f"claim {k[0]} on {where}: {other[k]}"))
    return [text for _, text in sorted(out)]


def findings_markdown(
    profiles: Sequence[ProfileResults],
    source: str = "",
    title: Callable[[str], str] = labels.dataset_title,
    order: Sequence[str] = (),
    why: str = "",
    regime: str = "",
) -> str:
    """The Findings section: for the first profile, the headline, one sentence per claim
    and the verdict grid; a grid for each further profile; ``why`` (Markdown, e.g.
    :func:`why_random_wins`) and ``regime`` (whether a second profile changes a verdict,
    :func:`evalib.book.lessons.regime.regime_finding`) when given; then the settings and
    the caveats, once.
    ``source`` says where the numbers come from (a sentence)."""
    shown = [p for p in profiles if not cells(p.verdicts, p.comparisons).empty]
    if not shown:
        return ("No claims results were found for this profile yet: run the claims notebook "
                "(`notebooks/10_claims`).\n")  # fmt: skip
    main = shown[0]
    grid = cells(main.verdicts, main.comparisons)
    comps = _primary_rows(main.comparisons, PRIMARY)
    scale = f"at the `{main.name}` scale" + (f" ({main.scale})" if main.scale else "")

    def grid_of(p: ProfileResults, g: pd.DataFrame) -> str:
        caption = (
            f"Verdicts at the <code>{html.escape(p.name)}</code> profile (clean "
            "protocol). Each cell: ✓ holds, ✗ contradicted, ? inconclusive; the "
            "comparison that argues most against the claim (where it holds, its "
            "weakest), as the difference in accuracy points ± the half-width of its "
            f"95 % t-interval over {seeds_text(g)}, and the rate it was measured at. "
            "Budgets: <i>paper's epochs</i> trains each coreset for as many epochs as the "
            "full-data model of the profile; <i>step floor</i> adds a minimum number of "
            "optimiser steps for the smallest coresets."
        )
        return grid_html(g, caption, title, order)

    # the result first: the headline and the grid fit one screen; the claims in words follow
    lines = [headline(comps, grid, scale, title, order), "", grid_of(main, grid), "",
             "Claim by claim, our differences in accuracy points over the rates and budgets "
             "tested:", ""]  # fmt: skip
    for claim in list(dict.fromkeys(grid["claim"])):
        c = comps[comps["claim"].map(claim_id) == claim] if len(comps) else comps
        lines.append(claim_sentence(claim, c, grid[grid["claim"] == claim], title, order))
    for p in shown[1:]:  # a second profile runs fewer claims: only those it tested
        other = cells(p.verdicts, p.comparisons)
        if len(other) and "category" in other:
            seen = other.groupby("claim")["category"].transform(lambda c: (c != UNTESTED).any())
            other = other[seen.astype(bool)]
        lines += ["", grid_of(p, other), ""]
    for extra_text in (why, regime):
        if extra_text.strip():
            lines += ["", extra_text.strip()]
    lines += ["", "**How these verdicts were reached.** " + (source + " " if source else "")
              + "A claim *holds* when the 95 % t-interval of every comparison behind it lies on "
              "the claimed side of zero (for \"matches\", above −1 point), is *contradicted* when "
              "one lies wholly on the other side, and is *inconclusive* otherwise. Verdicts use "
              "the clean protocol: the test split, the model after its last epoch."]  # fmt: skip
    for p in shown:
        if p.settings:
            lines += ["", f"**Settings of the `{p.name}` profile.** {p.settings}"]
    caveats = [
        "*Scale.* A reduced profile tests the direction of a claim, not the paper's "
        "numbers: a smaller network, fewer epochs and a shorter surrogate run than the "
        "paper's.",
        f"*Seeds.* {seeds_text(grid)[0].upper() + seeds_text(grid)[1:]} per comparison: many "
        "intervals are wide, which is why so many verdicts are inconclusive.",
    ]
    if main.windows:
        caveats.append(f"*Windows.* {main.windows[0].upper() + main.windows[1:]}.")
    differs = protocol_differences(main.verdicts, PRIMARY, title)
    if differs:
        caveats.append("*Protocol.* Under the paper's protocol (validation split, best "
                       "epoch) the verdict changes for " + _names(differs) + ".")  # fmt: skip
    lines += ["", "**Caveats, said once.**", ""] + [f"- {c}" for c in caveats]
    return "\n".join(lines).strip().replace(" %", "\u00a0%") + "\n"


def why_random_wins(
    robustness: pd.DataFrame,
    shares: pd.DataFrame | None = None,
    accuracy: pd.DataFrame | None = None,
    rates: Sequence[float] | None = None,
    comparisons: pd.DataFrame | None = None,
    order: Sequence[str] = (),
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
    describe the coresets at (default: the lowest one); ``comparisons``: the claims page's
    table, for what class-balanced EVA says about EVA's loss
    (:func:`evalib.book.lessons.why.balance_meaning`, datasets in ``order``). Markdown;
    ``""`` without input."""
    from evalib.book.lessons.why import balance_meaning, coreset_classes, grid_verdict
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
    if isinstance(comparisons, pd.DataFrame):
        meaning = balance_meaning(comparisons, order)
        if meaning:
            parts.append(meaning)
    if not parts:
        return ""
    return "**Why EVA loses to Random here.** " + "\n\n".join(parts) + "\n"
