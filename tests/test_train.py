"""The training loop: schedules, Lasagne Adam, clipping, exact resume, the NaN guard, checkpoints."""
import io
import math
import sys
import time
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from memvae_lib import files as files_mod
from memvae_lib import train as train_mod
from memvae_lib.models.base import LatentVariableModel
from memvae_lib.nets import BatchNorm
from memvae_lib.files import resolve_device
from memvae_lib.progress import progress
from memvae_lib.train import (CheckpointError, LasagneAdam, TrainConfig, TrainingDiverged, TrainingPaused, iwae3i_epochs,
                              lr_at_epoch, train)

LOG2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class TinyConfig:
    d: int = 20
    latent: int = 2


class TinyVAE(LatentVariableModel):
    """20 -> 8 (BN, tanh) -> 2 Gaussian latents -> 20 Bernoulli; `fail_at_call` makes the loss NaN
    (or raises `fail_with`) at that call of training_loss."""

    def __init__(self, config=TinyConfig(), fail_at_call=None, fail_with=None):
        super().__init__()
        self.config, self.latent_dim = config, config.latent
        self.enc = nn.Linear(config.d, 8)
        self.bn = BatchNorm(8)
        self.head = nn.Linear(8, 2 * config.latent)
        self.dec = nn.Linear(config.latent, config.d)
        self.calls, self.fail_at_call, self.fail_with = 0, fail_at_call, fail_with

    def log_weights(self, x, k):
        mu, logvar = self.head(torch.tanh(self.bn(self.enc(x)))).chunk(2, -1)
        eps = torch.randn(x.shape[0], k, self.latent_dim)
        z = mu[:, None] + (0.5 * logvar[:, None]).exp() * eps
        log_q = (-0.5 * (LOG2PI + logvar[:, None] + eps ** 2)).sum(-1)
        log_p = (-0.5 * (LOG2PI + z ** 2)).sum(-1)
        logits = self.dec(z)
        log_px = -nn.functional.binary_cross_entropy_with_logits(
            logits, x[:, None].expand_as(logits), reduction="none").sum(-1)
        return log_p + log_px - log_q

    def training_loss(self, x):
        self.calls += 1
        loss = -self.log_weights(x, 1).mean()
        if self.calls == self.fail_at_call:
            if self.fail_with is not None:
                raise self.fail_with
            loss = loss * float("nan")
        return loss, {"elbo": -loss.item()}

    def decode_mean(self, z):
        return torch.sigmoid(self.dec(z))

    def posterior_mean(self, x):
        return self.head(torch.tanh(self.bn(self.enc(x)))).chunk(2, -1)[0]

    sample_posterior = kl_per_unit = posterior_mean

    def sample_prior(self, n, generator=None):
        return torch.randn(n, self.latent_dim, generator=generator)


class Killed(Exception):
    pass


def data(n=64, d=20):
    return torch.rand(n, d, generator=torch.Generator().manual_seed(0))


def tiny(seed=0, **kw):
    torch.manual_seed(seed)  # the caller seeds construction
    return TinyVAE(**kw)


def state(model):
    return model.state_dict()


def assert_same_state(a, b):
    sa, sb = state(a), state(b)
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def evaluate(model, epoch):
    """Consumes the global RNG and rewrites BN statistics, as a real evaluation does."""
    model.prepare_evaluation(data())
    return {"test_L1": model.log_weights(data(), 1).mean(), "noise": torch.randn(()).item()}


# ---- schedules and config ------------------------------------------------------------------------
def test_mem_schedule():
    cfg = TrainConfig(epochs=3000)
    assert lr_at_epoch(cfg, 1) == lr_at_epoch(cfg, 1000) == 1e-3
    assert lr_at_epoch(cfg, 1001) == pytest.approx(1e-3 * 0.998)
    assert lr_at_epoch(cfg, 3000) == pytest.approx(1e-3 * 0.998 ** 2000)
    assert lr_at_epoch(cfg, 3000) == pytest.approx(1.8e-5, rel=0.02)
    assert lr_at_epoch(TrainConfig(epochs=5, schedule="constant"), 5) == 1e-3


def test_iwae3i_stage_boundaries():
    cfg = TrainConfig(epochs=3280, schedule="iwae3i", batch_size=20)
    assert iwae3i_epochs(8) == 3280
    ends = [1, 4, 13, 40, 121, 364, 1093, 3280]  # last epoch of stage i
    for i, end in enumerate(ends):
        assert lr_at_epoch(cfg, end) == pytest.approx(1e-3 * 10 ** (-i / 7))
        if i < 7:
            assert lr_at_epoch(cfg, end + 1) == pytest.approx(1e-3 * 10 ** (-(i + 1) / 7))
    assert lr_at_epoch(cfg, 3280) == pytest.approx(1e-4)
    with pytest.raises(ValueError, match="3281"):
        lr_at_epoch(cfg, 3281)
    with pytest.raises(ValueError, match="epochs=100"):
        TrainConfig(epochs=100, schedule="iwae3i")
    assert TrainConfig(epochs=13, schedule="iwae3i", stages=3).epochs == 13


@pytest.mark.parametrize("field, value", [("schedule", "cosine"), ("optimizer", "sgd"), ("batch_size", 0),
                                          ("lr", -1.0), ("clip_norm", 0.0), ("anneal_factor", 1.5),
                                          ("epochs", 2.5), ("beta2", 1.0)])
def test_bad_config_names_the_field(field, value):
    with pytest.raises(ValueError, match=rf"TrainConfig\.{field}={value!r}"):
        TrainConfig(**{"epochs": 3, field: value})


# ---- optimiser and clipping ----------------------------------------------------------------------
@pytest.mark.parametrize("fused", [None, True])
def test_lasagne_adam_matches_closed_form_and_differs_from_torch_adam(fused):
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-4
    grads = [0.5, -2.0, 0.01]
    p = nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    q = nn.Parameter(p.detach().clone())
    ours = LasagneAdam([p], lr=lr, betas=(b1, b2), eps=eps, fused=fused)
    theirs = torch.optim.Adam([q], lr=lr, betas=(b1, b2), eps=eps)
    m = v = 0.0
    expected = 1.0
    for t, g in enumerate(grads, 1):
        for param, opt in ((p, ours), (q, theirs)):
            param.grad = torch.tensor([g], dtype=torch.float64)
            opt.step()
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        expected -= lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (math.sqrt(v) + eps)
        assert p.item() == pytest.approx(expected, rel=1e-12, abs=1e-15)
        if t == 1:  # one step: Lasagne's eps acts as eps / sqrt(1 - b2) on torch's |g|
            assert p.item() == pytest.approx(1.0 - lr * g / (abs(g) + eps / math.sqrt(1 - b2)), rel=1e-12)
            assert q.item() == pytest.approx(1.0 - lr * g / (abs(g) + eps), rel=1e-12)
            assert abs(p.item() - q.item()) > 1e-4


def test_lasagne_adam_state_survives_a_checkpoint_round_trip():
    """The step count t travels in the state dict: a reloaded optimiser continues the same sequence."""
    torch.manual_seed(0)
    grads = torch.randn(6, 3, dtype=torch.float64)
    a = nn.Parameter(torch.zeros(3, dtype=torch.float64))
    b = nn.Parameter(torch.zeros(3, dtype=torch.float64))
    opt_a = LasagneAdam([a], lr=0.1)
    opt_b = LasagneAdam([b], lr=0.1)
    for t, g in enumerate(grads):
        if t == 3:  # b's optimiser is rebuilt from a saved state halfway
            state = opt_b.state_dict()
            opt_b = LasagneAdam([b], lr=0.1)
            opt_b.load_state_dict(state)
        for p, opt in ((a, opt_a), (b, opt_b)):
            p.grad = g.clone()
            opt.step()
    assert torch.equal(a, b)
    assert opt_b.param_groups[0]["lasagne_t"] == 6


def test_lasagne_adam_with_a_closure_steps_like_without():
    a, b = nn.Parameter(torch.tensor([1.0, -2.0])), nn.Parameter(torch.tensor([1.0, -2.0]))
    opt_a, opt_b = LasagneAdam([a], lr=0.1), LasagneAdam([b], lr=0.1)

    def closure():
        opt_b.zero_grad()
        loss = (b ** 2).sum()
        loss.backward()
        return loss

    for _ in range(3):
        opt_a.zero_grad()
        (a ** 2).sum().backward()
        opt_a.step()
        assert opt_b.step(closure).item() > 0
    assert torch.equal(a, b)


def test_lasagne_adam_refuses_a_parameter_without_gradient():
    used, unused = nn.Parameter(torch.zeros(2)), nn.Parameter(torch.zeros(2))
    opt = LasagneAdam([used, unused])
    used.grad = torch.ones(2)
    with pytest.raises(ValueError, match="1 of 2 parameters have no gradient"):
        opt.step()


class LinearLoss(nn.Module):
    """loss = <w, c>, so the gradient is exactly c."""

    def __init__(self, c):
        super().__init__()
        self.w, self.c = nn.Parameter(torch.zeros(len(c))), torch.tensor(c)

    def minibatches(self, x, batch_size, generator):
        yield {"x": x}

    def training_loss(self, x):
        return (self.w * self.c).sum(), {}


@pytest.mark.parametrize("clip_norm, clip_value, expected", [
    (5.0, 1.0, [1.0, -1.0, 100 * 5 / math.sqrt(4000 ** 2 + 3000 ** 2 + 100 ** 2), 0.0]),  # rescale, then clip
    (None, None, [4000.0, -3000.0, 100.0, 0.0]),
])
def test_gradient_rescaled_to_norm_then_clipped(monkeypatch, clip_norm, clip_value, expected):
    seen = []
    monkeypatch.setattr(LasagneAdam, "step", lambda self: seen.append(self.param_groups[0]["params"][0].grad.clone()))
    model = LinearLoss([4000.0, -3000.0, 100.0, 0.0])
    train(model, torch.zeros(1, 1), TrainConfig(epochs=1, batch_size=1, clip_norm=clip_norm, clip_value=clip_value),
          binarize=False)
    assert torch.allclose(seen[0], torch.tensor(expected), rtol=1e-5)


# ---- checkpoints, resume, divergence -------------------------------------------------------------
CFG = TrainConfig(epochs=6, batch_size=16, checkpoint_every=2, eval_every=1)


def test_killed_and_resumed_is_bit_identical(tmp_path):
    x = data()
    a = tiny()
    history_a = train(a, x, CFG, binarize=True, run_dir=tmp_path / "a", evaluate=evaluate)
    assert [h["epoch"] for h in history_a] == list(range(1, 7)) and "test_L1" in history_a[-1]

    # killed mid-epoch 5 (after the epoch-4 checkpoint): 4 steps per epoch, call 18 = epoch 5, step 2
    with pytest.raises(Killed):
        train(tiny(fail_at_call=18, fail_with=Killed()), x, CFG, binarize=True, run_dir=tmp_path / "b",
              evaluate=evaluate)
    assert torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)["epoch"] == 4
    b = tiny(seed=99)  # the restart's own initialisation is overwritten by the checkpoint
    history_b = train(b, x, CFG, binarize=True, run_dir=tmp_path / "b", evaluate=evaluate)
    assert_same_state(a, b)
    assert [h["loss"] for h in history_b] == [h["loss"] for h in history_a]

    # a shorter run then the full one (same evaluation epochs): same end point
    c = tiny()
    train(c, x, TrainConfig(epochs=3, batch_size=16, checkpoint_every=2, eval_every=1), binarize=True,
          run_dir=tmp_path / "c", evaluate=evaluate)
    train(c := tiny(), x, CFG, binarize=True, run_dir=tmp_path / "c", evaluate=evaluate)
    assert_same_state(a, c)
    # a finished run is not trained again
    assert train(d := tiny(seed=5), x, CFG, binarize=True, run_dir=tmp_path / "a") == history_a
    assert_same_state(a, d)


def test_nan_loss_raises_and_keeps_checkpoint(tmp_path):
    cfg = TrainConfig(epochs=5, batch_size=16, checkpoint_every=1)
    model = tiny(fail_at_call=10)  # 4 steps per epoch: call 10 = epoch 3, step 2
    with pytest.raises(TrainingDiverged, match=r"epoch 3, step 2 .*global step 10.*last finite loss \d"):
        train(model, data(), cfg, binarize=False, run_dir=tmp_path / "nan")
    assert all(torch.isfinite(p).all() for p in model.parameters())
    ckpt = torch.load(tmp_path / "nan" / "checkpoint.pt", weights_only=True)
    assert ckpt["epoch"] == 2 and len(ckpt["history"]) == 2
    reference = tiny()  # the same run stopped cleanly after epoch 2
    train(reference, data(), TrainConfig(epochs=2, batch_size=16, checkpoint_every=1), binarize=False)
    for key, value in reference.state_dict().items():
        assert torch.equal(ckpt["model"][key], value), key


@pytest.mark.parametrize("damage, reason", [
    ("garbage", "is damaged"), ("truncated", "is damaged"), ("flipped_byte", "is damaged"),
    ("no_digest", "has no digest file checkpoint.pt.sha256"),
    # past the digest check: a file written whole, by someone else
    ("verified_garbage", "cannot read checkpoint"), ("wrong_keys", "cannot resume"),
    ("other_config", "another TrainConfig"),
])
def test_unusable_checkpoint_is_a_clear_error(tmp_path, damage, reason):
    cfg = TrainConfig(epochs=2, batch_size=16, checkpoint_every=1)
    train(tiny(), data(), TrainConfig(epochs=1, batch_size=16), binarize=False, run_dir=tmp_path)
    path = tmp_path / "checkpoint.pt"
    if damage == "garbage":
        path.write_bytes(b"not a checkpoint")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "flipped_byte":  # torch itself loads this one without complaint
        content = bytearray(path.read_bytes())
        content[len(content) // 2] ^= 0x10
        path.write_bytes(bytes(content))
    elif damage == "no_digest":
        (tmp_path / "checkpoint.pt.sha256").unlink()
    elif damage == "verified_garbage":
        files_mod.write_verified(path, b"not a checkpoint")
    elif damage == "wrong_keys":
        buffer = io.BytesIO()
        torch.save({"model": {}}, buffer)
        files_mod.write_verified(path, buffer.getvalue())
    else:
        cfg = TrainConfig(epochs=2, batch_size=16, lr=1e-2)
    before = path.read_bytes()
    with pytest.raises(CheckpointError, match=reason) as e:
        train(tiny(), data(), cfg, binarize=False, run_dir=tmp_path)
    assert str(path) in str(e.value) and f"Delete {path} to retrain" in str(e.value) and "\n" not in str(e.value)
    assert path.read_bytes() == before  # never silently retrained over


def test_a_checkpoint_written_before_a_later_config_field_still_resumes(tmp_path):
    """Checkpoints of runs started before TrainConfig.eval_metric existed hold no such key: they held
    its default, so they resume (to the same end as an uninterrupted run); another value is refused."""
    cfg = TrainConfig(epochs=2, batch_size=16, checkpoint_every=1)
    train(tiny(), data(), TrainConfig(epochs=1, batch_size=16, checkpoint_every=1), binarize=False, run_dir=tmp_path)
    path = tmp_path / "checkpoint.pt"
    ckpt = torch.load(path, weights_only=False)
    del ckpt["config"]["eval_metric"]
    buffer = io.BytesIO()
    torch.save(ckpt, buffer)
    files_mod.write_verified(path, buffer.getvalue())
    resumed = tiny()
    train(resumed, data(), cfg, binarize=False, run_dir=tmp_path)
    whole = tiny()
    train(whole, data(), cfg, binarize=False)
    assert_same_state(resumed, whole)
    files_mod.write_verified(path, buffer.getvalue())
    with pytest.raises(CheckpointError, match=r"differs in \['eval_every', 'eval_metric'\]"):
        train(tiny(), data(), TrainConfig(epochs=2, batch_size=16, eval_every=1, eval_metric="active_units"),
              binarize=False, run_dir=tmp_path)


def test_interrupted_save_leaves_previous_checkpoint(tmp_path, monkeypatch):
    train(tiny(), data(), TrainConfig(epochs=1, batch_size=16), binarize=False, run_dir=tmp_path)
    before = (tmp_path / "checkpoint.pt").read_bytes()

    def killed_replace(src, dst):
        raise Killed

    monkeypatch.setattr(files_mod.os, "replace", killed_replace)
    with pytest.raises(Killed):
        train(tiny(), data(), TrainConfig(epochs=2, batch_size=16), binarize=False, run_dir=tmp_path)
    assert (tmp_path / "checkpoint.pt").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt", "checkpoint.pt.sha256"]


def test_a_short_run_is_checkpointed_by_time_and_resumes_bit_identically(tmp_path, monkeypatch):
    """checkpoint_every=10 never fires in a 3-epoch run: the time rule does (a zero threshold here;
    30 s by default, so a laptop run loses at most about that, or one epoch)."""
    cfg = TrainConfig(epochs=3, batch_size=16, checkpoint_every=10)
    x = data()
    reference = tiny()
    history = train(reference, x, cfg, binarize=True, run_dir=tmp_path / "ref")
    # the epoch rule alone: no checkpoint before the end
    monkeypatch.setattr(train_mod, "CHECKPOINT_SECONDS", 1e9, raising=False)
    with pytest.raises(Killed):  # 4 steps per epoch: call 9 = epoch 3, step 1
        train(tiny(fail_at_call=9, fail_with=Killed()), x, cfg, binarize=True, run_dir=tmp_path / "slow")
    assert not (tmp_path / "slow" / "checkpoint.pt").exists()
    monkeypatch.setattr(train_mod, "CHECKPOINT_SECONDS", 0.0, raising=False)
    with pytest.raises(Killed):
        train(tiny(fail_at_call=9, fail_with=Killed()), x, cfg, binarize=True, run_dir=tmp_path / "b")
    assert torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)["epoch"] == 2
    resumed = tiny(seed=99)
    assert [h["loss"] for h in train(resumed, x, cfg, binarize=True, run_dir=tmp_path / "b")] == \
        [h["loss"] for h in history]
    assert_same_state(reference, resumed)


def test_the_time_threshold_is_small():
    assert 0 < train_mod.CHECKPOINT_SECONDS <= 60  # about once a minute on a laptop profile, at most


@pytest.mark.parametrize("fail_at_call, before, kept", [
    (1, "at the first step of the run", "no checkpoint had been written yet"),
    (6, r"last finite loss [-+.e\d]+", "no checkpoint had been written yet"),  # epoch 2, step 2
])
def test_nan_before_any_checkpoint_says_what_is_true(tmp_path, monkeypatch, fail_at_call, before, kept):
    monkeypatch.setattr(train_mod, "CHECKPOINT_SECONDS", 1e9, raising=False)
    cfg = TrainConfig(epochs=5, batch_size=16, checkpoint_every=10)
    with pytest.raises(TrainingDiverged, match=rf"{before}; .*{kept} \({tmp_path}/checkpoint.pt\): the next run "
                                               "starts from scratch") as e:
        train(tiny(fail_at_call=fail_at_call), data(), cfg, binarize=False, run_dir=tmp_path)
    assert "None" not in str(e.value) and "unchanged" not in str(e.value)
    assert not (tmp_path / "checkpoint.pt").exists()


def test_nan_right_after_a_resume_says_so(tmp_path):
    cfg = TrainConfig(epochs=3, batch_size=16, checkpoint_every=1)
    train(tiny(), data(), TrainConfig(epochs=1, batch_size=16), binarize=False, run_dir=tmp_path)
    with pytest.raises(TrainingDiverged, match=r"at the first step after resuming from the epoch-1 checkpoint; .*"
                                               rf"the checkpoint {tmp_path}/checkpoint.pt \(epoch 1\) is unchanged"):
        train(tiny(fail_at_call=1), data(), cfg, binarize=False, run_dir=tmp_path)


# ---- progress and device -------------------------------------------------------------------------
def test_progress_quiet_without_tty(monkeypatch):
    fake = io.StringIO()
    monkeypatch.setattr(sys, "stderr", fake)
    monkeypatch.delenv("MEMVAE_PROGRESS", raising=False)
    bar = progress(range(3), desc="x")
    assert bar.disable and list(bar) == [0, 1, 2] and fake.getvalue() == ""
    monkeypatch.setenv("MEMVAE_PROGRESS", "1")
    assert not progress(range(3)).disable
    monkeypatch.setenv("MEMVAE_PROGRESS", "0")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert progress(range(3)).disable


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="'gpu'.*auto"):
        resolve_device("gpu")


def test_a_deadline_pauses_at_an_epoch_boundary_and_the_next_call_finishes_identically(tmp_path):
    x = data()
    reference = tiny()
    train(reference, x, CFG, binarize=True, run_dir=tmp_path / "ref", evaluate=evaluate)
    paused_at = []
    for _ in range(CFG.epochs):  # a deadline already past: one epoch per call, like one device command each
        try:
            # the first call builds the same initial weights; later ones are overwritten by the checkpoint
            train(tiny(seed=7 if paused_at else 0), x, CFG, binarize=True, run_dir=tmp_path / "p",
                  evaluate=evaluate, deadline=time.monotonic() - 1)
            break
        except TrainingPaused as e:
            paused_at.append(e.epoch)
            # the checkpoint holds exactly the finished epochs, even off the checkpoint_every grid
            assert torch.load(tmp_path / "p" / "checkpoint.pt", weights_only=True)["epoch"] == e.epoch
    assert paused_at == list(range(1, CFG.epochs))  # the last epoch finishes instead of pausing
    final = tiny(seed=3)
    train(final, x, CFG, binarize=True, run_dir=tmp_path / "p")  # finished: loads, trains nothing
    assert_same_state(reference, final)
    with pytest.raises(ValueError, match="run_dir"):
        train(tiny(), x, CFG, binarize=True, deadline=time.monotonic())


# ---- the NaN guard without a host sync per step (issue 14) ---------------------------------------
def small_vae(seed=0):
    from memvae_lib.models.mem_vae import MemVAE, MemVAEConfig
    torch.manual_seed(seed)
    return MemVAE(MemVAEConfig(input_dim=20, hidden=(6, 5), latent_dim=3, memory_slots=(4, 3), k=2))


@pytest.mark.parametrize("build", [tiny, small_vae], ids=["tiny", "mem_vae"])
def test_deferred_nan_check_is_bit_identical_to_the_default(tmp_path, build):
    cfg = TrainConfig(epochs=3, batch_size=16, checkpoint_every=1)
    a, b = build(), build()
    history_a = train(a, data(), cfg, binarize=True, run_dir=tmp_path / "a")
    history_b = train(b, data(), cfg, binarize=True, run_dir=tmp_path / "b", nan_check_every=3)
    assert_same_state(a, b)
    strip = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h]  # noqa: E731
    assert strip(history_a) == strip(history_b)  # float64 sums on the device == Python's float sums


def test_deferred_nan_check_names_the_epoch_and_keeps_the_checkpoint(tmp_path):
    cfg = TrainConfig(epochs=5, batch_size=16, checkpoint_every=1)
    model = tiny(fail_at_call=10)  # 4 steps per epoch: call 10 = epoch 3, step 2; found at the step-3 check
    with pytest.raises(TrainingDiverged, match=r"epoch 3, step 2 .*global step 10.*nan_check_every=3.*"
                                               r"checkpoint .* \(epoch 2\) is unchanged.*nan_check_every=1"):
        train(model, data(), cfg, binarize=False, run_dir=tmp_path / "nan", nan_check_every=3)
    assert model.calls == 11  # stopped at the first check after it, not at the end of the epoch
    ckpt = torch.load(tmp_path / "nan" / "checkpoint.pt", weights_only=True)
    assert ckpt["epoch"] == 2 and all(torch.isfinite(v).all() for v in ckpt["model"].values())


def test_deferred_nan_check_at_the_end_of_the_epoch(tmp_path):
    model = tiny(fail_at_call=4)  # the last step of epoch 1: only the epoch-end check sees it
    with pytest.raises(TrainingDiverged, match=r"epoch 1, step 4 .*no checkpoint had been written yet"):
        train(model, data(), TrainConfig(epochs=2, batch_size=16), binarize=False, run_dir=tmp_path,
              nan_check_every=100)
    assert not (tmp_path / "checkpoint.pt").exists()


@pytest.mark.parametrize("every", [0, 1.5, True])
def test_bad_nan_check_every_names_the_value(every):
    with pytest.raises(ValueError, match=rf"nan_check_every={every!r} .*int >= 1"):
        train(tiny(), data(), TrainConfig(epochs=1, batch_size=16), binarize=False, nan_check_every=every)
