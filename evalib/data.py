"""MedMNIST (2D, 28×28, single-label) as uint8 tensors.

Files are the official MedMNIST v3 ``<flag>.npz`` releases. They are looked for in a
data root: the ``root`` argument, else the ``EVALIB_DATA_ROOT`` environment variable,
else ``~/.medmnist`` (medmnist's own default). A missing file is downloaded from the
official record and its MD5 checked. Images stay ``uint8`` [N, C, H, W] until a batch
is made (see :func:`to_float`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import http.client
import os
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from evalib.errors import EvalibError
from evalib.io import progress_bar, refuses_pickle
from evalib.names import did_you_mean

if TYPE_CHECKING:  # torch is imported where tensors are made: listing datasets stays fast
    import torch

ENV_DATA_ROOT = "EVALIB_DATA_ROOT"
DEFAULT_ROOT = Path("~/.medmnist")
RECORD_URL = "https://zenodo.org/records/10519652/files/{flag}.npz?download=1"
SPLITS = ("train", "val", "test")
_ORGANS = (
    "bladder", "femur-left", "femur-right", "heart", "kidney-left", "kidney-right",
    "liver", "lung-left", "lung-right", "pancreas", "spleen",
)  # fmt: skip


@dataclass(frozen=True)
class DatasetInfo:
    """Facts about one MedMNIST dataset (from the MedMNIST v3 release, medmnist 3.0.2)."""

    flag: str
    md5: str
    n_channels: int
    class_names: tuple[str, ...]
    n_samples: tuple[int, int, int]  # train, val, test
    task: str

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def url(self) -> str:
        return RECORD_URL.format(flag=self.flag)


def _info(flag, md5, ch, names, n, task="multi-class") -> DatasetInfo:
    return DatasetInfo(flag, md5, ch, tuple(names), tuple(n), task)


DATASETS: dict[str, DatasetInfo] = {
    d.flag: d
    for d in (
        _info("organamnist", "68e3f8846a6bd62f0c9bf841c0d9eacc", 1, _ORGANS, (34561, 6491, 17778)),
        _info("organcmnist", "b9ceb9546e10131b32923c5bbeaea2b1", 1, _ORGANS, (12975, 2392, 8216)),
        _info("organsmnist", "9ab87b696fb54e2a387ebe992d6ed5f1", 1, _ORGANS, (13932, 2452, 8827)),
        _info(
            "bloodmnist", "7053d0359d879ad8a5505303e11de1dc", 3,
            ("basophil", "eosinophil", "erythroblast", "immature granulocytes", "lymphocyte",
             "monocyte", "neutrophil", "platelet"),
            (11959, 1712, 3421),
        ),
        _info(
            "breastmnist", "750601b1f35ba3300ea97c75c52ff8f6", 1,
            ("malignant", "normal, benign"), (546, 78, 156), "binary-class",
        ),
        _info(
            "retinamnist", "bd4c0672f1bba3e3a89f0e4e876791e4", 3,
            ("0", "1", "2", "3", "4"), (1080, 120, 400), "ordinal-regression",
        ),
        _info(
            "pathmnist", "a8b06965200029087d5bd730944a56c1", 3,
            ("adipose", "background", "debris", "lymphocytes", "mucus", "smooth muscle",
             "normal colon mucosa", "cancer-associated stroma",
             "colorectal adenocarcinoma epithelium"),
            (89996, 10004, 7180),
        ),
        _info(
            "dermamnist", "0744692d530f8e62ec473284d019b0c7", 3,
            ("actinic keratoses", "basal cell carcinoma", "benign keratosis-like lesions",
             "dermatofibroma", "melanoma", "melanocytic nevi", "vascular lesions"),
            (7007, 1003, 2005),
        ),
        _info(
            "octmnist", "c68d92d5b585d8d81f7112f81e2d0842", 1,
            ("choroidal neovascularization", "diabetic macular edema", "drusen", "normal"),
            (97477, 10832, 1000),
        ),
        _info(
            "pneumoniamnist", "28209eda62fecd6e6a2d98b1501bb15f", 1,
            ("normal", "pneumonia"), (4708, 524, 624), "binary-class",
        ),
        _info(
            "tissuemnist", "ebe78ee8b05294063de985d821c1c34b", 1,
            ("collecting duct, connecting tubule", "distal convoluted tubule",
             "glomerular endothelial cells", "interstitial endothelial cells", "leukocytes",
             "podocytes", "proximal tubule segments", "thick ascending limb"),
            (165466, 23640, 47280),
        ),
    )
}  # fmt: skip

UNSUPPORTED: dict[str, str] = {
    "chestmnist": "multi-label (14 binary labels per image); evalib scores single-label tasks",
    **{
        f: "a 3D dataset (28×28×28 volumes); evalib handles 2D images"
        for f in (
            "organmnist3d", "nodulemnist3d", "adrenalmnist3d",
            "fracturemnist3d", "vesselmnist3d", "synapsemnist3d",
        )
    },
}  # fmt: skip


@dataclass(frozen=True, eq=False)
class Split:
    """One split: ``images`` uint8 [N, C, H, W], ``labels`` int64 [N]."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, indices: np.ndarray | torch.Tensor) -> Split:
        import torch

        idx = torch.as_tensor(np.asarray(indices), dtype=torch.long)
        return Split(self.images[idx], self.labels[idx])


@dataclass(frozen=True, eq=False)
class MedMNIST:
    """A loaded dataset: its facts, its three splits and the file they came from."""

    info: DatasetInfo
    train: Split
    val: Split
    test: Split
    path: Path

    def split(self, name: str) -> Split:
        if name not in SPLITS:
            raise EvalibError(f"unknown split {name!r}; choose one of {', '.join(SPLITS)}")
        return getattr(self, name)


def dataset_info(flag: str) -> DatasetInfo:
    """Facts for ``flag``; one-line EvalibError for unknown or unsupported flags."""
    key = flag.lower().strip() if isinstance(flag, str) else flag
    if key in DATASETS:
        return DATASETS[key]
    if key in UNSUPPORTED:
        raise EvalibError(f"{flag} is not supported: it is {UNSUPPORTED[key]}")
    hint = did_you_mean(str(flag), [*DATASETS, *UNSUPPORTED])
    raise EvalibError(f"unknown dataset {flag!r}{hint}; known: {', '.join(sorted(DATASETS))}")


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The folder searched for ``<flag>.npz``: ``root``, $EVALIB_DATA_ROOT, or ~/.medmnist."""
    if root is None:
        root = os.environ.get(ENV_DATA_ROOT) or DEFAULT_ROOT
    return Path(root).expanduser()


def md5sum(path: Path, chunk: int = 1 << 20) -> str:
    """Hex MD5 of the file at ``path``; unreadable files raise a one-line EvalibError."""
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with open(path, "rb") as fh:
            while block := fh.read(chunk):
                digest.update(block)
    except OSError as exc:
        raise _read_error(path, exc) from exc
    return digest.hexdigest()


def _read_error(path: Path, exc: OSError) -> EvalibError:
    """An I/O problem that says nothing about the file's content (no advice to delete it)."""
    if isinstance(exc, PermissionError):
        return EvalibError(
            f"cannot read {path}: permission denied; the file may be fine, "
            "give your user read access to it (and its folder)"
        )
    if isinstance(exc, FileNotFoundError):
        return EvalibError(f"{path} disappeared while it was read")
    if isinstance(exc, IsADirectoryError):
        return EvalibError(f"{path} is a folder, not a MedMNIST .npz file")
    return EvalibError(f"cannot read {path}: {exc.strerror or exc}")


def download(
    flag: str,
    root: str | os.PathLike | None = None,
    timeout: float = 60.0,
    retries: int = 3,
    url: str | None = None,
    progress: bool = True,
) -> Path:
    """Fetch the official ``<flag>.npz`` into the data root, verify its MD5, return its path.

    Resumable and retrying: bytes arrive in ``<flag>.npz.part``; a dropped connection is
    retried ``retries`` times (waiting 0.5, 1, 2 … s), each retry asking the server only for
    the missing bytes (HTTP Range; a server that ignores it sends the file again), and an
    interrupted command resumes from the same ``.part`` file. The file appears under its
    final name only after the MD5 matched; a mismatch deletes the ``.part`` file. A lock
    on the data root keeps two processes from writing the same file. ``url`` overrides the official record
    (a mirror, or a ``file://`` URL).
    """
    info = dataset_info(flag)
    folder = data_root(root)
    target = folder / f"{info.flag}.npz"
    source = url or info.url
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(folder))
    except OSError as exc:
        raise EvalibError(
            f"{info.flag}.npz is not in {folder} and cannot be downloaded there "
            f"({exc.strerror or exc}); choose a writable data root",
            cli=f"{info.flag}.npz is not in {folder} and cannot be downloaded there "
            f"({exc.strerror or exc}); choose a writable --data-root",
        ) from exc
    part = folder / f"{info.flag}.npz.part"
    with _locked(folder):
        if target.is_file() and md5sum(target) == info.md5:
            return target  # another process finished it while we waited
        for attempt in range(retries + 1):
            try:
                _fetch(source, part, timeout, f"{info.flag}.npz", progress)
                break
            except (urllib.error.URLError, http.client.HTTPException, TimeoutError, OSError) as exc:
                if attempt == retries or _permanent(exc):
                    reason = getattr(exc, "reason", None) or exc
                    kept = part.stat().st_size if part.is_file() else 0
                    resume = f"; {kept} bytes kept in {part.name} for the next try" if kept else ""
                    raise EvalibError(
                        f"{info.flag}.npz: download from {source} failed after "
                        f"{attempt + 1} attempt(s) ({reason}){resume}; retry, or put the file "
                        f"into {folder} by hand (or set {ENV_DATA_ROOT})"
                    ) from exc
                time.sleep(min(0.5 * 2.0**attempt, 30.0))
        got = md5sum(part)
        if got != info.md5:
            part.unlink(missing_ok=True)
            raise EvalibError(
                f"downloaded {info.flag}.npz has MD5 {got}, expected {info.md5}; "
                "the partial file was removed, try again"
            )
        os.replace(part, target)
    return target


def _fetch(url: str, part: Path, timeout: float, desc: str, progress: bool) -> None:
    """Append the bytes of ``url`` missing from ``part`` (all of them when the server
    ignores the Range request). Raises on a short read so that the caller retries."""
    have = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        resp = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code != 416 or not have:  # 416: nothing left past ``have``
            raise
        return
    with resp:
        if have and getattr(resp, "status", None) != 206:
            have = 0  # the whole file is coming again
        length = resp.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        total = None if expected is None else have + expected
        received = 0
        with (
            open(part, "ab" if have else "wb") as out,
            progress_bar(
                progress, total=total, initial=have, unit="B", unit_scale=True, desc=desc
            ) as bar,  # fmt: skip
        ):
            while block := resp.read(1 << 20):
                out.write(block)
                received += len(block)
                bar.update(len(block))
    if expected is not None and received < expected:
        raise http.client.IncompleteRead(b"", expected - received)


def _permanent(exc: BaseException) -> bool:
    """Errors that a retry cannot fix: HTTP 4xx other than 408/429, a missing local file."""
    if isinstance(exc, urllib.error.HTTPError):
        return 400 <= exc.code < 500 and exc.code not in (408, 429)
    reason = getattr(exc, "reason", None)
    return isinstance(exc, FileNotFoundError) or isinstance(reason, FileNotFoundError)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive advisory lock on the folder itself (POSIX ``flock``, no lock file left
    behind; no lock where ``fcntl`` is missing, e.g. Windows)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def locate(flag: str, root: str | os.PathLike | None = None, allow_download: bool = True) -> Path:
    """Path of ``<flag>.npz`` in the data root, downloading it when missing and allowed."""
    info = dataset_info(flag)
    folder = data_root(root)
    path = folder / f"{info.flag}.npz"
    try:
        if path.is_file():
            return path
        if path.exists():
            raise EvalibError(f"{path} is not a file; move it away or choose another data root")
        if folder.exists() and not folder.is_dir():
            raise EvalibError(f"data root {folder} is a file, not a folder")
    except PermissionError as exc:
        raise EvalibError(
            f"cannot look into data root {folder}: permission denied; "
            "give your user access to it or choose another data root"
        ) from exc
    if not allow_download:
        raise EvalibError(
            f"{info.flag}.npz not found in {path.parent}; download it from {info.url} "
            f"into that folder or set {ENV_DATA_ROOT}"
        )
    return download(info.flag, root)


def load(
    flag: str,
    root: str | os.PathLike | None = None,
    allow_download: bool = True,
    check_md5: bool = True,
    size: int = 28,
) -> MedMNIST:
    """Load all three splits of a MedMNIST dataset as uint8 tensors.

    Args:
        flag: dataset name, e.g. ``"organamnist"`` (see :data:`DATASETS`).
        root: data root (default: $EVALIB_DATA_ROOT or ~/.medmnist).
        allow_download: fetch the official file when it is missing.
        check_md5: compare the file with the official MD5 (turn off for hand-made files).
        size: expected image side in pixels.
    """
    info = dataset_info(flag)
    path = locate(info.flag, root, allow_download)
    if check_md5 and (got := md5sum(path)) != info.md5:
        msg = (
            f"{path} is not the official {info.flag}.npz (MD5 {got}, official {info.md5}): "
            "if it was downloaded, it is damaged, so delete it and it is downloaded again; "
            "if you made it, "
        )
        raise EvalibError(msg + "pass check_md5=False", cli=msg + "add --skip-md5")
    arrays = _read_npz(path, info)
    splits = {s: _to_split(info, path, s, arrays, size) for s in SPLITS}
    return MedMNIST(info=info, path=path, **splits)


def _read_npz(path: Path, info: DatasetInfo | None = None) -> dict[str, np.ndarray]:
    """The six arrays of a MedMNIST file. Only a file that is both unreadable and not the
    official one (its MD5 differs) is called damaged; other failures say what they are."""
    keys = [f"{s}_{kind}" for s in SPLITS for kind in ("images", "labels")]
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in keys if k not in z.files]
            if missing:
                raise EvalibError(
                    f"{path} is not a MedMNIST file: it lacks the arrays {', '.join(missing)}"
                )
            arrays = {}
            for k in keys:
                try:
                    arrays[k] = z[k]
                except ValueError as exc:
                    if not refuses_pickle(exc):
                        raise
                    raise EvalibError(
                        f"{path}: the array {k} holds Python objects (a pickle), which evalib "
                        "refuses to unpickle (it could run code); save it as a numeric array"
                    ) from None
            return arrays
    except EvalibError:
        raise
    except (zipfile.BadZipFile, EOFError, ValueError, KeyError) as exc:
        what = f"not a valid .npz archive: {type(exc).__name__}"
        if info is not None and md5sum(path) != info.md5:
            raise EvalibError(
                f"{path} is damaged or truncated ({what}) and is not the official "
                f"{info.flag}.npz (its MD5 differs); delete it and it is downloaded again"
            ) from exc
        raise EvalibError(f"cannot read {path} as a MedMNIST .npz file ({what})") from exc
    except MemoryError as exc:
        raise EvalibError(f"not enough memory to load {path}") from exc
    except OSError as exc:
        raise _read_error(path, exc) from exc


def _to_split(info: DatasetInfo, path: Path, split: str, arrays: dict, size: int) -> Split:
    images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
    where = f"{path.name}:{split}"
    if images.dtype != np.uint8:
        raise EvalibError(f"{where} images must be uint8, got {images.dtype}")
    if len(images) == 0 or len(labels) == 0:
        raise EvalibError(f"{where} is empty; every split needs at least one image")
    if info.n_channels == 1 and images.ndim == 3:
        images = images[:, None]
    elif info.n_channels == 3 and images.ndim == 4 and images.shape[-1] == 3:
        images = images.transpose(0, 3, 1, 2)
    else:
        want = "[N, H, W]" if info.n_channels == 1 else "[N, H, W, 3]"
        raise EvalibError(f"{where} images must be {want}, got shape {images.shape}")
    if images.shape[2:] != (size, size):
        raise EvalibError(f"{where} images must be {size}×{size}, got {images.shape[2:]}")
    if labels.ndim == 2 and labels.shape[1] != 1:
        raise EvalibError(f"{where} has {labels.shape[1]} labels per image; need one")
    labels = labels.reshape(-1)
    if not np.issubdtype(labels.dtype, np.integer):
        raise EvalibError(f"{where} labels must be integers, got {labels.dtype}")
    if len(labels) != len(images):
        raise EvalibError(f"{where} has {len(images)} images but {len(labels)} labels")
    if len(labels) and (labels.min() < 0 or labels.max() >= info.n_classes):
        raise EvalibError(
            f"{where} labels span [{labels.min()}, {labels.max()}], "
            f"outside [0, {info.n_classes - 1}] for {info.n_classes} classes"
        )
    import torch

    return Split(
        images=torch.from_numpy(np.ascontiguousarray(images)),
        labels=torch.from_numpy(labels.astype(np.int64)),
    )


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 [B, C, H, W] → float32 in [−1, 1] (the official normalisation, mean 0.5, std 0.5)."""
    return images.float().mul_(2.0 / 255.0).sub_(1.0)


def stratified_subset(labels: torch.Tensor | np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of ``n`` samples drawn without replacement, class proportions kept.

    Used by the smoke and cpu profiles to train on part of a split; [n] int64.
    """
    labels = np.asarray(labels)
    if n >= len(labels):
        return np.arange(len(labels), dtype=np.int64)
    if n < 1:
        raise EvalibError(f"subset size must be at least 1, got {n}")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts * n / counts.sum()
    quota = np.floor(exact).astype(int)
    order = np.argsort(-(exact - quota), kind="stable")
    quota[order[: n - quota.sum()]] += 1
    picks = [
        rng.choice(np.flatnonzero(labels == c), size=q, replace=False)
        for c, q in zip(classes, quota, strict=True)
    ]
    return np.sort(np.concatenate(picks)).astype(np.int64)


def present(root: str | os.PathLike | None = None) -> dict[str, Path | None]:
    """Which known datasets have a file in the data root (flag → path or None)."""
    folder = data_root(root)

    def found(flag: str) -> Path | None:
        path = folder / f"{flag}.npz"
        try:
            return path if path.is_file() else None
        except OSError:  # an unreadable data root: nothing can be used from it
            return None

    return {f: found(f) for f in DATASETS}
