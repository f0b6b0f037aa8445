"""The notebook sources under notebooks/ are committed clean: no outputs, no execution counts.

Executed copies live elsewhere (notebooks/_build/, ignored; figures/<paper>/<name>.ipynb, published
by memvae_lib/publish.py; tests/goldens/), so an output in a source means a notebook was saved from
JupyterLab after running it (`make lab` prevents that: memvae_lib/lab.py strips them on save). The
failure names each file and the command that cleans it."""

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
    """The remedy the failure prints works: nbconvert's --clear-output leaves nothing to report (run as
    `python -m nbconvert`, which is `jupyter nbconvert` without looking up a script on PATH)."""
    import subprocess
    import sys

    path = tmp_path / "b.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)", execution_count=1, outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="1\n")])]), path)
    assert dirt(path)
    out = subprocess.run([sys.executable, "-m", "nbconvert", "--clear-output", "--inplace", str(path)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert dirt(path) == []


# ------------------------------------------------------------------------------------------------
# the filter: `make lab` saves notebook sources without outputs (memvae_lib/lab.py)

def _executed_model():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)", execution_count=1, outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="1\n")]), nbformat.v4.new_markdown_cell("hi")])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return {"type": "notebook", "format": "json", "content": nb}


def test_jupyter_saves_a_source_clean_and_an_executed_copy_as_it_is(tmp_path):
    """Jupyter Server's own contents manager, configured as `make lab` configures it (the hook named
    by its import string): a save under notebooks/<paper>/ is clean on disk, elsewhere untouched."""
    from jupyter_server.services.contents.filemanager import FileContentsManager
    from traitlets.config import Config

    config = Config()
    config.ContentsManager.pre_save_hook = "memvae_lib.lab.strip_outputs"
    manager = FileContentsManager(root_dir=str(tmp_path), config=config)
    for folder in ("notebooks/mem", "notebooks/_build/laptop", "figures/mem"):
        (tmp_path / folder).mkdir(parents=True)
    manager.save(_executed_model(), "notebooks/mem/a.ipynb")
    manager.save(_executed_model(), "notebooks/_build/laptop/a.ipynb")
    manager.save(_executed_model(), "figures/mem/a.ipynb")
    saved = tmp_path / "notebooks" / "mem" / "a.ipynb"
    assert dirt(saved) == [] and "widgets" not in nbformat.read(saved, as_version=4).metadata
    assert nbformat.read(saved, as_version=4).cells[0].source == "print(1)"  # the code itself is kept
    for kept in ("notebooks/_build/laptop/a.ipynb", "figures/mem/a.ipynb"):
        assert dirt(tmp_path / kept) == ["cell 0 has 1 output(s)", "cell 0 has execution count 1"], kept


def test_make_lab_installs_the_filter():
    makefile = (project_root() / "Makefile").read_text()
    lab = makefile[makefile.index("\nlab: "):].split("\n\n")[0]
    assert "--ContentsManager.pre_save_hook=memvae_lib.lab.strip_outputs" in lab
