"""Training ms/step and IW-LL throughput of memvae_lib, as ratios against references measured in the
same run (never absolute targets: these machines are shared and noisy).

    python benchmarks/speed.py [--device cpu|cuda] [--steps 20] [--repeats 5] [--out FILE]

References:
* `plain`: a straightforward PyTorch loop of the same network (nn.Linear + nn.BatchNorm1d + ReLU,
  the IWAE bound via logsumexp, torch.optim.Adam, the same clipping), written inline below.
* `pythae`: pythae's VAE with the same MLP widths, when pythae is importable (k = 1 only).

Each measurement interleaves the implementations `--repeats` times and reports the median, so a
burst of load on a shared machine hits all of them alike. Ratio = reference time / ours (> 1: ours
is faster).
"""
from __future__ import annotations

import argparse
import math
import statistics
import time

import torch
from torch import nn

from memvae_lib.estimators import iw_log_likelihood
from memvae_lib.models.mem_vae import MemVAE, MemVAEConfig
from memvae_lib.models.vae import VAE, VAEConfig
from memvae_lib.progress import resolve_device


class PlainVAE(nn.Module):
    """The reference: the MNIST 500-500-100 BN-ReLU VAE written the obvious way."""

    def __init__(self, k: int):
        super().__init__()
        self.k = k

        def mlp(dims):
            layers = []
            for a, b in zip(dims[:-1], dims[1:]):
                layers += [nn.Linear(a, b), nn.BatchNorm1d(b, eps=1e-10), nn.ReLU()]
            return nn.Sequential(*layers)

        self.enc = mlp([784, 500, 500])
        self.mu, self.logvar = nn.Linear(500, 100), nn.Linear(500, 100)
        self.dec = nn.Sequential(mlp([100, 500, 500]), nn.Linear(500, 784))

    def loss(self, x):
        h = self.enc(x)
        mu, logvar = self.mu(h), self.logvar(h)
        std = torch.exp(0.5 * logvar)
        eps = torch.randn(x.shape[0], self.k, mu.shape[1], device=x.device)
        z = mu[:, None] + std[:, None] * eps
        logits = self.dec(z.reshape(-1, mu.shape[1])).view(x.shape[0], self.k, -1)
        log_px = -nn.functional.binary_cross_entropy_with_logits(
            logits, x[:, None].expand_as(logits), reduction="none").sum(-1)
        log_pz = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
        log_qz = torch.distributions.Normal(mu[:, None], std[:, None]).log_prob(z).sum(-1)
        log_w = log_px + log_pz - log_qz
        return -(torch.logsumexp(log_w, 1) - math.log(self.k)).mean()


def step_fn(model, loss_of, x):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-4)

    def step():
        loss = loss_of(model, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        torch.nn.utils.clip_grad_value_(model.parameters(), 1.0)
        opt.step()

    return step


def pythae_step(x, device):
    """pythae's VAE (its own loss, sampling and forward) around the same 500-500 BN-ReLU MLPs."""
    try:
        from pythae.models import VAE as PyVAE, VAEConfig as PyVAEConfig
        from pythae.models.base.base_utils import ModelOutput
        from pythae.models.nn import BaseDecoder, BaseEncoder
    except ImportError:
        return None

    class Encoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.body = PlainVAE(1).enc
            self.mu, self.logvar = nn.Linear(500, 100), nn.Linear(500, 100)

        def forward(self, x):
            h = self.body(x.reshape(x.shape[0], -1))
            return ModelOutput(embedding=self.mu(h), log_covariance=self.logvar(h))

    class Decoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.body = PlainVAE(1).dec

        def forward(self, z):
            return ModelOutput(reconstruction=torch.sigmoid(self.body(z)).view(-1, 1, 28, 28))

    cfg = PyVAEConfig(input_dim=(1, 28, 28), latent_dim=100, reconstruction_loss="bce")
    model = PyVAE(cfg, encoder=Encoder(), decoder=Decoder()).to(device)
    return step_fn(model, lambda m, xb: m({"data": xb.view(-1, 1, 28, 28)}).loss, x)


def decoder_linears(model):
    return [m for m in model.decoder.modules() if isinstance(m, nn.Linear)] + [model.out_mean]


def encoder_linears(model):
    return [m for m in model.encoder.modules() if isinstance(m, nn.Linear)] + [model.enc_mean, model.enc_logvar]


def matmul_rate(device, n: int = 4096, repeats: int = 5) -> float:
    """FLOP/s of an n x n fp32 matrix multiply on `device` (best of `repeats`)."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    best = min(timed(lambda: a @ b, 1, device) for _ in range(repeats))
    return 2 * n**3 / best


def timed(fn, steps: int, device) -> float:
    """Seconds per call of fn, over `steps` calls after one warm-up call."""
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def compare(candidates: dict, steps: int, repeats: int, device) -> dict:
    """Interleaved repeats; the median seconds per call of each candidate."""
    times = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            times[name].append(timed(fn, steps, device))
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--k-eval", type=int, default=1000)
    parser.add_argument("--eval-examples", type=int, default=20)
    parser.add_argument("--out", default=None, help="also write the table to this file")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    torch.manual_seed(0)
    x = torch.bernoulli(torch.rand(100, 784, device=device))
    ours_loss = lambda m, xb: m.training_loss(xb)[0]  # noqa: E731
    lines = [f"device: {device} ({torch.cuda.get_device_name() if device.type == 'cuda' else torch.get_num_threads()} "
             f"{'' if device.type == 'cuda' else 'threads'}), torch {torch.__version__}, batch 100, "
             f"median of {args.repeats} interleaved repeats x {args.steps} steps",
             "", f"{'training step':<34}{'ours ms':>9}{'plain ms':>10}{'plain/ours':>12}{'pythae/ours':>13}"]
    for k in (1, 5):
        for name, model in (("VAE", VAE(VAEConfig(k=k))), ("MEM-VAE", MemVAE(MemVAEConfig(k=k)))):
            candidates = {"ours": step_fn(model.to(device).train(), ours_loss, x),
                          "plain": step_fn(PlainVAE(k).to(device).train(), lambda m, xb: m.loss(xb), x)}
            if name == "VAE" and k == 1:
                py = pythae_step(x, device)
                if py is not None:
                    candidates["pythae"] = py
            t = compare(candidates, args.steps, args.repeats, device)
            py_ratio = f"{t['pythae'] / t['ours']:.2f}" if "pythae" in t else "-"
            lines.append(f"{name + f' k={k}':<34}{t['ours'] * 1e3:>9.1f}{t['plain'] * 1e3:>10.1f}"
                         f"{t['plain'] / t['ours']:>12.2f}{py_ratio:>13}")
    lines.append("(the plain reference has no memory: for MEM-VAE the ratio is the memory's total overhead)")

    # IW log-likelihood throughput: ours (batched over examples and samples, float64 accumulation)
    # against the obvious per-example loop of the same model.
    model = VAE(VAEConfig()).to(device).eval()
    xe = x[: args.eval_examples]

    def plain_iwll():
        with torch.no_grad():
            for row in xe:
                log_w = model.log_weights(row[None], args.k_eval)
                (torch.logsumexp(log_w.double(), -1) - math.log(args.k_eval)).item()

    t = compare({"ours": lambda: iw_log_likelihood(model, xe, k=args.k_eval),
                 "plain": plain_iwll}, 1, args.repeats, device)
    samples = args.eval_examples * args.k_eval
    lines += ["", f"{'IW log-likelihood (VAE)':<34}{'ours samples/s':>16}{'plain samples/s':>17}{'ours/plain':>12}",
              f"{f'{args.eval_examples} images x k={args.k_eval}':<34}{samples / t['ours']:>16,.0f}"
              f"{samples / t['plain']:>17,.0f}{t['plain'] / t['ours']:>12.2f}"]
    # The floor: the matrix-multiply FLOPs of the estimate at the measured matmul rate of this device.
    rate = matmul_rate(device)
    per_sample = 2 * sum(l.in_features * l.out_features for l in decoder_linears(model))  # decoder, per z
    per_image = 2 * sum(l.in_features * l.out_features for l in encoder_linears(model))  # encoder, once
    flops = samples * per_sample + args.eval_examples * per_image
    full = 10_000 * 5000 * per_sample + 10_000 * per_image
    lines += ["", f"matmul rate measured here: {rate / 1e9:,.0f} GFLOP/s (fp32, 4096^2)",
              f"IW-LL matmul FLOPs {flops / 1e9:.1f} G: floor {flops / rate:.3f} s, ours {t['ours']:.3f} s "
              f"({t['ours'] / (flops / rate):.1f}x the floor)",
              f"MNIST test set, k = 5000 (10,000 images): {full / 1e12:.0f} TFLOP, floor {full / rate:,.0f} s here, "
              f"projected ours {full / rate * t['ours'] / (flops / rate):,.0f} s"]
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
