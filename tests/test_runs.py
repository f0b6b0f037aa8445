"""Run cache: spec hashing, run folders, get_or_train (train once, load after, resume, locking)."""
import dataclasses
import functools
import hashlib
import multiprocessing
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

import memvae_lib
from memvae_lib.data import fixed_binarization
from memvae_lib.models.base import OMIT_AT_DEFAULT, LatentVariableModel, config_dict
from memvae_lib.nets import BatchNorm
from memvae_lib.runs import RunSpec, get_or_train, run_dir, runs_dir, spec_hash
from memvae_lib.train import TrainConfig


@dataclass(frozen=True)
class TinyConfig:
    d: int = 20
    latent: int = 2
    extra: dict = field(default_factory=lambda: {"a": 1, "b": 2})


class Tiny(LatentVariableModel):
    """20 -> BN -> 2 latents -> 20 Bernoulli, enough for train/prepare_evaluation."""

    def __init__(self, config):
        super().__init__()
        self.config, self.latent_dim = config, config.latent
        self.enc, self.bn = nn.Linear(config.d, 2 * config.latent), BatchNorm(2 * config.latent)
        self.dec = nn.Linear(config.latent, config.d)

    def log_weights(self, x, k):
        mu, logvar = self.bn(self.enc(x)).chunk(2, -1)
        eps = torch.randn(x.shape[0], k, self.latent_dim)
        z = mu[:, None] + (0.5 * logvar[:, None]).exp() * eps
        logits = self.dec(z)
        log_px = -nn.functional.binary_cross_entropy_with_logits(
            logits, x[:, None].expand_as(logits), reduction="none").sum(-1)
        return log_px - 0.5 * (z ** 2).sum(-1) + 0.5 * (logvar[:, None] + eps ** 2).sum(-1)

    def training_loss(self, x):
        loss = -self.log_weights(x, 1).mean()
        return loss, {}

    def decode_mean(self, z):
        return torch.sigmoid(self.dec(z))

    def posterior_mean(self, x):
        return self.bn(self.enc(x)).chunk(2, -1)[0]

    sample_posterior = kl_per_unit = posterior_mean

    def sample_prior(self, n, generator=None):
        return torch.randn(n, self.latent_dim, generator=generator)


def spec(**changes):
    base = dict(dataset="mnist", model=TinyConfig(), train=TrainConfig(epochs=3, batch_size=16, checkpoint_every=2),
                label="tiny")
    return RunSpec(**{**base, **changes})


def train_x():
    return torch.rand(64, 20, generator=torch.Generator().manual_seed(0))


def counting_loader(counter, name, delay=0.0):
    """A data loader that records each call (only training loads data) in the file `counter`."""
    with open(counter, "a") as f:
        f.write(name + "\n")
    time.sleep(delay)  # keeps the lock held long enough for a concurrent asker to queue up
    return SimpleNamespace(train_x=train_x(), kind="grey")


def calls(counter):
    return len(counter.read_text().splitlines()) if counter.exists() else 0


def digest(model):
    return hashlib.sha256(b"".join(t.numpy().tobytes() for t in model.state_dict().values())).hexdigest()


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMVAE_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path


# ---- hashing -------------------------------------------------------------------------------------
def test_spec_hash_stable_across_processes_and_dict_order():
    h = spec_hash(spec())
    assert len(h) == 16 and int(h, 16) >= 0
    assert spec_hash(spec(model=TinyConfig(extra={"b": 2, "a": 1}))) == h
    assert spec_hash(spec(label="another name")) == h
    code = ("import sys; sys.path.insert(0, 'tests'); import test_runs; "
            "print(test_runs.spec_hash(test_runs.spec()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1], env={**os.environ, "PYTHONHASHSEED": "123"})
    assert out.stdout.strip() == h


def changed(value):
    return {int: lambda v: v + 1, float: lambda v: v / 2,
            str: {"mem": "constant", "adam_lasagne": "adam", "test_ll": "active_units"}.get,
            bool: lambda v: not v, type(None): lambda v: 7}[type(value)](value)


def test_spec_hash_changes_with_every_field(monkeypatch):
    base = spec()
    hashes = {spec_hash(base)}
    curve = {"eval_metric": {"eval_every": 1}}  # a curve's metric goes with a curve
    variants = [dataclasses.replace(base, train=dataclasses.replace(base.train, **{f.name: changed(getattr(base.train, f.name))},
                                                                    **curve.get(f.name, {})))
                for f in dataclasses.fields(TrainConfig)]
    variants += [dataclasses.replace(base, model=TinyConfig(d=21)), dataclasses.replace(base, model=TinyConfig(extra={"a": 2})),
                 dataclasses.replace(base, dataset="frey"), dataclasses.replace(base, train_subset=10),
                 dataclasses.replace(base, binarize=False)]
    for v in variants:
        hashes.add(spec_hash(v))
    assert len(hashes) == len(variants) + 1
    monkeypatch.setattr(memvae_lib, "NUMERICS_VERSION", memvae_lib.NUMERICS_VERSION + 1)
    assert spec_hash(base) not in hashes


def test_a_field_marked_omit_at_default_leaves_the_hash_alone_at_its_default():
    """A config field added later (OMIT_AT_DEFAULT) must not move the folders of cached runs."""
    later = dataclasses.make_dataclass("TinyConfig", [
        ("d", int, 20), ("latent", int, 2), ("extra", dict, field(default_factory=lambda: {"a": 1, "b": 2})),
        ("guard", int, field(default=0, metadata=OMIT_AT_DEFAULT))], frozen=True)
    assert config_dict(later()) == config_dict(TinyConfig())
    assert spec_hash(spec(model=later())) == spec_hash(spec(model=later(guard=0))) == spec_hash(spec())
    assert config_dict(later(guard=3))["guard"] == 3 and spec_hash(spec(model=later(guard=3))) != spec_hash(spec())


def test_the_training_curve_metric_is_hashed_only_when_it_is_not_the_default():
    """TrainConfig.eval_metric came after runs were cached: at "test_ll" every spec keeps its folder."""
    from memvae_lib.runs import spec_json

    base = spec()
    default = dataclasses.replace(base, train=dataclasses.replace(base.train, eval_metric="test_ll"))
    assert "eval_metric" not in spec_json(base) and spec_hash(default) == spec_hash(base)
    activity = dataclasses.replace(base, train=dataclasses.replace(base.train, eval_every=1, eval_metric="active_units"))
    assert '"eval_metric":"active_units"' in spec_json(activity) and spec_hash(activity) != spec_hash(base)
    with pytest.raises(ValueError, match=r"TrainConfig.eval_metric='kl' is not allowed; expected one of "
                                         r"\('test_ll', 'active_units'\)"):
        TrainConfig(epochs=1, eval_metric="kl")
    with pytest.raises(ValueError, match=r"eval_metric='active_units' with eval_every=0: no curve is recorded"):
        TrainConfig(epochs=1, eval_metric="active_units")


def test_run_dir_and_bad_specs(runs):
    assert runs_dir() == runs / "runs"
    assert run_dir(spec()) == runs / "runs" / f"mnist-Tiny-{spec_hash(spec())}"
    with pytest.raises(ValueError, match="'cifar'"):
        spec(dataset="cifar")
    with pytest.raises(ValueError, match="dataclass"):
        spec(model={"d": 20})
    with pytest.raises(ValueError, match=r"TrainConfig\.lr=0"):
        TrainConfig(epochs=1, lr=0)


def test_runs_dir_is_absolute_from_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MEMVAE_RUNS_DIR", "rel/runs")
    assert runs_dir() == tmp_path / "rel" / "runs" and runs_dir().is_absolute()
    assert runs_dir({"MEMVAE_RUNS_DIR": "../other"}) == tmp_path.parent / "other"
    assert runs_dir({}).is_absolute()


def test_relative_path_variables_are_made_absolute_at_import_for_child_processes(tmp_path):
    """A notebook kernel runs in its notebook's folder: the path it inherits must already be absolute."""
    code = ("import os, subprocess, sys; import memvae_lib; os.chdir('/'); "
            "print(subprocess.run([sys.executable, '-c', 'import os; print(os.environ[\"MEMVAE_RUNS_DIR\"]); "
            "print(os.environ[\"MEMVAE_DATA_DIR\"]); print(os.environ[\"HOME_LIKE\"])'], "
            "capture_output=True, text=True, check=True).stdout, end='')")
    env = {**os.environ, "MEMVAE_RUNS_DIR": "rel/runs", "MEMVAE_DATA_DIR": "../data", "HOME_LIKE": "rel",
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=tmp_path, env=env)
    assert out.stdout.splitlines() == [str(tmp_path / "rel" / "runs"), str(tmp_path.parent / "data"), "rel"]
    env.update(MEMVAE_RUNS_DIR="~/runs", MEMVAE_DATA_DIR="/abs/data")  # already absolute: left as written
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=tmp_path, env=env)
    assert out.stdout.splitlines()[:2] == ["~/runs", "/abs/data"]


# ---- get_or_train --------------------------------------------------------------------------------
def test_trains_once_then_loads(runs):
    counter = runs / "calls"
    loader = functools.partial(counting_loader, counter)
    first = get_or_train(spec(), device="cpu", build_model=Tiny, load_data=loader)
    assert calls(counter) == 1 and not first.model.training
    assert [h["epoch"] for h in first.history] == [1, 2, 3]
    for name in ("done", "spec.json", "history.json", "model.pt", "checkpoint.pt"):
        assert (first.path / name).exists(), name
    assert '"numerics_version"' in (first.path / "spec.json").read_text()
    # BN statistics come from one fixed binarisation of the full training set (§1.6)
    expected = Tiny(TinyConfig())
    expected.load_state_dict(first.model.state_dict())
    expected.prepare_evaluation(fixed_binarization(train_x(), seed=1234))
    assert torch.equal(expected.bn.stored_mean, first.model.bn.stored_mean)

    second = get_or_train(spec(label="renamed"), device="cpu", build_model=Tiny, load_data=loader)
    assert calls(counter) == 1 and second.path == first.path and second.history == first.history
    assert digest(second.model) == digest(first.model) and not second.model.training


class Killed(Exception):
    pass


def test_unfinished_run_resumes_to_the_same_result(runs, tmp_path, monkeypatch):
    counter = runs / "calls"
    loader = functools.partial(counting_loader, counter)

    def dies_at_epoch_3(model, epoch):
        if epoch == 3:
            raise Killed
        return {}

    with pytest.raises(Killed):
        get_or_train(spec(), device="cpu", build_model=Tiny, load_data=loader, evaluate=dies_at_epoch_3)
    assert not (run_dir(spec()) / "done").exists()
    resumed = get_or_train(spec(), device="cpu", build_model=Tiny, load_data=loader, evaluate=lambda m, e: {})
    assert calls(counter) == 2
    monkeypatch.setenv("MEMVAE_RUNS_DIR", str(tmp_path / "fresh"))
    fresh = get_or_train(spec(), device="cpu", build_model=Tiny, load_data=loader)
    assert digest(fresh.model) == digest(resumed.model)


def _ask(runs_root, counter, out):
    os.environ["MEMVAE_RUNS_DIR"] = runs_root
    loader = functools.partial(counting_loader, counter, delay=1.0)
    run = get_or_train(spec(), device="cpu", build_model=Tiny, load_data=loader)
    with open(out, "w") as f:
        f.write(digest(run.model))


def test_concurrent_processes_train_once(runs):
    ctx = multiprocessing.get_context("spawn")
    counter = runs / "calls"
    procs = [ctx.Process(target=_ask, args=(str(runs / "runs"), str(counter), str(runs / f"out{i}")))
             for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    assert calls(counter) == 1
    assert (runs / "out0").read_text() == (runs / "out1").read_text()


def test_a_run_that_asks_for_a_curve_needs_an_evaluate_function_before_it_trains(runs):
    """runs.py never imports the estimators: the curve comes from evaluation.get_run (or the caller)."""
    s = spec()
    s = dataclasses.replace(s, train=dataclasses.replace(s.train, eval_every=1))
    with pytest.raises(ValueError, match=r"evaluation.get_run\(spec\)"):
        get_or_train(s, device="cpu", build_model=Tiny, load_data=functools.partial(counting_loader, runs / "c"))
    assert not (run_dir(s) / "checkpoint.pt").exists()
    import memvae_lib.runs as runs_module
    assert "estimators" not in open(runs_module.__file__).read().replace("never needs the estimators", "")
