import pickle

import numpy as np
import pytest

from evalib import dynamics as dm
from evalib.errors import EvalibError
from evalib.official import import_official_pickle


def _dyn(t=3, n=5, c=4, seed=0, with_eval=True):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(t, n, c))
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    kw = {}
    if with_eval:
        kw = {"eval_log_probs": logp[-1:], "eval_epochs": [t - 1]}
    return dm.from_arrays(logp, rng.integers(0, c, n), meta={"seed": seed}, **kw)


@pytest.mark.parametrize("name", ["d.npz", "d_folder"])
def test_save_load_roundtrip(tmp_path, name):
    d = _dyn()
    dm.save(d, tmp_path / name)
    back = dm.load(tmp_path / name)
    for k in dm.ARRAY_FIELDS:
        np.testing.assert_array_equal(getattr(back, k), getattr(d, k))
    assert back.meta == {"seed": 0}
    assert back.log_probs.dtype == np.float16
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary left


def test_folder_is_memory_mapped(tmp_path):
    dm.save(_dyn(), tmp_path / "f")
    assert isinstance(dm.load(tmp_path / "f").log_probs, np.memmap)


def test_overwrite_folder(tmp_path):
    dm.save(_dyn(seed=0), tmp_path / "f")
    dm.save(_dyn(seed=1), tmp_path / "f")
    assert dm.load(tmp_path / "f").meta["seed"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


def test_validation_errors():
    d = _dyn()
    with pytest.raises(EvalibError, match="labels must have shape"):
        dm.Dynamics(d.log_probs, d.labels[:-1], d.seen, d.sample_ids)
    with pytest.raises(EvalibError, match=r"labels must lie in \[0, 3\]"):
        dm.Dynamics(d.log_probs, d.labels + 10, d.seen, d.sample_ids)
    with pytest.raises(EvalibError, match="seen must be bool"):
        dm.Dynamics(d.log_probs, d.labels, d.seen.astype(int), d.sample_ids)


def test_load_errors(tmp_path):
    with pytest.raises(EvalibError, match="not found"):
        dm.load(tmp_path / "nope.npz")
    (tmp_path / "bad.npz").write_text("xx")
    with pytest.raises(EvalibError, match="cannot read dynamics"):
        dm.load(tmp_path / "bad.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(EvalibError, match="not a dynamics file"):
        dm.load(tmp_path / "other.npz")


def test_final_eval_requires_pass():
    with pytest.raises(EvalibError, match="no eval-mode pass"):
        _dyn(with_eval=False).final_eval_log_probs()
    d = _dyn()
    np.testing.assert_array_equal(d.final_eval_log_probs(), d.eval_log_probs[0])


def test_import_official_pickle_marks_skipped_samples(tmp_path):
    # 5 samples, 2 epochs, batch 2 with drop-last: one sample per epoch is never recorded.
    out = lambda rows: np.log(np.full((rows, 3), 1 / 3, np.float16))  # noqa: E731
    records = [
        {"epoch": 0, "iteration": 0, "idx": np.array([0, 3]), "output": out(2)},
        {"epoch": 0, "iteration": 1, "idx": np.array([1, 4]), "output": out(2)},
        {"epoch": 1, "iteration": 2, "idx": np.array([2, 0]), "output": out(2)},
        {"epoch": 1, "iteration": 3, "idx": np.array([4, 3]), "output": out(2)},
    ]
    with open(tmp_path / "td.pickle", "wb") as fh:
        pickle.dump(records, fh)
    d = import_official_pickle(tmp_path / "td.pickle", labels=[0, 1, 2, 0, 1])
    assert d.shape == (2, 5, 3)
    assert d.seen.tolist() == [[True, True, False, True, True], [True, False, True, True, True]]
    np.testing.assert_allclose(np.exp(d.log_probs[0, 0].astype(float)), 1 / 3, atol=1e-3)
