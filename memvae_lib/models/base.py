"""The one interface every model implements, so that the trainer and every estimator serve all of
them (VAE/IWAE, MEM-VAE, eVAE, mVAE) without knowing which they hold; and the base the eVAE and
the mVAE share (Yeung et al. 2017, Algorithm 1: hard assignment y* to an epitome or component,
then balanced minibatches), `HardAssignmentModel`.

Algorithm 1 line 3 assigns y* = argmin_y C(x, y) and says nothing about an epitome that no example
chooses. On a small data set (the 300 Olivetti faces) that is the usual case: before training the
costs differ between epitomes by an offset common to all x, so one or two epitomes take every
example; only they are trained, their cost drops by hundreds of nats, and the argmin never leaves
them (issue 13). `assign_with_minimum` is the project's guard (the config's `min_assigned`, 0 = off =
the paper's argmin): every epitome is trained on at least `min_assigned` examples per epoch, taken
from over-full epitomes where moving them costs least (docs/protocols.md §3.5).

Shapes: x is (B, D_x) float in [0, 1]; z is (N, latent_dim); log-weights are (B, k) or, for models
with a discrete selector (eVAE, mVAE), (B, S, k) with log p(y) already added (see
`objectives.iwae_bound`).
"""
from __future__ import annotations

import dataclasses
import functools
import math
from abc import ABC, abstractmethod
from typing import Iterator

import torch
from torch import nn

from ..nets import batch_norm_layers, collecting_batch_norm
from ._checks import is_int

ASSIGN_ROWS = 1 << 15  # decoder rows per chunk when scoring every epitome (chunk of x times E)


# Methods whose tensor inputs (x, z) follow the model's dtype: a float32 image batch or prior draw
# given to a float64 model (the smoke profile, `RunSpec.dtype`) is cast at the boundary, so that
# notebooks and estimators never need to know the dtype. A no-op for inputs already in it.
INPUT_METHODS = ("log_weights", "training_loss", "training_terms", "decode_mean", "posterior_mean", "sample_posterior",
                 "kl_per_unit", "encode", "decode", "encoder_features", "attention", "assign_epitomes",
                 "training_assignments",
                 "epitome_costs", "conditional_log_weights", "reconstruct", "prepare_evaluation",
                 "read_memory")
INPUT_KEYWORDS = ("x", "z", "z_in", "x_train")


def _follow(value, dtype: torch.dtype):
    if isinstance(value, torch.Tensor) and value.is_floating_point() and value.dtype != dtype:
        return value.to(dtype)
    return value


def _inputs_follow_model_dtype(method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        dtype = self.dtype
        args = tuple(_follow(a, dtype) for a in args)
        kwargs = {k: _follow(v, dtype) if k in INPUT_KEYWORDS else v for k, v in kwargs.items()}
        return method(self, *args, **kwargs)

    return wrapper


class LatentVariableModel(nn.Module, ABC):
    """p(z) p(x|z) with an amortised q(z|x). Subclasses set `config` and `latent_dim`."""

    config: object
    latent_dim: int

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in INPUT_METHODS:
            if name in cls.__dict__ and callable(cls.__dict__[name]):
                setattr(cls, name, _inputs_follow_model_dtype(cls.__dict__[name]))

    # ---- required -----------------------------------------------------------------------------
    @abstractmethod
    def log_weights(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """log p(x, z_j) - log q(z_j | x) for k samples z_j ~ q(z | x): (B, k) or (B, S, k)."""

    @abstractmethod
    def training_loss(self, x: torch.Tensor, **batch) -> tuple[torch.Tensor, dict[str, float]]:
        """The scalar minimised by the trainer (a batch *mean*, as MEM_DGM) and floats to log.
        `batch` holds whatever `minibatches` yields beside x (the eVAE's assignments y*)."""

    @abstractmethod
    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        """Mean of p(x | z) in data space, (N, D_x): Bernoulli probabilities or Gaussian means."""

    @abstractmethod
    def posterior_mean(self, x: torch.Tensor) -> torch.Tensor:
        """E_q[z | x], (B, latent_dim): the statistic of active units (eVAE: m_{y*} * mu(x))."""

    @abstractmethod
    def sample_posterior(self, x: torch.Tensor) -> torch.Tensor:
        """One z ~ q(z | x) per example, (B, latent_dim) (the imputation chain, MEM E8)."""

    @abstractmethod
    def kl_per_unit(self, x: torch.Tensor) -> torch.Tensor:
        """Analytic KL(q(z_d | x) || p(z_d)) per latent unit, (B, latent_dim)."""

    @abstractmethod
    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n latent codes from the prior (eVAE: y ~ uniform, z ~ N(0, I), masked by m_y)."""

    # ---- provided -----------------------------------------------------------------------------
    def training_terms(self, x: torch.Tensor, **batch) -> dict[str, torch.Tensor]:
        """`training_loss` as 0-d tensors, {"loss": the scalar minimised, name: logged value}, for
        callers that must not read values back every step (a GPU trainer; `vmap` cannot). This
        default calls `training_loss` (one host read per log); `VAE` overrides it without any."""
        loss, logs = self.training_loss(x, **batch)
        return {**{key: torch.as_tensor(v, device=loss.device) for key, v in logs.items()}, "loss": loss}

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Decoder means of n prior samples (the images in the generation figures)."""
        return self.decode_mean(self.sample_prior(n, generator))

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decoder mean at the posterior mean."""
        return self.decode_mean(self.posterior_mean(x))

    def minibatches(self, x: torch.Tensor, batch_size: int, generator: torch.Generator) -> Iterator[dict]:
        """One epoch of training batches: shuffled, floor(N / batch) batches, the partial last batch
        dropped (§1.1). Models that need per-epoch assignments (eVAE) override this."""
        order = torch.randperm(x.shape[0], generator=generator, device="cpu").to(x.device)
        for i in range(x.shape[0] // batch_size):
            yield {"x": x[order[i * batch_size:(i + 1) * batch_size]]}

    @torch.no_grad()
    def prepare_evaluation(self, x_train: torch.Tensor, chunk: int | None = None) -> None:
        """Recompute batch-norm statistics from one full-batch pass over the training set (§1.6).

        A no-op for models without batch norm. The pass runs the whole generative path once with
        one z ~ q per example (eq = iw = 1), so every BN layer sees its own full-batch statistics.
        """
        if next(batch_norm_layers(self), None) is None:
            return
        was_training = self.training
        self.eval()
        with collecting_batch_norm(self):
            self.log_weights(x_train, 1)
        self.train(was_training)


# Field metadata for a config field added after runs were cached: at its default the field is left
# out of `config_dict`, so every run spec that leaves it there keeps its canonical JSON, its
# `runs.spec_hash` and so its run folder (as `runs.spec_json` does for RunSpec.dtype).
OMIT_AT_DEFAULT = {"omit_at_default": True}


def config_dict(config) -> dict:
    """A config dataclass as a plain dict with its class name, for hashing and saving; fields marked
    OMIT_AT_DEFAULT are left out while they hold their default."""
    return {"class": type(config).__name__, **without_omitted_defaults(config)}


def without_omitted_defaults(config) -> dict:
    """dataclasses.asdict(config) without the OMIT_AT_DEFAULT fields that hold their default (a
    model config or the TrainConfig: runs.spec_json hashes both this way)."""
    out = dataclasses.asdict(config)
    for f in dataclasses.fields(config):
        if f.metadata.get("omit_at_default") and getattr(config, f.name) == f.default:
            del out[f.name]
    return out


# ---- the hard-assignment base of the eVAE and the mVAE (Yeung et al. 2017, Algorithm 1) ----------
def balanced_minibatch_indices(assignments: torch.Tensor, batch_size: int,
                               generator: torch.Generator | None = None) -> list[torch.Tensor]:
    """Algorithm 1 line 4: floor(N/B) minibatches, each with a proportionate number of every y.

    Group y (n_y examples) gets floor(n_y B / N) or that + 1 places in every batch, so each count is
    within 1 of n_y B / N. The remainders r_y = n_y B / N - floor(.) are laid end to end on [0, R),
    R = sum_y r_y (an integer), and batch j takes one extra example from each group whose stretch
    holds a point of the grid (j + u)/M + i, i = 0..R-1 (systematic sampling: spacing 1 > r_y, so at
    most one extra per batch; over all M batches group y gets at most ceil(M r_y) extras, hence never
    more than n_y examples). Integer arithmetic throughout (units of 1/(N M)). Examples are shuffled
    within each group ("randomize"), dealt to batches in order, and batch order and the order within
    each batch are shuffled. Returns CPU LongTensors of indices into `assignments`.
    """
    if not is_int(batch_size):
        raise ValueError(f"batch_size={batch_size!r} is invalid: must be an integer >= 1")
    y = assignments.detach().to("cpu", torch.long).reshape(-1)
    n, m = y.numel(), y.numel() // batch_size
    if m == 0:
        return []
    groups, sizes = torch.unique(y, return_counts=True)            # (G,)
    base, rem = sizes * batch_size // n, sizes * batch_size % n     # r_y = rem / N
    n_extra = int(rem.sum()) // n                                   # R
    counts = base.repeat(m, 1)                                      # (M, G)
    if n_extra:
        ends = torch.cumsum(rem * m, 0)                             # stretch ends, units 1/(N M)
        offset = int(torch.randint(n, (1,), generator=generator))   # u = offset / N
        points = (torch.arange(m)[:, None] * n + offset + torch.arange(n_extra)[None] * n * m)  # (M, R)
        owner = torch.searchsorted(ends, points, right=True)        # group whose stretch holds the point
        counts += torch.zeros_like(counts).scatter_add_(1, owner, torch.ones_like(owner))
    pieces = []                                                     # per group: M slices of a shuffled group
    for col, (g, size) in enumerate(zip(groups.tolist(), sizes.tolist())):
        members = torch.nonzero(y == g).squeeze(1)[torch.randperm(size, generator=generator)]
        pieces.append(torch.split(members[: int(counts[:, col].sum())], counts[:, col].tolist()))
    batches = [torch.cat([p[j] for p in pieces]) for j in range(m)]
    batches = [b[torch.randperm(batch_size, generator=generator)] for b in batches]
    return [batches[j] for j in torch.randperm(m, generator=generator).tolist()]


def assign_with_minimum(costs: torch.Tensor, min_assigned: int) -> torch.Tensor:
    """Algorithm 1 line 3 with the empty-epitome guard: y* = argmin_y C(x, y) (N,), then every epitome
    holding fewer than `min_assigned` rows is filled up to it, epitomes in index order.

    Epitome e short of n = min_assigned takes, among the rows whose epitome holds more than n, those
    with the least regret C(x, e) - C(x, y(x)) (the smallest rise of the summed cost, eq. 7), each
    donor giving at most its surplus (count - n), ties to the lower row index. A filled epitome holds
    exactly n and gives nothing later, so the result is deterministic and has every count >= n;
    when no epitome is short it is the argmin itself. `costs` (N, E); needs n * E <= N."""
    y = costs.argmin(-1)
    n_rows, n_epitomes = costs.shape
    if min_assigned <= 0:
        return y
    if min_assigned * n_epitomes > n_rows:
        raise ValueError(f"min_assigned={min_assigned} is invalid for {n_rows} training examples and "
                         f"{n_epitomes} epitomes: needs min_assigned * E <= N")
    counts = torch.bincount(y, minlength=n_epitomes)
    rows = torch.arange(n_rows, device=y.device)
    for e in range(n_epitomes):
        need = min_assigned - int(counts[e])
        if need <= 0:
            continue
        regret = costs[:, e] - costs[rows, y]                      # >= 0 where y is still the argmin
        order = torch.argsort(regret, stable=True)
        donor = y[order]
        surplus = (counts - min_assigned).clamp_min(0)            # 0 for e and every filled epitome
        first = nn.functional.one_hot(donor, n_epitomes)
        rank = (first.cumsum(0) * first).sum(1) - 1               # place of the row among its donor's, by regret
        take = order[rank < surplus[donor]][:need]                # sum of surpluses >= need since n * E <= N
        counts -= torch.bincount(y[take], minlength=n_epitomes)
        y[take] = e
        counts[e] += need
    return y


class HardAssignmentModel(LatentVariableModel):
    """What eVAE and mVAE share: a uniform selector y over E epitomes/components, q(y|x) = delta(y - y*)
    with y* = argmin_y of the deterministic cost (§3.5), Algorithm 1's balanced minibatches."""

    num_epitomes: int

    @property
    def log_prior_y(self) -> float:
        """log p(y) = -log E: the uniform selector prior (never dropped, P8)."""
        return -math.log(self.num_epitomes)

    def epitome_costs(self, x: torch.Tensor) -> torch.Tensor:
        """(B, E) deterministic cost per epitome: -log p(x|y, z = posterior mean) + K-term KL."""
        raise NotImplementedError

    def _all_costs(self, x: torch.Tensor) -> torch.Tensor:
        """`epitome_costs` of every row of x, in chunks of ASSIGN_ROWS decoder rows, (N, E)."""
        chunk = max(1, ASSIGN_ROWS // self.num_epitomes)
        return torch.cat([self.epitome_costs(xc) for xc in x.split(chunk)])

    @torch.no_grad()
    def assign_epitomes(self, x: torch.Tensor) -> torch.Tensor:
        """Algorithm 1 line 3: y* = argmin_y C(x, y) for every row of x, (N,) long."""
        return self._all_costs(x).argmin(-1)

    @torch.no_grad()
    def training_assignments(self, x: torch.Tensor) -> torch.Tensor:
        """The y trained on this epoch: the argmin, or with the config's `min_assigned` > 0 the
        guarded `assign_with_minimum` (which is the argmin at 0). Evaluation always uses the argmin."""
        return assign_with_minimum(self._all_costs(x), getattr(self.config, "min_assigned", 0))

    def minibatches(self, x: torch.Tensor, batch_size: int, generator: torch.Generator) -> Iterator[dict]:
        """One epoch of Algorithm 1: assign y to all of x once (`training_assignments`), then
        floor(N/B) balanced batches."""
        y = self.training_assignments(x)
        for idx in balanced_minibatch_indices(y, batch_size, generator):
            idx = idx.to(x.device)
            yield {"x": x[idx], "y": y[idx]}

    @torch.no_grad()
    def prepare_evaluation(self, x_train: torch.Tensor, chunk: int | None = None) -> None:
        """Full-batch BN statistics (§1.6) from one z ~ q(z|y*,x) per example at its own y*."""
        if next(batch_norm_layers(self), None) is None:
            return
        was_training = self.training
        y = self.assign_epitomes(x_train)
        self.eval()
        with collecting_batch_norm(self):
            self.training_loss(x_train, y)
        self.train(was_training)
