"""Shared test helpers: a headless matplotlib, and tiny notebooks built in tmp_path."""

import matplotlib
import pytest

matplotlib.use("Agg")


def write_notebook(path, *cells, parameters="profile = 'laptop'\ninteractive = True\ndevice = 'auto'\nseed = 0"):
    """A minimal notebook: a cell tagged `parameters`, then one code cell per string in `cells`."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    first = nbformat.v4.new_code_cell(parameters)
    first.metadata["tags"] = ["parameters"]
    nb.cells = [first] + [nbformat.v4.new_code_cell(src) for src in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


@pytest.fixture
def notebook_tree(tmp_path):
    """tmp_path/notebooks with a profiles/ folder holding the repository's smoke.yaml."""
    from memvae_lib.results import project_root

    root = tmp_path / "notebooks"
    (root / "profiles").mkdir(parents=True)
    smoke = project_root() / "notebooks" / "profiles" / "smoke.yaml"
    (root / "profiles" / "smoke.yaml").write_text(smoke.read_text())
    return root
