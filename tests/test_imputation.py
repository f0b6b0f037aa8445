import pytest
import torch

from memvae_lib.estimators import corruption_mask, imputation_chain
from toy_models import LinearGaussianModel, MemorisingImputer


def test_rectangle_mask():
    m = corruption_mask(3, (28, 28), "rectangle", 12)
    assert m.shape == (3, 784) and m.dtype == torch.bool
    assert ((~m).sum(1) == 144).all()
    img = m[0].view(28, 28)
    assert not img[8:20, 8:20].any() and img[:8].all() and img[20:].all() and img[:, :8].all() and img[:, 20:].all()


def test_half_mask():
    m = corruption_mask(2, (28, 28), "half", 14)
    assert ((~m).sum(1) == 392).all()
    idx = torch.arange(784)
    assert torch.equal(~m[0], idx % 28 < 14)  # index r * 28 + c missing iff c < 14


def test_random_mask_fraction_and_seed():
    g = lambda: torch.Generator().manual_seed(7)
    m = corruption_mask(200, (28, 28), "random", 0.6, generator=g())
    assert abs((~m).float().mean().item() - 0.6) < 0.01
    assert torch.equal(m, corruption_mask(200, (28, 28), "random", 0.6, generator=g()))
    assert corruption_mask(2, (28, 28), "random", 0.0).all()


@pytest.mark.parametrize("kind,param", [("circle", 3), ("rectangle", 29), ("rectangle", 2.5), ("rectangle", 0),
                                        ("random", 1.5), ("random", -0.1), ("half", 0), ("half", 29)])
def test_bad_kind_or_param(kind, param):
    with pytest.raises(ValueError):
        corruption_mask(1, (28, 28), kind, param)


def test_perfect_imputer_reaches_zero_after_one_iteration():
    g = torch.Generator().manual_seed(0)
    x_true = torch.rand(50, 784, generator=g)
    mask = corruption_mask(50, (28, 28), "rectangle", 12)
    model = MemorisingImputer(x_true, mask).eval()
    res = imputation_chain(model, x_true, mask, iterations=3, batch_size=16, generator=g,
                           snapshot_iterations=[0, 1, 3], n_snapshot=5)
    assert len(res.mse_per_iteration) == 3 and res.mse_per_iteration == [0.0, 0.0, 0.0]
    assert torch.equal(res.final, x_true)
    assert sorted(res.snapshots) == [0, 1, 3] and res.snapshots[1].shape == (5, 784)
    noisy = res.snapshots[0]
    assert torch.equal(noisy[mask[:5]], x_true[:5][mask[:5]])  # observed kept in the initial state
    assert not torch.equal(noisy, x_true[:5])  # missing pixels start as noise
    assert ((noisy >= 0) & (noisy < 1)).all()
    # batch norm in batch mode while encoding, in batches of 16; back in its eval mode afterwards
    assert all(model.bn_training_seen) and model.batch_sizes_seen == [16, 16, 16, 2] * 3
    assert not model.bn.training


def test_observed_pixels_never_change_and_mse_formula():
    model = LinearGaussianModel(data_dim=16, latent_dim=3)
    x_true = model.sample_data(30, torch.Generator().manual_seed(1))
    mask = corruption_mask(30, (4, 4), "random", 0.5, generator=torch.Generator().manual_seed(2))
    res = imputation_chain(model, x_true, mask, iterations=4, batch_size=8, seed=0,
                           snapshot_iterations=range(5), n_snapshot=30)
    for t, snap in res.snapshots.items():
        assert torch.equal(snap[mask], x_true[mask]), t
    assert torch.equal(res.final[mask], x_true[mask])
    mse4 = ((x_true - res.final)[~mask] ** 2).sum() / (~mask).sum()
    assert res.mse_per_iteration[-1] == pytest.approx(float(mse4), rel=1e-12)
    mse2 = ((x_true - res.snapshots[2])[~mask] ** 2).sum() / (~mask).sum()
    assert res.mse_per_iteration[1] == pytest.approx(float(mse2), rel=1e-12)
    assert min(res.mse_per_iteration) > 0


def test_deterministic_with_seed_and_global_rng_untouched():
    model = LinearGaussianModel(data_dim=16, latent_dim=3)
    x_true = model.sample_data(20, torch.Generator().manual_seed(1))
    mask = corruption_mask(20, (4, 4), "half", 2)
    state = torch.random.get_rng_state()
    a = imputation_chain(model, x_true, mask, iterations=3, seed=5)
    b = imputation_chain(model, x_true, mask, iterations=3, seed=5)
    c = imputation_chain(model, x_true, mask, iterations=3, seed=6)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a.final, b.final) and a.mse_per_iteration == b.mse_per_iteration
    assert not torch.equal(a.final, c.final)


def test_mask_shape_mismatch():
    model = LinearGaussianModel(data_dim=16, latent_dim=3)
    with pytest.raises(ValueError, match="shape"):
        imputation_chain(model, torch.zeros(4, 16), torch.ones(4, 15, dtype=torch.bool), iterations=1)
