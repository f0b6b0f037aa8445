import math

import numpy as np
import pytest
import torch
from torch import nn

from memvae_lib.estimators import iw_log_likelihood, iw_summary
from memvae_lib.models.base import LatentVariableModel
from toy_models import LinearGaussianModel, MixtureOfLinearGaussians


class TableToy(LatentVariableModel):
    """Log-weights read from a fixed table (N, [S,] K): x[:, 0] is the example's row, and each
    call hands out that row's next k columns, so every chunking must see exactly the same samples."""

    def __init__(self, table: torch.Tensor, dtype=torch.float64):
        super().__init__()
        self.table = table
        self.dummy = nn.Parameter(torch.zeros(1, dtype=dtype))
        self.latent_dim, self.config = 1, {}
        self.used = torch.zeros(table.shape[0], dtype=torch.long)
        self.training_seen = []

    def data(self) -> torch.Tensor:
        return torch.arange(self.table.shape[0], dtype=self.dummy.dtype)[:, None].repeat(1, 3)

    def log_weights(self, x, k):
        self.training_seen.append(self.training)
        rows = x[:, 0].long()
        starts = self.used[rows]
        self.used[rows] += k
        cols = starts[:, None] + torch.arange(k)
        assert int(cols.max()) < self.table.shape[-1], "estimator asked for more than k samples"
        if self.table.dim() == 2:
            return self.table[rows[:, None], cols].to(self.dummy.dtype)
        return torch.stack([self.table[rows[:, None], s, cols] for s in range(self.table.shape[1])], 1).to(
            self.dummy.dtype)

    def training_loss(self, x, **batch): raise NotImplementedError
    def decode_mean(self, z): raise NotImplementedError
    def posterior_mean(self, x): raise NotImplementedError
    def sample_posterior(self, x): raise NotImplementedError
    def kl_per_unit(self, x): raise NotImplementedError
    def sample_prior(self, n, generator=None): raise NotImplementedError


def data(model, n=64, seed=0):
    return model.sample_data(n, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("k", [1, 7, 300])
def test_exact_posterior_gives_exact_log_marginal_for_every_k(k):
    model = LinearGaussianModel()
    x = data(model)
    est = iw_log_likelihood(model, x, k, seed=1)
    assert est.dtype == torch.float64 and est.shape == (64,) and est.device.type == "cpu"
    torch.testing.assert_close(est, model.exact_log_marginal(x), atol=1e-6, rtol=0)


def test_perturbed_posterior_bound_is_below_truth_increases_with_k_and_converges():
    model = LinearGaussianModel(posterior_scale=1.3, posterior_shift=0.4)
    x = data(model, n=200)
    truth = model.exact_log_marginal(x).mean().item()
    means = {k: iw_log_likelihood(model, x, k, seed=2).mean().item() for k in (1, 10, 1000)}
    assert means[1] < means[10] < means[1000] < truth
    assert truth - means[1] > 0.1  # the perturbation matters
    assert truth - means[1000] < 0.05  # 4.7 nats at k = 1


def test_chunking_sees_exactly_k_samples_per_example():
    torch.manual_seed(0)
    n, k = 13, 50
    table = 3.0 * torch.randn(n, k, dtype=torch.float64) - 20.0
    expected = torch.logsumexp(table, 1) - math.log(k)
    results = []
    for budget, batch in ((1e-9, None), (1e-9, 4), (1e-4, None), (256, None), (256, 5)):
        toy = TableToy(table)
        results.append(iw_log_likelihood(toy, toy.data(), k, memory_budget_mb=budget, example_batch=batch))
        assert (toy.used == k).all()
    for r in results:
        torch.testing.assert_close(r, expected, atol=1e-12, rtol=0)


def test_seeded_runs_are_identical_and_leave_global_rng_alone():
    model = LinearGaussianModel(posterior_scale=1.5)
    x = data(model)
    state = torch.random.get_rng_state()
    a = iw_log_likelihood(model, x, 20, seed=5, memory_budget_mb=1e-3)
    b = iw_log_likelihood(model, x, 20, seed=5, memory_budget_mb=1e-3)
    c = iw_log_likelihood(model, x, 20, seed=6, memory_budget_mb=1e-3)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_float64_accumulation_with_log_weights_near_minus_1e4():
    # float32 model output, but k = 5000 chunked: logsumexp - log k must come out in float64
    value = torch.tensor(-12345.678, dtype=torch.float32)
    table = value.expand(3, 5000).double()
    toy = TableToy(table, dtype=torch.float32)
    est = iw_log_likelihood(toy, toy.data(), 5000, memory_budget_mb=2e-4)
    assert torch.isfinite(est).all()
    assert (est - float(value)).abs().max() < 1e-9


def test_strata_against_hand_computation():
    rng = np.random.default_rng(0)
    n, s, k = 5, 3, 40
    table = rng.normal(-30, 2, size=(n, s, k))
    hand = np.log(np.sum(np.mean(np.exp(table), axis=-1), axis=-1))  # sum_y mean_j w_{y,j}
    toy = TableToy(torch.tensor(table))
    est = iw_log_likelihood(toy, toy.data(), k, memory_budget_mb=1e-9)  # one sample per call
    np.testing.assert_allclose(est.numpy(), hand, rtol=0, atol=1e-10)


def test_mixture_with_exact_posteriors_gives_exact_log_marginal():
    model = MixtureOfLinearGaussians([LinearGaussianModel(seed=s) for s in (1, 2, 3)])
    x = data(model.components[1], n=32)
    est = iw_log_likelihood(model, x, 25, seed=0, memory_budget_mb=1e-4)
    torch.testing.assert_close(est, model.exact_log_marginal(x), atol=1e-6, rtol=0)


def test_eval_mode_during_and_mode_restored_after():
    toy = TableToy(torch.zeros(2, 4, dtype=torch.float64))
    toy.train()
    iw_log_likelihood(toy, toy.data(), 4)
    assert toy.training_seen and not any(toy.training_seen)
    assert toy.training


@pytest.mark.parametrize("k", [0, -3, 2.5, True, "10"])
def test_bad_k_raises(k):
    model = LinearGaussianModel()
    with pytest.raises(ValueError, match="k must be"):
        iw_log_likelihood(model, data(model, 4), k)


@pytest.mark.parametrize("budget", [0, -1.0])
def test_bad_memory_budget_raises(budget):
    model = LinearGaussianModel()
    with pytest.raises(ValueError, match=f"memory_budget_mb must be > 0.*got {budget}"):
        iw_log_likelihood(model, data(model, 4), 5, memory_budget_mb=budget)


def test_plan_fits_the_budget():
    """MNIST (784 float32 pixels) in the 4 MB CPU budget: 1337 (example, sample) pairs per call."""
    from memvae_lib.estimators.likelihood import DEFAULT_MEMORY_BUDGET_MB, _plan

    assert DEFAULT_MEMORY_BUDGET_MB["cpu"] == 4
    assert _plan(10_000, 5000, 784, 4, 4, None) == (1, 1337)     # k = 5000: one image, k in 4 chunks
    assert _plan(10_000, 100, 784, 4, 4, None) == (13, 100)      # k = 100: 13 images, all k at once
    assert _plan(10_000, 5000, 784, 4, 4, 2) == (2, 668)         # a fixed example batch shares the budget
    assert 1337 * 784 * 4 <= 4 * 2**20 < 1338 * 784 * 4


def test_progress_bar_quiet_unless_wanted(monkeypatch, capsys):
    model = LinearGaussianModel()
    x = data(model, 4)
    monkeypatch.delenv("MEMVAE_PROGRESS", raising=False)
    iw_log_likelihood(model, x, 5)                     # stderr is no terminal under pytest
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("MEMVAE_PROGRESS", "1")
    iw_log_likelihood(model, x, 5)
    assert "L_5" in capsys.readouterr().err
    iw_log_likelihood(model, x, 5, progress=False)     # an explicit False wins
    assert capsys.readouterr().err == ""


def test_x_must_be_2d():
    model = LinearGaussianModel()
    with pytest.raises(ValueError, match="2-D"):
        iw_log_likelihood(model, torch.zeros(6, dtype=torch.float64), 5)


def test_iw_summary():
    s = iw_summary(torch.tensor([1.0, 2.0, 3.0, 6.0]))
    assert s["n"] == 4 and s["mean"] == pytest.approx(3.0)
    assert s["std"] == pytest.approx(np.std([1, 2, 3, 6]))
    assert s["sem"] == pytest.approx(np.std([1, 2, 3, 6]) / 2)
