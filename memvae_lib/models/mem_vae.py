"""MEM-VAE / MEM-IWAE: a VAE whose decoder layers read an external memory (docs/protocols.md §2).

C. Li, J. Zhu, B. Zhang, *Learning to Generate with Memory*, ICML 2016.

Each decoder hidden layer l with memory_slots[l-1] > 0 (layer 1 nearest x, the paper's numbering):
    h_g = ReLU(gamma * BN(W h_in + b) + beta)         the VAE's DenseBlock, unchanged
    h_m, a = MemoryLayer(h_g)                         a = sigmoid(h_g C + b) (or softmax), h_m = a M
    h   = composition(h_g, h_m)                       ladder (identity at init) or ReLU(h_g + h_m)
The recognition net has no memory ("asymmetric"). With the identity-initialised ladder a fresh
MEM-VAE computes exactly the VAE with the same weights. Training adds the local reconstruction
error (MEM eq. in Sec. 4, §2.3) via `lre_weights`, inherited from `VAE`. The subclass overrides
only the decoder: the memory read-out, and `memory_override` (E9) that replaces it.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..memory import ATTENTIONS, COMPOSITIONS, MemoryLayer
from ._checks import fail, is_int, lists_to_tuples
from .vae import VAE, VAEConfig


@dataclass(frozen=True)
class MemVAEConfig(VAEConfig):
    # memory
    memory_slots: tuple[int, ...] = (70, 30)  # per hidden layer (layer 1 nearest x = DEC_DENSE1 = 70 slots; layer 2 nearest z = 30); 0 = no memory on that layer
    attention: str = "sigmoid"             # "sigmoid" (MEM) | "softmax" (VIS-MEM-VAE)
    composition: str = "ladder"            # "ladder" (identity-initialised) | "sum" (ReLU(h_g + h_m), VIS-MEM-VAE)
    lre_weights: tuple[float, ...] = (0.1, 0.1)

    def __post_init__(self):
        lists_to_tuples(self, "memory_slots")
        super().__post_init__()
        slots = self.memory_slots
        if not isinstance(slots, tuple) or len(slots) != len(self.hidden) or not all(is_int(n, 0) for n in slots):
            fail("memory_slots", slots, f"must be a tuple of {len(self.hidden)} integers >= 0, "
                 "one per hidden layer (layer 1 nearest x)")
        if self.attention not in ATTENTIONS:
            fail("attention", self.attention, f"allowed: {ATTENTIONS}")
        if self.composition not in COMPOSITIONS:
            fail("composition", self.composition, f"allowed: {tuple(COMPOSITIONS)}")

    def describe(self) -> str:
        return (f"{super().describe()}, memory {self.memory_slots} slots, "
                f"{self.attention} attention, {self.composition} composition")


MEMORY_OVERRIDES = ("ones", "zeros")


class MemVAE(VAE):
    """The VAE of `VAEConfig` plus a memory and a composition on each decoder layer with slots."""

    def __init__(self, config: MemVAEConfig):
        super().__init__(config)  # the VAE weights are drawn first: same seed, same shared weights
        self.memories = nn.ModuleDict()
        self.compositions = nn.ModuleDict()
        for layer, (width, n_slots) in enumerate(zip(config.hidden, config.memory_slots), start=1):
            if n_slots > 0:
                self.memories[str(layer)] = MemoryLayer(width, n_slots, config.attention)
                self.compositions[str(layer)] = COMPOSITIONS[config.composition](width)

    @property
    def memory_layers(self) -> list[int]:
        """Indices of the decoder layers with memory (1 = nearest x), ascending."""
        return sorted(int(key) for key in self.memories)

    # ---- the decoder with memory ----------------------------------------------------------------
    def _decode(self, h: torch.Tensor, top_layer: int | None = None, output: bool = True,
                memory_override: dict | None = None):
        """`VAE._decode` with each memory layer composed, h = f(h_g, h_m), and h_m replaced where
        memory_override says so. Returns (output-head tensors or None, hidden output per layer,
        attention per layer (None where no memory was read)), layer 1 first."""
        memory_override = dict(memory_override or {})
        n_layers = len(self.config.hidden)
        unknown = set(memory_override) - set(range(1, n_layers + 1))
        if unknown:
            raise ValueError(f"memory_override layers {sorted(unknown)} not in 1..{n_layers}")
        hiddens, attentions = [], []
        for layer in range(n_layers if top_layer is None else top_layer, 0, -1):
            h, attention = self._compose(layer, self._decoder_block(layer)(h), memory_override.get(layer))
            hiddens.insert(0, h)
            attentions.insert(0, attention)
        return (self._output(h) if output else None), hiddens, attentions

    def _compose(self, layer: int, h_g: torch.Tensor, override=None):
        """Decoder layer `layer` (1 = nearest x) after its dense block: (output, attention or None)."""
        key = str(layer)
        if key not in self.memories:
            if override is not None:
                raise ValueError(f"memory_override names layer {layer}, which has no memory")
            return h_g, None
        if override is None:
            h_m, attention = self.memories[key](h_g)  # a = sigmoid(h_g C + b) (or softmax), h_m = a M
        else:
            # E9: a disabled memory still passes through the learned composition
            h_m, attention = self._replacement(override, h_g), None
        return self.compositions[key](h_g, h_m), attention  # h = f(h_g, h_m)

    @staticmethod
    def _replacement(override, h_g: torch.Tensor) -> torch.Tensor:
        if isinstance(override, torch.Tensor):
            return override.to(h_g).expand_as(h_g)
        if override == "ones":
            return torch.ones_like(h_g)
        if override == "zeros":
            return torch.zeros_like(h_g)
        raise ValueError(f"memory_override value {override!r} is not one of {MEMORY_OVERRIDES} or a tensor")

    def decode_mean(self, z: torch.Tensor, memory_override: dict | None = None) -> torch.Tensor:
        """Bernoulli probabilities (unclipped sigmoid) or Gaussian means, (N, D_x).
        memory_override: {layer: "ones" | "zeros" | tensor} replaces that layer's h_m (E9, Fig. 6)."""
        return self._mean(self._decode(z, memory_override=memory_override)[0])

    @torch.no_grad()
    def read_memory(self, z: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Decoder means (N, D_x) of codes z and the attention of each memory layer behind them
        (layer 1 first), (N, n_slots) each: what an image read from the memory, for a given z
        (`papers.mem.explore`: the posterior mean of a test image). Current BN mode."""
        out, _, attentions = self._decode(z)
        return self._mean(out), [a for a in attentions if a is not None]

    # ---- E5, E10 ----------------------------------------------------------------------------------
    @torch.no_grad()
    def attention(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Attention of each memory layer (layer 1 first), (B, n_slots) each, for one z ~ q(z|x)
        per example (E5). Uses the current BN mode: call `eval()` for the deterministic decoder."""
        _, _, attentions = self._decode(self.sample_posterior(x), output=False)
        return [a for a in attentions if a is not None]

    @torch.no_grad()
    def slot_images(self, layer: int = 1) -> torch.Tensor:
        """E10 (`visualization_mem`): one image per slot of layer `layer`'s memory, (n_slots, D_x).

        The attention is one-hot on the slot, h_g := 0 at that layer, and decoding continues through
        the layers below (current BN mode; call `eval()` first). For the sum composition at layer 1
        this is sigmoid(W_x ReLU(M1[k]) + b_x)."""
        if str(layer) not in self.memories:
            raise ValueError(f"layer={layer} has no memory; memory layers: {self.memory_layers}")
        memory = self.memories[str(layer)]
        h_m = memory.read(torch.eye(memory.n_slots, device=self.device, dtype=self.dtype))  # (n, H)
        h = self.compositions[str(layer)](torch.zeros_like(h_m), h_m)
        out, _, _ = self._decode(h, top_layer=layer - 1)
        return self._mean(out)
