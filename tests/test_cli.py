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

from memvae_lib import cli
from memvae_lib.cli import main


def test_train_pauses_at_the_budget_and_the_same_command_resumes_to_the_end(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MEMVAE_RUNS_DIR", str(tmp_path))
    command = ["train", "mem/frey/VAE-b100", "--profile", "smoke", "--device", "cpu", "--max-minutes", "0"]
    codes = [main(command) for _ in range(3)]  # smoke: 3 epochs; a zero budget pauses after each
    assert codes == [3, 3, 0]
    out = capsys.readouterr().out
    assert out.count("PAUSED paused after epoch") == 2 and "done" in out
    assert len(list(tmp_path.glob("frey-VAE-*/done"))) == 1


def test_train_globs_run_concurrently_and_unknown_names_fail_fast(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MEMVAE_RUNS_DIR", str(tmp_path))
    assert main(["train", "mem/frey/*-b10", "--profile", "smoke", "--device", "cpu", "--jobs", "2"]) == 0
    assert sorted(p.parent.name.split("-")[1] for p in tmp_path.glob("*/done")) == ["MemVAE", "VAE"]
    with pytest.raises(SystemExit, match="no experiment matches mem/nope"):
        main(["train", "mem/nope", "--profile", "smoke"])


# ------------------------------------------------------------------------------------------------
# workers die with `memvae train`

# Runs `memvae train` with every run replaced by a long sleep that first leaves its PID in $MARKS.
# Spawned workers re-import this file as __mp_main__, so the replacement reaches them too.
BUSY_LAUNCHER = '''
import os, sys, time
from pathlib import Path

import memvae_lib.experiments as experiments
from memvae_lib import cli


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


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_killing_memvae_train_alone_ends_its_worker_processes(tmp_path, sig):
    launcher, marks, log = tmp_path / "launch.py", tmp_path / "marks", tmp_path / "log.txt"
    launcher.write_text(BUSY_LAUNCHER)
    marks.mkdir()
    env = {**os.environ, "MARKS": str(marks), "MEMVAE_RUNS_DIR": str(tmp_path / "runs")}
    command = [sys.executable, str(launcher), "train", "mem/frey/*-b10", "--profile", "smoke", "--device", "cpu",
               "--jobs", "2"]
    with open(log, "w") as out:
        parent = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    workers = []
    try:
        workers = _wait_for(lambda: [int(p.name) for p in marks.iterdir()] if len(list(marks.iterdir())) == 2
                            else None, timeout=180)
        assert workers, f"the two workers never started a run:\n{log.read_text()}"
        assert parent.poll() is None and parent.pid not in workers  # busy in workers, parent waiting
        os.kill(parent.pid, sig)  # the parent alone, not its process group (the test's own)
        parent.wait(timeout=30)
        survivors = _wait_for(lambda: not any(alive(pid) for pid in workers), timeout=10) or \
            [pid for pid in workers if alive(pid)]
        assert survivors is True, f"workers {survivors} outlived `memvae train` killed by {sig.name}"
    finally:
        for pid in [parent.pid, *workers]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        parent.wait(timeout=30)


def test_jobs_1_trains_in_this_process_without_workers(monkeypatch, capsys):
    pids = []
    monkeypatch.setattr(cli, "_train_one", lambda name, *args: pids.append(os.getpid()) or "done   (stub)")
    assert main(["train", "mem/frey/*-b10", "--profile", "smoke", "--device", "cpu"]) == 0
    assert pids == [os.getpid(), os.getpid()]
    assert capsys.readouterr().out.count("done   (stub)") == 2


def test_a_single_run_needs_no_worker_even_with_jobs(monkeypatch):
    pids = []
    monkeypatch.setattr(cli, "_train_one", lambda name, *args: pids.append(os.getpid()) or "done   (stub)")
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
