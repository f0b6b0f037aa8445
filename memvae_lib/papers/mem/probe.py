"""MEM paper (Li, Zhu, Zhang 2016), Appendix A: a linear SVM on the recognition model's last hidden layer
says whether the memory hurts the encoder's features (docs/protocols.md §2.5 E4; the solver is
estimators.linear_svm_probe, the Crammer-Singer objective lambda/2 ||W||^2 + mean hinge, lambda = 1e-4).

The accuracy of each trained run is cached in its run folder; two models are compared seed by seed.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import torch

from ...estimators import features, linear_svm_probe
from ...evaluation import TestSet, cached_metric


def svm_accuracy(run, x_train: torch.Tensor, y_train: torch.Tensor, test: TestSet, *, lam: float, seed: int) -> dict:
    """{"accuracy", "C", "n_train", "converged"} of the SVM on the run's encoder features: trained on the
    real-valued images x_train (N, 784), tested on the test set's real-valued images; cached per run."""
    def compute():
        encode = lambda x: run.model.encoder_features(x.to(run.model.device))  # (B, 500) after BN, gamma/beta, ReLU
        f_train, f_test = features(encode, x_train), features(encode, test.grey)
        return dataclasses.asdict(linear_svm_probe(f_train, y_train, f_test, test.y, lam=lam, seed=seed))

    key = f"svm-probe-grey-train{x_train.shape[0]}-test{test.grey.shape[0]}-lam{lam:g}-seed{seed}"
    return cached_metric(run.path, key, compute)


def accuracy_difference(a: dict, b: dict, n_test: int) -> dict:
    """Accuracy a - b in percentage points with the unpaired binomial standard error of a difference
    (conservative: both are scored on the same images, which the pairing would exploit)."""
    pa, pb = a["accuracy"], b["accuracy"]
    se = math.sqrt((pa * (1 - pa) + pb * (1 - pb)) / n_test)
    return {"mean": 100 * (pa - pb), "sem": 100 * se}


def seed_accuracy_differences(accs_a: Sequence[dict], accs_b: Sequence[dict], n_test: int) -> list[dict]:
    """accuracy_difference of seed i's probes, for each training seed i."""
    if len(accs_a) != len(accs_b) or not accs_a:
        raise ValueError(f"pair the seeds: got {len(accs_a)} probes of one model and {len(accs_b)} of the other")
    return [accuracy_difference(a, b, n_test) for a, b in zip(accs_a, accs_b)]
