"""MEM paper (Li, Zhu, Zhang 2016), Sec. 5.4 Table 2 and Appendix E Fig. 8: missing-value imputation by
a Markov chain (encode the current guess, sample z, decode, keep the observed pixels), run per trained
model and cached in its run folder (docs/protocols.md §2.5 E8; the chain is estimators.imputation_chain).

Beside the MSE per iteration the cache keeps each image's squared error on its missing pixels after the
last iteration, so that two models run on the same masks and starting values are compared image by
image: the difference of their MSEs with a paired standard error.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from ...estimators import corruption_mask, imputation_chain
from ...evaluation import cached_metric

CORRUPTIONS = {"RECT-12": ("rectangle", 12), "RAND-0.6": ("random", 0.6), "HALF": ("half", 14)}  # paper name -> mask


def masks(corruption: str, n: int, seed: int) -> torch.Tensor:
    """(n, 784) bool, True = observed: the paper's corruption of n MNIST images (RAND-0.6 drawn from `seed`)."""
    if corruption not in CORRUPTIONS:
        raise ValueError(f"corruption {corruption!r} is not one of {list(CORRUPTIONS)}")
    kind, param = CORRUPTIONS[corruption]
    return corruption_mask(n, (28, 28), kind, param, generator=torch.Generator().manual_seed(seed))


def snapshot_iterations(iterations: int, count: int = 10) -> list[int]:
    """About `count` evenly spaced iterations to keep images of, always 0 (the input) and the last."""
    every = max(1, iterations // count)
    return sorted(set(range(0, iterations + 1, every)) | {iterations})


def run_chain(run, x_true: torch.Tensor, corruption: str, *, iterations: int, batch_size: int, seed: int,
              n_show: int = 0) -> dict:
    """The chain of one trained run on `x_true` (N, 784) grey levels, cached in the run folder:
    {"mse_per_iteration": [T floats], "squared_error": [N floats: each image's sum over its missing pixels
    after iteration T], "missing": [N ints], "snapshots": {iteration: (n_show, 784) grey levels as 0..255}}.
    The masks draw from `seed`, the U[0,1) start from seed + 1, the chain's z from `seed`: the same for
    every model, so two models' chains differ only by the model."""
    n = x_true.shape[0]
    shown = snapshot_iterations(iterations) if n_show else []
    key = (f"imputation-{'-'.join(map(str, CORRUPTIONS[corruption]))}-n{n}-T{iterations}-seed{seed}-batch{batch_size}"
           f"-show{n_show}-per-image")

    def compute():
        mask = masks(corruption, n, seed)
        result = imputation_chain(run.model, x_true, mask, iterations=iterations, batch_size=batch_size,
                                  generator=torch.Generator().manual_seed(seed + 1), seed=seed,
                                  snapshot_iterations=shown, n_snapshot=n_show)
        # each image's sum over its missing pixels of (x_true - x_T)^2; their total / #missing is the last MSE
        error = ((x_true.double() - result.final.double()) ** 2 * (~mask)).sum(dim=1)  # (N,)
        return {"mse_per_iteration": result.mse_per_iteration, "squared_error": error.tolist(),
                "missing": (~mask).sum(dim=1).tolist(),
                "snapshots": {str(t): (v * 255).round().to(torch.uint8).tolist() for t, v in result.snapshots.items()}}

    return cached_metric(run.path, key, compute)


def final_mse(chains: Sequence[dict]) -> float:
    """The MSE after the last iteration, averaged over the seeds' chains (what Table 2 prints)."""
    if not chains:
        raise ValueError("no chains to average")
    return math.fsum(c["mse_per_iteration"][-1] for c in chains) / len(chains)


def snapshot(chain: dict, iteration: int) -> torch.Tensor:
    """The stored images of one iteration, (n_show, 784) in [0, 1]."""
    return torch.tensor(chain["snapshots"][str(iteration)], dtype=torch.float32) / 255


def mse_difference(chain_a: dict, chain_b: dict) -> dict:
    """MSE(a) - MSE(b) after the last iteration, with the standard error of the per-image differences:
    d_i = (e_a_i - e_b_i) / mean missing count, so that mean(d) is exactly the MSE difference (the same
    masks for both chains)."""
    if chain_a["missing"] != chain_b["missing"]:
        raise ValueError("the two chains ran on different masks: pair chains of the same corruption and seed")
    n, missing = len(chain_a["missing"]), sum(chain_a["missing"])
    if missing == 0:
        raise ValueError("no pixel is missing: nothing was imputed")
    d = [(a - b) * n / missing for a, b in zip(chain_a["squared_error"], chain_b["squared_error"])]
    mean = math.fsum(d) / n
    sem = math.sqrt(math.fsum((x - mean) ** 2 for x in d) / (n - 1) / n) if n > 1 else 0.0
    return {"mean": mean, "sem": sem, "n": n}


def seed_mse_differences(chains_a: Sequence[dict], chains_b: Sequence[dict]) -> list[dict]:
    """mse_difference of seed i's chains, for each training seed i."""
    if len(chains_a) != len(chains_b) or not chains_a:
        raise ValueError(f"pair the seeds: got {len(chains_a)} chains of one model and {len(chains_b)} of the other")
    return [mse_difference(a, b) for a, b in zip(chains_a, chains_b)]
