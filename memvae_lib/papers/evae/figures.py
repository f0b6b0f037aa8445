"""Figures of the eVAE paper's activity and image experiments (Yeung et al. 2017, Figs. 1-6, 9, 10):
sorted unit activity, KL per unit, epitome masks and usage, manifolds and image panels.

Each function returns a matplotlib figure and draws only what it is given (activity reports from
`activity.activity_report`, images from `evaluation.generations` and friends), so a notebook's
slider can call it with other values.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from ...plots import image_grid
from .activity import THRESHOLD

FLOOR = 1e-8  # activity plotted on a log axis: exact zeros (masked or dead units) drawn here


def activity_curves(ax, reports: dict, threshold: float = THRESHOLD) -> None:
    """Sorted activity of each model ({label: activity report}), the threshold dotted (Figs. 2-3)."""
    for label, report in reports.items():
        v = np.sort(np.asarray(report["activity"]))[::-1]
        ax.semilogy(np.arange(1, v.size + 1), np.maximum(v, FLOOR), "o-", ms=3, label=f"{label}: {report['count']} active")
    ax.axhline(threshold, color="grey", ls=":", lw=1, label=f"threshold {threshold:g}")
    ax.set_xlabel("latent unit, sorted by activity")
    ax.set_ylabel(f"activity $A_u$ (log; floor {FLOOR:g})")
    ax.legend(fontsize=7)


def active_units_over_epochs(curves: dict, threshold: float = THRESHOLD, latent: int | None = None, title: str = ""):
    """Active units (A_u >= threshold) after every epoch, one colour per model ({label: [ActivityCurve
    per seed]}), one line per seed (Sec. 3: over-pruning sets in early and is not undone)."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for i, (label, seeds) in enumerate(curves.items()):
        for j, curve in enumerate(seeds):
            ax.plot(curve.epochs, curve.counts(threshold), color=f"C{i}", lw=1.2, alpha=1.0 if j == 0 else 0.5,
                    label=f"{label} ({len(seeds)} seed{'s' if len(seeds) > 1 else ''})" if j == 0 else None)
    if latent is not None:
        ax.axhline(latent, color="grey", ls=":", lw=1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"active units ($A_u \\geq$ {threshold:g})")
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def kl_vs_activity(report: dict, threshold: float = THRESHOLD, title: str = ""):
    """Fig. 1: activity A_u (top, log) and KL per unit (bottom), units sorted by activity; a unit
    is orange when A_u >= threshold."""
    activity, kl = np.asarray(report["activity"]), np.asarray(report["kl"])
    order = np.argsort(-activity, kind="stable")
    on = activity[order] >= threshold
    units = np.arange(1, activity.size + 1)
    fig, (ax_a, ax_k) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    ax_a.semilogy(units, np.maximum(activity[order], FLOOR), "o-", ms=3)
    ax_a.axhline(threshold, color="grey", ls=":", lw=1)
    ax_a.set_ylabel("activity $A_u$ (log)")
    ax_k.bar(units, kl[order], color=np.where(on, "C1", "C7"))
    ax_k.set_ylabel("KL per unit (nats)")
    ax_k.set_xlabel("latent unit, sorted by activity")
    mean = lambda m: f"{kl[order][m].mean():.3f}" if m.any() else "-"  # noqa: E731
    fig.suptitle(f"{title}{int(on.sum())} units with $A_u \\geq$ {threshold:g} (orange); mean KL per unit: "
                 f"active {mean(on)}, inactive {mean(~on)} nats", fontsize=9)
    fig.tight_layout()
    return fig


def _grid(ax, name, images, image_shape=(28, 28)) -> None:
    """One image grid, about square (8 per row for 64 images); `images` may be (images, shape)."""
    if isinstance(images, tuple):
        images, image_shape = images
    if len(images) == 0:
        ax.set_axis_off()
        ax.set_title(f"{name}: none", fontsize=9)
        return
    image_grid(images, image_shape, int(np.ceil(np.sqrt(len(images)))), ax=ax, title=name)


def image_panels(panels: dict, ncols: int | None = None, title: str = ""):
    """One image grid per entry of {title: images (N, d) or (images, image_shape)}, `ncols` a row."""
    ncols = ncols or len(panels)
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.1 * ncols, 3.3 * nrows), squeeze=False)
    for ax, (name, images) in zip(axes.flat, panels.items()):
        _grid(ax, name, images)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def activity_and_images(reports: dict, panel_rows: list[dict], threshold: float = THRESHOLD, title: str = ""):
    """Figs. 2-4 and 9: sorted activity of several models ({label: activity report}) on top, then
    one row of image grids per dict of `panel_rows` ({title: images})."""
    ncols = max(len(r) for r in panel_rows)
    fig = plt.figure(figsize=(max(3.2 * ncols, 7), 3 + 3.3 * len(panel_rows)))
    grid = fig.add_gridspec(1 + len(panel_rows), ncols, height_ratios=[0.9] + [1] * len(panel_rows))
    activity_curves(fig.add_subplot(grid[0, :]), reports, threshold)
    for i, panels in enumerate(panel_rows):
        for j, (name, images) in enumerate(panels.items()):
            _grid(fig.add_subplot(grid[1 + i, j]), name, images)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def epitome_overview(masks, counts, shown, manifolds: dict, units: dict, title: str = ""):
    """Fig. 5: the masks m_y of D = 8, K = 2, stride 2 (left), how many training images each
    epitome explains (orange: shown), and the manifolds of the shown epitomes ({y: images})."""
    import seaborn as sns

    n = max(len(manifolds), 2)
    fig = plt.figure(figsize=(3.2 * n, 7.4))
    grid = fig.add_gridspec(2, n, height_ratios=[1, 2.6])
    ax = fig.add_subplot(grid[0, : n // 2])
    m = np.asarray(masks, dtype=int)
    sns.heatmap(m, ax=ax, cbar=False, cmap="Blues", linewidths=0.5, linecolor="white", annot=True,
                xticklabels=[f"z{d + 1}" for d in range(m.shape[1])], yticklabels=[f"y={e + 1}" for e in range(m.shape[0])])
    ax.set_title(f"masks $m_y$: D = {m.shape[1]}, K = {m[0].sum()}, {m.shape[0]} epitomes (Fig. 5 left)", fontsize=9)
    ax = fig.add_subplot(grid[0, n // 2:])
    counts = np.asarray(counts)
    ax.bar(np.arange(counts.size), counts, color=["C1" if y in shown else "C7" for y in range(counts.size)])
    ax.set_xlabel("epitome y")
    ax.set_ylabel("training images (y*)")
    for j, (y, images) in enumerate(manifolds.items()):
        u = units[y]
        _grid(fig.add_subplot(grid[1, j]), f"epitome {y} (z{u[0] + 1}, z{u[1] + 1}): {int(counts[y])} images", images)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
