"""Small helpers shared by the estimators: moving data to a model, batching, RNG forking."""
from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np
import torch
from torch import nn


def model_dtype(model: nn.Module) -> torch.dtype:
    """The dtype of the model's first floating-point parameter or buffer (float32 if none)."""
    for t in list(model.parameters()) + list(model.buffers()):
        if t.is_floating_point():
            return t.dtype
    return torch.float32


def model_device(model: nn.Module) -> torch.device:
    for t in list(model.parameters()) + list(model.buffers()):
        return t.device
    return torch.device("cpu")


def as_tensor(x, dtype: torch.dtype | None = None) -> torch.Tensor:
    """A torch tensor from a tensor or array-like (no copy when already a tensor of that dtype)."""
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    return t.to(dtype) if dtype is not None else t


def check_matrix(x: torch.Tensor, name: str = "x") -> None:
    if x.dim() != 2:
        raise ValueError(f"{name} must be 2-D (examples, features), got shape {tuple(x.shape)}")


def chunks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


@contextlib.contextmanager
def seeded(seed: int | None, device: torch.device):
    """Fork the global RNG (CPU and the model's CUDA device) and seed it; restore it afterwards.
    With seed=None the global RNG is used and advanced as usual."""
    if seed is None:
        yield
        return
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


@contextlib.contextmanager
def evaluation_mode(model: nn.Module):
    """model.eval() under torch.no_grad(), the previous train/eval mode restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def map_batches(model, x, fn, batch_size: int) -> torch.Tensor:
    """torch.cat of fn(batch) over x in batches, in eval mode without gradients, as float64 on the
    CPU; x moves to the model's device and dtype first."""
    x = as_tensor(x)
    check_matrix(x)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    x = x.to(device=model_device(model), dtype=model_dtype(model))
    with evaluation_mode(model):
        return torch.cat([fn(x[rows]).to(torch.float64).cpu() for rows in chunks(x.shape[0], batch_size)])
