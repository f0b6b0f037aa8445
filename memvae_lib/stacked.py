"""Many models as one: M same-shaped models trained as one computation (issue 14, paper scale on
one GPU; several seeds of one model, the MEM Table 1 pairs).

A small model (a 500-500 MLP at batch 100) leaves a GPU mostly idle: every step is a few dozen
small kernels. `torch.func.stack_module_state` puts every parameter and buffer of M identically
built models on a leading model axis, and `torch.func.vmap` over `functional_call` runs the model's
own `training_terms` once for all of them, so each dense layer becomes one batched matrix product
(M, B, H_in) @ (M, H_in, H_out), each batch norm normalises each model's batch with that model's
statistics, and the memory layers read M memories. Nothing in the models is rewritten.

What keeps it M ordinary runs, each equal to training that model alone with `train.train`:
* data: each model binarises (generator seed + 1) and shuffles (seed) its own copy, as `train` does;
* noise: eps of z = mu + sigma * eps is drawn per model from its own generator seeded as `train`
  seeds the global RNG, in the order the model draws it, and fed through vmap in place of
  `VAE._sample` (vmap's own randomness would give each model other numbers than alone);
* optimiser: Adam is element-wise, so one Lasagne Adam over the stacked tensors is M Adams;
  clipping by global norm is per model (the norm over that model's slices only);
* checkpoints: each model's slice (weights, Adam moments, generators, history) is written to its
  own run folder in `train.py`'s format, so `train` or this trainer resumes it.
The same random numbers go through the same operations; only the summation order inside batched
kernels differs, so parameters agree to rounding (tests: float64, 1e-9 after several epochs).
Supported: `VAE` and `MemVAE` (VAE/IWAE-k, MEM-VAE/MEM-IWAE-k, KL weighting) without z dropout;
eVAE and mVAE need per-model epitome assignments every epoch and are refused.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import time
from typing import Callable
from pathlib import Path

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from .data import binarize as bernoulli_sample
from .files import write_verified
from .models.vae import VAE
from .train import (CHECKPOINT, CHECKPOINT_SECONDS, TrainConfig, TrainingDiverged, TrainingPaused, _load_checkpoint,
                    _kept, _plain, evaluation_due, lr_at_epoch, optimizer_for, train)

MOMENTS = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")  # Adam state with one slice per model


def check_stackable(models: list, cfgs: list[TrainConfig]) -> None:
    """Models of one class and config, TrainConfigs equal but for the seed; else a ValueError that
    says which differ and what to do."""
    if not models or len(models) != len(cfgs):
        raise ValueError(f"train_stacked needs one TrainConfig per model, got {len(models)} models and "
                         f"{len(cfgs)} configs")
    first = models[0]
    if not isinstance(first, VAE) or first.config.z_dropout > 0:
        raise ValueError(f"stacked training supports VAE and MemVAE models without z dropout (their noise is "
                         f"replayed per model; eVAE and mVAE need per-model epitome assignments every epoch); got "
                         f"{type(first).__name__} {getattr(first, 'config', '')}: train it alone with train.train / "
                         "runs.get_or_train")
    for i, m in enumerate(models):
        if type(m) is not type(first) or m.config != first.config:
            raise ValueError(f"model {i} ({type(m).__name__}, {m.config}) differs from model 0 ({first.config}): "
                             "only models of one shape and config stack; train the others in a stack of their own")
    base = dataclasses.asdict(dataclasses.replace(cfgs[0], seed=0))
    for i, cfg in enumerate(cfgs):
        other = dataclasses.asdict(dataclasses.replace(cfg, seed=0))
        if other != base:
            fields = sorted(k for k in base if base[k] != other[k])
            raise ValueError(f"TrainConfig {i} differs from TrainConfig 0 in {fields}: the models of a stack share "
                             "the schedule and batches and may differ only in the seed")


class _Terms(nn.Module):
    """`functional_call` calls forward; a VAE has none, so this forwards to `training_terms`."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.training_terms(x)


@contextlib.contextmanager
def _replayed_noise(model, tape: list):
    """Within the block, model._sample takes eps from `tape` (in draw order) instead of torch.randn;
    with an empty tape at the start it records the shapes drawn (and returns mu)."""
    recording = not tape
    shapes = []

    def sample(mu, logvar, k):  # VAE._sample's formula, with eps given
        shape = (mu.shape[0], k, mu.shape[1])
        if recording:
            shapes.append(shape)
            return mu.unsqueeze(1).expand(shape)
        if not tape:
            raise RuntimeError("the model drew more noise than recorded for its step")
        eps = tape.pop(0)
        if tuple(eps.shape) != shape:
            raise RuntimeError(f"noise of shape {tuple(eps.shape)} replayed where the model draws {shape}")
        return mu.unsqueeze(1) + torch.exp(0.5 * logvar).unsqueeze(1) * eps

    model._sample = sample  # an instance attribute shadows the static method
    try:
        yield shapes
    finally:
        del model._sample


def _slice_optimizer_state(state: dict, m: int) -> dict:
    """Model m's own optimiser state_dict out of the stacked one (what train.py saves)."""
    return {"state": {i: {k: v[m].clone() if k in MOMENTS else v.clone() for k, v in s.items()}
                      for i, s in state["state"].items()},
            "param_groups": copy.deepcopy(state["param_groups"])}


def _stack_optimizer_states(states: list[dict]) -> dict:
    return {"state": {i: {k: torch.stack([s["state"][i][k] for s in states]) if k in MOMENTS else v
                          for k, v in s0.items()} for i, s0 in states[0]["state"].items()},
            "param_groups": states[0]["param_groups"]}


def _clip_per_model(grads: list[torch.Tensor], cfg: TrainConfig) -> None:
    """clip_grad_norm_ then clip_grad_value_ of train.py, each model over its own slices. (M, ...) each."""
    if cfg.clip_norm is not None:
        norms = torch.stack([torch.linalg.vector_norm(g.flatten(1), dim=1) for g in grads])  # (P, M)
        total = torch.linalg.vector_norm(norms, dim=0)                                     # (M,)
        coef = (cfg.clip_norm / (total + 1e-6)).clamp(max=1.0)                             # torch's formula
        for g in grads:
            g.mul_(coef.view(-1, *[1] * (g.dim() - 1)))
    if cfg.clip_value is not None:
        for g in grads:
            g.clamp_(-cfg.clip_value, cfg.clip_value)


def _resume(models, x, cfgs, binarize, run_dirs, device, evaluates=None) -> list[dict | None]:
    """Each model's checkpoint (None: none). A kill between the M saves of one epoch leaves some
    folders an epoch (or a few) behind: those are brought level alone with `train.train` first."""
    def load(i):
        path = Path(run_dirs[i]) / CHECKPOINT
        if not path.exists():
            return None
        gens = {"shuffle_generator": torch.Generator(), "binarize_generator": torch.Generator(device=x.device)}
        opt = optimizer_for(list(models[i].parameters()), cfgs[i])
        with torch.random.fork_rng(devices=[]):  # _load_checkpoint sets the global RNG; ours is per model
            ckpt = _load_checkpoint(path, models[i], opt, cfgs[i], gens)
        return {**ckpt, "optimizer": opt.state_dict(), "generators": gens}

    def due(cfg, evaluate):  # evaluate on the epochs the whole run evaluates on, not at the catch-up's end
        return lambda model, epoch: evaluate(model, epoch) if evaluation_due(cfg, epoch) else {}

    ckpts = [load(i) for i in range(len(models))]
    top = max((c["epoch"] for c in ckpts if c is not None), default=0)
    for i, c in enumerate(ckpts):
        if top and (c is None or c["epoch"] < top):
            with torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else []):
                train(models[i], x, dataclasses.replace(cfgs[i], epochs=top), binarize=binarize,
                      run_dir=run_dirs[i], device=device,
                      evaluate=None if evaluates is None else due(cfgs[i], evaluates[i]))
            ckpts[i] = load(i)
    return ckpts


def train_stacked(models: list, train_x: torch.Tensor, cfgs: list[TrainConfig], *, binarize: bool,
                  run_dirs: list | None = None, device=None, deadline: float | None = None,
                  nan_check_every: int = 1, evaluates: list[Callable] | None = None) -> list[list[dict]]:
    """`train.train` for M models at once (see the module docstring): `models` built as the caller
    builds one (seeded, initialised), `cfgs` equal but for the seed, `run_dirs` one folder each.
    Returns each model's history; the trained weights are copied back into `models`. `nan_check_every`
    as in `train` (1: one host read per step for the whole stack, before any update). `evaluates`,
    one per model, as train's `evaluate`: called on that model (its weights copied out of the stack)
    every `eval_every` epochs and after the last one, its values added to that epoch's record."""
    check_stackable(models, cfgs)
    if evaluates is not None and len(evaluates) != len(models):
        raise ValueError(f"{len(evaluates)} evaluate functions for {len(models)} models: give one per model")
    if deadline is not None and run_dirs is None:
        raise ValueError("a deadline needs run_dirs: the checkpoints are how the runs go on")
    if run_dirs is not None and len(run_dirs) != len(models):
        raise ValueError(f"{len(run_dirs)} run_dirs for {len(models)} models: give one folder per model")
    if not (isinstance(nan_check_every, int) and not isinstance(nan_check_every, bool) and nan_check_every >= 1):
        raise ValueError(f"nan_check_every={nan_check_every!r} is not allowed: an int >= 1")
    M, cfg, base = len(models), cfgs[0], models[0]
    device = torch.device(device) if device is not None else base.device
    for model in models:
        model.to(device)
    x = train_x.to(device=device, dtype=base.dtype)  # stays on the device, binarised there
    paths = [Path(d) / CHECKPOINT for d in run_dirs] if run_dirs is not None else [None] * M
    for path in filter(None, paths):
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(CHECKPOINT + ".*.tmp"):
            stale.unlink(missing_ok=True)
    ckpts = _resume(models, x, cfgs, binarize, run_dirs, device, evaluates) if run_dirs is not None else [None] * M
    gens = [c["generators"] if c else
            {"shuffle_generator": torch.Generator().manual_seed(c_.seed),
             "binarize_generator": torch.Generator(device=x.device).manual_seed(c_.seed + 1)}
            for c, c_ in zip(ckpts, cfgs)]
    noise_gens = [torch.Generator(device=x.device).manual_seed(c_.seed) for c_ in cfgs]  # train's global RNG
    for g, c in zip(noise_gens, ckpts):
        if c is not None:
            g.set_state(c["rng_cpu"] if x.device.type == "cpu" else c["rng_cuda"][0])
    histories = [list(c["history"]) if c else [] for c in ckpts]
    epoch_done, global_step = (ckpts[0]["epoch"], ckpts[0]["global_step"]) if ckpts[0] else (0, 0)
    saved_epoch = epoch_done or None

    for model in models:  # a model brought level alone may end in eval mode (its last evaluation)
        model.train()
    params, buffers = stack_module_state(models)  # {name: (M, ...)}; params are new leaves
    optimizer = optimizer_for(list(params.values()), cfg)
    if ckpts[0] is not None:
        optimizer.load_state_dict(_stack_optimizer_states([c["optimizer"] for c in ckpts]))
    base.train()  # batch statistics in every batch norm, as train() sets each epoch
    wrapper, tape = _Terms(base), []

    def one_model(p, b, xb, noise):  # one model's slice under vmap: xb (B, D), noise [(B, k, Z), ...]
        tape[:] = list(noise)
        with _replayed_noise(base, tape):
            terms = functional_call(wrapper, ({f"model.{k}": v for k, v in p.items()},
                                              {f"model.{k}": v for k, v in b.items()}), (xb,))
        if tape:
            raise RuntimeError("the model drew less noise than recorded for its step")
        return terms

    stacked_terms = vmap(one_model)  # (M, ...) inputs -> {name: (M,)}
    shapes = None
    last_save = time.monotonic()
    names = ", ".join(f"{i} (seed {c.seed}{', ' + str(p.parent) if p else ''})" for i, (c, p) in enumerate(zip(cfgs, paths)))

    def check(first_bad, epoch, steps_before):  # the host read of the deferred NaN flags
        bad = first_bad.tolist()
        if any(bad):
            i = next(i for i, s in enumerate(bad) if s)
            raise TrainingDiverged(f"training loss became NaN or infinite for model {i} of the stack [{names}] at "
                                   f"epoch {epoch}, step {bad[i]} of the epoch (global step {steps_before + bad[i]}), "
                                   f"found by the check every {nan_check_every} steps: "
                                   f"{_kept(paths[i], saved_epoch)}; train that run alone with nan_check_every=1 "
                                   "to stop before its first bad update, or leave it out of the stack")

    for epoch in range(epoch_done + 1, cfg.epochs + 1):
        start = time.perf_counter()
        lr = lr_at_epoch(cfg, epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x_epochs = [bernoulli_sample(x, g["binarize_generator"]) if binarize else x for g in gens]
        batches = zip(*(base.minibatches(xe, cfg.batch_size, g["shuffle_generator"]) for xe, g in zip(x_epochs, gens)))
        sums, n = {}, 0
        first_bad = torch.zeros(M, dtype=torch.long, device=x.device)
        for step, group in enumerate(batches, 1):
            xb = torch.stack([b["x"] for b in group])                       # (M, B, D)
            if shapes is None:
                with torch.no_grad(), _replayed_noise(base, []) as shapes:
                    base.training_terms(xb[0])
            noise = [torch.stack([torch.randn(s, generator=g, device=x.device, dtype=x.dtype) for g in noise_gens])
                     for s in shapes]                                        # [(M, B, k, Z), ...] in draw order
            terms = stacked_terms(params, buffers, xb, noise)                # {name: (M,)}
            loss = terms["loss"]
            if nan_check_every == 1:
                finite = torch.isfinite(loss)
                if not bool(finite.all()):  # one read for the whole stack, before any update
                    i = int((~finite).nonzero()[0])
                    raise TrainingDiverged(f"training loss is {loss[i].item()} for model {i} of the stack [{names}] "
                                           f"at epoch {epoch}, step {step} of the epoch (global step "
                                           f"{global_step + 1}); no update was made with it (in any model) and "
                                           f"{_kept(paths[i], saved_epoch)}; train that run alone, or leave it "
                                           "out of the stack")
            else:
                bad = (~torch.isfinite(loss)) & (first_bad == 0)
                first_bad = torch.where(bad, torch.full_like(first_bad, step), first_bad)
            optimizer.zero_grad(set_to_none=True)
            loss.sum().backward()  # the models share nothing: each slice gets its own model's gradient
            _clip_per_model([p.grad for p in params.values()], cfg)
            optimizer.step()
            for key, v in terms.items():
                sums[key] = sums.get(key, 0.0) + v.detach().to(torch.float64)  # (M,), as train's float sums
            global_step += 1
            n += 1
            if nan_check_every > 1 and step % nan_check_every == 0:
                check(first_bad, epoch, global_step - step)
        if n == 0:
            raise ValueError(f"no minibatch: {x.shape[0]} training examples < batch_size {cfg.batch_size}")
        check(first_bad, epoch, global_step - n)
        means = {key: [float(v) / n for v in s.tolist()] for key, s in sums.items()}
        seconds = time.perf_counter() - start  # the stack's epoch: the same for every model
        for i, history in enumerate(histories):
            history.append({"epoch": epoch, "lr": lr, **{key: means[key][i] for key in means}, "seconds": seconds})
        if evaluates is not None and evaluation_due(cfg, epoch):
            _copy_back(models, params, buffers)
            for i, (model, evaluate, history, gen) in enumerate(zip(models, evaluates, histories, noise_gens)):
                with _as_global_rng(gen):  # alone, an evaluation draws (BN statistics) from the training RNG
                    history[-1].update({key: _plain(v) for key, v in evaluate(model, epoch).items()})
                state = model.state_dict()
                for key, stacked in buffers.items():  # what it wrote there (BN statistics) stays, as alone
                    stacked[i].copy_(state[key])
            base.train()  # an evaluation leaves its model in eval mode, and the stack runs on base's modules
        pause = deadline is not None and epoch < cfg.epochs and time.monotonic() > deadline
        due = time.monotonic() - last_save >= CHECKPOINT_SECONDS
        if run_dirs is not None and (epoch % cfg.checkpoint_every == 0 or epoch == cfg.epochs or pause or due):
            _save(models, params, buffers, optimizer, epoch, global_step, histories, cfgs, gens, noise_gens, paths)
            saved_epoch, last_save = epoch, time.monotonic()
        if pause:
            _copy_back(models, params, buffers)  # the caller may evaluate where the stack stands
            raise TrainingPaused(epoch, cfg.epochs, paths[0])
    _copy_back(models, params, buffers)
    return histories


@contextlib.contextmanager
def _as_global_rng(generator: torch.Generator):
    """The global RNG of the generator's device holds the generator's state for the block, and the
    generator takes what the block left: a model's noise generator stands for the global RNG that
    train() draws from, evaluations between epochs included. The global state is restored after."""
    cuda = generator.device.type == "cuda"
    get = (lambda: torch.cuda.get_rng_state(generator.device)) if cuda else torch.get_rng_state
    put = (lambda state: torch.cuda.set_rng_state(state, generator.device)) if cuda else torch.set_rng_state
    saved = get()
    put(generator.get_state())
    try:
        yield
    finally:
        generator.set_state(get())
        put(saved)


def _model_state(model, params, buffers, i: int) -> dict:
    """Model i's state_dict, compact copies (a view would save the whole stacked storage)."""
    both = {**params, **buffers}
    return {key: both[key][i].detach().clone() for key in model.state_dict()}


def _copy_back(models, params, buffers) -> None:
    for i, model in enumerate(models):
        model.load_state_dict(_model_state(model, params, buffers, i))


def _save(models, params, buffers, optimizer, epoch, global_step, histories, cfgs, gens, noise_gens, paths):
    """Each model's checkpoint in train.py's format (its noise generator stands for the global RNG)."""
    opt_state = optimizer.state_dict()
    for i, path in enumerate(paths):
        cuda = noise_gens[i].device.type == "cuda"
        state = {"model": _model_state(models[i], params, buffers, i),
                 "optimizer": _slice_optimizer_state(opt_state, i), "epoch": epoch, "global_step": global_step,
                 "history": histories[i], "config": dataclasses.asdict(cfgs[i]),
                 "rng_cpu": torch.Generator().manual_seed(cfgs[i].seed).get_state() if cuda
                 else noise_gens[i].get_state(),
                 "rng_cuda": [noise_gens[i].get_state()] if cuda else [],
                 **{name: g.get_state() for name, g in gens[i].items()}}
        write_verified(path, lambda f, state=state: torch.save(state, f))
