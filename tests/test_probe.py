import numpy as np
import pytest
import torch

from memvae_lib.estimators import features, linear_svm_probe


def separable(n_per_class, seed):
    # three classes on rays from the origin (no bias needed), well apart
    rng = np.random.default_rng(seed)
    directions = np.eye(5)[:3] * 4.0
    x = np.concatenate([d + 0.3 * rng.normal(size=(n_per_class, 5)) for d in directions])
    y = np.repeat(np.arange(3), n_per_class)
    return x, y


def test_separable_data_is_classified_perfectly():
    xtr, ytr = separable(100, 0)
    xte, yte = separable(50, 1)
    res = linear_svm_probe(torch.tensor(xtr, dtype=torch.float32), torch.tensor(ytr), xte, yte)
    assert res.accuracy == 1.0 and res.n_train == 300 and res.converged
    assert res.C == pytest.approx(1.0 / (1e-4 * 300))


def test_random_labels_are_not_learnable_out_of_sample():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(400, 5))
    y = rng.integers(0, 4, size=400)
    res = linear_svm_probe(x[:300], y[:300], x[300:], y[300:], lam=1.0)
    assert res.accuracy < 0.5  # chance is 0.25


def test_shape_mismatch_raises():
    xtr, ytr = separable(10, 0)
    with pytest.raises(ValueError, match="labels"):
        linear_svm_probe(xtr, ytr[:-1], xtr, ytr)
    with pytest.raises(ValueError, match="dimensions"):
        linear_svm_probe(xtr, ytr, xtr[:, :4], ytr)
    with pytest.raises(ValueError):
        linear_svm_probe(xtr, ytr, xtr, ytr, lam=0.0)


def test_features_maps_batches_without_grad():
    layer = torch.nn.Linear(6, 3)
    x = torch.randn(25, 6)
    f = features(layer, x, batch_size=7)
    assert f.shape == (25, 3) and not f.requires_grad
    torch.testing.assert_close(f, layer(x).detach())
