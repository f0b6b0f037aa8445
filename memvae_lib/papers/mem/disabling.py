"""MEM paper (Li, Zhu, Zhang 2016), Appendix C Fig. 6: generating with the memory switched off. The
memory read-out h_m of a layer is replaced by "a vector filled with ones" (docs/protocols.md §2.5 E9);
it still goes through the learned ladder composition, h = f(h_g, h_m), which is not bypassed.

The paper shows pictures: "the main pattern of the generation does not change much but the local
details are lost". Two numbers make that checkable, each per prior sample z, with another sample z'
(the next in the batch) as the scale of "a different image":

    change ratio        r(z) = mean_pixels |x_off(z) - x_on(z)| / mean_{z, pixels} |x_on(z') - x_on(z)|
    pattern similarity  s(z) = (rho(x_off(z), x_on(z)) - rho_between) / (1 - rho_between)

rho is the Pearson correlation over pixels and rho_between its mean between x_on(z) and x_on(z').
r = 0: switching the memory off changes nothing (the memory is not used); r = 1: as much as another
sample. s = 1: the intact image's pattern; s = 0: no more alike than another sample.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

SWITCHED_OFF = {"none": (), "layer 1": (1,), "layer 2": (2,), "both": (1, 2)}  # the layers whose h_m is replaced
STATISTIC_SAMPLES = 1000  # prior samples behind the numbers (the figure shows 20 of them)


@torch.no_grad()
def decode(model, z: torch.Tensor, off: str, value: str = "ones") -> torch.Tensor:
    """Decoder means with the memories of `off` ("none", "layer 1", "layer 2", "both") replaced by
    `value` ("ones": the paper; "zeros": a code-only variant), on the CPU, (n, 784)."""
    if off not in SWITCHED_OFF:
        raise ValueError(f"off={off!r} is not one of {list(SWITCHED_OFF)}")
    return model.decode_mean(z, memory_override={layer: value for layer in SWITCHED_OFF[off]}).double().cpu()


def _rowwise_correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of each row of a with the same row of b, (n,)."""
    a, b = a - a.mean(dim=1, keepdim=True), b - b.mean(dim=1, keepdim=True)
    return (a * b).sum(dim=1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-300)


def _mean_sem(x: torch.Tensor) -> dict:
    n = x.shape[0]
    return {"mean": float(x.mean()), "sem": float(x.std(unbiased=True)) / math.sqrt(n) if n > 1 else 0.0}


@dataclass
class DisablingStatistics:
    """Fig. 6's numbers for one model, each {"mean", "sem" over the prior samples}."""

    change_ratio: dict[str, dict]   # off -> r
    similarity: dict[str, dict]     # off -> s
    change: dict[str, float]        # off -> mean |x_off - x_on| per pixel
    between_samples: float          # mean |x_on(z') - x_on(z)| per pixel (the scale)
    rho_between: float              # mean correlation between two different samples


def disabling_statistics(model, z: torch.Tensor, value: str = "ones") -> DisablingStatistics:
    """r and s (module docstring) for each switched-off variant, from the prior samples z (n, latent)."""
    if z.shape[0] < 2:
        raise ValueError("need at least 2 prior samples: the scale is the difference between two of them")
    intact = decode(model, z, "none", value)     # (n, 784)
    other = intact.roll(1, dims=0)               # another sample for each z
    between = float((intact - other).abs().mean())
    rho_between = float(_rowwise_correlation(intact, other).mean())
    if between == 0 or rho_between >= 1:
        raise ValueError("every prior sample decodes to the same image: there is no scale to compare with")
    ratio, similarity, change = {}, {}, {}
    for off in ("layer 1", "layer 2", "both"):
        changed = decode(model, z, off, value)
        per_sample = (changed - intact).abs().mean(dim=1)  # (n,)
        change[off] = float(per_sample.mean())
        ratio[off] = _mean_sem(per_sample / between)
        similarity[off] = _mean_sem((_rowwise_correlation(changed, intact) - rho_between) / (1 - rho_between))
    return DisablingStatistics(ratio, similarity, change, between, rho_between)
