"""MLP building blocks shared by every model: Dense -> BatchNorm -> scale/shift -> activation.

This ports the MEM_DGM `batchnormlayer` (docs/protocols.md §2.2) and Parmesan's `NormalizeLayer` (§1.6):

* the dense layer has its own bias (initialised to 0) *and* the batch norm has a learned scale
  gamma (init 1) and shift beta (init 0); both count towards the parameter totals of MEM Table 3;
* batch norm divides by sqrt(var + 1e-10) with the *biased* variance;
* at evaluation the stored statistics are not running averages: they are recomputed from one
  full-batch pass over the training set (`collect_batch_norm_statistics`), as the original code does
  before every evaluation.
"""
from __future__ import annotations

import contextlib
import math
from typing import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

BN_EPS = 1e-10

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "identity": nn.Identity}


def glorot_uniform_(weight: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    """Lasagne GlorotUniform: U(+-gain*sqrt(6 / (fan_in + fan_out)))."""
    fan_out, fan_in = weight.shape  # nn.Linear stores (out, in)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        return weight.uniform_(-bound, bound)


def dense(n_in: int, n_out: int) -> nn.Linear:
    """A Glorot-uniform, zero-bias linear layer (the init of every dense layer in MEM_DGM)."""
    layer = nn.Linear(n_in, n_out)
    glorot_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class BatchNorm(nn.Module):
    """Parmesan NormalizeLayer + learned scale/shift.

    Modes:
      training            normalise with this batch's mean / biased variance;
      eval                normalise with the stored statistics;
      collecting (flag)   normalise with this batch's statistics *and* store them (§1.6).
    """

    def __init__(self, n: int, eps: float = BN_EPS, affine: bool = True):
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(n)) if affine else None
        self.beta = nn.Parameter(torch.zeros(n)) if affine else None
        self.register_buffer("stored_mean", torch.zeros(n))
        self.register_buffer("stored_var", torch.ones(n))
        self.collecting = False

    def _statistics(self, x: torch.Tensor):
        """(mean, var) to normalise with: stored ones in eval mode, else None (batch statistics)."""
        if self.collecting:
            var, mean = torch.var_mean(x.detach(), 0, unbiased=False)
            self.stored_mean.copy_(mean)
            self.stored_var.copy_(var)
        if self.training or self.collecting:
            return None, None
        return self.stored_mean, self.stored_var

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """(x - mean) / sqrt(var + eps), without gamma/beta (the LRE compares this tensor).
        torch's fused batch_norm normalises with the biased batch variance, as Parmesan does."""
        mean, var = self._statistics(x)
        return F.batch_norm(x, mean, var, training=mean is None, eps=self.eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean, var = self._statistics(x)
        return F.batch_norm(x, mean, var, self.gamma, self.beta, training=mean is None, eps=self.eps)


class DenseBlock(nn.Module):
    """h = act(gamma * BN(W x + b) + beta); without batch norm: h = act(W x + b)."""

    def __init__(self, n_in: int, n_out: int, activation: str = "relu", batch_norm: bool = True):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation={activation!r} is not one of {sorted(ACTIVATIONS)}")
        self.linear = dense(n_in, n_out)
        self.bn = BatchNorm(n_out) if batch_norm else None
        self.act = ACTIVATIONS[activation]()

    def forward(self, x: torch.Tensor, return_normalised: bool = False):
        """Returns h, or (h, n) where n is the normalised pre-activation (post-activation
        output without batch norm), the encoder-side tensor of the MEM local reconstruction error."""
        a = self.linear(x)
        if self.bn is None:
            h = self.act(a)
            return (h, h) if return_normalised else h
        if not return_normalised:
            return self.act(self.bn(a))
        n = self.bn.normalise(a)
        return self.act(n * self.bn.gamma + self.bn.beta), n


class MLP(nn.Module):
    """A stack of DenseBlocks of the given widths."""

    def __init__(self, n_in: int, widths: Sequence[int], activation: str = "relu", batch_norm: bool = True):
        super().__init__()
        dims = [n_in, *widths]
        self.blocks = nn.ModuleList(
            DenseBlock(a, b, activation, batch_norm) for a, b in zip(dims[:-1], dims[1:])
        )

    @property
    def out_dim(self) -> int:
        return self.blocks[-1].linear.out_features

    def forward(self, x: torch.Tensor, return_normalised: bool = False):
        """Returns the last hidden layer, or (last, [normalised pre-activation of each layer])."""
        if not return_normalised:
            for block in self.blocks:
                x = block(x)
            return x
        normalised = []
        for block in self.blocks:
            x, n = block(x, return_normalised=True)
            normalised.append(n)
        return x, normalised


def batch_norm_layers(model: nn.Module) -> Iterator[BatchNorm]:
    return (m for m in model.modules() if isinstance(m, BatchNorm))


@contextlib.contextmanager
def collecting_batch_norm(model: nn.Module):
    """Within the block, every BatchNorm normalises with batch statistics and stores them."""
    layers = list(batch_norm_layers(model))
    for layer in layers:
        layer.collecting = True
    try:
        yield
    finally:
        for layer in layers:
            layer.collecting = False


@contextlib.contextmanager
def batch_norm_in_batch_mode(model: nn.Module):
    """Batch norm uses each batch's statistics (the imputation chain, MEM E8), nothing else changes."""
    layers = list(batch_norm_layers(model))
    previous = [layer.training for layer in layers]
    for layer in layers:
        layer.train(True)
    try:
        yield
    finally:
        for layer, mode in zip(layers, previous):
            layer.train(mode)


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Exact parameter count: weights, biases and BN gamma/beta; never the BN statistics (buffers)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
