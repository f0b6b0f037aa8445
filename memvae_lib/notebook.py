"""What every notebook does around its science, in one call: check the knobs, seed, pick the device,
take the paper's budget, train or load the named runs (with seed replicates for the claims), save
figures and write the results JSON with the claims' verdicts and the runs' provenance.

    nb = open_notebook("mem/table1_log_likelihood", globals(), mem.budget, datasets=ListOf(...))
    run = nb.run("mem/mnist/MEM-VAE")             # get_or_train at this budget, on this device
    runs = nb.seed_runs("mem/mnist/MEM-VAE")      # budget.seeds replicates (the first is `run`)
    nb.save_figure(fig)                           # figures/mem/table1_log_likelihood.png|pdf
    nb.write_results(rows, claims, protocol={...})

The results JSON's protocol gains "profile", "seeds" and "runs" (experiment name -> run folder, the
spec hash in its name): which trained models produced the numbers, taken from the runs themselves.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping, Sequence

import torch

from .claims import Claim, format_verdicts
from .evaluation import get_run, training_curve
from .experiments import run_spec, seed_replicates
from .parameters import check_parameters
from .plots import save_figure
from .profiles import Budget
from .files import project_root, resolve_device
from .results import write_results
from .runs import Run
from .stacked_runs import get_or_train_stacked, stackable


class Notebook:
    """The session of one notebook (see the module docstring); build it with `open_notebook`."""

    def __init__(self, name: str, budget: Budget, device: torch.device, seed: int):
        self.name, self.budget, self.device, self.seed = name, budget, device, seed
        self.provenance: dict[str, str] = {}  # experiment (with seed suffix) -> run folder name

    @property
    def profile(self) -> str:
        return self.budget.name

    def run(self, experiment: str, **get_or_train_kwargs) -> Run:
        """The trained run of a named experiment at this notebook's budget (trained once, then cached)."""
        return self._get(experiment, run_spec(experiment, self.budget), **get_or_train_kwargs)

    def seed_runs(self, experiment: str, seeds: int | None = None, *, stack: bool | None = None,
                  **get_or_train_kwargs) -> list[Run]:
        """`seeds` (default: the budget's) runs of one experiment that differ only in their
        training seed; the first is `run(experiment)`. Their spread is a claim's training noise.

        `stack` (default: on a CUDA device): the seeds still to train go as one stacked computation
        (`stacked_runs.get_or_train_stacked`: a GPU step of these small nets costs about the same for
        several models as for one), where the model allows it (`stacked_runs.stackable`); each ends
        as an ordinary run folder, equal to the run trained alone up to float rounding. On a CPU
        stacking saves nothing (benchmarks/stacked_speed.py), so the runs train one by one."""
        specs = seed_replicates(run_spec(experiment, self.budget), self.budget.seeds if seeds is None else seeds)
        if stack is None:
            stack = self.device.type == "cuda" and not get_or_train_kwargs
        if stack and len(specs) > 1 and stackable(specs[0]):
            # one curve function for all: the specs differ only in the seed, so they evaluate on the same
            # data, loaded once (a function per seed would load the training set once per seed)
            curves = [training_curve(specs[0], self.device)] * len(specs) if specs[0].train.eval_every else None
            get_or_train_stacked(specs, device=self.device, evaluates=curves)  # the unfinished ones; the loop loads
        return [self._get(experiment if i == 0 else f"{experiment}@seed{spec.train.seed}", spec,
                          **get_or_train_kwargs) for i, spec in enumerate(specs)]

    def _get(self, key: str, spec, **kwargs) -> Run:
        run = get_run(spec, device=self.device, **kwargs)
        self.provenance[key] = run.path.name
        return run

    def save_figure(self, fig, suffix: str = "") -> None:
        """figures/<paper>/<name><suffix>.png and .pdf (the folder follows the profile).

        Returns None, as write_results does: a cell that ends with this call shows no Out[] line,
        which listed the files' absolute paths (the reader's checkout) in the executed copies."""
        save_figure(fig, f"{self.name}{suffix}")

    def write_results(self, rows, claims: Sequence[Claim] = (), *, protocol: Mapping | None = None,
                      runs: Mapping[str, Run] | None = None, show_verdicts: bool = True) -> None:
        """Write the results JSON, say where, and print the claims' verdicts. `runs` adds runs this
        notebook got without `run`/`seed_runs` (a helper that trains its own) to the provenance.

        Returns None, so a notebook cell that ends with this call shows no Out[] line (IPython's
        trailing `;` is not honoured by every kernel client)."""
        for key, run in (runs or {}).items():
            self.provenance[key] = run.path.name
        full = {"profile": self.profile, "seeds": self.budget.seeds, **dict(protocol or {}),
                "runs": dict(sorted(self.provenance.items()))}
        path = write_results(self.name, self.profile, rows, device=str(self.device), protocol=full, claims=claims)
        print(f"results: {_shown(path)}")
        if show_verdicts and claims:
            print(format_verdicts(claims))


def _shown(path: Path) -> str:
    """`path` relative to the repository when inside it: executed notebooks are read by others."""
    try:
        return path.resolve().relative_to(project_root()).as_posix()
    except (ValueError, FileNotFoundError):
        return str(path)


def open_notebook(name: str, namespace: Mapping, budget: Callable[[str], Budget], **rules) -> Notebook:
    """Check the notebook's knobs (the common ones and `rules`) before anything trains, seed torch
    with the notebook's `seed`, resolve its `device` and take its paper's budget at its `profile`.

    `name` is '<paper>/<notebook>' as in figures/ and notebooks/; `budget` the paper's budget
    function (`papers.mem.budget`)."""
    if name.count("/") != 1:
        raise ValueError(f"notebook name {name!r}: expected '<paper>/<notebook>', e.g. 'mem/table1_log_likelihood'")
    check_parameters(namespace, **rules)
    torch.manual_seed(namespace["seed"])
    return Notebook(name, budget(namespace["profile"]), resolve_device(namespace["device"]), namespace["seed"])
