"""Checks of a notebook's parameters cell, run before anything is trained or loaded.

A notebook's knobs arrive from its parameters cell, from papermill (`-p n_samples -3`, or a string
where an int belongs), or from a reader's edit. Each notebook names its own knobs and what they
allow; the four every notebook has (profile, device, seed, interactive) are always checked:

    check_parameters(globals(), n_samples=Int(1), override=OneOf("ones", "zeros"))

A bad value raises `ParameterError` naming the knob, the value, what is allowed and where to set it.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass


class ParameterError(ValueError):
    """A notebook parameter that the notebook cannot run with."""


@dataclass(frozen=True)
class Int:
    """An int (not a bool, not a string) in [low, high]."""

    low: int | None = None
    high: int | None = None

    def ok(self, v) -> bool:
        return (isinstance(v, numbers.Integral) and not isinstance(v, bool)
                and (self.low is None or v >= self.low) and (self.high is None or v <= self.high))

    def __str__(self) -> str:
        return "an int" + _range(self.low, self.high)


@dataclass(frozen=True)
class Real:
    """A finite number (int or float, not a bool) in [low, high]; `positive` excludes 0."""

    low: float | None = None
    high: float | None = None
    positive: bool = False

    def ok(self, v) -> bool:
        return (isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
                and (self.low is None or v >= self.low) and (self.high is None or v <= self.high)
                and (not self.positive or v > 0))

    def __str__(self) -> str:
        return "a finite number" + (" > 0" if self.positive else "") + _range(self.low, self.high)


@dataclass(frozen=True)
class Bool:
    def ok(self, v) -> bool:
        return isinstance(v, bool)

    def __str__(self) -> str:
        return "True or False"


class OneOf:
    """One of the listed values."""

    def __init__(self, *choices):
        self.choices = choices

    def ok(self, v) -> bool:
        return any(_same(v, c) for c in self.choices)

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(c) for c in self.choices)


@dataclass(frozen=True)
class ListOf:
    """A non-empty list (or tuple) whose every item passes `item`; `unique` refuses repeats."""

    item: object
    unique: bool = True

    def ok(self, v) -> bool:
        return (isinstance(v, (list, tuple)) and len(v) > 0 and all(self.item.ok(x) for x in v)
                and (not self.unique or len(set(map(repr, v))) == len(v)))

    def __str__(self) -> str:
        return f"a non-empty list of {self.item}" + (", no repeats" if self.unique else "")


@dataclass(frozen=True)
class Optional:
    """None, or a value that passes `inner`."""

    inner: object

    def ok(self, v) -> bool:
        return v is None or self.inner.ok(v)

    def __str__(self) -> str:
        return f"None or {self.inner}"


def _same(v, c) -> bool:
    """Equal and of the same kind: 1 matches 1.0, but True matches neither and '1' is not 1."""
    if isinstance(c, numbers.Real) and not isinstance(c, bool):
        return isinstance(v, numbers.Real) and not isinstance(v, bool) and v == c
    return type(v) is type(c) and v == c


def _range(low, high) -> str:
    if low is not None and high is not None:
        return f" in [{low}, {high}]"
    if low is not None:
        return f" >= {low}"
    if high is not None:
        return f" <= {high}"
    return ""


class _Device:
    """'auto', 'cpu', or a cuda device this machine has."""

    def ok(self, v) -> bool:
        if not isinstance(v, str):
            return False
        from .files import resolve_device

        try:
            resolve_device(v)
        except (ValueError, RuntimeError):
            return False
        return True

    def __str__(self) -> str:
        import torch

        return "'auto', 'cpu'" + (", 'cuda' or 'cuda:N'" if torch.cuda.is_available() else
                                 " ('cuda' needs a GPU, and torch sees none here)")


def _profiles():
    from .profiles import PROFILES

    return OneOf(*sorted(PROFILES))


COMMON = {"profile": _profiles, "device": _Device, "seed": lambda: Int(0), "interactive": Bool}


def check_parameters(namespace: Mapping, **rules) -> None:
    """Check the common knobs and each named one in `namespace` (a notebook's globals()).

    Raises ParameterError for the first knob that is missing or not allowed."""
    for name, rule in [(n, make()) for n, make in COMMON.items()] + list(rules.items()):
        if name not in namespace:
            raise ParameterError(f"notebook parameter {name!r} is not set; define it in the parameters "
                                 "cell (the notebook's first cell)")
        value = namespace[name]
        if not rule.ok(value):
            raise ParameterError(
                f"notebook parameter {name}={value!r} ({type(value).__name__}) is not allowed: expected {rule}; "
                f"set it in the parameters cell, or `papermill -p {name} VALUE` (`-y` for a list)")
