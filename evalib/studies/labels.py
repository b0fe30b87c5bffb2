"""How pages name things: methods (long and short names, and the order they are listed
in), evaluation protocols, datasets, networks, epoch windows and figure headers.

The one place for display strings. Pure data and functions with no imports from the rest
of evalib, so figures, tables and prose can use them anywhere without pulling in the
runner. Long names go in tables and prose; short names on figure axes and legends::

    label("eva_tuned")              # "EVA (windows tuned on validation)"
    label("eva_tuned", short=True)  # "EVA (tuned)", also short("eva_tuned")
    ordered(["eva", "random", "full"])  # ["full", "random", "eva"]

Method keys are the score methods of :mod:`evalib.scores.registry` and the arms the
studies run under their own names (``eva_tuned``, ``eva_published``, ``full``, ``pie``,
``distilled``, the segmentation rules ``dad_hard`` / ``dad_easy`` / ``dad_ambiguous``).
A key without a name here is shown as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

#: method key -> long name (tables, prose)
LONG: dict[str, str] = {
    "full": "Full data",
    "random": "Random",
    "forgetting": "Forgetting",
    "entropy": "Entropy",
    "el2n": "EL2N",
    "aum": "AUM",
    "ccs": "CCS",
    "eva": "EVA",
    "eva_tuned": "EVA (windows tuned on validation)",
    "eva_published": "EVA (published windows)",
    "eva_paper": "EVA (paper)",
    "eva_official": "EVA (official code)",
    "eva_cb": "EVA class-balanced",
    "eva_cb_tuned": "EVA class-balanced (windows tuned on validation)",
    "random_strat": "Random stratified (same class counts)",
    "eva_flag": "EVA with the published code's class-balance flag (equal class quotas, EVA's tuned windows)",
    "random_flag": "Random of the flag's coreset size",
    "exp_s": "EXP-S",
    "var_s": "VAR-S",
    "exp_d": "EXP-D",
    "var_d": "VAR-D",
    "pie": "HTL (PIE)",
    "distilled": "DM distilled",
    "dad": "DAD",
    "dad_hard": "DAD keep-hard",
    "dad_easy": "DAD keep-easy",
    "dad_ambiguous": "DAD keep-ambiguous",
}

#: method key -> short name (figure axes and legends, arm labels); the long name where
#: it is short already
SHORT: dict[str, str] = {
    **LONG,
    "eva_tuned": "EVA (tuned)",
    "eva_published": "EVA (published)",
    "eva_official": "EVA (official)",
    "eva_cb_tuned": "EVA class-bal. (tuned)",
    "random_strat": "Random stratified",
    "eva_flag": "EVA (flag)",
    "random_flag": "Random (flag size)",
}

#: names a method takes on the segmentation page only (EL2N there is the mean over the
#: pixels of a mosaic)
SEGMENTATION: dict[str, str] = {"el2n": "EL2N (pixel mean)"}

#: the order in which methods are listed in tables, figures and prose; Table 1's methods
#: come in the paper's order. Others follow, alphabetically (:func:`ordered`).
ORDER: tuple[str, ...] = (
    "full",
    "random",
    "forgetting",
    "entropy",
    "el2n",
    "aum",
    "ccs",
    "eva",
    "eva_tuned",
    "eva_published",
    "eva_paper",
    "eva_official",
    "eva_cb",
    "eva_cb_tuned",
    "random_strat",
    "eva_flag",
    "random_flag",
    "exp_s",
    "var_s",
    "exp_d",
    "var_d",
    "pie",
    "distilled",
    "dad",
    "dad_hard",
    "dad_easy",
    "dad_ambiguous",
)

#: evaluation protocol -> how pages name it (the result column of each is
#: :data:`evalib.studies.ablations.PROTOCOLS`)
PROTOCOL_LABELS: dict[str, str] = {
    "paper": "paper protocol (validation, best over evaluations)",
    "clean": "clean protocol (test, final epoch)",
}

_RANK = {m: i for i, m in enumerate(ORDER)}


def label(method: object, short: bool = False, segmentation: bool = False) -> str:
    """The display name of ``method``: long (tables, prose) or ``short`` (figures);
    ``segmentation`` for the names the segmentation page gives its rules. Unknown keys
    are returned as they are."""
    key = str(method)
    if segmentation and key in SEGMENTATION:
        return SEGMENTATION[key]
    return (SHORT if short else LONG).get(key, key)


def short(method: object) -> str:
    """``label(method, short=True)``: a method's name on a figure axis or legend."""
    return label(method, short=True)


def rank(method: object) -> int:
    """Position of ``method`` in :data:`ORDER` (unknown methods after every known one)."""
    return _RANK.get(str(method), len(ORDER))


def ordered(methods: Iterable[object]) -> list[str]:
    """The distinct ``methods`` in display order: :data:`ORDER`, then the others
    alphabetically."""
    return sorted({str(m) for m in methods}, key=lambda m: (rank(m), m))


def protocol_label(protocol: str) -> str:
    """``"clean"`` -> ``"clean protocol (test, final epoch)"``."""
    return PROTOCOL_LABELS[protocol]


def dataset_title(flag: object) -> str:
    """MedMNIST's spelling of a flag: ``organamnist`` -> ``OrganAMNIST``."""
    flag = str(flag)
    f = flag.lower()
    if f.startswith("organ") and len(f) > 5:
        return f"Organ{f[5].upper()}MNIST"
    if f.startswith("oct"):
        return "OCTMNIST"
    if f.endswith("mnist"):
        return f"{f[:-5].capitalize()}MNIST"
    return flag


#: What a reader calls each profile (page titles, the side-by-side tables).
PROFILE_TITLES = {
    "smoke": "smoke test",
    "cpu": "40-epoch surrogate",
    "cpu200": "200-epoch surrogate",
    "paper": "paper recipe",
}


def profile_title(profile: str) -> str:
    """``"cpu200"`` -> ``"200-epoch surrogate"`` (the profile's name when it has no title)."""
    return PROFILE_TITLES.get(profile, f"{profile} profile")


def figure_title(dataset: str, profile: str, what: str = "") -> str:
    """``"OrganAMNIST · cpu profile · what"``: the header of every ablation figure."""
    head = f"{dataset_title(dataset)} · {profile} profile"
    return f"{head} · {what}" if what else head


def model_label(name: str, width: float) -> str:
    """``"resnet18"`` at width 1, ``"resnet18 ×0.125"`` otherwise."""
    return name if float(width) == 1.0 else f"{name} ×{float(width):g}"


def fmt_window(window: Sequence[int]) -> str:
    """``(a, b)`` as the half-open range ``"[a, b)"``."""
    a, b = (int(x) for x in window)
    return f"[{a}, {b})"


def fmt_pair(early: Sequence[int], late: Sequence[int]) -> str:
    """A dual window as ``"[a, b) + [c, d)"``."""
    return f"{fmt_window(early)} + {fmt_window(late)}"
