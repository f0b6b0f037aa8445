"""The batch's training phase (train_ahead.py): which runs it trains (those the notebooks' results JSON
records, only where the folder still matches), in which order (longest first), and that a run trained
there is the run a notebook trains (the same files, bit for bit)."""

import dataclasses
import json
import signal

import pytest
import torch

from memvae_lib import batch, train_ahead
from memvae_lib.data import DataError
from memvae_lib.experiments import run_spec
from memvae_lib.models import build_model
from memvae_lib.runs import run_dir
from memvae_lib.train_jobs import Stopped


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMVAE_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


def _results(figures, notebook, recorded):
    path = figures / f"{notebook}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"protocol": {"runs": recorded}}))


def _seed(spec, seed):
    return dataclasses.replace(spec, train=dataclasses.replace(spec.train, seed=seed))


def test_needed_runs_are_the_recorded_ones_whose_folder_still_matches(tmp_path, runs, monkeypatch):
    from memvae_lib import experiments

    real = experiments.run_spec

    def run_spec_failing_for_b100(name, profile):
        if name == "mem/frey/VAE-b100":
            raise ValueError("a config that no longer validates")
        return real(name, profile)

    monkeypatch.setattr(experiments, "run_spec", run_spec_failing_for_b100)
    vae, mem = run_spec("mem/frey/VAE-b10", "smoke"), run_spec("mem/frey/MEM-VAE-b10", "smoke")
    _results(tmp_path, "mem/fig5", {
        "mem/frey/VAE-b10": run_dir(vae).name,
        "mem/frey/VAE-b10@seed2234": run_dir(_seed(vae, 2234)).name,
        "mem/frey/MEM-VAE-b10": "frey-MemVAE-0000000000000000",  # recorded before the code changed
        "no/such/experiment": "frey-VAE-1111111111111111",        # a helper's own run
        "mem/frey/VAE-b100": "frey-VAE-2222222222222222",         # its spec no longer builds (below)
    })
    _results(tmp_path, "mem/fig6", {"mem/frey/VAE-b10": run_dir(vae).name,  # the same run again
                                    "mem/frey/MEM-VAE-b10@seed3234": run_dir(_seed(mem, 3234)).name})
    needed = train_ahead.needed_runs(["mem/fig5", "mem/fig6", "mem/missing"], "smoke", tmp_path)
    assert list(needed) == ["mem/frey/VAE-b10", "mem/frey/VAE-b10@seed2234", "mem/frey/MEM-VAE-b10@seed3234"]
    assert needed["mem/frey/VAE-b10@seed2234"] == _seed(vae, 2234)
    assert needed["mem/frey/MEM-VAE-b10@seed3234"] == _seed(mem, 3234)


@pytest.mark.parametrize("text", ["{not json", '{"protocol": {}}', '{"protocol": {"runs": [1, 2]}}', "[]"])
def test_an_unreadable_record_means_nothing_to_train_ahead(tmp_path, text):
    (tmp_path / "nb.json").write_text(text)
    assert train_ahead.recorded_runs(tmp_path / "nb.json") == {}


def test_the_cost_is_examples_times_samples_times_parameters():
    spec = run_spec("mem/frey/VAE-b10", "smoke")
    parameters = sum(p.numel() for p in build_model(spec.model).parameters())
    assert train_ahead.training_cost(spec, 1965) == spec.train.epochs * 1965 * 1 * parameters
    more = dataclasses.replace(spec, train=dataclasses.replace(spec.train, epochs=3), train_subset=100,
                               model=dataclasses.replace(spec.model, k=5))
    assert train_ahead.training_cost(more, 1965) == 3 * 100 * 5 * parameters
    state = torch.get_rng_state()
    train_ahead.training_cost(spec, 1965)
    assert torch.equal(torch.get_rng_state(), state)  # building the model to count its weights draws nothing


def test_an_epitome_model_pays_a_third_of_a_pass_per_epitome():
    spec = run_spec("evae/mnist/eVAE-D50-K5", "smoke")
    model = spec.model
    epitomes = (model.latent_dim - model.epitome_size) // model.stride + 1
    plain = dataclasses.replace(spec, train=dataclasses.replace(spec.train, eval_every=0))
    parameters = sum(p.numel() for p in build_model(model).parameters())
    n = min(60000, spec.train_subset or 60000)
    assert train_ahead.training_cost(plain, 60000) == pytest.approx(spec.train.epochs * n * (1 + epitomes / 3) * parameters)


def test_longest_first_skips_finished_runs(runs):
    short = run_spec("mem/frey/VAE-b10", "smoke")
    long = dataclasses.replace(short, train=dataclasses.replace(short.train, epochs=4))
    done = _seed(short, 99)
    (run_dir(done)).mkdir(parents=True)
    (run_dir(done) / "done").write_text("")
    order = train_ahead.longest_first({"short": short, "long": long, "done": done})
    assert list(order) == ["long", "short"]


def test_the_workers_take_the_kernels_thread_count(monkeypatch):
    from memvae_lib import train_jobs

    # batch.run_notebooks sets it for kernels and workers alike (1 each for JOBS=2 on 2 cores; torch
    # caps a larger value at the cores, and its default is all of them)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert train_jobs._train_in_workers({"threads": (torch.get_num_threads,)}, 1) == {"threads": 1}


def test_workers_share_the_cores_out_unless_omp_num_threads_is_set(monkeypatch):
    """`memvae train --jobs N` outside a batch: each worker gets batch.kernel_threads(N) torch threads,
    not torch's default of every core (N workers would oversubscribe them); a value set wins."""
    from memvae_lib import batch, train_jobs

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    calls = {f"w{i}": (torch.get_num_threads,) for i in range(2)}
    assert train_jobs._train_in_workers(calls, 2) == {"w0": batch.kernel_threads(2), "w1": batch.kernel_threads(2)}
    assert train_jobs._train_in_workers({"one": (torch.get_num_threads,)}, 1) == {"one": batch.kernel_threads(1)}
    # a value that kernel_threads(2) would not give on 2 or more cores (all of them), and right on 1
    every_core = batch.kernel_threads(1)
    monkeypatch.setenv("OMP_NUM_THREADS", str(every_core))
    assert train_jobs._train_in_workers(calls, 2) == {"w0": every_core, "w1": every_core}


def test_a_run_trained_ahead_is_the_run_a_notebook_trains(tmp_path, monkeypatch, capsys):
    """The same spec through train_ahead (a one-thread worker process) and through evaluation.get_run
    in this process (one thread, as a notebook kernel of the batch): the same weights and history.
    A batch-norm MEM-VAE with a test-LL curve, whose evaluation draws from the global RNG mid-training."""
    from memvae_lib.evaluation import get_run

    spec = run_spec("mem/mnist/MEM-VAE", "smoke")
    assert spec.train.eval_every > 0 and spec.train.eval_metric == "test_ll" and spec.model.batch_norm
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("MEMVAE_RUNS_DIR", str(tmp_path / "ahead"))
    outcomes = train_ahead.train_ahead({"mem/mnist/MEM-VAE": spec}, "cpu", jobs=2)
    assert outcomes["mem/mnist/MEM-VAE"].startswith("done")
    assert "training 1 run(s) the notebooks need" in capsys.readouterr().out
    ahead = run_dir(spec)
    assert (ahead / "done").exists()
    assert train_ahead.train_ahead({"mem/mnist/MEM-VAE": spec}, "cpu", jobs=2) == {}  # nothing left to train

    monkeypatch.setenv("MEMVAE_RUNS_DIR", str(tmp_path / "here"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        here = get_run(spec, device="cpu").path
    finally:
        torch.set_num_threads(threads)
    assert (ahead / "model.pt.sha256").read_text() == (here / "model.pt.sha256").read_text()

    def history(folder):  # the epochs' wall time differs, nothing else may
        return [{k: v for k, v in epoch.items() if k != "seconds"} for epoch in json.loads((folder / "history.json").read_text())]

    assert history(ahead) == history(here)


def test_the_batch_trains_ahead_only_with_jobs_on_a_cpu(notebook_tree, tmp_path, monkeypatch):
    from notebook_files import write_notebook

    calls = []
    monkeypatch.setattr(batch, "_train_first", lambda names, profile, device, jobs: calls.append((names, jobs)))
    write_notebook(notebook_tree / "demo" / "ok.ipynb", "x = 1")
    batch.run_notebooks("smoke", device="cpu", jobs=1, notebooks_dir=notebook_tree, build_dir=tmp_path / "b")
    assert calls == []
    batch.run_notebooks("smoke", device="cpu", jobs=2, notebooks_dir=notebook_tree, build_dir=tmp_path / "b")
    assert calls == [(["demo/ok"], 2)]


@pytest.mark.parametrize("raised, signal_number", [(KeyboardInterrupt, signal.SIGINT), (Stopped, signal.SIGTERM)])
def test_ctrl_c_or_sigterm_while_training_ahead_stops_the_batch_before_any_notebook(monkeypatch, raised, signal_number):
    def interrupted(*args, **kwargs):
        raise raised

    monkeypatch.setattr(train_ahead, "train_ahead", interrupted)
    monkeypatch.setattr(train_ahead, "needed_runs", lambda *args: {})
    with pytest.raises(batch.Interrupted) as stop:
        batch._train_first(["a/b", "a/c"], "smoke", "cpu", 2)
    assert (stop.value.finished, stop.value.stopped, stop.value.skipped) == ([], [], 2)
    assert stop.value.signal_number == signal_number


def test_any_other_error_skips_the_phase_and_leaves_the_runs_to_the_notebooks(monkeypatch, capsys):
    def missing_data(*args, **kwargs):
        raise DataError("MNIST not found in /nowhere\nset MEMVAE_DATA_DIR to the folder holding it")

    monkeypatch.setattr(train_ahead, "train_ahead", missing_data)
    monkeypatch.setattr(train_ahead, "needed_runs", lambda *args: {})
    batch._train_first(["a/b"], "smoke", "cpu", 2)  # returns: the batch goes on
    said = capsys.readouterr().out
    assert "training ahead skipped (DataError: MNIST not found in /nowhere ... set MEMVAE_DATA_DIR" in said
    assert "the notebooks train their own runs" in said


def test_no_training_ahead_on_a_gpu(monkeypatch):
    monkeypatch.setattr(train_ahead, "needed_runs", lambda *args: pytest.fail("a GPU batch trains in its notebooks"))
    monkeypatch.setattr("memvae_lib.files.resolve_device", lambda device: torch.device("cuda"))
    batch._train_first(["a/b"], "smoke", "cuda", 2)
