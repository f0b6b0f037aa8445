"""Figures of the eVAE paper's Parzen and likelihood experiments (Yeung et al. 2017, Fig. 7,
Tables 1-4): Parzen against K, the capacity grids as heatmaps, bandwidth sweeps, NLL against D,
the best models against the literature. Parzen is labelled a legacy metric (Theis et al. 2016).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from . import values
from .grid import KINDS, CellResult
from .parzen_protocol import LEGACY_LABEL

COLOURS = {"VAE": "C3", "mVAE": "C2", "eVAE": "C0"}
BASELINES = {"real": ("real train images", "--"), "kmeans": ("k-means centroids", ":")}


def parzen_vs_k(results: dict[tuple, CellResult], baselines: dict, title: str = ""):
    """Fig. 7: Parzen log-density (mean +- SE) against K for eVAE and mVAE, one panel per D, with
    the VAE of that D and the two baselines as horizontal lines."""
    dims = sorted({key[3] for key in results})
    fig, axes = plt.subplots(1, len(dims), figsize=(4.2 * len(dims), 3.6), squeeze=False, sharey=True)
    for ax, d in zip(axes[0], dims):
        for kind in ("eVAE", "mVAE"):
            cells = sorted((key[4], r) for key, r in results.items() if key[0] == kind and key[3] == d)
            ax.errorbar([k for k, _ in cells], [r.parzen[0]["mean"] for _, r in cells], marker="o", capsize=3,
                        yerr=[r.parzen[0]["sem"] for _, r in cells], color=COLOURS[kind], label=kind)
        vae = next(r for key, r in results.items() if key[0] == "VAE" and key[3] == d)
        ax.axhline(vae.parzen[0]["mean"], color=COLOURS["VAE"], label="VAE")
        for what, (name, style) in BASELINES.items():
            ax.axhline(baselines[what]["mean"], color="0.4", ls=style, lw=1, label=name)
        ax.set_xscale("log", base=2)
        ks = sorted({key[4] for key in results if key[3] == d and key[4] is not None})
        ax.set_xticks(ks, [str(k) for k in ks])
        ax.set_xlabel("epitome size K")
        ax.set_title(f"D = {d} (VAE: {vae.activity[0]['count']} active)", fontsize=9)
    axes[0][0].set_ylabel(f"Parzen log-density (nats)\n{LEGACY_LABEL}")
    axes[0][-1].legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def grid_heatmaps(best_by_dataset: dict[str, dict[tuple, CellResult]], title: str = ""):
    """Tables 4 and 1: one heatmap per data set, rows (model, D), columns (L, H), each cell
    'parzen (active units)'; degenerate eVAE/mVAE cells (`CellResult.degenerate`: busiest epitome
    above COLLAPSE_SHARE of the training images, or fewer than half the epitomes used) are starred."""
    import seaborn as sns

    fig, axes = plt.subplots(1, len(best_by_dataset), figsize=(5.5 * len(best_by_dataset), 4.5), squeeze=False)
    for ax, (dataset, best) in zip(axes[0], best_by_dataset.items()):
        rows = sorted({(key[3], KINDS.index(key[0])) for key in best})
        cols = sorted({key[1:3] for key in best})
        value = np.full((len(rows), len(cols)), np.nan)
        label = np.full((len(rows), len(cols)), "", dtype=object)
        for (kind, layers, hidden, latent), r in best.items():
            i, j = rows.index((latent, KINDS.index(kind))), cols.index((layers, hidden))
            value[i, j] = r.parzen[0]["mean"]
            label[i, j] = f"{value[i, j]:.0f}\n({r.activity[0]['count']}){'*' if r.degenerate else ''}"
        sns.heatmap(value, annot=label, fmt="", cmap="viridis", ax=ax, annot_kws={"fontsize": 7},
                    xticklabels=[f"L{a} H{b}" for a, b in cols], yticklabels=[f"{KINDS[k]} D={d}" for d, k in rows],
                    cbar_kws={"label": "Parzen (nats)"})
        ax.tick_params(axis="y", rotation=0)
        name = "MNIST (Table 4)" if dataset == "mnist" else "Olivetti: STAND-IN for TFD (Table 1)"
        ax.set_title(f"{name}\nParzen (active units), * = degenerate (collapsed onto few epitomes)", fontsize=9)
    fig.suptitle(title or LEGACY_LABEL, fontsize=9)
    fig.tight_layout()
    return fig


def bandwidth_sweeps(results_by_dataset: dict[str, list[CellResult]], baselines: dict, title: str = ""):
    """The validation log-density against sigma of every model and both baselines: a curve that
    peaks at the edge of its grid (`parzen_protocol.sigma_grid`: logspace(-1, 0, 10), faces reaching
    down to 0.028) means the grid missed the best bandwidth."""
    fig, axes = plt.subplots(1, len(results_by_dataset), figsize=(5 * len(results_by_dataset), 3.4), squeeze=False)
    for ax, (dataset, results) in zip(axes[0], results_by_dataset.items()):
        for r in results:
            s, v = zip(*r.parzen[0]["sweep"])
            ax.plot(s, v, color=COLOURS[r.kind], alpha=0.6, lw=1)
        for what, (name, style) in BASELINES.items():
            s, v = zip(*baselines[dataset][what]["sweep"])
            ax.plot(s, v, "k" + style, lw=1.5, label=name)
        for kind in KINDS:
            ax.plot([], [], color=COLOURS[kind], label=kind)
        ax.set_xscale("log")
        ax.set_xlabel("bandwidth sigma")
        ax.set_title("MNIST" if dataset == "mnist" else "Olivetti (TFD stand-in)", fontsize=9)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("validation log-density (nats)")
    fig.suptitle(title or f"Parzen bandwidth sweep, {LEGACY_LABEL}", fontsize=9)
    fig.tight_layout()
    return fig


def nll_vs_d(nll: dict, active: dict, threshold: float, title: str = ""):
    """Table 2: test negative log-likelihood (mean over seeds, +- SE) against D for VAE and eVAE
    with the paper's values dashed, and active units against D. nll: {(kind, D): Seeds of L_k};
    active: {(kind, D): counts per seed}."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
    dims = sorted({d for _, d in nll})
    for kind in ("VAE", "eVAE"):
        ax.errorbar(dims, [-np.mean(nll[kind, d].values) for d in dims], yerr=[nll[kind, d].test_se[0] for d in dims],
                    marker="o", capsize=3, color=COLOURS[kind], label=f"{kind} (ours)")
        ref = [values.EVAE_TABLE2[d][kind == "eVAE"] for d in dims if d in values.EVAE_TABLE2]
        if len(ref) == len(dims):
            ax.plot(dims, ref, "--", marker="x", color=COLOURS[kind], label=f"{kind} (paper)")
        ax2.plot(dims, [np.mean(active[kind, d]) for d in dims], marker="o", color=COLOURS[kind], label=kind)
    ax2.plot(dims, dims, ":", color="0.5", label="all units")
    ax.set(xlabel="latent units D", ylabel="negative log-likelihood (nats)", title="test NLL (lower is better)")
    ax2.set(xlabel="latent units D", ylabel=f"active units (A_u >= {threshold:g})")
    ax.legend(fontsize=7)
    ax2.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def against_literature(best: dict[str, CellResult], baselines: dict, title: str = ""):
    """Table 3 (MNIST): the paper's rows (grey), our best VAE, mVAE, eVAE and the same estimator
    on real training images and k-means centroids (black), with the Theis et al. anchors dotted."""
    labels, means, errs, colours = [], [], [], []
    for name, ((m, se), _) in values.EVAE_TABLE3.items():
        labels.append(f"{name} (paper)"), means.append(m), errs.append(se), colours.append("0.75")
    for kind in KINDS:
        labels.append(f"{kind} (ours)"), means.append(best[kind].parzen[0]["mean"])
        errs.append(best[kind].parzen[0]["sem"]), colours.append(COLOURS[kind])
    for what, (name, _) in BASELINES.items():
        labels.append(f"{name} (ours)"), means.append(baselines[what]["mean"])
        errs.append(baselines[what]["sem"]), colours.append("k")
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.barh(labels, means, xerr=errs, color=colours)
    for name, v in values.THEIS_PARZEN_MNIST.items():
        ax.axvline(v, ls=":", color="0.3", lw=1)
        ax.text(v, len(labels) - 0.5, f"Theis: {name}", fontsize=6, rotation=90, va="top")
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel(f"Parzen log-density (nats), {LEGACY_LABEL}")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def d_sweep(best: dict[tuple, CellResult], dataset: str, layers: int, hidden: int):
    """One (L, H) column of Table 4 (MNIST) or Table 1 (faces): our Parzen against D for the three models.

    The paper's MNIST values are dashed beside ours; faces get none (Olivetti stands in for TFD, so only
    the ordering of the three models compares)."""
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for kind in KINDS:
        cells = sorted((key[3], r) for key, r in best.items() if key[:3] == (kind, layers, hidden))
        dims = [d for d, _ in cells]
        ax.errorbar(dims, [r.parzen[0]["mean"] for _, r in cells], yerr=[r.parzen[0]["sem"] for _, r in cells],
                    marker="o", capsize=3, color=COLOURS[kind], label=f"{kind} (ours)")
        ref = [values.EVAE_TABLE4.get((kind, d), {}).get((layers, hidden)) for d in dims]
        if dataset == "mnist" and all(ref):
            ax.plot(dims, [r[0] for r in ref], "--", color=COLOURS[kind], alpha=0.6, label=f"{kind} (paper)")
    ax.set(xlabel="latent units D", ylabel="Parzen (nats), legacy metric", title=f"{dataset}, L{layers} H{hidden}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
