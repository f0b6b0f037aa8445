"""One switch for `torch.compile` (and, through it, CUDA graphs) on the two hot paths: the training
step's forward pass (`train(compile_mode=...)`) and the IW-LL's log-weights
(`iw_log_likelihood(compile_mode=...)`).

Why: on a GPU a batch-100 MLP step is a few dozen tiny kernels, so launch overhead, not
arithmetic, sets its time. `"default"` fuses the element-wise work; `"reduce-overhead"` also
records the step as a CUDA graph and replays it (one launch). On a CPU it is a fusion of the
element-wise work at best and costs tens of seconds of compilation per graph, so nothing compiles
unless asked: `None` is every default.

What stays the same: the loss, its gradient and the optimiser are the eager ones; only the
arithmetic's order (and so float rounding) may change. Random numbers are another matter: Inductor
draws the reparameterisation noise with its own generator, so a compiled run is *a* run of the same
spec with other noise, not the eager run's numbers. With `torch._inductor.config.fallback_random =
True` it draws from the eager generator instead, which is how the tests check that a compiled run
equals the eager one to float tolerance (tests/test_compiling.py).

Not compiled: the stacked trainer (`stacked.py` replays recorded noise through Python-side state
inside `vmap`), the optimiser step, the NaN guard and the data pipeline.
"""
from __future__ import annotations

import importlib.util
import shutil
from typing import Callable

import torch

COMPILE_MODES = (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
CUDA_GRAPH_MODES = ("reduce-overhead", "max-autotune")  # torch.compile modes that replay CUDA graphs


def check_compile_mode(mode) -> None:
    """A clear error for anything but one of `COMPILE_MODES` (before any work is done)."""
    if mode not in COMPILE_MODES:
        raise ValueError(f"compile_mode={mode!r} is not a torch.compile mode: use one of {list(COMPILE_MODES)} "
                         "(None = eager, the default; 'reduce-overhead' = compiled with CUDA graphs on a GPU)")


def check_toolchain(mode, device: torch.device) -> None:
    """Inductor needs a C++ compiler for CPU tensors and Triton for CUDA ones. Without them the first
    compiled call fails after tracing the whole graph; this says so before any training starts."""
    if mode is None:
        return
    if device.type == "cuda" and importlib.util.find_spec("triton") is None:
        raise RuntimeError(f"compile_mode={mode!r} on {device} needs Triton, which this Python cannot import: "
                           "install the torch build that ships it (pip install triton for your torch), or pass "
                           "compile_mode=None to run eagerly")
    if device.type == "cpu" and not any(shutil.which(c) for c in ("c++", "g++", "clang++", "cl")):
        raise RuntimeError(f"compile_mode={mode!r} on the CPU needs a C++ compiler (c++, g++ or clang++ on PATH) "
                           "and none was found: install one (e.g. apt install g++, or conda install gxx), or pass "
                           "compile_mode=None to run eagerly")


def compiled(fn: Callable, mode, device: torch.device) -> Callable:
    """`fn` itself when `mode` is None, else `torch.compile(fn, mode=mode)` after the checks above.
    Shapes that vary between calls (the IW-LL's last, smaller chunk) are compiled as dynamic
    after the first recompilation (torch's default)."""
    check_compile_mode(mode)
    if mode is None:
        return fn
    check_toolchain(mode, device)
    return torch.compile(fn, mode=mode)


def step_begin(mode) -> None:
    """Before each training step under a CUDA-graph mode: the step's outputs of the previous replay
    may then be overwritten (train keeps none of them: it reads or copies each one in its step)."""
    if mode in CUDA_GRAPH_MODES:
        torch.compiler.cudagraph_mark_step_begin()
