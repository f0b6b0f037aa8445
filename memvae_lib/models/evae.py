"""Epitomic VAE (docs/protocols.md §3; equation numbers of the ICML 2017 workshop version, §3.9).

S. Yeung, A. Kannan, Y. Dauphin, L. Fei-Fei, *Tackling Over-pruning in Variational Autoencoders*, 2017.

A D-dimensional VAE made of E overlapping "epitomes": each example is explained by K contiguous
latent units chosen by a selector y with a uniform prior, so a unit carries KL only for the
examples whose epitome contains it, and the model can keep more units active than a VAE (Sec. 4.1).

    p(x|y,z) = N(x; f1(m_y * z), exp(f2(m_y * z)))                        (eq. 5; Bernoulli on MNIST, §3.5)
    q(z,y|x) = q(y|x) N(z; m_y * mu(x), exp(m_y * phi(x)))                  (eq. 6)
    C(x, y)  = -E_q log p(x|y,z) + sum_{d in y} KL(q(z_d|x) || p(z_d)) + log E  (eq. 7-8, q(y|x) = delta(y - y*))

Training is Algorithm 1: every epoch assign y* = argmin_y C(x, y), then take gradient steps on
minibatches balanced by epitome with (x, y*) fixed (`base.HardAssignmentModel`, shared with the mVAE).
`min_assigned` > 0 adds the project's guard against epitomes that no example chooses, which the
paper leaves open (`base.assign_with_minimum`, docs/protocols.md §3.5): the Olivetti specs use it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from ..nets import MLP, dense
from ..objectives import bernoulli_nll_logits, kl_standard_normal, log_normal, log_standard_normal
from ._checks import check_activation, check_hidden, check_likelihood, check_sizes, fail, is_int, lists_to_tuples
from .base import OMIT_AT_DEFAULT, HardAssignmentModel, balanced_minibatch_indices  # noqa: F401 (importable from here, as before)


@dataclass(frozen=True)
class EVAEConfig:
    # data
    input_dim: int = 784
    # networks (fully connected, Sec. 5)
    hidden: tuple[int, ...] = (500,)       # encoder widths, layer 1 nearest x; the decoder uses them reversed
    activation: str = "relu"               # "relu" | "tanh"
    batch_norm: bool = False
    # latent space and epitomes (Sec. 4, §3.2)
    latent_dim: int = 50                   # D
    epitome_size: int = 5                  # K contiguous active units per epitome
    stride: int = 5                        # s: s = K non-overlapping, s = 1 fully overlapping
    # likelihood
    likelihood: str = "bernoulli"          # "bernoulli" (MNIST, §3.5) | "gaussian" (faces: learned diagonal log-variance, eq. 5)
    logvar_floor: float | None = None      # floor on the Gaussian decoder log-variance (§3.5); None = none
    # training: every epitome trained on >= this many examples per epoch (base.assign_with_minimum);
    # 0 = Algorithm 1's plain argmin. Left out of the run hash at 0, so older runs keep their folders.
    min_assigned: int = field(default=0, metadata=OMIT_AT_DEFAULT)

    def __post_init__(self):
        lists_to_tuples(self, "hidden")
        check_sizes(self, "input_dim", "latent_dim", "epitome_size", "stride")
        check_hidden(self.hidden)
        if self.epitome_size > self.latent_dim:
            fail("epitome_size", self.epitome_size, f"K must be <= latent_dim D = {self.latent_dim}")
        if self.stride > self.epitome_size:
            fail("stride", self.stride, f"must be <= epitome_size K = {self.epitome_size} "
                 "(a larger stride leaves latent units in no epitome)")
        check_activation(self.activation)
        if not isinstance(self.batch_norm, bool):
            fail("batch_norm", self.batch_norm, "must be True or False")
        check_likelihood(self.likelihood)
        if self.logvar_floor is not None:
            if isinstance(self.logvar_floor, bool) or not isinstance(self.logvar_floor, (int, float)) \
                    or not math.isfinite(self.logvar_floor):
                fail("logvar_floor", self.logvar_floor, "must be None or a finite number")
            if self.likelihood != "gaussian":
                fail("logvar_floor", self.logvar_floor, "only a 'gaussian' likelihood has a log-variance to floor")
        if not is_int(self.min_assigned, low=0):
            fail("min_assigned", self.min_assigned, "must be an integer >= 0 (0: no guard)")

    @property
    def num_epitomes(self) -> int:
        return len(epitome_starts(self.latent_dim, self.epitome_size, self.stride))

    def describe(self) -> str:
        net = "-".join(str(h) for h in (self.input_dim, *self.hidden, self.latent_dim))
        return ", ".join([f"{type(self).__name__} {net}", f"K={self.epitome_size} s={self.stride} "
                          f"E={self.num_epitomes}", self.activation + ("+BN" if self.batch_norm else ""),
                          self.likelihood + (f" floor {self.logvar_floor}" if self.logvar_floor is not None else "")]
                         + ([f"min_assigned {self.min_assigned}"] if self.min_assigned else []))


def epitome_starts(latent_dim: int, epitome_size: int, stride: int) -> list[int]:
    """First unit of each epitome: 0, s, 2s, ... <= D - K, then D - K if not reached (§3.2 default)."""
    starts = list(range(0, latent_dim - epitome_size + 1, stride))
    if (latent_dim - epitome_size) % stride != 0:
        starts.append(latent_dim - epitome_size)
    return starts


def epitome_masks(latent_dim: int, epitome_size: int, stride: int) -> torch.Tensor:
    """The masks m_y of eq. 5-6 as a bool tensor (E, D): K contiguous ones per row.

    Starts 0, s, 2s, ... <= D - K, plus a final epitome at D - K when (D - K) mod s != 0, so every
    unit lies in some epitome (§3.2 default). Examples:
        D=20, K=2, s=1 -> 19 epitomes;   D=48, K=4, s=4 -> 12;   D=8, K=3, s=3 -> starts 0, 3, 5;
        D=K=s -> one epitome of all ones (a plain VAE).
    """
    if not (1 <= epitome_size <= latent_dim and 1 <= stride):
        raise ValueError(f"need 1 <= epitome_size <= latent_dim and stride >= 1, "
                         f"got D={latent_dim}, K={epitome_size}, s={stride}")
    starts = torch.tensor(epitome_starts(latent_dim, epitome_size, stride))
    units = torch.arange(latent_dim)
    return (units >= starts[:, None]) & (units < starts[:, None] + epitome_size)


def log_likelihood(x: torch.Tensor, out, likelihood: str) -> torch.Tensor:
    """log p(x | decoder output), summed over the last (pixel) axis: Bernoulli from unclipped logits,
    or Gaussian N(x; mean, exp(logvar)) of eq. 5 from `out = (mean, logvar)`."""
    if likelihood == "bernoulli":
        return -bernoulli_nll_logits(x.expand_as(out), out).sum(-1)
    mean, logvar = out
    return log_normal(x, mean, logvar).sum(-1)


class EpitomicVAE(HardAssignmentModel):
    """Encoder MLP(hidden) -> mu, phi = log sigma^2 in R^D; one decoder MLP(reversed hidden) shared by
    all epitomes, fed m_y * z (masked units zeroed at the input, not removed, §3.2)."""

    def __init__(self, config: EVAEConfig):
        super().__init__()
        self.config = c = config
        self.latent_dim = c.latent_dim
        masks = epitome_masks(c.latent_dim, c.epitome_size, c.stride)
        self.num_epitomes = masks.shape[0]
        self.register_buffer("masks", masks, persistent=False)                     # (E, D) bool
        starts = torch.tensor(epitome_starts(c.latent_dim, c.epitome_size, c.stride))
        self.register_buffer("active_units", starts[:, None] + torch.arange(c.epitome_size),
                             persistent=False)                                       # (E, K) long
        self.encoder = MLP(c.input_dim, c.hidden, c.activation, c.batch_norm)
        self.mu_head, self.logvar_head = dense(c.hidden[-1], c.latent_dim), dense(c.hidden[-1], c.latent_dim)
        self.decoder = MLP(c.latent_dim, c.hidden[::-1], c.activation, c.batch_norm)
        self.mean_head = dense(c.hidden[0], c.input_dim)      # Bernoulli logits or Gaussian mean, f1
        self.x_logvar_head = dense(c.hidden[0], c.input_dim) if c.likelihood == "gaussian" else None  # f2

    # ---- networks -----------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """mu = h1(x), phi = h2(x), both (B, D), before masking (eq. 6)."""
        h = self.encoder(x)
        return self.mu_head(h), self.logvar_head(h)

    def decode(self, z_in: torch.Tensor):
        """Decoder output for decoder inputs m_y * z (..., D): logits, or (mean, logvar) (eq. 5)."""
        shape = z_in.shape[:-1]
        h = self.decoder(z_in.reshape(-1, self.latent_dim))
        mean = self.mean_head(h).reshape(*shape, -1)
        if self.x_logvar_head is None:
            return mean
        logvar = self.x_logvar_head(h).reshape(*shape, -1)
        if self.config.logvar_floor is not None:
            logvar = logvar.clamp(min=self.config.logvar_floor)
        return mean, logvar

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        """f1(z) for decoder inputs z that are already masked (every latent this model returns is)."""
        out = self.decode(z)
        return torch.sigmoid(out) if self.x_logvar_head is None else out[0]

    def _log_px(self, x: torch.Tensor, z_in: torch.Tensor) -> torch.Tensor:
        """log p(x|y,z) for decoder inputs z_in (B, ..., D) -> (B, ...)."""
        x = x.reshape(x.shape[0], *([1] * (z_in.dim() - 2)), x.shape[-1])
        return log_likelihood(x, self.decode(z_in), self.config.likelihood)

    def _masked_posterior(self, x: torch.Tensor, y: torch.Tensor):
        """q(z|y,x) = N(m_y * mu, exp(m_y * phi)) (eq. 6): masked units are N(0, 1), the prior."""
        mu, phi = self.encode(x)
        m = self.masks[y].to(mu.dtype)                                 # (B, D)
        return m, m * mu, m * phi

    # ---- Algorithm 1 --------------------------------------------------------------------------
    def epitome_costs(self, x: torch.Tensor) -> torch.Tensor:
        """C(x, y) for every y with z = m_y * mu (§3.5): -log p(x | y, m_y * mu) + sum_{d in y} KL_d.
        One decoder pass per epitome per example (P8). (B, E); the constant log E is left out."""
        mu, phi = self.encode(x)
        m = self.masks.to(mu.dtype)                                    # (E, D)
        kl = kl_standard_normal(mu, phi) @ m.T                         # eq. 8: K KL terms per y, (B, E)
        return -self._log_px(x, mu[:, None, :] * m) + kl

    def training_loss(self, x: torch.Tensor, y: torch.Tensor | None = None, **_) -> tuple[torch.Tensor, dict]:
        """Batch mean of eq. 7 with q(y|x) = delta(y - y*), one reparameterised z per example:
        -log p(x|y,z) + sum_{d in y} KL(q(z_d|x) || p(z_d)) + KL(delta_y* || uniform) = ... + log E."""
        if y is None:
            y = self.assign_epitomes(x)
        m, q_mu, q_logvar = self._masked_posterior(x, y)
        z = q_mu + torch.exp(0.5 * q_logvar) * torch.randn_like(q_mu)  # masked units: a prior draw
        recon = -self._log_px(x, m * z)                                # decoder sees m_y * z (eq. 5)
        kl = kl_standard_normal(q_mu, q_logvar).sum(-1)                # masked units: exactly 0 (eq. 8)
        loss = (recon + kl).mean() - self.log_prior_y
        return loss, {"loss": loss.item(), "recon": recon.mean().item(), "kl": kl.mean().item()}

    # ---- estimators ---------------------------------------------------------------------------
    def conditional_log_weights(self, x: torch.Tensor, k: int, return_inputs: bool = False):
        """log p(x|y,z) + log p(z) - log q(z|y,x), z ~ q(z|y,x), for every y: (B, E, k).

        Only the K active units are sampled and scored: on masked units q(z_d|y,x) = p(z_d), so
        their log p - log q is identically 0 and their value never reaches the decoder (m_y * z).
        With return_inputs, also the decoder inputs m_y * z, (B, E, k, D)."""
        mu, phi = self.encode(x)
        mu_a, phi_a = mu[:, self.active_units], phi[:, self.active_units]   # (B, E, K)
        z = mu_a[:, :, None] + torch.exp(0.5 * phi_a)[:, :, None] * torch.randn(
            *mu_a.shape[:2], k, mu_a.shape[-1], device=mu.device, dtype=mu.dtype)  # (B, E, k, K)
        place = nn.functional.one_hot(self.active_units, self.latent_dim).to(mu.dtype)  # (E, K, D)
        z_in = torch.einsum("bejk,ekd->bejd", z, place)                # m_y * z, exact zeros elsewhere
        log_pz_over_qz = (log_standard_normal(z) - log_normal(z, mu_a[:, :, None], phi_a[:, :, None])).sum(-1)
        # one epitome at a time: peak memory B * k * D_x, as for a VAE (the IW planner's assumption)
        log_px = torch.stack([self._log_px(x, z_in[:, y]) for y in range(self.num_epitomes)], 1)
        log_w = log_px + log_pz_over_qz
        return (log_w, z_in) if return_inputs else log_w

    def log_weights(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """log w_{y,j} = log p(y) + log p(x|y,z_j) + log p(z_j) - log q(z_j|y,x), (B, E, k) (§3.8):
        `iwae_bound` gives logsumexp_y [log p(y) + log-mean-exp_j ...], the mixture estimate of
        log p(x) = log sum_y p(y) int p(x|y,z) p(z) dz. log p(y) = -log E is included (P8)."""
        return self.conditional_log_weights(x, k) + self.log_prior_y

    # ---- latent space at y* (§1.5, §3.5) ------------------------------------------------------
    @torch.no_grad()
    def posterior_mean(self, x: torch.Tensor) -> torch.Tensor:
        """m_{y*} * mu(x), (B, D): the active-unit statistic of the eVAE tables."""
        return self._masked_posterior(x, self.assign_epitomes(x))[1]

    @torch.no_grad()
    def kl_per_unit(self, x: torch.Tensor) -> torch.Tensor:
        """KL(q(z_d|y*,x) || p(z_d)) per unit, (B, D); exactly 0 outside epitome y*."""
        _, q_mu, q_logvar = self._masked_posterior(x, self.assign_epitomes(x))
        return kl_standard_normal(q_mu, q_logvar)

    @torch.no_grad()
    def sample_posterior(self, x: torch.Tensor) -> torch.Tensor:
        """One m_{y*} * z, z ~ q(z|y*,x), (B, D): the decoder input, zero outside epitome y*."""
        m, q_mu, q_logvar = self._masked_posterior(x, self.assign_epitomes(x))
        return m * (q_mu + torch.exp(0.5 * q_logvar) * torch.randn_like(q_mu))

    @torch.no_grad()
    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Generation (Sec. 4.2): y ~ Uniform(E), z ~ N(0, I), returned masked: m_y * z, (n, D)."""
        device = generator.device if generator is not None else self.device
        y = torch.randint(self.num_epitomes, (n,), generator=generator, device=device)
        z = torch.randn(n, self.latent_dim, generator=generator, device=device, dtype=self.dtype)
        return (self.masks.to(device)[y] * z).to(self.device)
