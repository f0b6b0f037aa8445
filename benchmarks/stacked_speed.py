"""Stacked training (memvae_lib.stacked) against M separate models, measured in the same run: the
ratio of M models trained one after the other with `train.train` to the same M trained as one stack
with `stacked.train_stacked` (> 1: the stack is faster). Target on the CPU: never below 1.

    PYTHONPATH=. python benchmarks/stacked_speed.py [--models 2 4] [--arch vae mem] [--k 1] [--steps 5]
        [--epochs 2] [--repeats 3] [--hidden 500 500] [--latent 100] [--device cpu|cuda]

ms/step is the time of one step of all M models (separate: M steps one after the other). Both
sides run whole epochs of `steps` minibatches of 100 (binarisation, shuffling, Adam, clipping,
checkpoint-free), so each side's per-call setup is in its time; the medians of interleaved repeats
are reported, so a burst of load on a shared machine hits both alike.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from memvae_lib.files import resolve_device
from memvae_lib.models.mem_vae import MemVAE, MemVAEConfig
from memvae_lib.models.vae import VAE, VAEConfig
from memvae_lib.stacked import train_stacked
from memvae_lib.train import TrainConfig, train


def build(arch: str, seed: int, hidden, latent: int, k: int, device):
    torch.manual_seed(seed)
    if arch == "mem":
        return MemVAE(MemVAEConfig(hidden=hidden, latent_dim=latent, k=k)).to(device)
    return VAE(VAEConfig(hidden=hidden, latent_dim=latent, k=k)).to(device)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--arch", nargs="+", default=["vae", "mem"], choices=["vae", "mem"])
    parser.add_argument("--k", type=int, default=1)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hidden", type=int, nargs="+", default=[500, 500])
    parser.add_argument("--latent", type=int, default=100)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    x = torch.rand(args.steps * 100, 784, generator=torch.Generator().manual_seed(0)).to(device)
    hidden, n_steps = tuple(args.hidden), args.steps * args.epochs
    print(f"device {device} ({torch.get_num_threads()} threads), torch {torch.__version__}, batch 100, "
          f"{args.epochs} epochs x {args.steps} steps, median of {args.repeats} interleaved repeats")
    print(f"{'model':<22}{'M':>3}{'separate ms/step':>18}{'stacked ms/step':>17}{'separate/stacked':>18}")

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    for arch in args.arch:
        for m in args.models:
            cfgs = [TrainConfig(epochs=args.epochs, seed=s) for s in range(m)]

            def separate():
                for c in cfgs:
                    train(build(arch, c.seed, hidden, args.latent, args.k, device), x, c, binarize=True)

            def stacked():
                train_stacked([build(arch, c.seed, hidden, args.latent, args.k, device) for c in cfgs], x, cfgs,
                              binarize=True)

            times = {"separate": [], "stacked": []}
            for _ in range(args.repeats):
                for name, fn in (("separate", separate), ("stacked", stacked)):
                    sync()
                    start = time.perf_counter()
                    fn()
                    sync()
                    times[name].append(time.perf_counter() - start)
            sep, st = (statistics.median(times[k]) for k in ("separate", "stacked"))
            label = f"{'MEM-' if arch == 'mem' else ''}{'VAE' if args.k == 1 else f'IWAE-{args.k}'} " \
                    f"{'-'.join(map(str, hidden))}"
            print(f"{label:<22}{m:>3}{sep / n_steps * 1e3:>18.1f}{st / n_steps * 1e3:>17.1f}{sep / st:>18.2f}",
                  flush=True)


if __name__ == "__main__":
    main()
