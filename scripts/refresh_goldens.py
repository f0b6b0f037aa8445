#!/usr/bin/env python
"""Re-execute the notebooks at the smoke profile and store the executed copies as nbval goldens.

    make goldens                       # every notebook
    make goldens ONLY=mem/table1       # one notebook (others untouched)

tests/goldens/<paper>/<name>.ipynb is the papermill output with run-specific metadata (timings,
absolute paths) stripped; `pytest --nbval-lax tests/goldens` (make test) re-executes it and compares
the cells marked `# NBVAL_CHECK_OUTPUT`. The smoke profile computes in float64, so the numbers do not
depend on the CPU (memvae_lib/reproducible.py); the metadata records torch, architecture and dtype.
Figures and results JSON of this smoke run go to notebooks/_build/smoke-figures (run_notebooks
does that at smoke), never over the committed figures/.
"""

import argparse
import sys
from pathlib import Path

import nbformat

from memvae_lib.batch import discover_notebooks, run_notebooks
from memvae_lib.reproducible import numerics_fingerprint
from memvae_lib.files import project_root

CHECK_MARKER = "# NBVAL_CHECK_OUTPUT"
VOLATILE_NOTEBOOK_KEYS = ("start_time", "end_time", "duration", "input_path", "output_path",
                          "environment_variables", "exception")


def strip_volatile(nb):
    """Drop what changes on every run, so a refresh without a real change leaves no diff, and the
    outputs nbval does not check."""
    for key in VOLATILE_NOTEBOOK_KEYS:
        nb.metadata.get("papermill", {}).pop(key, None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        # nbval-lax compares only the marked cells: the rest (figures as base64) would only bloat
        if cell.cell_type == "code" and CHECK_MARKER not in cell.source:
            cell.outputs = []
    return nb


def main(argv=None) -> int:
    root = project_root()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="notebook name pattern(s), as for `memvae figures --only`")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--notebooks-dir", type=Path, default=root / "notebooks")
    parser.add_argument("--goldens-dir", type=Path, default=root / "tests" / "goldens")
    args = parser.parse_args(argv)

    numerics = numerics_fingerprint()
    results = run_notebooks("smoke", only=args.only, jobs=args.jobs, notebooks_dir=args.notebooks_dir)
    for r in results:
        if not r.ok:
            print(f"not refreshed (failed): {r.failure()}", file=sys.stderr)
            continue
        golden = args.goldens_dir / f"{r.name}.ipynb"
        golden.parent.mkdir(parents=True, exist_ok=True)
        nb = strip_volatile(nbformat.read(r.output_path, as_version=4))
        nb.metadata["memvae"] = {"numerics": numerics}
        nbformat.write(nb, golden)
        print(f"golden {golden.relative_to(args.goldens_dir.parent)}")
    if not args.only:  # goldens of notebooks that no longer exist would test nothing real
        current = set(discover_notebooks(args.notebooks_dir))
        for stale in sorted(args.goldens_dir.glob("*/*.ipynb")):
            if stale.relative_to(args.goldens_dir).with_suffix("").as_posix() not in current:
                stale.unlink()
                print(f"removed stale golden {stale}")
    return 1 if any(not r.ok for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
