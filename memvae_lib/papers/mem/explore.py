"""Live controls on a trained MEM-VAE (issue 17): pick a test image and see which memory slots its
reconstruction reads, and switch a layer's memory off to see where the image changes.

Both work at the image's posterior mean z = mu(x), in eval mode (batch norm with the training-set
statistics), one image at a time, so a slider callback never touches the test set.

* Attention (MEM Sec. 3.3): a = sigmoid(h_g C + b) per slot, each in (0, 1) and *not* normalised
  over the slots (the MEM-VAE reads any number of slots at once); softmax for VIS-MEM-VAE
  (Appendix D), whose rows sum to 1.
* Memory off (Appendix C, Fig. 6; `disabling.py`): h_m of the chosen layers replaced by ones (the
  paper) or zeros, still through the learned composition. The difference x_off - x_on shows where
  the memory's contribution lies. A layer without memory has nothing to switch off: it is left as
  it is, so switching it "off" changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from ...estimators._util import evaluation_mode
from ...explore import draw_image, finish_figure, pick_image, posterior_mean
from ...models.mem_vae import MEMORY_OVERRIDES
from .disabling import SWITCHED_OFF


@dataclass
class MemoryReading:
    """What one code reads from each memory."""

    layers: list[int]             # decoder layers with memory, ascending (1 = nearest x)
    attention: list[torch.Tensor]  # per layer, (n_slots,): the attention over its slots
    reconstruction: torch.Tensor  # (D_x,) the decoder mean of the same decoding pass
    z: torch.Tensor               # (D,) the code decoded


@torch.no_grad()
def memory_reading(model, x: torch.Tensor) -> MemoryReading:
    """The attention behind the reconstruction of one test image x (D_x,) or (1, D_x)."""
    if not getattr(model, "memory_layers", None):
        raise ValueError(f"{type(model).__name__} has no memory to read: pick a MEM-VAE (memory_slots > 0)")
    z = posterior_mean(model, x)
    with evaluation_mode(model):
        mean, attentions = model.read_memory(z[None])
    return MemoryReading(model.memory_layers, [a[0].cpu() for a in attentions], mean[0].cpu(), z.cpu())


@dataclass
class MemoryOff:
    """The same codes decoded with memory and with some layers' memory switched off."""

    layers: tuple[int, ...]       # the layers asked to be switched off
    switched: tuple[int, ...]     # those of them that have a memory (the others: nothing to switch)
    on: torch.Tensor              # (N, D_x) decoder means, memory on
    off: torch.Tensor             # (N, D_x) decoder means, memory of `switched` replaced by `value`
    value: str

    @property
    def difference(self) -> torch.Tensor:
        """(N, D_x) x_off - x_on: positive where switching the memory off brightens a pixel."""
        return self.off - self.on


@torch.no_grad()
def memory_off(model, z: torch.Tensor, layers: Sequence[int], value: str = "ones") -> MemoryOff:
    """Decode codes z (N, D) or (D,) with memory and with the memory of `layers` (1 = nearest x)
    replaced by `value` ("ones": the paper's Fig. 6; "zeros"), both in eval mode."""
    n_layers = len(model.config.hidden)
    layers = tuple(layers)
    bad = [layer for layer in layers if isinstance(layer, bool) or layer not in range(1, n_layers + 1)]
    if bad:
        raise ValueError(f"layers={list(layers)}: {bad} not a decoder layer; the model has layers "
                         f"1..{n_layers} (1 = nearest x)")
    if value not in MEMORY_OVERRIDES:
        raise ValueError(f"value={value!r} is not a memory replacement; pick one of {MEMORY_OVERRIDES}")
    z = z.reshape(1, -1) if z.dim() == 1 else z
    switched = tuple(layer for layer in layers if layer in getattr(model, "memory_layers", ()))
    with evaluation_mode(model):
        on = model.decode_mean(z).cpu()
        # a plain VAE's decode_mean takes no override; with nothing to switch off, off is on
        off = model.decode_mean(z, memory_override={layer: value for layer in switched}).cpu() if switched else on
    return MemoryOff(layers, switched, on, off, value)


# ---- drawing ------------------------------------------------------------------------------------
def reading_figure(x, reading: MemoryReading, image_shape=(28, 28), title: str = ""):
    """The input, its reconstruction, and one bar chart per memory layer: the attention over its slots."""
    n = len(reading.layers)
    fig = plt.figure(figsize=(3.0 + 3.6 * n, 2.8))
    grid = fig.add_gridspec(1, 2 + n, width_ratios=[1, 1] + [2.2] * n)
    draw_image(fig.add_subplot(grid[0, 0]), x, image_shape, "test image")
    draw_image(fig.add_subplot(grid[0, 1]), reading.reconstruction, image_shape, "reconstruction\n(posterior mean)")
    for i, (layer, a) in enumerate(zip(reading.layers, reading.attention)):
        ax = fig.add_subplot(grid[0, 2 + i])
        a = a.double().numpy()
        top = np.argsort(-a, kind="stable")[:3]
        ax.bar(np.arange(a.size), a, width=1.0, color=np.where(np.isin(np.arange(a.size), top), "tab:red", "tab:grey"))
        ax.set_ylim(0, 1)
        ax.set_xlabel("slot", fontsize=8)
        ax.set_title(f"layer {layer}{' (nearest x)' if layer == 1 else ''}: {a.size} slots\n"
                     f"sum {a.sum():.2f}; top (red) {', '.join(map(str, top.tolist()))}", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.axes[2].set_ylabel("attention", fontsize=8)
    return finish_figure(fig, title)


def memory_off_figure(x, result: MemoryOff, image_shape=(28, 28), title: str = ""):
    """The input, the image with memory, without, and x_off - x_on as a red/blue heatmap."""
    fig, axes = plt.subplots(1, 4, figsize=(9.5, 2.9), gridspec_kw={"width_ratios": [1, 1, 1, 1.25]})
    names = ", ".join(f"layer {layer}" for layer in result.layers) or "none"
    draw_image(axes[0], x, image_shape, "test image")
    draw_image(axes[1], result.on[0], image_shape, "memory on")
    draw_image(axes[2], result.off[0], image_shape, f"{names} off\n(h_m = {result.value})")
    diff = result.difference[0].double().numpy().reshape(image_shape)
    scale = max(float(np.abs(diff).max()), 1e-3)  # symmetric, so white is "no change"
    im = axes[3].imshow(diff, cmap="RdBu_r", vmin=-scale, vmax=scale, interpolation="nearest")
    axes[3].set_axis_off()
    axes[3].set_title(f"off - on: mean |.| {np.abs(diff).mean():.2g} per pixel", fontsize=9)
    fig.colorbar(im, ax=axes[3], fraction=0.046, pad=0.04).ax.tick_params(labelsize=7)
    if result.layers and not result.switched:
        axes[3].text(0.5, -0.08, "no memory in these layers", transform=axes[3].transAxes, ha="center", fontsize=8)
    return finish_figure(fig, title)


def reading_view(model, images: torch.Tensor, image: int, *, image_shape=(28, 28), title: str = ""):
    """The picker's callback: test image `image` of `images` (N, D_x), its attention per memory."""
    x = pick_image(images, image)
    return reading_figure(x, memory_reading(model, x), image_shape, title)


def memory_off_view(model, images: torch.Tensor, image: int, switched_off: str, value: str = "ones", *,
                    image_shape=(28, 28), title: str = ""):
    """The on/off callback: test image `image`, the layers of `switched_off` (a name of
    `disabling.SWITCHED_OFF`: "layer 1", "layer 2", "both", "none") replaced by `value`."""
    if switched_off not in SWITCHED_OFF:
        raise ValueError(f"switched_off={switched_off!r} is not one of {list(SWITCHED_OFF)}")
    x = pick_image(images, image)
    return memory_off_figure(x, memory_off(model, posterior_mean(model, x), SWITCHED_OFF[switched_off], value),
                             image_shape, title)
