"""Which images each epitome explains (Yeung et al. 2017, Sec. 4, Fig. 5): assignments, label
purity, collapse, and the manifold an epitome's units trace.

Training assigns every image its epitome y* = argmin_y C(x, y) (Algorithm 1, line 3). Fig. 5
claims that "each epitome specializes on a coherent subset of examples"; we measure it by the
label purity of the assignments,

    purity = (1 / N) sum_y max_c #{x : y*(x) = y, label(x) = c}

against the same groups with shuffled labels (more or smaller groups alone raise purity). A model
whose busiest epitome explains (almost) every image has collapsed: generation still draws y
uniformly (Sec. 4.2), so most of its samples come from epitomes that training never used.
`degeneracy` applies the project's rule (claims.degenerate: busiest epitome > 90 % of the training
images, or fewer than half of the epitomes chosen) to the counts, for tables that must not rank
such a model (issue 13).
"""
from __future__ import annotations

import torch

from ...estimators._util import map_batches
from ...results import Row

PURITY_SHUFFLE_SEED = 0


def assignments(model, x, batch_size: int = 1000) -> torch.Tensor:
    """y* of every row of x, (N,) long on the CPU."""
    return map_batches(model, x, model.assign_epitomes, batch_size).long()


def label_purity(groups: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of images whose label is the most common label of their group (1 = every group pure)."""
    if groups.shape != labels.shape or groups.numel() == 0:
        raise ValueError(f"groups {tuple(groups.shape)} and labels {tuple(labels.shape)}: one of each per image")
    groups, labels = groups.long(), labels.long()
    table = torch.zeros(int(groups.max()) + 1, int(labels.max()) + 1, dtype=torch.long)   # (groups, labels)
    table.index_put_((groups, labels), torch.ones_like(groups), accumulate=True)
    return float(table.max(dim=1).values.sum()) / groups.numel()


def shuffled_purity(groups: torch.Tensor, labels: torch.Tensor, seed: int = PURITY_SHUFFLE_SEED) -> float:
    """`label_purity` with the labels permuted: what the group sizes alone give."""
    perm = torch.randperm(labels.numel(), generator=torch.Generator().manual_seed(seed))
    return label_purity(groups, labels[perm])


def largest_share(counts) -> float:
    """The share of images that the busiest epitome explains (1/E when all are used equally)."""
    counts = torch.as_tensor(counts)
    if counts.sum() <= 0:
        raise ValueError("no image assigned: counts sum to 0")
    return float(counts.max()) / float(counts.sum())


def degeneracy(counts) -> dict:
    """The degenerate-model check on the y* counts of a model's training images (one per epitome):
    {"degenerate": bool, "reason": `claims.degenerate`'s words or None, "counts", "epitomes",
    "used" (epitomes that explain >= 1 image), "largest_share", "untrained_sample_share" (the share
    of generated samples, y ~ uniform, drawn from epitomes no training image chose)}.
    `degeneracy(usage_report(run, dataset)["train_counts"])` for a trained run."""
    from .claims import degenerate

    counts = torch.as_tensor(counts).long()
    if counts.dim() != 1 or counts.numel() == 0 or (counts < 0).any():
        raise ValueError(f"counts must be one non-negative count per epitome, got {counts.tolist()}")
    E, used, share = counts.numel(), int((counts > 0).sum()), largest_share(counts)
    reason = degenerate(share, (used, E))
    return {"degenerate": reason is not None, "reason": reason, "counts": counts.tolist(), "epitomes": E,
            "used": used, "largest_share": share, "untrained_sample_share": (E - used) / E}


def training_images(spec, dataset: str):
    """(x, labels) of the images a run trained on: its training subset, MNIST binarised once with
    the evaluation seed (runs.EVAL_BINARIZATION_SEED), faces as loaded."""
    from ...data import fixed_binarization, load_dataset
    from ...runs import EVAL_BINARIZATION_SEED

    ds = load_dataset(dataset)
    n = spec.train_subset or ds.train_x.shape[0]
    x = ds.train_x[:n]
    labels = ds.train_y[:n] if ds.train_y is not None else None
    return (fixed_binarization(x, seed=EVAL_BINARIZATION_SEED) if spec.binarize else x), labels


def usage_report(run, dataset: str = "mnist", test_subset: int | None = None) -> dict:
    """Assignments of a run's own training images and of the test images (the first
    `test_subset`), cached in the run folder: counts per epitome, largest shares, and (when the
    data have labels) the label purity of the training assignments with its shuffled baseline."""
    from ...evaluation import cached_metric, test_set

    x, labels = training_images(run.spec, dataset)
    test = test_set(dataset, test_subset)
    key = f"usage-{dataset}-train{x.shape[0]}-test{test.x.shape[0]}"

    def compute():
        y_train, y_test = assignments(run.model, x), assignments(run.model, test.x)
        E = run.model.num_epitomes
        train, held = torch.bincount(y_train, minlength=E), torch.bincount(y_test, minlength=E)
        out = {"epitomes": E, "train_counts": train.tolist(), "test_counts": held.tolist(),
               "largest_share_train": largest_share(train), "largest_share_test": largest_share(held),
               "used_train": int((train > 0).sum()), "n_train": x.shape[0], "n_test": test.x.shape[0]}
        if labels is not None:
            out.update(purity=label_purity(y_train, labels), shuffled_purity=shuffled_purity(y_train, labels))
        return out

    return cached_metric(run.path, key, compute)


@torch.no_grad()
def manifold(model, epitome: int, grid_size: int = 10) -> torch.Tensor:
    """Fig. 5 (right): decoder means over a grid of N(0, 1) quantiles 0.05..0.95 on the two units of
    a K = 2 epitome, every other unit 0 (§3.6 default), (grid_size**2, D_x), float32 CPU."""
    units = model.active_units[epitome].cpu()                                    # the K unit indices
    if units.numel() != 2:
        raise ValueError(f"a manifold grid needs a K = 2 epitome; epitome {epitome} has {units.numel()} units")
    q = torch.distributions.Normal(0.0, 1.0).icdf(torch.linspace(0.05, 0.95, grid_size))
    z = torch.zeros(grid_size, grid_size, model.latent_dim)
    z[..., units[0]] = q[:, None]                                                # rows vary the first unit
    z[..., units[1]] = q[None, :]                                                # columns the second
    was_training = model.training
    model.eval()
    try:
        return model.decode_mean(z.reshape(-1, model.latent_dim).to(model.device)).float().cpu()
    finally:
        model.train(was_training)


def usage_rows(usage: list[dict], label: str, dataset: str = "mnist") -> list[Row]:
    """Rows of the checked table: epitomes, how many are used, the busiest one's share (first
    seed), and the label purity with its shuffled baseline (every seed)."""
    u = usage[0]
    rows = [Row("epitomes", label, u["epitomes"], dataset, unit="epitomes"),
            Row("epitomes_used", label, u["used_train"], dataset, unit="epitomes", note=f"y* on {u['n_train']} train"),
            Row("largest_epitome_share", label, u["largest_share_train"], dataset, unit="fraction",
                note=f"train; test {u['largest_share_test']:.2f}")]
    if "purity" in u:
        for key in ("purity", "shuffled_purity"):
            per_seed = [v[key] for v in usage]
            rows.append(Row(f"epitome_label_{key}", label, sum(per_seed) / len(per_seed), dataset, unit="fraction",
                            note="seeds: " + ", ".join(f"{v:.2f}" for v in per_seed)))
    return rows
