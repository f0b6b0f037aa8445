"""Execute the notebooks headless with papermill, one profile at a time.

    run_notebooks("smoke", only="mem/table1")

Each notebook runs in its own kernel with its own folder as working directory, the profile's YAML
injected as parameters (types kept), and the executed copy kept under
notebooks/_build/<profile>/<paper>/<name>.ipynb for inspection; at laptop and paper it is also
published beside the figures, figures/<paper>/<name>.ipynb (paper: figures/paper-profile/<paper>/;
publish.py), which the book (`make book`) renders. At
smoke (any profile but laptop and paper), figures and results JSON go to
<build_dir>/<profile>-figures. `memvae figures` is the CLI.

The kernels need no care when this process is killed: jupyter_client gives each its parent's PID
(JPY_PARENT_PID) and ipykernel's parent poller ends a kernel whose parent is gone. They talk to this
process over Unix sockets (IPC transport) on POSIX, so ipykernel has no unencrypted TCP to warn
about once per notebook, and they run with MEMVAE_HEADLESS=1: no progress bar in an executed copy.
"""

from __future__ import annotations

import fnmatch
import itertools
import os
import re
import signal
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import kernels
from .files import COMMITTED_PROFILES, FIGURES_ENV, project_root, scratch_figures_dir
from .progress import HEADLESS_ENV

PAPERMILL_TAGS = {"injected-parameters", "papermill-error-cell-tag"}
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# IPython 8 names the cell's frame "Cell In[4], line 3"; IPython 7 "Input In [4], in <cell line: 3>()"
CELL_FRAME_LINE = re.compile(r"(?:Cell In\s*\[\d*\], line |<cell line: )(\d+)")
THREADS_ENV = "OMP_NUM_THREADS"
# glibc malloc, for the kernels and training workers of a batch (a value the user set wins): serve every
# allocation from the heap and keep freed memory there for the next one. By default a block over a
# few MB is mmap'd and handed back to the system when freed, so each full-batch pass of an evaluation
# (batch-norm statistics over 60,000 images, L_k over 1,000 test images x k) faulted in gigabytes of
# fresh zeroed pages again: a third of such a pass's time was system time (a MEM-VAE training-curve
# point: 6.3 s -> 4.2 s, the same value to the last bit; peak memory per process 2.1 -> 3.6 GB).
# Where the allocator does not read these (not glibc), nothing changes.
MALLOC_ENV = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(2**36)}
DEAD_KERNEL_HINT = "the kernel process died in this cell (killed for memory, or a crash in native code)"


@dataclass
class NotebookResult:
    name: str  # 'mem/table1_log_likelihood'
    output_path: Path
    ok: bool
    elapsed: float  # seconds
    cell_number: int | None = None  # failing cell, counted in the source notebook from 1 (markdown too)
    exec_count: int | None = None  # its "In [n]" in the executed copy
    ename: str | None = None
    evalue: str | None = None  # the message on one line: its first and its last line (the remedy)
    source_line: str | None = None  # the line of the failing cell that raised, when the traceback says
    profile: str | None = None

    def failure(self) -> str:
        """One line naming the notebook, the failing cell (its number in the source notebook, as
        JupyterLab counts, and its In [n] in the executed copy), the line that raised, the error with
        its remedy, and what to do: read the traceback in the executed copy, then rerun this notebook."""
        where = "" if self.cell_number is None else f" cell {self.cell_number}"
        where += f" (In [{self.exec_count}])" if where and self.exec_count is not None else ""
        code = f" `{self.source_line}`" if self.source_line else ""
        rerun = f"memvae figures{f' --profile {self.profile}' if self.profile else ''} --only {self.name}"
        return (f"{self.name}:{where}{code}: {self.ename}: {self.evalue} -> traceback in {self.output_path}; "
                f"fix it, then rerun `{rerun}`")


def discover_notebooks(notebooks_dir: str | Path) -> dict[str, Path]:
    """{'mem/table1_log_likelihood': path, ...} for notebooks/<paper>/*.ipynb, sorted by name.

    Skips _build, profiles and hidden folders such as .ipynb_checkpoints.
    """
    notebooks_dir = Path(notebooks_dir)
    found = {}
    for path in sorted(notebooks_dir.rglob("*.ipynb")):
        rel = path.relative_to(notebooks_dir)
        if any(part.startswith(("_", ".")) or part == "profiles" for part in rel.parts[:-1]):
            continue
        found[rel.with_suffix("").as_posix()] = path
    return found


def select(names, only: str | None) -> list[str]:
    """Names matching `only`: comma-separated patterns, each a glob (with * ? [) or a substring."""
    if not only:
        return list(names)
    patterns = [p.strip() for p in only.split(",") if p.strip()]

    def hit(name, pattern):
        return fnmatch.fnmatchcase(name, pattern) if any(c in pattern for c in "*?[") else pattern in name

    return [n for n in names if any(hit(n, p) for p in patterns)]


def load_profile(profile: str, notebooks_dir: str | Path) -> dict:
    """The parameters of notebooks/profiles/<profile>.yaml, with YAML types (bool, int) kept."""
    profiles = Path(notebooks_dir) / "profiles"
    path = profiles / f"{profile}.yaml"
    if not path.is_file():
        have = sorted(p.stem for p in profiles.glob("*.yaml"))
        raise ValueError(f"unknown profile {profile!r}: no {path} (profiles: {', '.join(have) or 'none'})")
    params = yaml.safe_load(path.read_text()) or {}
    assert isinstance(params, dict), f"{path} should hold a mapping of notebook parameters"
    return params


def kernel_threads(jobs: int, cores: int | None = None) -> int:
    """Torch threads for each kernel when `jobs` notebooks run at once: the cores shared out, at
    least one each. Two kernels with all cores each oversubscribe them, and torch's OpenMP threads
    then wait on each other (a run 20x slower on 2 cores: docs/running.md). The models here are
    small: on 2 cores a MEM-VAE step is only about 1.1x faster with 2 threads than with 1, so two
    1-thread kernels get more done than one 2-thread kernel."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // jobs)


def papers_in_turn(names: list[str]) -> list[str]:
    """The order in which `jobs` > 1 starts the notebooks: one of each paper in turn (evae/fig1,
    mem/fig3, evae/fig2, ...). Notebooks of one paper share trained runs, and a kernel asking for a
    run that another is training waits for it (runs.py's lock); the papers share none."""
    by_paper: dict[str, list[str]] = {}
    for name in names:
        by_paper.setdefault(name.split("/")[0], []).append(name)
    return [n for turn in itertools.zip_longest(*by_paper.values()) for n in turn if n is not None]


def kernel_interpreter(kernel_name: str = "python3") -> str:
    """The python executable jupyter_client would start for `kernel_name`.

    jupyter_client replaces a bare 'python' in a kernelspec by the running interpreter, so with the
    venv's own kernelspec the notebooks run in the venv. A user-level kernelspec with an absolute
    path elsewhere would win over it; `make` puts the venv first on JUPYTER_PATH to prevent that.
    """
    from jupyter_client.kernelspec import KernelSpecManager

    exe = KernelSpecManager().get_kernel_spec(kernel_name).argv[0]
    bare = {"python", f"python{sys.version_info[0]}", "python%i.%i" % sys.version_info[:2]}
    return sys.executable if exe in bare else exe


def _one_line(message: str) -> str:
    """A multi-line message as one line: its first line (what went wrong) and its last (by this
    project's convention the remedy, as in data.DataError), never cut between them."""
    lines = [ln.strip() for ln in str(message).splitlines() if ln.strip()]
    if len(lines) <= 1:
        return lines[0] if lines else ""
    return f"{lines[0]} ... {lines[-1]}"


def _failing_cell(nb):
    """(number among the source notebook's cells, from 1, cell) of the cell that failed, or (None, None).

    A raising cell carries an error output. A dead kernel leaves none: then it is the last cell
    papermill started (papermill stamps start_time on each cell it sends to the kernel)."""
    source_cells = [c for c in nb.cells if not set(c.get("metadata", {}).get("tags", [])) & PAPERMILL_TAGS]
    for number, cell in enumerate(source_cells, 1):
        if cell.cell_type == "code" and any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return number, cell
    started = [(i, c) for i, c in enumerate(source_cells, 1)
               if c.cell_type == "code" and c.get("metadata", {}).get("papermill", {}).get("start_time")]
    return started[-1] if started else (None, None)


def _raising_line(cell) -> str | None:
    """The source line of `cell` named by its traceback's first frame (the cell's own)."""
    for output in cell.get("outputs", []):
        if output.get("output_type") != "error":
            continue
        match = CELL_FRAME_LINE.search(ANSI.sub("", "\n".join(output.get("traceback", []))))
        lines = cell.source.splitlines()
        while lines and not lines[0].strip():  # IPython numbers lines after dropping leading blank ones
            lines.pop(0)
        if match and 1 <= int(match.group(1)) <= len(lines):
            return lines[int(match.group(1)) - 1].strip()[:100]
    return None


def _failure_details(result: NotebookResult, error: Exception) -> None:
    import nbformat

    result.ename = getattr(error, "ename", type(error).__name__)
    result.evalue = _one_line(getattr(error, "evalue", error))
    if result.ename == "DeadKernelError":  # nbclient's "Kernel died" says neither where nor why
        result.evalue = f"{result.evalue}: {DEAD_KERNEL_HINT}"
    result.exec_count = getattr(error, "exec_count", None)
    if not result.output_path.is_file():
        return
    number, cell = _failing_cell(nbformat.read(result.output_path, as_version=4))
    if cell is not None:
        result.cell_number = number
        result.exec_count = cell.get("execution_count") or result.exec_count
        result.source_line = _raising_line(cell)


def _run_one(name: str, path: Path, params: dict, output: Path) -> NotebookResult:
    import papermill as pm

    output.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    profile = params.get("profile")
    try:
        pm.execute_notebook(str(path), str(output), parameters=params, cwd=str(path.parent),
                            kernel_name="python3", progress_bar=False, **kernels.papermill_options())
        return NotebookResult(name, output, True, time.perf_counter() - start, profile=profile)
    except Exception as error:  # a failed notebook is reported, not raised: the others still run
        result = NotebookResult(name, output, False, time.perf_counter() - start, profile=profile)
        _failure_details(result, error)
        return result


def _publish(result: NotebookResult, source: Path) -> str | None:
    """The executed copy of a laptop or paper run, committed beside its figures (publish.py), so
    that the book and the repository's web page show it; where it went, or why it did not."""
    from .publish import publish_executed

    try:
        return str(publish_executed(result.output_path, result.name, result.profile, source=source))
    except (ValueError, OSError) as e:  # the run itself succeeded: say so, and go on with the batch
        return f"executed copy not published: {e}"


def _status_line(r: NotebookResult, width: int) -> str:
    return f"{r.name:<{width}}  {r.elapsed:8.1f} s  " + ("ok" if r.ok else "FAILED")


def run_notebooks(profile: str = "laptop", only: str | None = None, device: str | None = None,
                  jobs: int = 1, notebooks_dir: str | Path | None = None,
                  build_dir: str | Path | None = None, train_first: bool = True) -> list[NotebookResult]:
    """Execute every notebook matching `only` at `profile`; results in notebook order.

    Prints one line per notebook as it finishes and a summary table at the end. Failures are
    returned, not raised: the caller reports each (`NotebookResult.failure()`, once) and turns them
    into an exit status. `jobs` > 1 runs notebooks concurrently, each in its own kernel with
    kernel_threads(jobs) torch threads (unless OMP_NUM_THREADS is set), started papers_in_turn;
    on a CPU, the runs they need are trained before they start (`train_first`, train_ahead.py).
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs={jobs!r}: the number of notebooks run at once must be an integer >= 1")
    notebooks_dir = Path(notebooks_dir) if notebooks_dir else project_root() / "notebooks"
    build_dir = Path(build_dir) if build_dir else notebooks_dir / "_build"
    params = load_profile(profile, notebooks_dir)
    if device:
        params["device"] = device
    found = discover_notebooks(notebooks_dir)
    names = select(found, only)
    if only and not names:
        raise ValueError(f"no notebook matches {only!r}; notebooks: {', '.join(found) or 'none'}")
    if (exe := kernel_interpreter()) != sys.executable:
        warnings.warn(f"kernel 'python3' runs {exe}, not {sys.executable}: put this environment's "
                      "share/jupyter first on JUPYTER_PATH (the Makefile does)")

    width = max((len(n) for n in names), default=10)
    lock = threading.Lock()

    stopping = threading.Event()

    def run(name):
        result = _run_one(name, found[name], dict(params), build_dir / profile / f"{name}.ipynb")
        published = _publish(result, found[name]) if result.ok and profile in COMMITTED_PROFILES else None
        with lock:
            if not stopping.is_set():  # a notebook stopped by Ctrl-C is no failure to list
                print(_status_line(result, width) + (f"  -> {published}" if published else ""), flush=True)
        return result

    print(f"profile {profile}: {len(names)} notebook(s), parameters {params}", flush=True)
    # files.default_figures_dir already keeps smoke output out of figures/; this only puts it
    # beside this batch's executed copies when build_dir is not the default one (kernels inherit
    # the environment; an explicit MEMVAE_FIGURES_DIR wins)
    redirect = profile not in COMMITTED_PROFILES and FIGURES_ENV not in os.environ
    if redirect:
        os.environ[FIGURES_ENV] = str(scratch_figures_dir(profile, build_dir))
    # nobody watches these kernels: no progress bar may reach an executed copy (memvae_lib/progress.py)
    headless_before = os.environ.get(HEADLESS_ENV)
    os.environ[HEADLESS_ENV] = "1"
    # kernels read OMP_NUM_THREADS when torch starts; a value the user set wins
    threads_before = os.environ.get(THREADS_ENV)
    if jobs > 1 and threads_before is None:
        os.environ[THREADS_ENV] = str(kernel_threads(jobs))
        print(f"{jobs} notebooks at once, {os.environ[THREADS_ENV]} torch thread(s) each", flush=True)
    malloc_before = {name: os.environ.get(name) for name in MALLOC_ENV}
    os.environ.update({name: value for name, value in MALLOC_ENV.items() if malloc_before[name] is None})
    started = time.monotonic()
    try:
        if jobs > 1 and train_first:
            _train_first(names, profile, params.get("device", "auto"), jobs)
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            order = papers_in_turn(names) if jobs > 1 else names
            submitted = {name: pool.submit(run, name) for name in order}
            futures = [submitted[name] for name in names]
            try:
                results = [future.result() for future in futures]
            except KeyboardInterrupt:
                stopping.set()
                raise _interrupted(names, futures) from None
    finally:
        if redirect:
            del os.environ[FIGURES_ENV]
        _restore_env(HEADLESS_ENV, headless_before)
        _restore_env(THREADS_ENV, threads_before)
        for name, value in malloc_before.items():
            _restore_env(name, value)
    print(summary(results))
    print(f"wall time {time.monotonic() - started:.1f} s ({jobs} at once)", flush=True)
    return results


def _train_first(names: list[str], profile: str, device: str, jobs: int) -> None:
    """train_ahead.py's phase: the runs the notebooks used last time at this profile, `jobs` at a time,
    before any kernel starts (on a CPU only: see that module). Ctrl-C or SIGTERM there stops the batch
    with no notebook started; the runs keep their last checkpoints. Any other error skips the phase
    (a missing data file, say): the notebooks then train their own runs, and the ones that cannot
    fail with the full message, as they would without it."""
    from .files import default_figures_dir, resolve_device
    from .train_ahead import needed_runs, train_ahead
    from .train_jobs import Stopped

    if resolve_device(device).type != "cpu":
        return
    try:
        train_ahead(needed_runs(names, profile, default_figures_dir(profile)), "cpu", jobs)
    except KeyboardInterrupt:
        raise Interrupted([], [], len(names)) from None
    except Stopped:
        raise Interrupted([], [], len(names), signal_number=signal.SIGTERM) from None
    except Exception as e:  # noqa: BLE001 - an optimisation only: the notebooks can do without it
        print(f"training ahead skipped ({type(e).__name__}: {_one_line(e)}); the notebooks train their own runs",
              flush=True)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped the batch: `finished` are the notebooks that had ended (in notebook order),
    `stopped` the ones whose kernel was killed, `skipped` the count never started."""

    def __init__(self, finished: list[NotebookResult], stopped: list[str], skipped: int,
                 signal_number: int = signal.SIGINT):
        super().__init__(f"{len(stopped)} notebook(s) stopped, {skipped} not started")
        self.finished, self.stopped, self.skipped = finished, stopped, skipped
        self.signal_number = signal_number  # SIGINT (Ctrl-C) or SIGTERM (while training ahead)


def _interrupted(names: list[str], futures) -> Interrupted:
    """Cancel the notebooks not started, kill the kernels of the running ones and wait for their
    threads (seconds: nbclient notices a dead kernel within one). A kernel started while this runs
    is killed on the next round."""
    import logging

    running = [name for name, future in zip(names, futures) if not future.cancel() and not future.done()]
    skipped = sum(future.cancelled() for future in futures)
    pending = [f for f in futures if not f.done()]
    papermill_log = logging.getLogger("papermill")  # nbclient logs through papermill's logger
    papermill_log.addFilter(_not_our_kill)
    try:
        while pending:
            kernels.stop_all()
            pending = list(wait(pending, timeout=0.5).not_done)
    finally:
        papermill_log.removeFilter(_not_our_kill)
    finished = [f.result() for name, f in zip(names, futures) if not f.cancelled() and name not in running]
    return Interrupted(finished, running, skipped)


def _not_our_kill(record) -> bool:
    """nbclient's one line for each kernel that _interrupted kills: the kill is no news."""
    return record.getMessage() != "Kernel died while waiting for execute reply."


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def summary(results: list[NotebookResult]) -> str:
    """The closing table: every notebook with its time and status, and the counts. Failures in full
    are the caller's to print (the CLI and refresh_goldens each do, once)."""
    width = max([len("notebook")] + [len(r.name) for r in results])
    lines = [f"{'notebook':<{width}}  {'time':>10}  status", "-" * (width + 20)]
    lines += [_status_line(r, width) for r in results]
    failed = [r for r in results if not r.ok]
    total = sum(r.elapsed for r in results)
    lines.append(f"{len(results)} notebook(s): {len(results) - len(failed)} ok, {len(failed)} FAILED, "
                 f"{total:.1f} s of execution")
    return "\n".join(lines)
