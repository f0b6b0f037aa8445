"""The one interface every model implements, so that the trainer and every estimator serve all of
them (VAE/IWAE, MEM-VAE, eVAE, mVAE) without knowing which they hold.

Shapes: x is (B, D_x) float in [0, 1]; z is (N, latent_dim); log-weights are (B, k) or, for models
with a discrete selector (eVAE, mVAE), (B, S, k) with log p(y) already added (see
`objectives.iwae_bound`).
"""
from __future__ import annotations

import dataclasses
import functools
from abc import ABC, abstractmethod
from typing import Iterator

import torch
from torch import nn

from ..nets import batch_norm_layers, collecting_batch_norm


# Methods whose tensor inputs (x, z) follow the model's dtype: a float32 image batch or prior draw
# given to a float64 model (the smoke profile, `RunSpec.dtype`) is cast at the boundary, so that
# notebooks and estimators never need to know the dtype. A no-op for inputs already in it.
INPUT_METHODS = ("log_weights", "training_loss", "decode_mean", "posterior_mean", "sample_posterior",
                 "kl_per_unit", "encode", "decode", "encoder_features", "attention", "assign_epitomes",
                 "epitome_costs", "conditional_log_weights", "reconstruct", "prepare_evaluation")
INPUT_KEYWORDS = ("x", "z", "z_in", "x_train")


def _follow(value, dtype: torch.dtype):
    if isinstance(value, torch.Tensor) and value.is_floating_point() and value.dtype != dtype:
        return value.to(dtype)
    return value


def _inputs_follow_model_dtype(method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        dtype = self.dtype
        args = tuple(_follow(a, dtype) for a in args)
        kwargs = {k: _follow(v, dtype) if k in INPUT_KEYWORDS else v for k, v in kwargs.items()}
        return method(self, *args, **kwargs)

    return wrapper


class LatentVariableModel(nn.Module, ABC):
    """p(z) p(x|z) with an amortised q(z|x). Subclasses set `config` and `latent_dim`."""

    config: object
    latent_dim: int

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in INPUT_METHODS:
            if name in cls.__dict__ and callable(cls.__dict__[name]):
                setattr(cls, name, _inputs_follow_model_dtype(cls.__dict__[name]))

    # ---- required -----------------------------------------------------------------------------
    @abstractmethod
    def log_weights(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """log p(x, z_j) - log q(z_j | x) for k samples z_j ~ q(z | x): (B, k) or (B, S, k)."""

    @abstractmethod
    def training_loss(self, x: torch.Tensor, **batch) -> tuple[torch.Tensor, dict[str, float]]:
        """The scalar minimised by the trainer (a batch *mean*, as MEM_DGM) and floats to log.
        `batch` holds whatever `minibatches` yields beside x (the eVAE's assignments y*)."""

    @abstractmethod
    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        """Mean of p(x | z) in data space, (N, D_x): Bernoulli probabilities or Gaussian means."""

    @abstractmethod
    def posterior_mean(self, x: torch.Tensor) -> torch.Tensor:
        """E_q[z | x], (B, latent_dim): the statistic of active units (eVAE: m_{y*} * mu(x))."""

    @abstractmethod
    def sample_posterior(self, x: torch.Tensor) -> torch.Tensor:
        """One z ~ q(z | x) per example, (B, latent_dim) (the imputation chain, MEM E8)."""

    @abstractmethod
    def kl_per_unit(self, x: torch.Tensor) -> torch.Tensor:
        """Analytic KL(q(z_d | x) || p(z_d)) per latent unit, (B, latent_dim)."""

    @abstractmethod
    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n latent codes from the prior (eVAE: y ~ uniform, z ~ N(0, I), masked by m_y)."""

    # ---- provided -----------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Decoder means of n prior samples (the images in the generation figures)."""
        return self.decode_mean(self.sample_prior(n, generator))

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decoder mean at the posterior mean."""
        return self.decode_mean(self.posterior_mean(x))

    def minibatches(self, x: torch.Tensor, batch_size: int, generator: torch.Generator) -> Iterator[dict]:
        """One epoch of training batches: shuffled, floor(N / batch) batches, the partial last batch
        dropped (§1.1). Models that need per-epoch assignments (eVAE) override this."""
        order = torch.randperm(x.shape[0], generator=generator, device="cpu").to(x.device)
        for i in range(x.shape[0] // batch_size):
            yield {"x": x[order[i * batch_size:(i + 1) * batch_size]]}

    @torch.no_grad()
    def prepare_evaluation(self, x_train: torch.Tensor, chunk: int | None = None) -> None:
        """Recompute batch-norm statistics from one full-batch pass over the training set (§1.6).

        A no-op for models without batch norm. The pass runs the whole generative path once with
        one z ~ q per example (eq = iw = 1), so every BN layer sees its own full-batch statistics.
        """
        if next(batch_norm_layers(self), None) is None:
            return
        was_training = self.training
        self.eval()
        with collecting_batch_norm(self):
            self.log_weights(x_train, 1)
        self.train(was_training)


def config_dict(config) -> dict:
    """A config dataclass as a plain dict with its class name, for hashing and saving."""
    return {"class": type(config).__name__, **dataclasses.asdict(config)}
