"""One switch for `torch.compile` (and, through it, CUDA graphs) on the two hot paths: the training
step's loss and its gradient (`train(compile_mode=...)`: `model.training_terms`, forward and, through
AOTAutograd, backward) and the IW-LL's log-weights (`iw_log_likelihood(compile_mode=...)`).

Why: on a GPU a batch-100 MLP step is a few dozen tiny kernels, so launch overhead, not
arithmetic, sets its time. `"default"` fuses the element-wise work; `"reduce-overhead"` also
records the forward and the backward as CUDA graphs and replays them (two launches instead of
dozens; clipping and Adam stay eager, Adam fused). On a CPU it is a fusion of the element-wise work
at best and costs tens of seconds of compilation per graph, so nothing compiles unless asked:
`None` is every default.

What stays the same: the loss, its gradient and the optimiser are the eager ones; only the
arithmetic's order (and so float rounding) may change. Random numbers are another matter: Inductor
draws the reparameterisation noise with its own generator, so a compiled run is *a* run of the same
spec with other noise, not the eager run's numbers. With `torch._inductor.config.fallback_random =
True` it draws from the eager generator instead, which is how the tests check that a compiled run
equals the eager one to float tolerance (tests/test_compiling.py).

Not compiled: the stacked trainer (`stacked.py` replays recorded noise through Python-side state
inside `vmap`), the optimiser step, the NaN guard and the data pipeline; and the eVAE / mVAE, whose
`training_terms` reads values back to the host (a compiled one would recompile at every step):
they are refused.

Each model class's own method is compiled, not the dtype-casting wrapper every model shares
(`models/base.py`): Dynamo keeps at most `recompile_limit` (8) graphs per code object and then runs
eagerly without an error, so one shared wrapper would fall back to eager after 8 models.
"""
from __future__ import annotations

import importlib.util
import sysconfig
from pathlib import Path
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
    if device.type == "cpu" and (missing := cpu_toolchain_missing()):
        raise RuntimeError(f"compile_mode={mode!r} on the CPU needs {missing}: install it, or pass "
                           "compile_mode=None to run eagerly")


def cpu_toolchain_missing() -> str | None:
    """What Inductor's CPU code generation lacks here (None: nothing): the C++ compiler it looks for
    ($CXX, else g++; torch._inductor.config.cpp.cxx) and Python's C headers, which its kernels include."""
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler
    except ImportError:  # another torch's layout: the first compiled call will say what is missing
        get_cpp_compiler = None
    if get_cpp_compiler is not None:
        try:
            get_cpp_compiler()  # runs `<compiler> --version`
        except Exception:
            return ("the C++ compiler Inductor looks for ($CXX, else g++), which could not be run "
                    "(e.g. apt install g++, or conda install gxx, or set CXX to a C++ compiler)")
    headers = Path(sysconfig.get_paths()["include"], "Python.h")
    if not headers.exists():
        return f"Python's C headers ({headers} is missing; e.g. apt install python3-dev)"
    return None


def compiled(fn: Callable, mode, device: torch.device) -> Callable:
    """`fn` itself when `mode` is None, else `torch.compile(fn, mode=mode)` after the checks above.
    Shapes that vary between calls (the IW-LL's last, smaller chunk) are compiled as dynamic
    after the first recompilation (torch's default)."""
    check_compile_mode(mode)
    if mode is None:
        return fn
    check_toolchain(mode, device)
    return torch.compile(fn, mode=mode)


def compiled_method(model, name: str, mode, device: torch.device) -> Callable:
    """`model.<name>` compiled (`compiled`), unwrapped from the shared dtype-casting wrapper (see the
    module docstring): the callers (`train`, `iw_log_likelihood`) pass inputs already in the
    model's dtype and device. The eVAE / mVAE `training_terms` is refused (module docstring)."""
    from .models.base import LatentVariableModel

    check_compile_mode(mode)
    if mode is None:
        return getattr(model, name)  # eager: exactly what a caller of model.<name> gets
    method = getattr(type(model), name)
    if name == "training_terms" and isinstance(model, LatentVariableModel) and \
            getattr(method, "__wrapped__", method) is LatentVariableModel.training_terms:
        raise ValueError(f"compile_mode={mode!r} cannot compile {type(model).__name__}.training_terms: it is "
                         "LatentVariableModel's, which reads each logged value back to the host (a compiled "
                         "one recompiles every step). Pass compile_mode=None for this model, or give it a "
                         "training_terms that returns tensors only (as VAE's)")
    return compiled(getattr(method, "__wrapped__", method).__get__(model), mode, device)


def step_begin(mode) -> None:
    """Before each training step under a CUDA-graph mode: the step's outputs of the previous replay
    may then be overwritten (train keeps none of them: it reads or copies each one in its step)."""
    if mode in CUDA_GRAPH_MODES:
        torch.compiler.cudagraph_mark_step_begin()
