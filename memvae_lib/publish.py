"""Executed notebooks committed beside their figures, so the repository's web page renders them.

    publish_executed(notebooks/_build/laptop/mem/table1_log_likelihood.ipynb, "mem/table1_log_likelihood", "laptop")
        -> figures/mem/table1_log_likelihood.ipynb   (at paper: figures/paper-profile/mem/...)
    python -m memvae_lib.publish --profile laptop     # every executed copy of an earlier batch

Only the laptop and paper profiles publish (COMMITTED_PROFILES): a smoke run never reaches figures/.
The copy keeps every output and drops what changes on every run without the content changing
(papermill's timings and absolute paths, the kernel's per-cell timestamps, widget model ids), so
re-running a notebook whose results did not move leaves git with little to show. `make book`
(book/build.py) reads these copies.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .files import COMMITTED_PROFILES, FIGURES_ENV, atomic_write, committed_figures_dir, project_root

# papermill's notebook-level metadata that differs between two runs of the same notebook; its
# "parameters" (the profile, the device asked for) stay: they say what the outputs were made with
VOLATILE_PAPERMILL_KEYS = ("start_time", "end_time", "duration", "input_path", "output_path",
                           "environment_variables", "exception")
VOLATILE_CELL_KEYS = ("papermill", "execution")  # per-cell timings: papermill's and the kernel's
VOLATILE_NOTEBOOK_KEYS = ("widgets",)  # widget state: random model ids (headless runs draw none)
INJECTED_TAG = "injected-parameters"  # papermill's cell, which gets a new random cell id on every run


def _coalesce_streams(outputs: list) -> list:
    """Consecutive stream outputs of one name (stdout, stderr) joined into one: how a kernel splits a
    cell's printing into messages depends on timing, so two runs of the same notebook could differ."""
    def text(o):
        return o["text"] if isinstance(o["text"], str) else "".join(o["text"])

    merged = []
    for out in outputs:
        if out.get("output_type") == "stream" and merged and merged[-1].get("output_type") == "stream" \
                and merged[-1].get("name") == out.get("name"):
            merged[-1]["text"] = text(merged[-1]) + text(out)
        else:
            merged.append(out)
    return merged


def strip_volatile(nb):
    """`nb` (an nbformat NotebookNode) without run-specific metadata, and consecutive stream outputs
    of one name joined (the text is unchanged); returned."""
    papermill = nb.metadata.get("papermill")
    if isinstance(papermill, dict):
        for key in VOLATILE_PAPERMILL_KEYS:
            papermill.pop(key, None)
    for key in VOLATILE_NOTEBOOK_KEYS:
        nb.metadata.pop(key, None)
    for cell in nb.cells:
        for key in VOLATILE_CELL_KEYS:
            cell.metadata.pop(key, None)
        if "outputs" in cell:
            cell["outputs"] = _coalesce_streams(cell["outputs"])
        if INJECTED_TAG in cell.metadata.get("tags", []) and "id" in cell:
            cell["id"] = INJECTED_TAG  # the other cells keep the source notebook's ids
    return nb


def code_cells(nb) -> list[str]:
    """The sources of a notebook's code cells, papermill's injected-parameters cell left out: what an
    executed copy and its source notebook must share for the copy to show that notebook."""
    return [c.source for c in nb.cells
            if c.cell_type == "code" and INJECTED_TAG not in c.metadata.get("tags", [])]


def published_path(name: str, figures_dir: str | os.PathLike) -> Path:
    """<figures_dir>/<paper>/<name>.ipynb, beside the notebook's PNG, PDF and results JSON."""
    if name.count("/") != 1:
        raise ValueError(f"notebook should be '<paper>/<name>', got {name!r}")
    return Path(figures_dir) / f"{name}.ipynb"


def results_dir(source: str | os.PathLike | None = None, profile: str = "laptop") -> Path:
    """Where a notebook at `source` run at `profile` (laptop or paper) wrote its results:
    $MEMVAE_FIGURES_DIR, else <root>/figures (laptop) or <root>/figures/paper-profile (paper) with
    root found from the notebook's folder, as its kernel found it (files.default_figures_dir, run
    with the notebook's folder as working directory)."""
    if os.environ.get(FIGURES_ENV):
        return Path(os.environ[FIGURES_ENV])
    return committed_figures_dir(profile, project_root(Path(source).parent if source is not None else None))


def publish_executed(executed: str | os.PathLike, name: str, profile: str,
                     figures_dir: str | os.PathLike | None = None,
                     source: str | os.PathLike | None = None) -> Path | None:
    """Copy the executed notebook `executed` of `name` ('mem/table1_log_likelihood') to
    figures/[paper-profile/]<paper>/<name>.ipynb with volatile metadata stripped, written atomically; the path, or
    None at a profile that is not committed (smoke and the like publish nothing).

    `figures_dir` defaults to `results_dir(source, profile)` (`source`: the source notebook), where the
    notebook wrote its PNG and results JSON. A copy executed at another profile, holding an error
    output (a failed run), or unfinished (papermill still writing it, or the batch stopped) is refused
    with a ValueError: it would pass for a good laptop run."""
    import nbformat

    if profile not in COMMITTED_PROFILES:
        return None
    nb = nbformat.read(str(executed), as_version=4)
    ran_at = (nb.metadata.get("papermill") or {}).get("parameters", {}).get("profile")
    if ran_at is not None and ran_at != profile:  # a smoke copy must never pass for a laptop one
        raise ValueError(f"{executed} was executed at profile {ran_at!r}, not {profile!r}: not published")
    papermill = nb.metadata.get("papermill") or {}
    unfinished = [i for i, c in enumerate(nb.cells)
                  if (c.metadata.get("papermill") or {}).get("status") in ("pending", "running")]
    # papermill writes the copy as it goes: a batch still running (or killed) leaves a partial one
    if unfinished or ("end_time" in papermill and papermill["end_time"] is None):
        raise ValueError(f"{executed} is unfinished (cells from {unfinished[0] if unfinished else '?'} never ran: "
                         f"its batch is still running, or was stopped): not published; let it finish, or rerun "
                         f"`memvae figures --profile {profile} --only {name}`")
    if any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", [])):
        raise ValueError(f"{executed} holds an error output (a failed run): not published; rerun "
                         f"`memvae figures --profile {profile} --only {name}`")
    if source is not None and Path(source).is_file() and \
            code_cells(nb) != code_cells(nbformat.read(str(source), as_version=4)):
        # the notebook was edited after this copy ran: its outputs would pass for the new code's
        raise ValueError(f"{executed} is stale: {source} changed after it ran: not published; rerun "
                         f"`memvae figures --profile {profile} --only {name}`")
    target = published_path(name, figures_dir if figures_dir is not None else results_dir(source, profile))
    text = nbformat.writes(strip_volatile(nb)) + "\n"
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, text.encode())
    return target


def publish_build(profile: str, build_dir: str | os.PathLike | None = None,
                  figures_dir: str | os.PathLike | None = None) -> list[Path]:
    """Publish every executed copy under <build_dir>/<profile>/<paper>/*.ipynb (a batch run before
    publishing existed, or one whose publishing was interrupted); the paths written."""
    build = Path(build_dir) if build_dir is not None else project_root() / "notebooks" / "_build"
    written = []
    for executed in sorted((build / profile).glob("*/*.ipynb")):
        name = f"{executed.parent.name}/{executed.stem}"
        try:
            path = publish_executed(executed, name, profile, figures_dir, source=build.parent / f"{name}.ipynb")
        except ValueError as e:  # a failed run: the others are still published
            print(f"skipped: {e}", file=sys.stderr)
            continue
        if path is not None:
            written.append(path)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Copy executed notebooks to figures/<paper>/ (paper profile: figures/paper-profile/<paper>/), volatile metadata stripped.")
    parser.add_argument("--profile", default="laptop", choices=COMMITTED_PROFILES)
    parser.add_argument("--build-dir", type=Path, help="default: <root>/notebooks/_build")
    args = parser.parse_args(argv)
    written = publish_build(args.profile, args.build_dir)
    for path in written:
        print(f"published {path}")
    if not written:
        print(f"nothing to publish: no notebooks/_build/{args.profile}/<paper>/*.ipynb (run `memvae figures "
              f"--profile {args.profile}` first)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
