"""One package per paper: its budget per profile, its named experiments, its reported numbers, its
analyses and its claims checks.

    memvae_lib/papers/<key>/__init__.py      KEY, TITLE, CITATION, ARXIV; budget(); experiments()
    memvae_lib/papers/<key>/configs.py       the Budget subclass, BUDGETS, the RunSpecs
    memvae_lib/papers/<key>/values.py        the paper's numbers (references only)
    memvae_lib/papers/<key>/claims.py        each claim as a check returning a verdict

`all_papers()` finds the packages here, so a third paper is a new folder beside these two (and its
notebooks): nothing else in the library lists the papers.
"""
from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def all_papers() -> list[ModuleType]:
    """Every paper package under memvae_lib/papers, sorted by key."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.ispkg and not info.name.startswith("_"):
            module = importlib.import_module(f"{__name__}.{info.name}")
            for attribute in ("KEY", "TITLE", "budget", "experiments"):
                if not hasattr(module, attribute):
                    raise ImportError(f"paper package {module.__name__} lacks {attribute!r}: see memvae_lib/papers/__init__.py")
            found.append(module)
    return sorted(found, key=lambda m: m.KEY)


def paper(key: str) -> ModuleType:
    """The paper package with this KEY ('mem', 'evae')."""
    for module in all_papers():
        if module.KEY == key:
            return module
    raise ValueError(f"no paper {key!r}: the papers are {', '.join(m.KEY for m in all_papers())}")
