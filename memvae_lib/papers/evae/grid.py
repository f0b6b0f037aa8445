"""The capacity grids of Yeung et al. 2017: Table 4 (MNIST), Table 1 (TFD; here the Olivetti
stand-in), Fig. 7 (MNIST, L = 1, H = 500, K swept) and the best of each family (Table 3).

Each cell is one model `configs.grid_cell(kind, L, H, D, K)`, trained once; its Parzen value
(§3.7), active units (`activity.activity_report`) and epitome usage (`epitomes.usage_report`) are
cached in its run folder. One representative cell per data set (`representative_cell`) is trained
`budget.seeds` times, and the spread of each model kind there is the training noise that every
cell of that kind is judged with: replicating every cell would multiply the grid's cost.

    results = sweep(nb, "table4")            # {(kind, L, H, D, K): CellResult}
    best = best_over_k(results)              # {(kind, L, H, D): CellResult}, K chosen on validation (P4),
                                             # a degenerate eVAE/mVAE only when every K is (claims.degenerate)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .activity import THRESHOLD, activity_report
from .claims import Cell, Seeds, degenerate
from .configs import grid_cell
from .epitomes import usage_report
from .parzen_protocol import parzen_report, validation_parzen

KINDS = ("VAE", "mVAE", "eVAE")
FACES_EPITOME = 5  # Table 1: "All epitomes are non-overlapping and of size K = 5"
GRIDS = ("table4", "table1", "fig7")


def representative_cell(budget, dataset: str) -> tuple[int, int, int, int]:
    """(L, H, D, K) of the replicated cell: the first depth and width, the middle D, the largest K
    (MNIST: L1 H500 D24 K4 at laptop and paper, a cell of Table 4 and of Fig. 7 alike)."""
    if dataset == "mnist":
        latent = budget.table4_latent
        return budget.table4_layers[0], budget.table4_hidden[0], latent[len(latent) // 2], max(budget.table4_epitome)
    latent = budget.faces_latent
    return budget.faces_layers[0], budget.faces_hidden[0], latent[len(latent) // 2], FACES_EPITOME


def grid_keys(budget, grid: str) -> list[tuple[str, int, int, int, int | None]]:
    """(kind, L, H, D, K) of every cell of one grid at this budget (K None for the VAE)."""
    if grid not in GRIDS:
        raise ValueError(f"grid {grid!r}: expected one of {GRIDS}")
    if grid == "fig7":
        shape = [(1, 500, d) for d in budget.fig7_latent]
        ks = budget.fig7_epitome
    elif grid == "table4":
        shape = [(a, b, c) for a in budget.table4_layers for b in budget.table4_hidden for c in budget.table4_latent]
        ks = budget.table4_epitome
    else:
        shape = [(a, b, c) for a in budget.faces_layers for b in budget.faces_hidden for c in budget.faces_latent]
        ks = (FACES_EPITOME,)
    return [(kind, *lhd, k) for lhd in shape for kind in KINDS
            for k in ([None] if kind == "VAE" else [k for k in ks if k <= lhd[2]])]


@dataclass
class CellResult:
    """One trained grid model: its seed runs (one, or budget.seeds at the representative cell) and
    what was measured on each; `usage` (eVAE/mVAE) is of the first run."""

    name: str
    dataset: str
    kind: str
    layers: int
    hidden: int
    latent: int
    epitome: int | None
    runs: list
    parzen: list[dict]
    activity: list[dict]
    usage: dict | None

    @property
    def cell(self) -> Cell:
        """The numbers the claims need (claims.Cell)."""
        return Cell(Seeds(tuple(p["mean"] for p in self.parzen), tuple(p["sem"] for p in self.parzen)),
                    tuple(a["count"] for a in self.activity),
                    None if self.usage is None else self.usage["largest_share_train"], self._epitomes_used)

    @property
    def _epitomes_used(self) -> tuple[int, int] | None:
        u = self.usage or {}
        return (u["used_train"], u["epitomes"]) if "used_train" in u and "epitomes" in u else None

    @property
    def degenerate(self) -> str | None:
        """Why this eVAE/mVAE is degenerate (claims.degenerate on its training assignments), or None."""
        return None if self.usage is None else degenerate(self.usage["largest_share_train"], self._epitomes_used)

    @property
    def label(self) -> str:
        return f"{self.kind} L{self.layers} H{self.hidden} D{self.latent}" + (
            "" if self.epitome is None else f" K{self.epitome}")


def sweep(nb, grid: str, threshold: float = THRESHOLD) -> dict[tuple, CellResult]:
    """Train (or load) and measure every cell of `grid` ("table4", "table1", "fig7") through the
    notebook session `nb`; the representative cell gets nb.seed_runs."""
    dataset = "olivetti" if grid == "table1" else "mnist"
    rep = representative_cell(nb.budget, dataset)
    out = {}
    for kind, layers, hidden, latent, k in grid_keys(nb.budget, grid):
        name, _ = grid_cell(kind, nb.budget, layers=layers, hidden=hidden, latent=latent, epitome=k, dataset=dataset)
        replicated = (layers, hidden, latent) == rep[:3] and k in (None, rep[3])
        runs = nb.seed_runs(name) if replicated else [nb.run(name)]
        usage = None if kind == "VAE" else usage_report(runs[0], dataset, nb.budget.test_subset)
        out[kind, layers, hidden, latent, k] = CellResult(
            name, dataset, kind, layers, hidden, latent, k, runs, [parzen_report(r, dataset, nb.budget) for r in runs],
            [activity_report(r, dataset, threshold) for r in runs], usage)
    return out


def _merit(r: CellResult) -> tuple[bool, float]:
    """Selection order: any sound model before any degenerate one (whose Parzen value is mostly of
    untrained epitomes, `CellResult.degenerate`), then validation Parzen of the first run (never the
    test value, P4). A degenerate model is selected only when every candidate is."""
    return r.degenerate is None, validation_parzen(r.parzen[0])


def best_over_k(results: dict[tuple, CellResult]) -> dict[tuple, CellResult]:
    """{(kind, L, H, D): the cell of the best K} by `_merit`; the VAE's single cell passes through."""
    best: dict[tuple, CellResult] = {}
    for (kind, layers, hidden, latent, _), r in results.items():
        key = (kind, layers, hidden, latent)
        if key not in best or _merit(r) > _merit(best[key]):
            best[key] = r
    return best


def best_of_family(results: dict[tuple, CellResult]) -> dict[str, CellResult]:
    """{kind: its best cell over the whole grid} by `_merit` (Table 3, P4)."""
    best: dict[str, CellResult] = {}
    for r in results.values():
        if r.kind not in best or _merit(r) > _merit(best[r.kind]):
            best[r.kind] = r
    return best


def seed_spread(results: dict[tuple, CellResult]) -> dict[str, float]:
    """{kind: sample sd over seeds of the Parzen mean} at the replicated cell(s); kinds without
    replicates are left out (the claims then use the floor alone)."""
    spread = {}
    for r in results.values():
        means = [p["mean"] for p in r.parzen]
        if len(means) > 1:
            mu = math.fsum(means) / len(means)
            spread[r.kind] = max(spread.get(r.kind, 0.0), math.sqrt(math.fsum((m - mu) ** 2 for m in means) / (len(means) - 1)))
    return spread


def cells(results: dict[tuple, CellResult]) -> dict[tuple, Cell]:
    """The same keys, mapped to claims.Cell."""
    return {key: r.cell for key, r in results.items()}
