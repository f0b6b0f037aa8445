"""JupyterLab keeps the notebook sources clean: `make lab` installs `strip_outputs` as the server's
pre-save hook, so every save of a notebook under notebooks/<paper>/ (autosave included) writes it
without outputs, execution counts or widget state, while the open tab keeps showing them. Executed
copies elsewhere (figures/<paper>/, notebooks/_build/, tests/goldens/) are saved as they are.

    jupyter lab --ContentsManager.pre_save_hook=memvae_lib.lab.strip_outputs ...

tests/test_clean_notebooks.py is the check behind it: a source saved with outputs some other way
still fails there.
"""
from __future__ import annotations

from pathlib import PurePosixPath


def is_notebook_source(api_path: str) -> bool:
    """True for notebooks/<paper>/<name>.ipynb (a path relative to the repository root, as the server
    names it), not for anything under notebooks/_build, notebooks/profiles or a hidden folder."""
    parts = PurePosixPath(api_path.lstrip("/")).parts
    return (len(parts) == 3 and parts[0] == "notebooks" and parts[2].endswith(".ipynb")
            and not parts[1].startswith(("_", ".")) and parts[1] != "profiles")


def strip_outputs(model: dict, path: str, **_) -> None:
    """Jupyter Server pre-save hook (called with keywords): clear the outputs and execution counts
    of a notebook source's code cells, and its saved widget state, in the model about to be written."""
    if model.get("type") != "notebook" or not is_notebook_source(path):
        return
    notebook = model["content"]
    for cell in notebook["cells"]:
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    notebook.get("metadata", {}).pop("widgets", None)  # widget views are outputs too
