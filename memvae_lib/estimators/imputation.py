"""Missing-value imputation by iterating encode -> sample -> decode (MEM paper Table 2 / Fig. 8;
docs/protocols.md §2.5 E8, code `generate_pertubed_data_mnist.py` and `mem_dgm_mlp_analysis.py:752-797`).

Corruption of the real-valued test images (mask: True = observed):
  'rectangle' p  centred p x p square missing (p = 12 on 28x28: rows/cols 8..19)
  'random'    p  each pixel missing i.i.d. with probability p (0.6)
  'half'      p  columns 0..p-1 missing (p = 14: the left half)

Chain: missing pixels start U[0,1); each iteration, over batches of 1000, encode the current x
(real-valued, not binarised) with batch norm in batch mode, draw one z ~ q(z | x), decode the mean
x_hat and set  x_{t+1} = m * x_true + (1 - m) * x_hat.  Metric after each iteration:
  MSE_t = sum over the missing pixels of all images (x_true - x_t)^2 / #missing.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable

import torch

from ._util import as_tensor, check_matrix, chunks, evaluation_mode, model_device, model_dtype, seeded
from ..nets import batch_norm_in_batch_mode

CORRUPTIONS = ("rectangle", "random", "half")


def corruption_mask(n: int, image_shape: tuple[int, int] = (28, 28), kind: str = "rectangle",
                    param: float = 12, generator: torch.Generator | None = None) -> torch.Tensor:
    """(n, H*W) bool, True = observed, pixels in row-major order (index r * W + c)."""
    h, w = image_shape
    if kind not in CORRUPTIONS:
        raise ValueError(f"kind={kind!r} is not one of {CORRUPTIONS}")
    if kind == "random":
        if not 0.0 <= float(param) <= 1.0:
            raise ValueError(f"'random' needs a missing probability in [0, 1], got {param!r}")
        return torch.rand(n, h * w, generator=generator) >= float(param)
    if int(param) != param:
        raise ValueError(f"{kind!r} needs an integer size, got {param!r}")
    p = int(param)
    image = torch.ones(h, w, dtype=torch.bool)
    if kind == "rectangle":
        if not 1 <= p <= min(h, w):
            raise ValueError(f"'rectangle' size must be in 1..{min(h, w)}, got {p}")
        r0, c0 = (h - p) // 2, (w - p) // 2
        image[r0:r0 + p, c0:c0 + p] = False
    else:  # half
        if not 1 <= p <= w:
            raise ValueError(f"'half' needs a column count in 1..{w}, got {p}")
        image[:, :p] = False
    return image.flatten().expand(n, h * w).clone()


@dataclasses.dataclass
class ImputationResult:
    mse_per_iteration: list  # float per iteration 1..T
    final: torch.Tensor  # (N, D) after the last iteration, CPU
    snapshots: dict  # iteration -> (n_snapshot, D) CPU tensor; iteration 0 = the noisy input


def imputation_chain(
    model,
    x_true,
    observed_mask,
    iterations: int = 100,
    batch_size: int = 1000,
    generator: torch.Generator | None = None,
    *,
    seed: int | None = None,
    snapshot_iterations: Iterable[int] = (),
    n_snapshot: int = 100,
) -> ImputationResult:
    """Run the E8 chain. `generator` draws the U[0,1) initial values; `seed` additionally forks and
    seeds the global RNG used by `model.sample_posterior` (and seeds the initial values when no
    generator is given), making the whole chain deterministic.

    Batch norm normalises with each batch's statistics (nets.batch_norm_in_batch_mode) in both the
    encoder and the decoder, as the original Theano graph in training mode; nothing else is in
    training mode and no statistics are stored.
    """
    x_true = as_tensor(x_true)
    mask = as_tensor(observed_mask).bool()
    check_matrix(x_true, "x_true")
    if mask.shape != x_true.shape:
        raise ValueError(f"observed_mask shape {tuple(mask.shape)} != x_true shape {tuple(x_true.shape)}")
    if iterations < 0 or batch_size < 1:
        raise ValueError("need iterations >= 0 and batch_size >= 1")
    snapshot_iterations = sorted(set(int(t) for t in snapshot_iterations))
    if any(t < 0 or t > iterations for t in snapshot_iterations):
        raise ValueError(f"snapshot_iterations must lie in 0..{iterations}")
    if generator is None and seed is not None:
        generator = torch.Generator().manual_seed(seed)

    device, dtype = model_device(model), model_dtype(model)
    x_true = x_true.to(device=device, dtype=dtype)
    mask = mask.to(device)
    noise = torch.rand(x_true.shape, generator=generator, dtype=dtype).to(device)
    x = torch.where(mask, x_true, noise)
    n_missing = int((~mask).sum())
    snapshots = {0: x[:n_snapshot].cpu().clone()} if 0 in snapshot_iterations else {}
    mse = []
    with evaluation_mode(model), batch_norm_in_batch_mode(model), seeded(seed, device):
        for t in range(1, iterations + 1):
            sq_err = 0.0
            for rows in chunks(x.shape[0], batch_size):
                z = model.sample_posterior(x[rows])
                x_hat = model.decode_mean(z)
                x[rows] = torch.where(mask[rows], x_true[rows], x_hat.to(dtype))
                sq_err += float(((x_true[rows] - x[rows]).double() ** 2)[~mask[rows]].sum())
            mse.append(sq_err / max(n_missing, 1))
            if t in snapshot_iterations:
                snapshots[t] = x[:n_snapshot].cpu().clone()
    return ImputationResult(mse_per_iteration=mse, final=x.cpu(), snapshots=snapshots)
