"""The notebook sources under notebooks/ are committed clean: no outputs, no execution counts.

Executed copies live elsewhere (notebooks/_build/, ignored; figures/<paper>/<name>.ipynb, published
by memvae_lib/publish.py; tests/goldens/), so an output in a source means a notebook was saved from
JupyterLab after running it. The failure names each file and the command that cleans it."""

from pathlib import Path

import nbformat

from memvae_lib.files import project_root

SKIPPED_FOLDERS = {"_build", ".ipynb_checkpoints"}
CLEAR = "jupyter nbconvert --clear-output --inplace"


def sources(notebooks_dir: Path) -> list[Path]:
    return sorted(p for p in notebooks_dir.rglob("*.ipynb")
                  if not SKIPPED_FOLDERS & set(p.relative_to(notebooks_dir).parts[:-1]))


def dirt(path: Path) -> list[str]:
    """What makes `path` unclean: one entry per code cell with outputs or an execution count."""
    nb = nbformat.read(path, as_version=4)
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if cell.get("outputs"):
            found.append(f"cell {index} has {len(cell.outputs)} output(s)")
        if cell.get("execution_count") is not None:
            found.append(f"cell {index} has execution count {cell.execution_count}")
    return found


def test_every_notebook_source_is_committed_without_outputs():
    notebooks = project_root() / "notebooks"
    found = sources(notebooks)
    assert len(found) >= 17, f"expected the 17 notebooks under {notebooks}, found {len(found)}"
    unclean = {p.relative_to(project_root()).as_posix(): d for p in found if (d := dirt(p))}
    assert not unclean, "notebook sources must be committed clean; run " + "; ".join(
        f"{CLEAR} {path}  ({', '.join(d[:2])})" for path, d in unclean.items())


def test_the_check_sees_outputs_and_counts_and_skips_executed_copies(tmp_path):
    clean = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_markdown_cell("hi")])
    dirty = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1", execution_count=4),
                                            nbformat.v4.new_code_cell("print(1)", outputs=[
                                                nbformat.v4.new_output("stream", name="stdout", text="1\n")])])
    for rel, nb in {"mem/a.ipynb": clean, "mem/b.ipynb": dirty, "_build/laptop/mem/b.ipynb": dirty,
                    "mem/.ipynb_checkpoints/b-checkpoint.ipynb": dirty}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, tmp_path / rel)
    assert [p.relative_to(tmp_path).as_posix() for p in sources(tmp_path)] == ["mem/a.ipynb", "mem/b.ipynb"]
    assert dirt(tmp_path / "mem" / "a.ipynb") == []
    assert dirt(tmp_path / "mem" / "b.ipynb") == ["cell 0 has execution count 4", "cell 1 has 1 output(s)"]


def test_the_command_named_in_the_failure_cleans_a_notebook(tmp_path):
    """The remedy the failure prints works: nbconvert's --clear-output leaves nothing to report."""
    import subprocess
    import sys

    path = tmp_path / "b.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)", execution_count=1, outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="1\n")])]), path)
    assert dirt(path)
    out = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--clear-output", "--inplace", str(path)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert dirt(path) == []
