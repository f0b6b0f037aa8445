"""MEM paper (Li, Zhu, Zhang 2016): the notebooks' figures. Each function draws from numbers the
notebook already computed (nothing is trained or scored here) and returns the figure; paper values come
from values.py and are drawn as black diamonds or dashed lines, ours in colour (red = with memory).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from ...plots import image_grid
from . import values
from .scores import TABLE1_PAIRS, gain_curve, mean


def _colour(name: str) -> str:
    return "tab:red" if "MEM" in name else "tab:blue"


def image_panels(panels: Sequence[tuple[str, object]], image_shape=(28, 28), *, nrow: int, columns: int,
                 panel_size=(4.5, 4.5), title: str | None = None):
    """Image grids side by side (`columns` per row): panels = [(title, (n, H*W) images), ...]."""
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(panel_size[0] * columns, panel_size[1] * rows), squeeze=False)
    for ax, (name, images) in zip(axes.flat, panels):
        image_grid(images, image_shape, nrow=nrow, ax=ax, title=name)
    for ax in axes.flat[len(panels):]:
        ax.set_axis_off()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# ---- Table 1 ----------------------------------------------------------------------------------------------

def training_curves(ax, runs: Mapping, dataset: str, k: int, k_curve: int) -> None:
    """Test L_k during training of the baseline and MEM model at k (the first seed of each)."""
    _, base, mem = next(p for p in TABLE1_PAIRS if p[0] == k)
    for model in (base, mem):
        points = [(h["epoch"], h["test_ll"]) for h in runs[dataset, model].history if "test_ll" in h]
        if points:
            ax.plot(*zip(*points), "o-", color=_colour(model),
                    label=f"{model} (paper {values.MEM_TABLE1[dataset][model]:.2f})")
    ax.set(title=f"{dataset}, k = {k}", xlabel="epoch", ylabel=f"test L_{k_curve} (nats)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=7)


def table1_curves(runs: Mapping, datasets: Sequence[str], ks: Sequence[int], k_curve: int, title: str = ""):
    fig, axes = plt.subplots(len(datasets), len(ks), figsize=(4 * len(ks), 3.4 * len(datasets)), squeeze=False)
    for row, ds in zip(axes, datasets):
        for ax, k in zip(row, ks):
            training_curves(ax, runs, ds, k, k_curve)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def k1_pair_over_training(mem_runs: Sequence, base_runs: Sequence, k_curve: int, title: str = "",
                          dataset: str = "mnist"):
    """Left: test L_k of a k = 1 pair during training (first seed); right: MEM-VAE minus VAE at every
    recorded epoch, one line per training seed (scores.gain_curve), the paper's gain dashed."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    training_curves(left, {(dataset, "VAE"): base_runs[0], (dataset, "MEM-VAE"): mem_runs[0]}, dataset, 1, k_curve)
    for i, (m, b) in enumerate(zip(mem_runs, base_runs, strict=True)):
        points = gain_curve(m, b)
        if points:
            right.plot(*zip(*points), "o-", ms=3, color=plt.cm.Reds(0.9 - 0.5 * i / max(1, len(mem_runs) - 1)),
                       label=f"seed {i + 1}")
    paper = values.MEM_TABLE1[dataset]["MEM-VAE"] - values.MEM_TABLE1[dataset]["VAE"]
    right.axhline(paper, color="black", ls="--", lw=1, label=f"paper {paper:+.2f} (3000 epochs)")
    right.axhline(0, color="grey", lw=0.8)
    right.set(title="MEM-VAE - VAE during training", xlabel="epoch", ylabel=f"gain in test L_{k_curve} (nats)")
    right.xaxis.set_major_locator(MaxNLocator(integer=True))
    right.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def gain_bars(gains: Mapping, datasets: Sequence[str]):
    """MEM minus baseline at each k: bars = mean over seeds, dots = each seed, diamonds = the paper."""
    fig, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 3.2), squeeze=False)
    for ax, ds in zip(axes[0], datasets):
        x = np.arange(len(TABLE1_PAIRS))
        ax.bar(x, [mean(gains[ds, k]) for k, _, _ in TABLE1_PAIRS], color="tab:red", alpha=0.6, label="ours (mean)")
        for i, (k, _, _) in enumerate(TABLE1_PAIRS):
            ax.plot([i] * len(gains[ds, k]), [s["mean"] for s in gains[ds, k]], "o", color="darkred", ms=4,
                    label="each seed" if i == 0 else None)
        paper = [values.MEM_TABLE1[ds][m] - values.MEM_TABLE1[ds][b] for _, b, m in TABLE1_PAIRS]
        ax.plot(x, paper, "kD", label="paper")
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xticks(x, [f"k = {k}" for k, _, _ in TABLE1_PAIRS])
        ax.set(ylabel="MEM - baseline (nats)", title=ds)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# ---- Sec. 5.2 ---------------------------------------------------------------------------------------------

def bar_family(ax, title: str, names: Sequence[str], ours: Sequence[float], paper: Sequence[float],
               ylabel: str) -> None:
    """One ablation family: our bars, the paper's diamonds (NaN where the paper has no value)."""
    x = np.arange(len(names))
    bars = ax.bar(x, ours, color=[_colour(n) for n in names], alpha=0.75, label="ours")
    ax.bar_label(bars, fmt="%.1f", fontsize=6, padding=2)
    ax.plot(x, paper, "kD", label="paper")
    both = np.r_[np.asarray(ours, float), np.asarray(paper, float)]
    lo, hi = np.nanmin(both), np.nanmax(both)
    if "nats" in ylabel:
        ax.set_ylim(lo - 0.05 * (hi - lo) - 1, min(0, hi + 0.05 * (hi - lo) + 1))  # bars hang from the top
    elif "%" in ylabel:
        ax.set_ylim(max(0, lo - 3), min(100, hi + 1))
    ax.set_xticks(x, names, rotation=35, ha="right", fontsize=7)
    ax.set(ylabel=ylabel, title=title)
    ax.legend(fontsize=7)


LARGER = ("VAE", "Large-VAE (k=1)", "MEM-VAE", "IWAE-5", "Large-VAE (k=5)", "MEM-IWAE-5", "IWAE-50", "Large-VAE (k=50)",
          "MEM-IWAE-50")
LRE = ("VAE", "VAE + LRE", "MEM-VAE without LRE", "MEM-VAE")


def sec52_families(ll: Mapping[str, float], paper_ll: Mapping[str, float], svm: Mapping[str, float],
                   counts: Mapping[str, int], k_eval: int) -> dict[str, tuple]:
    """The four panels of the Sec. 5.2 figure: {title: (names, ours, paper, ylabel)}; `ll` and `svm` (%)
    are our means over seeds, `counts` exact parameter counts."""
    nats = f"test L_{k_eval} (nats)"
    return {
        "larger baseline (Large-VAE)": (LARGER, [ll[m] for m in LARGER], [paper_ll[m] for m in LARGER], nats),
        "memory vs LRE (k=1)": (LRE, [ll[m] for m in LRE], [paper_ll[m] for m in LRE], nats),
        "SVM probe (Appendix A)": (list(svm), list(svm.values()), [values.MEM_SVM_ACCURACY[m] for m in svm],
                                   "accuracy (%)"),
        "parameter counts (Table 3)": (list(counts), [n / 1000 for n in counts.values()],
                                       [values.MEM_TABLE3_PARAMETERS.get(m, np.nan) for m in counts],
                                       "parameters (thousands)"),
    }


def one_family(title: str, family: tuple):
    fig, ax = plt.subplots(figsize=(6, 4))
    bar_family(ax, title, *family)
    fig.tight_layout()
    return fig


def family_grid(families: Mapping[str, tuple], title: str = ""):
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    for ax, (name, family) in zip(axes.flat, families.items()):
        bar_family(ax, name, *family)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# ---- Table 2 ----------------------------------------------------------------------------------------------

def imputation_curves(chains: Mapping, corruptions: Sequence[str], title: str = ""):
    """MSE per iteration of each model's first-seed chain; dashed: the paper's after 100 iterations."""
    fig, axes = plt.subplots(1, len(corruptions), figsize=(4.4 * len(corruptions), 3.5), squeeze=False)
    for ax, label in zip(axes[0], corruptions):
        for name in ("VAE", "MEM-VAE"):
            mse = chains[name, label][0]["mse_per_iteration"]
            ax.plot(range(1, len(mse) + 1), mse, color=_colour(name), label=name)
            ax.axhline(values.MEM_TABLE2_IMPUTATION[label][name], color=_colour(name), ls="--", lw=1,
                       label=f"{name} (paper, T=100)")
        ax.set(title=label, xlabel="iteration", ylabel="MSE on missing pixels", yscale="log")
    axes[0, 0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def imputation_grids(x_true, chains: Mapping, corruption: str, iteration: int, n_show: int):
    """Fig. 8's panels for one corruption at the stored iteration nearest `iteration` (first seeds'
    chains): the data, the corrupted input, the VAE's and the MEM-VAE's imputations."""
    from .imputation import snapshot

    vae, mem = chains["VAE", corruption][0], chains["MEM-VAE", corruption][0]
    t = min((int(k) for k in vae["snapshots"]), key=lambda k: abs(k - iteration))
    panels = [("(a) data", x_true[:n_show]), (f"(b) input, {corruption}", snapshot(vae, 0)),
              (f"(c) VAE, iteration {t}", snapshot(vae, t)), (f"(d) MEM-VAE, iteration {t}", snapshot(mem, t))]
    return image_panels(panels, nrow=int(np.ceil(np.sqrt(n_show))), columns=4, panel_size=(3.5, 3.8))


# ---- Fig. 3 and Table 4 / Fig. 7 -----------------------------------------------------------------------------

def class_graph(ax, corr: np.ndarray, title: str, layout_seed: int) -> None:
    """Complete graph on the classes; edge weight = corr - global min, scaled to max 5 (the code's plot.py)."""
    import networkx as nx

    upper = np.triu_indices(corr.shape[0], k=1)
    w = corr[upper] - corr[upper].min()
    w = 5 * w / w.max() if w.max() > 0 else w
    graph = nx.Graph()
    graph.add_nodes_from(range(corr.shape[0]))
    graph.add_weighted_edges_from((int(i), int(j), float(v)) for i, j, v in zip(*upper, w))
    pos = nx.spring_layout(graph, weight="weight", seed=layout_seed)
    widths = [graph[u][v]["weight"] for u, v in graph.edges]
    nx.draw_networkx_edges(graph, pos, ax=ax, width=widths, edge_color=widths, edge_cmap=plt.cm.Blues,
                           edge_vmin=0, edge_vmax=5)
    nx.draw_networkx_nodes(graph, pos, ax=ax, node_color="white", edgecolors="black", node_size=300)
    nx.draw_networkx_labels(graph, pos, ax=ax, font_size=10)
    ax.set_title(title)
    ax.set_axis_off()


def preference_heatmap(ax, preference: np.ndarray, title: str, xticks: int = 10) -> None:
    import seaborn as sns

    sns.heatmap(preference, ax=ax, cmap="viridis", yticklabels=list(range(preference.shape[0])), xticklabels=xticks)
    ax.set(title=title, xlabel="slot", ylabel="class")


def preference_figure(preference: np.ndarray, title: str):
    fig, ax = plt.subplots(figsize=(12, 3.2))
    preference_heatmap(ax, preference, title, xticks=5)
    fig.tight_layout()
    return fig


def fig3(stats, layout_seed: int, title: str = ""):
    """Fig. 3: (a-b) class-mean attention of layers 2 and 1, (c-e) class-correlation graphs of layer 2,
    layer 1 and the raw pixels."""
    fig = plt.figure(figsize=(14, 9))
    grid = fig.add_gridspec(2, 30, hspace=0.3, wspace=0.6)
    for layer, cols, tag in ((2, slice(0, 10), "(a)"), (1, slice(11, 30), "(b)")):
        preference_heatmap(fig.add_subplot(grid[0, cols]), stats.preference[layer],
                           f"{tag} layer {layer}: mean normalised attention", xticks=10 if layer == 1 else 5)
    for name, cols, tag in (("layer 2", slice(0, 9), "(c)"), ("layer 1", slice(10, 20), "(d)"),
                            ("raw pixels", slice(20, 30), "(e)")):
        class_graph(fig.add_subplot(grid[1, cols]), stats.correlation[name], f"{tag} {name}", layout_seed)
    if title:
        fig.suptitle(title)
    return fig


def class_preference(stats, digit: int):
    """One class's mean normalised attention over the slots of each layer, against the average class."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 3), gridspec_kw={"width_ratios": [7, 3]})
    for ax, layer in zip(axes, (1, 2)):
        values_ = stats.preference[layer]
        ax.bar(range(values_.shape[1]), values_[digit], color="tab:red")
        ax.step(range(values_.shape[1]), values_.mean(axis=0), where="mid", color="black", lw=1, label="average class")
        ax.set(title=f"class '{digit}', layer {layer}", xlabel="slot", ylabel="mean normalised attention")
        ax.legend(loc="upper right")
    fig.tight_layout()
    return fig


def top_slot_images(preference: np.ndarray, slot_images, digits: Sequence[int], k: int, title: str = ""):
    """Fig. 7: each class's top-k slots (columns = classes), decoded with h_g = 0, with their shares."""
    fig, axes = plt.subplots(k, len(digits), figsize=(1.1 * len(digits) + 1, 1.3 * k + 0.6), squeeze=False)
    for col, c in enumerate(digits):
        for row, s in enumerate(np.argsort(-preference[c], kind="stable")[:k]):
            image_grid(slot_images[s:s + 1], (28, 28), nrow=1, ax=axes[row, col])
            axes[row, col].set_title(f'"{c}" #{s}: {preference[c, s]:.2f}', fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
