"""VAE and IWAE-k with batch-normalised MLPs, as MEM_DGM trains its baselines (docs/protocols.md §2.2-2.3).

Kingma & Welling 2014; Burda, Grosse & Salakhutdinov, *Importance Weighted Autoencoders*, ICLR 2016.

    q(z|x) = N(mu(x), exp(logvar(x)))   p(z) = N(0, I)   p(x|z) = Bernoulli or diagonal Gaussian
    log w_j = log p(z_j) + log p(x|z_j) - log q(z_j|x),  z_j ~ q(z|x)   (at the samples, §1.4)
    L_k(x) = log (1/k) sum_j w_j                                         (IWAE eq. 8; k = 1: ELBO)

The same class is the IWAE reference net (activation tanh, batch_norm False, bernoulli_clip None,
`init_output_bias`) and the eVAE paper's baselines (KL weighting, dropout VAE; analytic KL).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
from torch import nn

from ..nets import BN_EPS, MLP, dense
from ..objectives import bernoulli_nll_logits, iwae_bound, kl_standard_normal, log_normal, log_standard_normal
from .base import LatentVariableModel

LIKELIHOODS = ("bernoulli", "gaussian")


def _fail(field: str, value, allowed: str):
    raise ValueError(f"{field}={value!r} is invalid: {allowed}")


@dataclass(frozen=True)
class VAEConfig:
    # data
    input_dim: int = 784
    # networks
    hidden: tuple[int, ...] = (500, 500)   # encoder widths, layer 1 nearest x; the decoder uses them reversed
    latent_dim: int = 100
    activation: str = "relu"               # "relu" | "tanh" (tanh + batch_norm=False = the IWAE reference net 200-200-50)
    batch_norm: bool = True
    # likelihood
    likelihood: str = "bernoulli"          # "bernoulli" | "gaussian" (Frey: two plain linear heads, mean and log-variance, no floor)
    bernoulli_clip: float | None = 1e-6    # MEM clip; None = unclipped logits form (IWAE reference code)
    # objective
    k: int = 1                             # importance samples in training: 1 = VAE, k > 1 = IWAE-k
    kl_weight: float = 1.0                 # eVAE paper Sec 3.1 KL weighting lambda
    z_dropout: float = 0.0                 # eVAE paper Sec 3.2 dropout VAE: inverted dropout on the z sample, training only
    lre_weights: tuple[float, ...] = ()    # MEM local reconstruction error per hidden layer (layer 1 nearest x); () = off

    def __post_init__(self):
        for name in ("hidden", "lre_weights", "memory_slots"):  # accept lists, store tuples (hashable)
            if hasattr(self, name) and isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        for name in ("input_dim", "latent_dim", "k"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                _fail(name, value, "must be an integer >= 1")
        if (not isinstance(self.hidden, tuple) or len(self.hidden) == 0
                or any(not isinstance(h, int) or isinstance(h, bool) or h < 1 for h in self.hidden)):
            _fail("hidden", self.hidden, "must be a non-empty tuple of integers >= 1")
        if self.activation not in ("relu", "tanh"):
            _fail("activation", self.activation, "allowed: 'relu', 'tanh'")
        if self.likelihood not in LIKELIHOODS:
            _fail("likelihood", self.likelihood, f"allowed: {LIKELIHOODS}")
        if self.bernoulli_clip is not None and not 0.0 < self.bernoulli_clip < 0.5:
            _fail("bernoulli_clip", self.bernoulli_clip, "must be None or in (0, 0.5)")
        if not (math.isfinite(self.kl_weight) and self.kl_weight >= 0):
            _fail("kl_weight", self.kl_weight, "must be a finite number >= 0")
        if not 0.0 <= self.z_dropout < 1.0:
            _fail("z_dropout", self.z_dropout, "must be in [0, 1)")
        if self.k > 1 and (self.kl_weight != 1.0 or self.z_dropout > 0):
            _fail("k", self.k, f"must be 1 with kl_weight={self.kl_weight} / z_dropout={self.z_dropout} "
                  "(KL weighting and z dropout use the single-sample analytic-KL objective)")
        if self.lre_weights and len(self.lre_weights) != len(self.hidden):
            _fail("lre_weights", self.lre_weights, f"must be () or have one weight per hidden layer ({len(self.hidden)})")
        if any(not (math.isfinite(w) and w >= 0) for w in self.lre_weights):
            _fail("lre_weights", self.lre_weights, "weights must be finite and >= 0")

    def describe(self) -> str:
        net = "-".join(str(h) for h in (self.input_dim, *self.hidden, self.latent_dim))
        bits = [f"{type(self).__name__} {net}", self.activation + ("+BN" if self.batch_norm else ""),
                self.likelihood, f"k={self.k}"]
        bits += [f"{f.name}={getattr(self, f.name)}" for f in fields(self)
                 if f.name in ("kl_weight", "z_dropout") and getattr(self, f.name) != f.default]
        if any(self.lre_weights):
            bits.append(f"LRE {self.lre_weights}")
        return ", ".join(bits)


def batch_standardise(h: torch.Tensor) -> torch.Tensor:
    """The parameter-free NormalizeLayer of the LRE decoder side: batch mean / biased variance."""
    return (h - h.mean(0)) / torch.sqrt(h.var(0, unbiased=False) + BN_EPS)


class VAE(LatentVariableModel):
    """Encoder MLP(hidden) -> (mu, logvar) heads; decoder MLP(reversed hidden) -> output head(s)."""

    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = c = config
        self.latent_dim = c.latent_dim
        self.encoder = MLP(c.input_dim, c.hidden, c.activation, c.batch_norm)
        self.enc_mean = dense(c.hidden[-1], c.latent_dim)
        self.enc_logvar = dense(c.hidden[-1], c.latent_dim)
        self.decoder = MLP(c.latent_dim, c.hidden[::-1], c.activation, c.batch_norm)  # blocks[0] nearest z
        self.out_mean = dense(c.hidden[0], c.input_dim)  # Bernoulli logits or Gaussian mean
        self.out_logvar = dense(c.hidden[0], c.input_dim) if c.likelihood == "gaussian" else None

    # ---- encoder ----------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """(mu, logvar, normalised pre-activation of each encoder layer, layer 1 first)."""
        h, normalised = self.encoder(x, return_normalised=True)
        return self.enc_mean(h), self.enc_logvar(h), normalised

    def encoder_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last encoder hidden layer (after BN, gamma/beta, activation): the SVM features (E4)."""
        return self.encoder(x)

    @staticmethod
    def _sample(mu: torch.Tensor, logvar: torch.Tensor, k: int) -> torch.Tensor:
        """z = mu + exp(logvar / 2) * eps, example-major: (B, k, D)."""
        eps = torch.randn(mu.shape[0], k, mu.shape[1], device=mu.device, dtype=mu.dtype)
        return mu.unsqueeze(1) + torch.exp(0.5 * logvar).unsqueeze(1) * eps

    # ---- decoder ----------------------------------------------------------------------------
    def _compose(self, layer: int, h_g: torch.Tensor, override=None):
        """Hook for decoder layer `layer` (1 = nearest x): returns (output, attention or None)."""
        if override is not None:
            raise ValueError(f"memory_override names layer {layer}, which has no memory")
        return h_g, None

    def _decode(self, h: torch.Tensor, memory_override: dict | None = None, top_layer: int | None = None,
                output: bool = True):
        """Run decoder layers top_layer..1 (default: all, from z) and the output head (skipped with
        output=False: the LRE pass needs only the hidden layers).
        Returns (output-head tensors or None, hidden output per layer, attention per layer), layer 1 first."""
        memory_override = dict(memory_override or {})
        n_layers = len(self.config.hidden)
        unknown = set(memory_override) - set(range(1, n_layers + 1))
        if unknown:
            raise ValueError(f"memory_override layers {sorted(unknown)} not in 1..{n_layers}")
        hiddens, attentions = [], []
        for layer in range(n_layers if top_layer is None else top_layer, 0, -1):
            block = self.decoder.blocks[n_layers - layer]  # blocks[0] is the layer nearest z
            h, attention = self._compose(layer, block(h), memory_override.get(layer))
            hiddens.insert(0, h)
            attentions.insert(0, attention)
        return (self._output(h) if output else None), hiddens, attentions

    def _output(self, h: torch.Tensor):
        return (self.out_mean(h), self.out_logvar(h) if self.out_logvar is not None else None)

    def _log_px(self, x: torch.Tensor, out) -> torch.Tensor:
        """log p(x|z) summed over pixels, (N,)."""
        a, logvar = out
        if self.config.likelihood == "gaussian":
            return log_normal(x, a, logvar).sum(-1)
        # sum_i x_i log m_i + (1 - x_i) log(1 - m_i), m = clip(sigmoid(a), 1e-6, 1 - 1e-6) (MEM, §1.3)
        return -bernoulli_nll_logits(x, a, self.config.bernoulli_clip).sum(-1)

    def decode_mean(self, z: torch.Tensor, memory_override: dict | None = None) -> torch.Tensor:
        """Bernoulli probabilities (unclipped sigmoid) or Gaussian means, (N, D_x).
        memory_override: {layer: "ones" | "zeros" | tensor} replaces h_m (MemVAE only, E9)."""
        return self._mean(self._decode(z, memory_override)[0])

    def _mean(self, out) -> torch.Tensor:
        return out[0] if self.config.likelihood == "gaussian" else torch.sigmoid(out[0])

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x | z) summed over pixels, (N,) for x and z of N rows."""
        return self._log_px(x, self._decode(z)[0])

    @torch.no_grad()
    def init_output_bias(self, mean_pixel) -> None:
        """IWAE reference init: output bias = logit(clip(mean training pixel, 0.001, 0.999))."""
        if self.config.likelihood != "bernoulli":
            raise ValueError("init_output_bias is for the Bernoulli likelihood only")
        m = torch.as_tensor(mean_pixel, dtype=self.out_mean.bias.dtype).clamp(0.001, 0.999)
        self.out_mean.bias.copy_(torch.log(m) - torch.log1p(-m))

    # ---- the model interface ------------------------------------------------------------------
    def _log_weights(self, x, mu, logvar, k):
        z = self._sample(mu, logvar, k)  # (B, k, D)
        B, D = mu.shape
        log_pz = log_standard_normal(z).sum(-1)
        log_qz = log_normal(z, mu.unsqueeze(1), logvar.unsqueeze(1)).sum(-1)
        out = self._decode(z.reshape(B * k, D))[0]
        out = tuple(t.view(B, k, -1) if t is not None else None for t in out)
        log_px = self._log_px(x.unsqueeze(1).expand(B, k, x.shape[1]), out)  # x broadcast, never copied k times
        return log_pz + log_px - log_qz  # (B, k)

    def log_weights(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """log p(z_j) + log p(x|z_j) - log q(z_j|x), (B, k); decoder batch = B*k rows."""
        mu, logvar, _ = self.encode(x)
        return self._log_weights(x, mu, logvar, k)

    def _lre(self, mu, logvar, enc_normalised, k) -> torch.Tensor:
        """MEM local reconstruction error (§2.3), from a separate decode with its own z draw:
        sum_l lambda_l * mean_batch mean_units (enc_l - mean_k BN(dec_l))^2."""
        B, D = mu.shape
        _, hiddens, _ = self._decode(self._sample(mu, logvar, k).reshape(B * k, D), output=False)
        total = mu.new_zeros(())
        for weight, enc, dec in zip(self.config.lre_weights, enc_normalised, hiddens):
            if weight > 0:
                dec = batch_standardise(dec).view(B, k, -1).mean(1)  # (B, H)
                total = total + weight * ((enc - dec) ** 2).mean()
        return total

    def local_reconstruction_error(self, x: torch.Tensor, k: int | None = None) -> torch.Tensor:
        """The weighted LRE term alone (0 when every lambda is 0)."""
        mu, logvar, normalised = self.encode(x)
        return self._lre(mu, logvar, normalised, k or self.config.k)

    def training_loss(self, x: torch.Tensor, **batch) -> tuple[torch.Tensor, dict[str, float]]:
        c = self.config
        mu, logvar, normalised = self.encode(x)
        if c.kl_weight != 1.0 or c.z_dropout > 0:
            # eVAE paper Sec. 3.1-3.2: -log p(x|z) + lambda * KL(q || p), one z, analytic KL
            z = self._sample(mu, logvar, 1).squeeze(1)
            if c.z_dropout > 0:
                z = nn.functional.dropout(z, c.z_dropout, training=self.training)
            rec = self._log_px(x, self._decode(z)[0])
            kl = kl_standard_normal(mu, logvar).sum(-1)
            loss = (-rec + c.kl_weight * kl).mean()
            bound = (rec - kl).mean()  # the unweighted ELBO at the (dropped-out) z that was decoded
        else:
            bound = iwae_bound(self._log_weights(x, mu, logvar, c.k)).mean()  # L_k, §1.4
            loss = -bound
        lre = self._lre(mu, logvar, normalised, c.k) if any(c.lre_weights) else loss.new_zeros(())
        loss = loss + lre
        return loss, {"loss": loss.item(), "bound": bound.item(), "lre": lre.item()}

    def posterior_mean(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x)[0]

    def sample_posterior(self, x: torch.Tensor) -> torch.Tensor:
        mu, logvar, _ = self.encode(x)
        return self._sample(mu, logvar, 1).squeeze(1)

    def kl_per_unit(self, x: torch.Tensor) -> torch.Tensor:
        mu, logvar, _ = self.encode(x)
        return kl_standard_normal(mu, logvar)

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        device = generator.device if generator is not None else self.device
        return torch.randn(n, self.latent_dim, generator=generator, device=device, dtype=self.dtype).to(self.device)
