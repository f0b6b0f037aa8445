"""Bitwise-reproducible CPU numerics across x86-64 machines, for the nbval goldens.

A fixed seed gives the same numbers run after run on one machine, but not on another: PyTorch
picks its CPU kernels by the host's instruction set (AVX-512, AVX2, or none), MKL and numpy's
OpenBLAS pick their GEMM code paths the same way, and reductions are split by the number of
threads. The results then differ in the last bits, and a few hundred training steps carry that
into the second decimal of a printed table (CI once counted 43 slots where the golden said 44).
The goldens are therefore recorded and checked under one pinned environment, in which those
choices no longer depend on the host:

    pin_cpu_numerics()      # before any kernel starts: kernels inherit os.environ

`make goldens` (scripts/refresh_goldens.py) and `make test` (tests/goldens/conftest.py) both do.

Pinned smoke runs are about 20% slower. They are cached in a folder of their own (`pinned-cpu`
under the run cache), so a smoke run trained without the pin is never taken for a pinned one.
What the pin cannot cover: another torch version or another architecture (arm64 has no MKL)
computes with other kernels. `numerics_fingerprint` records what the goldens were made with, and
the goldens' pytest run warns when the current one differs.
"""

from __future__ import annotations

import os
import platform
from collections.abc import MutableMapping

PINNED_CPU_ENV = {
    "ATEN_CPU_CAPABILITY": "default",  # PyTorch's plain (non-SIMD-dispatched) CPU kernels
    "MKL_CBWR": "COMPATIBLE",  # MKL's conditional numerical reproducibility: one path on any x86-64
    "OMP_NUM_THREADS": "2",  # reductions split the same way whatever the core count
    "MKL_NUM_THREADS": "2",
    "OPENBLAS_CORETYPE": "Nehalem",  # numpy's OpenBLAS (scikit-learn's k-means): SSE4.2 kernels, any x86-64
    "CUDA_VISIBLE_DEVICES": "",  # device='auto' means the CPU even on a machine with a GPU
}
PINNED_RUNS_SUBDIR = "pinned-cpu"


def pin_cpu_numerics(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Set PINNED_CPU_ENV and point MEMVAE_RUNS_DIR at its own `pinned-cpu` folder in `environ`
    (os.environ by default); returns what was set. Idempotent.

    It acts on processes started afterwards (the papermill and nbval kernels), not on this one:
    torch fixes its kernel choice and thread pools when it is imported, as memvae_lib.runs does.
    """
    from .runs import runs_dir  # the same default location as every other run

    environ = os.environ if environ is None else environ
    runs = runs_dir(environ)
    if runs.name != PINNED_RUNS_SUBDIR:
        runs = runs / PINNED_RUNS_SUBDIR
    pinned = {**PINNED_CPU_ENV, "MEMVAE_RUNS_DIR": str(runs)}
    environ.update(pinned)
    return pinned


def numerics_fingerprint() -> dict[str, str]:
    """What decides the bits of a pinned CPU run beyond the pin itself: torch and the architecture."""
    import torch

    return {"torch": torch.__version__, "machine": platform.machine()}
