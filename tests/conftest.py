"""Shared fixtures: a headless matplotlib, and a notebooks folder in tmp_path.

Helpers that tests import live in modules of their own (notebook_files.py, toy_models.py): a test
that imports `conftest` by name gets whichever conftest.py was imported first (tests/browser has
one too), so bare `pytest` at the repository root stopped at collection."""

import matplotlib
import pytest

matplotlib.use("Agg")


@pytest.fixture
def notebook_tree(tmp_path):
    """tmp_path/notebooks with a profiles/ folder holding the repository's smoke.yaml."""
    from memvae_lib.files import project_root

    root = tmp_path / "notebooks"
    (root / "profiles").mkdir(parents=True)
    smoke = project_root() / "notebooks" / "profiles" / "smoke.yaml"
    (root / "profiles" / "smoke.yaml").write_text(smoke.read_text())
    return root
