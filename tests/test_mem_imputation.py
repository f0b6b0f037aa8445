"""Table 2 imputation chains (memvae_lib/papers/mem/imputation.py): the paper's masks, the per-image
errors behind the paired MSE difference, and the run-folder cache."""
import math
from types import SimpleNamespace

import pytest
import torch

from memvae_lib.papers.mem import imputation
from toy_models import MemorisingImputer


def test_the_papers_three_corruptions():
    assert [int((~imputation.masks(c, 2, seed=0)).sum(1)[0]) for c in ("RECT-12", "HALF")] == [144, 392]
    rand = imputation.masks("RAND-0.6", 500, seed=1)
    assert abs((~rand).float().mean().item() - 0.6) < 0.01
    assert torch.equal(rand, imputation.masks("RAND-0.6", 500, seed=1))
    with pytest.raises(ValueError, match="not one of"):
        imputation.masks("RECT-10", 1, seed=0)


def test_snapshots_include_the_input_and_the_last_iteration():
    assert imputation.snapshot_iterations(100) == list(range(0, 101, 10))
    assert imputation.snapshot_iterations(5) == [0, 1, 2, 3, 4, 5]
    assert imputation.snapshot_iterations(7, count=3) == [0, 2, 4, 6, 7]


def chain(errors, missing):
    return {"squared_error": errors, "missing": missing, "mse_per_iteration": [sum(errors) / max(sum(missing), 1)]}


def test_the_mse_difference_is_exact_and_its_se_comes_from_the_per_image_differences():
    a, b = chain([4.0, 2.0, 6.0], [2, 2, 4]), chain([2.0, 2.0, 2.0], [2, 2, 4])
    d = imputation.mse_difference(a, b)
    assert d["mean"] == pytest.approx(a["mse_per_iteration"][0] - b["mse_per_iteration"][0])  # 12/8 - 6/8
    per_image = [x * 3 / 8 for x in (2.0, 0.0, 4.0)]
    m = sum(per_image) / 3
    assert d["sem"] == pytest.approx(math.sqrt(sum((x - m) ** 2 for x in per_image) / 2 / 3)) and d["n"] == 3
    assert imputation.final_mse([a, b]) == pytest.approx((1.5 + 0.75) / 2)


def test_the_mse_difference_refuses_different_masks_and_nothing_missing():
    with pytest.raises(ValueError, match="different masks"):
        imputation.mse_difference(chain([1.0], [2]), chain([1.0], [3]))
    with pytest.raises(ValueError, match="no pixel is missing"):
        imputation.mse_difference(chain([0.0], [0]), chain([0.0], [0]))
    with pytest.raises(ValueError, match="pair the seeds"):
        imputation.seed_mse_differences([chain([1.0], [2])], [])


def test_a_perfect_imputer_has_zero_error_per_image_and_the_chain_is_cached(tmp_path, monkeypatch):
    x = torch.rand(20, 784, generator=torch.Generator().manual_seed(0))
    mask = imputation.masks("HALF", 20, seed=3)
    run = SimpleNamespace(model=MemorisingImputer(x, mask), path=tmp_path)
    out = imputation.run_chain(run, x, "HALF", iterations=3, batch_size=8, seed=3, n_show=4)
    assert out["squared_error"] == [0.0] * 20 and out["missing"] == [392] * 20 and out["mse_per_iteration"][-1] == 0.0
    assert sorted(map(int, out["snapshots"])) == [0, 1, 2, 3] and imputation.snapshot(out, 3).shape == (4, 784)
    assert torch.allclose(imputation.snapshot(out, 3), x[:4], atol=1 / 255)
    monkeypatch.setattr(imputation, "imputation_chain", lambda *a, **k: pytest.fail("recomputed a cached chain"))
    assert imputation.run_chain(run, x, "HALF", iterations=3, batch_size=8, seed=3, n_show=4) == out
