"""Figure helpers shared by the notebooks: image grids and deterministic saving."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from .files import default_figures_dir


def image_grid(images, image_shape, nrow: int, ax=None, title: str | None = None,
               pad: int = 1, vmin: float = 0.0, vmax: float = 1.0):
    """Tile flat images (N, D) into one grayscale picture, `nrow` images per row.

    `image_shape` is (height, width) with height * width == D (e.g. (28, 28) for MNIST,
    (28, 20) for Frey). Accepts numpy arrays or (CPU or GPU) tensors. Returns the axes.
    """
    if hasattr(images, "detach"):
        images = images.detach().cpu().numpy()
    images = np.asarray(images, dtype=np.float64)
    h, w = image_shape
    assert images.ndim == 2 and images.shape[1] == h * w, \
        f"expected images of shape (N, {h * w}) for image_shape {tuple(image_shape)}, got {images.shape}"
    n = images.shape[0]
    ncol = int(nrow)
    nrows = -(-n // ncol)
    canvas = np.full((nrows * (h + pad) + pad, ncol * (w + pad) + pad), vmax)  # padding drawn white
    for i, img in enumerate(images.reshape(n, h, w)):
        r, c = divmod(i, ncol)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        canvas[top:top + h, left:left + w] = img
    if ax is None:
        _, ax = plt.subplots(figsize=(max(2.0, ncol * w / 28), max(2.0, nrows * h / 28)))
    ax.imshow(canvas, cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def save_figure(fig, path_stem: str | os.PathLike, dpi: int = 120) -> list[Path]:
    """Write `<path_stem>.png` (dpi 120) and `<path_stem>.pdf`; returns both paths.

    A relative stem such as 'mem/fig3_memory_ablation' goes under the figures folder
    ($MEMVAE_FIGURES_DIR or <root>/figures). No timestamps are embedded, so re-running an
    unchanged notebook rewrites byte-identical files.
    """
    stem = Path(path_stem)
    if not stem.is_absolute():
        stem = default_figures_dir() / stem
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, pdf = stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".pdf")
    fig.savefig(png, dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    fig.savefig(pdf, bbox_inches="tight", metadata={"CreationDate": None, "Creator": None, "Producer": None})
    return [png, pdf]
