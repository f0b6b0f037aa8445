"""Every notebook keeps the contract of notebooks/README.md: committed clean, parameters first,
a checked paper-vs-ours table, a results JSON, sliders, a golden, and no model code."""
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAPERS = sorted(p.name for p in (ROOT / "memvae_lib" / "papers").iterdir() if (p / "__init__.py").is_file())
NOTEBOOKS = sorted(p for p in (ROOT / "notebooks").glob("*/*.ipynb") if p.parent.name in PAPERS)
IDS = [f"{p.parent.name}/{p.stem}" for p in NOTEBOOKS]


def test_every_paper_package_has_its_notebooks():
    counts = {paper: sum(p.parent.name == paper for p in NOTEBOOKS) for paper in PAPERS}
    assert {"mem": 8, "evae": 9}.items() <= counts.items() and all(counts.values()), counts


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_contract(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    source = "\n".join("".join(c["source"]) for c in code)
    name = f"{path.parent.name}/{path.stem}"
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), "commit it clean"
    first = nb["cells"][0]
    assert "parameters" in first["metadata"].get("tags", []), "first cell must be tagged 'parameters'"
    for knob in ("profile", "device", "seed", "interactive"):
        assert re.search(rf"^{knob} = ", "".join(first["source"]), re.M), f"parameters cell lacks {knob}"
    assert nb["cells"][1]["cell_type"] == "markdown", "the paper's claim comes right after the parameters"
    assert any("".join(c["source"]).startswith("# NBVAL_CHECK_OUTPUT") for c in code)
    assert f'"{name}"' in source and "write_results(" in source and "save_figure(" in source
    assert re.search(r"write_results\([^)]*claims", source), "the results JSON stores the notebook's claims"
    assert "slider_figure(" in source and "interactive=interactive" in source
    assert not re.search(r"class \w+\((nn\.Module|LatentVariableModel)", source), "models live in memvae_lib"
    assert (ROOT / "tests" / "goldens" / f"{name}.ipynb").is_file(), "no golden: make goldens ONLY=" + name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_golden_runs_the_notebook_as_committed(path):
    """nbval re-executes the golden's own cells: they must be the notebook's cells (plus papermill's
    injected parameters), or CI would test stale code. Fix: make goldens ONLY=<name>."""
    name = f"{path.parent.name}/{path.stem}"
    golden = json.loads((ROOT / "tests" / "goldens" / f"{name}.ipynb").read_text())["cells"]
    golden = [c for c in golden if "injected-parameters" not in c["metadata"].get("tags", [])]
    ours = json.loads(path.read_text())["cells"]
    assert [("".join(c["source"]), c["cell_type"]) for c in golden] == \
           [("".join(c["source"]), c["cell_type"]) for c in ours], f"stale golden: make goldens ONLY={name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_knob_is_checked_before_anything_trains(path):
    """Each name the parameters cell assigns (beside the four every notebook has) has a rule in the
    notebook's one open_notebook(...) call (memvae_lib/notebook.py, which runs check_parameters),
    and that call comes before any model is asked for."""
    import ast

    nb = json.loads(path.read_text())
    params = ast.parse("".join(nb["cells"][0]["source"]))
    knobs = {t.id for node in params.body if isinstance(node, ast.Assign) for t in node.targets
             if isinstance(t, ast.Name)} - {"profile", "device", "seed", "interactive"}
    source = "\n".join("".join(c["source"]) for c in nb["cells"][1:] if c["cell_type"] == "code")
    calls = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)
             and getattr(n.func, "id", None) in ("open_notebook", "check_parameters")]
    assert len(calls) == 1 and calls[0].func.id == "open_notebook", "one open_notebook(name, globals(), ...) call"
    assert {k.arg for k in calls[0].keywords} == knobs
    first_use = [source.index(s) for s in ("get_or_train(", "get_run(", "nb.run(", "nb.seed_runs(") if s in source]
    assert source.index("open_notebook(") < min(first_use, default=len(source))
