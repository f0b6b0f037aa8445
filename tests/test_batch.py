"""The papermill batch: discovery, filtering, profile types, failure reports and the CLI exit code;
where a notebook's figures and results go, whoever runs it.

The tests that execute notebooks start real kernels (a few seconds each)."""

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from notebook_files import write_notebook
from processes import alive

from memvae_lib import batch, cli
from memvae_lib.files import project_root

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


def test_batch_injects_typed_parameters_and_reports_the_failing_cell(notebook_tree, tmp_path, capfd, monkeypatch):
    monkeypatch.delenv("MEMVAE_FIGURES_DIR", raising=False)
    monkeypatch.delenv("MEMVAE_HEADLESS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    for name in batch.MALLOC_ENV:
        monkeypatch.delenv(name, raising=False)
    write_notebook(notebook_tree / "demo" / "ok.ipynb",
                   "assert type(interactive) is bool and interactive is False, repr(interactive)\n"
                   "assert (profile, seed, device) == ('smoke', 1234, 'cpu'), (profile, seed, device)\n"
                   "import os\nfrom memvae_lib.files import default_figures_dir\n"
                   "print('cwd', os.path.basename(os.getcwd()))\nprint('figures', default_figures_dir())\n"
                   "print('headless', os.environ.get('MEMVAE_HEADLESS'))\n"
                   "print('threads', os.environ.get('OMP_NUM_THREADS'))\n"
                   "print('malloc', os.environ.get('MALLOC_MMAP_MAX_'), os.environ.get('MALLOC_TRIM_THRESHOLD_'))",
                   # a bar here would be an output that changes from run to run
                   "from memvae_lib.progress import progress\ndel interactive\n"
                   "bar = progress(range(3), desc='quiet', enabled=True)\nfor _ in bar: pass\nbar.close()")
    # a multi-line message whose last line is the remedy, as data.DataError's
    write_notebook(notebook_tree / "demo" / "broken.ipynb", "x = 1",
                   "\n# the culprit\ny = 2\nraise ValueError('boom:\\n  a detail\\nrun `make data` to fix it')",
                   "print('never')")
    write_notebook(notebook_tree / "demo" / "dead.ipynb", "x = 1", "import os\nos._exit(1)", "print('never')")
    results = batch.run_notebooks("smoke", device="cpu", jobs=2, notebooks_dir=notebook_tree,
                                  build_dir=tmp_path / "build")
    by_name = {r.name: r for r in results}
    assert [r.name for r in results] == ["demo/broken", "demo/dead", "demo/ok"]
    ok, broken, dead = by_name["demo/ok"], by_name["demo/broken"], by_name["demo/dead"]
    assert ok.ok, ok.failure()
    assert ok.output_path == tmp_path / "build" / "smoke" / "demo" / "ok.ipynb"
    executed = nbformat.read(ok.output_path, as_version=4)
    text = executed.cells[-2].outputs[0]["text"]
    assert executed.cells[-1].outputs == []  # MEMVAE_HEADLESS alone (no `interactive`) keeps it quiet
    assert "cwd demo" in text  # notebooks run in their own folder
    assert f"figures {tmp_path / 'build' / 'smoke-figures'}" in text  # smoke never writes figures/
    assert "headless 1" in text  # the kernels know nobody watches them
    assert f"threads {batch.kernel_threads(2)}" in text  # two kernels share the cores out
    assert "OMP_NUM_THREADS" not in os.environ
    assert f"malloc 0 {2**36}" in text  # freed memory stays in each kernel's heap (batch.MALLOC_ENV)
    assert not set(batch.MALLOC_ENV) & set(os.environ)
    assert "MEMVAE_FIGURES_DIR" not in os.environ  # the redirect is undone after the batch
    assert "MEMVAE_HEADLESS" not in os.environ
    assert not broken.ok
    # the error's first line and its last (the remedy), the line that raised rather than the cell's first
    assert (broken.cell_number, broken.ename) == (3, "ValueError")  # counted from 1, the parameters cell first
    assert broken.evalue == "boom: ... run `make data` to fix it"
    assert broken.source_line == "raise ValueError('boom:\\n  a detail\\nrun `make data` to fix it')"
    assert broken.failure() == (
        f"demo/broken: cell 3 (In [4]) `{broken.source_line}`: ValueError: boom: ... run `make data` to fix it "
        f"-> traceback in {broken.output_path}; fix it, then rerun `memvae figures --profile smoke --only demo/broken`")
    # a dead kernel leaves no error output: the cell is the one papermill had started
    assert not dead.ok and (dead.cell_number, dead.ename) == (3, "DeadKernelError")
    assert re.match(r"demo/dead: cell 3( \(In \[4\]\))?: DeadKernelError: Kernel died: the kernel process died in "
                    r"this cell \(killed for memory, or a crash in native code\) -> traceback in .*; fix it, then "
                    r"rerun `memvae figures --profile smoke --only demo/dead`$", dead.failure()), dead.failure()
    out, err = capfd.readouterr()  # the kernels' stderr too
    assert "3 notebook(s): 1 ok, 2 FAILED" in out
    assert "demo/broken:" not in out  # the table only counts failures: the caller tells each, once
    assert "without encryption" not in err  # IPC transport: ipykernel's TCP warning is never printed


def test_cli_figures_exits_non_zero_naming_notebook_and_cell(notebook_tree, tmp_path, monkeypatch, capsys):
    write_notebook(notebook_tree / "demo" / "broken.ipynb", "x = 1\n1 / 0")
    write_notebook(notebook_tree / "demo" / "skipped.ipynb", "raise SystemExit('must not run')")
    readme, board = tmp_path / "README.md", tmp_path / "docs" / "scoreboard.md"
    readme.write_text("<!-- claims:start -->\n<!-- claims:end -->\n")
    board.parent.mkdir()
    board.write_text("<!-- scoreboard:start -->\n<!-- scoreboard:end -->\n")
    monkeypatch.setattr(cli, "project_root", lambda: tmp_path)
    monkeypatch.setenv("MEMVAE_FIGURES_DIR", str(tmp_path / "figures"))
    assert cli.main(["figures", "--profile", "smoke", "--only", "broken"]) == 1
    captured = capsys.readouterr()
    # In [3]: papermill's injected-parameters cell ran as In [2]; cell 2 counts source cells from 1
    assert ("FAILED demo/broken: cell 2 (In [3]) `1 / 0`: ZeroDivisionError: division by zero -> traceback in "
            in captured.err)
    assert "rerun `memvae figures --profile smoke --only demo/broken`" in captured.err
    assert (captured.out + captured.err).count("demo/broken:") == 1  # told once
    assert "skipped" not in captured.out
    # the claims table and the scoreboard are rebuilt even after a failure
    assert "make figures" in readme.read_text() and "make figures" in board.read_text()
    assert cli.main(["figures", "--profile", "smoke", "--only", "nothing-matches"]) == 2
    assert "no notebook matches 'nothing-matches'" in capsys.readouterr().err


def test_kernel_threads_share_the_cores_out_at_least_one_each():
    assert batch.kernel_threads(1, cores=2) == 2
    assert batch.kernel_threads(2, cores=2) == 1
    assert batch.kernel_threads(2, cores=8) == 4
    assert batch.kernel_threads(3, cores=8) == 2
    assert batch.kernel_threads(4, cores=2) == 1  # more notebooks than cores: one thread each, never 0


def test_papers_take_turns_so_that_two_kernels_rarely_wait_on_one_run():
    names = ["evae/fig1", "evae/fig2", "evae/fig3", "mem/fig3", "mem/table1", "other/a"]
    assert batch.papers_in_turn(names) == ["evae/fig1", "mem/fig3", "other/a", "evae/fig2", "mem/table1",
                                           "evae/fig3"]
    assert batch.papers_in_turn([]) == []


def test_a_thread_count_and_malloc_settings_the_user_set_reach_every_kernel(notebook_tree, tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.setenv("MALLOC_MMAP_MAX_", "65536")
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    write_notebook(notebook_tree / "demo" / "threads.ipynb", "import os\nprint('threads', os.environ['OMP_NUM_THREADS'])\n"
                   "print('malloc', os.environ['MALLOC_MMAP_MAX_'], os.environ['MALLOC_TRIM_THRESHOLD_'])")
    [result] = batch.run_notebooks("smoke", device="cpu", jobs=2, notebooks_dir=notebook_tree,
                                   build_dir=tmp_path / "build")
    assert result.ok, result.failure()
    text = nbformat.read(result.output_path, as_version=4).cells[-1].outputs[0]["text"]
    assert "threads 3" in text and f"malloc 65536 {2**36}" in text  # the user's value wins, one by one
    assert os.environ["OMP_NUM_THREADS"] == "3" and os.environ["MALLOC_MMAP_MAX_"] == "65536"
    assert "MALLOC_TRIM_THRESHOLD_" not in os.environ


def test_zero_jobs_is_refused_not_run_as_one(notebook_tree):
    write_notebook(notebook_tree / "demo" / "ok.ipynb", "x = 1")
    with pytest.raises(ValueError, match=r"jobs=0: the number of notebooks run at once must be an integer >= 1"):
        batch.run_notebooks("smoke", jobs=0, notebooks_dir=notebook_tree)


def _tiny_project(tmp_path):
    """tmp_path as a project root: pyproject.toml and notebooks/profiles/smoke.yaml."""
    (tmp_path / "notebooks" / "profiles").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text("")
    smoke = project_root() / "notebooks" / "profiles" / "smoke.yaml"
    (tmp_path / "notebooks" / "profiles" / "smoke.yaml").write_text(smoke.read_text())
    return tmp_path


@pytest.mark.parametrize("profile, goes_to", [("smoke", "notebooks/_build/smoke-figures"), ("laptop", "figures")])
def test_a_notebook_run_outside_the_batch_writes_where_its_profile_says(tmp_path, monkeypatch, profile, goes_to):
    """papermill from another folder, no MEMVAE_FIGURES_DIR: only laptop (and paper) reach figures/."""
    import papermill as pm

    monkeypatch.delenv("MEMVAE_FIGURES_DIR", raising=False)
    monkeypatch.delenv("MEMVAE_PROFILE", raising=False)
    root = _tiny_project(tmp_path / "project")
    notebook = write_notebook(
        root / "notebooks" / "demo" / "nb.ipynb",
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        "from memvae_lib.plots import save_figure\nfrom memvae_lib.results import Row, write_results\n"
        "save_figure(plt.figure(), 'demo/nb')\n"
        "write_results('demo/nb', profile, [Row('q', 'VAE', 1.0, paper=2.0)], device='cpu', protocol={})",
        parameters="profile = 'laptop'")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    pm.execute_notebook(str(notebook), str(elsewhere / "out.ipynb"), parameters={"profile": profile},
                        cwd=str(notebook.parent), kernel_name="python3", progress_bar=False)
    written = sorted(p.relative_to(root).as_posix() for p in root.rglob("nb.*") if p.parent.name == "demo"
                     and p.suffix != ".ipynb")
    assert written == [f"{goes_to}/demo/nb.{ext}" for ext in ("json", "pdf", "png")]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killing_memvae_figures_ends_its_kernel(tmp_path):
    """The kernels' parent poller (JPY_PARENT_PID) ends them with `memvae figures`."""
    root = _tiny_project(tmp_path)
    marks = tmp_path / "marks"
    marks.mkdir()
    write_notebook(root / "notebooks" / "demo" / "sleep.ipynb",
                   f"import os, time, pathlib\npathlib.Path({str(marks)!r}, str(os.getpid())).touch()\n"
                   "time.sleep(300)")
    log = tmp_path / "log.txt"
    with open(log, "w") as out:
        parent = subprocess.Popen([sys.executable, "-m", "memvae_lib.cli", "figures", "--profile", "smoke",
                                   "--only", "demo/sleep"], cwd=root, stdout=out, stderr=subprocess.STDOUT)
    kernels = []
    try:
        end = time.monotonic() + 180
        while not (kernels := [int(p.name) for p in marks.iterdir()]) and time.monotonic() < end:
            time.sleep(0.2)
        assert kernels, f"the kernel never ran the cell:\n{log.read_text()}"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=30)
        end = time.monotonic() + 10
        while alive(kernels[0]) and time.monotonic() < end:
            time.sleep(0.2)
        assert not alive(kernels[0]), "the kernel outlived `memvae figures`"
    finally:
        for pid in [parent.pid, *kernels]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        parent.wait(timeout=30)




@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_stops_memvae_figures_jobs_at_once(tmp_path):
    """Ctrl-C reaches `memvae figures` but not its kernels (each in a session of its own): the
    running notebooks are stopped, not waited for (they sleep 300 s), the queued one never starts,
    and the command says so in one line, without a traceback, exit 130."""
    root = _tiny_project(tmp_path)
    marks = tmp_path / "marks"
    marks.mkdir()
    for name in ("a", "b", "c"):
        write_notebook(root / "notebooks" / "demo" / f"{name}.ipynb",
                       f"import os, time, pathlib\npathlib.Path({str(marks)!r}, str(os.getpid())).touch()\n"
                       "time.sleep(300)")
    log = tmp_path / "log.txt"
    with open(log, "w") as out:  # a session of its own, as a terminal's foreground job
        parent = subprocess.Popen([sys.executable, "-m", "memvae_lib.cli", "figures", "--profile", "smoke",
                                   "--jobs", "2"], cwd=root, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    kernels = []
    try:
        end = time.monotonic() + 180
        while len(kernels := [int(p.name) for p in marks.iterdir()]) < 2 and time.monotonic() < end:
            time.sleep(0.2)
        assert len(kernels) == 2, f"the kernels never ran their cells:\n{log.read_text()}"
        os.killpg(parent.pid, signal.SIGINT)  # what Ctrl-C sends: the foreground process group
        assert parent.wait(timeout=60) == 128 + signal.SIGINT, log.read_text()
        assert not any(alive(pid) for pid in kernels), "a kernel outlived the interrupted batch"
        text = log.read_text()
        assert text.splitlines()[-1] == ("memvae figures: interrupted (Ctrl-C): 0 notebook(s) finished, 2 stopped "
                                         "(demo/a, demo/b), 1 not started. Models being trained keep their last "
                                         "checkpoint: the same command resumes them and reuses every finished one")
        assert "Traceback" not in text and "Kernel died" not in text and "FAILED" not in text, text
        assert len(list(marks.iterdir())) == 2  # demo/c never started
    finally:
        for pid in [parent.pid, *kernels]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        parent.wait(timeout=30)


@pytest.mark.skipif(os.name != "posix", reason="IPC transport is POSIX-only; elsewhere the kernels keep TCP")
def test_the_nbval_goldens_kernels_use_ipc(monkeypatch):
    """tests/goldens/conftest.py gives nbval's kernel manager IPC transport: a real kernel starts on
    Unix sockets private to this user and runs code."""
    import importlib.util

    import nbval.kernel

    monkeypatch.setattr(nbval.kernel, "KernelManager", nbval.kernel.KernelManager)  # restored afterwards
    spec = importlib.util.spec_from_file_location("goldens_conftest", project_root() / "tests/goldens/conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    conftest.pytest_configure(None)
    conftest.pytest_configure(None)  # a second call does not wrap the class twice
    assert nbval.kernel.KernelManager.__name__ == "IPCKernelManager"
    km, kc = nbval.kernel.start_new_kernel(kernel_name=nbval.kernel.CURRENT_ENV_KERNEL_NAME)
    try:
        info = km.get_connection_info()
        assert info["transport"] == "ipc" and Path(info["ip"]).is_absolute()
        assert Path(f"{info['ip']}-{info['shell_port']}").exists()  # the socket file
        assert kc.execute_interactive("x = 6 * 7", timeout=30)["content"]["status"] == "ok"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_the_batch_does_not_interrupt_a_kernel_it_shuts_down(monkeypatch):
    """A finished notebook's kernel gets a shutdown request, not SIGINT first (the signal could
    print "KeyboardInterrupt caught in kernel" into the batch's output); a live one is interrupted."""
    import asyncio

    from jupyter_client.manager import AsyncKernelManager

    from memvae_lib.kernels import manager_class

    sent = []

    async def interrupt(self):
        sent.append(self.shutting_down)

    monkeypatch.setattr(AsyncKernelManager, "_async_interrupt_kernel", interrupt)
    manager = manager_class()()
    manager.shutting_down = False
    asyncio.run(manager._async_interrupt_kernel())
    manager.shutting_down = True
    asyncio.run(manager._async_interrupt_kernel())
    assert sent == [False]
