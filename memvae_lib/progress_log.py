"""Progress as plain lines, for a log file: what `memvae train > log 2>&1` writes while it trains.

    printer = LinePrinter(10, desc="mem/frey/VAE", unit="epoch", interval=5)
    printer.update(0.5); printer.set_postfix(loss="98.21"); ...; printer.close()

A line comes on an update at least `interval` seconds (MEMVAE_PROGRESS_SECONDS, default 5) after the
previous one, so a long epoch fed minibatch by minibatch still gets one every few seconds; a run
shorter than the interval prints nothing. progress.py decides when lines are wanted.
"""
from __future__ import annotations

import math
import os
import sys
import time
from typing import Callable

SECONDS_ENV = "MEMVAE_PROGRESS_SECONDS"
DEFAULT_SECONDS = 5.0
EPSILON = 1e-6  # fractions of a unit summed to a whole one may fall short of it by a rounding error

_now = time.monotonic  # the clock of progress lines (a test replaces it)


def line_interval() -> float:
    """Seconds between two progress lines: MEMVAE_PROGRESS_SECONDS, default 5."""
    text = os.environ.get(SECONDS_ENV, "").strip()
    if not text:
        return DEFAULT_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{SECONDS_ENV}={text!r} is not a number of seconds > 0 (or unset for {DEFAULT_SECONDS:g})")
    return value


def duration(seconds: float) -> str:
    """'42 s', '3 min 05 s', '2 h 07 min': a time for a log line."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _postfix_text(postfix: dict) -> str:
    return ", ".join(f"{key} {value}" for key, value in postfix.items())


class LinePrinter:
    """Plain progress lines for a log: on an update at least `interval` seconds after the previous
    line (or the start), one line with the unit reached, the postfix (the loss) and the time left;
    on close, a last line if any was printed (a run shorter than `interval` prints nothing).

    `clock` (default `_now`, time.monotonic) and `write` (default: a line to stderr) are injectable
    for tests."""

    def __init__(self, total: float | None, *, initial: float = 0, desc: str | None = None, unit: str = "it",
                 interval: float = DEFAULT_SECONDS, clock: Callable[[], float] | None = None,
                 write: Callable[[str], None] | None = None):
        self.total, self.initial, self.desc, self.unit = total, initial, desc, unit
        self.interval, self.clock = interval, clock if clock is not None else _now
        clock = self.clock
        self.write = write or (lambda line: print(line, file=sys.stderr, flush=True))
        self.n = 0.0  # units done since the start (fractions of a unit included)
        self.postfix: dict = {}
        self.start = self.last = clock()
        self.printed = 0

    def update(self, n: float = 1) -> None:
        self.n += n
        now = self.clock()
        if now - self.last >= self.interval:
            self.write(self.line(now))
            self.last, self.printed = now, self.printed + 1

    def set_postfix(self, **postfix) -> None:
        self.postfix = {key: value for key, value in postfix.items()}

    def line(self, now: float) -> str:
        """'<desc>: epoch 3/10 (24%), loss 98.21, 35 s elapsed, about 1 min 50 s left'."""
        done, elapsed = self.initial + self.n, now - self.start
        parts = [self._position(done)]
        if self.postfix:
            parts.append(_postfix_text(self.postfix))
        parts.append(f"{duration(elapsed)} elapsed")
        if self.total is not None:
            left = (self.total - done) * elapsed / self.n if self.n > 0 else None
            parts.append("time left unknown yet" if left is None else f"about {duration(left)} left")
        return f"{self.desc or 'progress'}: " + ", ".join(parts)

    def _position(self, done: float) -> str:
        if self.total is None:
            return f"{done:g} {self.unit}s"
        current = min(math.floor(done + EPSILON) + 1, int(self.total))  # the unit under way, counted from 1
        percent = 100 * done / self.total if self.total else 100.0
        return f"{self.unit} {current}/{self.total:g} ({percent:.0f}%)"

    def close(self) -> None:
        """A last line ('done at 10/10 epochs, loss 98.21, 1 min 20 s') when any line was printed."""
        if not self.printed:
            return
        done, elapsed = self.initial + self.n, self.clock() - self.start
        finished = self.total is None or done >= self.total - EPSILON
        count = f"{round(done, 3):g}/{self.total:g}" if self.total is not None else f"{round(done, 3):g}"
        extra = f", {_postfix_text(self.postfix)}" if self.postfix else ""
        self.write(f"{self.desc or 'progress'}: {'done' if finished else 'stopped'} at {count} {self.unit}s"
                   f"{extra}, {duration(elapsed)}")
        self.printed = 0
