"""VAE and IWAE-k with batch-normalised MLPs, as MEM_DGM trains its baselines (docs/protocols.md §2.2-2.3).

Kingma & Welling 2014; Burda, Grosse & Salakhutdinov, *Importance Weighted Autoencoders*, ICLR 2016.

    q(z|x) = N(mu(x), exp(logvar(x)))   p(z) = N(0, I)   p(x|z) = Bernoulli or diagonal Gaussian
    log w_j = log p(z_j) + log p(x|z_j) - log q(z_j|x),  z_j ~ q(z|x)   (at the samples, §1.4)
    L_k(x) = log (1/k) sum_j w_j                                         (IWAE eq. 8; k = 1: ELBO)

The same class is the IWAE reference net (activation tanh, batch_norm False, bernoulli_clip None,
`init_output_bias`) and the eVAE paper's baselines (KL weighting, dropout VAE; analytic KL). What
it minimises is a strategy chosen once from the config (`vae_objectives`): L_k or the eVAE
paper's weighted-KL objective, plus the MEM paper's local reconstruction error when it is on.
The MEM paper's memory lives in `mem_vae.MemVAE`, a subclass; this decoder knows nothing of it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch

from ..nets import MLP, dense
from ..objectives import bernoulli_nll_logits, kl_standard_normal, log_normal, log_standard_normal
from ._checks import check_activation, check_hidden, check_likelihood, check_sizes, fail, lists_to_tuples
from .base import LatentVariableModel
from .vae_objectives import LocalReconstructionError, training_objective


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
        lists_to_tuples(self, "hidden", "lre_weights")  # accept lists, store tuples (hashable)
        check_sizes(self, "input_dim", "latent_dim", "k")
        check_hidden(self.hidden)
        check_activation(self.activation)
        check_likelihood(self.likelihood)
        if self.bernoulli_clip is not None and not 0.0 < self.bernoulli_clip < 0.5:
            fail("bernoulli_clip", self.bernoulli_clip, "must be None or in (0, 0.5)")
        if not (math.isfinite(self.kl_weight) and self.kl_weight >= 0):
            fail("kl_weight", self.kl_weight, "must be a finite number >= 0")
        if not 0.0 <= self.z_dropout < 1.0:
            fail("z_dropout", self.z_dropout, "must be in [0, 1)")
        if self.k > 1 and (self.kl_weight != 1.0 or self.z_dropout > 0):
            fail("k", self.k, f"must be 1 with kl_weight={self.kl_weight} / z_dropout={self.z_dropout} "
                 "(KL weighting and z dropout use the single-sample analytic-KL objective)")
        if self.lre_weights and len(self.lre_weights) != len(self.hidden):
            fail("lre_weights", self.lre_weights, f"must be () or have one weight per hidden layer ({len(self.hidden)})")
        if any(not (math.isfinite(w) and w >= 0) for w in self.lre_weights):
            fail("lre_weights", self.lre_weights, "weights must be finite and >= 0")

    def describe(self) -> str:
        net = "-".join(str(h) for h in (self.input_dim, *self.hidden, self.latent_dim))
        bits = [f"{type(self).__name__} {net}", self.activation + ("+BN" if self.batch_norm else ""),
                self.likelihood, f"k={self.k}"]
        bits += [f"{f.name}={getattr(self, f.name)}" for f in fields(self)
                 if f.name in ("kl_weight", "z_dropout") and getattr(self, f.name) != f.default]
        if any(self.lre_weights):
            bits.append(f"LRE {self.lre_weights}")
        return ", ".join(bits)


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
        self.objective = training_objective(c)               # IWAE L_k, or eVAE's weighted KL / dropout
        self.lre = LocalReconstructionError(c.lre_weights)   # MEM's added term (inactive when all 0)

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
    def _decoder_block(self, layer: int):
        """The dense block of decoder layer `layer` (1 = nearest x; blocks[0] is the layer nearest z)."""
        return self.decoder.blocks[len(self.config.hidden) - layer]

    def _decode(self, h: torch.Tensor, top_layer: int | None = None, output: bool = True):
        """Run decoder layers top_layer..1 (default: all, from z) and the output head (skipped with
        output=False: the LRE pass needs only the hidden layers).
        Returns (output-head tensors or None, hidden output per layer, layer 1 first)."""
        hiddens = []
        for layer in range(len(self.config.hidden) if top_layer is None else top_layer, 0, -1):
            h = self._decoder_block(layer)(h)
            hiddens.insert(0, h)
        return (self._output(h) if output else None), hiddens

    def _output(self, h: torch.Tensor):
        return (self.out_mean(h), self.out_logvar(h) if self.out_logvar is not None else None)

    def _log_px(self, x: torch.Tensor, out) -> torch.Tensor:
        """log p(x|z) summed over pixels, (N,)."""
        a, logvar = out
        if self.config.likelihood == "gaussian":
            return log_normal(x, a, logvar).sum(-1)
        # sum_i x_i log m_i + (1 - x_i) log(1 - m_i), m = clip(sigmoid(a), 1e-6, 1 - 1e-6) (MEM, §1.3)
        return -bernoulli_nll_logits(x, a, self.config.bernoulli_clip).sum(-1)

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli probabilities (unclipped sigmoid) or Gaussian means, (N, D_x)."""
        return self._mean(self._decode(z)[0])

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
        return log_pz + log_px - log_qz  # log w_j = log p(z_j) + log p(x|z_j) - log q(z_j|x), (B, k)

    def log_weights(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """log p(z_j) + log p(x|z_j) - log q(z_j|x), (B, k); decoder batch = B*k rows."""
        mu, logvar, _ = self.encode(x)
        return self._log_weights(x, mu, logvar, k)

    def local_reconstruction_error(self, x: torch.Tensor, k: int | None = None) -> torch.Tensor:
        """MEM's weighted LRE term alone (0 when every lambda is 0), from its own z draw."""
        mu, logvar, normalised = self.encode(x)
        return self.lre(self, mu, logvar, normalised, k or self.config.k)

    def training_loss(self, x: torch.Tensor, **batch) -> tuple[torch.Tensor, dict[str, float]]:
        """The config's objective (-L_k, or eVAE's weighted KL) plus MEM's LRE when it is on."""
        terms = self.training_terms(x)
        return terms["loss"], {key: v.item() for key, v in terms.items()}

    def training_terms(self, x: torch.Tensor, **batch) -> dict[str, torch.Tensor]:
        """`training_loss` without a host read: {"loss", "bound", "lre"} as 0-d tensors."""
        mu, logvar, normalised = self.encode(x)
        loss, bound = self.objective(self, x, mu, logvar)
        # MEM Sec. 4: loss + sum_l lambda_l LRE_l, with its own z draw (k of them per example)
        lre = self.lre(self, mu, logvar, normalised, self.config.k) if self.lre.active else loss.new_zeros(())
        loss = loss + lre
        return {"loss": loss, "bound": bound, "lre": lre}

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
