"""The one training loop every model and notebook uses: optimiser, schedules, clipping, dynamic
binarisation, checkpoints with exact resume, a NaN guard and a quiet progress bar.

Protocol (docs/protocols.md §1.1, §1.2, §1.7, §2.4, §4):
* each epoch the training set is re-binarised (pixel ~ Bernoulli(grey)) and shuffled, split into
  floor(N / batch) minibatches (`model.minibatches`), the partial last batch dropped;
* Adam in Lasagne's form (eps not bias-corrected), the gradient of the batch-mean loss rescaled to
  global norm <= 5 and then clipped element-wise to [-1, 1] (MEM_DGM; not in the paper);
* lr constant, MEM's "1e-3 for 1000 epochs then x0.998 per epoch", or IWAE's 3^i stages;
* a NaN/inf loss raises `TrainingDiverged` before any parameter sees it (MEM_DGM built this
  exception and never raised it).

Reproducibility: the caller seeds and builds the model (`runs.get_or_train` does
`torch.manual_seed(cfg.seed)` before construction); `train` seeds everything after that. A run
killed at any moment and restarted with the same `run_dir` ends with bit-identical parameters on
CPU, because the checkpoint carries the model, the optimiser, the history and every RNG state.
"""
from __future__ import annotations

import dataclasses
import io
import math
import numbers
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from .compiling import check_compile_mode, compiled_method, step_begin
from .files import IntegrityError, read_verified, write_verified
from .models.base import OMIT_AT_DEFAULT
from .progress import progress

SCHEDULES = ("mem", "constant", "iwae3i")
EVAL_METRICS = ("test_ll", "active_units")
OPTIMIZERS = ("adam_lasagne", "adam")
CHECKPOINT = "checkpoint.pt"
CHECKPOINT_KEYS = {"model", "optimizer", "epoch", "global_step", "history", "config", "rng_cpu",
                   "rng_cuda", "binarize_generator", "shuffle_generator"}
# Fields that may change between a killed run and its restart (they do not change the numbers).
RESUMABLE_CHANGES = {"epochs", "checkpoint_every"}
# An epoch also ends with a checkpoint when this many seconds of training went by since the last
# one: `checkpoint_every` counts epochs, which last seconds on a laptop profile and minutes on the
# full one, and a kill should cost at most about this long (or one epoch). Not a TrainConfig field:
# those are hashed into the run folders.
CHECKPOINT_SECONDS = 30.0
class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite."""


class NonFiniteLoss(TrainingDiverged):
    """Raised by `training_step` before the update; `train` re-raises it with the epoch and step."""

    def __init__(self, value: float):
        super().__init__(f"training loss is {value}; no update was made with it")
        self.value = value


class TrainingPaused(RuntimeError):
    """Training stopped at an epoch boundary because its deadline passed; the checkpoint holds
    every finished epoch, and the same call again resumes from it (the device's 10-minute limit)."""

    def __init__(self, epoch: int, epochs: int, path):
        super().__init__(f"paused after epoch {epoch} of {epochs} (deadline reached); checkpoint {path}: "
                         "run the same command again to resume")
        self.epoch, self.epochs = epoch, epochs


class CheckpointError(RuntimeError):
    """A checkpoint on disk cannot be used to resume."""


def iwae3i_epochs(stages: int) -> int:
    """Epochs of the IWAE schedule: sum_{i<stages} 3^i (8 stages -> 3280)."""
    return sum(3 ** i for i in range(stages))


@dataclass(frozen=True)
class TrainConfig:
    epochs: int                        # for "iwae3i" must equal iwae3i_epochs(stages)
    # minibatches and learning rate
    batch_size: int = 100
    lr: float = 1e-3
    schedule: str = "mem"              # "mem" | "constant" | "iwae3i" (see lr_at_epoch)
    anneal_start: int = 1000           # "mem": lr until this epoch, then x anneal_factor per epoch
    anneal_factor: float = 0.998
    stages: int = 8                    # "iwae3i": stage i = 0..stages-1 runs 3^i epochs
    # optimiser
    optimizer: str = "adam_lasagne"    # "adam_lasagne" (eps not bias-corrected) | "adam" (torch)
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-4
    clip_norm: float | None = 5.0      # global-norm rescale first ...
    clip_value: float | None = 1.0     # ... then element-wise clip (MEM_DGM, not in the paper)
    # bookkeeping
    seed: int = 1234
    checkpoint_every: int = 10         # epochs (and always at the end)
    eval_every: int = 0                # epochs between training-curve points; 0 = no curve
    eval_k: int = 100                  # importance samples of the in-training test evaluation
    eval_subset: int = 1000            # test examples used by it
    # what that training curve measures (evaluation.training_curve): "test_ll" (test L_k) or
    # "active_units" (the count of active units on the activity images, docs/protocols.md §1.5);
    # left out of the run hash at its default, so the runs cached before it keep their folders
    eval_metric: str = dataclasses.field(default="test_ll", metadata=OMIT_AT_DEFAULT)

    def __post_init__(self):
        def check(name, ok, allowed):
            if not ok(getattr(self, name)):
                raise ValueError(f"TrainConfig.{name}={getattr(self, name)!r} is not allowed; expected {allowed}")

        def is_int(v, lo):
            return isinstance(v, int) and not isinstance(v, bool) and v >= lo

        def is_real(v):
            return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)

        for name, lo in [("epochs", 1), ("batch_size", 1), ("anneal_start", 0), ("stages", 1),
                         ("seed", 0), ("checkpoint_every", 1), ("eval_every", 0), ("eval_k", 1),
                         ("eval_subset", 1)]:
            check(name, lambda v: is_int(v, lo), f"an int >= {lo}")
        check("lr", lambda v: is_real(v) and v > 0, "a float > 0")
        check("schedule", lambda v: v in SCHEDULES, f"one of {SCHEDULES}")
        check("eval_metric", lambda v: v in EVAL_METRICS, f"one of {EVAL_METRICS}")
        if self.eval_metric != "test_ll" and self.eval_every == 0:
            raise ValueError(f"TrainConfig.eval_metric={self.eval_metric!r} with eval_every=0: no curve is recorded, "
                             "so the metric would only change the run's hash; set eval_every (epochs between points)")
        check("anneal_factor", lambda v: is_real(v) and 0 < v <= 1, "a float in (0, 1]")
        check("optimizer", lambda v: v in OPTIMIZERS, f"one of {OPTIMIZERS}")
        for name in ("beta1", "beta2"):
            check(name, lambda v: is_real(v) and 0 <= v < 1, "a float in [0, 1)")
        check("eps", lambda v: is_real(v) and v > 0, "a float > 0")
        for name in ("clip_norm", "clip_value"):
            check(name, lambda v: v is None or (is_real(v) and v > 0), "None or a float > 0")
        if self.schedule == "iwae3i":
            check("epochs", lambda v: v == iwae3i_epochs(self.stages),
                  f"iwae3i_epochs(stages={self.stages}) = {iwae3i_epochs(self.stages)} for schedule 'iwae3i'")


def evaluation_due(cfg: TrainConfig, epoch: int) -> bool:
    """Whether a run's `evaluate` is called after 1-based `epoch`: every `eval_every` epochs and
    after the last one (train, and stacked.train_stacked for each model of a stack)."""
    return epoch == cfg.epochs or bool(cfg.eval_every and epoch % cfg.eval_every == 0)


def lr_at_epoch(cfg: TrainConfig, epoch: int) -> float:
    """Learning rate of 1-based `epoch`.
    mem:    lr for e <= anneal_start, then lr * factor^(e - anneal_start) (§1.7: 1e-3 * 0.998^(e-1000));
    iwae3i: lr * 10^(-i/7) in stage i, which covers cumulative epochs (3^i - 1)/2 + 1 .. (3^(i+1) - 1)/2 (§4)."""
    last = iwae3i_epochs(cfg.stages) if cfg.schedule == "iwae3i" else math.inf
    if not 1 <= epoch <= last:
        raise ValueError(f"epoch={epoch} is outside 1..{last} (epochs are 1-based)")
    if cfg.schedule == "constant":
        return cfg.lr
    if cfg.schedule == "mem":
        return cfg.lr * cfg.anneal_factor ** max(0, epoch - cfg.anneal_start)
    stage = 0
    while epoch > iwae3i_epochs(stage + 1):
        stage += 1
    return cfg.lr * 10 ** (-stage / 7)


class LasagneAdam(torch.optim.Adam):
    """Adam as Lasagne (and so MEM_DGM) computes it (§1.7):
        a_t = lr * sqrt(1 - b2^t) / (1 - b1^t),   theta <- theta - a_t * m_t / (sqrt(v_t) + eps).
    torch.optim.Adam adds eps to sqrt(v_t / (1 - b2^t)) instead:
        theta <- theta - lr / (1 - b1^t) * m_t / (sqrt(v_t) / sqrt(1 - b2^t) + eps'),
    the same update exactly when eps' = eps / sqrt(1 - b2^t), a difference that matters during the
    first few thousand steps. So this is torch's Adam (its fused kernel where there is one) with eps'
    set before every step. t counts the optimiser's steps, as Lasagne's does: every parameter must
    have a gradient at every step (a missing one is an error, as in Theano)."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-4,
                 fused: bool | None = None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, fused=fused)
        for group in self.param_groups:
            group.setdefault("lasagne_eps", eps)
            group.setdefault("lasagne_t", 0)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:  # the gradients must exist before t and eps' are set
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            missing = sum(p.grad is None for p in group["params"])
            if missing:
                raise ValueError(f"LasagneAdam: {missing} of {len(group['params'])} parameters have no gradient; "
                                 "Lasagne's Adam steps every parameter every time (use the parameters the loss uses)")
            group["lasagne_t"] += 1
            group["eps"] = group["lasagne_eps"] / math.sqrt(1.0 - group["betas"][1] ** group["lasagne_t"])
        super().step()
        return loss


def _fused_supported(params) -> bool:
    """torch's fused Adam kernel runs on CUDA, and on the CPU from torch 2.4."""
    devices = {p.device.type for p in params}
    if devices <= {"cuda"}:
        return True
    return devices <= {"cpu", "cuda"} and torch.__version__ >= "2.4"


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """Lasagne's Adam or torch's, with the fused kernel where this torch has one (same update, one
    pass over each tensor instead of six)."""
    return optimizer_for(list(model.parameters()), cfg)


def optimizer_for(params: list, cfg: TrainConfig) -> torch.optim.Optimizer:
    """`make_optimizer` for a list of tensors (stacked.py steps parameters with a leading model axis:
    Adam is element-wise, so each model's slice gets exactly its own update)."""
    kind = LasagneAdam if cfg.optimizer == "adam_lasagne" else torch.optim.Adam
    return kind(params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps, fused=_fused_supported(params) or None)


def training_step(model, optimizer: torch.optim.Optimizer, cfg: TrainConfig, batch: dict,
                  check_finite: bool = True, terms_fn: Callable | None = None) -> tuple[float, dict]:
    """One update on one minibatch: loss, NaN guard, backward, clipping (global norm, then value),
    optimiser step. Returns (loss value, logged floats). A non-finite loss raises `NonFiniteLoss`
    before any gradient or parameter is touched. `train` calls it for every minibatch;
    benchmarks/speed.py times it.

    check_finite=False: no host sync at all (the GPU path, `train(nan_check_every=N > 1)`): the loss
    and the logs come back as 0-d device tensors (`model.training_terms`), the caller checks them
    later, and a non-finite loss is *not* stopped before its update.

    terms_fn: `model.training_terms` compiled (`train(compile_mode=...)`); the guard and the update
    around it are the same."""
    if not check_finite:
        terms = (terms_fn or model.training_terms)(**batch)
        loss = terms["loss"]
        _backward_clip_step(model, optimizer, cfg, loss)
        return loss.detach(), {key: v.detach() for key, v in terms.items()}
    if terms_fn is not None:
        terms = terms_fn(**batch)
        loss = terms["loss"]
        logs = {key: float(v.detach()) for key, v in terms.items()}  # host reads, as training_loss's floats
    else:
        loss, logs = model.training_loss(**batch)
    value = loss.item()
    if not math.isfinite(value):
        raise NonFiniteLoss(value)
    _backward_clip_step(model, optimizer, cfg, loss)
    return value, logs


def _backward_clip_step(model, optimizer, cfg: TrainConfig, loss: torch.Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if cfg.clip_norm is not None:
        nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
    if cfg.clip_value is not None:
        nn.utils.clip_grad_value_(model.parameters(), cfg.clip_value)
    optimizer.step()


def _plain(value):
    """Evaluation results as JSON-able Python numbers (0-d tensors and numpy scalars included)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return value


def _load_checkpoint(path: Path, model, optimizer, cfg: TrainConfig, generators: dict) -> dict:
    fix = f"Delete {path} to retrain this run from scratch."
    try:
        data = read_verified(path, fix)
    except IntegrityError as e:
        raise CheckpointError(str(e)) from None
    try:
        ckpt = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)  # the bytes just verified
    except Exception as e:  # torch's own message suggests weights_only=False: not the fix here
        raise CheckpointError(f"cannot read checkpoint {path} although it matches its digest: it is not a "
                              f"checkpoint this torch can read ({type(e).__name__}). {fix}") from e
    try:
        if not isinstance(ckpt, dict) or CHECKPOINT_KEYS - set(ckpt):
            found = sorted(ckpt) if isinstance(ckpt, dict) else type(ckpt).__name__
            raise KeyError(f"expected keys {sorted(CHECKPOINT_KEYS)}, found {found}")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
    except Exception as e:
        reason = " ".join(str(e).split())[:300]
        raise CheckpointError(f"cannot resume from checkpoint {path}: {type(e).__name__}: {reason}. {fix}") from e
    ours = dataclasses.asdict(cfg)
    # a field added later (OMIT_AT_DEFAULT) is missing from older checkpoints: they held its default
    written = {**{f.name: f.default for f in dataclasses.fields(cfg) if f.metadata.get("omit_at_default")},
               **ckpt["config"]}
    changed = sorted(k for k in ours if k not in RESUMABLE_CHANGES and written.get(k) != ours[k])
    if changed or ckpt["epoch"] > cfg.epochs:
        raise CheckpointError(f"checkpoint {path} (epoch {ckpt['epoch']}) was written with another "
                              f"TrainConfig (differs in {changed or ['epochs']}). {fix}")
    torch.set_rng_state(ckpt["rng_cpu"])
    if torch.cuda.is_available() and len(ckpt["rng_cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(ckpt["rng_cuda"])
    for name, generator in generators.items():
        generator.set_state(ckpt[name])
    return ckpt


def train(model, train_x: torch.Tensor, cfg: TrainConfig, *, binarize: bool, run_dir: Path | None = None,
          evaluate: Callable[[nn.Module, int], dict] | None = None, device=None,
          progress_desc: str | None = None, deadline: float | None = None,
          nan_check_every: int = 1, compile_mode: str | None = None) -> list[dict]:
    """Train `model` (already built and initialised by the caller) on `train_x` (N, D), return the
    history: per epoch {epoch, lr, loss and the mean of each logged quantity, seconds}, plus
    evaluate(model, epoch) every `cfg.eval_every` epochs and after the last one (the callback does
    its own `prepare_evaluation`). With `run_dir`, checkpoints go to run_dir/checkpoint.pt (with its
    digest, see `write_verified`) every `cfg.checkpoint_every` epochs, after the last one, and after
    any epoch that ends CHECKPOINT_SECONDS or more after the previous save; an existing one is
    resumed from. With `deadline` (a time.monotonic() value) and `run_dir`, an epoch
    that ends past it is checkpointed and `TrainingPaused` raised, so that a run longer than one
    command's time limit goes on in the next command.

    nan_check_every: 1 (the default) reads the loss back every step and stops a NaN/inf before its
    update. N > 1 is the GPU switch: no host sync per step (the loss and logs are summed on the
    device, `training_step(check_finite=False)`); a device-side flag is read every N steps and at
    the end of every epoch, *before* its checkpoint, so a divergence still raises `TrainingDiverged`
    naming the epoch and step and the checkpoint on disk never holds a NaN, but the in-memory
    parameters have taken up to N - 1 updates past it. Parameters and history are bit-identical
    to the default (tested).

    compile_mode: None (eager, the default) or a `torch.compile` mode for each step's loss and its
    gradient (`compiling.py`; "reduce-overhead" replays them as CUDA graphs on a GPU; the eVAE and
    mVAE are refused). Checked before any work. Not hashed: like
    the device, it changes the float rounding and, unless Inductor falls back to eager random
    numbers, the noise draws, not the spec."""
    check_compile_mode(compile_mode)
    if not (isinstance(nan_check_every, int) and not isinstance(nan_check_every, bool) and nan_check_every >= 1):
        raise ValueError(f"nan_check_every={nan_check_every!r} is not allowed: steps between host-side NaN "
                         "checks, an int >= 1 (1 = every step, the CPU default)")
    if deadline is not None and run_dir is None:
        raise ValueError("a deadline needs a run_dir: the checkpoint is how the run goes on")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.to(device)
    dtype = next(model.parameters()).dtype
    x = train_x.to(device=device, dtype=dtype)  # stays on the device; each epoch's binarisation is made there
    optimizer = make_optimizer(model, cfg)
    terms_fn = compiled_method(model, "training_terms", compile_mode, device) if compile_mode is not None else None
    torch.manual_seed(cfg.seed)  # the samplers inside training_loss draw from the global RNG
    generators = {"shuffle_generator": torch.Generator().manual_seed(cfg.seed),
                  "binarize_generator": torch.Generator(device=x.device).manual_seed(cfg.seed + 1)}
    history, epoch_done, global_step = [], 0, 0
    saved_epoch = None  # the epoch of the checkpoint on disk (None: none yet)
    path = Path(run_dir) / CHECKPOINT if run_dir is not None else None
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(CHECKPOINT + ".*.tmp"):  # left by a kill during a save (digest's too)
            stale.unlink(missing_ok=True)
        if path.exists():
            ckpt = _load_checkpoint(path, model, optimizer, cfg, generators)
            history, epoch_done, global_step = ckpt["history"], ckpt["epoch"], ckpt["global_step"]
            saved_epoch = epoch_done
    if binarize:
        from .data import binarize as bernoulli_sample

    last_finite = None
    last_save = time.monotonic()
    bar = progress(range(epoch_done + 1, cfg.epochs + 1), total=cfg.epochs, initial=epoch_done,
                   desc=progress_desc, unit="epoch")
    steps_per_epoch = max(1, x.shape[0] // cfg.batch_size)  # floor(N/B), as minibatches(); display only
    with bar:  # closed on an exception too (a diverged or interrupted run leaves no live bar)
        for epoch in bar:
            start = time.perf_counter()
            lr = lr_at_epoch(cfg, epoch)
            for group in optimizer.param_groups:
                group["lr"] = lr
            model.train()
            x_epoch = bernoulli_sample(x, generators["binarize_generator"]) if binarize else x
            sums, n = {}, 0
            deferred = nan_check_every > 1
            first_bad = torch.zeros((), dtype=torch.long, device=x.device)  # 1-based step of the first NaN (0: none)
            batches = model.minibatches(x_epoch, cfg.batch_size, generators["shuffle_generator"])
            for step, batch in enumerate(batches, 1):
                step_begin(compile_mode)
                try:
                    value, logs = training_step(model, optimizer, cfg, batch, check_finite=not deferred,
                                                terms_fn=terms_fn)
                except NonFiniteLoss as e:
                    raise TrainingDiverged(f"training loss is {e.value} at epoch {epoch}, step {step} of the epoch "
                                           f"(global step {global_step + 1}); "
                                           f"{_before(last_finite, global_step, epoch_done)}; no update was made "
                                           f"with it and {_kept(path, saved_epoch)}") from None
                global_step += 1
                n += 1
                if deferred:  # device-side: no .item(), float64 sums as Python's float sums below
                    bad = (~torch.isfinite(value)) & (first_bad == 0)
                    first_bad = torch.where(bad, torch.full_like(first_bad, step), first_bad)
                    for key, v in {"loss": value, **logs}.items():
                        sums[key] = sums.get(key, 0.0) + v.to(torch.float64)
                    if step % nan_check_every == 0:
                        _check_deferred(first_bad, epoch, global_step - step, nan_check_every, path, saved_epoch)
                else:
                    last_finite = value
                    for key, v in {"loss": value, **logs}.items():
                        sums[key] = sums.get(key, 0.0) + float(v)
                bar.advance_to(step / steps_per_epoch)  # a long epoch moves the bar (and the log lines) too
            if n == 0:
                raise ValueError(f"no minibatch: {x.shape[0]} training examples < batch_size {cfg.batch_size}")
            if deferred:  # before the record and the checkpoint: a NaN never reaches the disk
                _check_deferred(first_bad, epoch, global_step - n, nan_check_every, path, saved_epoch)
                sums = {key: float(s) for key, s in sums.items()}
            record = {"epoch": epoch, "lr": lr, **{key: s / n for key, s in sums.items()}}
            if evaluate is not None and evaluation_due(cfg, epoch):
                record.update({key: _plain(v) for key, v in evaluate(model, epoch).items()})
            record["seconds"] = time.perf_counter() - start
            history.append(record)
            bar.set_postfix(loss=f"{record['loss']:.2f}")
            pause = deadline is not None and epoch < cfg.epochs and time.monotonic() > deadline
            due = time.monotonic() - last_save >= CHECKPOINT_SECONDS
            if path is not None and (epoch % cfg.checkpoint_every == 0 or epoch == cfg.epochs or pause or due):
                state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
                         "global_step": global_step, "history": history, "config": dataclasses.asdict(cfg),
                         "rng_cpu": torch.get_rng_state(),
                         "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                         **{name: g.get_state() for name, g in generators.items()}}
                write_verified(path, lambda f: torch.save(state, f))
                saved_epoch, last_save = epoch, time.monotonic()
            if pause:
                raise TrainingPaused(epoch, cfg.epochs, path)
    return history


def _check_deferred(first_bad: torch.Tensor, epoch: int, steps_before: int, every: int, path, saved_epoch) -> None:
    """The host-side read of `nan_check_every`'s device flag (one sync): `TrainingDiverged` if set."""
    step = int(first_bad)
    if step:
        raise TrainingDiverged(f"training loss became NaN or infinite at epoch {epoch}, step {step} of the epoch "
                               f"(global step {steps_before + step}), found by the check every {every} steps "
                               f"(nan_check_every={every}): the parameters in memory took the updates after it, "
                               f"but {_kept(path, saved_epoch)}. Rerun with nan_check_every=1 to stop before "
                               "the first bad update")


def _before(last_finite: float | None, global_step: int, epoch_done: int) -> str:
    """What came before a non-finite loss, for `TrainingDiverged`."""
    if last_finite is not None:
        return f"last finite loss {last_finite}"
    if global_step == 0:
        return "at the first step of the run"
    return f"at the first step after resuming from the epoch-{epoch_done} checkpoint"


def _kept(path: Path | None, saved_epoch: int | None) -> str:
    """What is on disk after `TrainingDiverged`."""
    if path is None:
        return "no checkpoint was kept (no run_dir)"
    if saved_epoch is None:
        return f"no checkpoint had been written yet ({path}): the next run starts from scratch"
    return f"the checkpoint {path} (epoch {saved_epoch}) is unchanged"
