"""The papermill batch: discovery, filtering, profile types, failure reports and the CLI exit code.

The two tests that execute notebooks start real kernels (a few seconds each)."""

import os

import nbformat
import pytest
from conftest import write_notebook

from memvae_lib import batch, cli
from memvae_lib.results import project_root

NAMES = ["evae/fig1_overpruning", "evae/table2_log_likelihood", "mem/fig3_memory_ablation",
         "mem/table1_log_likelihood"]


def test_discover_skips_build_profiles_and_checkpoints(tmp_path):
    for name in NAMES:
        write_notebook(tmp_path / f"{name}.ipynb")
    write_notebook(tmp_path / "_build" / "smoke" / "mem" / "table1_log_likelihood.ipynb")
    write_notebook(tmp_path / "mem" / ".ipynb_checkpoints" / "table1_log_likelihood-checkpoint.ipynb")
    write_notebook(tmp_path / "profiles" / "odd.ipynb")
    assert list(batch.discover_notebooks(tmp_path)) == NAMES


@pytest.mark.parametrize("only, expected", [
    (None, NAMES),
    ("mem/table1", ["mem/table1_log_likelihood"]),
    ("table", ["evae/table2_log_likelihood", "mem/table1_log_likelihood"]),
    ("evae/*", NAMES[:2]),
    ("*/fig*", ["evae/fig1_overpruning", "mem/fig3_memory_ablation"]),
    ("mem/fig3, evae/table2", ["evae/table2_log_likelihood", "mem/fig3_memory_ablation"]),
    ("nothing", []),
])
def test_only_filters_by_substring_or_glob(only, expected):
    assert batch.select(NAMES, only) == expected


def test_repository_profiles_keep_yaml_types():
    for profile in ("smoke", "laptop", "paper"):
        params = batch.load_profile(profile, project_root() / "notebooks")
        assert params == {"profile": profile, "interactive": False, "device": "auto", "seed": 1234}
        assert type(params["interactive"]) is bool and type(params["seed"]) is int


def test_unknown_profile_lists_the_known_ones(notebook_tree):
    with pytest.raises(ValueError, match=r"unknown profile 'huge'.*profiles: smoke"):
        batch.load_profile("huge", notebook_tree)


def test_batch_injects_typed_parameters_and_reports_the_failing_cell(notebook_tree, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MEMVAE_FIGURES_DIR", raising=False)
    write_notebook(notebook_tree / "demo" / "ok.ipynb",
                   "assert type(interactive) is bool and interactive is False, repr(interactive)\n"
                   "assert (profile, seed, device) == ('smoke', 1234, 'cpu'), (profile, seed, device)\n"
                   "import os\nfrom memvae_lib.results import default_figures_dir\n"
                   "print('cwd', os.path.basename(os.getcwd()))\nprint('figures', default_figures_dir())")
    write_notebook(notebook_tree / "demo" / "broken.ipynb", "x = 1", "\n# the culprit\nraise ValueError('boom')",
                   "print('never')")
    results = batch.run_notebooks("smoke", device="cpu", jobs=2, notebooks_dir=notebook_tree,
                                  build_dir=tmp_path / "build")
    by_name = {r.name: r for r in results}
    assert [r.name for r in results] == ["demo/broken", "demo/ok"]
    ok, broken = by_name["demo/ok"], by_name["demo/broken"]
    assert ok.ok, ok.failure()
    assert ok.output_path == tmp_path / "build" / "smoke" / "demo" / "ok.ipynb"
    executed = nbformat.read(ok.output_path, as_version=4)
    text = executed.cells[-1].outputs[0]["text"]
    assert "cwd demo" in text  # notebooks run in their own folder
    assert f"figures {tmp_path / 'build' / 'smoke-figures'}" in text  # smoke never writes figures/
    assert "MEMVAE_FIGURES_DIR" not in os.environ  # the redirect is undone after the batch
    assert not broken.ok
    assert (broken.cell_index, broken.ename, broken.evalue) == (2, "ValueError", "boom")
    assert broken.source_line == "# the culprit"
    out = capsys.readouterr().out
    assert "FAILED demo/broken: cell 2 (In [" in out and "ValueError: boom" in out
    assert "2 notebook(s): 1 ok, 1 FAILED" in out


def test_cli_figures_exits_non_zero_naming_notebook_and_cell(notebook_tree, tmp_path, monkeypatch, capsys):
    write_notebook(notebook_tree / "demo" / "broken.ipynb", "1 / 0")
    write_notebook(notebook_tree / "demo" / "skipped.ipynb", "raise SystemExit('must not run')")
    readme = tmp_path / "README.md"
    readme.write_text("<!-- scoreboard:start -->\n<!-- scoreboard:end -->\n")
    monkeypatch.setattr(cli, "project_root", lambda: tmp_path)
    monkeypatch.setenv("MEMVAE_FIGURES_DIR", str(tmp_path / "figures"))
    assert cli.main(["figures", "--profile", "smoke", "--only", "broken"]) == 1
    captured = capsys.readouterr()
    # In [3]: papermill's injected-parameters cell ran as In [2]; cell 1 counts source cells from 0
    assert "FAILED demo/broken: cell 1 (In [3]) `1 / 0`: ZeroDivisionError" in captured.err
    assert "skipped" not in captured.out
    assert "make figures" in readme.read_text()  # the scoreboard is rebuilt even after a failure
    assert cli.main(["figures", "--profile", "smoke", "--only", "nothing-matches"]) == 2
    assert "no notebook matches 'nothing-matches'" in capsys.readouterr().err
