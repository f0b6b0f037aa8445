"""The references of benchmarks/speed.py: the MNIST networks of MEM Table 1 written the obvious way
in plain PyTorch (nn.Linear, nn.BatchNorm1d, torch.distributions, torch.optim.Adam), sharing no
code with memvae_lib, plus `copy_weights` so that speed.py can check that a reference computes the
same loss as our model before timing either.

    PlainVAE      784-500-500-100, BN-ReLU, the IWAE-k bound, Bernoulli likelihood clipped at 1e-6
    PlainMemVAE   the same with memory on both decoder layers (70 slots nearest x, 30 nearest z),
                  sigmoid attention, the ladder composition and the local reconstruction error
"""
from __future__ import annotations

import math

import torch
from torch import nn

EPS = 1e-10                      # batch-norm epsilon of the original code
CLIP = 1e-6                      # Bernoulli mean clipped to [CLIP, 1 - CLIP]
LOGIT_BOUND = math.log((1 - CLIP) / CLIP)


class PlainVAE(nn.Module):
    def __init__(self, k: int):
        super().__init__()
        self.k = k
        self.enc_linear = nn.ModuleList([nn.Linear(784, 500), nn.Linear(500, 500)])
        self.enc_bn = nn.ModuleList([nn.BatchNorm1d(500, eps=EPS) for _ in range(2)])
        self.mu, self.logvar = nn.Linear(500, 100), nn.Linear(500, 100)
        self.dec_linear = nn.ModuleList([nn.Linear(100, 500), nn.Linear(500, 500)])  # nearest z first
        self.dec_bn = nn.ModuleList([nn.BatchNorm1d(500, eps=EPS) for _ in range(2)])
        self.out = nn.Linear(500, 784)

    def encode(self, x):
        h = x
        for linear, bn in zip(self.enc_linear, self.enc_bn):
            h = torch.relu(bn(linear(h)))
        return self.mu(h), self.logvar(h)

    def decode(self, z):
        h = z
        for linear, bn in zip(self.dec_linear, self.dec_bn):
            h = torch.relu(bn(linear(h)))
        return self.out(h)

    def log_weights(self, x, k, mu=None, logvar=None):
        """log p(x, z_j) - log q(z_j | x) for k samples z_j ~ q(z | x), (B, k)."""
        if mu is None:
            mu, logvar = self.encode(x)
        std = torch.exp(0.5 * logvar)
        z = mu[:, None] + std[:, None] * torch.randn(mu.shape[0], k, mu.shape[1], device=mu.device)
        logits = self.decode(z.reshape(-1, z.shape[-1])).view(x.shape[0], k, -1)
        log_px = -nn.functional.binary_cross_entropy_with_logits(
            logits.clamp(-LOGIT_BOUND, LOGIT_BOUND), x[:, None].expand_as(logits), reduction="none").sum(-1)
        log_pz = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
        log_qz = torch.distributions.Normal(mu[:, None], std[:, None]).log_prob(z).sum(-1)
        return log_px + log_pz - log_qz

    def loss(self, x):
        """Minus the IWAE bound L_k, batch mean."""
        return -(torch.logsumexp(self.log_weights(x, self.k), 1) - math.log(self.k)).mean()


class PlainMemVAE(PlainVAE):
    def __init__(self, k: int, slots=(30, 70), lre=(0.1, 0.1)):
        super().__init__(k)
        self.lre = lre  # encoder layer 1 (nearest x) first
        # the encoder's normalised pre-activations enter the LRE, so its scale/shift are separate
        self.enc_bn = nn.ModuleList([nn.BatchNorm1d(500, eps=EPS, affine=False) for _ in range(2)])
        self.enc_gamma = nn.ParameterList([nn.Parameter(torch.ones(500)) for _ in range(2)])
        self.enc_beta = nn.ParameterList([nn.Parameter(torch.zeros(500)) for _ in range(2)])
        self.controller = nn.ParameterList([nn.Parameter(torch.randn(500, n) * 0.05) for n in slots])
        self.slot_bias = nn.ParameterList([nn.Parameter(torch.zeros(n)) for n in slots])
        self.memory = nn.ParameterList([nn.Parameter(torch.randn(n, 500) * 0.01) for n in slots])
        # ladder composition, per decoder layer: nine vectors, identity at a2 = c2 = 1
        self.ladder = nn.ModuleList([nn.ParameterDict({
            name: nn.Parameter(torch.full((500,), 1.0 if name in ("a2", "c2") else 0.0))
            for name in ("a1", "a2", "a3", "a4", "b1", "c1", "c2", "c3", "c4")}) for _ in slots])

    def encode_with_normalised(self, x):
        h, normalised = x, []
        for linear, bn, gamma, beta in zip(self.enc_linear, self.enc_bn, self.enc_gamma, self.enc_beta):
            n = bn(linear(h))
            normalised.append(n)
            h = torch.relu(gamma * n + beta)
        return self.mu(h), self.logvar(h), normalised

    def encode(self, x):
        return self.encode_with_normalised(x)[:2]

    def decode_hidden(self, z):
        """Decoder hidden layers with memory, nearest z first: each one's output."""
        h, hiddens = z, []
        for i, (linear, bn) in enumerate(zip(self.dec_linear, self.dec_bn)):
            g = torch.relu(bn(linear(h)))
            m = torch.sigmoid(g @ self.controller[i] + self.slot_bias[i]) @ self.memory[i]
            p = self.ladder[i]
            s = torch.sigmoid(p["c1"] + p["c2"] * g + p["c3"] * m + p["c4"] * g * m)
            h = torch.relu(p["a1"] + p["a2"] * g + p["b1"] * s + p["a3"] * m + p["a4"] * g * m)
            hiddens.append(h)
        return hiddens

    def decode(self, z):
        return self.out(self.decode_hidden(z)[-1])

    def loss(self, x):
        mu, logvar, enc_normalised = self.encode_with_normalised(x)
        log_w = self.log_weights(x, self.k, mu, logvar)
        loss = -(torch.logsumexp(log_w, 1) - math.log(self.k)).mean()
        # local reconstruction error: a second decode with its own z draw
        z = mu[:, None] + torch.exp(0.5 * logvar)[:, None] * torch.randn(x.shape[0], self.k, mu.shape[1], device=mu.device)
        hiddens = self.decode_hidden(z.reshape(-1, z.shape[-1]))
        for weight, enc, dec in zip(self.lre, enc_normalised, hiddens[::-1]):
            dec = (dec - dec.mean(0)) / torch.sqrt(dec.var(0, unbiased=False) + EPS)
            loss = loss + weight * ((enc - dec.view(x.shape[0], self.k, -1).mean(1)) ** 2).mean()
        return loss


@torch.no_grad()
def copy_weights(ours, plain) -> None:
    """Load memvae_lib's VAE / MemVAE weights into the matching plain reference."""
    def linear(dst, src):
        dst.weight.copy_(src.weight)
        dst.bias.copy_(src.bias)

    for i, block in enumerate(ours.encoder.blocks):
        linear(plain.enc_linear[i], block.linear)
        if isinstance(plain, PlainMemVAE):
            plain.enc_gamma[i].copy_(block.bn.gamma)
            plain.enc_beta[i].copy_(block.bn.beta)
        else:
            plain.enc_bn[i].weight.copy_(block.bn.gamma)
            plain.enc_bn[i].bias.copy_(block.bn.beta)
        plain.enc_bn[i].running_mean.copy_(block.bn.stored_mean)
        plain.enc_bn[i].running_var.copy_(block.bn.stored_var)
    linear(plain.mu, ours.enc_mean)
    linear(plain.logvar, ours.enc_logvar)
    n_layers = len(ours.decoder.blocks)
    for i, block in enumerate(ours.decoder.blocks):  # blocks[0] nearest z
        linear(plain.dec_linear[i], block.linear)
        plain.dec_bn[i].weight.copy_(block.bn.gamma)
        plain.dec_bn[i].bias.copy_(block.bn.beta)
        plain.dec_bn[i].running_mean.copy_(block.bn.stored_mean)  # evaluation statistics
        plain.dec_bn[i].running_var.copy_(block.bn.stored_var)
        if isinstance(plain, PlainMemVAE):
            layer = str(n_layers - i)  # memvae_lib numbers decoder layers from x
            memory, composition = ours.memories[layer], ours.compositions[layer]
            plain.controller[i].copy_(memory.controller)
            plain.slot_bias[i].copy_(memory.bias)
            plain.memory[i].copy_(memory.memory)
            for name, p in plain.ladder[i].items():
                p.copy_(getattr(composition, name))
    linear(plain.out, ours.out_mean)
