"""Live controls on a trained epitomic VAE (issue 17): pick a test image and see which epitome
explains it and with which units; move one of that epitome's units and watch the image change.

An eVAE explains x with the K units of one epitome y* = argmin_y C(x, y) (Algorithm 1, §3.5), the
cost of each epitome being C(x, y) = -log p(x | y, z = m_y * mu(x)) + sum_{d in y} KL_d. Its
posterior mean is m_{y*} * mu(x): the other D - K units are exactly 0 and the decoder sees only
the epitome (eq. 5). A traversal of epitome y therefore moves one of its K units and keeps the
others at m_y * mu(x), so every unit outside the epitome stays 0.
"""
from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.ticker import MaxNLocator

from ...estimators._util import evaluation_mode, model_device, model_dtype
from ...explore import (Traversal, check_index, draw_image, finish_figure, pick_image, strip_values, traversal_figure,
                        traverse)
from ...objectives import kl_standard_normal


@dataclass
class EpitomeChoice:
    """Which epitome explains one image, and its units there."""

    costs: torch.Tensor           # (E,) C(x, y) of every epitome (without the constant log E)
    epitome: int                  # y* = argmin_y C(x, y)
    units: torch.Tensor           # (K,) long: the latent units of y*
    means: torch.Tensor           # (K,) mu(x) on those units (the posterior mean there)
    kl: torch.Tensor              # (K,) KL(q(z_d|x) || N(0, 1)) on those units, nats
    reconstruction: torch.Tensor  # (D_x,) decoder mean of m_{y*} * mu(x)


def _one(model, x: torch.Tensor) -> torch.Tensor:
    x = x.reshape(1, -1) if x.dim() == 1 else x
    if x.shape[0] != 1:
        raise ValueError(f"one image at a time: got a batch of {x.shape[0]}; pick one with pick_image")
    return x.to(device=model_device(model), dtype=model_dtype(model))


@torch.no_grad()
def epitome_choice(model, x: torch.Tensor) -> EpitomeChoice:
    """The picker: C(x, y) for every epitome (E decoder passes for one image), y*, and y*'s units."""
    x = _one(model, x)
    with evaluation_mode(model):
        costs = model.epitome_costs(x)[0]                                   # (E,)
        y = int(costs.argmin())
        mu, phi = model.encode(x)                                           # (1, D) each
        units = model.active_units[y]                                       # (K,)
        base = model.masks[y].to(mu.dtype) * mu[0]                          # m_{y*} * mu, (D,)
        reconstruction = model.decode_mean(base[None])[0]
    return EpitomeChoice(costs.cpu(), y, units.cpu(), mu[0, units].cpu(),
                         kl_standard_normal(mu, phi)[0, units].cpu(), reconstruction.cpu())


def _epitome(model, epitome) -> int:
    return check_index("epitome", epitome, model.num_epitomes, f"the eVAE's epitomes (E={model.num_epitomes})")


@torch.no_grad()
def epitome_base(model, x: torch.Tensor, epitome: int | None = None) -> tuple[int, torch.Tensor]:
    """(y, m_y * mu(x) as a (D,) code): the posterior mean under epitome y; y = y* when None."""
    x = _one(model, x)
    with evaluation_mode(model):
        y = int(model.assign_epitomes(x)[0]) if epitome is None else _epitome(model, epitome)
        mu, _ = model.encode(x)
        return y, model.masks[y].to(mu.dtype) * mu[0]


def epitome_unit(model, epitome: int, unit: int) -> int:
    """The latent index of the `unit`-th (0..K-1) unit of `epitome`."""
    y, K = _epitome(model, epitome), model.active_units.shape[1]
    k = check_index("unit", unit, K, f"epitome {y}'s units (K={K}; unit counts within the epitome)")
    return int(model.active_units[y, k])


def epitome_traversal(model, x: torch.Tensor, unit: int, values, epitome: int | None = None) -> Traversal:
    """Move the `unit`-th of the K units of `epitome` (default y* of x) over `values`, the other
    units at m_y * mu(x): everything outside the epitome stays 0."""
    y, base = epitome_base(model, x, epitome)
    return traverse(model, base, epitome_unit(model, y, unit), values)


# ---- drawing ------------------------------------------------------------------------------------
def choice_figure(x, choice: EpitomeChoice, image_shape=(28, 28), title: str = ""):
    """The input, its reconstruction, C(x, y) per epitome (y* in orange), y*'s units' mu and KL."""
    fig, axes = plt.subplots(1, 4, figsize=(11, 2.8), gridspec_kw={"width_ratios": [1, 1, 2.6, 1.6]})
    draw_image(axes[0], x, image_shape, "test image")
    draw_image(axes[1], choice.reconstruction, image_shape, f"reconstruction\n(epitome y* = {choice.epitome})")
    costs = choice.costs.double().numpy()
    E = costs.size
    axes[2].bar(np.arange(E), costs - costs.min(), color=np.where(np.arange(E) == choice.epitome, "C1", "C7"))
    axes[2].plot([choice.epitome], [0], "^", color="C1", ms=8, clip_on=False)  # its bar has height 0
    axes[2].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[2].set_xlabel("epitome y", fontsize=8)
    axes[2].set_ylabel("C(x, y) - C(x, y*) (nats)", fontsize=8)
    axes[2].set_title(f"cost of each epitome above the lowest; y* = {choice.epitome} (orange)", fontsize=8)
    units = [str(u) for u in choice.units.tolist()]
    pos = np.arange(len(units))
    axes[3].bar(pos - 0.2, choice.means.double().numpy(), 0.4, label="posterior mean $\\mu_d$")
    axes[3].bar(pos + 0.2, choice.kl.double().numpy(), 0.4, label="KL$_d$ (nats)")
    axes[3].axhline(0, color="k", lw=0.5)
    axes[3].set_xticks(pos, units)
    axes[3].set_xlabel(f"unit d of epitome {choice.epitome}", fontsize=8)
    axes[3].set_title("its active units (all others 0)", fontsize=8)
    axes[3].legend(fontsize=6)
    for ax in axes[2:]:
        ax.tick_params(labelsize=7)
    return finish_figure(fig, title)


def choice_view(model, images: torch.Tensor, image: int, *, image_shape=(28, 28), title: str = ""):
    """The picker's callback: test image `image` of `images` (N, D_x), its epitome and units."""
    x = pick_image(images, image)
    return choice_figure(x, epitome_choice(model, x), image_shape, title)


def epitome_traversal_view(model, images: torch.Tensor, image: int, unit: int, value: float, epitome="y*", *,
                           image_shape=(28, 28), title: str = ""):
    """The traversal's callback: the `unit`-th unit (0..K-1) of `epitome` ("y*": the image's own,
    or an index 0..E-1) of test image `image`, at `value` and over the strip."""
    x = pick_image(images, image)
    chosen = None if epitome == "y*" else epitome
    y, base = epitome_base(model, x, chosen)
    d = epitome_unit(model, y, unit)
    rows = {f"epitome {y}{' (y*)' if chosen is None else ''}":
            (traverse(model, base, d, strip_values()), traverse(model, base, d, [value]))}
    units = ", ".join(map(str, model.active_units[y].tolist()))
    return traversal_figure(x, rows, image_shape, title or f"epitome {y} has units {units}; the other units stay 0")
