"""Training ms/step and IW-LL throughput of memvae_lib, as ratios against references measured in the
same run (never absolute targets: these machines are shared and noisy).

    python benchmarks/speed.py [--device cpu|cuda] [--steps 10] [--repeats 5] [--out FILE]

Ours: `memvae_lib.train.training_step` (the trainer's own update: Lasagne Adam, clipping by norm
then value, the NaN guard) on VAE / MemVAE, and `iw_log_likelihood` with its default chunking.
References, measured in the same run:
* `plain`: the same network written the obvious way in plain PyTorch (benchmarks/plain_reference.py:
  nn.Linear + nn.BatchNorm1d + ReLU, torch.distributions, torch.optim.Adam, the same clipping);
  for MEM-VAE that includes the memory, the ladder composition and the local reconstruction error.
  Before timing, the weights of ours are copied into the reference and both losses are computed
  with the same noise: the `|dloss|` column shows they are one network.
* `pythae`: pythae's VAE around the reference's MLPs, when pythae is importable (k = 1 only).
* IW-LL `plain`: the obvious loop, one image at a time with all k samples in one batch, on the
  plain reference with our weights and batch-norm statistics.

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
from memvae_lib.files import resolve_device
from memvae_lib.train import TrainConfig, make_optimizer, training_step
from plain_reference import PlainMemVAE, PlainVAE, copy_weights


def plain_step(model, x):
    """The plain loop's update: torch.optim.Adam, the same clipping, the loss read back for logging."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-4)

    def step():
        loss = model.loss(x)
        loss.item()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        torch.nn.utils.clip_grad_value_(model.parameters(), 1.0)
        opt.step()

    return step


def our_step(model, x):
    """Our update exactly as `memvae_lib.train.train` makes it (Lasagne Adam, clipping, NaN guard)."""
    cfg = TrainConfig(epochs=1)
    opt = make_optimizer(model, cfg)
    return lambda: training_step(model, opt, cfg, {"x": x})


def same_loss(ours, plain, x) -> float:
    """|our loss - the reference's| at the same weights and noise: the two compute one network."""
    copy_weights(ours, plain)
    torch.manual_seed(7)
    a = ours.training_loss(x)[0].item()
    torch.manual_seed(7)
    b = plain.loss(x).item()
    return abs(a - b)


def pythae_step(x, device):
    """pythae's VAE (its own loss, sampling and forward) around the plain reference's 500-500 BN-ReLU
    MLPs; its training step is ours' plain loop (torch Adam, the same clipping)."""
    try:
        from pythae.models import VAE as PyVAE, VAEConfig as PyVAEConfig
        from pythae.models.base.base_utils import ModelOutput
        from pythae.models.nn import BaseDecoder, BaseEncoder
    except ImportError:
        return None
    net = PlainVAE(1)

    class Encoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x):
            mu, logvar = self.net.encode(x.reshape(x.shape[0], -1))
            return ModelOutput(embedding=mu, log_covariance=logvar)

    class Decoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, z):
            return ModelOutput(reconstruction=torch.sigmoid(self.net.decode(z)).view(-1, 1, 28, 28))

    cfg = PyVAEConfig(input_dim=(1, 28, 28), latent_dim=100, reconstruction_loss="bce")
    model = PyVAE(cfg, encoder=Encoder(), decoder=Decoder()).to(device)
    model.loss = lambda xb: model({"data": xb.view(-1, 1, 28, 28)}).loss
    return plain_step(model, x)


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


def device_name(device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{torch.get_num_threads()} threads"


def training_table(x, device, steps: int, repeats: int) -> list[str]:
    lines = [f"{'training step':<22}{'ours ms':>9}{'plain ms':>10}{'plain/ours':>12}{'pythae/ours':>13}{'|dloss|':>10}"]
    for k in (1, 5):
        for name, ours, plain in (("VAE", VAE(VAEConfig(k=k)), PlainVAE(k)),
                                  ("MEM-VAE", MemVAE(MemVAEConfig(k=k)), PlainMemVAE(k))):
            ours, plain = ours.to(device).train(), plain.to(device).train()
            dloss = same_loss(ours, plain, x)
            candidates = {"ours": our_step(ours, x), "plain": plain_step(plain, x)}
            if name == "VAE" and k == 1 and (py := pythae_step(x, device)) is not None:
                candidates["pythae"] = py
            t = compare(candidates, steps, repeats, device)
            py_ratio = f"{t['pythae'] / t['ours']:.2f}" if "pythae" in t else "-"
            lines.append(f"{name + f' k={k}':<22}{t['ours'] * 1e3:>9.1f}{t['plain'] * 1e3:>10.1f}"
                         f"{t['plain'] / t['ours']:>12.2f}{py_ratio:>13}{dloss:>10.1e}")
    return lines


def iwll_table(x, device, ks: list[int], repeats: int) -> list[str]:
    """IW-LL throughput for each k: ours (chunked over examples and samples, float64 accumulation)
    against the per-image loop on the plain reference; then the matmul FLOP floor of the last k."""
    torch.manual_seed(0)
    model = VAE(VAEConfig()).to(device)
    model.prepare_evaluation(x)  # BN statistics from a batch, as from the training set
    plain = PlainVAE(1).to(device)
    copy_weights(model, plain)
    model.eval(), plain.eval()
    with torch.no_grad():
        torch.manual_seed(3)
        a = model.log_weights(x[:1], 100)
        torch.manual_seed(3)
        dlogw = float((a - plain.log_weights(x[:1], 100)).abs().max())
    lines = [f"{'IW log-likelihood (VAE)':<22}{'ours samples/s':>16}{'plain samples/s':>17}{'ours/plain':>12}"
             f"{'|dlog w|':>10}"]
    for k in ks:
        def plain_iwll():
            with torch.no_grad():
                for row in x:
                    log_w = plain.log_weights(row[None], k)
                    (torch.logsumexp(log_w.double(), -1) - math.log(k)).item()

        t = compare({"ours": lambda: iw_log_likelihood(model, x, k=k), "plain": plain_iwll}, 1, repeats, device)
        samples = x.shape[0] * k
        lines.append(f"{f'{x.shape[0]} images x k={k}':<22}{samples / t['ours']:>16,.0f}{samples / t['plain']:>17,.0f}"
                     f"{t['plain'] / t['ours']:>12.2f}{dlogw:>10.1e}")
    # The floor: the matrix-multiply FLOPs of the estimate at the measured matmul rate of this device.
    rate = matmul_rate(device)
    per_sample = 2 * sum(l.in_features * l.out_features for l in decoder_linears(model))  # decoder, per z
    per_image = 2 * sum(l.in_features * l.out_features for l in encoder_linears(model))  # encoder, once
    flops = samples * per_sample + x.shape[0] * per_image
    full = 10_000 * 5000 * per_sample + 10_000 * per_image
    lines += ["", f"matmul rate measured here: {rate / 1e9:,.0f} GFLOP/s (fp32, 4096^2)",
              f"IW-LL k={k}: matmul FLOPs {flops / 1e9:.1f} G, floor {flops / rate:.3f} s, ours {t['ours']:.3f} s "
              f"({t['ours'] / (flops / rate):.1f}x the floor)",
              f"MNIST test set, k = 5000 (10,000 images): {full / 1e12:.0f} TFLOP, floor {full / rate:,.0f} s here, "
              f"projected ours {full / rate * t['ours'] / (flops / rate):,.0f} s"]
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--k-eval", default="100,1000,5000", help="importance samples, comma-separated")
    parser.add_argument("--eval-examples", type=int, default=20)
    parser.add_argument("--out", default=None, help="also write the table to this file")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    torch.manual_seed(0)
    x = torch.bernoulli(torch.rand(100, 784, device=device))
    lines = [f"device: {device} ({device_name(device)}), torch {torch.__version__}, batch 100, "
             f"median of {args.repeats} interleaved repeats x {args.steps} steps", ""]
    lines += training_table(x, device, args.steps, args.repeats)
    ks = [int(k) for k in str(args.k_eval).split(",")]
    lines += [""] + iwll_table(x[: args.eval_examples], device, ks, args.repeats)
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
