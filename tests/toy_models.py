"""Tiny models with closed-form answers, for testing estimators and anything written against
`LatentVariableModel` without training a network.

* `LinearGaussianModel`: p(z) = N(0, I_d), p(x | z) = N(W z + b, s^2 I), W = Q diag(scales) with
  orthonormal columns Q, so the exact posterior is diagonal and
      log p(x) = log N(x; b, W W^T + s^2 I)                      (`exact_log_marginal`)
      q*(z_d | x) = N(v_d scales_d Q_d^T (x - b) / s^2, v_d),   v_d = s^2 / (s^2 + scales_d^2).
  With the exact posterior every log-weight equals log p(x); `posterior_scale` / `posterior_shift`
  perturb q so that the log-weights vary. A unit with scale 0 is unused: its posterior mean is 0
  (an inactive unit). For x ~ p(x): Var_x E_q[z_d | x] = 1 - v_d and E_x KL_d = -1/2 log v_d.
* `MixtureOfLinearGaussians`: a discrete selector y ~ uniform over S linear-Gaussian components,
  log-weights (B, S, k) with log p(y) inside (the eVAE layout), exact log p(x) by logsumexp.
* `MemorisingImputer`: q "encodes" an image as the index of the stored image that agrees with it on
  the observed pixels and decodes the stored image: a perfect imputer (MSE 0 after one step).

Everything runs in float64 by default so closed-form comparisons can be tight.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from memvae_lib.models.base import LatentVariableModel
from memvae_lib.nets import BatchNorm
from memvae_lib.objectives import iwae_bound, kl_standard_normal, log_normal, log_standard_normal


class LinearGaussianModel(LatentVariableModel):
    """Probabilistic PCA with an exact (optionally perturbed) diagonal Gaussian posterior."""

    def __init__(
        self,
        data_dim: int = 6,
        latent_dim: int = 3,
        scales: Sequence[float] | None = None,
        noise_std: float = 0.5,
        posterior_scale: float = 1.0,
        posterior_shift: float = 0.0,
        seed: int = 0,
        dtype: torch.dtype = torch.float64,
    ):
        super().__init__()
        if scales is None:
            scales = [1.0 + d for d in range(latent_dim)]
        if len(scales) != latent_dim or latent_dim > data_dim:
            raise ValueError("need len(scales) == latent_dim <= data_dim")
        self.config = dict(data_dim=data_dim, latent_dim=latent_dim, scales=list(scales), noise_std=noise_std,
                           posterior_scale=posterior_scale, posterior_shift=posterior_shift, seed=seed)
        self.latent_dim = latent_dim
        self.data_dim = data_dim
        g = torch.Generator().manual_seed(seed)
        q, _ = torch.linalg.qr(torch.randn(data_dim, latent_dim, generator=g, dtype=torch.float64))
        scales_t = torch.tensor(list(scales), dtype=torch.float64)
        self.W = nn.Parameter((q * scales_t).to(dtype), requires_grad=False)  # (D_x, d)
        self.b = nn.Parameter((0.5 * torch.randn(data_dim, generator=g, dtype=torch.float64)).to(dtype),
                              requires_grad=False)
        self.register_buffer("scales", scales_t.to(dtype))
        self.noise_std = noise_std
        self.posterior_scale = posterior_scale
        self.posterior_shift = posterior_shift

    # ---- closed forms -------------------------------------------------------------------------
    def exact_posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean (B, d) and log-variance (d,) of the true p(z | x)."""
        s2 = self.noise_std**2
        var = s2 / (s2 + self.scales**2)  # (d,)
        mean = (x - self.b) @ self.W * var / s2  # W^T(x-b) = scales * Q^T(x-b)
        return mean, torch.log(var)

    def exact_log_marginal(self, x: torch.Tensor) -> torch.Tensor:
        """log N(x; b, W W^T + s^2 I) in float64, (B,)."""
        W = self.W.detach().double().cpu()
        cov = W @ W.T + self.noise_std**2 * torch.eye(self.data_dim, dtype=torch.float64)
        dist = torch.distributions.MultivariateNormal(self.b.detach().double().cpu(), covariance_matrix=cov)
        return dist.log_prob(x.detach().double().cpu())

    def unit_posterior_variance(self) -> torch.Tensor:
        """v_d of the exact posterior: for x ~ p(x), Var_x E[z_d|x] = 1 - v_d, E_x KL_d = -1/2 log v_d."""
        s2 = self.noise_std**2
        return (s2 / (s2 + self.scales.double() ** 2)).cpu()

    @torch.no_grad()
    def sample_data(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        z = torch.randn(n, self.latent_dim, generator=generator, dtype=self.W.dtype)
        eps = torch.randn(n, self.data_dim, generator=generator, dtype=self.W.dtype)
        return self.decode_mean(z) + self.noise_std * eps

    # ---- the interface ------------------------------------------------------------------------
    def q_params(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, logvar = self.exact_posterior(x)
        logvar = (logvar + 2.0 * math.log(self.posterior_scale)).expand_as(mean)
        return mean + self.posterior_shift, logvar

    def log_weights(self, x: torch.Tensor, k: int) -> torch.Tensor:
        mean, logvar = self.q_params(x)
        eps = torch.randn(x.shape[0], k, self.latent_dim, dtype=mean.dtype, device=mean.device)
        z = mean[:, None] + torch.exp(0.5 * logvar)[:, None] * eps  # (B, k, d)
        log_pz = log_standard_normal(z).sum(-1)
        x_logvar = torch.full_like(x, 2.0 * math.log(self.noise_std))
        log_px_z = log_normal(x[:, None], self.decode_mean(z), x_logvar[:, None]).sum(-1)
        log_qz = log_normal(z, mean[:, None], logvar[:, None]).sum(-1)
        return log_pz + log_px_z - log_qz  # (B, k)

    def training_loss(self, x: torch.Tensor, **batch):
        loss = -iwae_bound(self.log_weights(x, 1)).mean()
        return loss, {"loss": float(loss)}

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        return z @ self.W.T + self.b

    def posterior_mean(self, x: torch.Tensor) -> torch.Tensor:
        return self.q_params(x)[0]

    def sample_posterior(self, x: torch.Tensor) -> torch.Tensor:
        mean, logvar = self.q_params(x)
        return mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)

    def kl_per_unit(self, x: torch.Tensor) -> torch.Tensor:
        return kl_standard_normal(*self.q_params(x))

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.latent_dim, generator=generator, dtype=self.W.dtype).to(self.device)


class MixtureOfLinearGaussians(LatentVariableModel):
    """y ~ uniform{1..S}, then component y's LinearGaussianModel; log-weights (B, S, k) with
    log p(y) = -log S added (the stratified layout of `objectives.iwae_bound`)."""

    def __init__(self, components: Sequence[LinearGaussianModel]):
        super().__init__()
        self.components = nn.ModuleList(components)
        self.latent_dim = components[0].latent_dim
        self.config = dict(n_components=len(components))
        self.log_py = -math.log(len(components))

    def exact_log_marginal(self, x: torch.Tensor) -> torch.Tensor:
        per = torch.stack([c.exact_log_marginal(x) for c in self.components], dim=-1)
        return torch.logsumexp(per + self.log_py, dim=-1)

    def best_component(self, x: torch.Tensor) -> torch.Tensor:
        per = torch.stack([c.exact_log_marginal(x) for c in self.components], dim=-1)
        return per.argmax(-1).to(x.device)

    def _select(self, x: torch.Tensor, fn: str) -> torch.Tensor:
        outs = torch.stack([getattr(c, fn)(x) for c in self.components], dim=1)  # (B, S, d)
        return outs[torch.arange(x.shape[0], device=x.device), self.best_component(x)]

    def log_weights(self, x: torch.Tensor, k: int) -> torch.Tensor:
        return torch.stack([c.log_weights(x, k) for c in self.components], dim=1) + self.log_py

    def training_loss(self, x: torch.Tensor, **batch):
        loss = -iwae_bound(self.log_weights(x, 1)).mean()
        return loss, {"loss": float(loss)}

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        return self.components[0].decode_mean(z)

    def posterior_mean(self, x: torch.Tensor) -> torch.Tensor:
        return self._select(x, "posterior_mean")

    def sample_posterior(self, x: torch.Tensor) -> torch.Tensor:
        return self._select(x, "sample_posterior")

    def kl_per_unit(self, x: torch.Tensor) -> torch.Tensor:
        return self._select(x, "kl_per_unit")

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.components[0].sample_prior(n, generator)


class MemorisingImputer(LatentVariableModel):
    """A perfect imputer for a known set of images: z = index of the stored image that matches x on
    the observed pixels, decode_mean(z) = that stored image. Records whether its batch norm was in
    training (batch) mode during every encode, and the batch sizes it saw."""

    def __init__(self, images: torch.Tensor, observed_mask: torch.Tensor):
        super().__init__()
        self.register_buffer("images", images.float())
        self.register_buffer("observed", observed_mask.bool())
        self.bn = BatchNorm(1)  # never applied to data: only its mode is recorded
        self.latent_dim = 1
        self.config = {}
        self.bn_training_seen: list[bool] = []
        self.batch_sizes_seen: list[int] = []

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        self.bn_training_seen.append(self.bn.training)
        self.batch_sizes_seen.append(x.shape[0])
        diff = ((x[:, None, :] - self.images[None]) ** 2 * self.observed[None].float()).sum(-1)  # (B, N)
        return diff.argmin(-1, keepdim=True).to(x.dtype)

    def log_weights(self, x, k):
        raise NotImplementedError

    def training_loss(self, x, **batch):
        raise NotImplementedError

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        return self.images[z[:, 0].long()]

    def posterior_mean(self, x: torch.Tensor) -> torch.Tensor:
        return self._encode(x)

    def sample_posterior(self, x: torch.Tensor) -> torch.Tensor:
        return self._encode(x)

    def kl_per_unit(self, x):
        return torch.zeros(x.shape[0], 1, device=x.device)

    def sample_prior(self, n, generator=None):
        return torch.randint(0, self.images.shape[0], (n, 1), generator=generator).float()
