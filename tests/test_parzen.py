import math
import warnings

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from memvae_lib.estimators import (DEFAULT_SIGMAS, BandwidthAtEdgeWarning, bandwidth_edge, kmeans_centres, parzen_evaluate,
                                   parzen_log_density, select_bandwidth)

RNG = np.random.default_rng(0)


def test_one_centre_is_an_isotropic_gaussian():
    d, sigma = 5, 0.37
    c = RNG.normal(size=d)
    x = RNG.normal(size=(40, d))
    x[0] = c + 30.0  # far away: exponent ~ -3e4, must stay finite
    got = parzen_log_density(c[None], x, sigma)
    want = multivariate_normal(mean=c, cov=sigma**2 * np.eye(d)).logpdf(x)
    assert got.dtype == torch.float64 and torch.isfinite(got).all()
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-9)


def test_identical_centres_equal_one_centre_and_mixture_is_exact():
    d, sigma = 3, 0.2
    c = RNG.normal(size=(2, d))
    x = RNG.normal(size=(25, d))
    one = parzen_log_density(c[:1], x, sigma)
    many = parzen_log_density(np.repeat(c[:1], 50, axis=0), x, sigma)
    torch.testing.assert_close(one, many, rtol=1e-12, atol=1e-9)
    comps = np.stack([multivariate_normal(mean=ci, cov=sigma**2 * np.eye(d)).logpdf(x) for ci in c])
    np.testing.assert_allclose(parzen_log_density(c, x, sigma).numpy(), logsumexp(comps, 0) - math.log(2),
                               rtol=1e-9)


def test_chunk_invariance():
    centres = torch.rand(300, 20)
    x = torch.rand(37, 20)
    ref = parzen_log_density(centres, x, 0.3, batch_size=100)
    for bs in (1, 7, 37):
        torch.testing.assert_close(parzen_log_density(centres, x, 0.3, batch_size=bs), ref, rtol=1e-13, atol=1e-10)


def test_select_bandwidth_picks_the_argmax_of_the_sweep():
    centres = 0.3 * RNG.normal(size=(400, 2))
    valid = 0.3 * RNG.normal(size=(200, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")                        # an interior optimum: no edge warning
        best, sweep = select_bandwidth(centres, valid)
    sigmas = [s for s, _ in sweep]
    np.testing.assert_allclose(sigmas, np.logspace(-1, 0, 10))
    means = [float(parzen_log_density(centres, valid, s).mean()) for s in sigmas]
    np.testing.assert_allclose([m for _, m in sweep], means)
    assert best == sigmas[int(np.argmax(means))]
    assert sigmas[0] < best < sigmas[-1]  # interior optimum for this data


def test_bandwidth_edge_of_a_sweep():
    assert bandwidth_edge([(0.1, 5.0), (0.2, 3.0), (0.4, 1.0)]) == "lower"
    assert bandwidth_edge([(0.4, 5.0), (0.1, 3.0), (0.2, 4.0)]) == "upper"     # by sigma, not by position
    assert bandwidth_edge([(0.1, 1.0), (0.2, 3.0), (0.4, 1.0)]) is None
    assert bandwidth_edge([(0.1, 5.0), (0.2, 3.0)]) is None                    # two values bracket nothing


def test_an_optimum_below_the_grid_warns_and_a_grid_reaching_below_it_brackets_it():
    """Validation images 0.06 from their centres (as the Olivetti baselines, optimum ~0.08): the
    protocol grid 0.1..1 stops at its lower edge; a grid reaching 0.03 finds the interior optimum."""
    g = torch.Generator().manual_seed(0)
    centres = torch.rand(200, 50, generator=g)
    valid = centres[:60] + 0.06 * torch.randn(60, 50, generator=g)
    with pytest.warns(BandwidthAtEdgeWarning, match="sigma = 0.1 is the lower edge"):
        best, _ = select_bandwidth(centres, valid)
    assert best == DEFAULT_SIGMAS[0]
    wider = [float(10 ** (-1 - i / 9)) for i in range(5, 0, -1)] + list(DEFAULT_SIGMAS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        best, sweep = select_bandwidth(centres, valid, wider)
    assert wider[0] < best < DEFAULT_SIGMAS[0] and bandwidth_edge(sweep) is None


def test_parzen_evaluate_mean_and_sem():
    centres = torch.rand(200, 10)
    valid, test = torch.rand(50, 10), torch.rand(80, 10)
    res = parzen_evaluate(centres, valid, test, sigmas=[0.1, 0.2, 0.4])
    ll = parzen_log_density(centres, test, res.sigma).numpy()
    assert res.n_centres == 200 and len(res.sweep) == 3 and res.sigma in (0.1, 0.2, 0.4)
    assert res.mean == pytest.approx(ll.mean())
    assert res.sem == pytest.approx(ll.std() / math.sqrt(80))


def test_kmeans_centres_shape_and_seed():
    x = torch.rand(500, 6)
    a, b = kmeans_centres(x, 8, seed=3), kmeans_centres(x, 8, seed=3)
    assert a.shape == (8, 6) and torch.equal(a, b)


def test_bad_inputs():
    with pytest.raises(ValueError, match="dimension"):
        parzen_log_density(torch.zeros(3, 4), torch.zeros(2, 5), 0.1)
    with pytest.raises(ValueError, match="sigma"):
        parzen_log_density(torch.zeros(3, 4), torch.zeros(2, 4), 0.0)
