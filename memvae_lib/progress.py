"""Progress bars that stay quiet where nobody watches, and the choice of device.

A bar is shown when MEMVAE_PROGRESS=1, hidden when MEMVAE_PROGRESS=0, and otherwise shown only
when stderr is a terminal: under papermill, nbval or CI it is disabled, so executed notebooks and
logs carry no per-update lines.
"""
from __future__ import annotations

import os
import sys
from typing import Iterable

import torch
from tqdm.auto import tqdm

PROGRESS_ENV = "MEMVAE_PROGRESS"
DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:<index>")


def progress_enabled() -> bool:
    """MEMVAE_PROGRESS=1/0 decides; unset, a bar appears only when stderr is a TTY."""
    forced = os.environ.get(PROGRESS_ENV, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    if forced:
        raise ValueError(f"{PROGRESS_ENV}={forced!r} is not one of '0', '1' (or unset)")
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


def progress(iterable: Iterable | None = None, *, total: int | None = None, desc: str | None = None,
             leave: bool = False, enabled: bool | None = None) -> tqdm:
    """A tqdm bar over `iterable` (or a manual one of `total` steps), disabled unless wanted:
    `enabled` True/False decides, None asks `progress_enabled()`."""
    show = progress_enabled() if enabled is None else bool(enabled)
    return tqdm(iterable, total=total, desc=desc, leave=leave, disable=not show, dynamic_ncols=True)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' -> cuda when available, else cpu; 'cpu', 'cuda', 'cuda:1' or a torch.device as given."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(device, str) and (device in ("cpu", "cuda") or
                                    (device.startswith("cuda:") and device[5:].isdigit())):
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device={device!r} but CUDA is not available here; use 'cpu' or 'auto'")
        if device.startswith("cuda:") and int(device[5:]) >= torch.cuda.device_count():
            raise ValueError(f"device={device!r} but this machine has {torch.cuda.device_count()} CUDA "
                             f"device(s); use 'cuda:0' to 'cuda:{torch.cuda.device_count() - 1}', or 'auto'")
        return torch.device(device)
    raise ValueError(f"device={device!r} is not one of {', '.join(DEVICE_CHOICES)}")
