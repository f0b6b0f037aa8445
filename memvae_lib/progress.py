"""Progress bars that stay quiet where nobody watches, and the choice of device.

A bar is shown when MEMVAE_PROGRESS=1, hidden when MEMVAE_PROGRESS=0, and otherwise shown only
when stderr is a terminal: under papermill, nbval or CI it is disabled, so executed notebooks and
logs carry no per-update lines.
"""
from __future__ import annotations

import os
import sys
from typing import Iterable

from tqdm.auto import tqdm

PROGRESS_ENV = "MEMVAE_PROGRESS"


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
