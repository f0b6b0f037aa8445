"""Seed-by-seed log-likelihoods and paired differences (memvae_lib/papers/mem/scores.py), checked on a
linear-Gaussian model whose log p(x) is known; the Table 3 counts and the SVM comparison
(architecture.py, probe.py)."""
import math
from types import SimpleNamespace

import pytest
import torch

from memvae_lib.evaluation import TestSet
from memvae_lib.papers import mem
from memvae_lib.papers.mem import architecture, probe, scores
from toy_models import LinearGaussianModel

DATA = LinearGaussianModel().sample_data(40, torch.Generator().manual_seed(0))
TEST = TestSet("toy", DATA, None, DATA, {})


def runs(tmp_path, name, n, **kw):
    return [SimpleNamespace(model=LinearGaussianModel(**kw), path=tmp_path / f"{name}{i}") for i in range(n)]


def test_exact_posterior_scores_log_p_and_a_worse_posterior_scores_lower_paired_image_by_image(tmp_path):
    exact, blurred = runs(tmp_path, "exact", 2), runs(tmp_path, "blurred", 2, posterior_scale=2.0)
    ll = scores.seed_log_likelihoods(exact, TEST, k=5)
    assert len(ll) == 2 and ll[0]["mean"] == pytest.approx(float(exact[0].model.exact_log_marginal(DATA).mean()))
    gain = scores.seed_differences(exact, blurred, TEST, k=5)
    assert all(g["mean"] > 0 and g["sem"] > 0 and g["n"] == 40 for g in gain)  # L_k <= log p(x), on every image
    assert scores.mean(gain) == pytest.approx((gain[0]["mean"] + gain[1]["mean"]) / 2)
    assert scores.seed_differences(exact, exact, TEST, k=5)[0]["mean"] == pytest.approx(0.0)


def test_seeds_must_pair_up():
    with pytest.raises(ValueError, match="pair the seeds"):
        scores.seed_differences([1, 2], [1], TEST, 5)
    with pytest.raises(ValueError, match="no seeds"):
        scores.mean([])



def test_the_gain_curve_is_mem_minus_baseline_at_the_epochs_both_recorded():
    mem_run = SimpleNamespace(history=[{"epoch": 1, "test_ll": -100.0}, {"epoch": 2, "loss": 1.0},
                                       {"epoch": 3, "test_ll": -90.5}, {"epoch": 4, "test_ll": -89.0}])
    base_run = SimpleNamespace(history=[{"epoch": 1, "test_ll": -101.0}, {"epoch": 2, "test_ll": -95.0},
                                        {"epoch": 3, "test_ll": -92.0}])
    assert scores.gain_curve(mem_run, base_run) == [(1, 1.0), (3, 1.5)]  # epochs 2 and 4: one side only
    assert scores.gain_curve(mem_run, SimpleNamespace(history=[{"epoch": 1, "loss": 2.0}])) == []

def test_table1_names_and_the_budget_line():
    assert scores.TABLE1_MODELS == ("VAE", "MEM-VAE", "IWAE-5", "MEM-IWAE-5", "IWAE-50", "MEM-IWAE-50")
    laptop = mem.budget("laptop")
    assert scores.k_eval(laptop, "ocr_letters") == laptop.k_eval_ocr and scores.k_eval(laptop, "mnist") == laptop.k_eval
    line = scores.budget_line(laptop)
    assert f"{laptop.seeds} training seeds" in line and f"{laptop.epochs_k50} (k=50)" in line
    assert all(row["ours"] is None and row["paper"] is not None for row in scores.literature_rows())


def test_table3_counts_are_the_exact_integers_of_docs_protocols():
    counts = architecture.parameter_counts(extra=True)
    assert counts == {"MNIST-500-500-100": 1_440_984, "MNIST-530-530-100": 1_559_184,
                      "MNIST-500-500-100-MEM": 1_550_084, "OCR-letters-200-200-50": 163_828,
                      "OCR-letters-200-200-50-MEM": 207_528, "Frey-200-10": 344_340, "Frey-200-10-MEM": 354_160}
    assert architecture.parameter_counts("laptop") == {k: v for k, v in counts.items() if not k.startswith("Frey")}


def test_svm_accuracy_difference_in_points_with_the_binomial_se():
    d = probe.accuracy_difference({"accuracy": 0.98}, {"accuracy": 0.97}, n_test=1000)
    assert d["mean"] == pytest.approx(1.0)
    assert d["sem"] == pytest.approx(100 * math.sqrt((0.98 * 0.02 + 0.97 * 0.03) / 1000))
    with pytest.raises(ValueError, match="pair the seeds"):
        probe.seed_accuracy_differences([{"accuracy": 1.0}], [], 10)


class Encoder:
    """encoder_features = the first two pixels: classes 0 and 1 are separable on them."""
    device = torch.device("cpu")

    def encoder_features(self, x):
        return x[:, :2]


def test_the_svm_probe_is_cached_per_run(tmp_path, monkeypatch):
    g = torch.Generator().manual_seed(0)
    y = torch.arange(60) % 2
    x = torch.rand(60, 4, generator=g) + torch.stack([y, 1 - y], 1).repeat(1, 2).float() * 3  # separable
    test = TestSet("toy", x, y, x, {})
    run = SimpleNamespace(model=Encoder(), path=tmp_path)
    acc = probe.svm_accuracy(run, x, y, test, lam=1e-4, seed=0)
    assert acc["accuracy"] == 1.0 and acc["n_train"] == 60 and acc["C"] == pytest.approx(1 / (1e-4 * 60))
    monkeypatch.setattr(probe, "linear_svm_probe", lambda *a, **k: pytest.fail("recomputed a cached probe"))
    assert probe.svm_accuracy(run, x, y, test, lam=1e-4, seed=0) == acc
