"""memvae_lib.data: splits and checksums from shared/data/*/SOURCE.md, docs/protocols.md §1.1-1.2.

Reads the real files through MEMVAE_DATA_DIR (default: the project's ../shared/data). Never touches
the network: every download goes through a monkeypatched urllib.request.urlopen.
"""
import gzip
import io
import os
import pathlib
import urllib.error
import urllib.request

import numpy as np
import pytest
import scipy.io
import torch

from memvae_lib import data

SHARED = pathlib.Path(os.environ.get("MEMVAE_DATA_DIR")
                      or pathlib.Path(__file__).resolve().parents[2] / "shared" / "data")
needs_data = pytest.mark.skipif(not (SHARED / "mnist").is_dir(), reason=f"no data at {SHARED}")


@pytest.fixture(autouse=True)
def shared_data_dir(monkeypatch):
    monkeypatch.setenv("MEMVAE_DATA_DIR", str(SHARED))


class FakeResponse(io.BytesIO):
    def __init__(self, content: bytes):
        super().__init__(content)
        self.headers = {"Content-Length": str(len(content))}


def serve(monkeypatch, content_by_url):
    """urlopen that serves bytes for known URLs and fails like an offline machine otherwise."""
    asked = []

    def urlopen(url, timeout=None):
        asked.append(url)
        if url not in content_by_url:
            raise urllib.error.URLError("no network in tests")
        return FakeResponse(content_by_url[url])

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return asked


def frey_content() -> bytes:
    return gzip.decompress((SHARED / "frey_faces" / "frey_rawface.mat.gz").read_bytes())


@needs_data
@pytest.mark.parametrize("name, n, shape, kind", [
    ("mnist", (60000, 10000, None), (28, 28), "grey"),
    ("ocr_letters", (32152, 10000, 10000), (16, 8), "binary"),
    ("frey", (1865, 100, None), (28, 20), "continuous"),
    ("olivetti", (300, 50, 50), (48, 48), "continuous"),
])
def test_shapes_dtypes_and_range(name, n, shape, kind):
    ds = data.load_dataset(name)
    assert (ds.name, ds.image_shape, ds.kind) == (name, shape, kind)
    for split, rows in zip(("train", "test", "valid"), n):
        x, y = getattr(ds, f"{split}_x"), getattr(ds, f"{split}_y")
        if rows is None:
            assert x is None and y is None
            continue
        assert x.shape == (rows, shape[0] * shape[1]) and x.dtype == torch.float32
        assert 0 <= x.min() and x.max() <= 1
        if ds.label_names is not None:
            assert y.shape == (rows,) and y.dtype == torch.int64
            assert 0 <= y.min() and y.max() < len(ds.label_names)
    if kind == "binary":
        assert set(ds.train_x.unique().tolist()) == {0.0, 1.0}
    assert data.load_dataset(name) is ds  # cached per process


def test_data_dir_is_absolute_from_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MEMVAE_DATA_DIR", "rel/data")
    assert data.data_dir() == tmp_path / "rel" / "data" and data.data_dir().is_absolute()
    monkeypatch.delenv("MEMVAE_DATA_DIR")
    assert data.data_dir().is_absolute()


@needs_data
def test_mnist_label_counts_and_grey_levels():
    ds = data.load_dataset("mnist")
    assert ds.train_y.bincount().tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert ds.test_y.bincount().tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert ds.train_x.mean().item() * 255 == pytest.approx(33.318, abs=1e-3)
    assert ds.train_x.max() == 1.0  # /255, not /256
    assert ds.label_names == [str(d) for d in range(10)]


def _sorted_rows(a: np.ndarray) -> np.ndarray:
    return a[np.lexsort(a.T[::-1])]


@needs_data
def test_ocr_splits_are_letter_data_as_a_multiset_with_its_labels():
    ds = data.load_dataset("ocr_letters")
    lines = gzip.decompress((SHARED / "ocr_letters" / "letter.data.gz").read_bytes()).decode().splitlines()
    fields = [line.rstrip("\t").split("\t") for line in lines]
    letter = np.array([[ord(f[1]) - ord("a")] + [int(p) for p in f[6:]] for f in fields], np.int64)
    assert letter.shape == (52152, 129)
    ours = np.concatenate([torch.cat([y[:, None], x.long()], 1).numpy() for x, y in
                           ((ds.train_x, ds.train_y), (ds.valid_x, ds.valid_y), (ds.test_x, ds.test_y))])
    np.testing.assert_array_equal(_sorted_rows(ours), _sorted_rows(letter))  # pixels *and* labels
    assert ds.valid_x.mean().item() == pytest.approx(0.2206, abs=1e-4)
    assert ds.test_x.mean().item() == pytest.approx(0.2187, abs=1e-4)


@needs_data
def test_frey_split_is_seeded_and_reproducible():
    ds = data.load_dataset("frey")
    faces = scipy.io.loadmat(io.BytesIO(frey_content()))["ff"].T / 256.0
    perm = np.random.RandomState(1234).permutation(1965)  # MEM_DGM: shuffle, first 100 = test
    np.testing.assert_array_equal(ds.test_x.numpy(), faces[perm[:100]].astype(np.float32))
    np.testing.assert_array_equal(ds.train_x.numpy(), faces[perm[100:]].astype(np.float32))
    data._load_cached.cache_clear()
    again = data.load_dataset("frey")
    assert again is not ds and torch.equal(again.test_x, ds.test_x)


@needs_data
def test_olivetti_split_covers_all_faces_once_and_is_labelled_a_stand_in():
    ds = data.load_dataset("olivetti")
    labels = torch.cat([ds.train_y, ds.valid_y, ds.test_y])
    assert labels.bincount().tolist() == [10] * 40
    everything = torch.cat([ds.train_x, ds.valid_x, ds.test_x])
    assert len(torch.unique(everything, dim=0)) == 400
    assert "TFD" in ds.note and "1234" in ds.note


@needs_data
def test_subset_takes_first_rows():
    ds = data.load_dataset("olivetti")
    small = ds.subset(train=7, valid=3)
    assert torch.equal(small.train_x, ds.train_x[:7]) and torch.equal(small.valid_y, ds.valid_y[:3])
    assert small.test_x is ds.test_x
    with pytest.raises(ValueError, match="301"):
        ds.subset(train=301)


@needs_data
def test_corrupt_file_is_rejected_before_parsing(tmp_path, monkeypatch):
    asked = serve(monkeypatch, {})
    broken = bytearray(frey_content())
    broken[5000:5010] = bytes(b ^ 0xFF for b in broken[5000:5010])
    path = tmp_path / "frey_faces" / "frey_rawface.mat.gz"
    path.parent.mkdir()
    path.write_bytes(gzip.compress(bytes(broken)))
    with pytest.raises(data.DataError) as err:
        data.load_dataset("frey", data_dir=tmp_path)
    message = str(err.value)
    assert str(path) in message and "265a83a23adb" in message and "Delete it" in message
    assert asked == []  # a present file is never re-downloaded silently


def test_missing_file_with_failed_download_names_the_expected_path(tmp_path, monkeypatch):
    asked = serve(monkeypatch, {})
    with pytest.raises(data.DataError) as err:
        data.load_dataset("frey", data_dir=tmp_path)
    message = str(err.value)
    assert str(tmp_path / "frey_faces") in message and "MEMVAE_DATA_DIR" in message
    assert asked == list(data.URLS["frey_rawface.mat"]) and asked[0] in message
    assert list((tmp_path / "frey_faces").iterdir()) == []  # no partial file left behind


@needs_data
def test_download_verifies_then_lands_atomically(tmp_path, monkeypatch):
    url = data.URLS["frey_rawface.mat"][0]
    serve(monkeypatch, {url: frey_content()[:-1] + b"\0"})  # one wrong byte
    with pytest.raises(data.DataError, match="265a83a23adb"):
        data.load_dataset("frey", data_dir=tmp_path)
    assert list((tmp_path / "frey_faces").iterdir()) == []

    asked = serve(monkeypatch, {url: frey_content()})
    ds = data.load_dataset("frey", data_dir=tmp_path)
    assert asked == [url]
    assert [p.name for p in (tmp_path / "frey_faces").iterdir()] == ["frey_rawface.mat"]
    assert torch.equal(ds.train_x, data.load_dataset("frey").train_x)


def test_binarize_is_bernoulli_of_the_grey_level():
    grey = torch.rand(2000, 50)
    bits = data.binarize(grey, generator=torch.Generator().manual_seed(0))
    assert set(bits.unique().tolist()) <= {0.0, 1.0} and bits.dtype == grey.dtype
    assert bits.mean().item() == pytest.approx(grey.mean().item(), abs=0.005)
    assert torch.all(data.binarize(torch.zeros(3, 4)) == 0)
    assert torch.all(data.binarize(torch.ones(3, 4)) == 1)
    assert not torch.equal(bits, data.binarize(grey, generator=torch.Generator().manual_seed(1)))


def test_fixed_binarization_is_deterministic_and_seed_dependent():
    grey = torch.rand(500, 40, generator=torch.Generator().manual_seed(3))
    a, b = data.fixed_binarization(grey), data.fixed_binarization(grey, seed=1234)
    c = data.fixed_binarization(grey, seed=1)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    assert a.mean().item() == pytest.approx(grey.mean().item(), abs=0.01)
    assert data.tensor_sha256(a) == data.tensor_sha256(b.clone()) != data.tensor_sha256(c)


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="mnist, ocr_letters, frey, olivetti"):
        data.load_dataset("tfd")
