"""Progress where someone watches it, silence where an output is checked.

    bar = progress(range(1, 11), desc="mem/frey/VAE", unit="epoch")
    for epoch in bar:
        for step in ...: bar.advance_to(step / steps)   # within the epoch
        bar.set_postfix(loss=...)
    bar.close()                    # or: with progress(...) as bar: (closed on an exception too)

`choose_display` decides what a progress() call shows, from MEMVAE_PROGRESS and where the code runs:

- in a Jupyter kernel someone works in (JupyterLab): a notebook bar (tqdm.notebook, ipywidgets),
  replaced by an empty output when it closes, so a saved notebook keeps no dead widget;
- in a kernel nobody watches: nothing, whatever MEMVAE_PROGRESS says. That is a kernel of
  `memvae figures` or `make goldens` (batch.py sets MEMVAE_HEADLESS=1 for them), one whose notebook
  set `interactive = False` (papermill injects it from the profile YAML, and the nbval goldens
  carry that cell), or one on CI ($CI). Executed notebooks and goldens keep their checked outputs;
- on a terminal (stderr a TTY): a tqdm bar;
- MEMVAE_PROGRESS=lines (what `memvae train` / `memvae eval` set when stdout or stderr is not a
  terminal, or runs go to worker processes): a plain line on stderr every MEMVAE_PROGRESS_SECONDS
  (default 5) seconds of a long run, with the unit, the loss and the time left (progress_log.py);
- MEMVAE_PROGRESS=0: nothing; =1: a bar even when stderr is not a terminal; unset (or auto): a bar
  on a terminal, nothing otherwise (a script or pytest stays quiet).

A display never draws random numbers nor touches a tensor: training computes the same numbers
with or without one.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Callable, Iterable

from .progress_log import SECONDS_ENV, LinePrinter, line_interval  # noqa: F401 - SECONDS_ENV for the CLI

PROGRESS_ENV = "MEMVAE_PROGRESS"
HEADLESS_ENV = "MEMVAE_HEADLESS"
NOTEBOOK_DELAY = 1.0  # seconds before a notebook bar appears
SETTINGS = ("0", "1", "lines", "auto")
OFF, TERMINAL, NOTEBOOK, LINES = "off", "terminal", "notebook", "lines"
# the bar's text: a fraction of a unit (an epoch part done) shows as the percentage, not as "2.4/10"
BAR_FORMAT = "{l_bar}{bar}| {n:.0f}/{total_fmt} {unit}s [{elapsed}<{remaining}{postfix}]"


def _setting(value: str | None) -> str:
    value = (value or "").strip().lower() or "auto"
    if value not in SETTINGS:
        raise ValueError(f"{PROGRESS_ENV}={value!r} is not one of {', '.join(repr(s) for s in SETTINGS)} (or unset)")
    return value


def choose_display(setting: str | None, *, in_kernel: bool, headless: bool, tty: bool) -> str:
    """What to show: OFF, TERMINAL (tqdm on stderr), NOTEBOOK (a widget bar) or LINES (plain lines).

    `setting` is MEMVAE_PROGRESS (None or '' for unset), `in_kernel` whether this runs in a Jupyter
    kernel, `headless` whether nobody watches that kernel (papermill, nbval, CI), `tty` whether
    stderr is a terminal. A headless kernel shows nothing even when asked: its outputs are checked."""
    setting = _setting(setting)
    if setting == "0" or (in_kernel and headless):
        return OFF
    if setting == "lines":
        return LINES
    if in_kernel:
        return NOTEBOOK
    return TERMINAL if setting == "1" or tty else OFF


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() not in ("", "0", "false", "no")


def _kernel_shell():
    """The IPython shell of a Jupyter kernel running this code, None elsewhere (a terminal IPython
    has no kernel). IPython is never imported here: a script that did not import it has no kernel."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return shell if getattr(shell, "kernel", None) is not None else None


def _headless(shell) -> bool:
    """Nobody watches this kernel: memvae figures / make goldens (MEMVAE_HEADLESS), a notebook whose
    parameters say interactive = False (papermill and the nbval goldens), or CI."""
    if _truthy(os.environ.get(HEADLESS_ENV)) or _truthy(os.environ.get("CI")):
        return True
    return shell is not None and shell.user_ns.get("interactive") is False


def _stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


def current_display(enabled: bool | None = None) -> str:
    """choose_display for this process now; `enabled` True/False overrides MEMVAE_PROGRESS with 1/0."""
    setting = os.environ.get(PROGRESS_ENV) if enabled is None else ("1" if enabled else "0")
    shell = _kernel_shell()
    return choose_display(setting, in_kernel=shell is not None, headless=_headless(shell), tty=_stderr_is_tty())


class _NotebookBar:
    """tqdm.notebook's widget bar, shown once the task has run NOTEBOOK_DELAY seconds (a quick
    estimate behind a slider leaves no trace) and under a display id, so that closing it replaces
    the widget by an empty output: a notebook saved afterwards holds no widget that no kernel knows."""

    def __init__(self, clock: Callable[[], float] | None = None, **kwargs):
        from tqdm.notebook import tqdm as notebook_tqdm

        self.bar = notebook_tqdm(display=False, **kwargs)
        self.clock = clock if clock is not None else time.monotonic
        self.start, self.handle = self.clock(), None

    def _show_when_due(self) -> None:
        if self.handle is None and self.clock() - self.start >= NOTEBOOK_DELAY:
            from IPython.display import display

            self.handle = display(self.bar.container, display_id=True)
            self.bar.displayed = True

    def update(self, n: float = 1) -> None:
        self.bar.update(n)
        self._show_when_due()

    def set_postfix(self, **postfix) -> None:
        self.bar.set_postfix(**postfix)

    def close(self) -> None:
        self.bar.close()
        if self.handle is not None:
            self.handle.update({"text/plain": ""}, raw=True)
        self.handle = False  # never shown again


class Progress:
    """A progress display over `total` units (epochs, estimator calls) fed by iterating over
    `iterable` (one unit per item, counted when the loop body is done), by update(n), and within a
    unit by advance_to(fraction). What it shows is `display` (see choose_display); OFF shows nothing."""

    def __init__(self, iterable: Iterable | None = None, *, total: float | None = None, initial: float = 0,
                 desc: str | None = None, unit: str = "it", leave: bool = False, display: str = OFF,
                 interval: float | None = None, clock: Callable[[], float] | None = None,
                 write: Callable[[str], None] | None = None):
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = initial + len(iterable)
        self.iterable, self.total, self.display = iterable, total, display
        self._fraction = 0.0  # of the unit under way, already passed on to the display
        self._shown = self._make(display, total=total, initial=initial, desc=desc, unit=unit, leave=leave,
                                 interval=line_interval() if interval is None else interval, clock=clock, write=write)

    @staticmethod
    def _make(display, *, total, initial, desc, unit, leave, interval, clock, write):
        if display == LINES:
            return LinePrinter(total, initial=initial, desc=desc, unit=unit, interval=interval, clock=clock,
                               write=write)
        bar_format = BAR_FORMAT if total else None
        options = dict(total=total, initial=initial, desc=desc, unit=unit, leave=leave, bar_format=bar_format)
        if display == NOTEBOOK:
            try:
                return _NotebookBar(clock=clock, **options)
            except ImportError:  # no ipywidgets in this kernel: lines in the cell's output instead
                return LinePrinter(total, initial=initial, desc=desc, unit=unit, interval=interval, clock=clock,
                                   write=lambda line: print(line, flush=True))
        if display == TERMINAL:
            from tqdm import tqdm

            return tqdm(dynamic_ncols=True, **options)
        return None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:  # an exception in the loop closes the display too
        self.close()

    @property
    def disable(self) -> bool:
        return self._shown is None

    def __iter__(self):
        for item in self.iterable:
            yield item
            self.update(1)

    def update(self, n: float = 1) -> None:
        """`n` more units done (the unit under way, if advance_to moved into it, ends here)."""
        step, self._fraction = n - self._fraction, 0.0
        if self._shown is not None:
            self._shown.update(step)

    def advance_to(self, fraction: float) -> None:
        """The unit under way is `fraction` (0 to 1) done: the display moves, its count does not."""
        fraction = min(max(float(fraction), 0.0), 0.999)
        if fraction > self._fraction:
            step, self._fraction = fraction - self._fraction, fraction
            if self._shown is not None:
                self._shown.update(step)

    def set_postfix(self, **postfix) -> None:
        if self._shown is not None:
            self._shown.set_postfix(**postfix)

    def close(self) -> None:
        if self._shown is not None:
            self._shown.close()
            self._shown = None


def progress(iterable: Iterable | None = None, *, total: float | None = None, initial: float = 0,
             desc: str | None = None, unit: str = "it", leave: bool = False,
             enabled: bool | None = None) -> Progress:
    """A Progress over `iterable` (or a manual one of `total` units) shown as `current_display`
    decides: `enabled` True/False overrides MEMVAE_PROGRESS (a headless kernel stays quiet)."""
    return Progress(iterable, total=total, initial=initial, desc=desc, unit=unit, leave=leave,
                    display=current_display(enabled))
