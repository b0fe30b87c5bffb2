import numpy as np
import pytest
import torch

from evalib import data
from evalib.errors import EvalibError
from tests.conftest import make_npz


def test_load_tiny_shapes_and_dtypes(tiny_root):
    ds = data.load("organamnist", tiny_root, allow_download=False, check_md5=False)
    assert ds.train.images.dtype == torch.uint8
    assert ds.train.images.shape == (40, 1, 28, 28)
    assert ds.train.labels.dtype == torch.int64 and ds.train.labels.shape == (40,)
    assert len(ds.val) == 12 and len(ds.test) == 12
    rgb = data.load("bloodmnist", tiny_root, allow_download=False, check_md5=False)
    assert rgb.train.images.shape == (40, 3, 28, 28)


def test_env_var_sets_root(tiny_root, monkeypatch):
    monkeypatch.setenv(data.ENV_DATA_ROOT, str(tiny_root))
    assert data.data_root() == tiny_root
    assert data.present()["organamnist"] == tiny_root / "organamnist.npz"
    assert data.present()["pathmnist"] is None


def test_to_float_range():
    x = torch.tensor([0, 255, 128], dtype=torch.uint8).view(1, 1, 1, 3)
    out = data.to_float(x).flatten().tolist()
    assert out[0] == -1.0 and out[1] == 1.0 and abs(out[2] - (128 / 127.5 - 1)) < 1e-6


def test_stratified_subset_keeps_proportions():
    labels = np.array([0] * 60 + [1] * 30 + [2] * 10)
    idx = data.stratified_subset(labels, 20, seed=3)
    assert len(idx) == 20 and len(np.unique(idx)) == 20 and np.all(np.diff(idx) > 0)
    assert np.bincount(labels[idx]).tolist() == [12, 6, 2]
    assert np.array_equal(idx, data.stratified_subset(labels, 20, seed=3))
    assert not np.array_equal(idx, data.stratified_subset(labels, 20, seed=4))


@pytest.mark.parametrize(
    "flag, message",
    [
        ("nosuchmnist", "unknown dataset 'nosuchmnist'; known: bloodmnist"),
        ("chestmnist", "multi-label"),
        ("organmnist3d", "3D"),
    ],
)
def test_bad_flags(flag, message, tmp_path):
    with pytest.raises(EvalibError, match=message):
        data.load(flag, tmp_path, allow_download=False)


def test_missing_offline_says_where(tmp_path):
    with pytest.raises(EvalibError, match=f"not found in {tmp_path}.*EVALIB_DATA_ROOT"):
        data.load("organsmnist", tmp_path, allow_download=False)


def test_download_failure_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "RECORD_URL", "http://127.0.0.1:9/{flag}.npz")
    with pytest.raises(EvalibError, match="download from .* failed") as err:
        data.load("organsmnist", tmp_path)
    assert "\n" not in str(err.value)
    assert list(tmp_path.iterdir()) == []  # no partial file left behind


def test_md5_mismatch(tiny_root):
    with pytest.raises(EvalibError, match="not the official organamnist.npz .*official 68e3f8846a"):
        data.load("organamnist", tiny_root, allow_download=False)


def test_truncated_file(tmp_path):
    good = make_npz(tmp_path / "x.npz").read_bytes()
    (tmp_path / "organamnist.npz").write_bytes(good[: len(good) // 2])
    with pytest.raises(EvalibError, match="damaged or truncated"):
        data.load("organamnist", tmp_path, allow_download=False, check_md5=False)


def test_not_a_zip(tmp_path):
    (tmp_path / "organamnist.npz").write_text("hello")
    with pytest.raises(EvalibError, match="damaged or truncated"):
        data.load("organamnist", tmp_path, allow_download=False, check_md5=False)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"val_labels": None}, "lacks the arrays val_labels"),
        ({"train_images": np.zeros((40, 28, 28), np.float32)}, "must be uint8"),
        ({"train_images": np.zeros((40, 32, 32), np.uint8)}, "must be 28×28"),
        ({"train_images": np.zeros((40, 28, 28, 3), np.uint8)}, r"must be \[N, H, W\]"),
        ({"train_labels": np.full((40, 1), 11, np.uint8)}, r"outside \[0, 10\]"),
        ({"train_labels": np.zeros((40, 14), np.uint8)}, "14 labels per image"),
        ({"train_labels": np.zeros((39, 1), np.uint8)}, "40 images but 39 labels"),
        ({"train_labels": np.zeros((40, 1), np.float32)}, "must be integers"),
    ],
)
def test_malformed_content(tmp_path, overrides, message):
    make_npz(tmp_path / "organamnist.npz", **overrides)
    with pytest.raises(EvalibError, match=message):
        data.load("organamnist", tmp_path, allow_download=False, check_md5=False)


def test_real_files_match_official(shared_data):
    for flag in ("breastmnist", "retinamnist"):
        ds = data.load(flag, shared_data, allow_download=False)
        assert (len(ds.train), len(ds.val), len(ds.test)) == ds.info.n_samples
        assert ds.train.images.shape[1] == ds.info.n_channels
        assert int(ds.train.labels.max()) == ds.info.n_classes - 1


def test_registry_matches_medmnist_if_installed():
    medmnist_info = pytest.importorskip("medmnist.info")
    for flag, info in data.DATASETS.items():
        ref = medmnist_info.INFO[flag]
        assert info.md5 == ref["MD5"]
        assert info.n_classes == len(ref["label"])
        assert info.n_channels == ref["n_channels"]
        assert info.url == ref["url"]
