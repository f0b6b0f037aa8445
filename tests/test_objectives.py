"""Densities and bounds against naive float64 computations and torch.distributions."""
import math

import pytest
import torch
from torch import distributions as dist

from memvae_lib.objectives import (elbo, iwae_bound, kl_standard_normal, log_bernoulli, log_bernoulli_logits,
                                   log_mean_exp, log_normal, log_standard_normal)


def naive_log_mean_exp(a: torch.Tensor) -> torch.Tensor:
    a = a.double()
    return torch.log(torch.exp(a).mean(-1))


def test_log_mean_exp_matches_naive_float64():
    torch.manual_seed(0)
    a = torch.randn(7, 13, dtype=torch.float64) * 5
    assert torch.allclose(log_mean_exp(a), naive_log_mean_exp(a), atol=1e-12)


@pytest.mark.parametrize("shift", [-3000.0, 3000.0])
def test_log_mean_exp_large_magnitudes_do_not_overflow(shift):
    torch.manual_seed(1)
    a = torch.randn(5, 200, dtype=torch.float64)
    out = log_mean_exp(a + shift)
    assert torch.isfinite(out).all()
    # shift invariance: log mean exp(a + c) = c + log mean exp(a)
    assert torch.allclose(out, shift + naive_log_mean_exp(a), atol=1e-9)
    # float32 log-weights of realistic size (-100 nats) are also fine
    assert torch.isfinite(log_mean_exp((a - 100).float())).all()


def test_log_mean_exp_is_per_example_not_across_batch():
    a = torch.tensor([[0.0, 0.0], [100.0, 100.0]])
    assert torch.allclose(log_mean_exp(a), torch.tensor([0.0, 100.0]))


def test_iwae_bound_two_dims_and_elbo():
    torch.manual_seed(2)
    log_w = torch.randn(4, 9, dtype=torch.float64)
    assert torch.allclose(iwae_bound(log_w), naive_log_mean_exp(log_w))
    assert torch.allclose(elbo(log_w), log_w.mean(-1))
    assert (iwae_bound(log_w) >= elbo(log_w)).all()  # Jensen


def test_iwae_bound_with_strata_is_logsumexp_of_per_stratum_log_mean_exp():
    torch.manual_seed(3)
    log_w = torch.randn(4, 3, 6, dtype=torch.float64) * 3  # (B, S, k)
    expected = torch.stack([
        torch.logsumexp(torch.stack([naive_log_mean_exp(log_w[b, s]) for s in range(3)]), 0)
        for b in range(4)
    ])
    assert iwae_bound(log_w).shape == (4,)
    assert torch.allclose(iwae_bound(log_w), expected, atol=1e-12)


def test_log_normal_matches_torch_distributions():
    torch.manual_seed(4)
    x, mean, logvar = torch.randn(3, 50, 10, dtype=torch.float64).unbind(0)
    expected = dist.Normal(mean, torch.exp(0.5 * logvar)).log_prob(x)
    assert torch.allclose(log_normal(x, mean, logvar), expected, atol=1e-12)
    assert torch.allclose(log_standard_normal(x), dist.Normal(0.0, 1.0).log_prob(x), atol=1e-12)


def test_kl_standard_normal_matches_torch_distributions():
    torch.manual_seed(5)
    mean, logvar = torch.randn(2, 50, 10, dtype=torch.float64).unbind(0)
    q = dist.Normal(mean, torch.exp(0.5 * logvar))
    expected = dist.kl_divergence(q, dist.Normal(torch.zeros_like(mean), torch.ones_like(mean)))
    assert torch.allclose(kl_standard_normal(mean, logvar), expected, atol=1e-12)


def test_log_bernoulli_clip_bounds_log_prob():
    x = torch.tensor([1.0, 0.0, 1.0])
    m = torch.tensor([0.0, 1.0, 0.5])
    out = log_bernoulli(x, m)
    # float32: 1 - 1e-6 rounds to 1 - 1.013e-6, hence the tolerance
    assert torch.allclose(out[:2], torch.full((2,), math.log(1e-6)), atol=0.02)
    assert torch.isclose(out[2], torch.tensor(math.log(0.5)))


def test_clipped_logit_form_is_the_clipped_mean_form_in_value_and_gradient():
    """clip(sigmoid(a)) = sigmoid(clip(a)): the fused logit form computes MEM's clipped Bernoulli."""
    a = torch.tensor([-40.0, -14.0, -13.0, -2.0, 0.0, 0.7, 13.0, 14.0, 40.0], dtype=torch.float64)
    x = torch.tensor([1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0], dtype=torch.float64)
    a1, a2 = a.clone().requires_grad_(), a.clone().requires_grad_()
    fused = log_bernoulli_logits(x, a1, clip=1e-6)
    mean_form = log_bernoulli(x, torch.sigmoid(a2), clip=1e-6)
    assert torch.allclose(fused, mean_form, rtol=1e-12, atol=1e-9)
    assert fused[0].item() == pytest.approx(math.log(1e-6), rel=1e-9)  # saturated: log of the clip
    fused.sum().backward()
    mean_form.sum().backward()
    assert torch.allclose(a1.grad, a2.grad, atol=1e-12)
    assert a1.grad[[0, 1, 7, 8]].abs().max() == 0                     # no gradient beyond the clip
    assert a1.grad[3] == pytest.approx(1 - torch.sigmoid(torch.tensor(-2.0)).item())


def test_unclipped_logit_form_reaches_past_the_clip():
    x, a = torch.tensor([1.0]), torch.tensor([-40.0])
    assert log_bernoulli_logits(x, a).item() == pytest.approx(-40.0, rel=1e-6)
