"""`memvae train --ray`: runs trained as Ray tasks on a local Ray instance end bitwise identical to
the same runs trained without Ray; a killed worker's run is retried and resumes from its checkpoint;
a run that fails is reported alone while the others finish.

ray is the `cluster` extra, which `make setup` (so CI) installs: these tests are never skipped."""
import dataclasses
import io
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
import ray
import torch

from memvae_lib import cli, cluster, experiments
from memvae_lib.cli import main
from memvae_lib.runs import get_or_train, run_dir

# The fastest smoke runs (float64, seconds each): three models on two data sets.
FAST = ["evae/mnist/eVAE-D2-K2-s1", "mem/ocr_letters/VAE", "mem/mnist/VAE"]


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance for the module (starting one takes seconds): the CLI uses it as it is."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def _state(folder: Path) -> dict:
    return torch.load(folder / "model.pt", map_location="cpu", weights_only=True)


def _history(folder: Path) -> list[dict]:
    return [{k: v for k, v in record.items() if k != "seconds"}
            for record in json.loads((folder / "history.json").read_text())]


def _assert_identical(a: Path, b: Path) -> None:
    sa, sb = _state(a), _state(b)
    assert sa.keys() == sb.keys()
    different = [k for k in sa if not torch.equal(sa[k], sb[k])]
    assert not different, f"{a.name}: {different} differ between the two trainings"
    assert _history(a) == _history(b)


def test_runs_trained_through_ray_equal_the_same_runs_trained_without_it(local_ray, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("CI", raising=False)
    argv = ["train", *FAST, "--profile", "smoke", "--device", "cpu"]
    monkeypatch.setenv("MEMVAE_RUNS_DIR", str(tmp_path / "ray"))
    assert main([*argv, "--ray"]) == 0
    lines = capsys.readouterr().out.splitlines()
    finished = [line for line in lines if "done   " in line]
    assert sorted(line.split()[0] for line in finished) == sorted(FAST)  # one line per finished run ...
    assert finished[-1].endswith("[3 done, 0 running, 0 failed, 0 pending]")  # ... with the counts
    assert lines[-1].startswith("ray: 3 run(s): 3 trained, 0 already done, 0 failed in ")
    assert not list((tmp_path / "ray").glob(f"*/{cluster.MARKER}"))  # each task tidied up after itself

    # done runs are not submitted: Ray is not even needed for them
    monkeypatch.setattr(cluster, "_import_ray", lambda: pytest.fail("Ray was asked for runs already done"))
    assert main([*argv, "--ray"]) == 0
    assert "all 3 run(s) already done" in capsys.readouterr().out

    monkeypatch.setenv("MEMVAE_RUNS_DIR", str(tmp_path / "local"))
    assert main(argv) == 0  # `memvae train` without Ray: in this process
    folders = sorted(p.parent.name for p in (tmp_path / "ray").glob("*/done"))
    assert folders == sorted(p.parent.name for p in (tmp_path / "local").glob("*/done")) and len(folders) == 3
    for name in folders:
        _assert_identical(tmp_path / "ray" / name, tmp_path / "local" / name)


def _kill_after_first_checkpoint(folder: Path, killed: list, stop: threading.Event) -> None:
    """SIGKILL the worker process that trains `folder` once its first checkpoint is on disk."""
    while not stop.is_set():
        marker = cluster._read_marker(folder)
        if marker.get("pid") and (folder / "checkpoint.pt").exists() and not (folder / "done").exists():
            os.kill(marker["pid"], signal.SIGKILL)
            killed.append((marker["pid"], cluster._checkpoint_epoch(folder)))
            return
        time.sleep(0.02)


def test_a_killed_worker_is_retried_and_its_run_resumes_to_the_uninterrupted_result(local_ray, tmp_path,
                                                                                     monkeypatch):
    base = experiments.run_spec("evae/mnist/eVAE-D2-K2-s1", "smoke")
    # more epochs and a checkpoint every 2, so that the kill lands mid-run, after a checkpoint
    spec = dataclasses.replace(base, train=dataclasses.replace(base.train, epochs=8, checkpoint_every=2))
    monkeypatch.setenv("MEMVAE_RUNS_DIR", str(tmp_path / "ray"))
    folder = run_dir(spec)
    killed, stop = [], threading.Event()
    killer = threading.Thread(target=_kill_after_first_checkpoint, args=(folder, killed, stop), daemon=True)
    killer.start()
    try:
        # two names for one spec: one run folder, so one task
        outcome = cluster.train_runs({"killed-mid-run": spec, "same-run": spec}, device="cpu", quiet=True,
                                     out=io.StringIO())
    finally:
        stop.set()
        killer.join()
    assert killed, "the worker was never killed (no checkpoint before the run ended?)"
    pid, epoch_at_kill = killed[0]
    result = outcome["killed-mid-run"]
    assert result.status == "done", result.line()
    assert result.attempts == 2 and result.resumed_from is not None and result.resumed_from >= 2, result
    assert outcome["same-run"] is result and cluster._read_marker(folder) == {}

    monkeypatch.setenv("MEMVAE_RUNS_DIR", str(tmp_path / "uninterrupted"))
    get_or_train(spec, device="cpu")
    _assert_identical(folder, run_dir(spec))


def test_a_run_that_fails_is_reported_alone_and_the_others_finish(local_ray, tmp_path, monkeypatch, capsys):
    bad = FAST[2]
    real_run_spec = experiments.run_spec

    def run_spec(name, profile):  # one bad configuration: more training rows than the data set has
        spec = real_run_spec(name, profile)
        return dataclasses.replace(spec, train_subset=10_000_000) if name == bad else spec

    monkeypatch.setattr(experiments, "run_spec", run_spec)
    monkeypatch.setenv("MEMVAE_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("CI", "true")  # quiet: the failure and the summary alone
    assert main(["train", *FAST, "--profile", "smoke", "--device", "cpu", "--ray"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"{bad:<40} FAILED ValueError: train_subset=10000000 but mnist has 60000 training rows")
    assert lines[1].startswith("ray: 3 run(s): 2 trained, 0 already done, 1 failed in ")
    assert len(list(tmp_path.glob("*/done"))) == 2


# ------------------------------------------------------------------------------------------------
# without a Ray instance: argument checks and a missing ray

def test_ray_options_are_checked_before_anything_runs(monkeypatch):
    calls = []
    monkeypatch.setattr(cluster, "train_command", lambda names, profile, **kw: calls.append((names, kw)) or 0)
    assert main(["train", "--ray", FAST[0], "--profile", "smoke"]) == 0  # `--ray NAME`: NAME is a run
    assert calls[-1][0] == [FAST[0]] and calls[-1][1]["address"] is None
    assert main(["train", FAST[0], "--ray", "ray://head:10001", "--gpus-per-run", "0.25", "--profile", "smoke"]) == 0
    assert calls[-1][1]["address"] == "ray://head:10001" and calls[-1][1]["gpus_per_run"] == 0.25
    with pytest.raises(SystemExit, match="with --ray, --cpus-per-run and --gpus-per-run decide"):
        main(["train", FAST[0], "--ray", "--jobs", "2", "--profile", "smoke"])
    with pytest.raises(SystemExit, match="are Ray task resources; add --ray"):
        main(["train", FAST[0], "--gpus-per-run", "0.5", "--profile", "smoke"])
    assert len(calls) == 2


def test_ray_missing_is_one_line_naming_the_extra(monkeypatch):
    monkeypatch.setattr(cluster, "ray_available", lambda: False)
    with pytest.raises(SystemExit) as exit_:
        main(["train", FAST[0], "--ray", "--profile", "smoke"])
    assert str(exit_.value) == "memvae train: --ray needs the ray package, which is not installed: " \
                               "pip install -e '.[cluster]'"
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if it were not installed
    with pytest.raises(cluster.RayMissing, match=r"pip install -e '\.\[cluster\]'"):
        cluster._import_ray()


def test_the_library_and_the_local_path_never_import_ray():
    import subprocess

    code = ("import sys; import memvae_lib.cli, memvae_lib.cluster, memvae_lib.runs; "
            "sys.exit('ray' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
