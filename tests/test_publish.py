"""Executed notebooks published beside their figures (memvae_lib/publish.py): what is stripped, what
is kept, which runs are refused, and that a laptop batch publishes while a smoke batch does not.

The batch test starts real kernels (a few seconds each)."""

import copy

import nbformat
import pytest
from notebook_files import write_notebook

from memvae_lib import batch
from memvae_lib.files import project_root
from memvae_lib.publish import main, publish_build, publish_executed, strip_volatile


def _executed(profile="laptop", started="2026-12-01T11:21:13.409039+00:00", error=False):
    """A notebook as papermill leaves it: timings and absolute paths in the metadata, one figure."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"parameters": {"profile": profile, "seed": 1234}, "start_time": started,
                                "end_time": started, "duration": 26.4, "input_path": "/home/a/nb.ipynb",
                                "output_path": "/home/a/_build/nb.ipynb", "environment_variables": {},
                                "exception": None, "version": "2.7.0"}
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"3f2a": {}}}}
    injected = nbformat.v4.new_code_cell(f"profile = {profile!r}", execution_count=2)  # a random id
    injected.metadata["tags"] = ["injected-parameters"]
    cell = nbformat.v4.new_code_cell("print('ok')", execution_count=3, id="source-cell")
    cell.metadata = {"tags": ["x"], "execution": {"iopub.execute_input": started},
                     "papermill": {"start_time": started, "duration": 0.1, "status": "completed"}}
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ok\n"),
                    nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})]
    if error:
        cell.outputs.append(nbformat.v4.new_output("error", ename="ValueError", evalue="boom", traceback=[]))
    nb.cells = [injected, cell]
    return nb


def _write(nb, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def test_strip_volatile_drops_timings_and_paths_and_keeps_outputs_and_parameters():
    nb = strip_volatile(_executed())
    assert nb.metadata["papermill"] == {"parameters": {"profile": "laptop", "seed": 1234}, "version": "2.7.0"}
    assert "widgets" not in nb.metadata
    injected, cell = nb.cells
    assert injected.id == "injected-parameters"  # papermill draws a new one each run
    assert cell.id == "source-cell" and cell.metadata == {"tags": ["x"]}
    assert cell.execution_count == 3
    assert [o["output_type"] for o in cell.outputs] == ["stream", "display_data"]
    assert cell.outputs[1]["data"]["image/png"] == "iVBORw0KGgo="


def test_stream_pieces_are_joined_so_a_kernel_splitting_them_differently_changes_nothing():
    import nbformat

    def executed_with(pieces):
        nb = _executed()
        outs = [nbformat.v4.new_output("stream", name=name, text=text) for name, text in pieces]
        nb.cells[1].outputs = outs + [nbformat.v4.new_output("display_data", data={"text/plain": "x"}),
                                      nbformat.v4.new_output("stream", name="stdout", text="after\n")]
        return strip_volatile(nb)

    one = executed_with([("stdout", "a\nb\n"), ("stderr", "warn\n"), ("stdout", "c\n")])
    two = executed_with([("stdout", "a\n"), ("stdout", "b\n"), ("stderr", "warn\n"), ("stdout", "c\n")])
    assert nbformat.writes(one) == nbformat.writes(two)
    # only neighbours of one name join: stderr between, or a display between, keeps them apart
    assert [(o["output_type"], o.get("name"), o.get("text")) for o in two.cells[1].outputs] == [
        ("stream", "stdout", "a\nb\n"), ("stream", "stderr", "warn\n"), ("stream", "stdout", "c\n"),
        ("display_data", None, None), ("stream", "stdout", "after\n")]


def test_publish_at_laptop_writes_beside_the_figures_and_two_runs_give_the_same_bytes(tmp_path):
    figures = tmp_path / "figures"
    first = publish_executed(_write(_executed(), tmp_path / "a.ipynb"), "mem/table1", "laptop", figures)
    assert first == figures / "mem" / "table1.ipynb"
    text = first.read_text()
    nbformat.validate(nbformat.reads(text, as_version=4))
    assert "2026-12-01" not in text and "/home/a" not in text
    later = _executed(started="2027-01-02T00:00:00+00:00")
    publish_executed(_write(later, tmp_path / "b.ipynb"), "mem/table1", "laptop", figures)
    assert first.read_text() == text  # a rerun with the same outputs leaves no diff


def test_a_paper_copy_goes_to_the_paper_profile_folder_beside_the_laptop_one(tmp_path, monkeypatch):
    monkeypatch.delenv("MEMVAE_FIGURES_DIR", raising=False)
    (tmp_path / "pyproject.toml").write_text("")
    source = tmp_path / "notebooks" / "mem" / "table1.ipynb"
    source.parent.mkdir(parents=True)
    laptop = publish_executed(_write(_executed(), tmp_path / "a.ipynb"), "mem/table1", "laptop", source=source)
    paper = publish_executed(_write(_executed("paper"), tmp_path / "b.ipynb"), "mem/table1", "paper", source=source)
    assert (laptop, paper) == (tmp_path / "figures" / "mem" / "table1.ipynb",
                               tmp_path / "figures" / "paper-profile" / "mem" / "table1.ipynb")
    assert '"profile": "laptop"' in laptop.read_text() and '"profile": "paper"' in paper.read_text()


def test_smoke_publishes_nothing(tmp_path):
    figures = tmp_path / "figures"
    assert publish_executed(_write(_executed("smoke"), tmp_path / "a.ipynb"), "mem/table1", "smoke", figures) is None
    assert not figures.exists()


def _unfinished():
    """A copy papermill is still writing: the end time unset, the last cell pending."""
    nb = _executed()
    nb.metadata["papermill"]["end_time"] = None
    nb.cells[-1].metadata["papermill"]["status"] = "pending"
    return nb


@pytest.mark.parametrize("nb, message", [
    (_executed(profile="smoke"), "executed at profile 'smoke', not 'laptop'"),
    (_executed(error=True), "holds an error output"),
    (_unfinished(), r"is unfinished \(cells from 1 never ran"),
])
def test_a_copy_of_another_profile_a_failed_or_an_unfinished_run_is_refused(tmp_path, nb, message):
    figures = tmp_path / "figures"
    with pytest.raises(ValueError, match=message):
        publish_executed(_write(copy.deepcopy(nb), tmp_path / "a.ipynb"), "mem/table1", "laptop", figures)
    assert not figures.exists()


def test_publish_build_publishes_an_earlier_batch_and_skips_failed_runs(tmp_path, capsys):
    build = tmp_path / "_build"
    _write(_executed(), build / "laptop" / "mem" / "good.ipynb")
    _write(_executed(error=True), build / "laptop" / "evae" / "bad.ipynb")
    _write(_executed("smoke"), build / "smoke" / "mem" / "other.ipynb")
    written = publish_build("laptop", build, tmp_path / "figures")
    assert written == [tmp_path / "figures" / "mem" / "good.ipynb"]
    err = capsys.readouterr().err
    assert "skipped:" in err and "bad.ipynb holds an error output" in err
    assert not (tmp_path / "figures" / "evae").exists()
    assert main(["--profile", "paper", "--build-dir", str(build)]) == 1  # nothing executed at paper
    assert "nothing to publish" in capsys.readouterr().err


def test_a_laptop_batch_publishes_its_executed_copies_and_a_smoke_batch_does_not(tmp_path, monkeypatch):
    monkeypatch.delenv("MEMVAE_FIGURES_DIR", raising=False)
    root = tmp_path / "project"
    (root / "notebooks" / "profiles").mkdir(parents=True)
    (root / "pyproject.toml").write_text("")
    for profile in ("smoke", "laptop"):
        source = project_root() / "notebooks" / "profiles" / f"{profile}.yaml"
        (root / "notebooks" / "profiles" / f"{profile}.yaml").write_text(source.read_text())
    write_notebook(root / "notebooks" / "demo" / "ok.ipynb", "print('made at', profile)")
    smoke = batch.run_notebooks("smoke", device="cpu", notebooks_dir=root / "notebooks")
    assert smoke[0].ok, smoke[0].failure()
    assert not (root / "figures").exists()
    laptop = batch.run_notebooks("laptop", device="cpu", notebooks_dir=root / "notebooks")
    assert laptop[0].ok, laptop[0].failure()
    published = nbformat.read(root / "figures" / "demo" / "ok.ipynb", as_version=4)
    assert published.cells[-1].outputs[0]["text"] == "made at laptop\n"
    assert "start_time" not in published.metadata["papermill"]
    assert all("papermill" not in c.metadata and "execution" not in c.metadata for c in published.cells)


def test_a_copy_whose_notebook_changed_since_it_ran_is_refused(tmp_path):
    """An executed copy shows the code it ran: once the source notebook's code changes (a new
    interactive cell, say), publishing the old copy would pair old outputs with new code."""
    executed = tmp_path / "_build" / "laptop" / "mem" / "x.ipynb"
    _write(_executed(), executed)
    source = tmp_path / "mem" / "x.ipynb"
    same = nbformat.v4.new_notebook()
    same.cells = [nbformat.v4.new_code_cell("print('ok')")]  # the injected cell is not in the source
    _write(same, source)
    assert publish_executed(executed, "mem/x", "laptop", tmp_path / "figures", source=source).is_file()
    same.cells.append(nbformat.v4.new_code_cell("print('a new cell')"))
    _write(same, source)
    with pytest.raises(ValueError, match=r"is stale: .* changed after it ran: not published; rerun "
                                         r"`memvae figures --profile laptop --only mem/x`"):
        publish_executed(executed, "mem/x", "laptop", tmp_path / "figures2", source=source)
    assert not (tmp_path / "figures2").exists()


def test_every_committed_executed_copy_shows_its_notebook_code():
    """A committed figures/<paper>/<name>.ipynb must run the code of notebooks/<paper>/<name>.ipynb:
    after editing a notebook, rerun it (`make figures ONLY=<paper>/<name>`) before committing."""
    from memvae_lib.publish import code_cells
    root = project_root()
    copies = sorted(root.glob("figures/*/*.ipynb")) + sorted(root.glob("figures/paper-profile/*/*.ipynb"))
    stale = [str(copy.relative_to(root)) for copy in copies
             if code_cells(nbformat.read(copy, as_version=4)) !=
             code_cells(nbformat.read(root / "notebooks" / copy.parent.name / copy.name, as_version=4))]
    assert not stale, f"executed copies older than their notebooks: {stale}"
