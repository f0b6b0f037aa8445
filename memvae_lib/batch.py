"""Execute the notebooks headless with papermill, one profile at a time.

    run_notebooks("smoke", only="mem/table1")

Each notebook runs in its own kernel with its own folder as working directory, the profile's YAML
injected as parameters (types kept), and the executed copy kept under
notebooks/_build/<profile>/<paper>/<name>.ipynb for inspection. At smoke, figures and results JSON
go to notebooks/_build/smoke-figures. `memvae figures` is the CLI.
"""

from __future__ import annotations

import fnmatch
import os
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

from .results import project_root

PAPERMILL_TAGS = {"injected-parameters", "papermill-error-cell-tag"}
SMOKE_FIGURES = "smoke-figures"  # under build_dir


@dataclass
class NotebookResult:
    name: str  # 'mem/table1_log_likelihood'
    output_path: Path
    ok: bool
    elapsed: float  # seconds
    cell_index: int | None = None  # failing cell, counted in the source notebook from 0
    exec_count: int | None = None  # its "In [n]" in the executed copy
    ename: str | None = None
    evalue: str | None = None
    source_line: str | None = None  # first line of the failing cell

    def failure(self) -> str:
        """One line naming the notebook, the failing cell and the error."""
        where = "" if self.cell_index is None else f" cell {self.cell_index} (In [{self.exec_count}])"
        code = f" `{self.source_line}`" if self.source_line else ""
        return f"{self.name}:{where}{code}: {self.ename}: {self.evalue} -> see {self.output_path}"


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


def _failure_details(result: NotebookResult, error: Exception) -> None:
    import nbformat

    result.ename = getattr(error, "ename", type(error).__name__)
    evalue = str(getattr(error, "evalue", error)).strip()
    result.evalue = evalue.splitlines()[0] if evalue else ""
    result.exec_count = getattr(error, "exec_count", None)
    if not result.output_path.is_file():
        return
    nb = nbformat.read(result.output_path, as_version=4)
    source_index = 0
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & PAPERMILL_TAGS:
            continue  # cells papermill inserted are not in the source notebook
        if cell.cell_type == "code" and any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            result.cell_index = source_index
            result.exec_count = cell.get("execution_count", result.exec_count)
            lines = [ln for ln in cell.source.splitlines() if ln.strip()]
            result.source_line = lines[0].strip()[:80] if lines else ""
            return
        source_index += 1


def _run_one(name: str, path: Path, params: dict, output: Path) -> NotebookResult:
    import papermill as pm

    output.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    try:
        pm.execute_notebook(str(path), str(output), parameters=params, cwd=str(path.parent),
                            kernel_name="python3", progress_bar=False)
        return NotebookResult(name, output, True, time.perf_counter() - start)
    except Exception as error:  # a failed notebook is reported, not raised: the others still run
        result = NotebookResult(name, output, False, time.perf_counter() - start)
        _failure_details(result, error)
        return result


def _status_line(r: NotebookResult, width: int) -> str:
    return f"{r.name:<{width}}  {r.elapsed:8.1f} s  " + ("ok" if r.ok else "FAILED")


def run_notebooks(profile: str = "laptop", only: str | None = None, device: str | None = None,
                  jobs: int = 1, notebooks_dir: str | Path | None = None,
                  build_dir: str | Path | None = None) -> list[NotebookResult]:
    """Execute every notebook matching `only` at `profile`; results in notebook order.

    Prints one line per notebook as it finishes and a summary table at the end. Failures are
    returned, not raised (the CLI turns them into an exit status). `jobs` > 1 runs notebooks
    concurrently, each in its own kernel.
    """
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

    def run(name):
        result = _run_one(name, found[name], dict(params), build_dir / profile / f"{name}.ipynb")
        with lock:
            print(_status_line(result, width), flush=True)
        return result

    print(f"profile {profile}: {len(names)} notebook(s), parameters {params}", flush=True)
    # smoke figures and results JSON go to _build/smoke-figures, never over the committed figures/
    # (kernels inherit the environment; an explicit MEMVAE_FIGURES_DIR wins)
    redirect = profile == "smoke" and "MEMVAE_FIGURES_DIR" not in os.environ
    if redirect:
        os.environ["MEMVAE_FIGURES_DIR"] = str(build_dir / SMOKE_FIGURES)
    try:
        with ThreadPoolExecutor(max_workers=max(1, int(jobs))) as pool:
            results = list(pool.map(run, names))
    finally:
        if redirect:
            del os.environ["MEMVAE_FIGURES_DIR"]
    print(summary(results))
    return results


def summary(results: list[NotebookResult]) -> str:
    """The closing table: every notebook with its time and status, then each failure in full."""
    width = max([len("notebook")] + [len(r.name) for r in results])
    lines = [f"{'notebook':<{width}}  {'time':>10}  status", "-" * (width + 20)]
    lines += [_status_line(r, width) for r in results]
    failed = [r for r in results if not r.ok]
    total = sum(r.elapsed for r in results)
    lines.append(f"{len(results)} notebook(s): {len(results) - len(failed)} ok, {len(failed)} FAILED, "
                 f"{total:.1f} s of execution")
    lines += ["FAILED " + r.failure() for r in failed]
    return "\n".join(lines)
