"""External memory and composition functions of the MEM-VAE decoder.

C. Li, J. Zhu, B. Zhang, *Learning to Generate with Memory*, ICML 2016, Sec. 3.2-3.3 (docs/protocols.md §2.2).

A decoder layer with memory computes the ordinary generative information h_g (a post-ReLU
DenseBlock output), reads the memory with an attention computed from h_g, and composes the two:

    h_a = f_a(h_g) = sigmoid(A h_g + b_A)      (softmax over slots for VIS-MEM-VAE, Appendix D)
    h_m = M h_a
    h   = f_c(h_g, h_m)                        (ladder-style combinator, or ReLU(h_g + h_m))

Row-vector layout as in the original code: h_g (N, H), C (H, n), M (n, H), so a = sigmoid(h_g C + b)
(N, n) and h_m = a M (N, H).
"""
from __future__ import annotations

import math

import torch
from torch import nn

ATTENTIONS = ("sigmoid", "softmax")


class MemoryLayer(nn.Module):
    """Attention over `n_slots` memory slots of dimension `width`, read out as a weighted sum.

    C ~ Glorot-uniform U(+-sqrt(6 / (H + n))), b = 0, M ~ N(0, 0.01^2) (Lasagne init.Normal).
    """

    def __init__(self, width: int, n_slots: int, attention: str = "sigmoid"):
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f"attention={attention!r} is not one of {ATTENTIONS}")
        if width <= 0 or n_slots <= 0:
            raise ValueError(f"MemoryLayer needs width > 0 and n_slots > 0, got {width}, {n_slots}")
        self.attention_type = attention
        bound = math.sqrt(6.0 / (width + n_slots))
        self.controller = nn.Parameter(torch.empty(width, n_slots).uniform_(-bound, bound))  # C (H, n)
        self.bias = nn.Parameter(torch.zeros(n_slots))  # b_A (n,)
        self.memory = nn.Parameter(torch.randn(n_slots, width) * 0.01)  # M (n, H)

    @property
    def n_slots(self) -> int:
        return self.memory.shape[0]

    def attend(self, h_g: torch.Tensor) -> torch.Tensor:
        """MEM Sec. 3.3: h_a = sigmoid(A h_g + b_A), element-wise, *not* normalised over slots;
        VIS-MEM-VAE (Appendix D): softmax over slots. (N, H) -> (N, n)."""
        logits = h_g @ self.controller + self.bias
        if self.attention_type == "softmax":
            return torch.softmax(logits, dim=-1)
        return torch.sigmoid(logits)

    def read(self, attention: torch.Tensor) -> torch.Tensor:
        """MEM Sec. 3.3: h_m = M h_a, a linear combination of the slots. (N, n) -> (N, H)."""
        return attention @ self.memory

    def forward(self, h_g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (h_m, attention)."""
        attention = self.attend(h_g)
        return self.read(attention), attention


class LadderComposition(nn.Module):
    """The MEM composition function f_c (Sec. 3.3), an element-wise MLP inspired by the Ladder
    Network (the "vanilla combinator" form), with nine per-unit parameter vectors.

    Initialised to the identity on h_g (a2 = c2 = 1, all else 0), so a freshly built MEM-VAE
    computes exactly what the VAE with the same weights computes: out = ReLU(h_g) = h_g.
    """

    NAMES = ("a1", "a2", "a3", "a4", "b1", "c1", "c2", "c3", "c4")

    def __init__(self, width: int):
        super().__init__()
        for name in self.NAMES:
            init = 1.0 if name in ("a2", "c2") else 0.0
            self.register_parameter(name, nn.Parameter(torch.full((width,), init)))

    def forward(self, h_g: torch.Tensor, h_m: torch.Tensor) -> torch.Tensor:
        # Paper (Sec. 3.3):  h = phi(a + b1 * c),  a = a1 + a2*h_m + a3*h_g + a4*h_g*h_m,
        #                    c = sigmoid(c1 + c2*h_m + c3*h_g + c4*h_g*h_m),  init a3 = c3 = 1.
        # The original code swaps indices 2 and 3 (its a2/c2 multiply h_g), same function and
        # same identity init; we follow the code's naming (protocols §2.2):
        #   s   = sigmoid(c1 + c2*h_g + c3*h_m + c4*h_g*h_m)
        #   out = ReLU(a1 + a2*h_g + b1*s + a3*h_m + a4*h_g*h_m)
        gm = h_g * h_m
        s = torch.sigmoid(self.c1 + self.c2 * h_g + self.c3 * h_m + self.c4 * gm)
        return torch.relu(self.a1 + self.a2 * h_g + self.b1 * s + self.a3 * h_m + self.a4 * gm)


class SumComposition(nn.Module):
    """VIS-MEM-VAE composition (`-com_type plus`): out = ReLU(h_g + h_m). The paper writes the plain
    sum h = h_g + h_m (Sec. 3.3); the code adds the ReLU (docs/protocols.md §2.5 E10). No parameters."""

    def __init__(self, width: int | None = None):
        super().__init__()

    def forward(self, h_g: torch.Tensor, h_m: torch.Tensor) -> torch.Tensor:
        return torch.relu(h_g + h_m)


COMPOSITIONS = {"ladder": LadderComposition, "sum": SumComposition}
