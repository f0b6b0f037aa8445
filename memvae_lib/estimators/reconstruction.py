"""Reconstruction error at the posterior mean: how much of x the code E_q[z | x] keeps (eVAE paper
Figs. 2-4: a smaller KL weight or no dropout gives sharper reconstructions, more nats kept).

    NLL_rec(x) = -log p(x | z = E_q[z | x]) = -sum_i [x_i log m_i + (1 - x_i) log(1 - m_i)],
    m = decoder mean at the posterior mean (`model.reconstruct`), the logs floored at -100 (torch).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ._util import as_tensor, check_matrix, chunks, evaluation_mode, model_device, model_dtype


def reconstruction_nll(model, x, *, batch_size: int = 1000) -> float:
    """Mean over x of the Bernoulli -log p(x | E_q[z | x]) in nats (x in [0, 1]: binary or grey).
    For Bernoulli decoders: a Gaussian decoder's mean is no probability."""
    likelihood = getattr(getattr(model, "config", None), "likelihood", "bernoulli")
    if likelihood != "bernoulli":
        raise ValueError(f"reconstruction_nll needs a Bernoulli decoder; this model's likelihood is {likelihood!r}")
    x = as_tensor(x)
    check_matrix(x)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    x = x.to(device=model_device(model), dtype=model_dtype(model))
    total = 0.0
    with evaluation_mode(model):
        for rows in chunks(x.shape[0], batch_size):
            m = model.reconstruct(x[rows])
            total += float(F.binary_cross_entropy(m, x[rows], reduction="none").to(torch.float64).sum())
    return total / x.shape[0]
