"""The named experiments of every paper, at a profile: the one place the CLI, the cluster runner,
the cache archive and the notebooks turn a name into a RunSpec.

    run_spec("mem/mnist/MEM-VAE", "laptop")    ->  RunSpec(...)
    experiment_names("smoke")                  ->  every name
    seed_replicates(spec, 3)                   ->  the spec trained from 3 seeds (claims' noise)
    describe(run_spec("mem/frey/VAE-b10"))     ->  'VAEConfig 560-200-10, relu+BN, gaussian, k=1; trained on frey, ...'

Each paper package (memvae_lib/papers/<key>/experiments.py) defines its own budgets and names;
this module only gathers them.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

from .papers import all_papers
from .profiles import PROFILES, Profile, get_profile
from .runs import RunSpec

__all__ = ["PROFILES", "Profile", "get_profile", "experiment_names", "run_spec", "seed_replicates", "with_seed",
           "describe"]


def _registry(profile) -> dict[str, Callable[[], RunSpec]]:
    name = get_profile(profile).name
    registry: dict[str, Callable[[], RunSpec]] = {}
    for paper in all_papers():
        registry.update(paper.experiments(paper.budget(name)))
    return registry


def experiment_names(profile: str | Profile = "laptop") -> list[str]:
    return sorted(_registry(profile))


def run_spec(name: str, profile: str | Profile = "laptop") -> RunSpec:
    """The RunSpec of a named experiment at a profile (ValueError naming close matches)."""
    registry = _registry(profile)
    if name not in registry:
        import difflib

        close = difflib.get_close_matches(name, registry, n=5, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `memvae train --list` lists them"
        raise ValueError(f"no experiment named {name!r} at profile {get_profile(profile).name!r}{hint}")
    return registry[name]()


def seed_replicates(spec: RunSpec, seeds: int) -> list[RunSpec]:
    """`spec` trained from `seeds` training seeds: the first is `spec` itself (its cached run is
    reused), the others change only TrainConfig.seed (initial weights, data order, binarisation and
    the samplers), so their spread is the training noise a claim is judged against."""
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds={seeds!r} is not allowed; expected an int >= 1")
    base = spec.train.seed
    return [spec] + [with_seed(spec, base + 1000 * i) for i in range(1, seeds)]


def with_seed(spec: RunSpec, seed: int) -> RunSpec:
    """`spec` with TrainConfig.seed = `seed`, nothing else changed (a seed replicate's spec)."""
    return dataclasses.replace(spec, train=dataclasses.replace(spec.train, seed=seed))


def describe(spec: RunSpec) -> str:
    """One line saying what a run trains: its model config's own describe() (kept beside the model's
    code, so it names what sets a model apart: k, memory, epitomes, KL weight), then the data and the
    budget."""
    data = spec.dataset + (f" (first {spec.train_subset:,})" if spec.train_subset else "")
    epochs = f"{spec.train.epochs} epoch{'s' if spec.train.epochs != 1 else ''}"
    return f"{spec.model.describe()}; trained on {data}, {epochs}, batch {spec.train.batch_size}"
