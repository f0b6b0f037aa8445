"""Compute profiles: smoke (seconds, CI), laptop (the default, a 2-core CPU), paper (a GPU).

A profile is only a name and its numerics; what it buys is each paper's own budget
(`memvae_lib.papers.<paper>.budget.BUDGETS`, one `Budget` subclass per paper), so adding a paper
adds its budget beside its models and touches nothing here.

    budget = papers.mem.budget("laptop")   ->  MemBudget(profile="laptop", epochs=5, ...)
    budget.name, budget.dtype, budget.seeds
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    # float64 makes a run's numbers independent of the CPU that computed them: kernels chosen by
    # instruction set (AVX-512, AVX2, none), MKL's code paths and thread counts differ in the last
    # bits, ~1e-16 relative in float64 against ~1e-7 in float32, and a few hundred training steps
    # amplify that into printed digits only in float32. The smoke profile (the nbval goldens) uses it.
    dtype: str = "float32"
    description: str = ""


PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", dtype="float64", description="seconds per notebook: CI and the nbval goldens"),
    "laptop": Profile("laptop", description="the default: real data, the whole collection within an hour on a 2-core CPU"),
    "paper": Profile("paper", description="the papers' settings, for a GPU"),
}


def get_profile(profile: str | Profile) -> Profile:
    """The Profile named `profile` (a Profile or a Budget passes through as its profile)."""
    if isinstance(profile, Profile):
        return profile
    name = getattr(profile, "profile", profile)  # a Budget
    if not isinstance(name, str) or name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}: use one of {', '.join(sorted(PROFILES))}")
    return PROFILES[name]


@dataclass(frozen=True, kw_only=True)
class Budget:
    """What one profile spends on one paper. Each paper subclasses it with its own fields."""

    profile: str       # smoke | laptop | paper
    # Training seeds of every model a claim compares: the claims checks judge a difference against
    # the spread over these seeds (memvae_lib.claims), not only against the test-set standard error.
    seeds: int = 1

    def __post_init__(self):
        get_profile(self.profile)
        if isinstance(self.seeds, bool) or not isinstance(self.seeds, int) or self.seeds < 1:
            raise ValueError(f"{type(self).__name__}.seeds={self.seeds!r} is not allowed; expected an int >= 1")

    @property
    def name(self) -> str:
        return self.profile

    @property
    def dtype(self) -> str:
        return PROFILES[self.profile].dtype


def budget_of(budgets: dict[str, Budget], profile) -> Budget:
    """`budgets[profile]` for a profile name, Profile or Budget (returned as is)."""
    if isinstance(profile, Budget):
        return profile
    return budgets[get_profile(profile).name]
