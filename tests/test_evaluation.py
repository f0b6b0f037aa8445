"""The evaluation protocol: the MNIST test set binarised once, cached metrics, paired differences."""
from types import SimpleNamespace

import pytest
import torch

from memvae_lib import evaluation as ev
from memvae_lib.evaluation import TEST_BINARISATION_SEED, TestSet, cached_metric, paired_difference
from toy_models import LinearGaussianModel


def test_mnist_test_set_is_a_prefix_of_one_fixed_binarisation():
    small, large = ev.test_set("mnist", 50), ev.test_set("mnist", 200)
    assert torch.equal(small.x, large.x[:50])
    assert set(small.x.unique().tolist()) <= {0.0, 1.0}
    assert small.protocol["test_binarisation_seed"] == TEST_BINARISATION_SEED
    assert small.protocol["test_set_sha256"] != large.protocol["test_set_sha256"]


def test_cached_metric_computes_once_and_survives_a_torn_file(tmp_path):
    calls = []
    compute = lambda: calls.append(1) or {"value": 1.5}  # noqa: E731
    assert cached_metric(tmp_path, "m", compute) == {"value": 1.5}
    assert cached_metric(tmp_path, "m", compute) == {"value": 1.5} and len(calls) == 1
    (tmp_path / "metrics" / "m.json").write_text('{"val')  # a write cut off by a kill
    with pytest.warns(UserWarning, match="ignoring cached metric"):
        assert cached_metric(tmp_path, "m", compute) == {"value": 1.5} and len(calls) == 2


@pytest.mark.parametrize("damage", ["flipped_digit", "no_digest"])
def test_a_damaged_cached_metric_is_recomputed_never_used(tmp_path, damage):
    calls = []
    compute = lambda: calls.append(1) or {"value": 1.5}  # noqa: E731
    cached_metric(tmp_path, "m", compute)
    path = tmp_path / "metrics" / "m.json"
    if damage == "flipped_digit":  # still valid JSON, a wrong number: only the digest can tell
        path.write_text(path.read_text().replace("1.5", "7.5"))
    else:  # a metric cached before digests were recorded
        (tmp_path / "metrics" / "m.json.sha256").unlink()
        path.write_text('{"value": 7.5}')
    with pytest.warns(UserWarning, match=r"ignoring cached metric .*m\.json"):
        assert cached_metric(tmp_path, "m", compute) == {"value": 1.5}
    assert len(calls) == 2
    assert cached_metric(tmp_path, "m", compute) == {"value": 1.5} and len(calls) == 2  # stored anew


@pytest.mark.parametrize("error", [PermissionError(13, "Permission denied"), OSError(30, "Read-only file system")])
def test_a_metric_of_a_read_only_run_is_computed_without_the_cache(tmp_path, monkeypatch, error):
    import memvae_lib.evaluation as ev

    def refuse(*_):
        raise error

    monkeypatch.setattr(ev, "write_verified", refuse)  # as root, chmod would not stop the write
    assert cached_metric(tmp_path, "m", lambda: {"value": 2.0}) == {"value": 2.0}
    assert not (tmp_path / "metrics" / "m.json").exists()


def _run(tmp_path, name, **kw):
    model = LinearGaussianModel(data_dim=6, latent_dim=3, seed=0, **kw)
    path = tmp_path / name
    path.mkdir()
    return SimpleNamespace(model=model, path=path)


def test_paired_difference_is_exact_with_exact_posteriors_and_cached(tmp_path):
    exact = _run(tmp_path, "exact")
    x = exact.model.sample_data(40, torch.Generator().manual_seed(1))
    test = TestSet("toy", x, None, x, {"dataset": "toy"})
    truth = exact.model.exact_log_marginal(x)
    values = ev.per_example_log_likelihood(exact, test, k=3)
    assert torch.allclose(values, truth.to(values.dtype), atol=1e-5)
    assert ev.test_log_likelihood(exact, test, k=3)["mean"] == float(values.mean())
    # a worse posterior gives a lower bound on every image: the paired difference is positive, and
    # its SE (spread of per-image differences) is far below the unpaired one
    worse = _run(tmp_path, "worse", posterior_scale=1.5, posterior_shift=0.3)
    d = paired_difference(exact, worse, test, k=3)
    unpaired = (ev.test_log_likelihood(exact, test, 3)["sem"] ** 2 + ev.test_log_likelihood(worse, test, 3)["sem"] ** 2) ** 0.5
    assert d["mean"] > 0 and d["n"] == 40 and d["sem"] < unpaired
    # cached: deleting the model's ability to compute changes nothing
    worse.model.log_weights = None
    assert paired_difference(exact, worse, test, k=3) == d


def test_activity_set_is_the_first_training_images_binarised_once_with_seed_123():
    from memvae_lib.data import fixed_binarization, load_dataset

    x = ev.activity_set("mnist", 40)
    grey = load_dataset("mnist").train_x[:40]
    assert torch.equal(x, fixed_binarization(grey, seed=ev.ACTIVITY_BINARISATION_SEED))
    assert not torch.equal(x, fixed_binarization(grey, seed=TEST_BINARISATION_SEED))
    assert torch.equal(ev.activity_set("mnist", 10), x[:10])  # a prefix, whatever n


def test_activity_set_rejects_a_bad_size_and_caps_at_the_training_set():
    import pytest

    for bad in (0, -5, 2.5, True):
        with pytest.raises(ValueError, match=f"n={bad!r} activity images"):
            ev.activity_set("mnist", bad)
    assert ev.activity_set("olivetti", 500).shape[0] == 300  # Olivetti has 300 training faces


def test_generations_of_two_models_decode_the_same_prior_draws():
    a = LinearGaussianModel(data_dim=6, latent_dim=3, noise_std=0.3)
    b = LinearGaussianModel(data_dim=6, latent_dim=3, noise_std=0.3)  # other weights, same latent size
    z = torch.randn(1000, 3, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    for model in (a, b):
        images = ev.generations(model, 1200, seed=7)
        assert images.shape == (1200, 6) and images.dtype == torch.float32
        torch.testing.assert_close(images[:1000], model.decode_mean(z).float())
    assert not torch.equal(ev.generations(a, 10, seed=7), ev.generations(a, 10, seed=8))


def test_inputs_and_reconstructions_stack_the_inputs_over_their_posterior_mean_decodings():
    model = LinearGaussianModel(data_dim=6, latent_dim=3, noise_std=0.3)
    x = torch.randn(4, 6, dtype=torch.float64)
    panel = ev.inputs_and_reconstructions(model, x)
    assert panel.shape == (8, 6) and torch.equal(panel[:4], x)
    torch.testing.assert_close(panel[4:], model.decode_mean(model.posterior_mean(x)))
    assert not torch.allclose(panel[4:], x)  # the model is no identity: the bottom half is its own


def test_the_active_units_curve_counts_as_active_units_does_and_leaves_training_alone(tmp_path, monkeypatch):
    """The Figs. 1-3 VAEs record A_u after every epoch (TrainConfig.eval_metric "active_units"): the
    last record equals `active_units` of the trained model on the activity images, in eval mode (a
    dropout VAE here), and recording it moves no weight (same model as trained with no curve)."""
    import dataclasses

    from memvae_lib.estimators import active_units
    from memvae_lib.experiments import run_spec

    monkeypatch.setenv("MEMVAE_RUNS_DIR", str(tmp_path))
    spec = run_spec("evae/mnist/dropout-VAE-D50", "smoke")
    assert (spec.train.eval_every, spec.train.eval_metric) == (1, "active_units")
    spec = dataclasses.replace(spec, train_subset=200)
    run = ev.get_run(spec, device="cpu")
    assert [h["epoch"] for h in run.history] == list(range(1, spec.train.epochs + 1))
    reference = active_units(run.model, ev.activity_set("mnist", ev.CURVE_ACTIVITY_IMAGES), 0.02)
    last = run.history[-1]
    assert last["active_units_0.02"] == reference.count
    assert last["active_units_0.01"] == int((reference.variances >= 0.01).sum())
    assert last["activity"] == pytest.approx(reference.variances.tolist(), abs=1e-6)
    plain = dataclasses.replace(spec, train=dataclasses.replace(spec.train, eval_every=0, eval_metric="test_ll"))
    other = ev.get_run(plain, device="cpu").model.state_dict()
    assert other.keys() == run.model.state_dict().keys()
    assert all(torch.equal(value, other[key]) for key, value in run.model.state_dict().items())


def test_an_active_units_curve_of_a_batch_norm_model_is_refused():
    """In eval mode a batch-norm model reads statistics that training never updates (they are set by
    prepare_evaluation): its A_u during training would be wrong, so the curve is refused up front."""
    import dataclasses

    from memvae_lib.experiments import run_spec

    spec = run_spec("mem/mnist/MEM-VAE", "smoke")  # 500-500-100 with batch norm
    spec = dataclasses.replace(spec, train=dataclasses.replace(spec.train, eval_metric="active_units"))
    with pytest.raises(ValueError, match=r"active-units training curve of a batch-norm model .*eval_metric 'test_ll'"):
        ev.training_curve(spec)
