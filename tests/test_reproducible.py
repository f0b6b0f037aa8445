"""The pinned CPU numerics behind the goldens: what the pin sets, and that torch obeys it."""

import json
import os
import subprocess
import sys
from pathlib import Path

from memvae_lib.reproducible import PINNED_CPU_ENV, PINNED_RUNS_SUBDIR, pin_cpu_numerics

ROOT = Path(__file__).resolve().parents[1]


def test_pin_sets_the_env_and_its_own_runs_folder(tmp_path):
    environ = {"MEMVAE_RUNS_DIR": str(tmp_path / "runs"), "OMP_NUM_THREADS": "16"}
    pinned = pin_cpu_numerics(environ)
    assert environ["OMP_NUM_THREADS"] == "2"  # a user's own setting is overridden, not kept
    assert {k: environ[k] for k in PINNED_CPU_ENV} == PINNED_CPU_ENV
    assert environ["MEMVAE_RUNS_DIR"] == str(tmp_path / "runs" / PINNED_RUNS_SUBDIR) == pinned["MEMVAE_RUNS_DIR"]
    pin_cpu_numerics(environ)  # idempotent: no pinned-cpu/pinned-cpu
    assert environ["MEMVAE_RUNS_DIR"] == str(tmp_path / "runs" / PINNED_RUNS_SUBDIR)


def test_pin_defaults_to_the_user_cache(monkeypatch):
    monkeypatch.setenv("HOME", "/home/someone")
    environ = {}
    pin_cpu_numerics(environ)
    assert environ["MEMVAE_RUNS_DIR"] == f"/home/someone/.cache/memvae/runs/{PINNED_RUNS_SUBDIR}"


def test_torch_in_a_pinned_process_uses_the_plain_kernels_and_two_threads():
    # guards the variable names against a torch that stops reading them
    env = {**os.environ, **PINNED_CPU_ENV}
    out = subprocess.run([sys.executable, "-c", "import json, torch; print(json.dumps(["
                          "torch.backends.cpu.get_cpu_capability(), torch.get_num_threads(), "
                          "torch.cuda.is_available()]))"],
                         env=env, capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == ["DEFAULT", 2, False]


def test_numpys_openblas_in_a_pinned_process_uses_the_pinned_kernels():
    env = {**os.environ, **PINNED_CPU_ENV}
    code = ("import json, numpy, threadpoolctl; print(json.dumps(sorted({i['architecture'] for i in "
            "threadpoolctl.threadpool_info() if i['internal_api'] == 'openblas'})))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert json.loads(out) in ([], [PINNED_CPU_ENV["OPENBLAS_CORETYPE"]])  # [] where numpy has another BLAS


def test_every_golden_was_recorded_under_the_pin():
    goldens = sorted((ROOT / "tests" / "goldens").glob("*/*.ipynb"))
    assert goldens
    for path in goldens:
        numerics = json.loads(path.read_text())["metadata"].get("memvae", {}).get("numerics", {})
        assert numerics.get("pinned") == PINNED_CPU_ENV, f"{path.name}: not made by make goldens under the pin"
