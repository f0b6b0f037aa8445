"""Reconstruction error at the posterior mean: how much of x the code E_q[z | x] keeps (eVAE paper
Figs. 2-4: a smaller KL weight or no dropout gives sharper reconstructions, more nats kept).

    NLL_rec(x) = -log p(x | z = E_q[z | x]) = -sum_i [x_i log m_i + (1 - x_i) log(1 - m_i)],
    m = decoder mean at the posterior mean (`model.reconstruct`), the logs floored at -100 (torch).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ._util import map_batches


def reconstruction_nll(model, x, *, batch_size: int = 1000) -> float:
    """Mean over x of the Bernoulli -log p(x | E_q[z | x]) in nats (x in [0, 1]: binary or grey).
    For Bernoulli decoders: a Gaussian decoder's mean is no probability."""
    likelihood = getattr(getattr(model, "config", None), "likelihood", "bernoulli")
    if likelihood != "bernoulli":
        raise ValueError(f"reconstruction_nll needs a Bernoulli decoder; this model's likelihood is {likelihood!r}")

    def per_example(xb):  # float64 before the pixel sum
        return F.binary_cross_entropy(model.reconstruct(xb), xb, reduction="none").to(torch.float64).sum(1)

    return float(map_batches(model, x, per_example, batch_size).mean())
