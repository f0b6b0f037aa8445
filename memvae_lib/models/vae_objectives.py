"""What a `VAE` minimises, chosen once from its config: three papers' objectives on one network.

* Burda, Grosse & Salakhutdinov 2016 (IWAE): maximise L_k = log (1/k) sum_j w_j; k = 1 is the ELBO
  (Kingma & Welling 2014). The default, and the MEM paper's VAE / IWAE-k and MEM-VAE / MEM-IWAE-k.
* Yeung et al. 2017 (the eVAE paper), Sec. 3.1-3.2, the baselines: one z, analytic KL, the KL
  weighted by lambda (KL-weighted VAE) and/or the z dropped out before decoding (dropout VAE).
* Li, Zhu & Zhang 2016 (MEM), Sec. 4: a local reconstruction error (LRE) per hidden layer, added to
  either objective (`lre_weights`; MEM-VAE and the "VAE + LRE" ablation), from its own z draw.

Each objective is a small frozen object called with the model, so `VAE.training_loss` reads as
"objective, plus MEM's LRE" and no paper's flag is tested inside it.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..nets import BN_EPS
from ..objectives import iwae_bound, kl_standard_normal


@dataclass(frozen=True)
class ImportanceWeightedBound:
    """Burda et al. 2016: loss = -L_k, the batch mean; k = 1 is the VAE's ELBO (docs/protocols.md §1.4)."""

    k: int

    def __call__(self, model, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor):
        """(loss, bound) from the encoder output (mu, logvar) of x."""
        # L_k(x) = log (1/k) sum_j w_j,  w_j = p(x, z_j) / q(z_j | x)   (IWAE eq. 8)
        bound = iwae_bound(model._log_weights(x, mu, logvar, self.k)).mean()
        return -bound, bound


@dataclass(frozen=True)
class WeightedKLObjective:
    """Yeung et al. 2017 Sec. 3.1-3.2: one z ~ q(z|x), analytic KL weighted by lambda, and the z
    optionally dropped out (inverted dropout, training only) before the decoder sees it."""

    kl_weight: float   # lambda (Sec. 3.1)
    z_dropout: float   # dropout rate on z (Sec. 3.2); 0 = none

    def __call__(self, model, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor):
        """(loss, bound): bound is the unweighted ELBO at the (dropped-out) z that was decoded."""
        z = model._sample(mu, logvar, 1).squeeze(1)
        if self.z_dropout > 0:
            z = nn.functional.dropout(z, self.z_dropout, training=model.training)  # Sec. 3.2 dropout VAE
        rec = model._log_px(x, model._decode(z)[0])
        kl = kl_standard_normal(mu, logvar).sum(-1)
        loss = (-rec + self.kl_weight * kl).mean()  # Sec. 3.1: -log p(x|z) + lambda * KL(q(z|x) || p(z))
        bound = (rec - kl).mean()
        return loss, bound


def training_objective(config):
    """The objective a `VAEConfig` asks for: eVAE's weighted-KL / dropout objective when lambda != 1
    or a dropout rate is set (the config then requires k = 1), otherwise the IWAE bound L_k."""
    if config.kl_weight != 1.0 or config.z_dropout > 0:
        return WeightedKLObjective(config.kl_weight, config.z_dropout)
    return ImportanceWeightedBound(config.k)


def batch_standardise(h: torch.Tensor) -> torch.Tensor:
    """The parameter-free NormalizeLayer of the LRE decoder side: batch mean / biased variance."""
    return (h - h.mean(0)) / torch.sqrt(h.var(0, unbiased=False) + BN_EPS)


@dataclass(frozen=True)
class LocalReconstructionError:
    """MEM (Li et al. 2016) Sec. 4, docs/protocols.md §2.3: each encoder layer's normalised
    pre-activation is matched by the batch-standardised decoder layer at the same depth (layer 1,
    nearest x, with layer 1), the decoder run from its own z draw."""

    weights: tuple[float, ...]   # lambda_l per hidden layer, layer 1 nearest x; () or all 0 = off

    @property
    def active(self) -> bool:
        return any(self.weights)

    def __call__(self, model, mu: torch.Tensor, logvar: torch.Tensor, enc_normalised, k: int) -> torch.Tensor:
        B, D = mu.shape
        hiddens = model._decode(model._sample(mu, logvar, k).reshape(B * k, D), output=False)[1]
        total = mu.new_zeros(())
        for weight, enc, dec in zip(self.weights, enc_normalised, hiddens):
            if weight > 0:
                dec = batch_standardise(dec).view(B, k, -1).mean(1)  # (B, H)
                # LRE = sum_l lambda_l * mean_batch mean_units (enc_l - mean_k BN(dec_l))^2
                total = total + weight * ((enc - dec) ** 2).mean()
        return total
