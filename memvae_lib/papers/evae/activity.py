"""Active units and the KL each unit carries (Yeung et al. 2017, Sec. 3, Figs. 1-3), with the
per-epitome view that the eVAE and the mVAE need.

A VAE unit u is active when its posterior mean varies over the data (Sec. 3, after Burda et al.):

    A_u = Cov_x( E_{u ~ q(u|x)}[u] ) > 0.02

The paper counts eVAE units the same way without saying how. On the eVAE's posterior mean
m_{y*(x)} * mu(x) (what `estimators.active_units` sees), a unit of an epitome chosen for a share p
of the images gets A_u = p Var(mu_u | y) + p (1 - p) E[mu_u | y]^2: how often its epitome is chosen
leaks into the count. Our definition for eVAE and mVAE (docs/protocols.md §1.5, §3.5): a unit is
active when it varies over the images its own epitome (component) explains,

    A_{u|y} = Var_{x : y*(x) = y}( mu_u(x) ),   u in epitome y
    u active  iff  max over epitomes y containing u, explaining >= MIN_EPITOME_IMAGES images, of A_{u|y} >= 0.02

so a rarely chosen epitome counts as fully as a popular one, and an epitome that explains no
image leaves its units inactive. `epitome_activity` keeps the whole (epitome, unit) table; the
report also gives the marginal count on m_{y*} * mu for comparison.

The VAE's count uses the first 500 training images (Burda et al.'s code, §1.5). A model with
epitomes is counted on the first 5,000: on 500, an epitome chosen for under 2 % of the data explains
fewer than MIN_EPITOME_IMAGES of them and its units count as inactive however much they vary (issue
13: 5 of the 16 epitomes of Table 4's D48 K3 eVAE at `laptop` explained 1-8 of the first 500
images, and their 15 units were counted as inactive).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ...estimators import active_units, per_unit_kl
from ...estimators._util import map_batches

THRESHOLD = 0.02           # the eVAE paper's (Sec. 3); Burda et al. use 0.01
ACTIVITY_IMAGES = 500      # §1.5: the first 500 training images (evaluation.activity_set)
EPITOME_ACTIVITY_IMAGES = 5000  # models with epitomes: 10 images for an epitome chosen for 0.2 % of the data
MIN_EPITOME_IMAGES = 10    # a variance over fewer images is too noisy to compare with 0.02


def selector_masks(model) -> torch.Tensor | None:
    """(E, D) bool: the latent units each epitome (eVAE, m_y of eq. 5) or component (mVAE: block y
    of its (B, E*K) codes) uses; None for a model without a selector y."""
    if hasattr(model, "masks"):
        return model.masks.cpu()
    if hasattr(model, "num_epitomes"):
        E, K = model.num_epitomes, model.config.epitome_size
        return torch.eye(E, dtype=torch.bool).repeat_interleave(K, dim=1)
    return None


@dataclass
class EpitomeActivity:
    variances: torch.Tensor  # (E, D) float64 A_{u|y}; NaN where u is not in y or y explains too few images
    images: torch.Tensor     # (E,) long: activity images each epitome explains (y*)
    threshold: float
    min_images: int

    @property
    def unit_activity(self) -> torch.Tensor:
        """(D,) max over epitomes of A_{u|y} (0 where no epitome of u explains enough images)."""
        return torch.nan_to_num(self.variances, nan=0.0).max(dim=0).values

    @property
    def active(self) -> torch.Tensor:
        return self.unit_activity >= self.threshold

    @property
    def count(self) -> int:
        return int(self.active.sum())

    @property
    def per_epitome(self) -> torch.Tensor:
        """(E,) active units within each epitome (0 for an epitome below min_images)."""
        return (torch.nan_to_num(self.variances, nan=0.0) >= self.threshold).sum(dim=1)


def epitome_activity(model, x, threshold: float = THRESHOLD, *, min_images: int = MIN_EPITOME_IMAGES,
                     batch_size: int = 1000) -> EpitomeActivity:
    """A_{u|y} of every unit u within every epitome y, over the images of x assigned to y."""
    masks = selector_masks(model)
    if masks is None:
        raise ValueError(f"{type(model).__name__} has no epitomes: use estimators.active_units")
    y = map_batches(model, x, model.assign_epitomes, batch_size).long()        # (N,) y*
    means = map_batches(model, x, model.posterior_mean, batch_size)           # (N, D) m_{y*} * mu
    E, D = masks.shape
    variances = torch.full((E, D), float("nan"), dtype=torch.float64)
    images = torch.bincount(y, minlength=E)
    for e in range(E):
        if images[e] >= min_images:
            # A_{u|y} = Var_{x : y*(x) = y}(mu_u(x)), biased as np.var (§1.5)
            variances[e, masks[e]] = means[y == e][:, masks[e]].var(dim=0, unbiased=False)
    return EpitomeActivity(variances, images, float(threshold), min_images)


def spearman(a, b) -> float:
    """Spearman's rank correlation of two (D,) tensors (average ranks for ties); 0 if one is constant."""
    ranks = [torch.empty(len(v), dtype=torch.float64) for v in (a, b)]
    for r, v in zip(ranks, (torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64))):
        for value in v.unique():
            where = v == value
            below = int((v < value).sum())
            r[where] = below + (int(where.sum()) + 1) / 2  # the mean rank of a tie
    ra, rb = ranks[0] - ranks[0].mean(), ranks[1] - ranks[1].mean()
    norm = float(ra.norm() * rb.norm())
    return float(ra @ rb) / norm if norm > 0 else 0.0


@torch.no_grad()
def unit_statistics(model, x, threshold: float = THRESHOLD) -> dict:
    """Activity, KL per unit (Fig. 1) and the count of one model on images x (N, D_x):
    {"activity": (D,) the statistic compared with the threshold, "kl": (D,) mean KL(q(z_u|x) || p),
    "active": (D,) bool, "count", "kl_active"/"kl_inactive": mean KL of each group (None if empty),
    "rank_correlation": Spearman(activity, KL), "marginal_count" (eVAE/mVAE: A_u on m_{y*} * mu),
    "per_epitome": {"images", "active"} (eVAE/mVAE)}."""
    kl = per_unit_kl(model, x)                                                 # (D,) nats
    marginal = active_units(model, x, threshold)
    out = {"marginal_count": marginal.count}
    if selector_masks(model) is None:
        activity, active = marginal.variances, marginal.active
    else:
        view = epitome_activity(model, x, threshold)
        activity, active = view.unit_activity, view.active
        out["per_epitome"] = {"images": view.images.tolist(), "active": view.per_epitome.tolist()}
    mean = lambda t: float(t.mean()) if t.numel() else None  # noqa: E731
    return {"activity": activity.tolist(), "kl": kl.tolist(), "active": active.tolist(), "count": int(active.sum()),
            "kl_active": mean(kl[active]), "kl_inactive": mean(kl[~active]),
            "rank_correlation": spearman(activity, kl), "threshold": float(threshold), "n_examples": x.shape[0], **out}


def activity_images(model) -> int:
    """How many of the first training images the activity of `model` is counted on (§1.5): 500 for
    a model without epitomes, EPITOME_ACTIVITY_IMAGES for an eVAE or mVAE (module docstring)."""
    return ACTIVITY_IMAGES if selector_masks(model) is None else EPITOME_ACTIVITY_IMAGES


def activity_report(run, dataset: str = "mnist", threshold: float = THRESHOLD, n: int | None = None) -> dict:
    """`unit_statistics` on the first n training images (§1.5: MNIST binarised once, seed 123; n
    defaults to `activity_images(run.model)`), cached in the run folder; "data" says which images."""
    from ...data import load_dataset
    from ...evaluation import ACTIVITY_BINARISATION_SEED, activity_set, cached_metric

    n = activity_images(run.model) if n is None else n
    per_epitome = "-per-epitome" if selector_masks(run.model) is not None else ""
    key = f"activity-{dataset}-n{n}-t{threshold:g}-seed{ACTIVITY_BINARISATION_SEED}{per_epitome}"

    def compute():
        x = activity_set(dataset, n)
        grey = load_dataset(dataset).kind == "grey"
        return {**unit_statistics(run.model, x, threshold), "data": f"first {x.shape[0]} training images"
                + (f" binarised once, seed {ACTIVITY_BINARISATION_SEED}" if grey else "")}

    return cached_metric(run.path, key, compute)


# ---- active units over training (Sec. 3: "noticeable in the early iterations") -------------------
@dataclass
class ActivityCurve:
    """One run's A_u after every recorded epoch, from its training curve (the Figs. 1-3 VAEs record
    it: TrainConfig.eval_metric "active_units", evaluation.training_curve)."""

    epochs: list[int]
    activity: torch.Tensor  # (epochs, D) float64 A_u

    def counts(self, threshold: float = THRESHOLD) -> list[int]:
        return [int(c) for c in (self.activity >= threshold).sum(dim=1)]

    def resurrected(self, threshold: float = THRESHOLD, since: float = 0.5) -> tuple[int, int] | None:
        """(units inactive at the first recorded epoch at or after `since` (0 < since < 1) of
        training that are active at the end, units inactive then): Sec. 3's "once the units have
        become inactive, it is almost impossible to resurrect them". None when that epoch is the
        last one recorded (a run too short to say)."""
        if not 0 < since < 1:
            raise ValueError(f"since={since!r}: the share of training after which units are followed, in (0, 1)")
        start = next(i for i, e in enumerate(self.epochs) if e >= since * self.epochs[-1])
        if start == len(self.epochs) - 1:
            return None
        inactive = self.activity[start] < threshold                  # (D,) bool
        return int((inactive & (self.activity[-1] >= threshold)).sum()), int(inactive.sum())


def activity_curve(run) -> ActivityCurve:
    """The run's ActivityCurve; a ValueError naming the run when it recorded none (a run trained
    with another TrainConfig.eval_metric)."""
    records = [h for h in run.history if "activity" in h]
    if not records:
        raise ValueError(f"run {run.path.name} recorded no active units while training (TrainConfig.eval_metric="
                         f"{run.spec.train.eval_metric!r}); only the Figs. 1-3 VAEs do (evae configs, sec3)")
    return ActivityCurve([h["epoch"] for h in records],
                         torch.tensor([h["activity"] for h in records], dtype=torch.float64))
