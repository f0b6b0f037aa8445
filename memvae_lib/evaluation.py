"""The evaluation protocol shared by every notebook: which test images, and metrics cached per run.

* MNIST test images are binarised once with a fixed seed (MEM_DGM, PROTOCOLS §1.2); the seed and a
  hash of the binarised set travel with every result (`TestSet.protocol`).
* A metric is stored in the run's folder under a key naming everything it depends on (k, test-set
  hash, sampler seed), so a second notebook or a second run of the batch never recomputes it.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

TEST_BINARISATION_SEED = 1234


@dataclass
class TestSet:
    dataset: str
    x: torch.Tensor                  # what the model is scored on (binarised MNIST, else as loaded)
    y: torch.Tensor | None
    grey: torch.Tensor               # the real-valued images (imputation, SVM, Parzen)
    protocol: dict = field(default_factory=dict)


def test_set(dataset: str, n: int | None = None) -> TestSet:
    """The first n test images of a dataset; MNIST binarised once (seed 1234) before taking n, so
    a smaller profile scores a prefix of the same binarised set."""
    from .data import fixed_binarization, load_dataset, tensor_sha256

    ds = load_dataset(dataset)
    grey = ds.test_x
    x = fixed_binarization(grey, seed=TEST_BINARISATION_SEED) if ds.kind == "grey" else grey
    n = x.shape[0] if n is None else min(n, x.shape[0])
    x, grey = x[:n], grey[:n]
    y = ds.test_y[:n] if ds.test_y is not None else None
    protocol = {"dataset": dataset, "n_test": n}
    if ds.kind == "grey":
        protocol.update(binarisation="dynamic (train), fixed once (test)",
                        test_binarisation_seed=TEST_BINARISATION_SEED, test_set_sha256=tensor_sha256(x)[:16])
    return TestSet(dataset, x, y, grey, protocol)


def cached_metric(run_path: Path, key: str, compute: Callable[[], dict]) -> dict:
    """`compute()` once per (run, key); the JSON result is stored atomically in run_path/metrics."""
    path = Path(run_path) / "metrics" / f"{key}.json"
    if path.exists():
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            path.unlink()  # a torn write from a killed process: recompute rather than fail
    value = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(value, f, indent=1)
    os.replace(tmp, path)
    return value


def test_log_likelihood(run, test: TestSet, k: int, *, seed: int = 123) -> dict:
    """Mean test log-likelihood L_k (nats) with its standard error, cached in the run folder."""
    from .estimators import iw_log_likelihood, iw_summary

    key = f"iwll-k{k}-n{test.x.shape[0]}-seed{seed}-{test.protocol.get('test_set_sha256', test.dataset)}"

    def compute():
        start = time.perf_counter()
        values = iw_log_likelihood(run.model, test.x, k=k, seed=seed)
        return {**iw_summary(values), "k": k, "seconds": round(time.perf_counter() - start, 2)}

    return cached_metric(run.path, key, compute)
