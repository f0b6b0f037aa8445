"""`memvae train`: globs over experiment names, concurrent runs, pausing at a time budget, workers that
die with the command; argument checks of every subcommand."""
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from processes import alive

from memvae_lib import cli, train_jobs
from memvae_lib.cli import main


def test_train_pauses_at_the_budget_and_the_same_command_resumes_to_the_end(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MEMVAE_RUNS_DIR", str(tmp_path))
    command = ["train", "mem/frey/VAE-b100", "--profile", "smoke", "--device", "cpu", "--max-minutes", "0"]
    codes = [main(command) for _ in range(3)]  # smoke: 3 epochs; a zero budget pauses after each
    assert codes == [3, 3, 0]
    out = capsys.readouterr().out
    assert out.count("PAUSED paused after epoch") == 2 and "done" in out
    assert len(list(tmp_path.glob("frey-VAE-*/done"))) == 1


def test_train_globs_run_concurrently(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMVAE_RUNS_DIR", str(tmp_path))
    assert main(["train", "mem/frey/*-b10", "--profile", "smoke", "--device", "cpu", "--jobs", "2"]) == 0
    assert sorted(p.parent.name.split("-")[1] for p in tmp_path.glob("*/done")) == ["MemVAE", "VAE"]


@pytest.mark.parametrize("command", ["train", "eval"])
def test_an_unknown_name_is_a_usage_error_naming_it_the_closest_names_and_the_list(command, monkeypatch, capsys):
    """Exit 2 as for any bad option (not 1, a failed run), before anything is trained."""
    from memvae_lib import runs

    monkeypatch.setattr(runs, "get_or_train", lambda *a, **k: pytest.fail("trained before the check"))
    with pytest.raises(SystemExit) as exit_:
        main([command, "mem/frey/VAE-b1000", "--profile", "smoke"])
    assert exit_.value.code == 2
    error = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert error == [f"memvae {command}: error: no experiment matches 'mem/frey/VAE-b1000' (did you mean "
                     f"mem/frey/VAE-b100, mem/frey/VAE-b10, mem/frey/MEM-VAE-b100?) at profile 'smoke'; "
                     f"`memvae {command} --list --profile smoke` lists the names"]


def test_train_names_only_the_patterns_that_match_nothing(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "mem/frey/*", "zzz/*", "--profile", "smoke"])
    assert exit_.value.code == 2
    assert "no experiment matches 'zzz/*' at profile 'smoke'" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "eval"])
def test_list_shows_each_name_with_what_it_trains(command, capsys):
    from memvae_lib import experiments

    assert main([command, "--list", "--profile", "laptop"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == experiments.experiment_names("laptop")
    described = {line.split()[0]: line.split(maxsplit=1)[1] for line in lines}
    assert described["mem/mnist/MEM-IWAE-50"] == (
        "MemVAEConfig 784-500-500-100, relu+BN, bernoulli, k=50, LRE (0.1, 0.1), memory (70, 30) slots, sigmoid "
        "attention, ladder composition; trained on mnist (first 10,000), 2 epochs, batch 100")
    assert described["mem/frey/VAE-b10"] == ("VAEConfig 560-200-10, relu+BN, gaussian, k=1; trained on frey, "
                                             "40 epochs, batch 10")
    # names that differ in one setting are told apart by it
    assert len(set(described.values())) == len(described), "two experiments with the same description"


def test_train_and_eval_help_say_what_they_do_and_what_a_profile_is(capsys):
    texts = {}
    for command in ("train", "eval"):
        with pytest.raises(SystemExit) as exit_:
            main([command, "--help"])
        assert exit_.value.code == 0
        texts[command] = " ".join(capsys.readouterr().out.split())
        assert "--profile PROFILE the compute budget: smoke (seconds per notebook" in texts[command]
        assert "--progress-seconds S" in texts[command]
    assert "Train the named experiments" in texts["train"] and "exit status: 0 every run finished" in texts["train"]
    assert "Print a named experiment's test log-likelihood" in texts["eval"]


class Stream:
    """sys.stdout / sys.stderr as a terminal or not."""

    def __init__(self, tty: bool):
        self.tty = tty

    def isatty(self):
        return self.tty


@pytest.mark.parametrize("stdout_tty, stderr_tty, workers, expected", [
    (True, True, False, None),        # a terminal, one run: the bar (MEMVAE_PROGRESS left unset, auto)
    (False, True, False, "lines"),    # memvae train ... > log
    (True, False, False, "lines"),    # memvae train ... 2> log
    (False, False, False, "lines"),   # memvae train ... > log 2>&1, nohup, a CI job
    (True, True, True, "lines"),      # --jobs 2: two workers' bars would overwrite each other
])
def test_progress_lines_unless_all_in_a_terminal(monkeypatch, stdout_tty, stderr_tty, workers, expected):
    from memvae_lib.train_jobs import progress_lines

    monkeypatch.delenv("MEMVAE_PROGRESS", raising=False)
    monkeypatch.delenv("MEMVAE_PROGRESS_SECONDS", raising=False)
    monkeypatch.setattr(sys, "stdout", Stream(stdout_tty))
    monkeypatch.setattr(sys, "stderr", Stream(stderr_tty))
    with progress_lines(2.5, workers=workers):
        assert os.environ.get("MEMVAE_PROGRESS") == expected
        assert os.environ["MEMVAE_PROGRESS_SECONDS"] == "2.5"
    # undone afterwards: main() may be called in-process
    assert "MEMVAE_PROGRESS" not in os.environ and "MEMVAE_PROGRESS_SECONDS" not in os.environ


def test_the_callers_progress_setting_wins(monkeypatch):
    from memvae_lib.train_jobs import progress_lines

    monkeypatch.setenv("MEMVAE_PROGRESS", "0")
    monkeypatch.setattr(sys, "stdout", Stream(False))
    with progress_lines(None, workers=True):
        assert os.environ["MEMVAE_PROGRESS"] == "0"
    assert os.environ["MEMVAE_PROGRESS"] == "0"


# ------------------------------------------------------------------------------------------------
# workers die with `memvae train`

# Runs `memvae train` with every run replaced by a long sleep that first leaves its PID in $MARKS.
# Spawned workers re-import this file as __mp_main__, so the replacement reaches them too.
BUSY_LAUNCHER = '''
import os, sys, time
from pathlib import Path

import memvae_lib.experiments as experiments
from memvae_lib import cli, train_jobs


def busy_run_spec(name, profile):
    Path(os.environ["MARKS"], str(os.getpid())).write_text(name)
    time.sleep(300)


experiments.run_spec = busy_run_spec

if __name__ == "__main__":
    sys.exit(cli.main(sys.argv[1:]))
'''


def _wait_for(condition, timeout: float, interval: float = 0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if value := condition():
            return value
        time.sleep(interval)
    return condition()


def _children(pid: int) -> list[int]:
    """The child processes of `pid` (every thread's), from /proc."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _resource_tracker(pid: int) -> int | None:
    """multiprocessing's resource tracker started by `pid`: it is what warns of leaked semaphores."""
    for child in _children(pid):
        with contextlib.suppress(FileNotFoundError):
            if b"resource_tracker" in Path(f"/proc/{child}/cmdline").read_bytes():
                return child
    return None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig, code", [(signal.SIGKILL, -signal.SIGKILL), (signal.SIGTERM, 128 + signal.SIGTERM),
                                       (signal.SIGINT, 128 + signal.SIGINT)], ids=["SIGKILL", "SIGTERM", "SIGINT"])
def test_killing_memvae_train_alone_ends_its_worker_processes(tmp_path, sig, code):
    """Whatever ends `memvae train --jobs 2` (kill -9 or kill to it alone, Ctrl-C to its process group
    as a terminal sends it) ends its workers without waiting for their runs, without a traceback, and
    multiprocessing does not warn of leaked semaphores."""
    launcher, marks, log = tmp_path / "launch.py", tmp_path / "marks", tmp_path / "log.txt"
    launcher.write_text(BUSY_LAUNCHER)
    marks.mkdir()
    env = {**os.environ, "MARKS": str(marks), "MEMVAE_RUNS_DIR": str(tmp_path / "runs")}
    command = [sys.executable, str(launcher), "train", "mem/frey/*-b10", "--profile", "smoke", "--device", "cpu",
               "--jobs", "2"]
    with open(log, "w") as out:
        parent = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    workers, tracker = [], None
    try:
        workers = _wait_for(lambda: [int(p.name) for p in marks.iterdir()] if len(list(marks.iterdir())) == 2
                            else None, timeout=180)
        assert workers, f"the two workers never started a run:\n{log.read_text()}"
        assert parent.poll() is None and parent.pid not in workers  # busy in workers, parent waiting
        tracker = _resource_tracker(parent.pid)
        if sig == signal.SIGINT:
            os.killpg(parent.pid, sig)  # Ctrl-C: the workers get it too
        else:
            os.kill(parent.pid, sig)  # the parent alone
        assert parent.wait(timeout=30) == code, log.read_text()  # the runs sleep 300 s: not waited for
        survivors = _wait_for(lambda: not any(alive(pid) for pid in workers), timeout=10) or \
            [pid for pid in workers if alive(pid)]
        assert survivors is True, f"workers {survivors} outlived `memvae train` killed by {sig.name}"
        # the tracker writes its warning as it ends, once the parent is gone
        assert tracker is None or _wait_for(lambda: not alive(tracker), timeout=30), "the resource tracker lives on"
        assert "leaked semaphore" not in log.read_text()
        if sig != signal.SIGKILL:
            assert "stopped every run; the same command resumes each from its last checkpoint" in log.read_text()
            assert "Traceback" not in log.read_text()
    finally:
        for pid in [parent.pid, *workers] + ([tracker] if tracker else []):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        parent.wait(timeout=30)


def test_jobs_1_trains_in_this_process_without_workers(monkeypatch, capsys):
    pids = []
    monkeypatch.setattr(train_jobs, "train_one", lambda name, *args: pids.append(os.getpid()) or "done   (stub)")
    assert main(["train", "mem/frey/*-b10", "--profile", "smoke", "--device", "cpu"]) == 0
    assert pids == [os.getpid(), os.getpid()]
    assert capsys.readouterr().out.count("done   (stub)") == 2


def test_a_single_run_needs_no_worker_even_with_jobs(monkeypatch):
    pids = []
    monkeypatch.setattr(train_jobs, "train_one", lambda name, *args: pids.append(os.getpid()) or "done   (stub)")
    assert main(["train", "mem/frey/VAE-b10", "--profile", "smoke", "--device", "cpu", "--jobs", "4"]) == 0
    assert pids == [os.getpid()]


# ------------------------------------------------------------------------------------------------
# arguments checked by argparse, before anything runs

@pytest.mark.parametrize("argv, says", [
    (["eval", "mem/frey/VAE-b100", "--k", "0"], "argument --k: 0 is below 1; give an integer >= 1"),
    (["eval", "mem/frey/VAE-b100", "--k", "-5"], "argument --k: -5 is below 1"),
    (["train", "mem/frey/VAE-b100", "--jobs", "0"], "argument --jobs: 0 is below 1; give an integer >= 1"),
    (["train", "mem/frey/VAE-b100", "--jobs", "two"], "argument --jobs: 'two' is not a whole number"),
    (["figures", "--jobs", "0"], "argument --jobs: 0 is below 1"),
    (["train", "mem/frey/VAE-b100", "--profile", "nonsense"],
     "argument --profile: unknown profile 'nonsense'; use one of laptop, paper, smoke"),
    (["eval", "mem/frey/VAE-b100", "--profile", "nonsense"], "argument --profile: unknown profile 'nonsense'"),
    (["figures", "--profile", "nonsense"], "argument --profile: unknown profile 'nonsense'"),
    (["train", "mem/frey/VAE-b100", "--max-minutes", "-1"], "argument --max-minutes: '-1' is not a number of minutes"),
    (["train", "mem/frey/VAE-b100", "--max-minutes", "nan"], "argument --max-minutes: 'nan' is not a number"),
    (["train", "mem/frey/VAE-b100", "--max-minutes", "inf"], "argument --max-minutes: 'inf' is not a number"),
    (["eval", "mem/frey/VAE-b100", "--device", "cuda"],
     "argument --device: device='cuda' but CUDA is not available here; use 'cpu' or 'auto'"),
    (["train", "mem/frey/VAE-b100", "--device", "cuda:0"], "argument --device: device='cuda:0' but CUDA is not"),
    (["figures", "--device", "cuda"], "argument --device: device='cuda' but CUDA is not available here"),
    (["train", "mem/frey/VAE-b100", "--device", "gpu"], "argument --device: device='gpu' is not one of"),
])
def test_bad_arguments_are_one_line_usage_errors_before_any_work(argv, says, monkeypatch, capsys):
    import torch

    from memvae_lib import batch, runs

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a CPU-only machine, even on a GPU one
    monkeypatch.setattr(runs, "get_or_train", lambda *a, **k: pytest.fail("trained before the check"))
    monkeypatch.setattr(batch, "run_notebooks", lambda *a, **k: pytest.fail("ran notebooks before the check"))
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    error_lines = [line for line in err.splitlines() if "error:" in line]
    assert len(error_lines) == 1 and error_lines[0].startswith(f"memvae {argv[0]}: error: {says}"), err
    assert "Traceback" not in err


def test_a_cuda_index_beyond_the_machines_devices_is_refused(monkeypatch, capsys):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(SystemExit):
        main(["train", "mem/frey/VAE-b100", "--device", "cuda:3"])
    assert "device='cuda:3' but this machine has 1 CUDA device(s); use 'cuda:0' to 'cuda:0'" in capsys.readouterr().err


def test_values_at_the_edge_are_accepted():
    args = cli.build_parser().parse_args(["train", "x", "--jobs", "1", "--max-minutes", "0", "--profile", "smoke",
                                          "--device", "cpu"])
    assert (args.jobs, args.max_minutes, args.profile, args.device) == (1, 0.0, "smoke", "cpu")
    assert cli.build_parser().parse_args(["eval", "x", "--k", "1"]).k == 1


def test_get_profile_error_is_neutral_and_lists_the_profiles():
    from memvae_lib.profiles import get_profile

    with pytest.raises(ValueError) as error:
        get_profile("nonsense")
    assert str(error.value) == "unknown profile 'nonsense': use one of laptop, paper, smoke"
