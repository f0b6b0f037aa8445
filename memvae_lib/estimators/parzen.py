"""Parzen-window log-likelihood: a LEGACY metric (Theis et al. 2016; docs/protocols.md §3.7, §6 P9).

The eVAE paper reports it ("Parzen window estimator (Rifai et al., 2012)"); this follows the
`goodfeli/adversarial` `parzen_ll.py` protocol: an isotropic Gaussian kernel of width sigma on each
of N = 10,000 model samples s_i,

    log p(x) = logmeanexp_i [ -||x - s_i||^2 / (2 sigma^2) ] - d log(sigma sqrt(2 pi)),

sigma chosen on validation data from logspace(-1, 0, 10), the test mean reported with
SE = std / sqrt(N_test). Theis et al.: log-likelihood, Parzen estimates and sample quality are
"largely independent of each other when the data is high-dimensional"; a k-means Parzen model
beats true samples (`kmeans_centres` gives that baseline). Never compare Parzen with IW-LL.

A chosen sigma at the first or last value of its grid is a maximum the grid may have missed: the
validation curve could keep rising beyond it. `select_bandwidth` then warns
(`BandwidthAtEdgeWarning`); `bandwidth_edge` tells it from a stored sweep (the Olivetti baselines
peaked at 0.1, the lower edge of logspace(-1, 0, 10): issue 13).
"""
from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import torch

from ._util import as_tensor, check_matrix, chunks

DEFAULT_SIGMAS = tuple(float(s) for s in np.logspace(-1, 0, 10))


@dataclasses.dataclass
class ParzenResult:
    mean: float  # mean test log-likelihood (nats), legacy metric
    sem: float  # std / sqrt(N_test)
    sigma: float  # bandwidth chosen on validation
    sweep: list  # [(sigma, mean validation LL)]
    n_centres: int


def _prepare(centres, x, device) -> tuple[torch.Tensor, torch.Tensor]:
    centres = as_tensor(centres, torch.float64).to(device)
    x = as_tensor(x, torch.float64).to(device)
    check_matrix(centres, "centres")
    check_matrix(x)
    if centres.shape[1] != x.shape[1]:
        raise ValueError(f"centres have dimension {centres.shape[1]}, x has {x.shape[1]}")
    return centres, x


def parzen_log_density(centres, x, sigma: float, batch_size: int = 100, device="cpu") -> torch.Tensor:
    """log p(x) under the Parzen window on `centres` (M, d), per example of x (N, d): float64 (N,)
    on the CPU. Computed in float64 on `device` (a GPU is much faster for 10k x 10k x 784)."""
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    centres, x = _prepare(centres, x, device)
    d = x.shape[1]
    c_sq = (centres**2).sum(1)  # (M,)
    out = torch.empty(x.shape[0], dtype=torch.float64)
    for rows in chunks(x.shape[0], batch_size):
        xb = x[rows]
        # ||x - s||^2 = ||x||^2 - 2 x.s + ||s||^2, clamped at 0 against rounding
        sq = ((xb**2).sum(1, keepdim=True) - 2.0 * xb @ centres.T + c_sq).clamp_min(0.0)  # (b, M)
        a = -sq / (2.0 * sigma**2)
        out[rows] = (torch.logsumexp(a, dim=1) - math.log(centres.shape[0])).cpu()
    return out - d * math.log(sigma * math.sqrt(2.0 * math.pi))


class BandwidthAtEdgeWarning(UserWarning):
    """The chosen Parzen bandwidth is the smallest or largest of its grid: the optimum may lie outside."""


def bandwidth_edge(sweep) -> str | None:
    """'lower' or 'upper' when the best sigma of a sweep [(sigma, mean validation LL)] is the
    smallest or the largest sigma swept, else None (also for a sweep of fewer than 3 values,
    which cannot bracket a maximum anyway)."""
    if len(sweep) < 3:
        return None
    sigmas = [float(s) for s, _ in sweep]
    best = float(max(sweep, key=lambda pair: pair[1])[0])
    return "lower" if best == min(sigmas) else "upper" if best == max(sigmas) else None


def select_bandwidth(centres, x_valid, sigmas=None, batch_size: int = 100, device="cpu") -> tuple[float, list]:
    """The sigma maximising the mean validation log-likelihood, and the whole sweep [(sigma, mean)];
    a BandwidthAtEdgeWarning when that sigma is an edge of the grid (`bandwidth_edge`)."""
    sigmas = DEFAULT_SIGMAS if sigmas is None else [float(s) for s in sigmas]
    if len(sigmas) == 0:
        raise ValueError("sigmas is empty")
    sweep = [(s, float(parzen_log_density(centres, x_valid, s, batch_size, device).mean())) for s in sigmas]
    best = max(sweep, key=lambda pair: pair[1])[0]
    if edge := bandwidth_edge(sweep):
        warnings.warn(f"Parzen bandwidth sigma = {best:.4g} is the {edge} edge of the grid "
                      f"[{min(sigmas):.4g}, {max(sigmas):.4g}]: the validation optimum may lie outside it; "
                      "widen the grid (papers/evae/parzen_protocol.sigma_grid)", BandwidthAtEdgeWarning, stacklevel=2)
    return best, sweep


def parzen_evaluate(centres, x_valid, x_test, sigmas=None, batch_size: int = 100, device="cpu") -> ParzenResult:
    """§3.7: choose sigma on x_valid, then report the mean test LL and its standard error."""
    sigma, sweep = select_bandwidth(centres, x_valid, sigmas, batch_size, device)
    ll = parzen_log_density(centres, x_test, sigma, batch_size, device)
    sem = float(ll.std(unbiased=False)) / math.sqrt(ll.numel())  # numpy's std, as parzen_ll.py
    return ParzenResult(mean=float(ll.mean()), sem=sem, sigma=sigma, sweep=sweep,
                        n_centres=int(as_tensor(centres).shape[0]))


def kmeans_centres(x, n_clusters: int, seed: int = 0) -> torch.Tensor:
    """k-means centroids of x as kernel centres (the Theis et al. 2016 baseline), float32 (n, d)."""
    from sklearn.cluster import MiniBatchKMeans

    x = as_tensor(x, torch.float64).cpu()
    check_matrix(x)
    km = MiniBatchKMeans(n_clusters=n_clusters, random_state=seed, n_init=3,
                         batch_size=max(1024, 3 * n_clusters))
    km.fit(x.numpy())
    return torch.as_tensor(km.cluster_centers_, dtype=torch.float32)
