"""Active units (Burda et al. 2016, Sec. 5.2; docs/protocols.md §1.5).

    A_u = Cov_x( E_{u ~ q(u|x)}[u] )

the variance over the data of each unit's posterior mean, biased (np.var), in float64. A unit is
active iff A_u >= threshold: 0.01 for IWAE and MEM (Burda's `iwae.py`, paper "> 10^-2"), 0.02 for
the eVAE tables (Yeung et al., "following Burda et al."). Project default data: the first 500
training images, plus the full test set; always report the threshold and the data used.
The statistic is `model.posterior_mean(x)` (eVAE: m_{y*} * mu(x)), computed in eval mode.
"""
from __future__ import annotations

import dataclasses

import torch

from ._util import as_tensor, map_batches


@dataclasses.dataclass
class ActiveUnits:
    count: int
    variances: torch.Tensor  # (latent,) float64, A_u
    threshold: float
    n_examples: int
    active: torch.Tensor  # (latent,) bool, A_u >= threshold

    def __str__(self) -> str:
        return (f"{self.count} of {self.variances.numel()} units active "
                f"(A_u >= {self.threshold:g} over {self.n_examples} examples)")


def active_units(model, x, threshold: float = 0.01, *, batch_size: int = 1000) -> ActiveUnits:
    """Count units whose posterior mean varies across x by at least `threshold` (biased variance)."""
    means = map_batches(model, x, model.posterior_mean, batch_size)  # (N, latent) float64
    variances = means.var(dim=0, unbiased=False)
    active = variances >= threshold
    return ActiveUnits(count=int(active.sum()), variances=variances, threshold=float(threshold),
                       n_examples=means.shape[0], active=active)


def per_unit_kl(model, x, *, batch_size: int = 1000) -> torch.Tensor:
    """Mean over x of the analytic KL(q(z_u | x) || p(z_u)) per unit, (latent,) float64."""
    return map_batches(model, x, model.kl_per_unit, batch_size).mean(dim=0)


def activity_order(variances) -> torch.Tensor:
    """Unit indices sorted by decreasing activity A_u (ties keep index order)."""
    return torch.argsort(as_tensor(variances), descending=True, stable=True)
