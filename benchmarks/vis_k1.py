"""VIS-MEM-VAE's Appendix D claims at the MNIST k = 1 pair's budget (issue 13): measured here, not in the batch.

The notebook mem/fig7_vis_mem_vae compares VIS-MEM-VAE with Table 1's MEM-VAE and VAE at Table 1's
budget (`laptop`: 5 epochs on 10,000 images), where none of its checks shows. Both are k = 1
comparisons, so the first budget to try on a CPU is the one at which Table 1's MNIST k = 1 gain and
Sec. 5.2's k = 1 comparisons show: the k = 1 pair's (`laptop`: 20 epochs on all 60,000 images). This
script trains `mem/mnist/VIS-MEM-VAE-long` (VIS-MEM-VAE at that budget) for every training seed of the
profile beside the pair (`mem/mnist/VAE-long`, `MEM-VAE-long`, the batch's own runs) and judges both
claims with the notebook's functions (memvae_lib/papers/mem/claims.py): the log-likelihood order
MEM-VAE > VIS-MEM-VAE > VAE as paired differences over seeds, and Table 4's class-specific slots as
the number of distinct top-1 slots among classes with a top-1 share of at least 0.08.

It is not part of the `laptop` batch: two VIS-MEM-VAE seeds cost about 10 min of one-core training (5
per seed), about 5 more minutes of a batch that already takes 53 of its 60, for verdicts measured
here not to reach `shows` (benchmarks/results/vis_k1/README.md).

Every run is an ordinary run of the run cache (MEMVAE_RUNS_DIR): the pair is shared with the batch, a
missing run is trained as the batch trains it (--jobs worker processes, the cores shared out), and a
second call only reads. Writes <out>/vis_k1.json (every value, the command) and vis_k1.txt, and
prints the table.

    python benchmarks/vis_k1.py --out benchmarks/results/vis_k1              # ~25 min on 2 cores, empty cache
    python benchmarks/vis_k1.py --profile smoke --out /tmp/vis_k1            # seconds (tests)
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from memvae_lib.experiments import run_spec, seed_replicates  # noqa: E402

MODELS = {"VIS-MEM-VAE": "mem/mnist/VIS-MEM-VAE-long", "MEM-VAE": "mem/mnist/MEM-VAE-long", "VAE": "mem/mnist/VAE-long"}
STEPS = (("MEM-VAE", "VIS-MEM-VAE"), ("VIS-MEM-VAE", "VAE"))  # the claim's order, one paired difference each
SEED = 1234  # the notebook's `seed`: the one z ~ q(z|x) per test image behind the attention averages


def specs(profile: str) -> dict[str, list]:
    """Every training seed of each model, as the notebooks build them."""
    from memvae_lib.papers import mem

    seeds = mem.budget(profile).seeds
    return {name: seed_replicates(run_spec(experiment, profile), seeds) for name, experiment in MODELS.items()}


def train_missing(seed_specs: dict[str, list], device: str, jobs: int) -> None:
    """On the CPU with jobs > 1, the runs not yet in the cache as the batch trains them ahead
    (train_ahead: `jobs` worker processes, the cores shared out, the longest first), so that a run made
    here is the run the batch would make; otherwise (or for a run that failed there) get_run trains it
    in this process, where a failure raises with its full error."""
    from memvae_lib.train_ahead import train_ahead

    if device == "cpu" and jobs > 1:
        train_ahead({f"{name} seed {spec.train.seed}": spec for name, ss in seed_specs.items() for spec in ss},
                    device, jobs)


def measure(profile: str, device: str = "cpu", jobs: int = 2) -> dict:
    """Train (or read) every run, then every number the two claims are judged on, and the verdicts."""
    from memvae_lib.evaluation import get_run, test_set
    from memvae_lib.papers import mem
    from memvae_lib.papers.mem import claims, scores, slots
    from memvae_lib.papers.mem.configs import images_text

    b = mem.budget(profile)
    seed_specs = specs(profile)
    train_missing(seed_specs, device, jobs)
    runs = {name: [get_run(spec, device=device) for spec in ss] for name, ss in seed_specs.items()}
    test = test_set("mnist", b.test_subset)
    ll = {name: scores.seed_log_likelihoods(r, test, b.k_eval) for name, r in runs.items()}
    steps = {(a, c): scores.seed_differences(runs[a], runs[c], test, b.k_eval) for a, c in STEPS}
    preference = [slots.layer_preference(r.model, test, layer=1, seed=SEED) for r in runs["VIS-MEM-VAE"]]  # (10, 70)
    distinct = [slots.distinct_top_slots(p, claims.MEANINGFUL_SHARE) for p in preference]
    verdicts = [claims.fig7_vis_between(steps), claims.fig7_class_specific_slots([{"mean": d} for d in distinct])]
    first = runs["VIS-MEM-VAE"][0].spec
    return {
        "profile": profile, "epochs": first.train.epochs, "train_images": images_text(first.train_subset, "mnist"),
        "test_images": len(test.y), "k": b.k_eval,
        "runs": {name: [r.path.name for r in rs] for name, rs in runs.items()},
        "seeds": [spec.train.seed for spec in seed_specs["VIS-MEM-VAE"]],
        "test_ll": {name: [v["mean"] for v in values] for name, values in ll.items()},
        "differences": {f"{a} - {c}": [{"mean": d["mean"], "sem": d["sem"]} for d in steps[a, c]] for a, c in STEPS},
        "distinct_top1_slots": distinct,
        "top1_slot": [slots.top_values(p, 1)[0][:, 0].tolist() for p in preference],
        "top1_share": [[round(float(s), 4) for s in slots.top_values(p, 1)[1][:, 0]] for p in preference],
        "claims": [{"id": c.id, "statement": c.statement, "verdict": c.verdict, "reason": c.reason} for c in verdicts],
    }


def _plus_minus(d: dict) -> str:
    return f"{d['mean']:+.2f} +- {d['sem']:.2f}"


def summary(result: dict) -> str:
    lines = [f"VIS-MEM-VAE at the k = 1 pair's budget ({result['profile']}: {result['epochs']} epochs on "
             f"{result['train_images']} images; L_{result['k']} on {result['test_images']:,} test images), "
             f"seeds {result['seeds']}", "",
             "| model | L_k per seed (nats) |", "| --- | --- |"]
    lines += [f"| {name} | {', '.join(f'{v:.2f}' for v in values)} |" for name, values in result["test_ll"].items()]
    lines += ["", "| paired difference | per seed (+- paired SE) |", "| --- | --- |"]
    lines += [f"| {name} | {', '.join(_plus_minus(d) for d in ds)} |"
              for name, ds in result["differences"].items()]
    lines += ["", f"distinct top-1 slots (share >= 0.08) per seed: {result['distinct_top1_slots']}", ""]
    lines += [f"- {c['verdict']}: {c['statement']} -- {c['reason']}" for c in result["claims"]]
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="laptop", choices=("smoke", "laptop", "paper"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--jobs", type=int, default=2, help="runs trained at once on the CPU, as the batch's JOBS "
                        "(default 2); 1 trains in this process with torch's thread count")
    parser.add_argument("--out", type=Path, required=True, help="folder for vis_k1.json and vis_k1.txt")
    args = parser.parse_args(argv)
    result = measure(args.profile, args.device, args.jobs)
    result = {"command": "python benchmarks/vis_k1.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "torch": torch.__version__, "threads": torch.get_num_threads(), "machine": platform.machine(), **result}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "vis_k1.json").write_text(json.dumps(result, indent=1) + "\n")
    text = summary(result)
    print(text)
    (args.out / "vis_k1.txt").write_text(text + "\n")
    return result


if __name__ == "__main__":
    main()
