"""Many models as one (issue 14): a stacked run ends where each model trained alone ends, a killed
stack resumes to the same end, and the run folders it writes are ordinary runs."""
import dataclasses
import json

import pytest
import torch

from memvae_lib import stacked as stacked_mod
from memvae_lib.models import build_model
from memvae_lib.models.evae import EVAEConfig
from memvae_lib.models.mem_vae import MemVAEConfig
from memvae_lib.models.vae import VAEConfig
from memvae_lib.runs import RunSpec, get_or_train, run_dir
from memvae_lib.stacked import train_stacked
from memvae_lib.stacked_runs import get_or_train_stacked
from memvae_lib.train import CHECKPOINT, TrainConfig, TrainingDiverged, train

# float64: the stacked and the single computation differ only in summation order inside batched
# kernels, so after several epochs they agree to ~1e-15; TOL leaves room for other BLAS builds.
TOL = 1e-9
MEM = MemVAEConfig(input_dim=20, hidden=(6, 5), latent_dim=3, memory_slots=(4, 3), k=2)  # BN, memory, LRE, IWAE-2
VAE1 = VAEConfig(input_dim=20, hidden=(7,), latent_dim=2)
SEEDS = (1, 2, 5)


def data(n=64, d=20):
    return torch.rand(n, d, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def build(config, seed):
    torch.manual_seed(seed)  # as runs.get_or_train builds a run's initial weights
    return build_model(config).double()


def cfgs(epochs=5, **kw):
    return [TrainConfig(epochs=epochs, batch_size=16, checkpoint_every=2, seed=s, **kw) for s in SEEDS]


def max_diff(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    return max((sa[k] - sb[k]).abs().max().item() for k in sa)


def alone(config, configs, x=None):
    models = [build(config, c.seed) for c in configs]
    histories = [train(m, data() if x is None else x, c, binarize=True) for m, c in zip(models, configs)]
    return models, histories


def assert_histories_close(ha, hb):
    for ra, rb in zip(ha, hb, strict=True):
        assert ra.keys() == rb.keys()
        for key in ra:
            if key != "seconds":
                assert ra[key] == pytest.approx(rb[key], abs=TOL, rel=TOL), key


@pytest.mark.parametrize("config", [MEM, VAE1, dataclasses.replace(VAE1, kl_weight=0.5)],
                         ids=["mem_iwae2_lre", "vae", "kl_weighted"])
def test_a_stack_ends_where_each_model_alone_ends(config):
    configs = cfgs(lr=3e-2, clip_norm=0.5)  # a large lr and a tight norm: clipping acts, per model
    ref_models, ref_histories = alone(config, configs)
    models = [build(config, c.seed) for c in configs]
    histories = train_stacked(models, data(), configs, binarize=True)
    for a, b, ha, hb in zip(ref_models, models, ref_histories, histories):
        assert max_diff(a, b) < TOL
        assert_histories_close(ha, hb)
    assert max_diff(models[0], models[1]) > 1e-3  # the seeds really trained different models


def test_float32_stack_agrees_to_float32_rounding():
    configs = cfgs(epochs=3)
    ref = [build(MEM, c.seed).float() for c in configs]
    for m, c in zip(ref, configs):
        train(m, data().float(), c, binarize=True)
    models = [build(MEM, c.seed).float() for c in configs]
    train_stacked(models, data().float(), configs, binarize=True)
    assert all(max_diff(a, b) < 1e-4 for a, b in zip(ref, models))


class Killed(Exception):
    pass


def test_a_killed_stack_resumes_to_the_same_end(tmp_path, monkeypatch):
    configs = cfgs(epochs=6)
    dirs = [tmp_path / f"s{c.seed}" for c in configs]
    uninterrupted = [build(MEM, c.seed) for c in configs]
    train_stacked(uninterrupted, data(), configs, binarize=True)

    calls, real = {"n": 0}, stacked_mod._clip_per_model

    def dies_in_epoch_4(grads, cfg):  # 4 steps per epoch: call 14 = epoch 4, step 2
        calls["n"] += 1
        if calls["n"] == 14:
            raise Killed()
        return real(grads, cfg)

    monkeypatch.setattr(stacked_mod, "_clip_per_model", dies_in_epoch_4)
    with pytest.raises(Killed):
        train_stacked([build(MEM, c.seed) for c in configs], data(), configs, binarize=True, run_dirs=dirs)
    monkeypatch.setattr(stacked_mod, "_clip_per_model", real)
    assert [torch.load(d / CHECKPOINT, weights_only=True)["epoch"] for d in dirs] == [2, 2, 2]

    resumed = [build(MEM, 99) for _ in configs]  # the restart's own initialisation is overwritten
    histories = train_stacked(resumed, data(), configs, binarize=True, run_dirs=dirs)
    for a, b in zip(uninterrupted, resumed):
        assert max_diff(a, b) == 0.0  # the same computation on the same machine: bit-identical
    assert [h["epoch"] for h in histories[0]] == list(range(1, 7))
    ref, _ = alone(MEM, configs)
    assert all(max_diff(a, b) < TOL for a, b in zip(ref, resumed))


def test_a_kill_between_the_saves_of_one_epoch_is_levelled(tmp_path, monkeypatch):
    """Folders at epochs 4, 2, 2 (killed after the first of three saves): the two behind are brought
    level alone, then the stack goes on; all end where each model alone ends."""
    configs = cfgs(epochs=6, eval_every=1)
    dirs = [tmp_path / f"s{c.seed}" for c in configs]
    saves, real = {"n": 0}, stacked_mod.write_verified

    def dies_on_the_fifth_save(path, write):
        saves["n"] += 1
        if saves["n"] == 5:
            raise Killed()
        return real(path, write)

    monkeypatch.setattr(stacked_mod, "write_verified", dies_on_the_fifth_save)
    with pytest.raises(Killed):
        train_stacked([build(MEM, c.seed) for c in configs], data(), configs, binarize=True, run_dirs=dirs,
                      evaluates=[curve] * 3)
    monkeypatch.setattr(stacked_mod, "write_verified", real)
    assert [torch.load(d / CHECKPOINT, weights_only=True)["epoch"] for d in dirs] == [4, 2, 2]
    models = [build(MEM, c.seed) for c in configs]
    histories = train_stacked(models, data(), configs, binarize=True, run_dirs=dirs, evaluates=[curve] * 3)
    ref = [build(MEM, c.seed) for c in configs]
    ref_histories = [train(m, data(), c, binarize=True, evaluate=curve) for m, c in zip(ref, configs)]
    assert all(max_diff(a, b) < TOL for a, b in zip(ref, models))
    for ha, hb in zip(ref_histories, histories):  # the curve of the epochs brought level alone too
        assert_histories_close(ha, hb)


def test_a_stack_checkpoint_is_an_ordinary_checkpoint(tmp_path):
    """Stopped after epoch 2 in a stack, finished alone by train.train: the same end point."""
    configs = cfgs(epochs=5)
    dirs = [tmp_path / f"s{c.seed}" for c in configs]
    train_stacked([build(MEM, c.seed) for c in configs], data(),
                  [dataclasses.replace(c, epochs=2) for c in configs], binarize=True, run_dirs=dirs)
    finished = build(MEM, 77)
    history = train(finished, data(), configs[1], binarize=True, run_dir=dirs[1])
    ref, ref_histories = alone(MEM, configs)
    assert max_diff(ref[1], finished) < TOL
    assert_histories_close(ref_histories[1], history)


@pytest.mark.parametrize("every", [1, 3])
def test_a_nan_in_one_model_names_it_and_no_checkpoint_holds_it(tmp_path, every):
    configs = cfgs(epochs=4)
    dirs = [tmp_path / f"s{c.seed}" for c in configs]
    train_stacked([build(MEM, c.seed) for c in configs], data(), [dataclasses.replace(c, epochs=2) for c in configs],
                  binarize=True, run_dirs=dirs)
    models = [build(MEM, c.seed) for c in configs]
    with torch.no_grad():
        models[1].memories["1"].memory.fill_(float("nan"))  # ignored: the checkpoint is resumed ...
    real_load = stacked_mod._resume

    def poisoned(*args):  # ... so poison model 1 after it is loaded
        ckpts = real_load(*args)
        with torch.no_grad():
            models[1].memories["1"].memory.fill_(float("nan"))
        return ckpts

    stacked_mod._resume = poisoned
    try:
        with pytest.raises(TrainingDiverged, match=rf"model 1 of the stack .*seed 2, {dirs[1]}.*epoch 3, step 1 .*"
                                                   r"global step 9.*checkpoint .* \(epoch 2\) is unchanged"):
            train_stacked(models, data(), configs, binarize=True, run_dirs=dirs, nan_check_every=every)
    finally:
        stacked_mod._resume = real_load
    for d in dirs:
        ckpt = torch.load(d / CHECKPOINT, weights_only=True)
        assert ckpt["epoch"] == 2 and all(torch.isfinite(v).all() for v in ckpt["model"].values())


def test_deferred_nan_check_is_bit_identical_in_a_stack():
    configs = cfgs(epochs=3)
    a = [build(MEM, c.seed) for c in configs]
    b = [build(MEM, c.seed) for c in configs]
    ha = train_stacked(a, data(), configs, binarize=True)
    hb = train_stacked(b, data(), configs, binarize=True, nan_check_every=5)
    assert all(max_diff(x, y) == 0.0 for x, y in zip(a, b))
    assert [[{k: v for k, v in r.items() if k != "seconds"} for r in h] for h in ha] == \
           [[{k: v for k, v in r.items() if k != "seconds"} for r in h] for h in hb]


@pytest.mark.parametrize("change, match", [
    (lambda ms, cs: (ms, [cs[0], dataclasses.replace(cs[1], lr=1e-2), cs[2]]), r"TrainConfig 1 differs .*\['lr'\]"),
    (lambda ms, cs: ([ms[0], build(dataclasses.replace(MEM, k=3), 2), ms[2]], cs), r"model 1 .*differs from model 0"),
    (lambda ms, cs: (ms, cs), r"2 evaluate functions for 3 models"),
    (lambda ms, cs: (ms, cs[:2]), r"3 models and 2 configs"),
    (lambda ms, cs: ([build(dataclasses.replace(VAE1, z_dropout=0.2), 1)] * 3, cs), r"without z dropout.*train it alone"),
    (lambda ms, cs: ([build(EVAEConfig(input_dim=20, hidden=(6,), latent_dim=4, epitome_size=2, stride=2), 1)] * 3, cs),
     r"supports VAE and MemVAE .*epitome assignments.*got EpitomicVAE"),
])
def test_what_cannot_stack_is_refused_with_the_reason(change, match):
    models, configs = change([build(MEM, c.seed) for c in cfgs()], cfgs())
    evaluates = [lambda m, e: {}] * 2 if "evaluate" in match else None
    with pytest.raises(ValueError, match=match):
        train_stacked(models, data(), configs, binarize=True, evaluates=evaluates)


def curve(model, epoch):
    """An evaluation as evaluation.training_curve's test_ll makes one: the BN statistics recomputed
    (z ~ q drawn from the global RNG, the buffers written), and the model left in eval mode."""
    model.prepare_evaluation(data())
    model.eval()
    with torch.no_grad():
        return {"curve": float(sum(p.double().square().sum() for p in model.parameters())), "was": epoch,
                "draw": float(torch.randn(()))}


def test_a_stack_records_each_models_training_curve_as_it_would_alone():
    """evaluates: each model evaluated on its own weights every eval_every epochs and at the end, as
    train() does: from the same RNG, its BN statistics kept, the stack going on in train mode (MEM: BN)."""
    configs = cfgs(epochs=5, eval_every=2)
    ref_models = [build(MEM, c.seed) for c in configs]
    ref = [train(m, data(), c, binarize=True, evaluate=curve) for m, c in zip(ref_models, configs)]
    models = [build(MEM, c.seed) for c in configs]
    histories = train_stacked(models, data(), configs, binarize=True, evaluates=[curve] * 3)
    for a, b, ha, hb in zip(ref_models, models, ref, histories):
        assert max_diff(a, b) < TOL  # buffers (BN statistics) included
        assert_histories_close(ha, hb)
        assert [r.get("was") for r in hb] == [None, 2, None, 4, 5]


# ---- ordinary run folders ------------------------------------------------------------------------
class Data:
    train_x = data(48).float()
    kind = "grey"


def specs(**kw):
    return [RunSpec("mnist", MEM, TrainConfig(epochs=3, batch_size=16, seed=s), dtype="float64", **kw)
            for s in SEEDS]


def test_stacked_runs_are_ordinary_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMVAE_RUNS_DIR", str(tmp_path / "stacked"))
    stacked_runs = get_or_train_stacked(specs(), device="cpu", load_data=lambda name: Data)
    for spec, run in zip(specs(), stacked_runs):
        assert run.path == run_dir(spec) and (run.path / "done").exists()
        assert json.loads((run.path / "spec.json").read_text())["train"]["seed"] == spec.train.seed

    def no_training(*a, **k):
        raise AssertionError("a finished stacked run was trained again")

    monkeypatch.setattr("memvae_lib.runs.train", no_training)
    loaded = get_or_train(specs()[2], device="cpu", load_data=lambda name: Data)  # as a notebook asks
    assert max_diff(loaded.model, stacked_runs[2].model) == 0.0
    monkeypatch.undo()

    monkeypatch.setenv("MEMVAE_RUNS_DIR", str(tmp_path / "alone"))
    for spec, run in zip(specs(), stacked_runs):
        single = get_or_train(spec, device="cpu", load_data=lambda name: Data)
        assert max_diff(single.model, run.model) < TOL  # BN statistics (§1.6) included
        assert_histories_close(single.history, run.history)


def test_a_stack_with_finished_runs_trains_only_the_rest(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMVAE_RUNS_DIR", str(tmp_path))
    first = get_or_train(specs()[0], device="cpu", load_data=lambda name: Data)
    seen = []
    real = stacked_mod.train_stacked
    monkeypatch.setattr("memvae_lib.stacked_runs.train_stacked",
                        lambda models, x, configs, **kw: seen.append([c.seed for c in configs]) or
                        real(models, x, configs, **kw))
    runs = get_or_train_stacked(specs(), device="cpu", load_data=lambda name: Data)
    assert seen == [[2, 5]] and max_diff(runs[0].model, first.model) == 0.0


def test_a_stack_of_specs_with_a_curve_needs_its_evaluate_functions(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMVAE_RUNS_DIR", str(tmp_path))
    curve = [dataclasses.replace(s, train=dataclasses.replace(s.train, eval_every=1)) for s in specs()]
    with pytest.raises(ValueError, match=r"training curve every 1 epoch\(s\).*evaluation.training_curve"):
        get_or_train_stacked(curve, device="cpu", load_data=lambda name: Data)
    assert not any(run_dir(s).exists() for s in curve)


@pytest.mark.parametrize("bad, match", [
    (lambda s: [s[0], dataclasses.replace(s[1], train_subset=10)], "differs from spec 0 in more than the seed"),
    (lambda s: [s[0], s[0]], r"seeds \[1, 1\] repeat"),
])
def test_specs_that_do_not_stack_are_refused(tmp_path, monkeypatch, bad, match):
    monkeypatch.setenv("MEMVAE_RUNS_DIR", str(tmp_path))
    with pytest.raises(ValueError, match=match):
        get_or_train_stacked(bad(specs()), device="cpu", load_data=lambda name: Data)


def test_which_specs_stack_is_read_from_the_spec_alone():
    from memvae_lib.experiments import run_spec
    from memvae_lib.stacked_runs import stackable

    assert stackable(run_spec("mem/mnist/VAE", "smoke")) and stackable(run_spec("mem/mnist/MEM-IWAE-5", "smoke"))
    assert stackable(run_spec("evae/mnist/VAE-D50-lambda1", "smoke"))      # its active-units curve included
    assert not stackable(run_spec("evae/mnist/eVAE-D50-K5", "smoke"))       # per-model epitome assignments
    assert not stackable(run_spec("evae/mnist/dropout-VAE-D50", "smoke"))   # z dropout


@pytest.mark.parametrize("stack", [True, False])
def test_a_notebook_trains_its_seeds_stacked_or_one_by_one_to_the_same_runs(tmp_path, monkeypatch, stack):
    """Notebook.seed_runs(stack=True) (the default on a GPU) trains the missing seeds as one stack into
    ordinary run folders: the same folders, and (smoke is float64) the same weights to 1e-9, as the
    seeds trained one by one."""
    from memvae_lib.notebook import Notebook
    from memvae_lib.papers import mem

    monkeypatch.setenv("MEMVAE_RUNS_DIR", str(tmp_path / "alone"))
    alone = Notebook("mem/t", mem.budget("smoke"), torch.device("cpu"), 1234).seed_runs("mem/mnist/VAE", stack=False)
    monkeypatch.setenv("MEMVAE_RUNS_DIR", str(tmp_path / "other"))
    calls = []
    monkeypatch.setattr("memvae_lib.notebook.get_or_train_stacked", lambda specs, **kw: calls.append(specs) or
                        get_or_train_stacked(specs, **kw))
    runs = Notebook("mem/t", mem.budget("smoke"), torch.device("cpu"), 1234).seed_runs("mem/mnist/VAE", stack=stack)
    assert len(calls) == int(stack) and [r.path.name for r in runs] == [r.path.name for r in alone]
    for a, b in zip(alone, runs):
        for key, value in a.model.state_dict().items():
            assert torch.allclose(value, b.model.state_dict()[key], rtol=0, atol=1e-9), key
        assert [h["epoch"] for h in b.history] == [1, 2] and all("test_ll" in h for h in b.history)
        assert_histories_close(a.history, b.history)  # the test-L_k curve of every epoch
