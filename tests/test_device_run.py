"""scripts/device_run.py at its --tiny budget on the CPU: every stage runs, the output folder holds
what the device run may bring back, and a missing data folder is a clear error (issue 14)."""
import json
import math
import os
import pathlib
import subprocess
import sys

import pytest

from memvae_lib.compiling import cpu_toolchain_missing

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = pathlib.Path(os.environ.get("MEMVAE_DATA_DIR") or ROOT.parent / "shared" / "data")
COMPILER_MISSING = cpu_toolchain_missing()
needs_data = pytest.mark.skipif(not (SHARED / "mnist").is_dir(), reason=f"no data at {SHARED}")


def run(*args, env=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    env.pop("OUT", None)
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "device_run.py"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


@needs_data
def test_tiny_device_run_runs_every_stage(tmp_path):
    out = tmp_path / "out"
    compile_args = ["--compile", "none"] if COMPILER_MISSING else []  # tests/test_compiling.py says why
    proc = run("--out", str(out), "--data-dir", str(SHARED), "--tiny", *compile_args,
               env={"MEMVAE_RUNS_DIR": str(tmp_path / "x")})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    files = sorted(p.name for p in out.rglob("*"))
    assert files == ["log.txt", "results.json", "table.txt"]  # <= 8 files, never a checkpoint
    assert all((out / f).stat().st_size < 16 << 20 for f in files)
    results = json.loads((out / "results.json").read_text())
    assert results["errors"] == []
    assert [r["model"] for r in results["bench_training"]] == ["VAE", "MEM-VAE", "IWAE-2", "MEM-IWAE-2"]
    assert all(r["dloss"] < 1e-3 for r in results["bench_training"])  # ours and the plain loop: one network
    compiled = [(r["model"], r["compile_mode"]) for r in results["bench_training"] if r["compile_s"] is not None]
    iwll = results["bench_iwll"]
    if COMPILER_MISSING:
        assert compiled == [] and "compiled_seconds" not in iwll
    else:
        assert compiled == [("VAE", "reduce-overhead")] and results["bench_training"][0]["compiled_ms"] > 0
        assert iwll["compiled_seconds"] > 0 and math.isfinite(iwll["compiled_mean_ll_untrained"])
    assert [r["models"] for r in results["bench_stacked"]] == [1, 2]
    assert results["bench_iwll"]["images"] > 0 and results["bench_iwll"]["floor_seconds"] > 0
    rows = results["table1"]
    assert [r["model"] for r in rows] == ["VAE", "MEM-VAE"]
    for r in rows:
        assert r["epochs_done"] == 2 and len(r["test_ll"]) == 2 and all(math.isfinite(v) and v < 0 for v in r["test_ll"])
    assert "MEM Table 1" in (out / "table.txt").read_text()
    assert not (tmp_path / "x").exists()  # checkpoints went to a scratch folder of the script's own


@pytest.mark.parametrize("args, message", [
    (["--data-dir", "/nonexistent/data"], r"no MNIST at --data-dir='/nonexistent/data'.*MEMVAE_DATA_DIR"),
    ([], r"no output folder: pass --out or set OUT"),
    (["--compile", "fastest"], r"--compile='fastest' is not a torch.compile mode.*'reduce-overhead'.*'none'"),
])
def test_missing_inputs_are_clear_errors(tmp_path, args, message):
    import re
    out = ["--out", str(tmp_path)] if "--data-dir" in args else []
    proc = run(*out, *args, "--tiny", env={"MEMVAE_DATA_DIR": ""})
    assert proc.returncode == 2 and re.search(message, proc.stderr), proc.stderr
