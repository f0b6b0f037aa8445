import json
import os
import sys

import pytest
from matplotlib.figure import Figure

from memvae_lib import cli, files, results
from memvae_lib.claims import Claim, estimate, exceeds, near, not_measurable
from memvae_lib.results import (CLAIMS_END, CLAIMS_START, GALLERY_END, GALLERY_START, SCOREBOARD_END, SCOREBOARD_START,
                                Row, build_claims_table, build_gallery, build_scoreboard, format_table,
                                read_results, results_files, update_page, write_results)
from memvae_lib.files import project_root


def _rows():
    return [Row("test_log_likelihood", "MEM-VAE", -84.523456, dataset="mnist", paper=-84.41),
            Row("active_units", "VAE", 19, dataset="mnist", paper=20, unit="units"),
            Row("test_log_likelihood", "eVAE", -90.0049, dataset="mnist", note="k=200")]


def test_gap_is_ours_minus_paper_only_when_both_known():
    assert Row("q", "VAE", -85.0, paper=-84.5).gap == pytest.approx(-0.5)
    assert Row("q", "VAE", -85.0).gap is None
    assert Row("q", "VAE", None, paper=-84.5).gap is None
    assert Row("q", "VAE", -85.0, paper=-84.5, gap=1.0).gap == 1.0  # an explicit gap is kept


def test_results_json_round_trip(tmp_path):
    path = write_results("mem/table1_log_likelihood", "smoke", _rows(), device="cpu",
                         protocol={"k_eval": 5000, "sigma": 0.123456789}, figures_dir=tmp_path)
    assert path == tmp_path / "mem" / "table1_log_likelihood.json"
    data = read_results(path)
    assert list(data) == ["notebook", "profile", "device", "protocol", "rows", "claims"] and data["claims"] == []
    assert data["notebook"] == "mem/table1_log_likelihood" and data["profile"] == "smoke"
    assert data["protocol"] == {"k_eval": 5000, "sigma": 0.1235}
    first = data["rows"][0]
    assert first == {"quantity": "test_log_likelihood", "model": "MEM-VAE", "ours": -84.5235,
                     "dataset": "mnist", "paper": -84.41, "gap": -0.1135, "unit": "nats"}
    assert data["rows"][1]["ours"] == 19 and isinstance(data["rows"][1]["ours"], int)
    assert "paper" not in data["rows"][2] and data["rows"][2]["note"] == "k=200"
    assert [Row(**r) for r in data["rows"]][0].gap == -0.1135  # stored rows load back as Rows


def test_dict_rows_and_numpy_scalars_are_accepted(tmp_path):
    np = pytest.importorskip("numpy")
    rows = [{"quantity": "q", "model": "VAE", "ours": np.float32(1.5), "paper": np.float64(1.25)}]
    path = write_results("evae/x", "smoke", rows, device="cpu", protocol={"k": np.int64(5)}, figures_dir=tmp_path)
    data = json.loads(path.read_text())
    assert data["rows"][0]["ours"] == 1.5 and data["rows"][0]["gap"] == 0.25 and data["protocol"] == {"k": 5}
    assert "1.50" in format_table(rows)
    with pytest.raises(ValueError, match="unknown row keys"):
        write_results("evae/x", "smoke", [{"quantity": "q", "model": "VAE", "ours": 1, "oops": 2}],
                      device="cpu", protocol={}, figures_dir=tmp_path)


@pytest.mark.parametrize("missing", ["device", "rows", "protocol"])
def test_missing_key_names_file_and_key(tmp_path, missing):
    path = write_results("mem/a", "smoke", _rows(), device="cpu", protocol={}, figures_dir=tmp_path)
    data = json.loads(path.read_text())
    del data[missing]
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=rf"a\.json: missing required key '{missing}'"):
        read_results(path)


def test_missing_row_key_is_reported_with_its_index(tmp_path):
    path = tmp_path / "mem" / "b.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"notebook": "mem/b", "profile": "smoke", "device": "cpu", "protocol": {},
                                "rows": [{"quantity": "q", "model": "VAE", "ours": 1}, {"quantity": "q"}]}))
    with pytest.raises(ValueError, match=r"b\.json: rows\[1\] missing required key 'model'"):
        build_scoreboard(tmp_path)


def test_format_table_rounds_and_aligns():
    table = format_table(_rows())
    lines = table.splitlines()
    assert lines[0].split() == ["quantity", "dataset", "model", "paper", "ours", "gap", "unit", "note"]
    assert set(lines[1]) <= {"-", " "}
    assert "-84.52" in lines[2] and "-84.41" in lines[2] and "-0.11" in lines[2]
    assert "-90.00" in lines[4] and "-84.523" not in table
    assert " 19 " in lines[3] and " -1 " in lines[3]  # integers stay integers
    # numeric columns are right-aligned: every row's 'ours' value ends at the header's 'ours'
    end = lines[0].index("ours") + len("ours")
    for line, value in zip(lines[2:], ["-84.52", "19", "-90.00"]):
        assert line[end - len(value):end] == value
    assert format_table([Row("q", "VAE", -0.001, paper=0.0)]).splitlines()[2].split()[3:5] == ["0.00", "0.00"]


def test_scoreboard_replaced_between_markers_and_idempotent(tmp_path):
    figures = tmp_path / "figures"
    write_results("mem/table1", "laptop", _rows()[:1], device="cpu", protocol={}, figures_dir=figures)
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\n{SCOREBOARD_START}\nstale table\n{SCOREBOARD_END}\n\nafter\n")
    assert update_page(readme, figures) is True
    text = readme.read_text()
    assert "stale table" not in text and text.startswith("# title\n") and text.endswith("after\n")
    assert "| mem/table1 | test_log_likelihood | mnist | MEM-VAE | -84.41 | -84.52 | -0.11 | nats | laptop |" in text
    assert update_page(readme, figures) is False and readme.read_text() == text
    readme.write_text("no markers\n")
    with pytest.raises(ValueError, match="needs at least one generated block"):
        update_page(readme, figures)
    readme.write_text(f"{SCOREBOARD_START}\nend marker lost\n")
    with pytest.raises(ValueError, match="scoreboard:start"):
        update_page(readme, figures)


def test_a_page_below_the_root_links_figures_and_notebooks_from_its_own_folder(tmp_path):
    figures = tmp_path / "figures"
    write_results("mem/fig4", "laptop", _rows()[:1], device="cpu", protocol={}, claims=_claims()[:1],
                  figures_dir=figures)
    (figures / "mem" / "fig4.png").write_bytes(b"png")
    page = tmp_path / "docs" / "scoreboard.md"
    page.parent.mkdir()
    page.write_text(f"{SCOREBOARD_START}\n{SCOREBOARD_END}\n{GALLERY_START}\n{GALLERY_END}\n{CLAIMS_START}\n{CLAIMS_END}\n")
    assert update_page(page, figures)
    text = page.read_text()
    assert "[mem/fig4](../figures/mem/fig4.json)" in text
    assert "[**mem/fig4**](../notebooks/mem/fig4.ipynb)" in text and 'src="../figures/mem/fig4.png"' in text
    assert "[mem/fig4](../notebooks/mem/fig4.ipynb) |" in text
    assert "](figures/" not in text and "](notebooks/" not in text


def test_empty_scoreboard_says_how_to_fill_it(tmp_path):
    assert "make figures" in build_scoreboard(tmp_path)


def test_project_root_walks_up_to_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text("")
    deep = tmp_path / "notebooks" / "mem"
    deep.mkdir(parents=True)
    assert project_root(deep) == tmp_path
    assert (project_root() / "memvae_lib" / "results.py").is_file()  # from the test's cwd or the package


def test_a_row_without_a_value_round_trips_as_null(tmp_path):
    path = write_results("mem/demo", "smoke", [Row("test_log_likelihood", "VAE", None, paper=-85.67)],
                         device="cpu", protocol={}, figures_dir=tmp_path)
    row = read_results(path)["rows"][0]
    assert row["ours"] is None and "gap" not in row


def test_scoreboard_keeps_rows_with_a_paper_value_and_links_every_json(tmp_path):
    rows = [Row("test_log_likelihood", "VAE", -90.0, dataset="mnist", paper=-85.67),
            Row("mean_pixel", "VAE", 0.13, dataset="mnist")]
    write_results("mem/fig4", "laptop", rows, device="cpu", protocol={}, figures_dir=tmp_path / "figures")
    board = build_scoreboard(tmp_path / "figures")
    assert "| mem/fig4 | test_log_likelihood |" in board and "mean_pixel" not in board
    assert "[mem/fig4](figures/mem/fig4.json)" in board


def test_gallery_shows_each_notebooks_main_figure_linked_to_it(tmp_path):
    figures = tmp_path / "figures"
    write_results("mem/fig4", "laptop", [Row("q", "m", 1.0)], device="cpu", protocol={}, figures_dir=figures)
    (figures / "mem" / "fig4.png").write_bytes(b"png")
    (figures / "mem" / "fig4_samples.png").write_bytes(b"png")  # a secondary figure: not in the gallery
    gallery = build_gallery(figures)
    assert '[**mem/fig4**](notebooks/mem/fig4.ipynb)' in gallery and 'src="figures/mem/fig4.png"' in gallery
    assert "fig4_samples" not in gallery
    (figures / "mem" / "fig4.ipynb").write_text("{}")  # its executed copy, published: the link goes there
    assert '[**mem/fig4**](figures/mem/fig4.ipynb)' in build_gallery(figures)
    (figures / "mem" / "fig4.ipynb").unlink()
    readme = tmp_path / "README.md"
    readme.write_text(f"{GALLERY_START}\nold\n{GALLERY_END}\n{SCOREBOARD_START}\n{SCOREBOARD_END}\n")
    assert update_page(readme, figures) and "old" not in readme.read_text()


# ------------------------------------------------------------------------------------------------
# where results go: decided by the profile, whoever runs the notebook

@pytest.fixture
def project(tmp_path, monkeypatch):
    """tmp_path as the project root, with no MEMVAE_FIGURES_DIR / MEMVAE_PROFILE in the way."""
    monkeypatch.setattr(files, "project_root", lambda *a, **k: tmp_path)
    monkeypatch.delenv("MEMVAE_FIGURES_DIR", raising=False)
    monkeypatch.delenv("MEMVAE_PROFILE", raising=False)
    return tmp_path


@pytest.mark.parametrize("profile, folder", [
    ("laptop", "figures"), ("paper", "figures/paper-profile"),
    ("smoke", "notebooks/_build/smoke-figures"), ("huge", "notebooks/_build/huge-figures"),
    (None, "notebooks/_build/scratch-figures"),  # no notebook, no MEMVAE_PROFILE: not committed either
])
def test_default_figures_dir_follows_the_profile(project, profile, folder):
    assert files.default_figures_dir(profile) == project / folder


def test_an_explicit_figures_dir_wins_at_every_profile(project, monkeypatch):
    monkeypatch.setenv("MEMVAE_FIGURES_DIR", str(project / "elsewhere"))
    assert {files.default_figures_dir(p) for p in ("smoke", "laptop", None)} == {project / "elsewhere"}


def test_write_results_at_smoke_never_reaches_the_committed_figures(project):
    smoke = write_results("mem/t", "smoke", _rows(), device="cpu", protocol={})
    laptop = write_results("mem/t", "laptop", _rows(), device="cpu", protocol={})
    assert smoke == project / "notebooks" / "_build" / "smoke-figures" / "mem" / "t.json"
    assert laptop == project / "figures" / "mem" / "t.json"
    assert read_results(laptop)["profile"] == "laptop"


def test_save_figure_follows_the_running_notebooks_profile(project, monkeypatch):
    """save_figure runs before write_results names the profile: the kernel's `profile` decides."""
    from types import SimpleNamespace

    from memvae_lib.plots import save_figure

    figures = [Figure(), Figure()]
    namespace = {"profile": "smoke"}
    shell = SimpleNamespace(user_ns=namespace)  # a kernel's IPython, as far as files.py looks
    ipython = SimpleNamespace(get_ipython=lambda: shell, version_info=(9, 0))  # matplotlib asks the version
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    png, _ = save_figure(figures[0], "mem/demo")
    assert png == project / "notebooks" / "_build" / "smoke-figures" / "mem" / "demo.png"
    namespace["profile"] = "paper"
    assert save_figure(figures[1], "mem/demo")[0] == project / "figures" / "paper-profile" / "mem" / "demo.png"
    namespace.clear()  # no `profile` in the notebook: $MEMVAE_PROFILE, as the notebooks' first cell
    monkeypatch.setenv("MEMVAE_PROFILE", "laptop")
    assert files.default_figures_dir() == project / "figures"


def test_scoreboard_leaves_out_results_of_other_profiles_and_says_so(project, monkeypatch, capsys):
    figures = project / "figures"
    write_results("mem/table1", "laptop", _rows()[:1], device="cpu", protocol={}, figures_dir=figures)
    write_results("mem/fig4", "smoke", _rows()[:1], device="cpu", protocol={}, figures_dir=figures)
    (figures / "mem" / "fig4.png").write_bytes(b"png")
    board = build_scoreboard(figures)
    assert "| mem/table1 |" in board and "mem/fig4" not in board and "smoke" not in board
    assert "fig4" not in build_gallery(figures)
    readme, board_page = project / "README.md", project / "docs" / "scoreboard.md"
    readme.write_text(f"{GALLERY_START}\n{GALLERY_END}\n")
    board_page.parent.mkdir()
    board_page.write_text(f"{SCOREBOARD_START}\n{SCOREBOARD_END}\n")
    monkeypatch.setattr(cli, "project_root", lambda: project)
    assert cli.main(["scoreboard"]) == 0
    err = capsys.readouterr().err
    assert f"left out {figures / 'mem' / 'fig4.json'}: profile 'smoke'" in err and "--profile laptop" in err
    assert "smoke" not in board_page.read_text() and "| mem/table1 |" in board_page.read_text()
    assert "(../figures/mem/table1.json)" in board_page.read_text() and "fig4" not in readme.read_text()
    board_page.unlink()
    assert cli.main(["scoreboard"]) == 1
    assert f"{board_page} is missing" in capsys.readouterr().err


def test_laptop_and_paper_results_live_side_by_side_and_both_reach_the_tables(project, monkeypatch):
    """Both committed profiles keep their files (figures/ and figures/paper-profile/): a paper run
    never overwrites the laptop results of the same notebook, and the tables show both."""
    laptop = write_results("evae/fig1", "laptop", _rows()[:1], device="cpu", protocol={}, claims=_claims()[:1])
    paper = write_results("evae/fig1", "paper", _rows()[:1], device="cpu", protocol={}, claims=_claims()[:1])
    assert (laptop, paper) == (project / "figures" / "evae" / "fig1.json",
                               project / "figures" / "paper-profile" / "evae" / "fig1.json")
    assert [read_results(p)["profile"] for p in results_files(project / "figures")] == ["laptop", "paper"]
    board = build_scoreboard(project / "figures")
    assert board.count("| evae/fig1 |") == 2 and "| laptop |" in board and "| paper |" in board
    assert "[evae/fig1](figures/evae/fig1.json)" in board
    assert "[evae/fig1 (paper)](figures/paper-profile/evae/fig1.json)" in board
    claims = build_claims_table(project / "figures")
    assert "**laptop**: 1 shows" in claims and "**paper**: 1 shows" in claims


def test_only_laptop_and_paper_have_a_committed_folder(project):
    assert files.committed_figures_dir("paper", project / "elsewhere") == project / "elsewhere" / "figures" / "paper-profile"
    with pytest.raises(ValueError, match="profile 'smoke' is not committed under figures/; only laptop, paper are"):
        files.committed_figures_dir("smoke")


# ------------------------------------------------------------------------------------------------
# atomic writes, and a broken results JSON

def test_results_json_and_readme_are_replaced_atomically(tmp_path, monkeypatch):
    figures = tmp_path / "figures"
    path = write_results("mem/t", "laptop", _rows(), device="cpu", protocol={}, figures_dir=figures)
    readme = tmp_path / "README.md"
    readme.write_text(f"{SCOREBOARD_START}\nold\n{SCOREBOARD_END}\n")
    before = path.read_text(), readme.read_text()

    def killed(*args):  # the process dies between writing the new content and swapping it in
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        write_results("mem/t", "laptop", _rows()[:1], device="cpu", protocol={}, figures_dir=figures)
    with pytest.raises(KeyboardInterrupt):
        update_page(readme, figures)
    assert (path.read_text(), readme.read_text()) == before  # the old files, whole
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["README.md", "t.json"]  # no temp files


@pytest.mark.parametrize("content", ['{"notebook": "mem/t", "profile": "lap', "", "\xff\xfe"])
def test_scoreboard_with_a_truncated_results_json_fails_in_one_line_and_keeps_the_readme(
        tmp_path, monkeypatch, capsys, content):
    figures = tmp_path / "figures"
    write_results("mem/ok", "laptop", _rows(), device="cpu", protocol={}, figures_dir=figures)
    broken = figures / "mem" / "t.json"
    broken.write_bytes(content.encode("latin-1"))
    readme = tmp_path / "README.md"
    readme.write_text(f"{SCOREBOARD_START}\nold\n{SCOREBOARD_END}\n")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "scoreboard.md").write_text(f"{SCOREBOARD_START}\nold\n{SCOREBOARD_END}\n")
    monkeypatch.setattr(cli, "project_root", lambda: tmp_path)
    assert cli.main(["scoreboard"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"memvae scoreboard: {broken}: not valid JSON (")
    assert ("rerun its notebook to rewrite it: memvae figures --only mem/t; README.md and docs/scoreboard.md "
            "not updated") in err
    assert readme.read_text() == f"{SCOREBOARD_START}\nold\n{SCOREBOARD_END}\n"
    assert (tmp_path / "docs" / "scoreboard.md").read_text() == readme.read_text()


# ------------------------------------------------------------------------------------------------
# claims: stored with the rows, tabled in the README

def _claims():
    who = dict(paper="mem", section="Sec. 5.1, Table 1")
    return [exceeds(estimate([0.91, 0.85], test_se=0.05, floor=0.1), id="mem/table1/mnist-gain-k1",
                    statement="MEM-VAE beats VAE on MNIST (k=1)", paper_effect=1.26, unit="nats", **who),
            near(estimate(50.0), id="mem/table1/active-units", statement="about 30 active units | at most",
                 target=30, tolerance=5, unit="units", **who),
            not_measurable(id="mem/table1/omniglot", statement="MEM-VAE beats VAE on OMNIGLOT",
                           reason="OMNIGLOT is not trained at this profile", paper_value=0.4, **who)]


def test_results_store_claims_after_the_rows_as_objects_or_dicts(tmp_path):
    claims = _claims()
    path = write_results("mem/table1", "laptop", _rows(), device="cpu", protocol={},
                         claims=[claims[0], claims[1].to_json(), claims[2]], figures_dir=tmp_path)
    data = read_results(path)
    assert list(data)[-2:] == ["rows", "claims"]
    assert [Claim.from_json(c) for c in data["claims"]] == [Claim.from_json(c.to_json()) for c in claims]
    assert data["claims"][0]["ours"] == 0.88 and data["claims"][0]["verdict"] == "shows"
    with pytest.raises(ValueError, match="verdict 'maybe' is not one of"):
        write_results("mem/t", "laptop", [], device="cpu", protocol={}, figures_dir=tmp_path,
                      claims=[{**claims[0].to_json(), "verdict": "maybe"}])
    with pytest.raises(ValueError, match="claim id 'mem/table1/mnist-gain-k1' appears 2 times"):
        write_results("mem/t", "laptop", [], device="cpu", protocol={}, figures_dir=tmp_path,
                      claims=[claims[0], claims[0]])
    assert not (tmp_path / "mem" / "t.json").exists()  # refused before anything was written


def test_a_results_json_from_before_claims_reads_as_judging_none(tmp_path):
    path = write_results("mem/old", "laptop", _rows(), device="cpu", protocol={}, figures_dir=tmp_path)
    data = json.loads(path.read_text())
    del data["claims"]
    path.write_text(json.dumps(data))
    assert "claims" not in read_results(path)
    assert build_claims_table(tmp_path) == "_No claims judged yet: run `make figures`._"
    assert "| mem/old |" in build_scoreboard(tmp_path)


@pytest.mark.parametrize("damage, message", [
    (lambda c: c[1].pop("verdict"), r"claims\[1\]: missing claim key 'verdict'"),
    (lambda c: c[0].update(verdict="proven"), r"claims\[0\]: claim 'mem/table1/mnist-gain-k1': verdict 'proven'"),
    (lambda c: c[2].update(ours="high"), r"claims\[2\]: claim key 'ours' should be a number or null"),
    (lambda c: c.append(5), r"claims\[3\]: a claim should be a JSON object"),
    (lambda c: c.append(dict(c[0])), r"claim id 'mem/table1/mnist-gain-k1' appears 2 times"),
])
def test_read_results_refuses_a_damaged_claim_in_one_line(tmp_path, damage, message):
    path = write_results("mem/table1", "laptop", _rows(), device="cpu", protocol={}, claims=_claims(),
                         figures_dir=tmp_path)
    data = json.loads(path.read_text())
    damage(data["claims"])
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=message) as info:
        read_results(path)
    text = str(info.value)
    assert text.startswith(f"{path}: ") and "\n" not in text
    assert text.endswith("; rerun its notebook to rewrite it: memvae figures --only mem/table1")
    data["claims"] = {"not": "a list"}
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="'claims' should be a list"):
        read_results(path)


def test_claims_table_lists_each_claim_with_its_verdict_and_counts_them_per_profile(tmp_path):
    figures = tmp_path / "figures"
    claims = _claims()
    write_results("mem/table1", "laptop", _rows(), device="cpu", protocol={}, claims=claims, figures_dir=figures)
    write_results("evae/fig1", "paper", _rows(), device="cuda", protocol={}, claims=claims[1:2], figures_dir=figures)
    write_results("mem/fig4", "smoke", _rows(), device="cpu", protocol={}, claims=claims, figures_dir=figures)
    write_results("mem/fig5", "laptop", _rows(), device="cpu", protocol={}, figures_dir=figures)  # no claims
    lines = build_claims_table(figures).splitlines()
    assert lines[0] == "| claim | section | paper | ours | verdict | profile | notebook |"
    assert lines[2] == ("| about 30 active units \\| at most | Sec. 5.1, Table 1 | +30 | +50.00 ± 0.00 units "
                        "| does not show | paper | [evae/fig1](notebooks/evae/fig1.ipynb) |")
    assert lines[3] == ("| MEM-VAE beats VAE on MNIST (k=1) | Sec. 5.1, Table 1 | +1.26 | +0.88 ± 0.09 nats | shows "
                        "| laptop | [mem/table1](notebooks/mem/table1.ipynb) |")
    assert lines[5].startswith("| MEM-VAE beats VAE on OMNIGLOT | Sec. 5.1, Table 1 | +0.40 | - | "
                               "not measurable at this budget | laptop |")
    assert len(lines) == 6 + 4 and "smoke" not in "\n".join(lines) and "fig5" not in "\n".join(lines)
    assert lines[-3:] == [
        "**laptop**: 1 shows, 0 partly, 1 does not show, 1 not measurable at this budget (3 claims)", "",
        "**paper**: 0 shows, 0 partly, 1 does not show, 0 not measurable at this budget (1 claims)"]


def test_update_page_fills_the_claims_markers_and_keeps_the_readme_when_a_result_is_broken(tmp_path):
    figures = tmp_path / "figures"
    write_results("mem/table1", "laptop", _rows(), device="cpu", protocol={}, claims=_claims(), figures_dir=figures)
    readme = tmp_path / "README.md"
    before = f"# t\n\n{CLAIMS_START}\nold claims\n{CLAIMS_END}\n\n{SCOREBOARD_START}\n{SCOREBOARD_END}\n"
    readme.write_text(before)
    assert update_page(readme, figures) is True
    text = readme.read_text()
    assert "old claims" not in text and f"{CLAIMS_START}\n| claim | section |" in text
    assert "(3 claims)\n" + CLAIMS_END in text and "| mem/table1 | test_log_likelihood |" in text
    assert update_page(readme, figures) is False
    filled = readme.read_text()
    data = json.loads((figures / "mem" / "table1.json").read_text())
    data["claims"][0]["verdict"] = "surely"
    (figures / "mem" / "table1.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"table1\.json: claims\[0\]: .*'surely'"):
        update_page(readme, figures)
    assert readme.read_text() == filled
    readme.write_text(f"{CLAIMS_START}\n{SCOREBOARD_START}\n{SCOREBOARD_END}\n")  # claims end marker lost
    with pytest.raises(ValueError, match="claims:start"):
        update_page(readme, tmp_path / "empty")


def test_the_generated_tables_match_the_committed_results(tmp_path):
    """README.md's claims table and gallery and docs/scoreboard.md's scoreboard are `memvae
    scoreboard`'s output from the committed figures/: run it after `make figures` (or after editing
    a results JSON) and commit the pages with the results."""
    root = project_root()
    for name in cli.GENERATED_PAGES:
        copy = tmp_path / name  # the same depth below tmp_path as below the root: the same links
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text((root / name).read_text())
        figures_link = tmp_path / "figures"
        if not figures_link.exists():
            figures_link.symlink_to(root / "figures")
        assert update_page(copy, figures_link) is False, \
            f"{name} is stale against figures/: run `memvae scoreboard` and commit {name}"


def test_a_notebook_cell_ending_in_save_figure_shows_no_paths(tmp_path, monkeypatch):
    """Notebook.save_figure writes the PNG and PDF and returns None: an Out[] line listed the files'
    absolute paths, i.e. the reader's checkout, in every executed copy of a cell ending with it."""
    import torch

    from memvae_lib.notebook import Notebook
    from memvae_lib.papers import mem

    monkeypatch.setenv("MEMVAE_FIGURES_DIR", str(tmp_path))
    nb = Notebook("mem/demo", mem.budget("smoke"), torch.device("cpu"), 1234)
    assert nb.save_figure(Figure(), "_panel") is None
    assert sorted(p.name for p in (tmp_path / "mem").iterdir()) == ["demo_panel.pdf", "demo_panel.png"]
