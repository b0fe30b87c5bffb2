"""How pages name things: datasets and figure headers (pure functions, no imports from
the rest of evalib, so figures and tables can use them anywhere)."""

from __future__ import annotations


def dataset_title(flag: str) -> str:
    """MedMNIST's spelling of a flag: ``organamnist`` -> ``OrganAMNIST``."""
    f = flag.lower()
    if f.startswith("organ") and len(f) > 5:
        return f"Organ{f[5].upper()}MNIST"
    if f.startswith("oct"):
        return "OCTMNIST"
    if f.endswith("mnist"):
        return f"{f[:-5].capitalize()}MNIST"
    return flag


def figure_title(dataset: str, profile: str, what: str = "") -> str:
    """``"OrganAMNIST · cpu profile · what"``: the header of every ablation figure."""
    head = f"{dataset_title(dataset)} · {profile} profile"
    return f"{head} · {what}" if what else head
