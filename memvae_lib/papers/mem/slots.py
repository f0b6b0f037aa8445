"""MEM paper (Li, Zhu, Zhang 2016), Fig. 3 (Sec. 5.2) and Table 4 (Appendix D): which memory slots each
digit class prefers, and whether that says more than the pixels already do.

Per class c, the preference for slot s is the attention h_a averaged over the test images of c, each
image's attention first normalised to sum 1 (the code's `statis_computation`, docs/protocols.md §2.5 E5):

    P[c, s] = mean_{i in c} h_a[i, s] / sum_s' h_a[i, s']                              (10, slots)

The same computation on raw pixels (each image normalised to sum 1) is the baseline: a statement
about the memory ("layer 1 has a slot shared by 1, 4, 7, 9") is evidence about the memory only when
the memory shows it more than the pixels, computed the same way, do.

A group's sharing margin is scale-free: each feature (slot or pixel) is standardised across the ten
classes, and the margin of a feature is how far the group's least interested member stays above the
most interested outsider; the group's margin is that of its best feature. It is positive when some
feature is preferred by every member more than by any other class, and at most about 2 (a feature
that is on for the group, off for the rest).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

CLASSES = tuple(range(10))
PAPER_GROUPS = {1: (1, 4, 7, 9), 2: (3, 5, 8)}  # memory layer -> the classes the paper says share a slot
BOOTSTRAP_RESAMPLES = 200


def class_profiles(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(N, d) non-negative activations -> (10, d): each example normalised to sum 1, then averaged per class."""
    values = np.asarray(values, dtype=np.float64)
    labels = np.asarray(labels)
    if values.ndim != 2 or labels.shape != (values.shape[0],):
        raise ValueError(f"need values (N, d) and labels (N,), got {values.shape} and {labels.shape}")
    if (values < 0).any():
        raise ValueError("activations must be non-negative (attention weights, grey levels)")
    if missing := [c for c in CLASSES if not (labels == c).any()]:
        raise ValueError(f"no example of class {missing[0]}: every class needs at least one")
    totals = values.sum(axis=1, keepdims=True)
    values = values / np.where(totals > 0, totals, 1.0)
    return np.stack([values[labels == c].mean(axis=0) for c in CLASSES])


def class_correlation(profiles: np.ndarray) -> np.ndarray:
    """np.cov with classes as variables and features as observations -> the 10x10 correlation."""
    cov = np.cov(profiles)
    sd = np.sqrt(np.diag(cov))
    return cov / np.outer(sd, sd)


def graph_similarity(corr_a: np.ndarray, corr_b: np.ndarray) -> float:
    """Pearson r between the upper triangles (the 45 class pairs) of two class-correlation matrices."""
    upper = np.triu_indices(corr_a.shape[0], k=1)
    return float(np.corrcoef(corr_a[upper], corr_b[upper])[0, 1])


def pair_rank(corr: np.ndarray, i: int, j: int) -> int:
    """1 = the most correlated of the 45 class pairs."""
    upper = np.triu_indices(corr.shape[0], k=1)
    return int((corr[upper] > corr[i, j]).sum()) + 1


def sharing_margin(profiles: np.ndarray, group: Sequence[int]) -> float:
    """The group's best feature: max_s [min_{c in group} Z[c, s] - max_{o not in group} Z[o, s]], Z the
    features standardised across classes (features that are equal for every class say nothing)."""
    inside = np.isin(np.arange(profiles.shape[0]), list(group))
    if not inside.any() or inside.all():
        raise ValueError(f"group {tuple(group)} must hold some classes and leave some out")
    sd = profiles.std(axis=0)
    varies = sd > 1e-12 * max(float(sd.max()), 1e-300)
    if not varies.any():
        raise ValueError("every feature is the same for all classes: no group can share one")
    z = (profiles[:, varies] - profiles[:, varies].mean(axis=0)) / sd[varies]  # (10, d')
    return float((z[inside].min(axis=0) - z[~inside].max(axis=0)).max())


def bootstrap_se(statistic: Callable[[np.ndarray], np.ndarray], labels: np.ndarray, *, seed: int,
                 resamples: int = BOOTSTRAP_RESAMPLES) -> np.ndarray:
    """Standard errors of the (vector) statistic(indices) over `resamples` bootstrap resamples of the test
    images, drawn within each class (so that every class keeps its count: a class profile needs its
    class), from a fixed generator: the same resamples every run, so the output is deterministic."""
    if resamples < 2:
        raise ValueError(f"resamples={resamples}: a standard error needs at least 2")
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    draws = np.array([statistic(np.concatenate([rng.choice(m, m.size) for m in members])) for _ in range(resamples)],
                     dtype=np.float64)
    return draws.std(axis=0, ddof=1)


def distinct_top_slots(profiles: np.ndarray, min_share: float) -> int:
    """How many different slots are the top-1 slot of a class whose top-1 share is at least
    `min_share`: 0 when the attention is flat, 1 when every class collapsed onto the same slot."""
    top, share = profiles.argmax(axis=1), profiles.max(axis=1)
    return len(set(top[share >= min_share].tolist()))


@dataclass
class SlotStatistics:
    """Fig. 3 for one trained MEM-VAE (one training seed)."""

    preference: dict[int, np.ndarray]   # layer -> (10, slots) class-mean normalised attention
    correlation: dict[str, np.ndarray]  # "layer 1" | "layer 2" | "raw pixels" -> (10, 10)
    sharing: dict[int, float]           # layer -> sharing margin of its paper group in that layer
    raw_sharing: dict[int, float]       # layer -> the same group's margin on the raw pixels
    sharing_se: dict[int, float]        # layer -> bootstrap SE of sharing - raw_sharing
    similarity: dict[int, float]        # layer -> graph similarity to the raw pixels
    similarity_se: float                # bootstrap SE of similarity[1] - similarity[2]

    def advantage(self, layer: int) -> dict:
        """The memory's sharing margin minus the pixels' for the layer's paper group, as a claim input."""
        return {"mean": self.sharing[layer] - self.raw_sharing[layer], "sem": self.sharing_se[layer]}

    def layer1_closer_to_raw(self) -> dict:
        return {"mean": self.similarity[1] - self.similarity[2], "sem": self.similarity_se}


@torch.no_grad()
def slot_statistics(model, test, *, seed: int) -> SlotStatistics:
    """Fig. 3 statistics of a MEM-VAE on the real-valued test images: one z ~ q(z|x) per image drawn
    with torch seeded `seed`, batch norm with the stored training-set statistics."""
    torch.manual_seed(seed)
    attention = [a.double().cpu().numpy() for a in model.attention(test.grey.to(model.device))]  # [(N, 70), (N, 30)]
    labels, pixels = test.y.numpy(), test.grey.double().numpy()  # (N,), (N, 784)
    layers = dict(zip((1, 2), attention))

    def stats(idx):  # class profiles and correlations of the test images `idx`
        prof = {layer: class_profiles(a[idx], labels[idx]) for layer, a in layers.items()}
        raw = class_profiles(pixels[idx], labels[idx])
        raw_corr = class_correlation(raw)
        return prof, raw, {layer: class_correlation(p) for layer, p in prof.items()}, raw_corr

    def contrasts(idx):  # sharing advantage of layer 1, of layer 2; similarity of layer 1 - layer 2
        prof, raw, corr, raw_corr = stats(idx)
        return np.array([sharing_margin(prof[1], PAPER_GROUPS[1]) - sharing_margin(raw, PAPER_GROUPS[1]),
                         sharing_margin(prof[2], PAPER_GROUPS[2]) - sharing_margin(raw, PAPER_GROUPS[2]),
                         graph_similarity(corr[1], raw_corr) - graph_similarity(corr[2], raw_corr)])

    prof, raw, corr, raw_corr = stats(np.arange(len(labels)))
    se = bootstrap_se(contrasts, labels, seed=seed)
    return SlotStatistics(
        preference=prof,
        correlation={"layer 1": corr[1], "layer 2": corr[2], "raw pixels": raw_corr},
        sharing={layer: sharing_margin(prof[layer], g) for layer, g in PAPER_GROUPS.items()},
        raw_sharing={layer: sharing_margin(raw, g) for layer, g in PAPER_GROUPS.items()},
        sharing_se={1: float(se[0]), 2: float(se[1])},
        similarity={layer: graph_similarity(corr[layer], raw_corr) for layer in (1, 2)},
        similarity_se=float(se[2]))


@torch.no_grad()
def layer_preference(model, test, *, layer: int = 1, seed: int) -> np.ndarray:
    """(10, slots) class-mean normalised attention of one memory layer (Table 4 uses layer 1 of VIS-MEM-VAE),
    one z ~ q(z|x) per real-valued test image drawn with torch seeded `seed`."""
    torch.manual_seed(seed)
    attention = model.attention(test.grey.to(model.device))[layer - 1]  # (N, slots)
    return class_profiles(attention.double().cpu().numpy(), test.y.numpy())


def top_values(profiles: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each class's k largest preferences and their slots, largest first: ((10, k) slots, (10, k) values)."""
    slots = np.argsort(-profiles, axis=1, kind="stable")[:, :k]
    return slots, np.take_along_axis(profiles, slots, axis=1)


def format_top_table(values: np.ndarray, title: str) -> str:
    """Table 4's layout: one row per rank (top-1, top-2, ...), one column per class."""
    lines = [f"{title:10s}" + "".join(f'"{c}"'.rjust(7) for c in CLASSES)]
    for r in range(values.shape[1]):
        lines.append(f"{'top-' + str(r + 1):10s}" + "".join(f"{v:7.2f}" for v in values[:, r]))
    return "\n".join(lines)
