"""`memvae train GLOB --ray [ADDRESS]`: every missing run of a sweep as one Ray task, trained into the
run cache. Ray is an optional extra (`pip install -e '.[cluster]'`), imported only here and only
when there is something to train.

The run cache is the unit of work. A run's hash (its folder, `runs.run_dir`) is the task's identity:
    * a run whose folder says `done` is not submitted (and when nothing is missing, Ray is not even
      started); two names with the same spec make one task;
    * every task trains through `runs.get_or_train`, under the run folder's flock, so two drivers
      asking for the same run train it once (the second waits, then loads it);
    * a task whose worker process or node dies is retried by Ray (`MAX_RETRIES`, system failures
      only) and resumes from the run's last verified checkpoint (train.py);
    * a task that raises (a NaN loss, a missing data file, a bad configuration) is not retried: its
      run is reported FAILED with its name and error, and the other tasks go on.

Requirements on a cluster: `MEMVAE_RUNS_DIR` is a folder every node sees at the same path (NFS or
any shared file system with flock), and every node has this memvae and its torch installed. The
driver passes its MEMVAE_RUNS_DIR and MEMVAE_DATA_DIR to every task, so the workers need neither set.

Bitwise identity. A run's numbers depend on torch's thread count (reductions are split by threads),
and Ray sets OMP_NUM_THREADS in a worker to its task's CPUs. The rule: every task trains with the
driver's `torch.get_num_threads()` (what `memvae train` without --ray uses on the driver's machine;
set OMP_NUM_THREADS for the driver to change it), whatever its CPU reservation. So a run trained
through Ray ends bitwise identical to the same run trained by `memvae train` on a machine of the same
kind with the same thread count (tests/test_cluster.py checks it on CPU).

Resources: each task reserves `cpus_per_run` CPUs (default 1) and `gpus_per_run` of a GPU (default
0.25 when the device is not 'cpu' and the cluster has GPUs, else 0): four small models share a GPU.
A task with a GPU fraction trains on the GPU Ray assigned it (device 'cuda' in the task); one without
trains on the CPU.
"""
from __future__ import annotations

import importlib.util
import json
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, TextIO

MAX_RETRIES = 3          # Ray retries of a task whose worker died (not of one that raised)
MARKER = ".ray-task"     # in the run folder while a task trains it: task id, attempt, host, pid
INSTALL_HINT = "pip install -e '.[cluster]'"
DEFAULT_GPU_FRACTION = 0.25
STATUS_SECONDS = 60.0    # with nothing finishing, the counts are printed again at most this often


class RayMissing(RuntimeError):
    """--ray was asked for and the ray package is not installed."""


def ray_available() -> bool:
    return importlib.util.find_spec("ray") is not None


def _import_ray():
    try:
        import ray
    except ImportError as e:
        raise RayMissing(f"--ray needs the ray package, which is not installed here ({e}): {INSTALL_HINT}") from None
    return ray


def quiet_default() -> bool:
    """Quiet under CI (CI=true): no per-run lines, only failures and the final summary."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@dataclass
class Outcome:
    status: str                  # 'done' | 'cached' | 'paused' | 'failed'
    detail: str                  # the run folder, the pause message, or 'ErrorType: message'
    attempts: int = 1            # Ray attempts the task took (2 and more: a worker died and it resumed)
    resumed_from: int | None = None  # the checkpoint epoch the last attempt resumed from
    host: str = ""               # the node that trained it, on a cluster of several nodes

    def line(self) -> str:
        """The text after the run's name, in `memvae train`'s format ('done   PATH', 'PAUSED ...')."""
        if self.status in ("done", "cached"):
            extra = [] if self.status == "done" else ["cached"]
            if self.attempts > 1:
                extra.append(f"attempt {self.attempts}")
            if self.resumed_from is not None:
                extra.append(f"resumed from epoch {self.resumed_from}")
            if self.host:
                extra.append(f"on {self.host}")
            return f"done   {self.detail}" + (f" ({', '.join(extra)})" if extra else "")
        return f"{'PAUSED' if self.status == 'paused' else 'FAILED'} {self.detail}"


# ---- the task (runs in a Ray worker) --------------------------------------------------------------

def _read_marker(path: Path) -> dict:
    try:
        return json.loads((path / MARKER).read_text())
    except (OSError, ValueError):
        return {}


def _checkpoint_epoch(path: Path) -> int | None:
    """The epoch of the run's checkpoint, for the report (None: none). Memory-mapped: only the small
    pickle is read, not the tensors; the verified read is train.py's when it resumes."""
    import torch

    from .train import CHECKPOINT

    file = path / CHECKPOINT
    if not file.exists() or (path / "done").exists():
        return None
    try:
        return int(torch.load(file, map_location="cpu", weights_only=True, mmap=True)["epoch"])
    except Exception:  # noqa: BLE001 - a damaged checkpoint is train.py's to report
        return None


def train_task(spec, device: str, threads: int, environ: Mapping[str, str], wall_deadline: float | None) -> dict:
    """One run, in a Ray worker: `runs.get_or_train` with the driver's runs folder, data folder and
    torch thread count. Returns {'status': 'done' | 'paused', 'detail', 'attempt', 'resumed_from',
    'host'}; an error raised by training propagates (Ray reports it, and does not retry it)."""
    import ray
    import torch

    from .evaluation import get_run
    from .runs import run_dir
    from .files import atomic_write
    from .train import TrainingPaused

    os.environ.update(environ)
    torch.set_num_threads(threads)
    path = run_dir(spec)
    path.mkdir(parents=True, exist_ok=True)
    task = ray.get_runtime_context().get_task_id() or ""
    previous = _read_marker(path)
    attempt = previous.get("attempt", 0) + 1 if previous.get("task") == task else 1
    host = socket.gethostname()
    atomic_write(path / MARKER, json.dumps({"task": task, "attempt": attempt, "host": host, "pid": os.getpid(),
                                            "started": time.time()}).encode())
    resumed_from = _checkpoint_epoch(path)
    # a monotonic deadline is per machine: the driver's wall-clock one is turned into this node's
    deadline = None if wall_deadline is None else time.monotonic() + (wall_deadline - time.time())
    result = {"attempt": attempt, "resumed_from": resumed_from, "host": host}
    try:
        run = get_run(spec, device=device, deadline=deadline)
    except TrainingPaused as e:
        return {**result, "status": "paused", "detail": str(e)}
    finally:
        if _read_marker(path).get("task") == task:
            (path / MARKER).unlink(missing_ok=True)
    return {**result, "status": "done", "detail": str(run.path)}


# ---- the driver ----------------------------------------------------------------------------------

def _error_text(ray, error: BaseException) -> str:
    """'ErrorType: message' of a task's failure: the training error itself, not Ray's wrapper."""
    if isinstance(error, ray.exceptions.RayTaskError):
        cause = error.cause
        return f"{type(cause).__name__}: {cause}"
    if isinstance(error, ray.exceptions.WorkerCrashedError):
        return f"WorkerCrashedError: the worker training this run died {MAX_RETRIES + 1} times ({error})"
    return f"{type(error).__name__}: {' '.join(str(error).split())[:500]}"


def _connect(ray, address: str | None, quiet: bool) -> bool:
    """Connect to `address` (or to $RAY_ADDRESS, as Ray's own tools do), or else start a local Ray with
    this machine's cores; True when this call started or joined Ray (and so shuts it down, which on a
    cluster only disconnects). An already-initialised Ray (a notebook, a test) is used as it is."""
    import logging

    if ray.is_initialized():
        return False
    level = logging.ERROR if quiet else logging.WARNING
    logging.getLogger("ray").setLevel(level)  # also for what Ray logs before init applies logging_level
    if address in (None, "", "local") and not os.environ.get("RAY_ADDRESS"):
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, logging_level=level, log_to_driver=not quiet)
    else:
        ray.init(address=address or None, logging_level=level, log_to_driver=not quiet)
    return True


def _task_device(device: str, gpus: float) -> str:
    if gpus > 0:
        return "cuda" if device.startswith("cuda") or device == "auto" else device  # Ray's GPU is cuda:0 there
    return "cpu" if device == "auto" else device


def train_runs(runs: Mapping[str, object], *, address: str | None = None, device: str = "auto",
               cpus_per_run: float = 1.0, gpus_per_run: float | None = None, threads: int | None = None,
               max_seconds: float | None = None, quiet: bool | None = None,
               out: TextIO | None = None) -> dict[str, Outcome]:
    """Train every run of `runs` ({name: RunSpec}) missing from the cache as a Ray task; returns
    {name: Outcome}. Prints one line per finished run with the counts (done / running / failed /
    pending), a line for each failure even when quiet, and a summary. `threads` defaults to this
    process's torch.get_num_threads() (see the module's rule); `max_seconds` pauses each run at an
    epoch boundary that long after now (`memvae train --max-minutes`)."""
    import torch

    from .runs import run_dir

    out = out or sys.stdout
    quiet = quiet_default() if quiet is None else quiet
    threads = threads or torch.get_num_threads()
    wall_deadline = None if max_seconds is None else time.time() + max_seconds
    start = time.monotonic()

    def say(text: str, always: bool = False) -> None:
        if always or not quiet:
            print(text, file=out, flush=True)

    # one task per run folder; names that share a spec share its outcome
    names_of: dict[Path, list[str]] = {}
    spec_of: dict[Path, object] = {}
    for name, spec in runs.items():
        path = run_dir(spec)
        names_of.setdefault(path, []).append(name)
        spec_of[path] = spec
    outcomes: dict[str, Outcome] = {}
    missing = []
    for path, names in names_of.items():
        if (path / "done").exists():
            for name in names:
                outcomes[name] = Outcome("cached", str(path))
        else:
            missing.append(path)
    cached = len(names_of) - len(missing)
    if not missing:
        say(f"ray: all {cached} run(s) already done in {_runs_folder(names_of)}; nothing submitted", always=True)
        return outcomes

    ray = _import_ray()
    started = _connect(ray, address, quiet)
    try:
        resources = ray.cluster_resources()
        several_nodes = sum(node.get("Alive", False) for node in ray.nodes()) > 1
        if gpus_per_run is None:
            gpus_per_run = DEFAULT_GPU_FRACTION if device != "cpu" and resources.get("GPU", 0) > 0 else 0.0
        environ = {k: os.environ[k] for k in ("MEMVAE_RUNS_DIR", "MEMVAE_DATA_DIR") if os.environ.get(k)}
        environ.setdefault("MEMVAE_RUNS_DIR", str(_runs_folder(names_of)))
        remote = ray.remote(train_task)
        pending = {}
        for path in missing:
            ref = remote.options(num_cpus=cpus_per_run, num_gpus=gpus_per_run, max_retries=MAX_RETRIES,
                                 retry_exceptions=False, name=f"memvae:{path.name}") \
                .remote(spec_of[path], _task_device(device, gpus_per_run), threads, environ, wall_deadline)
            pending[ref] = path
        task_of = {path: ref.task_id().hex() for ref, path in pending.items()}
        gpu_each = f" + {gpus_per_run:g} GPU" if gpus_per_run else ""
        gpus = f" and {resources['GPU']:g} GPUs" if resources.get("GPU") else ""
        say(f"ray: {len(missing)} run(s) submitted ({cached} already done), {cpus_per_run:g} CPU{gpu_each} and "
            f"{threads} torch thread(s) each, on {resources.get('CPU', 0):g} CPUs{gpus}")
        counts = {"done": 0, "failed": 0, "paused": 0}
        last_status, last_counts = time.monotonic(), None

        def count_line() -> str:
            running = sum(_read_marker(p).get("task") == task_of[p] for p in pending.values())
            parts = [f"{counts['done']} done", f"{running} running", f"{counts['failed']} failed"]
            if counts["paused"]:
                parts.append(f"{counts['paused']} paused")
            parts.append(f"{len(pending) - running} pending")
            return ", ".join(parts)

        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=5.0)
            for ref in ready:
                path = pending.pop(ref)
                try:
                    r = ray.get(ref)
                    outcome = Outcome(r["status"], r["detail"], r["attempt"], r["resumed_from"],
                                      r["host"] if several_nodes else "")
                except Exception as e:  # noqa: BLE001 - one failed run is reported; the others go on
                    outcome = Outcome("failed", _error_text(ray, e))
                counts[outcome.status] += 1
                status = count_line()
                for name in names_of[path]:
                    outcomes[name] = outcome
                    say(f"{name:<40} {outcome.line()}  [{status}]", always=outcome.status == "failed")
                last_status, last_counts = time.monotonic(), status
            if not ready and time.monotonic() - last_status >= STATUS_SECONDS:
                status = count_line()
                if status != last_counts:
                    say(f"ray: {status}")
                last_status, last_counts = time.monotonic(), status
    finally:
        if started:
            ray.shutdown()
    paused = f", {counts['paused']} paused" if counts["paused"] else ""
    say(f"ray: {len(names_of)} run(s): {counts['done']} trained, {cached} already done, {counts['failed']} failed"
        f"{paused} in {time.monotonic() - start:.0f} s", always=True)
    return outcomes


def _runs_folder(names_of: Mapping[Path, object]) -> Path:
    return next(iter(names_of)).parent


def train_command(names: list[str], profile: str, *, address: str | None, device: str, cpus_per_run: float,
                  gpus_per_run: float | None, max_seconds: float | None) -> int:
    """`memvae train NAMES --ray [ADDRESS]`: exit 0, 1 (a run failed) or 3 (a run paused)."""
    from . import experiments

    runs = {name: experiments.run_spec(name, profile) for name in names}
    outcomes = train_runs(runs, address=address, device=device, cpus_per_run=cpus_per_run,
                          gpus_per_run=gpus_per_run, max_seconds=max_seconds)
    if any(o.status == "failed" for o in outcomes.values()):
        return 1
    return 3 if any(o.status == "paused" for o in outcomes.values()) else 0


__all__ = ["MAX_RETRIES", "MARKER", "Outcome", "RayMissing", "ray_available", "train_runs", "train_command",
           "train_task"]
