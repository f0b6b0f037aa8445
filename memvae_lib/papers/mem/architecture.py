"""MEM paper (Li, Zhu, Zhang 2016), Appendix B Table 3: the parameter counts of the networks, counted
on freshly built models of the named experiments (docs/protocols.md §2.5 E3: weights, biases and
batch-norm gamma/beta; never the batch-norm statistics). A budget never changes a model's definition,
so the counts are the same at every profile.
"""
from __future__ import annotations

from ...experiments import run_spec
from ...models import build_model
from ...nets import count_parameters

TABLE3 = {  # the paper's row -> the experiment whose network it is
    "MNIST-500-500-100": "mem/mnist/VAE",
    "MNIST-530-530-100": "mem/mnist/Large-VAE-k1",
    "MNIST-500-500-100-MEM": "mem/mnist/MEM-VAE",
    "OCR-letters-200-200-50": "mem/ocr_letters/VAE",
    "OCR-letters-200-200-50-MEM": "mem/ocr_letters/MEM-VAE",
}
EXTRA = {"Frey-200-10": "mem/frey/VAE-b100", "Frey-200-10-MEM": "mem/frey/MEM-VAE-b100"}  # not in the paper


def parameter_counts(profile: str = "smoke", *, extra: bool = False) -> dict[str, int]:
    """{Table 3 row: exact parameter count}, with the Frey networks (not in Table 3) when `extra`."""
    rows = {**TABLE3, **(EXTRA if extra else {})}
    return {row: count_parameters(build_model(run_spec(name, profile).model)) for row, name in rows.items()}
