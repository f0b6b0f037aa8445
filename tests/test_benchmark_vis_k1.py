"""benchmarks/vis_k1.py (issue 13): VIS-MEM-VAE's Appendix D claims at the MNIST k = 1 pair's budget.
Its runs are the pair's and VIS-MEM-VAE's at that budget; a smoke run writes what it prints, its
verdicts are the claims functions' on the numbers it records, and a second call trains nothing."""
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from memvae_lib.experiments import run_spec
from memvae_lib.papers import mem
from memvae_lib.papers.mem import claims

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "vis_k1.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("vis_k1", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


@pytest.mark.parametrize("profile", ["smoke", "laptop", "paper"])
def test_vis_trains_as_the_k1_pair_and_differs_from_the_notebooks_vis_only_in_budget(bench, profile):
    specs = bench.specs(profile)
    vis, pair = specs["VIS-MEM-VAE"][0], specs["MEM-VAE"][0]
    short = run_spec("mem/mnist/VIS-MEM-VAE", profile)
    assert vis.model == short.model and vis.model.attention == "softmax" and vis.model.composition == "sum"
    assert (vis.train_subset, vis.train.epochs, vis.train.batch_size, vis.train.schedule) == \
           (pair.train_subset, pair.train.epochs, pair.train.batch_size, pair.train.schedule)
    assert vis.train.eval_every == 0  # no curve: the curve's random draws would change the run
    b = mem.budget(profile)
    assert all(len(s) == b.seeds for s in specs.values())
    assert [s.train.seed for s in specs["VIS-MEM-VAE"]] == [s.train.seed for s in specs["VAE"]]
    assert (vis == short) == (profile != "laptop")  # the same run where the k = 1 budget is Table 1's


def test_smoke_run_writes_what_it_prints_judged_by_the_notebooks_claims(bench, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MEMVAE_RUNS_DIR", str(tmp_path / "runs"))
    out = tmp_path / "out"
    result = bench.main(["--profile", "smoke", "--out", str(out)])
    assert json.loads((out / "vis_k1.json").read_text()) == json.loads(json.dumps(result))
    assert (out / "vis_k1.txt").read_text().strip() in capsys.readouterr().out
    # the verdicts follow from the recorded numbers by the notebook's own functions
    steps = {tuple(name.split(" - ")): ds for name, ds in result["differences"].items()}
    assert set(steps) == set(bench.STEPS)
    between = claims.fig7_vis_between(steps)
    slots = claims.fig7_class_specific_slots([{"mean": d} for d in result["distinct_top1_slots"]])
    assert [c["verdict"] for c in result["claims"]] == [between.verdict, slots.verdict]
    assert [c["reason"] for c in result["claims"]] == [between.reason, slots.reason]
    for (a, c), ds in steps.items():  # a difference is the two models' L_k on the same images
        for d, la, lc in zip(ds, result["test_ll"][a], result["test_ll"][c]):
            assert d["mean"] == pytest.approx(la - lc, abs=1e-9)
    assert all(0 <= n <= 10 for n in result["distinct_top1_slots"])
    assert all(len(top) == 10 and all(0 <= s < 70 for s in top) for top in result["top1_slot"])
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert runs == sorted({r for rs in result["runs"].values() for r in rs})
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").glob("*/model.pt")}
    again = bench.main(["--profile", "smoke", "--out", str(out)])
    assert again["test_ll"] == result["test_ll"] and again["claims"] == result["claims"]
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").glob("*/model.pt")} == stamps  # nothing retrained
