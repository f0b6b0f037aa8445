"""The eVAE Parzen protocol (§3.7) wired to the data splits and the caches, on tiny fake data."""
import dataclasses
import types

import pytest
import torch

import memvae_lib.data as data_module
import memvae_lib.estimators as estimators
from memvae_lib.papers.evae import parzen_protocol as pp
from memvae_lib.data import Dataset
from memvae_lib.papers import evae
from toy_models import LinearGaussianModel

D = 6


def _fake_mnist() -> Dataset:
    """60,010 'train' rows whose first pixel is the row index / 1e5, so a row's origin is readable."""
    train = torch.rand(60_010, D, generator=torch.Generator().manual_seed(0))
    train[:, 0] = torch.arange(60_010) / 1e5
    test = torch.rand(300, D, generator=torch.Generator().manual_seed(1))
    test[:, 0] = 1.0 + torch.arange(300) / 1e5
    return Dataset("mnist", train, test, None, None, None, None, (2, 3), "grey", None, "fake")


def _fake_faces() -> Dataset:
    g = torch.Generator().manual_seed(2)
    return Dataset("olivetti", torch.rand(30, D, generator=g), torch.rand(8, D, generator=g),
                   torch.rand(5, D, generator=g), None, None, None, (2, 3), "continuous", None, "fake")


@pytest.fixture
def fake(monkeypatch, tmp_path):
    sets = {"mnist": _fake_mnist(), "olivetti": _fake_faces()}
    monkeypatch.setattr(data_module, "load_dataset", lambda name, *a, **k: sets[name])
    monkeypatch.setenv("MEMVAE_RUNS_DIR", str(tmp_path / "runs"))
    return sets


PROFILE = dataclasses.replace(evae.budget("smoke"), parzen_samples=40, parzen_valid=7, test_subset=11)


def _run(tmp_path, name="run", scales=None):
    model = LinearGaussianModel(data_dim=D, latent_dim=3, scales=scales, noise_std=0.3).eval()
    return types.SimpleNamespace(model=model, path=tmp_path / name)


def test_mnist_validation_is_train_50000_onwards_and_test_is_a_prefix(fake):
    d = pp.parzen_data("mnist", PROFILE)
    rows = (d["valid"][:, 0] * 1e5).round().long()
    assert rows.tolist() == list(range(50_000, 50_007))
    assert torch.equal(d["test"], fake["mnist"].test_x[:11])
    assert d["protocol"]["parzen_n_valid"] == 7 and d["protocol"]["parzen_label"] == pp.LEGACY_LABEL


def test_faces_use_their_valid_split_capped_by_its_size(fake):
    d = pp.parzen_data("olivetti", PROFILE)
    assert torch.equal(d["valid"], fake["olivetti"].valid_x)  # 5 < parzen_valid = 7
    assert d["test"].shape[0] == 8                           # 8 < test_subset = 11


def test_model_samples_are_decoder_means_from_a_fixed_seed(tmp_path):
    run = _run(tmp_path)
    a, b = pp.model_samples(run, 2500), pp.model_samples(run, 2500)
    assert a.shape == (2500, D) and a.dtype == torch.float32 and torch.equal(a, b)
    assert not torch.equal(a, pp.model_samples(run, 2500, seed=pp.SAMPLE_SEED + 1))
    z = torch.randn(1000, 3, generator=torch.Generator().manual_seed(pp.SAMPLE_SEED), dtype=torch.float64)
    torch.testing.assert_close(a[:1000], run.model.decode_mean(z).float())  # the first chunk of 1000


# toy models on random data: their validation optimum is the widest sigma, which the estimator warns about
@pytest.mark.filterwarnings("ignore::memvae_lib.estimators.parzen.BandwidthAtEdgeWarning")
def test_report_equals_the_estimator_and_is_cached_per_key(fake, tmp_path):
    run = _run(tmp_path)
    got = pp.parzen_report(run, "mnist", PROFILE)
    d = pp.parzen_data("mnist", PROFILE)
    want = estimators.parzen_evaluate(pp.model_samples(run, 40), d["valid"], d["test"])
    assert got["mean"] == pytest.approx(want.mean) and got["sigma"] == want.sigma
    assert got["sem"] == pytest.approx(want.sem) and len(got["sweep"]) == 10
    assert (got["n_valid"], got["n_test"], got["label"]) == (7, 11, pp.LEGACY_LABEL)
    # cached: a second call must not sample again
    run.model.sample = None
    assert pp.parzen_report(run, "mnist", PROFILE) == got
    # another budget is another key, computed afresh
    run2 = _run(tmp_path)
    run2.path = run.path
    other = pp.parzen_report(run2, "mnist", dataclasses.replace(PROFILE, parzen_samples=41))
    assert other["n_centres"] == 41
    assert len(list((run.path / "metrics").glob("parzen-*.json"))) == 2


def test_baselines_take_centres_from_the_first_50000_and_cache_on_disk(fake, tmp_path, monkeypatch):
    seen = []
    real_evaluate = estimators.parzen_evaluate

    def spy(centres, *args, **kwargs):
        seen.append(torch.as_tensor(centres).clone())
        return real_evaluate(centres, *args, **kwargs)

    monkeypatch.setattr(estimators, "parzen_evaluate", spy)
    out = pp.parzen_baselines("mnist", PROFILE)
    assert set(out) == {"real", "kmeans"} and out["real"]["label"] == pp.LEGACY_LABEL
    real, km = seen
    assert real.shape == (40, D) and km.shape == (40, D)
    assert (real[:, 0] * 1e5).round().max() < 50_000           # never a validation image
    assert len(set((real[:, 0] * 1e5).round().long().tolist())) == 40  # no repeats
    assert km[:, 0].max() < 200 * pp.KMEANS_FIT_FACTOR / 1e5 + 1e-6  # k-means fitted on the first 5 N = 200
    files = list((tmp_path / "runs" / "baselines" / "mnist" / "metrics").glob("*.json"))
    assert len(files) == 1
    assert pp.parzen_baselines("mnist", PROFILE) == out and len(seen) == 2  # second call: from disk


def test_small_training_sets_cap_the_centre_counts(fake):
    out = pp.parzen_baselines("olivetti", PROFILE)
    assert out["real"]["n_centres"] == 30                      # all 30 training images (< 40)
    assert out["kmeans"]["n_centres"] == 30 // pp.KMEANS_FIT_FACTOR


# toy models on random data: their validation optimum is the widest sigma, which the estimator warns about
@pytest.mark.filterwarnings("ignore::memvae_lib.estimators.parzen.BandwidthAtEdgeWarning")
def test_faces_sweep_a_grid_that_extends_the_protocol_grid_downwards_and_mnist_keeps_its_own(fake, tmp_path):
    assert pp.sigma_grid("mnist") == estimators.DEFAULT_SIGMAS and pp.sigma_grid("olivetti") == pp.FACES_SIGMAS
    assert pp.FACES_SIGMAS[-10:] == estimators.DEFAULT_SIGMAS                 # the ten protocol values, exactly
    ratios = torch.tensor(pp.FACES_SIGMAS[1:], dtype=torch.float64) / torch.tensor(pp.FACES_SIGMAS[:-1], dtype=torch.float64)
    torch.testing.assert_close(ratios, torch.full_like(ratios, 10 ** (1 / 9)), rtol=1e-12, atol=0)
    assert pp.FACES_SIGMAS[0] < 0.03
    run = _run(tmp_path)
    faces, mnist = pp.parzen_report(run, "olivetti", PROFILE), pp.parzen_report(run, "mnist", PROFILE)
    assert [s for s, _ in faces["sweep"]] == list(pp.FACES_SIGMAS) and len(mnist["sweep"]) == 10
    keys = sorted(f.stem for f in (run.path / "metrics").glob("parzen-*.json"))
    # the MNIST key is the one cached runs already have; the faces key names its grid (a new cache entry)
    assert keys == ["parzen-mnist-n40-valid7-test11-seed2017", "parzen-olivetti-n40-valid5-test8-seed2017-sigmas15from0.0278"]
    assert pp.parzen_data("olivetti", PROFILE)["protocol"]["parzen_sigmas"].startswith("15 values log-spaced from 0.0278")
    assert pp.parzen_data("mnist", PROFILE)["protocol"]["parzen_sigmas"] == "logspace(-1, 0, 10), chosen on validation"
    assert len(pp.parzen_baselines("olivetti", PROFILE)["real"]["sweep"]) == 15


def test_rank_puts_the_highest_first_and_shares_ties():
    assert pp.parzen_rank({"VAE": 1.0, "mVAE": 3.0, "eVAE": 3.0}) == {"VAE": 3, "mVAE": 1, "eVAE": 1}


def test_validation_parzen_is_the_best_of_the_sweep_not_the_test_mean():
    report = {"mean": 100.0, "sweep": [[0.1, 5.0], [0.2, 7.0], [0.3, 6.0]]}
    assert pp.validation_parzen(report) == 7.0  # model selection uses it (grid.best_over_k), P4
