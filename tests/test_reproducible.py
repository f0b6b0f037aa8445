"""Smoke numbers that do not depend on the CPU: the smoke profile in float64 (memvae_lib/reproducible.py).

The cross-CPU test trains one small MEM-IWAE (batch norm, memory, LRE, k = 5) under settings that
make this machine compute as other CPUs would (kernel dispatch, MKL path, thread count) and checks
that the float64 parameters agree far below anything the goldens print.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from memvae_lib import experiments
from memvae_lib.papers.evae import configs as evae_configs
from memvae_lib.reproducible import CPU_VARIANTS, numerics_fingerprint
from memvae_lib.runs import RunSpec, spec_hash
from memvae_lib.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]

# A MEM-IWAE-5 with both memories, trained 60 steps in a fresh process; prints its parameters.
TRAIN_ONE = """
import json, sys, torch
from memvae_lib.models import build_model
from memvae_lib.models.mem_vae import MemVAEConfig
from memvae_lib.train import TrainConfig, train
torch.set_default_dtype(getattr(torch, sys.argv[1]))  # as runs.get_or_train builds a model
torch.manual_seed(0)
model = build_model(MemVAEConfig(input_dim=64, hidden=(48, 32), latent_dim=8, k=5, memory_slots=(12, 6)))
x = torch.rand(600, 64, generator=torch.Generator().manual_seed(1), dtype=torch.float32)
train(model, x, TrainConfig(epochs=3, batch_size=30), binarize=True)
print(json.dumps([torch.get_num_threads()] + torch.cat([p.detach().flatten() for p in model.parameters()]).tolist()))
"""


def trained_parameters(dtype: str, env: dict[str, str]) -> tuple[int, torch.Tensor]:
    out = subprocess.run([sys.executable, "-c", TRAIN_ONE, dtype], env={**os.environ, **env}, cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    threads, *values = json.loads(out)
    return threads, torch.tensor(values, dtype=torch.float64)


@pytest.fixture(scope="module")
def reference():
    return trained_parameters("float64", CPU_VARIANTS["threads-2"])[1]


@pytest.mark.parametrize("variant", ["aten-default", "aten-avx2", "mkl-compatible", "threads-1"])
def test_float64_training_agrees_across_simulated_cpus(variant, reference):
    threads, other = trained_parameters("float64", CPU_VARIANTS[variant])
    if variant == "threads-1":
        assert threads == 1  # the setting did reach torch
    # Rounding differences start near 1e-16 and training amplifies them; 1e-9 leaves six orders of
    # magnitude below the goldens' two printed decimals.
    assert torch.allclose(other, reference, rtol=1e-9, atol=1e-9), (other - reference).abs().max()


def test_the_smoke_profile_computes_in_float64_and_the_others_in_float32():
    assert numerics_fingerprint()["dtype"] == "float64"
    for profile in ("smoke", "laptop", "paper"):
        dtypes = {experiments.run_spec(n, profile).dtype for n in experiments.experiment_names(profile)}
        assert dtypes == {"float64" if profile == "smoke" else "float32"}, profile
    # grid cells reached without the registry (parzen_protocol) carry it too
    _, cell = evae_configs.grid_cell("eVAE", evae_configs.budget("smoke"), layers=1, hidden=500,
                                    latent=8, epitome=4)
    assert cell.dtype == "float64"


def test_float32_runs_keep_their_cache_folders():
    # hashes of numerics v3, before RunSpec had a dtype: a laptop user's trained runs are still found
    assert spec_hash(experiments.run_spec("evae/faces/VAE-L2-H500-D15", "laptop")) == "77a4bff135199e05"
    assert spec_hash(experiments.run_spec("evae/faces/VAE-L2-H1000-D15", "paper")) == "22dea6584c11fec7"
    f32 = experiments.run_spec("mem/mnist/VAE", "laptop")
    import dataclasses
    assert spec_hash(dataclasses.replace(f32, dtype="float64")) != spec_hash(f32)


def test_a_bad_dtype_is_refused_by_name():
    from memvae_lib.models.vae import VAEConfig

    with pytest.raises(ValueError, match=r"RunSpec.dtype='float16'.*float32"):
        RunSpec(dataset="mnist", model=VAEConfig(), train=TrainConfig(epochs=1), dtype="float16")


def test_every_golden_was_recorded_in_the_smoke_dtype():
    goldens = sorted((ROOT / "tests" / "goldens").glob("*/*.ipynb"))
    assert goldens
    for path in goldens:
        numerics = json.loads(path.read_text())["metadata"].get("memvae", {}).get("numerics", {})
        assert numerics.get("dtype") == "float64", f"{path.name}: not made by make goldens in float64"


def test_cpu_variants_name_settings_torch_reads():
    # a typo in a variable name would simulate nothing
    names = {k for env in CPU_VARIANTS.values() for k in env}
    assert names == {"ATEN_CPU_CAPABILITY", "MKL_CBWR", "OMP_NUM_THREADS", "MKL_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", "import torch; print(torch.backends.cpu.get_cpu_capability())"],
                         env={**os.environ, **CPU_VARIANTS["aten-default"]}, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "DEFAULT"


@pytest.mark.parametrize("config", ["VAEConfig", "MemVAEConfig", "EVAEConfig", "MVAEConfig"])
def test_a_float64_model_takes_float32_inputs_as_float64(config):
    """Notebooks pass float32 data and draws to the smoke profile's float64 models: inputs follow
    the model's dtype at every public method, and the results equal those of float64 inputs."""
    from memvae_lib import models

    kwargs = dict(input_dim=12, hidden=(10,), latent_dim=4)
    if config in ("EVAEConfig", "MVAEConfig"):
        kwargs.update(epitome_size=2, stride=2)
    if config == "MemVAEConfig":
        kwargs.update(memory_slots=(5,), lre_weights=(0.1,))
    torch.set_default_dtype(torch.float64)
    try:
        torch.manual_seed(0)
        model = models.build_model(getattr(models, config)(**kwargs)).eval()
    finally:
        torch.set_default_dtype(torch.float32)
    x32 = torch.rand(6, 12, generator=torch.Generator().manual_seed(1))
    x64 = x32.double()
    for method in ("posterior_mean", "kl_per_unit", "reconstruct"):
        out = getattr(model, method)(x32)
        assert out.dtype == torch.float64 and torch.equal(out, getattr(model, method)(x64)), method
    torch.manual_seed(2)
    a = model.log_weights(x32, 3)
    torch.manual_seed(2)
    assert a.dtype == torch.float64 and torch.equal(a, model.log_weights(x=x64, k=3))
    z = model.sample_prior(5, torch.Generator().manual_seed(3))
    assert z.dtype == torch.float64
    assert torch.equal(model.decode_mean(z.float()), model.decode_mean(z.float().double()))
