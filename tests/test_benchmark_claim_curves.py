"""benchmarks/claim_curves.py (issue 13): a --tiny run on real MNIST writes the curves it prints,
the gain is MEM-VAE minus VAE epoch by epoch, and a second call reads every run from the cache."""
import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "claim_curves.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("claim_curves", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_specs_change_only_data_epochs_and_the_curve(bench):
    from memvae_lib.experiments import run_spec

    size = bench.Size(evae_images=1000, evae_epochs=3, mem_images=2000, mem_epochs=6, test_images=10, k=7)
    specs = bench.overpruning_specs(size, seeds=2)
    vae = run_spec("evae/mnist/VAE-D50-lambda1", "laptop")
    first, second = specs["evae/mnist/VAE-D50-lambda1"]
    assert first.model == vae.model and first.train_subset == 1000
    assert (first.train.epochs, first.train.eval_every, first.train.schedule) == (3, 1, vae.train.schedule)
    assert second.train.seed == first.train.seed + 1000 and second.model == first.model
    ocr, _ = bench.mem_specs(bench.Size(ocr_images=300, ocr_epochs=9), seeds=2, dataset="ocr_letters")["mem/ocr_letters/VAE"]
    assert ocr.model == run_spec("mem/ocr_letters/VAE", "laptop").model
    assert (ocr.train_subset, ocr.train.epochs, ocr.train.anneal_start) == (300, 9, 3)
    mem, _ = bench.mem_specs(size, seeds=2)["mem/mnist/MEM-VAE"]
    assert mem.model == run_spec("mem/mnist/MEM-VAE", "laptop").model and mem.train_subset == 2000
    # the MEM_DGM schedule stretched to the curve: lr annealed after a third of it
    assert (mem.train.epochs, mem.train.anneal_start, mem.train.eval_k, mem.train.eval_subset) == (6, 2, 7, 10)


def test_tiny_run_writes_what_it_prints_and_reads_the_cache_again(bench, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MEMVAE_RUNS_DIR", str(tmp_path / "runs"))
    out = tmp_path / "out"
    curves = bench.main(["--tiny", "--seeds", "2", "--out", str(out)])
    saved = json.loads((out / "claim_curves.json").read_text())
    assert all(saved[c] == curves[c] for c in ("overpruning", "mem_k1", "ocr_k1"))
    assert (out / "claim_curves.png").stat().st_size > 0
    printed = capsys.readouterr().out
    assert (out / "claim_curves.txt").read_text().strip() in printed
    epochs = bench.TINY.evae_epochs
    for per_key in curves["overpruning"]["models"].values():
        assert set(per_key) == {"active_0.02", "active_0.01"}
        for high, low in zip(per_key["active_0.02"], per_key["active_0.01"]):
            assert len(high) == epochs and all(0 <= a <= b <= 50 for a, b in zip(high, low))  # 0.01 counts more
    c = curves["mem_k1"]
    vae, mem = c["models"]["mem/mnist/VAE"]["test_ll"], c["models"]["mem/mnist/MEM-VAE"]["test_ll"]
    assert len(c["gain"]) == 2 and all(len(g) == bench.TINY.mem_epochs for g in c["gain"])
    assert all(g == pytest.approx(m - v, abs=0) for gs, ms, vs in zip(c["gain"], mem, vae)
               for g, m, v in zip(gs, ms, vs))
    assert vae[0] != vae[1]  # two seeds, two runs
    o = curves["ocr_k1"]  # the OCR-letters pair, the same way
    ocr_vae, ocr_mem = o["models"]["mem/ocr_letters/VAE"]["test_ll"], o["models"]["mem/ocr_letters/MEM-VAE"]["test_ll"]
    assert len(o["gain"]) == 2 and all(len(g) == bench.TINY.ocr_epochs for g in o["gain"])
    assert all(g == pytest.approx(m - v, abs=0) for gs, ms, vs in zip(o["gain"], ocr_mem, ocr_vae)
               for g, m, v in zip(gs, ms, vs))
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert len(runs) == 12 and sum(name.startswith("ocr_letters-") for name in runs) == 4
    again = bench.main(["--tiny", "--seeds", "2", "--out", str(out)])
    assert again == curves and sorted(p.name for p in (tmp_path / "runs").iterdir()) == runs
    # one curve at a time: the other is kept from the file, with the command that made it
    one = bench.main(["--tiny", "--seeds", "1", "--curves", "mem_k1", "--out", str(out)])
    saved = json.loads((out / "claim_curves.json").read_text())
    assert saved["overpruning"] == curves["overpruning"] == one["overpruning"]
    assert "--seeds 2" in saved["overpruning"]["command"] and "--seeds 1" in saved["mem_k1"]["command"]
    assert saved["mem_k1"]["gain"] == curves["mem_k1"]["gain"][:1]
    with pytest.raises(SystemExit, match=r"holds the overpruning curve of a --tiny run and this is a full one"):
        bench.main(["--curves", "mem_k1", "--out", str(out)])  # refused before any (full-size) training
    for damaged, says in ((b"{ damaged", "is not valid JSON"), (b"\xff\xfe", "is not valid JSON"),
                          (b'{"overpruning": 3}', "is not a claim_curves.json"), (b"[]", "is not a claim_curves.json")):
        (out / "claim_curves.json").write_bytes(damaged)
        with pytest.raises(SystemExit, match=rf"claim_curves.json {says}.*--curves overpruning mem_k1"):
            bench.main(["--tiny", "--curves", "mem_k1", "--out", str(out)])
    assert bench.main(["--tiny", "--seeds", "2", "--out", str(out)]) == curves  # every curve: the file is rewritten
