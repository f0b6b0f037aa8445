"""The one set of checks every model config runs in `__post_init__`: each failure is a ValueError
that names the field, its value and what is allowed ("k=0 is invalid: must be an integer >= 1")."""
from __future__ import annotations

LIKELIHOODS = ("bernoulli", "gaussian")


def fail(field: str, value, allowed: str):
    raise ValueError(f"{field}={value!r} is invalid: {allowed}")


def is_int(value, low: int = 1) -> bool:
    """An int (not a bool) >= low."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def lists_to_tuples(config, *names: str) -> None:
    """Accept lists for tuple fields and store tuples, so that a frozen config stays hashable."""
    for name in names:
        if isinstance(getattr(config, name), list):
            object.__setattr__(config, name, tuple(getattr(config, name)))


def check_sizes(config, *names: str) -> None:
    """Each named field is an integer >= 1."""
    for name in names:
        if not is_int(getattr(config, name)):
            fail(name, getattr(config, name), "must be an integer >= 1")


def check_hidden(hidden) -> None:
    """The hidden widths: a non-empty tuple of integers >= 1."""
    if not isinstance(hidden, tuple) or not hidden or not all(is_int(h) for h in hidden):
        fail("hidden", hidden, "must be a non-empty tuple of integers >= 1")


def check_activation(activation) -> None:
    if activation not in ("relu", "tanh"):
        fail("activation", activation, "allowed: 'relu', 'tanh'")


def check_likelihood(likelihood) -> None:
    if likelihood not in LIKELIHOODS:
        fail("likelihood", likelihood, f"allowed: {LIKELIHOODS}")
