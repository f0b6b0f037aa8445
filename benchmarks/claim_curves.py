"""A claim's statistic against its training budget (issue 13): after how many epochs on how many
images does a claim show? Measured, so that the `laptop` budgets follow the claims.

Curves, each over --seeds training seeds (the spread is the noise a verdict is judged against):

- overpruning (eVAE paper, Sec. 3, Figs. 1-2): the 50-d VAE at lambda = 1 (evae/mnist/VAE-D50-lambda1)
  and the eVAE D50 K5 (evae/mnist/eVAE-D50-K5), trained on the paper's 50,000 images. After every
  epoch: active units on the first 1,000 training images at the paper's A_u >= 0.02 and at Burda et
  al.'s 0.01 (papers/evae/activity.py: the per-epitome definition for the eVAE). The paper: about
  30 of 50 active for the VAE, all 50 for the eVAE.
- mem_k1 (MEM paper, Table 1, MNIST k = 1): mem/mnist/VAE and mem/mnist/MEM-VAE on all 60,000
  images. After every epoch: test L_100 on the first 1,000 test images (evaluation.training_curve). The
  MEM_DGM schedule is stretched to the curve's length (lr annealed after a third), so the value at
  epoch e is the same run seen at e, not a run of e epochs. The paper: MEM gain +1.26 nats.
- ocr_k1 (MEM paper, Table 1, OCR-letters k = 1): mem/ocr_letters/VAE and MEM-VAE on all 32,152
  training letters, as mem_k1. The paper: MEM gain +1.00 nats.

Every run is an ordinary run of the run cache (MEMVAE_RUNS_DIR; give this script its own folder),
so a killed script resumes from the last checkpoints, and a second call only reads the histories.
Writes <out>/claim_curves.json (every value, each curve with the command that made it) and
claim_curves.png, and prints a table. A curve not asked for (--curves) is kept from the
claim_curves.json already in <out>, so the curves can be measured one session at a time.

    python benchmarks/claim_curves.py --out benchmarks/results/claim_curves          # ~1.5 h, 2 cores
    python benchmarks/claim_curves.py --tiny --out /tmp/curves                       # seconds (tests)
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from memvae_lib.estimators._util import evaluation_mode  # noqa: E402
from memvae_lib.experiments import run_spec, seed_replicates  # noqa: E402

CURVES = ("overpruning", "mem_k1", "ocr_k1")
MEM_CURVES = {"mem_k1": "mnist", "ocr_k1": "ocr_letters"}  # curve -> data set of its k = 1 pair
PAPER_GAIN = {"mem_k1": 1.26, "ocr_k1": 1.00}  # Table 1, k = 1
THRESHOLDS = (0.02, 0.01)


@dataclasses.dataclass(frozen=True)
class Size:
    """What one curve trains on: images, epochs, test images and importance samples."""
    evae_images: int = 50_000       # the eVAE paper's training set
    evae_epochs: int = 30
    mem_images: int | None = None   # all 60,000
    mem_epochs: int = 100
    ocr_images: int | None = None   # all 32,152
    ocr_epochs: int = 100
    test_images: int = 1000
    k: int = 100
    activity_images: int = 1000     # the first training images, binarised once (evaluation.activity_set)

    def k1_pair(self, dataset: str) -> tuple[int, int | None]:
        """(epochs, training images) of `dataset`'s k = 1 pair curve."""
        return (self.mem_epochs, self.mem_images) if dataset == "mnist" else (self.ocr_epochs, self.ocr_images)


TINY = Size(evae_images=200, evae_epochs=2, mem_images=200, mem_epochs=2, ocr_images=200, ocr_epochs=2, test_images=20,
            k=5, activity_images=100)


def overpruning_specs(size: Size, seeds: int) -> dict[str, list]:
    """The eVAE pair, stretched to size.evae_epochs on size.evae_images, with a per-epoch record."""
    out = {}
    for name in ("evae/mnist/VAE-D50-lambda1", "evae/mnist/eVAE-D50-K5"):
        spec = run_spec(name, "laptop")
        spec = dataclasses.replace(spec, train_subset=size.evae_images,
                                   train=dataclasses.replace(spec.train, epochs=size.evae_epochs, eval_every=1))
        out[name] = seed_replicates(spec, seeds)
    return out


def mem_specs(size: Size, seeds: int, dataset: str = "mnist") -> dict[str, list]:
    """The k = 1 pair of `dataset` (MNIST: size.mem_epochs on size.mem_images; OCR-letters: size.ocr_*),
    test L_k after every epoch."""
    from memvae_lib.papers.mem.configs import train_config

    epochs, images = size.k1_pair(dataset)
    out = {}
    for name in (f"mem/{dataset}/VAE", f"mem/{dataset}/MEM-VAE"):
        spec = run_spec(name, "laptop")
        train = train_config(epochs, eval_every=1, k_curve=size.k, eval_subset=size.test_images)
        out[name] = seed_replicates(dataclasses.replace(spec, train_subset=images, train=train), seeds)
    return out


def activity_curve(x: torch.Tensor):
    """evaluate(model, epoch) for train(): active units at each threshold, on images x."""
    from memvae_lib.papers.evae.activity import unit_statistics

    def evaluate(model, epoch: int) -> dict:
        with evaluation_mode(model):
            return {f"active_{t:g}": unit_statistics(model, x.to(model.device, model.dtype), t)["count"]
                    for t in THRESHOLDS}

    return evaluate


def train_all(specs: dict[str, list], evaluate=None, device="cpu") -> dict[str, list[list[dict]]]:
    """Every seed of every model, trained or read from the run cache: name -> [history per seed].
    Seed by seed (all models of the first seed, then of the next): a run cut short still leaves
    whole comparisons behind."""
    from memvae_lib.evaluation import get_run

    histories = {name: [] for name in specs}
    for i in range(max(len(seed_specs) for seed_specs in specs.values())):
        for name, seed_specs in specs.items():
            spec = seed_specs[i]
            start = time.perf_counter()
            kwargs = {} if evaluate is None else {"evaluate": evaluate}
            run = get_run(spec, device=device, **kwargs)
            print(f"  {name} seed {spec.train.seed}: {run.path.name} ({time.perf_counter() - start:.0f} s)",
                  flush=True)
            histories[name].append(run.history)
    return histories


def series(histories: list[list[dict]], key: str) -> list[list[float]]:
    """One list per seed of `key` at every epoch that recorded it."""
    return [[record[key] for record in history if key in record] for history in histories]


def summary(curves: dict) -> str:
    """The table: each curve's statistic at a few epochs, mean over seeds (min..max)."""
    lines = []

    def cell(values):
        return f"{statistics.mean(values):8.2f} ({min(values):.2f}..{max(values):.2f})"

    if "overpruning" in curves:
        c = curves["overpruning"]
        lines.append(f"overpruning: active units of 50 ({c['images']:,} images, {c['seeds']} seeds)")
        for name, per_key in c["models"].items():
            for key, per_seed in per_key.items():
                epochs = len(per_seed[0])
                marks = sorted({e for e in (1, 2, 5, 10, 20, 30, epochs) if e <= epochs})
                row = "  ".join(f"e{e}: {cell([s[e - 1] for s in per_seed])}" for e in marks)
                lines.append(f"  {name.split('/')[-1]:<18}{key:<12}{row}")
    for curve, dataset in MEM_CURVES.items():
        if curve not in curves:
            continue
        c = curves[curve]
        lines.append(f"{curve}: test L_{c['k']} on {c['test_images']:,} images; gain = MEM-VAE - VAE "
                     f"({'all' if c['images'] is None else format(c['images'], ',')} images, {c['seeds']} seeds)")
        gains = c["gain"]
        epochs = len(gains[0])
        for e in sorted({e for e in (1, 5, 10, 20, 30, 50, 75, 100, epochs) if e <= epochs}):
            vae = cell([s[e - 1] for s in c["models"][f"mem/{dataset}/VAE"]["test_ll"]])
            mem = cell([s[e - 1] for s in c["models"][f"mem/{dataset}/MEM-VAE"]["test_ll"]])
            lines.append(f"  epoch {e:>3}  VAE {vae}  MEM-VAE {mem}  gain {cell([g[e - 1] for g in gains])}")
    return "\n".join(lines)


def figure(curves: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [c for c in CURVES if c in curves]  # one line per seed
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.8), squeeze=False)
    for ax, curve in zip(axes[0], panels):
        c = curves[curve]
        if curve == "overpruning":
            for (name, per_key), color in zip(c["models"].items(), ("C0", "C1")):
                for key, style in zip(per_key, ("-", ":")):
                    for i, s in enumerate(per_key[key]):
                        ax.plot(range(1, len(s) + 1), s, style, color=color, alpha=0.8,
                                label=f"{name.split('/')[-1]}, A_u >= {key.split('_')[1]}" if i == 0 else None)
            ax.axhline(30, color="grey", lw=0.8, ls="--", label="paper: VAE about 30")
            ax.set(xlabel="epoch", ylabel="active units (of 50)", title="eVAE paper: over-pruning")
        else:
            for i, g in enumerate(c["gain"]):
                ax.plot(range(1, len(g) + 1), g, color="C2", alpha=0.8, label="ours, per seed" if i == 0 else None)
            ax.axhline(PAPER_GAIN[curve], color="grey", lw=0.8, ls="--",
                       label=f"paper: {PAPER_GAIN[curve]:+.2f} (3000 epochs)")
            ax.axhline(0, color="black", lw=0.6)
            ax.set(xlabel="epoch", ylabel=f"MEM-VAE - VAE, test L_{c['k']} (nats)",
                   title=f"MEM paper Table 1: the {'MNIST' if curve == 'mem_k1' else 'OCR-letters'} k = 1 gain")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def kept_curves(path: Path, measured: set, tiny: bool) -> dict:
    """The curves of an earlier claim_curves.json that this call does not measure, each with the
    command, threads, torch and size (tiny or not) that made it (the file's own for a file written
    before curves carried theirs). A damaged file, or a kept curve of the other size, is refused."""
    if not path.exists() or set(CURVES) <= measured:
        return {}
    fix = (f"move it away, or rerun with every curve (--curves {' '.join(CURVES)}) to write it anew "
           "(the runs are cached)")
    try:
        previous = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SystemExit(f"{path} is not valid JSON ({e}): {fix}") from None
    if not isinstance(previous, dict) or any(not isinstance(previous.get(c, {}), dict) for c in CURVES):
        raise SystemExit(f"{path} is not a claim_curves.json (an object of curves, each an object): {fix}")
    meta = {key: previous.get(key) for key in ("command", "threads", "torch", "tiny")}
    kept = {c: {**meta, **previous[c]} for c in CURVES if c in previous and c not in measured}
    for c, curve in kept.items():
        if bool(curve.get("tiny")) != tiny:
            raise SystemExit(f"{path} holds the {c} curve of a {'--tiny' if curve.get('tiny') else 'full'} run and "
                             f"this is a {'--tiny' if tiny else 'full'} one: one file would mix the two sizes. Use "
                             f"another --out, or {fix}")
    return kept


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--curves", nargs="+", choices=CURVES, default=list(CURVES))
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--mem-epochs", type=int, default=Size.mem_epochs)
    parser.add_argument("--ocr-epochs", type=int, default=Size.ocr_epochs)
    parser.add_argument("--evae-epochs", type=int, default=Size.evae_epochs)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--tiny", action="store_true", help="a few hundred images, 2 epochs: a test of the script")
    parser.add_argument("--out", type=Path, required=True, help="folder for claim_curves.json and .png")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    kept = kept_curves(args.out / "claim_curves.json", set(args.curves), args.tiny)  # refused before any training
    size = TINY if args.tiny else Size(mem_epochs=args.mem_epochs, ocr_epochs=args.ocr_epochs, evae_epochs=args.evae_epochs)
    curves = {}
    if "overpruning" in args.curves:
        from memvae_lib.evaluation import activity_set

        print("overpruning:", flush=True)
        histories = train_all(overpruning_specs(size, args.seeds),
                              activity_curve(activity_set("mnist", size.activity_images)), args.device)
        curves["overpruning"] = {
            "images": size.evae_images, "epochs": size.evae_epochs, "seeds": args.seeds,
            "activity_images": size.activity_images,
            "models": {name: {f"active_{t:g}": series(h, f"active_{t:g}") for t in THRESHOLDS}
                       for name, h in histories.items()}}
    for curve, dataset in MEM_CURVES.items():
        if curve not in args.curves:
            continue
        print(f"{curve}:", flush=True)
        histories = train_all(mem_specs(size, args.seeds, dataset), device=args.device)
        models = {name: {"test_ll": series(h, "test_ll")} for name, h in histories.items()}
        gain = [[m - v for m, v in zip(mem, vae)] for mem, vae in
                zip(models[f"mem/{dataset}/MEM-VAE"]["test_ll"], models[f"mem/{dataset}/VAE"]["test_ll"])]
        epochs, images = size.k1_pair(dataset)
        curves[curve] = {"images": images, "epochs": epochs, "seeds": args.seeds,
                         "test_images": size.test_images, "k": size.k, "models": models, "gain": gain}
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {"command": "python benchmarks/claim_curves.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "torch": torch.__version__, "threads": torch.get_num_threads(), "tiny": args.tiny}
    for c in curves.values():
        c.update(command=meta["command"], threads=meta["threads"], torch=meta["torch"], tiny=meta["tiny"])
    curves = {**kept, **curves}
    curves = {c: curves[c] for c in CURVES if c in curves}
    (args.out / "claim_curves.json").write_text(json.dumps({**meta, **curves}, indent=1) + "\n")
    figure(curves, args.out / "claim_curves.png")
    text = summary(curves)
    print(text)
    (args.out / "claim_curves.txt").write_text(text + "\n")
    return curves


if __name__ == "__main__":
    main()
