"""Densities, log-weights and the variational bounds (docs/protocols.md §1.3-1.4, §6 P1-P2).

Every model produces log-weights  log w_j = log p(z_j) + log p(x | z_j) - log q(z_j | x)  for k
samples z_j ~ q(z | x), evaluated at the samples (no analytic KL, as the original code).

    ELBO (k = 1):   L_1 = mean_j log w_j
    IWAE bound:     L_k = log (1/k) sum_j w_j                      (Burda et al. 2016, eq. 8)

Back-propagating through the log-mean-exp gives exactly the normalised-weight gradient
sum_j w~_j grad log w_j with w~ held constant (P1), so no surrogate is needed.
"""
from __future__ import annotations

import math

import torch

LOG_2PI = math.log(2.0 * math.pi)
BERNOULLI_CLIP = 1e-6  # MEM_DGM clips the Bernoulli mean to [1e-6, 1 - 1e-6] (§1.3)


def log_normal(x: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Element-wise log N(x; mean, exp(logvar)) = -1/2 log 2pi - 1/2 logvar - (x - mean)^2 / (2 e^logvar)."""
    return -0.5 * (LOG_2PI + logvar + (x - mean) ** 2 * torch.exp(-logvar))


def log_standard_normal(x: torch.Tensor) -> torch.Tensor:
    """Element-wise log N(x; 0, 1) = -1/2 log 2pi - x^2 / 2."""
    return -0.5 * (LOG_2PI + x**2)


def log_bernoulli(x: torch.Tensor, mean: torch.Tensor, clip: float | None = BERNOULLI_CLIP) -> torch.Tensor:
    """Element-wise x log m + (1 - x) log(1 - m), m clipped to [clip, 1 - clip] (MEM) or unclipped.
    The mean-parameter form, as written in MEM_DGM; the models use `bernoulli_nll_logits`."""
    if clip is not None:
        mean = mean.clamp(clip, 1.0 - clip)
    return x * torch.log(mean) + (1.0 - x) * torch.log1p(-mean)


def bernoulli_nll_logits(x: torch.Tensor, logits: torch.Tensor, clip: float | None = None) -> torch.Tensor:
    """Element-wise -log p(x | a) for Bernoulli logits a, numerically stable:
    -[x log sigmoid(a) + (1 - x) log sigmoid(-a)]  (binary cross-entropy with logits).

    clip=None: unclipped (the IWAE reference code). With `clip`, the same function as
    `-log_bernoulli(x, sigmoid(a), clip)`: sigmoid is monotone, so clipping the mean to
    [clip, 1 - clip] is clipping the logit to [-logit(1 - clip), logit(1 - clip)] (gradient zero
    outside, as the clipped mean's). One fused kernel instead of sigmoid, clamp, log and log1p."""
    if clip is not None:
        bound = math.log1p(-clip) - math.log(clip)  # logit(1 - clip); 13.8155 for clip = 1e-6
        logits = logits.clamp(-bound, bound)
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none")


def log_bernoulli_logits(x: torch.Tensor, logits: torch.Tensor, clip: float | None = None) -> torch.Tensor:
    """Element-wise log p(x | a) = -`bernoulli_nll_logits(x, a, clip)`. (Summing first and negating
    the sum, as the models do, saves a pass over the pixels.)"""
    return -bernoulli_nll_logits(x, logits, clip)


def kl_standard_normal(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Element-wise KL(N(mean, e^logvar) || N(0, 1)) = 1/2 (e^logvar + mean^2 - 1 - logvar)."""
    return 0.5 * (torch.exp(logvar) + mean**2 - 1.0 - logvar)


def log_mean_exp(a: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """log (1/k) sum_j exp(a_j) along `dim`, max-shifted by logsumexp (P2): per example, never
    across the batch."""
    return torch.logsumexp(a, dim=dim) - math.log(a.shape[dim])


def iwae_bound(log_w: torch.Tensor) -> torch.Tensor:
    """L_k per example from log-weights of shape (B, k) or (B, S, k).

    A middle 'strata' dimension S (the epitomic VAE's selector y) already carries log p(y) inside
    its log-weights; the stratified estimate is  logsumexp_y [ log-mean-exp_j log w_{y,j} ]  (§3.8).
    """
    per_stratum = log_mean_exp(log_w, dim=-1)
    return torch.logsumexp(per_stratum, dim=-1) if per_stratum.dim() == 2 else per_stratum


def elbo(log_w: torch.Tensor) -> torch.Tensor:
    """The k-sample average of log-weights, (1/k) sum_j log w_j: the VAE-k objective, per example."""
    return log_w.mean(dim=-1)
