"""MEM paper (Li, Zhu, Zhang 2016), Table 1, Sec. 5.2, Sec. 5.3 and Appendix D: test log-likelihoods of
seed-replicated runs, and one model minus another paired seed by seed and image by image.

Every model a claim compares is trained `budget.seeds` times (Notebook.seed_runs). Seed i of one
model is compared with seed i of the other on the same test images, so each seed's difference carries
the paired standard error of the per-image differences (evaluation.paired_difference), and the spread
of the differences over seeds is the training noise the claims are judged against (memvae_lib.claims).

    ll = seed_log_likelihoods(runs["VAE"], test, k=100)               # [{"mean", "sem", ...}] per seed
    gain = seed_differences(runs["MEM-VAE"], runs["VAE"], test, 100)  # [{"mean", "sem", ...}] per seed
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

from ...evaluation import TestSet, paired_difference, test_log_likelihood
from . import values

TABLE1_PAIRS = ((1, "VAE", "MEM-VAE"), (5, "IWAE-5", "MEM-IWAE-5"), (50, "IWAE-50", "MEM-IWAE-50"))  # (k, base, MEM)
TABLE1_MODELS = tuple(m for _, base, mem in TABLE1_PAIRS for m in (base, mem))
K_STEPS = (("IWAE-5", "VAE"), ("IWAE-50", "IWAE-5"), ("MEM-IWAE-5", "MEM-VAE"), ("MEM-IWAE-50", "MEM-IWAE-5"))
SEC52_ABLATIONS = {  # experiment (after mem/mnist/) -> its name in the paper's text
    "Large-VAE-k1": "Large-VAE (k=1)", "Large-VAE-k5": "Large-VAE (k=5)", "Large-VAE-k50": "Large-VAE (k=50)",
    "MEM-VAE-no-LRE": "MEM-VAE without LRE", "VAE-LRE": "VAE + LRE",
}
# Sec. 5.2's k = 1 models are compared with one another and with Table 1's k = 1 pair, all at that
# pair's budget (the k = 1 gain's, configs.MemBudget.k1_*): experiment -> the run trained at it
SEC52_K1_RUNS = {"VAE": "VAE-long", "MEM-VAE": "MEM-VAE-long", "Large-VAE-k1": "Large-VAE-k1-long",
                 "MEM-VAE-no-LRE": "MEM-VAE-no-LRE-long", "VAE-LRE": "VAE-LRE-long"}


def k_eval(budget, dataset: str) -> int:
    """Importance samples of the final evaluation: OCR-letters has its own (paper 100,000 vs 5000)."""
    return budget.k_eval_ocr if dataset == "ocr_letters" else budget.k_eval


def seed_log_likelihoods(runs: Sequence, test: TestSet, k: int) -> list[dict]:
    """L_k of each seed's run on `test` (cached per run): one {"mean", "sem", ...} per seed."""
    return [test_log_likelihood(run, test, k) for run in runs]


def seed_differences(runs_a: Sequence, runs_b: Sequence, test: TestSet, k: int) -> list[dict]:
    """L_k(a_i) - L_k(b_i) for each seed i on the same test images, with the paired standard error."""
    if len(runs_a) != len(runs_b) or not runs_a:
        raise ValueError(f"pair the seeds: got {len(runs_a)} runs of one model and {len(runs_b)} of the other")
    return [paired_difference(a, b, test, k) for a, b in zip(runs_a, runs_b)]


def gain_curve(mem_run, base_run) -> list[tuple[int, float]]:
    """[(epoch, L(MEM) - L(baseline))] from the in-training test L_k of two runs (TrainConfig.eval_every;
    the same first test images, k and sampler for both), at the epochs both recorded: the gain over
    training, as Table 1's k = 1 pair shows it. Empty when either run recorded none."""
    curves = [{h["epoch"]: h["test_ll"] for h in run.history if "test_ll" in h} for run in (mem_run, base_run)]
    return [(e, curves[0][e] - curves[1][e]) for e in sorted(curves[0].keys() & curves[1].keys())]


def mean(per_seed: Sequence[Mapping]) -> float:
    """The mean over seeds of per-seed {"mean": ...} results (what the tables print)."""
    if not per_seed:
        raise ValueError("no seeds to average")
    return math.fsum(float(s["mean"]) for s in per_seed) / len(per_seed)


def budget_line(budget) -> str:
    """One line stating what this profile trains and evaluates, against the paper's budget."""
    return (f"profile {budget.name}: {budget.seeds} training seeds per compared model; epochs {budget.epochs} "
            f"(k=1, 5), {budget.epochs_k50} (k=50) and {budget.ocr_epochs_k50} (OCR k=50) (paper 3000); MNIST training images "
            f"{budget.train_subset or 'all 60000'}, OCR {budget.ocr_train_subset or 'all'}; the MNIST k=1 pair of the "
            f"k=1 gain (-long, also Sec. 5.2's k=1 models): {budget.k1_epochs} epochs on "
            f"{budget.k1_train_subset or 'all 60000'}, test-LL curve every {budget.k1_eval_every}; the OCR k=1 pair "
            f"(-long): {budget.ocr_k1_epochs} epochs on {budget.ocr_k1_train_subset or 'all'}; test images "
            f"{budget.test_subset or 'all'}; L_k with k = {budget.k_eval} (MNIST, paper 5000), "
            f"{budget.k_eval_ocr} (OCR, paper 100000)")


def k1_budget_note(budget, dataset: str) -> str:
    """What `dataset`'s k = 1 pair (the `-long` runs) trains: "k=1 budget: 20 epochs on all 60,000 images"."""
    from .configs import images_text, k1_budget

    epochs, images = k1_budget(budget, dataset)
    return f"k=1 budget: {epochs} epochs on {images_text(images, dataset)} images"


def literature_rows() -> list[dict]:
    """The other rows of Table 1 (DBN, NADE, ...): literature numbers, printed as references only."""
    return [dict(quantity="test_log_likelihood", model=name, ours=None, dataset=ds, paper=pair[i],
                 note="literature row of Table 1, not reproduced")
            for i, ds in enumerate(("mnist", "ocr_letters"))
            for name, pair in values.MEM_TABLE1_LITERATURE.items() if pair[i] is not None]
