"""Before a batch of notebooks runs `jobs` at a time: train the runs they will ask for, `jobs` at a
time in worker processes with each kernel's thread count (one each for `JOBS=2` on 2 cores), the
longest first.

    specs = needed_runs(["mem/table1_log_likelihood", ...], "laptop", figures_dir)  # {key: RunSpec}
    train_ahead(specs, device, jobs=2)                                             # prints a line per run

Why. Notebooks side by side ask for runs in their own order, and a kernel asking for a run that the
other kernel is training waits on that run's lock (runs.py). The `laptop` batch from a fresh clone
took 60.0 min for its notebooks, two at a time, and its last ten minutes ran mostly on one core: MEM
Table 1 trained the k = 1 pair that MEM Table 2 waited for (issue 13). Training every run first, the
longest first (the LPT rule: a long run started last would leave the other core idle), keeps both
cores busy; the notebooks then load their runs and only evaluate.

Which runs. The ones the notebooks used the last time they ran at this profile, as their results
JSON records them (protocol.runs: experiment name, '@seed<n>' for a replicate -> run folder). A
record counts only where the experiment, at this profile and with today's code, hashes to the same
folder; a notebook changed since then trains what it needs itself, as it would without this phase.
A run missing from every record is trained by its notebook.

Nothing here changes a number: each run is trained as a notebook trains it (`evaluation.get_run`,
with the training curve its spec asks for, the same torch thread count: batch.py sets
OMP_NUM_THREADS for the workers and the kernels alike), and a finished run is never trained again.
Only on a CPU: on a GPU the notebooks train the seeds of a run as one stack (notebook.seed_runs),
which rounds differently.
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

from .runs import RunSpec, run_dir

SEED_SUFFIX = re.compile(r"^(?P<experiment>.+?)(?:@seed(?P<seed>[0-9]+))?$")


def needed_runs(notebooks: list[str], profile: str, figures_dir: Path) -> dict[str, RunSpec]:
    """{provenance key: spec} of the runs `notebooks` used at `profile`, from their results JSON under
    `figures_dir` (<paper>/<name>.json), each run once, those whose folder still matches only."""
    from .experiments import experiment_names, run_spec, with_seed

    known = set(experiment_names(profile))
    specs: dict[str, RunSpec] = {}
    folders: set[str] = set()
    for notebook in notebooks:
        for key, folder in recorded_runs(figures_dir / f"{notebook}.json").items():
            match = SEED_SUFFIX.match(key)
            if folder in folders or match is None or match["experiment"] not in known:
                continue  # a run counted already, or one a notebook helper trains under another name
            try:
                spec = run_spec(match["experiment"], profile)
                if match["seed"] is not None:
                    spec = with_seed(spec, int(match["seed"]))
                same = run_dir(spec).name == folder
            except Exception:  # noqa: BLE001 - a record that no longer builds: its notebook says why
                continue
            if same:
                specs[key] = spec
                folders.add(folder)
    return specs


def recorded_runs(results_json: Path) -> dict[str, str]:
    """protocol.runs of a results JSON ({} when there is none, or it cannot be read: a missing or
    damaged record only means the notebook trains its own runs, as without this phase)."""
    try:
        runs = json.loads(results_json.read_text())["protocol"]["runs"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {k: v for k, v in runs.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(runs, dict) else {}


def training_cost(spec: RunSpec, train_size: int) -> float:
    """A rough cost, for the order only: examples seen x importance samples x parameters, times
    (1 + E/3) for a model that assigns each example to one of E epitomes or components (E decoder
    forward passes, a third of a training pass each), plus the in-training evaluation. On the
    `laptop` runs it ranks as their measured times do: its longest-first schedule of the 120 runs
    on two workers ends within a second of the one by measured time (issue 13)."""
    import torch

    from .models import build_model

    with torch.random.fork_rng(devices=[]):  # building draws weights: leave the caller's RNG as it was
        parameters = sum(p.numel() for p in build_model(spec.model).parameters())
    model = spec.model
    choices = ((model.latent_dim - model.epitome_size) // model.stride + 1) if hasattr(model, "epitome_size") else 0
    n = min(train_size, spec.train_subset or train_size)
    cost = spec.train.epochs * n * getattr(model, "k", 1) * (1 + choices / 3)
    if spec.train.eval_every > 0:
        samples = spec.train.eval_k if spec.train.eval_metric == "test_ll" else 1
        per_eval = spec.train.eval_subset * samples / 3 + (n / 3 if getattr(model, "batch_norm", False) else 0)
        cost += spec.train.epochs // spec.train.eval_every * per_eval
    return cost * parameters


def longest_first(specs: dict[str, RunSpec]) -> dict[str, RunSpec]:
    """The unfinished runs of `specs`, the costliest first (`training_cost`)."""
    from .data import load_dataset

    todo = {key: spec for key, spec in specs.items() if not (run_dir(spec) / "done").exists()}
    sizes = {name: load_dataset(name).train_x.shape[0] for name in {s.dataset for s in todo.values()}}
    return dict(sorted(todo.items(), key=lambda item: -training_cost(item[1], sizes[item[1].dataset])))


def train_ahead(specs: dict[str, RunSpec], device: str, jobs: int, progress_seconds: float = 60.0) -> dict[str, str]:
    """Train the unfinished runs of `specs`, `jobs` at a time, longest first; {key: outcome}. A run
    that fails is reported and left to its notebook, which fails with the full error."""
    from .train_jobs import train_specs

    todo = longest_first(specs)
    if not todo:
        return {}
    print(f"training {len(todo)} run(s) the notebooks need, {min(jobs, len(todo))} at a time, longest first "
          f"({len(specs) - len(todo)} already trained)", flush=True)
    started = time.monotonic()
    outcomes = train_specs(todo, device, jobs, progress_seconds=progress_seconds)
    failed = sum(not outcome.startswith("done") for outcome in outcomes.values())
    left = f"; {failed} failed, left to their notebooks (which report the error)" if failed else ""
    print(f"trained in {time.monotonic() - started:.1f} s{left}; now the notebooks", flush=True)
    return outcomes
