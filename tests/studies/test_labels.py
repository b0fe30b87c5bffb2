"""evalib.studies.labels: one long and one short name for every method a page shows, one
display order, and the titles of datasets, networks, windows and figures."""

from __future__ import annotations

import pandas as pd

from evalib.runs.config import get_profile
from evalib.studies import claims, grids, labels, paper


def _keys_in_use() -> set[str]:
    """Every method key the studies run (grids), the paper reports (paper), the claims
    compare and the results pages' conclusions name."""
    from evalib.studies.distill import METHODS as DISTILL
    from evalib.studies.mosaics import METHODS as SEGMENTATION

    profile = get_profile("smoke")
    planned = [*grids.table1(profile, "organamnist"), *grids.dual(profile, "organamnist")]
    keys = {p.arm for p in planned} | {"eva_tuned"}  # tuned once the tuning stage is done
    keys |= set(grids.FIXED_METHODS) | set(grids.TUNED_ARMS.values())
    keys |= {j.selection.method for j in grids.dad_classification(profile, "organamnist")}
    keys |= set(SEGMENTATION) | set(DISTILL) | {"pie", "dad"}
    keys |= set(paper.TABLE1_METHODS) | set(paper.table1()["method"]) | set(paper.PAPER_NAME)
    keys |= {m for c in claims.CLAIMS for p in c.parts for m in (p.a, p.b)}
    return keys


def test_every_method_in_use_has_a_long_and_a_short_name() -> None:
    keys = _keys_in_use()
    assert {"full", "eva_tuned", "eva_published", "eva_official", "var_d", "dad_hard"} <= keys
    for key in sorted(keys | set(labels.ORDER)):
        assert key in labels.LONG and key in labels.SHORT, key
        assert labels.label(key) == labels.LONG[key]
        assert labels.short(key) == labels.label(key, short=True) == labels.SHORT[key]
        assert len(labels.short(key)) <= len(labels.label(key)), key
    assert set(labels.ORDER) == set(labels.LONG) == set(labels.SHORT)
    assert labels.label("eva_tuned") == "EVA (windows tuned on validation)"
    assert labels.short("eva_tuned") == "EVA (tuned)"
    assert labels.label("unheard_of") == labels.short("unheard_of") == "unheard_of"


def test_segmentation_names_el2n_by_its_pixel_mean() -> None:
    assert labels.label("el2n", short=True, segmentation=True) == "EL2N (pixel mean)"
    assert labels.label("dad_hard", segmentation=True) == "DAD keep-hard"
    assert labels.label("el2n") == "EL2N"


def test_rank_orders_table1_as_the_paper_does() -> None:
    in_paper = list(dict.fromkeys(paper.table1()["method"]))  # the paper's row order
    assert in_paper == ["full", *paper.TABLE1_METHODS]
    assert sorted(in_paper, key=labels.rank) == in_paper
    assert labels.ordered(reversed(in_paper)) == in_paper
    # our EVA arms follow the paper's EVA; unknown methods last, alphabetically
    assert labels.ordered(["zeta", "eva_published", "eva", "eva_tuned", "alpha", "random"]) == [
        "random", "eva", "eva_tuned", "eva_published", "alpha", "zeta"]  # fmt: skip
    assert labels.rank("unheard_of") == len(labels.ORDER)


def test_side_by_side_lists_methods_in_display_order() -> None:
    ours = pd.DataFrame({"method": ["eva_tuned", "random", "eva_published", "full"],
                         "rate": [0.02, 0.02, 0.02, 1.0], "mean": 1.0, "std": 0.0,
                         "count": 3, "ci95": 0.0})  # fmt: skip
    t = paper.side_by_side(ours, "organamnist")
    assert list(t["method"]) == ["full", "random", "eva_tuned", "eva_published"]


def test_dataset_title_spells_medmnist_flags() -> None:
    assert labels.dataset_title("organamnist") == "OrganAMNIST"
    assert labels.dataset_title("organcmnist") == "OrganCMNIST"
    assert labels.dataset_title("organsmnist") == "OrganSMNIST"
    assert labels.dataset_title("bloodmnist") == "BloodMNIST"
    assert labels.dataset_title("pathmnist") == "PathMNIST"
    assert labels.dataset_title("octmnist") == "OCTMNIST"
    assert labels.dataset_title("cifar10") == "cifar10"
    assert labels.figure_title("organamnist", "cpu", "x") == "OrganAMNIST · cpu profile · x"
    assert labels.figure_title("bloodmnist", "smoke") == "BloodMNIST · smoke profile"


def test_models_windows_and_protocols() -> None:
    assert labels.model_label("vgg", 1.0) == "vgg"
    assert labels.model_label("vgg", 0.0625) == "vgg ×0.0625"
    assert labels.fmt_window((0, 10)) == "[0, 10)"
    assert labels.fmt_pair([0, 10], [100, 110]) == "[0, 10) + [100, 110)"
    assert grids.window_label({"early": (0, 10), "late": [100, 110]}) == "[0, 10) + [100, 110)"
    assert set(labels.PROTOCOL_LABELS) == {"paper", "clean"}
    assert labels.protocol_label("clean") == "clean protocol (test, final epoch)"


def test_labels_imports_nothing_of_evalib() -> None:
    from tests.test_imports import import_graph

    assert import_graph()["evalib.studies.labels"] == set()
