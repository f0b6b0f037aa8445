"""mVAE: the mixture-of-independent-VAEs ablation of the epitomic VAE (docs/protocols.md §3.4-3.5).

Yeung et al. 2017, Sec. 5.2: "a mixture of independent VAEs trained in the same manner as eVAE",
"an ablative version of eVAE where parameters are not shared"; the deterministic width of each
component is set so that the total parameter count is comparable to the eVAE's.

One component per epitome of the matching eVAE layout (E of them), each its own VAE over K latents:

    p(y) = 1/E,   p(x|y,z) = p_y(x|z),   p(z) = N(0, I_K),   q(z|y,x) = N(mu_y(x), exp(phi_y(x)))
    C(x, y) = -E_q log p_y(x|z) + KL(q(z|y,x) || N(0, I_K)) + log E          (eq. 7 with hard q(y|x))

trained by Algorithm 1 exactly as the eVAE (y* = argmin_y C at z = mu_y, balanced minibatches).
The E components are held as stacked weights (E, n_in, n_out) and run as one batched matmul.
Latent codes are exposed as (B, E*K): component y's block holds its K units, other blocks are 0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..nets import ACTIVATIONS, count_parameters
from ..objectives import kl_standard_normal, log_normal, log_standard_normal
from ._checks import fail, is_int, lists_to_tuples
from .base import HardAssignmentModel
from .evae import EVAEConfig, log_likelihood


@dataclass(frozen=True)
class MVAEConfig(EVAEConfig):
    # components (the EVAEConfig fields give E, K, input, activation and likelihood)
    component_hidden: tuple[int, ...] | None = None   # per-component widths; None = matched to the eVAE (§3.5)

    def __post_init__(self):
        super().__post_init__()
        lists_to_tuples(self, "component_hidden")
        if self.component_hidden is not None and (
                not isinstance(self.component_hidden, tuple) or not self.component_hidden
                or not all(is_int(h) for h in self.component_hidden)):
            fail("component_hidden", self.component_hidden, "must be None or a non-empty tuple of integers >= 1")
        if self.batch_norm:
            fail("batch_norm", self.batch_norm, "the mVAE components are plain MLPs; only False is supported")

    def resolved_component_hidden(self) -> tuple[int, ...]:
        """component_hidden, or (H',) * len(hidden) with H' = matched_component_width(self)."""
        if self.component_hidden is not None:
            return self.component_hidden
        return (matched_component_width(self),) * len(self.hidden)

    def describe(self) -> str:
        widths = "-".join(map(str, self.resolved_component_hidden()))
        return (f"{super().describe()}, {self.num_epitomes} components {self.input_dim}-{widths}-"
                f"{self.epitome_size}" + (" (matched)" if self.component_hidden is None else ""))


def vae_parameter_count(input_dim: int, widths, latent_dim: int, likelihood: str, batch_norm: bool) -> int:
    """Parameters of one VAE: encoder dense layers (+ BN gamma/beta), mu and log-variance heads,
    decoder dense layers (+ BN), output head(s) (Gaussian: mean and log-variance)."""
    widths = tuple(widths)
    layers = list(zip((input_dim, *widths[:-1]), widths)) + list(zip((latent_dim, *widths[::-1][:-1]), widths[::-1]))
    total = sum(a * b + b + (2 * b if batch_norm else 0) for a, b in layers)
    total += 2 * (widths[-1] * latent_dim + latent_dim)
    return total + (2 if likelihood == "gaussian" else 1) * (widths[0] * input_dim + input_dim)


def evae_parameter_count(config: EVAEConfig) -> int:
    """The eVAE's parameters: one VAE of D latents (masking adds none)."""
    return vae_parameter_count(config.input_dim, config.hidden, config.latent_dim, config.likelihood,
                               config.batch_norm)


def mvae_parameter_count(config: EVAEConfig, component_hidden) -> int:
    """E independent VAEs of K latents each with the given widths (no batch norm)."""
    return config.num_epitomes * vae_parameter_count(config.input_dim, component_hidden, config.epitome_size,
                                                     config.likelihood, False)


def matched_component_width(evae_config: EVAEConfig) -> int:
    """§3.5: the largest H' such that E components with len(hidden) layers of width H' have at most
    as many parameters in total as the eVAE of `evae_config`."""
    budget, depth = evae_parameter_count(evae_config), len(evae_config.hidden)
    count = lambda h: mvae_parameter_count(evae_config, (h,) * depth)  # noqa: E731 (increasing in h)
    if count(1) > budget:
        raise ValueError(f"no component width fits: E={evae_config.num_epitomes} components of width 1 already "
                         f"have {count(1)} > {budget} parameters (the eVAE's)")
    lo, hi = 1, 2
    while count(hi) <= budget:
        lo, hi = hi, 2 * hi
    while hi - lo > 1:                      # count(lo) <= budget < count(hi)
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count(mid) <= budget else (lo, mid)
    return lo


class ComponentDense(nn.Module):
    """E independent Glorot-uniform, zero-bias dense layers applied as one batched matmul."""

    def __init__(self, n_components: int, n_in: int, n_out: int):
        super().__init__()
        bound = math.sqrt(6.0 / (n_in + n_out))
        self.weight = nn.Parameter(torch.empty(n_components, n_in, n_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(n_components, 1, n_out))

    def forward(self, h: torch.Tensor, components: slice = slice(None)) -> torch.Tensor:
        """(N, n_in) shared by the components or (E', N, n_in) one input each -> (E', N, n_out),
        E' = the components selected (default all)."""
        weight, bias = self.weight[components], self.bias[components]
        if h.dim() == 2:
            return torch.einsum("ni,eio->eno", h, weight) + bias
        return torch.baddbmm(bias, h, weight)


class ComponentMLP(nn.Module):
    def __init__(self, n_components: int, n_in: int, widths, activation: str):
        super().__init__()
        dims = [n_in, *widths]
        self.layers = nn.ModuleList(ComponentDense(n_components, a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.act = ACTIVATIONS[activation]()

    def forward(self, h: torch.Tensor, components: slice = slice(None)) -> torch.Tensor:
        for layer in self.layers:
            h = self.act(layer(h, components))
        return h


def _slots(y: torch.Tensor, n_components: int) -> tuple[torch.Tensor, int]:
    """Row i's place among the rows of its component y_i, and the largest group: rows are packed into
    a zero-padded (E, n_max, .) tensor so each row runs through its own component only."""
    order = torch.argsort(y, stable=True)
    counts = torch.bincount(y, minlength=n_components)
    starts = torch.cumsum(counts, 0) - counts
    slot = torch.empty_like(y)
    slot[order] = torch.arange(y.numel(), device=y.device) - starts[y[order]]
    return slot, int(counts.max()) if y.numel() else 0


class MixtureVAE(HardAssignmentModel):
    """E independent VAEs (own encoder and decoder, K latents each), a uniform choice among them."""

    def __init__(self, config: MVAEConfig):
        super().__init__()
        self.config = c = config
        self.num_epitomes = E = c.num_epitomes
        self.component_hidden = widths = c.resolved_component_hidden()
        self.latent_dim = E * c.epitome_size
        self.encoder = ComponentMLP(E, c.input_dim, widths, c.activation)
        self.mu_head = ComponentDense(E, widths[-1], c.epitome_size)
        self.logvar_head = ComponentDense(E, widths[-1], c.epitome_size)
        self.decoder = ComponentMLP(E, c.epitome_size, widths[::-1], c.activation)
        self.mean_head = ComponentDense(E, widths[0], c.input_dim)
        self.x_logvar_head = ComponentDense(E, widths[0], c.input_dim) if c.likelihood == "gaussian" else None

    def parameter_counts(self) -> dict:
        """Both totals of the §3.5 match, and the component widths used."""
        return {"mvae": count_parameters(self), "evae": evae_parameter_count(self.config),
                "component_hidden": self.component_hidden}

    # ---- networks -----------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, D_x) through every component, or (E, N, D_x) one set per component -> mu, phi (E, ., K)."""
        h = self.encoder(x)
        return self.mu_head(h), self.logvar_head(h)

    def decode(self, z: torch.Tensor, components: slice = slice(None)):
        """z (E', N, K), component e decoding z[e] -> logits, or (mean, logvar), each (E', N, D_x);
        E' = the selected components (default all)."""
        h = self.decoder(z, components)
        mean = self.mean_head(h, components)
        if self.x_logvar_head is None:
            return mean
        logvar = self.x_logvar_head(h, components)
        if self.config.logvar_floor is not None:
            logvar = logvar.clamp(min=self.config.logvar_floor)
        return mean, logvar

    def _embed(self, values: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """(B, K) values of component y -> (B, E*K) with block y filled, zeros elsewhere."""
        out = values.new_zeros(values.shape[0], self.num_epitomes, values.shape[-1])
        out[torch.arange(values.shape[0], device=values.device), y] = values
        return out.reshape(values.shape[0], -1)

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        """Each row of z (N, E*K) decoded by the component of its first non-zero block (none: 0)."""
        n, K = z.shape[0], self.config.epitome_size
        blocks = z.reshape(n, self.num_epitomes, K)
        nonzero = (blocks != 0).any(-1)                                # (N, E)
        comp = torch.where(nonzero.any(-1), nonzero.to(torch.uint8).argmax(-1), 0)
        slot, n_max = _slots(comp, self.num_epitomes)
        packed = z.new_zeros(self.num_epitomes, n_max, K)
        packed[comp, slot] = blocks[torch.arange(n, device=z.device), comp]
        out = self.decode(packed)
        mean = torch.sigmoid(out) if self.x_logvar_head is None else out[0]
        return mean[comp, slot]

    # ---- Algorithm 1 --------------------------------------------------------------------------
    def epitome_costs(self, x: torch.Tensor) -> torch.Tensor:
        """C(x, y) of every component at z = mu_y(x) (§3.5), (B, E); the constant log E left out."""
        mu, phi = self.encode(x)                                       # (E, B, K)
        cost = -log_likelihood(x, self.decode(mu), self.config.likelihood) + kl_standard_normal(mu, phi).sum(-1)
        return cost.T

    def training_loss(self, x: torch.Tensor, y: torch.Tensor | None = None, **_) -> tuple[torch.Tensor, dict]:
        """Batch mean of C(x, y) at the given (or assigned) y, one reparameterised z per example. Each
        row runs through its own component only, so a component no row is assigned to gets no gradient."""
        if y is None:
            y = self.assign_epitomes(x)
        slot, n_max = _slots(y, self.num_epitomes)
        mu, phi = self.encode(self._pack(x, y, slot, n_max))          # (E, n_max, K), zero padding
        mu, phi = mu[y, slot], phi[y, slot]                            # (B, K)
        z = mu + torch.exp(0.5 * phi) * torch.randn_like(mu)
        out = self.decode(self._pack(z, y, slot, n_max))
        out = out[y, slot] if self.x_logvar_head is None else (out[0][y, slot], out[1][y, slot])
        recon = -log_likelihood(x, out, self.config.likelihood)
        kl = kl_standard_normal(mu, phi).sum(-1)
        loss = (recon + kl).mean() - self.log_prior_y
        return loss, {"loss": loss.item(), "recon": recon.mean().item(), "kl": kl.mean().item()}

    def _pack(self, rows: torch.Tensor, y: torch.Tensor, slot: torch.Tensor, n_max: int) -> torch.Tensor:
        packed = rows.new_zeros(self.num_epitomes, n_max, rows.shape[-1])
        packed[y, slot] = rows
        return packed

    # ---- estimators ---------------------------------------------------------------------------
    def conditional_log_weights(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """log p_y(x|z) + log p(z) - log q(z|y,x), z ~ q(z|y,x), for every component y: (B, E, k)."""
        mu, phi = self.encode(x)                                       # (E, B, K)
        E, B, K = mu.shape
        z = mu[:, :, None] + torch.exp(0.5 * phi)[:, :, None] * torch.randn(E, B, k, K, device=x.device, dtype=mu.dtype)
        log_px = []                          # one component at a time: peak memory B * k * D_x, as a VAE
        for e in range(E):
            out = self.decode(z[e].reshape(1, B * k, K), slice(e, e + 1))
            out = out.reshape(B, k, -1) if self.x_logvar_head is None else tuple(o.reshape(B, k, -1) for o in out)
            log_px.append(log_likelihood(x[:, None, :], out, self.config.likelihood))
        log_w = torch.stack(log_px) + (log_standard_normal(z) - log_normal(z, mu[:, :, None], phi[:, :, None])).sum(-1)
        return log_w.permute(1, 0, 2)

    def log_weights(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """(B, E, k) with log p(y) = -log E included (§3.8 mixture estimate, P8)."""
        return self.conditional_log_weights(x, k) + self.log_prior_y

    # ---- latent space as (B, E*K) blocks ------------------------------------------------------
    def _posterior_at_assignment(self, x: torch.Tensor):
        y = self.assign_epitomes(x)
        mu, phi = self.encode(x)
        rows = torch.arange(x.shape[0], device=x.device)
        return y, mu[y, rows], phi[y, rows]

    @torch.no_grad()
    def posterior_mean(self, x: torch.Tensor) -> torch.Tensor:
        y, mu, _ = self._posterior_at_assignment(x)
        return self._embed(mu, y)

    @torch.no_grad()
    def kl_per_unit(self, x: torch.Tensor) -> torch.Tensor:
        y, mu, phi = self._posterior_at_assignment(x)
        return self._embed(kl_standard_normal(mu, phi), y)

    @torch.no_grad()
    def sample_posterior(self, x: torch.Tensor) -> torch.Tensor:
        y, mu, phi = self._posterior_at_assignment(x)
        return self._embed(mu + torch.exp(0.5 * phi) * torch.randn_like(mu), y)

    @torch.no_grad()
    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """y ~ Uniform(E), z ~ N(0, I_K) placed in block y, (n, E*K)."""
        device = generator.device if generator is not None else self.device
        y = torch.randint(self.num_epitomes, (n,), generator=generator, device=device)
        z = torch.randn(n, self.config.epitome_size, generator=generator, device=device, dtype=self.dtype)
        return self._embed(z, y).to(self.device)
