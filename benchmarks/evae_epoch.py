"""One eVAE training epoch against one VAE epoch of the same size, measured against the FLOP
prediction of Algorithm 1 (issue 13): the ratio of the two epochs, never absolute seconds (these
machines are shared and noisy).

    python benchmarks/evae_epoch.py [--device cpu|cuda] [--n 10000 | --all] [--repeats 5] [--out FILE]
    python benchmarks/evae_epoch.py --tiny        # synthetic images, one repeat: the table in seconds

The pair: the eVAE paper's MNIST models at the laptop profile, `evae/mnist/VAE-D50-lambda1` and
`evae/mnist/eVAE-D50-K5` (`run_spec`): the same 784-500-50 encoder and 50-500-784 decoder, ReLU,
no batch norm, Bernoulli likelihood, batch 100, torch Adam; the eVAE has K = 5, stride 5, so
E = 10 epitomes. Both are built as `runs.get_or_train` builds them (the spec's seed and dtype).

An epoch is the trainer's own epoch body (`memvae_lib.train.train`): dynamic binarisation of the
N training images, `model.minibatches` (for the eVAE: Algorithm 1's assignment y* of all N images,
then balanced batches), and `training_step` on each of the floor(N / 100) batches. The eVAE epoch
is split where its first batch is ready: "assignment" = binarisation + `assign_epitomes` + the
balanced batch indices (binarisation and indices are a few ms), "training" = the gradient steps.
The two models alternate `--repeats` times (VAE epoch, eVAE epoch, ...), and the median of each
is reported, so a burst of load hits both alike.

The prediction counts matrix-multiply FLOPs of the dense layers only (2 * n_in * n_out per layer
per row; bias adds, activations, the likelihood, KL, the optimiser and the clipping are left out):
    F_enc = 2 (784*500 + 500*50 + 500*50)     encoder forward, one image (the mu and log-variance heads)
    F_dec = 2 (50*500 + 500*784)              decoder forward, one z (one more 500*784 head if Gaussian)
    training step, per image: 3 (F_enc + F_dec)   (forward + backward, the backward ~2x the forward)
    assignment, per image:    F_enc + E F_dec     (one encoder pass, E decoder passes, no backward)
    predicted eVAE/VAE epoch ratio = (3 (F_enc + F_dec) + F_enc + E F_dec) / (3 (F_enc + F_dec))
For D50/K5 that is 2.79 (the assignment costs 1.79 training epochs). The VAE and the eVAE training
steps have the same FLOPs. The target: measured ratio / predicted ratio <= 1.2.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from memvae_lib.data import binarize  # noqa: E402
from memvae_lib.experiments import run_spec  # noqa: E402
from memvae_lib.files import resolve_device  # noqa: E402
from memvae_lib.models import build_model  # noqa: E402
from memvae_lib.models.base import ASSIGN_ROWS  # noqa: E402
from memvae_lib.runs import DTYPES  # noqa: E402
from memvae_lib.train import make_optimizer, training_step  # noqa: E402

VAE_NAME, EVAE_NAME = "evae/mnist/VAE-D50-lambda1", "evae/mnist/eVAE-D50-K5"
TARGET = 1.2
RESULTS = Path(__file__).resolve().parent / "results"  # evae_epoch_<device type>.txt


def layer_flops(input_dim: int, hidden: tuple[int, ...], latent_dim: int, gaussian: bool = False) -> tuple[int, int]:
    """(encoder, decoder) forward matmul FLOPs per row, 2 * n_in * n_out per dense layer: encoder
    input_dim -> hidden... -> two latent_dim heads (mu, log-variance); decoder latent_dim ->
    reversed hidden... -> input_dim (two such heads, mean and log-variance, when Gaussian)."""
    enc_dims = [input_dim, *hidden]
    enc = sum(a * b for a, b in zip(enc_dims[:-1], enc_dims[1:])) + 2 * hidden[-1] * latent_dim
    dec_dims = [latent_dim, *hidden[::-1]]
    dec = sum(a * b for a, b in zip(dec_dims[:-1], dec_dims[1:])) + (2 if gaussian else 1) * hidden[0] * input_dim
    return 2 * enc, 2 * dec


def prediction(config, num_epitomes: int) -> dict:
    """FLOPs per image of a training step and of the assignment, and the predicted eVAE/VAE ratio."""
    enc, dec = layer_flops(config.input_dim, tuple(config.hidden), config.latent_dim,
                           config.likelihood == "gaussian")
    train = 3 * (enc + dec)
    assign = enc + num_epitomes * dec
    return {"encoder": enc, "decoder": dec, "train": train, "assign": assign, "ratio": (train + assign) / train}


def model_flops(model: nn.Module) -> int:
    """2 * in * out summed over every nn.Linear of a model: the check that layer_flops counts them all."""
    return sum(2 * m.in_features * m.out_features for m in model.modules() if isinstance(m, nn.Linear))


def synchronize(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


class Epoch:
    """One model, its optimiser and its generators, ready to run epochs as `train` does."""

    def __init__(self, spec, x: torch.Tensor, device, seed: int = 0):
        torch.manual_seed(spec.train.seed)
        previous = torch.get_default_dtype()
        torch.set_default_dtype(DTYPES[spec.dtype])
        try:
            self.model = build_model(spec.model)
        finally:
            torch.set_default_dtype(previous)
        self.model.to(device=device, dtype=DTYPES[spec.dtype]).train()
        self.cfg, self.device = spec.train, device
        self.x = x.to(device=device, dtype=DTYPES[spec.dtype])
        self.optimizer = make_optimizer(self.model, self.cfg)
        self.shuffle = torch.Generator().manual_seed(seed)
        self.binarize = torch.Generator(device=self.x.device).manual_seed(seed + 1)

    def __call__(self) -> tuple[float, float]:
        """Seconds until the first batch is ready (binarisation + assignment), then of the steps."""
        synchronize(self.device)
        start = time.perf_counter()
        x_epoch = binarize(self.x, self.binarize)
        batches = self.model.minibatches(x_epoch, self.cfg.batch_size, self.shuffle)
        first = next(batches)
        synchronize(self.device)
        ready = time.perf_counter()
        for batch in (first, *batches):
            training_step(self.model, self.optimizer, self.cfg, batch)
        synchronize(self.device)
        return ready - start, time.perf_counter() - ready


def measure(x: torch.Tensor, device, repeats: int) -> dict:
    """Interleaved epochs of the pair (one warm-up epoch each first); medians."""
    vae, evae = Epoch(run_spec(VAE_NAME), x, device), Epoch(run_spec(EVAE_NAME), x, device)
    vae(), evae()
    times = {"vae": [], "evae": [], "assign": [], "steps": []}
    for _ in range(repeats):
        times["vae"].append(sum(vae()))
        a, s = evae()
        times["evae"].append(a + s)
        times["assign"].append(a)
        times["steps"].append(s)
    return {"median": {k: statistics.median(v) for k, v in times.items()}, "models": (vae.model, evae.model)}


def training_images(n: int | None, tiny: bool) -> torch.Tensor:
    """The first n MNIST training images (grey, binarised each epoch), or synthetic grey images."""
    if tiny:
        return torch.rand(n, 784, generator=torch.Generator().manual_seed(0))
    from memvae_lib.data import load_dataset

    x = load_dataset("mnist").train_x
    return x if n is None else x[:n]


def table(args) -> str:
    device = resolve_device(args.device)
    x = training_images(args.n, args.tiny)
    n = x.shape[0]
    spec = run_spec(EVAE_NAME)
    result = measure(x, device, args.repeats)
    vae_model, evae_model = result["models"]
    p = prediction(spec.model, evae_model.num_epitomes)
    for model in (vae_model, evae_model):  # the count covers every dense layer of both models
        assert model_flops(model) == p["encoder"] + p["decoder"], (model_flops(model), p)
    t = result["median"]
    measured = t["evae"] / t["vae"]
    steps = n // spec.train.batch_size * spec.train.batch_size  # images seen by the training steps
    threads = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} threads"
    data = "synthetic grey images (--tiny)" if args.tiny else "MNIST training images"
    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    lines = [
        f"device: {device} ({threads}{load}), torch {torch.__version__}; {n:,} {data}, batch "
        f"{spec.train.batch_size}; median of {args.repeats} interleaved epochs each",
        f"{VAE_NAME} vs {EVAE_NAME}: {evae_model.config.describe()}",
        f"FLOPs per image (matmul): encoder {p['encoder']:,}, decoder {p['decoder']:,}; training step "
        f"3 x (enc + dec) = {p['train']:,}; assignment enc + {evae_model.num_epitomes} x dec = {p['assign']:,} "
        f"({p['assign'] / p['train']:.2f} training epochs)",
        "",
        f"{'VAE epoch s':>12}{'eVAE epoch s':>14}{'(assign':>9}{'/ train)':>10}{'measured':>10}{'predicted':>11}"
        f"{'meas/pred':>11}{'target':>8}",
        f"{t['vae']:>12.3f}{t['evae']:>14.3f}{t['assign']:>9.3f}{t['steps']:>10.3f}{measured:>10.2f}"
        f"{p['ratio']:>11.2f}{measured / p['ratio']:>11.2f}{'<= ' + str(TARGET):>8}",
        "",
        f"assignment / VAE epoch: measured {t['assign'] / t['vae']:.2f}, predicted {p['assign'] / p['train']:.2f}; "
        f"eVAE training steps / VAE epoch: {t['steps'] / t['vae']:.2f} (predicted 1.00)",
        f"matmul rate achieved: VAE epoch {steps * p['train'] / t['vae'] / 1e9:.1f} GFLOP/s, eVAE assignment "
        f"{n * p['assign'] / t['assign'] / 1e9:.1f} GFLOP/s (chunks of {ASSIGN_ROWS:,} decoder rows), eVAE "
        f"training steps {steps * p['train'] / t['steps'] / 1e9:.1f} GFLOP/s",
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n", type=int, default=10_000, help="training images (default 10,000)")
    parser.add_argument("--all", action="store_true", help="all 50,000 training images of the eVAE paper")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tiny", action="store_true", help="200 synthetic images, 1 repeat: a smoke run")
    parser.add_argument("--out", default=None, help="also write the table here (default, except with --tiny: "
                                                    "benchmarks/results/evae_epoch_<cpu|cuda>.txt)")
    args = parser.parse_args(argv)
    if args.all:
        args.n = 50_000
    if args.tiny:
        args.n, args.repeats = 200, 1
    text = table(args)
    print(text)
    out = args.out or (None if args.tiny else RESULTS / f"evae_epoch_{resolve_device(args.device).type}.txt")
    if out:
        Path(out).write_text(text + "\n")
    return text


if __name__ == "__main__":
    main()
