"""The torch.compile switch (memvae_lib/compiling.py): a compiled run equals the eager one to float
tolerance when Inductor draws its noise from the eager generator, the guards still hold, and a bad
mode or a missing toolchain is refused before any work.

Each compiled call costs seconds of Inductor compilation (about a minute for this file with a cold
cache on a busy 2-core CPU). Inductor's CPU code generation needs a C++ compiler and Python's
headers: without them the compiled checks are skipped, saying so, and the refusal is tested."""
import pytest
import torch
import torch._inductor.config as inductor_config

from memvae_lib import compiling
from memvae_lib.estimators import iw_log_likelihood
from memvae_lib.models.evae import EpitomicVAE, EVAEConfig
from memvae_lib.models.mem_vae import MemVAE, MemVAEConfig
from memvae_lib.models.vae import VAE, VAEConfig
from memvae_lib.train import CHECKPOINT, TrainConfig, TrainingDiverged, train

MISSING = compiling.cpu_toolchain_missing()
needs_toolchain = pytest.mark.skipif(MISSING is not None, reason=f"Inductor cannot compile here: it needs {MISSING}")


@pytest.fixture(scope="module", autouse=True)
def eager_random_numbers():
    """Every graph of this file is compiled drawing the eager generator's numbers: the setting is read
    when a graph compiles, and Dynamo's in-process cache does not key on it, so it must hold for
    every test whatever their order; no graph leaks in from another file or out to one."""
    torch._dynamo.reset()
    with inductor_config.patch(fallback_random=True):
        yield
    torch._dynamo.reset()


@pytest.fixture
def compile_calls(monkeypatch):
    """Spies on torch.compile: [(name of the compiled function, mode, [calls of the compiled one])]."""
    made = []

    def spy(fn, **kw):
        inner, calls = torch_compile(fn, **kw), []
        made.append((fn.__name__, kw.get("mode"), calls))
        return lambda *a, **k: calls.append(1) or inner(*a, **k)

    monkeypatch.setattr(torch, "compile", spy)
    return made

CONFIG = MemVAEConfig(input_dim=12, hidden=(6, 5), latent_dim=3, memory_slots=(4, 3), lre_weights=(0.1, 0.1))
CFG = TrainConfig(epochs=2, batch_size=10, seed=7)
torch_compile = torch.compile


def _data(n=30):
    return torch.rand(n, 12, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def _model(config=CONFIG, kind=MemVAE):
    torch.manual_seed(3)
    return kind(config).double()


def _trained(compile_mode, tmp_path, name, nan_check_every=1):
    model = _model()
    history = train(model, _data(), CFG, binarize=True, run_dir=tmp_path / name, compile_mode=compile_mode,
                    nan_check_every=nan_check_every)
    return model, history


@needs_toolchain
@pytest.mark.parametrize("nan_check_every", [1, 2])
def test_compiled_training_equals_eager(tmp_path, nan_check_every, compile_calls):
    """MEM-VAE (memory, LRE, batch norm) for 2 epochs: the same parameters and history, float64, when
    Inductor uses the eager random numbers. Only the order of float operations may differ (fusion),
    so the tolerance is a few hundred float64 ulps of values near 1; with the host NaN read every
    step and with the deferred device-side flag."""
    eager, h_eager = _trained(None, tmp_path, "eager", nan_check_every)
    assert compile_calls == []
    fast, h_fast = _trained("default", tmp_path, "compiled", nan_check_every)
    # the compiled function made every step: 2 epochs x 30 / 10 minibatches
    assert [(name, mode, len(calls)) for name, mode, calls in compile_calls] == [("training_terms", "default", 6)]
    for (name, a), b in zip(eager.state_dict().items(), fast.state_dict().values()):
        torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-12, msg=name)
    assert [r["epoch"] for r in h_fast] == [1, 2]
    for ra, rb in zip(h_eager, h_fast):
        assert set(ra) == set(rb)
        for key in ra:
            if key != "seconds":
                assert rb[key] == pytest.approx(ra[key], rel=1e-10, abs=1e-12), key
    assert (tmp_path / "compiled" / CHECKPOINT).exists()


@needs_toolchain
def test_compiled_training_still_stops_a_nan_before_its_update(compile_calls):
    """The guard reads the compiled loss before backward: a NaN input raises with no update made."""
    model, x = _model(), _data()
    x[:, 4] = float("nan")  # in every minibatch: the first step's loss is NaN
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(TrainingDiverged, match=r"epoch 1, step 1 .*no update was made"):
        train(model, x, CFG, binarize=False, compile_mode="default")
    assert [(name, len(calls)) for name, _, calls in compile_calls] == [("training_terms", 1)]
    for key, value in model.state_dict().items():  # parameters and buffers (BN's stored statistics)
        assert torch.equal(value, before[key]), key


@needs_toolchain
def test_compiled_iw_log_likelihood_equals_eager(compile_calls):
    """L_k with unequal chunks (k = 7 in chunks of 3, 3, 1: a recompilation for the last shape) is the
    eager estimate, with the same samples when Inductor falls back to eager random numbers."""
    model = _model(VAEConfig(input_dim=12, hidden=(6, 5), latent_dim=3), VAE).eval()
    x = torch.bernoulli(_data(9))
    kwargs = dict(k=7, seed=5, example_batch=3, memory_budget_mb=3 * 3 * 12 * 8 / 2**20)
    eager = iw_log_likelihood(model, x, **kwargs)
    fast = iw_log_likelihood(model, x, compile_mode="default", **kwargs)
    # every log-weights call compiled: 3 row chunks x 3 sample chunks
    assert [(name, len(calls)) for name, _, calls in compile_calls] == [("log_weights", 9)]
    torch.testing.assert_close(fast, eager, rtol=1e-12, atol=1e-10)


def test_evae_is_refused_before_any_work(tmp_path):
    """Its training_terms is the base class's host-reading one: compiling it would recompile at
    every step, so it is refused, naming the model and the way out."""
    torch.manual_seed(0)
    model = EpitomicVAE(EVAEConfig(input_dim=12, hidden=(6,), latent_dim=4, epitome_size=2, stride=2)).double()
    with pytest.raises(ValueError, match=r"compile_mode='default' cannot compile EpitomicVAE.training_terms.*"
                                         r"compile_mode=None"):
        train(model, _data(), CFG, binarize=True, run_dir=tmp_path / "run", compile_mode="default")
    assert not (tmp_path / "run" / CHECKPOINT).exists()


@pytest.mark.parametrize("mode", ["fast", "", 1, True])
def test_bad_compile_mode_is_refused_before_any_work(tmp_path, mode):
    model = _model()
    with pytest.raises(ValueError, match=rf"compile_mode={mode!r} is not a torch.compile mode.*reduce-overhead"):
        train(model, _data(), CFG, binarize=True, run_dir=tmp_path / "run", compile_mode=mode)
    assert not (tmp_path / "run" / CHECKPOINT).exists()
    with pytest.raises(ValueError, match=rf"compile_mode={mode!r}"):
        iw_log_likelihood(model, _data(3), k=2, compile_mode=mode)


def test_missing_cpu_compiler_is_a_clear_error_before_training(tmp_path):
    """Inductor runs the compiler it is configured with ($CXX, else g++): one that cannot run is named
    before any training, with the fix."""
    with inductor_config.patch({"cpp.cxx": ("/nonexistent/g++",)}):
        assert "C++ compiler" in compiling.cpu_toolchain_missing()
        with pytest.raises(RuntimeError, match=r"compile_mode='default' on the CPU needs the C\+\+ compiler "
                                               r"Inductor looks for.*CXX.*compile_mode=None"):
            train(_model(), _data(), CFG, binarize=True, run_dir=tmp_path / "run", compile_mode="default")
    assert not (tmp_path / "run" / CHECKPOINT).exists()


def test_missing_python_headers_are_named(tmp_path, monkeypatch):
    monkeypatch.setattr(compiling.sysconfig, "get_paths", lambda: {"include": str(tmp_path)})
    with inductor_config.patch({"cpp.cxx": ("true",)}):  # any command that runs
        assert compiling.cpu_toolchain_missing() == (f"Python's C headers ({tmp_path}/Python.h is missing; "
                                                     "e.g. apt install python3-dev)")


def test_missing_triton_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(compiling.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RuntimeError, match=r"'reduce-overhead' on cuda needs Triton"):
        compiling.compiled(lambda: None, "reduce-overhead", torch.device("cuda"))


def test_eager_is_the_function_itself():
    fn = lambda: 1  # noqa: E731
    assert compiling.compiled(fn, None, torch.device("cpu")) is fn
