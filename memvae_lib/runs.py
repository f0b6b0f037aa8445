"""Run cache: a run is (data set, model config, training config); its canonical JSON hashes to a
folder, and `get_or_train` trains a run once and loads it ever after.

    <runs_dir>/<dataset>-<Model>-<hash16>/
        spec.json        the canonical spec, human-readable (written before training)
        checkpoint.pt    model, optimiser, RNG states, history (train.py; resumed after a kill)
        model.pt         final weights with BN statistics from the full training set (§1.6)
        *.sha256         the digest of checkpoint.pt / model.pt / history.json, checked on every load
                         (files.write_verified: a kill never makes a good file look damaged)
        history.json     per-epoch history (the training curves), with history.json.sha256
        done             written last: the run is finished
        .lock            flock'd while a process trains or loads, so concurrent askers train once

A damaged checkpoint.pt or model.pt is never used: loading it raises an error that names the file
and the fix (delete it, or the run folder, to retrain). Run folders finished before digests were
recorded (model.pt without model.pt.sha256) are refused the same way, with one more fix in the
message: `files.record_digest(file)` for a user who trusts the file. A finished run in a folder this
process cannot write (a read-only or group-shared cache) is loaded without writing anything.
"""
from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from .files import (READ_ONLY_ERRNOS, IntegrityError, atomic_write, read_verified, resolve_device, runs_dir,
                    write_verified)
from .train import TrainConfig, train

DATASETS = ("mnist", "ocr_letters", "frey", "olivetti")
DTYPES = {"float32": torch.float32, "float64": torch.float64}
EVAL_BINARIZATION_SEED = 1234  # the one binarised copy of the training set used for BN statistics


@dataclass(frozen=True)
class RunSpec:
    dataset: str                       # 'mnist' | 'ocr_letters' | 'frey' | 'olivetti'
    model: object                      # a model config dataclass (VAEConfig, MemVAEConfig, ...)
    train: TrainConfig
    train_subset: int | None = None    # first n training examples (None: all)
    binarize: bool = True              # dynamic binarisation (MNIST); False for OCR, Frey, Olivetti
    label: str = ""                    # a human name ('MEM-IWAE-50'); not part of the hash
    dtype: str = "float32"             # parameters and data; "float64" makes a run CPU-independent (smoke)

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise ValueError(f"RunSpec.dataset={self.dataset!r} is not one of {DATASETS}")
        if not dataclasses.is_dataclass(self.model) or isinstance(self.model, type):
            raise ValueError(f"RunSpec.model must be a model config dataclass instance, got {self.model!r}")
        if not isinstance(self.train, TrainConfig):
            raise ValueError(f"RunSpec.train must be a TrainConfig, got {type(self.train).__name__}")
        if self.train_subset is not None and (isinstance(self.train_subset, bool) or
                                              not isinstance(self.train_subset, int) or self.train_subset < 1):
            raise ValueError(f"RunSpec.train_subset={self.train_subset!r} is not allowed; expected None or an int >= 1")
        if not isinstance(self.binarize, bool):
            raise ValueError(f"RunSpec.binarize={self.binarize!r} is not allowed; expected True or False")
        if self.dtype not in DTYPES:
            raise ValueError(f"RunSpec.dtype={self.dtype!r} is not allowed; expected one of {sorted(DTYPES)}")


def spec_json(spec: RunSpec, indent: int | None = None) -> str:
    """Canonical JSON of everything that changes the numbers: sorted keys, config class names,
    memvae_lib.NUMERICS_VERSION; the label is left out, and so is the dtype at its float32 default
    (the field came after numerics v3: float32 runs keep the folders they had), and every config
    field marked OMIT_AT_DEFAULT at its default (TrainConfig.eval_metric, EVAEConfig.min_assigned)."""
    from . import NUMERICS_VERSION
    from .models.base import config_dict, without_omitted_defaults

    canonical = {"dataset": spec.dataset, "model": config_dict(spec.model),
                 "train": without_omitted_defaults(spec.train), "train_subset": spec.train_subset,
                 "binarize": spec.binarize, "numerics_version": NUMERICS_VERSION}
    if spec.dtype != "float32":
        canonical["dtype"] = spec.dtype
    try:
        return json.dumps(canonical, sort_keys=True, indent=indent, allow_nan=False,
                          separators=None if indent else (",", ":"))
    except (TypeError, ValueError) as e:
        raise ValueError(f"run spec is not canonical JSON ({e}): {canonical}") from e


def spec_hash(spec: RunSpec) -> str:
    """First 16 hex digits of sha256(canonical JSON)."""
    return hashlib.sha256(spec_json(spec).encode()).hexdigest()[:16]


def run_dir(spec: RunSpec) -> Path:
    model_name = type(spec.model).__name__.removesuffix("Config")
    return runs_dir() / f"{spec.dataset}-{model_name}-{spec_hash(spec)}"


@dataclass
class Run:
    spec: RunSpec
    model: torch.nn.Module             # eval mode, BN statistics from the full training set
    history: list[dict]
    path: Path


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive flock on path/.lock: a second process asking for the same run waits here. Yields
    whether this process may write the folder. When it may not (a read-only or another user's cache),
    an existing .lock is opened read-only (flock needs no write access, so a writer is still waited
    for) and a missing one is not created."""
    lock = path / ".lock"
    try:
        f, writable = open(lock, "a"), os.access(path, os.W_OK)
    except OSError as e:
        if e.errno not in READ_ONLY_ERRNOS:
            raise
        # a missing .lock: nobody ever trained here, so nobody to wait for
        f, writable = (open(lock, "rb") if lock.exists() else None), False
    with contextlib.ExitStack() as stack:
        if f is not None:
            stack.enter_context(f)
            fcntl.flock(f, fcntl.LOCK_EX)
            stack.callback(fcntl.flock, f, fcntl.LOCK_UN)
        yield writable


def _remove_stale_temporaries(path: Path) -> None:
    """atomic_write's temporaries left by a kill (model.pt.*.tmp, history.json.*.tmp, digests ...).
    Every writer of the folder's top level holds the lock, so none is in flight; metrics/ is written
    without the lock and is left alone."""
    for stale in path.glob("*.tmp"):
        stale.unlink(missing_ok=True)


@contextlib.contextmanager
def _default_dtype(dtype: torch.dtype):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def _write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))


def get_or_train(spec: RunSpec, *, device="auto", evaluate: Callable | None = None,
                 build_model: Callable | None = None, load_data: Callable | None = None,
                 deadline: float | None = None) -> Run:
    """The finished run of `spec`: loaded when its folder says `done`, otherwise trained (resuming
    from its checkpoint when a previous attempt was cut off). `evaluate(model, epoch)` feeds the
    training curves in the history; `deadline` (time.monotonic()) pauses a long run at an epoch
    boundary with `train.TrainingPaused`, to be resumed by the next call; `build_model` / `load_data` default to
    `memvae_lib.models.build_model` / `memvae_lib.data.load_dataset` (injectable for tests)."""
    if build_model is None:
        from .models import build_model
    if load_data is None:
        from .data import load_dataset as load_data
    device = resolve_device(device)
    path = run_dir(spec)  # validates the spec (canonical JSON) before anything else
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # a read-only or foreign runs folder: say which, and what to do
        raise PermissionError(e.errno, f"cannot create the run folder {path} ({e.strerror}): set MEMVAE_RUNS_DIR "
                                       "to a folder you can write") from e
    with _locked(path) as writable:
        done = (path / "done").exists()
        if not writable and not done:
            raise PermissionError(f"run folder {path} is not writable by this process and the run is unfinished, "
                                  "so it cannot be trained there: make the folder writable, or set "
                                  "MEMVAE_RUNS_DIR to a folder you can write")
        if writable:
            _remove_stale_temporaries(path)
        model = initial_model(spec, build_model)
        if not done:
            _train_run(spec, model, path, device, evaluate, load_data, deadline)
        model_file = path / "model.pt"
        fix = f"Delete the folder {path} to retrain this run from scratch."
        try:
            data = read_verified(model_file, fix)  # a damaged model is never loaded
            model.load_state_dict(torch.load(io.BytesIO(data), map_location=device, weights_only=True))
            history = json.loads(read_verified(path / "history.json", fix))  # the training curves too
        except IntegrityError:
            raise
        except Exception as e:
            raise RuntimeError(f"finished run {path} cannot be loaded ({type(e).__name__}: {e}); "
                               f"delete the folder to retrain it from scratch") from e
    model.to(device).eval()
    return Run(spec=spec, model=model, history=history, path=path)


def initial_model(spec: RunSpec, build_model: Callable):
    """The model of `spec` at its initial weights: a spec always builds the same ones."""
    torch.manual_seed(spec.train.seed)
    with _default_dtype(DTYPES[spec.dtype]):  # weights drawn in the run's dtype: float32 draws
        model = build_model(spec.model)       # (randn) differ in the last bit between AVX2 and plain kernels
    return model.to(DTYPES[spec.dtype])


def _train_run(spec, model, path, device, evaluate, load_data, deadline=None) -> None:
    x = training_data(spec, load_data)
    _write_text(path / "spec.json", spec_json(spec, indent=2) + "\n")
    if evaluate is None and spec.train.eval_every > 0:
        raise ValueError(f"run {spec.label or path.name} asks for a training curve every {spec.train.eval_every} "
                         "epoch(s) (TrainConfig.eval_every) but no evaluate function was given: train it with "
                         "evaluation.get_run(spec), which supplies the curve of its eval_metric, or pass evaluate=...")
    history = train(model, x, spec.train, binarize=spec.binarize, run_dir=path, evaluate=evaluate,
                    device=device, progress_desc=spec.label or path.name, deadline=deadline)
    finish_run(spec, model, path, history, x, device)


def training_data(spec: RunSpec, load_data) -> torch.Tensor:
    """The training rows of a spec (its subset), checked against its binarisation."""
    dataset = load_data(spec.dataset)
    x = dataset.train_x
    if spec.train_subset is not None:
        if spec.train_subset > len(x):
            raise ValueError(f"train_subset={spec.train_subset} but {spec.dataset} has {len(x)} training rows")
        x = x[:spec.train_subset]
    if spec.binarize and getattr(dataset, "kind", "grey") == "continuous":
        raise ValueError(f"{spec.dataset} is continuous data; set RunSpec(binarize=False)")
    return x


def finish_run(spec: RunSpec, model, path: Path, history: list[dict], x: torch.Tensor, device) -> None:
    """A trained model's run folder made final: full-batch BN statistics (§1.6), model.pt,
    history.json, and `done` last."""
    from .data import fixed_binarization

    x_eval = fixed_binarization(x, seed=EVAL_BINARIZATION_SEED) if spec.binarize else x
    model.prepare_evaluation(x_eval.to(device=device, dtype=DTYPES[spec.dtype]))
    write_verified(path / "model.pt", lambda f: torch.save(model.state_dict(), f))
    write_verified(path / "history.json", (json.dumps(history, indent=1) + "\n").encode())
    _write_text(path / "done", f"{spec.label or path.name}\n")
