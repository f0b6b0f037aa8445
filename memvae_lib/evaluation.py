"""The evaluation protocol shared by every notebook: which test images, and metrics cached per run.

* MNIST test images are binarised once with a fixed seed (MEM_DGM, docs/protocols.md §1.2); the seed and a
  hash of the binarised set travel with every result (`TestSet.protocol`).
* A metric is stored in the run's folder under a key naming everything it depends on (k, test-set
  hash, sampler seed), so a second notebook or a second run of the batch never recomputes it.
"""
from __future__ import annotations

import io
import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from .estimators._util import evaluation_mode
from .files import READ_ONLY_ERRNOS, IntegrityError, read_verified, write_verified

IW_SEED = 123  # the IW sampler seed of IWAE/MEM evaluations (protocols §1.4)

TEST_BINARISATION_SEED = 1234
ACTIVITY_BINARISATION_SEED = 123  # Burda et al.'s activity data (protocols §1.5)
# the "active_units" training curve (training_curve): the thresholds of both papers (the eVAE
# paper's 0.02, Burda's and MEM's 0.01), on the first 500 training images (§1.5)
CURVE_THRESHOLDS = (0.02, 0.01)
CURVE_ACTIVITY_IMAGES = 500


@dataclass
class TestSet:
    __test__ = False  # a data class, not a pytest test class
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


def activity_set(dataset: str = "mnist", n: int = 500) -> torch.Tensor:
    """The data of the active-units statistic (docs/protocols.md §1.5): the first n training images (all of
    them when there are fewer, as Olivetti's 300), binarised once with seed 123 where the data set is
    grey-level (MNIST), as given otherwise."""
    from .data import fixed_binarization, load_dataset

    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n={n!r} activity images: expected an int >= 1")
    ds = load_dataset(dataset)
    x = ds.train_x[:n]
    return fixed_binarization(x, seed=ACTIVITY_BINARISATION_SEED) if ds.kind == "grey" else x


@torch.no_grad()
def generations(model, n: int, seed: int) -> torch.Tensor:
    """Decoder means of n prior samples, float32 on the CPU, (n, d): the images of the generation
    figures. A fresh generator seeded `seed` per call, so models shown side by side decode draws
    from the same stream; drawn 1000 at a time to bound memory."""
    generator = torch.Generator(device=model.device).manual_seed(seed)
    with evaluation_mode(model):
        return torch.cat([model.sample(min(1000, n - i), generator).float().cpu() for i in range(0, n, 1000)])


@torch.no_grad()
def inputs_and_reconstructions(model, x: torch.Tensor) -> torch.Tensor:
    """The reconstruction panels' layout (eVAE Figs. 9, 10): the inputs x, then their
    reconstructions (decoder mean at the posterior mean), on the CPU, (2 * len(x), d)."""
    with evaluation_mode(model):
        return torch.cat([x.cpu(), model.reconstruct(x.to(model.device)).cpu()])


def _cached(path: Path, decode: Callable[[bytes], object]):
    """The value stored at `path` when its digest checks out; None when there is none, or when it is
    damaged, unreadable or from before digests (then it is recomputed, never used: a cache)."""
    if not path.exists():
        return None
    try:
        return decode(read_verified(path, fix="It is recomputed."))
    except (IntegrityError, OSError, ValueError, RuntimeError, EOFError) as e:
        warnings.warn(f"ignoring cached metric {path} ({str(e).split('. ')[0]}); recomputing it", stacklevel=3)
        return None


def _store(path: Path, data: bytes | Callable) -> None:
    """Write a metric beside its digest; a run folder this process cannot write (a read-only or
    group-shared cache) just goes without the cache."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_verified(path, data)
    except OSError as e:
        if e.errno not in READ_ONLY_ERRNOS:
            raise


def cached_metric(run_path: Path, key: str, compute: Callable[[], dict]) -> dict:
    """`compute()` once per (run, key); the JSON result is stored atomically in run_path/metrics with
    its sha256 beside it, and a stored result is used only when its digest checks out."""
    path = Path(run_path) / "metrics" / f"{key}.json"
    value = _cached(path, json.loads)
    if value is None:
        value = compute()
        _store(path, json.dumps(value, indent=1).encode())
    return value


def _iw_key(test: TestSet, k: int, seed: int) -> str:
    return f"iwll-k{k}-n{test.x.shape[0]}-seed{seed}-{test.protocol.get('test_set_sha256', test.dataset)}"


def per_example_log_likelihood(run, test: TestSet, k: int, *, seed: int = 123) -> torch.Tensor:
    """L_k of every test image (float64, (N,)), cached in the run folder as a tensor file."""
    from .estimators import iw_log_likelihood

    path = Path(run.path) / "metrics" / f"{_iw_key(test, k, seed)}.pt"
    values = _cached(path, lambda data: torch.load(io.BytesIO(data), weights_only=True))
    if values is not None:
        return values
    start = time.perf_counter()
    values = iw_log_likelihood(run.model, test.x, k=k, seed=seed)
    _store(path, lambda f: torch.save(values, f))
    cached_metric(run.path, _iw_key(test, k, seed) + "-seconds",
                  lambda: {"seconds": round(time.perf_counter() - start, 2)})
    return values


def test_log_likelihood(run, test: TestSet, k: int, *, seed: int = 123) -> dict:
    """Mean test log-likelihood L_k (nats) with its standard error, cached in the run folder."""
    from .estimators import iw_summary

    def compute():
        values = per_example_log_likelihood(run, test, k, seed=seed)
        return {**iw_summary(values), "k": k}

    return cached_metric(run.path, _iw_key(test, k, seed), compute)


def paired_difference(run_a, run_b, test: TestSet, k: int, *, seed: int = 123) -> dict:
    """L_k(a) - L_k(b) on the same test images: mean and the standard error of the per-image
    differences. Pairing removes the between-image spread that dominates an unpaired SE."""
    diff = per_example_log_likelihood(run_a, test, k, seed=seed) - per_example_log_likelihood(run_b, test, k, seed=seed)
    n = diff.shape[0]
    sem = float(diff.std(unbiased=True) / n**0.5) if n > 1 else float("nan")
    return {"mean": float(diff.mean()), "sem": sem, "n": n, "k": k}


def training_curve(spec, device="cpu") -> Callable:
    """The in-training evaluation of a run that asks for one (TrainConfig.eval_every > 0), by its
    TrainConfig.eval_metric:
      "test_ll":      test L_k (k = eval_k) on the first eval_subset test images, batch-norm
                      statistics recomputed from the training set first (§1.6, §2.4);
      "active_units": active units (A_u >= t, Burda's statistic on model.posterior_mean, §1.5) at
                      each of CURVE_THRESHOLDS on the activity images (`activity_set`), keys
                      "active_units_<t>" (counts) and "activity" (A_u per unit, for the units' fate).
    Both run in eval mode. "test_ll" recomputes the batch-norm statistics, which draws z ~ q from the
    global RNG as the training does (stacked.py replays that per model); "active_units" draws nothing
    and takes no batch-norm model (its stored statistics are not updated while training). Data are
    loaded at the first call, so a cached run costs nothing."""
    from .data import fixed_binarization, load_dataset
    from .estimators import active_units, iw_log_likelihood
    from .runs import DTYPES, EVAL_BINARIZATION_SEED

    if spec.train.eval_metric == "active_units" and getattr(spec.model, "batch_norm", False):
        raise ValueError(f"an active-units training curve of a batch-norm model ({spec.label or spec.model.describe()}) "
                         "would read batch-norm statistics that training never updates: use eval_metric 'test_ll', "
                         "or count the active units of the finished run (estimators.active_units)")

    state = {}

    def test_ll(model, epoch: int) -> dict:
        if not state:
            x = load_dataset(spec.dataset).train_x
            x = x if spec.train_subset is None else x[:spec.train_subset]
            x = fixed_binarization(x, seed=EVAL_BINARIZATION_SEED) if spec.binarize else x
            state["bn"] = x.to(device=model.device, dtype=DTYPES[spec.dtype])
            state["test"] = test_set(spec.dataset, spec.train.eval_subset)
        model.prepare_evaluation(state["bn"])
        values = iw_log_likelihood(model, state["test"].x, k=spec.train.eval_k, seed=IW_SEED)
        return {"test_ll": float(values.mean())}

    def activity(model, epoch: int) -> dict:
        if not state:
            state["x"] = activity_set(spec.dataset, CURVE_ACTIVITY_IMAGES)
        variances = active_units(model, state["x"], CURVE_THRESHOLDS[0]).variances  # (D,) float64, A_u
        return {**{f"active_units_{t:g}": int((variances >= t).sum()) for t in CURVE_THRESHOLDS},
                "activity": [round(float(v), 6) for v in variances]}

    return {"test_ll": test_ll, "active_units": activity}[spec.train.eval_metric]


def get_run(spec, *, device="auto", **get_or_train_kwargs):
    """`runs.get_or_train` with the training curve that the spec asks for (if any; `training_curve`)."""
    from .files import resolve_device
    from .runs import get_or_train

    device = resolve_device(device)
    if spec.train.eval_every > 0 and "evaluate" not in get_or_train_kwargs:
        get_or_train_kwargs["evaluate"] = training_curve(spec, device)
    return get_or_train(spec, device=device, **get_or_train_kwargs)
