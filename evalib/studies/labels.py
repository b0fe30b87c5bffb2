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

import re
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


# ----------------------------------------------------------------------------- reader-facing
# Names and number formats for what a reader sees: table headers, table values, figure
# labels and generated prose. Result files keep their code names (``clean_test_acc``,
# ``eva_tuned``); pages show these.

#: a network's code name -> how pages write it
MODEL_NAMES: dict[str, str] = {
    "resnet18": "ResNet-18",
    "resnet50": "ResNet-50",
    "mobilenet_v2": "MobileNet-v2",
    "mobilenetv2": "MobileNet-v2",
    "vgg": "VGG",
    "vgg11": "VGG-11",
    "vgg16": "VGG-16",
    "convnet": "ConvNet",
}

#: training budget (the ``budget`` column of the studies) -> how pages name it
BUDGETS: dict[str, str] = {
    "epochs": "paper's epochs",
    "floor": "step floor",
}

#: claim id (:mod:`evalib.studies.claims`) -> a short name for grids and figure rows
CLAIM_SHORT: dict[str, str] = {
    "1": "EVA beats Random",
    "1p": "EVA with the published windows beats Random",
    "1cb": "Our check: class-balanced EVA beats stratified Random",
    "1f": "Our check: EVA with the code's class-balance flag beats Random",
    "2a": "Score baselines fall below Random",
    "2b": "CCS does not beat Random",
    "3": "Variance beats expectation",
    "4": "Two windows beat one",
    "5": "EVA at 30 % matches the full training set",
    "6": "EVA's coresets transfer to other networks",
}

#: study of :mod:`evalib.studies.grids` (and related page) -> how the compute table names it
STUDIES: dict[str, str] = {
    "surrogates": "surrogate runs",
    "tuning": "window tuning (tuning seed)",
    "table1": "Table 1",
    "ablation": "variance ablation",
    "dual": "EVA as written and as coded",
    "cross": "cross-architecture",
    "balance": "class balance",
    "07_pruning_identified": "pruning-identified exemplars (page 07)",
    "08_distillation": "dataset distillation (page 08)",
    "09_dad_segmentation": "DAD segmentation (page 09)",
}
#: the prefix of a related page's ``<prefix>_verdicts.csv`` -> the page it comes from
RELATED_PAGES: dict[str, str] = {
    "pie": STUDIES["07_pruning_identified"],
    "distill": STUDIES["08_distillation"],
    "seg": STUDIES["09_dad_segmentation"],
}

#: column name of a result table -> its header on a page (names not listed here are
#: shown by :func:`column_label`'s rules)
COLUMNS: dict[str, str] = {
    "method": "method",
    "arm": "arm",
    "eva_arm": "EVA arm",
    "dataset": "dataset",
    "protocol": "protocol",
    "budget": "training budget",
    "rate": "rate",
    "seed": "seed",
    "model": "network",
    "model_label": "network",
    "paper_model": "paper's network",
    "width": "width",
    "n": "n",
    "n_seeds": "seeds",
    "n_train": "training images",
    "n_params": "parameters",
    "count": "seeds",
    "mean": "mean",
    "std": "SD",
    "ci95": "95 % CI ±",
    "diff": "difference",
    "clean_test_acc": "test accuracy (clean protocol)",
    "paper_val_acc": "validation accuracy (paper protocol)",
    "final_val_acc": "final validation accuracy",
    "ours": "ours",
    "ours_mean": "ours, mean",
    "ours_std": "ours, SD",
    "ours_ci95": "ours, 95 % CI ±",
    "paper": "paper",
    "paper_mean": "paper, mean",
    "paper_std": "paper, SD",
    "eva_minus_random": "EVA − Random",
    "eva_minus_best_other": "EVA − best other",
    "best_other": "best other method",
    "minus_random": "minus Random",
    "pearson_r": "Pearson r",
    "pearson_p": "Pearson p",
    "spearman": "Spearman ρ",
    "spearman_rho": "Spearman ρ",
    "spearman_p": "Spearman p",
    "jaccard": "Jaccard",
    "worst_class_accuracy": "worst-class accuracy",
    "balanced_accuracy": "balanced accuracy",
    "smallest_class": "smallest class",
    "train_share": "share of the training set",
    "affected_all": "with an unseen epoch: whole set (%)",
    "affected_mask": "with an unseen epoch: coreset, masked (%)",
    "affected_zero": "with an unseen epoch: coreset, zero-filled (%)",
    "dense_acc": "dense accuracy",
    "mean_htl": "mean HTL",
    "pie_train": "PIE share, training set",
    "pie_test": "PIE share, test set",
    "mean_a": "mean of A",
    "mean_b": "mean of B",
    "batch_real": "real images per batch",
    "lr_img": "image learning rate",
    "ipc": "images per class",
    "ipcs": "images per class",
    "eval_augment": "evaluation augmentation",
    "eval_batch": "evaluation batch",
    "eval_lr": "evaluation learning rate",
    "eval_models": "evaluation networks",
    "eval_steps": "evaluation steps",
    "full_steps": "full-data steps",
    "random_rel": "Random, relative to full",
    "distilled_rel": "distilled, relative to full",
    "drop_last": "last small batch dropped",
    "steps": "steps",
}

#: the suffixes :func:`column_label` turns into words (``accuracy_mean`` -> "accuracy, mean")
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_mean", ", mean"),
    ("_std", ", SD"),
    ("_ci95", ", 95 % CI ±"),
    ("_vs_uniform", " vs uniform"),
    ("_minus_random", " − Random"),
)
MINUS = "−"  # U+2212: the one minus sign of every page
_SNAKE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")
_KEY_IN_DIFFERENCE = re.compile(r"\b(" + "|".join(k for k in LONG if "_" not in k) + r")( − )")
_MODEL_WIDTH = re.compile(r"\b(" + "|".join(MODEL_NAMES) + r")( ×[0-9.]+)")
_SIGNED_ZERO = re.compile(r"(?<![\w.])[+−](0(?:\.0+)?)(?![\d.])")
_HYPHEN_MINUS = re.compile(r"(?<![\w.\-–])-(?=\d)")
_METHOD_KEY = re.compile(
    r"\b(?:" + "|".join(sorted((k for k in LONG if "_" in k), key=len, reverse=True)) + r")\b"
)


def model_name(name: str) -> str:
    """A network's code name as pages write it: ``"resnet18"`` -> ``"ResNet-18"``."""
    return MODEL_NAMES.get(str(name).lower(), str(name))


def model_title(text: object) -> str:
    """A network as :func:`model_label` writes it, for readers:
    ``"resnet18 ×0.125"`` -> ``"ResNet-18 ×0.125"``; other text unchanged."""
    s = str(text)
    head, sep, rest = s.partition(" ×")
    return model_name(head) + sep + rest if head.lower() in MODEL_NAMES else s


def budget_label(budget: object) -> str:
    """``"floor"`` -> ``"step floor"``; unknown budgets as they are."""
    return BUDGETS.get(str(budget), str(budget))


def claim_short(claim: object) -> str:
    """A claim's short name (:data:`CLAIM_SHORT`), ``"claim X"`` for an id without one."""
    return CLAIM_SHORT.get(str(claim), f"claim {claim}")


def column_label(name: object) -> str:
    """The header a page shows for a result column: :data:`COLUMNS`, a method's short name
    (a pivoted table's columns), a known suffix spelled out, else the name with its
    underscores as spaces (no code name reaches a reader)."""
    key = str(name)
    if key in COLUMNS:
        return COLUMNS[key]
    if key in SHORT:
        return SHORT[key]
    for suffix, words in _SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            return column_label(key[: -len(suffix)]) + words
    return key.replace("_", " ")


def is_code_name(text: object) -> bool:
    """True for a snake_case identifier: lower-case words joined by underscores
    (``clean_test_acc``, ``var_d``)."""
    return isinstance(text, str) and _SNAKE.fullmatch(text) is not None


def spell_out(text: str) -> str:
    """``text`` for a reader: every method key that has an underscore (``dad_ambiguous``)
    replaced by the method's long name wherever it stands, a one-word key next to a
    difference's minus (``entropy − Random``) by its name, a network with its width
    (``resnet18 ×0.125``) by its display name, a hyphen used as a minus sign (``-38.7``)
    by U+2212, and a signed zero (``+0.0``, ``-0.0``) as ``0.0``."""
    text = _METHOD_KEY.sub(lambda m: LONG[m.group(0)], text)
    text = _KEY_IN_DIFFERENCE.sub(lambda m: LONG[m.group(1)] + m.group(2), text)
    text = _MODEL_WIDTH.sub(lambda m: model_name(m.group(1)) + m.group(2), text)
    return _SIGNED_ZERO.sub(r"\1", _HYPHEN_MINUS.sub(MINUS, text))


def value_label(value: object) -> object:
    """A table value as a reader sees it: a method key with an underscore -> its short
    name (its long name inside a longer text), a network -> :func:`model_title`, any other
    snake_case identifier with its underscores as spaces; everything else unchanged."""
    if isinstance(value, (list, tuple)):  # never a Python list or tuple on a page
        return fmt_list(value_label(v) for v in value)
    if not isinstance(value, str):
        return value
    if is_code_name(value):
        return SHORT.get(value, value.replace("_", " "))
    return spell_out(model_title(value)).replace(" ± ", "\u00a0±\u00a0").replace(" %", "\u00a0%")


def fmt_number(x: float, digits: int = 1, sign: bool = False) -> str:
    """``x`` with ``digits`` decimals, thousands separated by commas, U+2212 as the
    minus sign, and a value that rounds to zero as ``0.0`` (never ``−0.0`` or ``+0.0``);
    ``sign``: ``+`` before a positive value."""
    text = f"{float(x):,.{digits}f}"
    if float(text.replace(",", "")) == 0:
        return text.lstrip("-")
    if sign and not text.startswith("-"):
        text = "+" + text
    return text.replace("-", MINUS)


def count(n: int, noun: str) -> str:
    """``"1 sample"``, ``"55 samples"``: a count with its noun in the right number."""
    return f"{fmt_number(n, 0)} {noun}{'' if int(n) == 1 else 's'}"


def fmt_percent(rate: float, digits: int | None = None) -> str:
    """A rate in (0, 1] as a percent: ``0.02`` -> ``"2 %"`` (``digits``: fixed decimals;
    default: as many as the value needs)."""
    pct = 100 * float(rate)
    text = f"{pct:g}" if digits is None else fmt_number(pct, digits)
    return f"{text}\u00a0%"  # a no-break space: "2 %" never wraps before its sign


def fmt_list(items: Iterable[object]) -> str:
    """``[0, 1, 2]`` as ``"0, 1 and 2"`` (a page never shows a Python list)."""
    shown = [fmt_number(x, 0) if isinstance(x, int) and not isinstance(x, bool) else
             f"{x:g}" if isinstance(x, float) else str(x) for x in items]  # fmt: skip
    if len(shown) <= 1:
        return "".join(shown)
    return ", ".join(shown[:-1]) + " and " + shown[-1]


def fmt_rates(rates: Iterable[float]) -> str:
    """Selection rates as percents in words: ``[0.02, 0.05]`` -> ``"2 % and 5 %"``."""
    return fmt_list([fmt_percent(r) for r in rates])
