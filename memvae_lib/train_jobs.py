"""`memvae train` on this machine: runs one after another in this process, or `jobs` at a time in
worker processes; whatever ends the command ends its runs, and a log gets a progress line every few
seconds. cli.py parses the arguments and reports; Ray runs are cluster.py's.

    outcome = train_locally(names, "smoke", "cpu", deadline=None, jobs=2)   # {name: 'done ...'}

Ctrl-C or SIGTERM raises here (KeyboardInterrupt, Stopped) after the workers are stopped: a run
keeps its last checkpoint, and the same command resumes it.
"""
from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .runs import RunSpec

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class Stopped(BaseException):  # not an Exception: outcome() reports those as a failed run and goes on
    """SIGTERM to `memvae train`: raised in the main thread so that the workers are stopped."""


def train_locally(names: list[str], profile: str, device: str, deadline: float | None, jobs: int,
                  progress_seconds: float | None = None) -> dict[str, str]:
    """{name: outcome} for every run, each told on stdout as it ends (see outcome()). One job: in this
    process, so whatever ends `memvae train` ends the training, and frees its lock, with it."""
    jobs = min(jobs, len(names))
    with progress_lines(progress_seconds, workers=jobs > 1), stop_on_sigterm():
        if jobs == 1:
            return {name: outcome(name, functools.partial(train_one, name, profile, device, deadline))
                    for name in names}
        return _train_in_workers({name: (train_one, name, profile, device, deadline) for name in names}, jobs)


def train_specs(specs: dict[str, RunSpec], device: str, jobs: int,
                progress_seconds: float | None = None) -> dict[str, str]:
    """{label: outcome} for runs given as specs (batch.py's training phase, train_ahead.py), `jobs`
    at a time in worker processes started in the given order; told on stdout as train_locally does."""
    jobs = min(jobs, len(specs))
    if not jobs:
        return {}
    with progress_lines(progress_seconds, workers=True), stop_on_sigterm():
        return _train_in_workers({label: (train_spec, spec, device) for label, spec in specs.items()}, jobs)


def train_spec(spec: RunSpec, device: str, deadline: float | None = None) -> str:
    """One run given by its spec (here or in a worker process), as a notebook gets it
    (`evaluation.get_run`, with the training curve the spec asks for): 'done <folder>' or the pause
    message (resumed by the next call)."""
    from .evaluation import get_run
    from .train import TrainingPaused

    try:
        run = get_run(spec, device=device, deadline=deadline)
    except TrainingPaused as e:
        return f"PAUSED {e}"
    return f"done   {run.path}"


def train_one(name: str, profile: str, device: str, deadline: float | None) -> str:
    """One named run at `profile`: train_spec of its spec."""
    from .experiments import run_spec

    return train_spec(run_spec(name, profile), device, deadline)


def outcome(name: str, call) -> str:
    """call() -> 'done ...' or 'PAUSED ...'; an exception is reported as 'FAILED ...', not raised,
    so every run gets its line."""
    try:
        result = call()
    except Exception as e:  # noqa: BLE001 - report every run, then fail
        result = f"FAILED {type(e).__name__}: {e}"
    print(f"{name:<40} {result}", flush=True)
    return result


def _train_in_workers(calls: dict[str, tuple], jobs: int) -> dict[str, str]:
    """{name: (function, *arguments)}: each call in a spawned worker process, `jobs` at a time, started
    in the order given. Interrupted (Ctrl-C, SIGTERM), the workers are stopped rather than waited for:
    a run could take hours."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from .batch import THREADS_ENV, kernel_threads

    _quiet_resource_tracker()
    # each worker gets its share of the cores, as batch.py gives each kernel, unless OMP_NUM_THREADS is
    # set (the batch sets it; a user's value wins): with torch's default of every core per worker, two
    # workers on 2 cores oversubscribe them and a MEM-VAE epoch took 60 s instead of 14 (issue 13)
    threads = None if THREADS_ENV in os.environ else kernel_threads(jobs)
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"),
                               initializer=_worker_start, initargs=(os.getpid(), threads))
    try:
        futures = {name: pool.submit(*call) for name, call in calls.items()}
        outcomes = {name: outcome(name, future.result) for name, future in futures.items()}
    except BaseException:
        _stop_workers(pool)
        raise
    pool.shutdown()
    return outcomes


def _worker_start(parent_pid: int, threads: int | None = None) -> None:
    """Worker initializer: `threads` torch threads (None: torch's choice, from OMP_NUM_THREADS).

    Ctrl-C on a terminal reaches the whole process group: the workers leave it to `memvae train`,
    which stops them (a KeyboardInterrupt in an idle worker would print a
    traceback). And the worker ends when `memvae train` does, however that ends: otherwise a
    SIGKILL or SIGTERM to the parent alone leaves it training on, orphaned (PPID 1) and holding the
    run's lock. On Linux the kernel sends SIGKILL when the parent dies (PR_SET_PDEATHSIG; "parent"
    is the thread that started the worker, here the main thread, which ProcessPoolExecutor.submit
    spawns from). A thread watching the PPID covers other systems, and a parent that died before
    prctl took effect."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # failure (-1) leaves it to the watcher
    if os.getppid() != parent_pid:
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True, name="memvae-parent-watch").start()


def _watch_parent(parent_pid: int, interval: float = 1.0) -> None:
    import time

    while os.getppid() == parent_pid:
        time.sleep(interval)
    os._exit(1)  # orphaned: nobody would collect the outcome, and the run's lock must go


def _stop_workers(pool) -> None:
    """End the pool's worker processes now (SIGTERM, then SIGKILL after 10 s), then the pool.
    ProcessPoolExecutor has no public way before Python 3.14 (terminate_workers)."""
    processes = list(getattr(pool, "_processes", {}).values())
    for process in processes:
        with contextlib.suppress(Exception):
            process.terminate()
    for process in processes:
        process.join(10)
        if process.is_alive():
            process.kill()
            process.join()
    pool.shutdown(wait=True, cancel_futures=True)


def _quiet_resource_tracker() -> None:
    """multiprocessing's resource tracker (started with the pool's first semaphore) warns "There
    appear to be N leaked semaphore objects to clean up at shutdown" when `memvae train` is killed
    (SIGKILL) before it could release them. It then unlinks them itself: nothing is lost and nothing
    is to be done, so this one warning is filtered in the tracker (it takes -W from sys.warnoptions)."""
    quiet = "ignore:resource_tracker:UserWarning"
    if quiet not in sys.warnoptions:
        sys.warnoptions.append(quiet)


@contextlib.contextmanager
def stop_on_sigterm():
    """While training, SIGTERM ends the command as Ctrl-C does (workers stopped, exit 143); only the
    main thread may set a handler (a test calling main() from another thread gets none)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise Stopped()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed
        return False


@contextlib.contextmanager
def progress_lines(seconds: float | None = None, workers: bool = False):
    """Progress as plain lines on stderr, one every `seconds` (default MEMVAE_PROGRESS_SECONDS or 5),
    unless the command runs in a terminal: when stdout or stderr goes to a file or a pipe (`memvae
    train ... > log`), or runs go to worker processes (their bars would overwrite each other). A
    terminal with one run gets a bar. MEMVAE_PROGRESS set by the caller wins. Workers inherit the
    environment set here; it is undone afterwards (main() may be called in-process)."""
    from .progress import PROGRESS_ENV, SECONDS_ENV

    wanted = {}
    in_terminal = _is_terminal(sys.stdout) and _is_terminal(sys.stderr)
    if PROGRESS_ENV not in os.environ and (workers or not in_terminal):
        wanted[PROGRESS_ENV] = "lines"
    if seconds is not None:
        wanted[SECONDS_ENV] = f"{seconds:g}"
    before = {key: os.environ.get(key) for key in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
