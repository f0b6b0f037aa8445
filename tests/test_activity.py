import pytest
import torch

from memvae_lib.estimators import active_units, activity_order, per_unit_kl
from toy_models import LinearGaussianModel

# scales 0 -> unused unit; for x ~ p(x): A_u = 1 - v_u, v_u = s^2 / (s^2 + scale^2), s = 0.5
SCALES = [2.0, 0.0, 1.0, 0.0, 0.5, 0.0617]  # A_u = 0.941, 0, 0.8, 0, 0.5, ~0.015


@pytest.fixture(scope="module")
def model_and_data():
    model = LinearGaussianModel(data_dim=8, latent_dim=6, scales=SCALES, noise_std=0.5)
    return model, model.sample_data(20000, torch.Generator().manual_seed(0))


def test_count_and_variances_match_closed_form(model_and_data):
    model, x = model_and_data
    au = active_units(model, x, threshold=0.01)
    expected = 1.0 - model.unit_posterior_variance()
    assert au.count == 4 and au.n_examples == 20000 and au.threshold == 0.01
    assert au.active.tolist() == [True, False, True, False, True, True]
    assert au.variances.dtype == torch.float64
    assert (au.variances[[1, 3]] == 0).all()
    torch.testing.assert_close(au.variances, expected, rtol=0.05, atol=1e-12)


def test_threshold_respected(model_and_data):
    model, x = model_and_data
    assert active_units(model, x, threshold=0.02).count == 3  # the ~0.015 unit is off at the eVAE threshold
    v = active_units(model, x).variances
    at = float(v[4])
    assert active_units(model, x, threshold=at).count == 3  # A_u >= threshold counts as active
    assert active_units(model, x, threshold=at * (1 + 1e-9)).count == 2
    assert active_units(model, x, threshold=2.0).count == 0


def test_batch_size_does_not_change_variances(model_and_data):
    model, x = model_and_data
    a = active_units(model, x[:500], batch_size=7).variances
    b = active_units(model, x[:500], batch_size=1000).variances
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-15)


def test_per_unit_kl_matches_analytic_mean(model_and_data):
    model, x = model_and_data
    kl = per_unit_kl(model, x)
    assert kl.shape == (6,) and kl.dtype == torch.float64
    assert (kl >= 0).all() and (kl[[1, 3]] == 0).all()
    expected = -0.5 * torch.log(model.unit_posterior_variance())  # E_x KL_u for the exact posterior
    torch.testing.assert_close(kl, expected, rtol=0.03, atol=1e-12)


def test_per_unit_kl_nonnegative_with_perturbed_posterior():
    model = LinearGaussianModel(posterior_scale=0.7, posterior_shift=-0.3)
    x = model.sample_data(300, torch.Generator().manual_seed(1))
    kl = per_unit_kl(model, x)
    assert (kl > 0).all()
    torch.testing.assert_close(kl, model.kl_per_unit(x).mean(0).double())


def test_activity_order():
    order = activity_order(torch.tensor([0.1, 0.5, 0.0, 0.5, 0.3]))
    assert order.tolist() == [1, 3, 4, 0, 2]


def test_mode_restored(model_and_data):
    model, x = model_and_data
    model.train()
    active_units(model, x[:10])
    assert model.training
    with pytest.raises(ValueError, match="2-D"):
        active_units(model, x[0])
