"""Importance-weighted estimate of log p(x) (Burda et al. 2016; docs/protocols.md §1.4, §3.8, §6 P2).

For each example x draw z_1..z_k ~ q(z | x), log w_j = log p(z_j) + log p(x | z_j) - log q(z_j | x):

    L_k(x) = m + log( (1/k) sum_j exp(log w_j - m) ),   m = max_j log w_j

P2: the log-mean-exp runs per example, never across the batch, in float64. Samples are drawn in
chunks so that k = 5000 (MNIST) or 100,000 (OCR) fits in memory: each chunk contributes a
logsumexp, the chunks are combined with logaddexp, and log k is subtracted once at the end.
Models with a discrete selector (eVAE) give log-weights (B, S, k) with log p(y) inside; each stratum
is accumulated separately and the strata are combined by logsumexp (§3.8):
    log p(x) ~= logsumexp_y [ log p(y) + log-mean-exp_j log w_{y,j} ].
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..compiling import check_compile_mode, compiled_method
from ..progress import progress as progress_bar
from ._util import as_tensor, check_matrix, chunks, evaluation_mode, model_device, model_dtype, seeded


# Default working-set sizes per call of log_weights: on a CPU, chunks that stay in the cache are
# faster than large ones (4 MB ran 1.5-2x faster than 256 MB on a 2-core Xeon, 2 MB L2 per core); a GPU
# wants large batches to fill its cores.
DEFAULT_MEMORY_BUDGET_MB = {"cpu": 4, "cuda": 512}


def _plan(n: int, k: int, d_x: int, bytes_per_float: int, memory_budget_mb: float,
          example_batch: int | None) -> tuple[int, int]:
    """(examples per call, samples per call) so that examples x samples x D_x floats fit the budget."""
    budget = max(1, int(memory_budget_mb * 2**20 // (bytes_per_float * max(d_x, 1))))  # in (example, sample) pairs
    if example_batch is None:
        example_batch = max(1, min(n, budget // k)) if budget >= k else 1
    k_chunk = max(1, min(k, budget // example_batch))
    return example_batch, k_chunk


def iw_log_likelihood(
    model,
    x,
    k: int = 5000,
    *,
    memory_budget_mb: float | None = None,
    example_batch: int | None = None,
    seed: int | None = None,
    progress: bool | None = None,
    compile_mode: str | None = None,
) -> torch.Tensor:
    """Per-example L_k(x), a float64 CPU tensor of shape (N,) (§1.4; mean it for the table entry).

    The model is put in eval mode (stored batch-norm statistics: call `model.prepare_evaluation`
    first) and run under no_grad on its own device. Each call `model.log_weights(x_chunk, k_chunk)`
    holds about example_batch x k_chunk x D_x floats, sized to `memory_budget_mb` (default by
    device: `DEFAULT_MEMORY_BUDGET_MB`) unless `example_batch` is given. With `seed`, the global RNG
    is forked and seeded (the caller's RNG state is unchanged afterwards); the samples then depend
    on the seed, the chunking and the device. `progress`: a bar over the calls; None shows it where
    `memvae_lib.progress` does (a terminal, a JupyterLab kernel, a log line of `memvae eval`), never
    under papermill, nbval or CI. `compile_mode`: None (eager) or a `torch.compile` mode for
    `model.log_weights` (`memvae_lib.compiling`: the same estimate, other float rounding and,
    unless Inductor falls back to eager random numbers, other samples).
    """
    check_compile_mode(compile_mode)
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    if memory_budget_mb is not None and not memory_budget_mb > 0:
        raise ValueError(f"memory_budget_mb must be > 0 (or None for the device default), got {memory_budget_mb!r}")
    if example_batch is not None and example_batch < 1:
        raise ValueError(f"example_batch must be >= 1, got {example_batch!r}")
    device, dtype = model_device(model), model_dtype(model)
    x = as_tensor(x)
    check_matrix(x)
    x = x.to(device=device, dtype=dtype)
    n, d_x = x.shape
    if memory_budget_mb is None:
        memory_budget_mb = DEFAULT_MEMORY_BUDGET_MB.get(device.type, DEFAULT_MEMORY_BUDGET_MB["cpu"])
    log_weights = compiled_method(model, "log_weights", compile_mode, device)  # x is in its dtype already
    batch, k_chunk = _plan(n, int(k), d_x, x.element_size(), memory_budget_mb, example_batch)
    n_calls = math.ceil(n / batch) * math.ceil(k / k_chunk)
    bar = progress_bar(total=n_calls, desc=f"L_{k} estimate", unit="chunk", enabled=progress)

    out = torch.empty(n, dtype=torch.float64)
    with bar, evaluation_mode(model), seeded(seed, device):  # the bar closes on an exception too
        for rows in chunks(n, batch):
            acc = None  # running logsumexp of the log-weights, (B,) or (B, S), float64
            for ks in chunks(int(k), k_chunk):
                log_w = log_weights(x[rows], ks.stop - ks.start).to(torch.float64)
                if log_w.shape[0] != rows.stop - rows.start or log_w.shape[-1] != ks.stop - ks.start:
                    raise ValueError(f"log_weights returned shape {tuple(log_w.shape)}, expected "
                                     f"({rows.stop - rows.start}, [S,] {ks.stop - ks.start})")
                part = torch.logsumexp(log_w, dim=-1)
                acc = part if acc is None else torch.logaddexp(acc, part)
                bar.update(1)
            # L_k = logsumexp_j log w_j - log k, per stratum; strata (log p(y) inside) by logsumexp
            per_stratum = acc - math.log(k)
            est = torch.logsumexp(per_stratum, dim=-1) if per_stratum.dim() == 2 else per_stratum
            out[rows] = est.cpu()
    if torch.isnan(out).any():
        raise FloatingPointError(f"{int(torch.isnan(out).sum())} of {n} log-likelihood estimates are NaN")
    return out


def iw_summary(values) -> dict:
    """Mean, std (ddof 0), standard error std/sqrt(n) and n of per-example estimates."""
    v = as_tensor(values).to(torch.float64).flatten()
    n = v.numel()
    if n == 0:
        raise ValueError("iw_summary needs at least one value")
    std = float(v.std(unbiased=False))
    return {"mean": float(v.mean()), "std": std, "sem": std / math.sqrt(n), "n": n}
