"""Live controls on a trained model (issue 17): pick a test image, move one latent coordinate and
watch the decoded image change. Model-agnostic (any `LatentVariableModel`); the MEM-VAE's memory
and the eVAE's epitomes have their own modules (`papers/mem/explore.py`, `papers/evae/explore.py`).

Every function here encodes or decodes one image or a small grid, never the test set, so that a
slider callback redraws in well under a second on a laptop CPU. The computing functions return
tensors (tested); the `*_view` functions compute and draw, returning a matplotlib figure for
`widgets.slider_figure`.

A traversal keeps the latent code z at a test image's posterior mean and sets one unit u to each of
a few values: z_v = mu(x) with z_v[u] = v. At v = mu(x)[u] it is the image's plain reconstruction.
Values are absolute (the prior is N(0, 1), so [-3, 3] spans it), not offsets from mu(x)[u].
"""
from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch

from .estimators._util import evaluation_mode, model_device, model_dtype
from .plots import image_grid

SPAN = 3.0           # the strip covers z_u in [-SPAN, SPAN]: +-3 prior standard deviations
STRIP_VALUES = 9     # images in the strip (one decoder batch with the reconstruction and the slider's value)


def check_index(name: str, value, n: int, what: str) -> int:
    """`value` as an int in 0..n-1, or a ValueError naming the value, the range and the fix."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name}={value!r} is not an integer index; pick {name} in 0..{n - 1} ({what})")
    if not 0 <= value < n:
        raise ValueError(f"{name}={value} is out of range: {what} has {n}, so {name} must be in 0..{n - 1}")
    return int(value)


def pick_image(images: torch.Tensor, index: int) -> torch.Tensor:
    """Row `index` of (N, D_x) images as a (1, D_x) batch (a picker's one image)."""
    if images.dim() != 2:
        raise ValueError(f"images must be (N, D_x), got shape {tuple(images.shape)}")
    return images[check_index("image", index, images.shape[0], "the test images shown") : index + 1]


def _batch(model, x: torch.Tensor) -> torch.Tensor:
    """One image (D_x,) or (1, D_x) as a (1, D_x) batch on the model's device and dtype."""
    x = x.reshape(1, -1) if x.dim() == 1 else x
    if x.shape[0] != 1:
        raise ValueError(f"one image at a time: got a batch of {x.shape[0]}; pick one with pick_image")
    return x.to(device=model_device(model), dtype=model_dtype(model))


def strip_values(n: int = STRIP_VALUES, span: float = SPAN) -> torch.Tensor:
    """n evenly spaced values in [-span, span], (n,) float64."""
    return torch.linspace(-span, span, n, dtype=torch.float64)


@dataclass
class Traversal:
    """One unit of one latent code set to each of `values`, decoded."""

    unit: int                     # the latent unit moved (index into z)
    values: torch.Tensor          # (V,) the values given to it
    base: torch.Tensor            # (D,) the code the others stay at (the posterior mean)
    codes: torch.Tensor           # (V, D) the codes decoded: base with codes[:, unit] = values
    images: torch.Tensor          # (V, D_x) decoder means of codes
    reconstruction: torch.Tensor  # (D_x,) decoder mean of base, from the same decoder batch

    @property
    def base_value(self) -> float:
        """The unit's value in the base code: where the traversal passes the reconstruction."""
        return float(self.base[self.unit])


@torch.no_grad()
def traverse(model, base: torch.Tensor, unit: int, values) -> Traversal:
    """Decode `base` (D,) with unit `unit` set to each of `values`, in eval mode (batch norm with
    its training-set statistics: a one-image batch must not normalise by itself). The base code
    is decoded in the same batch, so the traversal at the base value equals the reconstruction."""
    base = base.reshape(-1)
    unit = check_index("unit", unit, base.shape[0], f"the latent code (latent_dim={base.shape[0]}) units")
    values = torch.as_tensor(values, dtype=base.dtype, device=base.device).reshape(-1)   # (V,)
    codes = base.repeat(values.shape[0], 1)                                               # (V, D)
    codes[:, unit] = values
    with evaluation_mode(model):
        decoded = model.decode_mean(torch.cat([base[None], codes])).cpu()                 # (1 + V, D_x)
    return Traversal(unit, values.cpu(), base.cpu(), codes.cpu(), decoded[1:], decoded[0])


@torch.no_grad()
def posterior_mean(model, x: torch.Tensor) -> torch.Tensor:
    """The posterior mean of one image, (D,) (eVAE: m_{y*} * mu(x), zero outside its epitome)."""
    with evaluation_mode(model):
        return model.posterior_mean(_batch(model, x))[0]


def posterior_traversal(model, x: torch.Tensor, unit: int, values) -> Traversal:
    """`traverse` from the posterior mean of one test image x (D_x,) or (1, D_x)."""
    return traverse(model, posterior_mean(model, x), unit, values)


# ---- drawing ------------------------------------------------------------------------------------
def draw_image(ax, image, image_shape, title: str) -> None:
    """One flat image (D_x,) or (1, D_x) on `ax`, grey in [0, 1], with a small title."""
    image_grid(np.asarray(image, dtype=np.float64).reshape(1, -1), image_shape, nrow=1, ax=ax, pad=0)
    ax.set_title(title, fontsize=8)


def _strip(ax, strip: Traversal, image_shape) -> None:
    """The strip's images in one row, each labelled with its value of the unit."""
    image_grid(strip.images, image_shape, nrow=len(strip.values), ax=ax, pad=1)
    ax.set_axis_on()
    ax.set_xticks(1 + (image_shape[1] + 1) * np.arange(len(strip.values)) + image_shape[1] / 2)
    ax.set_xticklabels([f"{t:.2g}" for t in strip.values.tolist()], fontsize=7)
    ax.set_yticks([])
    change = float((strip.images - strip.reconstruction).abs().mean())
    ax.set_xlabel(f"$z_{{{strip.unit}}}$ over the strip (posterior mean {strip.base_value:.2f}; "
                  f"mean |change| from the reconstruction {change:.3f} per pixel)", fontsize=8)


def finish_figure(fig, title: str = ""):
    """The title above the panels (when there is one) and a tight layout; returns fig."""
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def traversal_figure(x, rows, image_shape=(28, 28), title: str = ""):
    """One row per model, rows = {name: (strip, at_value)} (`at_value` holds the slider's one
    value): the test image (first row), the reconstruction, the image at the slider's value, and
    the strip over [-SPAN, SPAN]."""
    fig = plt.figure(figsize=(12.5, 2.0 * len(rows) + 0.5))
    grid = fig.add_gridspec(len(rows), 4, width_ratios=[1, 1, 1, STRIP_VALUES * 1.05])
    for r, (name, (strip, at_value)) in enumerate(rows.items()):
        u = strip.unit
        if r == 0:
            draw_image(fig.add_subplot(grid[r, 0]), x, image_shape, "test image")
        draw_image(fig.add_subplot(grid[r, 1]), strip.reconstruction, image_shape,
                   f"{name}\nreconstruction" if name else "reconstruction")
        draw_image(fig.add_subplot(grid[r, 2]), at_value.images[0], image_shape,
                   f"$z_{{{u}}}$ = {float(at_value.values[0]):.2f}\n(others kept)")
        _strip(fig.add_subplot(grid[r, 3]), strip, image_shape)
    return finish_figure(fig, title)


def traversals(model, base: torch.Tensor, unit: int, value: float) -> tuple[Traversal, Traversal]:
    """(the strip over [-SPAN, SPAN], the slider's one value) from the same base code."""
    return traverse(model, base, unit, strip_values()), traverse(model, base, unit, [value])


def traversal_view(models, images: torch.Tensor, image: int, unit: int, value: float, *,
                   image_shape=(28, 28), title: str = ""):
    """The slider callback: test image `image` of `images` (N, D_x), unit `unit` of each model's
    posterior mean at `value` and over the strip. `models`: one model or {name: model} (one row
    each). Per model one encoder pass and two decoder batches (STRIP_VALUES + 1 and 2 codes)."""
    models = models if isinstance(models, dict) else {"": models}
    x = pick_image(images, image)
    rows = {name: traversals(m, posterior_mean(m, x), unit, value) for name, m in models.items()}
    return traversal_figure(x, rows, image_shape, title)
