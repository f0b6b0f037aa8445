"""The run cache for stacked training: `get_or_train_stacked(specs)` is `runs.get_or_train` for
several seeds of one run at once (issue 14). The specs train as one computation
(`stacked.train_stacked`) and each ends as an ordinary run folder (spec.json, checkpoint.pt,
model.pt, history.json, done, with their digests), so `runs.get_or_train`, the notebooks and
`cache export` see ordinary runs: a run trained in a stack is loaded, never trained again, and a
stack cut off is resumed by the next call (or any of its runs alone by `get_or_train`).
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
from typing import Callable

import torch

from .files import read_verified, resolve_device
from .train import CHECKPOINT
from .runs import (Run, RunSpec, _locked, _remove_stale_temporaries, _write_text, finish_run, get_or_train,
                   initial_model, run_dir, spec_json, training_data)
from .stacked import train_stacked


def _continue_rng(path, device) -> None:
    """The global RNG where this run alone would have left it after training: its final checkpoint's
    (the stack drew its noise from a generator per model, saved there as train.py saves the global one)."""
    fix = f"Delete {path} to retrain this run from scratch."
    ckpt = torch.load(io.BytesIO(read_verified(path / CHECKPOINT, fix)), map_location="cpu", weights_only=True)
    torch.set_rng_state(ckpt["rng_cpu"])
    if device.type == "cuda" and ckpt["rng_cuda"]:
        torch.cuda.set_rng_state(ckpt["rng_cuda"][0], device)


def stackable(spec: RunSpec) -> bool:
    """Whether seeds of this run can train as one stack (`stacked.check_stackable`, from the spec
    alone): a VAE or MEM-VAE config without z dropout."""
    from .models.vae import VAEConfig

    return isinstance(spec.model, VAEConfig) and not spec.model.z_dropout


def check_specs(specs: list[RunSpec]) -> None:
    """Specs of one stack: equal but for TrainConfig.seed (and the label), each seed once."""
    def key(s):
        return dataclasses.replace(s, train=dataclasses.replace(s.train, seed=0), label="")

    if not specs:
        raise ValueError("get_or_train_stacked needs at least one RunSpec")
    for i, s in enumerate(specs):
        if key(s) != key(specs[0]):
            raise ValueError(f"spec {i} ({s.label or s.dataset}) differs from spec 0 in more than the seed: a stack "
                             "holds seeds of one run (same dataset, model config, TrainConfig but its seed, subset, "
                             "dtype); group the specs by everything but the seed")
    seeds = [s.train.seed for s in specs]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds {seeds} repeat: each run folder can be trained once; pass each seed once")


def get_or_train_stacked(specs: list[RunSpec], *, device="auto", build_model: Callable | None = None,
                         load_data: Callable | None = None, deadline: float | None = None,
                         nan_check_every: int = 1, evaluates: list[Callable] | None = None) -> list[Run]:
    """The finished runs of `specs`: those whose folder says `done` are loaded, the others trained
    together (resumed from their checkpoints). Arguments as `runs.get_or_train`; `deadline` pauses
    the stack with `train.TrainingPaused` at an epoch boundary. Specs that ask for a training curve
    (TrainConfig.eval_every > 0) need `evaluates`, one per spec (`evaluation.training_curve`)."""
    if specs and specs[0].train.eval_every > 0 and evaluates is None:
        raise ValueError(f"the specs ask for a training curve every {specs[0].train.eval_every} epoch(s) "
                         "(TrainConfig.eval_every) but no evaluate functions were given: pass evaluates=[one per "
                         "spec], e.g. [evaluation.training_curve(spec, device) for spec in specs]")
    if evaluates is not None and len(evaluates) != len(specs):
        raise ValueError(f"{len(evaluates)} evaluate functions for {len(specs)} specs: give one per spec")
    if build_model is None:
        from .models import build_model
    if load_data is None:
        from .data import load_dataset as load_data
    check_specs(specs)
    device = resolve_device(device)
    paths = [run_dir(s) for s in specs]
    for path in paths:
        path.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        todo = []
        for i in sorted(range(len(specs)), key=lambda i: str(paths[i])):  # one lock order: no deadlock
            writable = stack.enter_context(_locked(paths[i]))
            if not (paths[i] / "done").exists():
                if not writable:
                    raise PermissionError(f"run folder {paths[i]} is not writable by this process and the run is "
                                          "unfinished: make it writable, or set MEMVAE_RUNS_DIR to a folder you "
                                          "can write")
                todo.append(i)
        todo.sort()
        if todo:
            x = training_data(specs[0], load_data)  # the specs differ only in the seed
            models = [initial_model(specs[i], build_model) for i in todo]
            for i in todo:
                _remove_stale_temporaries(paths[i])
                _write_text(paths[i] / "spec.json", spec_json(specs[i], indent=2) + "\n")
            histories = train_stacked(models, x, [specs[i].train for i in todo], binarize=specs[0].binarize,
                                      run_dirs=[paths[i] for i in todo], device=device, deadline=deadline,
                                      nan_check_every=nan_check_every,
                                      evaluates=None if evaluates is None else [evaluates[i] for i in todo])
            for i, model, history in zip(todo, models, histories):
                _continue_rng(paths[i], device)  # BN statistics draw z ~ q as the run alone would draw them
                finish_run(specs[i], model, paths[i], history, x, device)
    # the locks are released: get_or_train takes each again and loads the finished folder
    return [get_or_train(s, device=device, build_model=build_model, load_data=load_data) for s in specs]
