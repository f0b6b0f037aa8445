"""Per-seed measurements and the checked rows (memvae_lib/papers/evae/measures.py)."""
import math
import types

import pytest
import torch

from memvae_lib.papers.evae import measures
from memvae_lib.papers.evae.claims import Seeds


class Half(torch.nn.Module):
    """Reconstructs every pixel as 0.5: -log p(x | E_q z) = D log 2 for any binary x."""

    def __init__(self):
        super().__init__()
        self.register_buffer("_dtype", torch.zeros(1, dtype=torch.float64))

    def reconstruct(self, x):
        return torch.full_like(x, 0.5)


def test_reconstruction_report_in_closed_form_and_cached(tmp_path):
    test = types.SimpleNamespace(x=(torch.rand(7, 5, generator=torch.Generator().manual_seed(0)) > 0.5).double(),
                                 dataset="mnist", protocol={"test_set_sha256": "abc"})
    run = types.SimpleNamespace(model=Half(), path=tmp_path)
    report = measures.reconstruction_report(run, test)
    assert report["mean"] == pytest.approx(5 * math.log(2)) and report["sem"] == pytest.approx(0.0, abs=1e-12)
    assert report["n"] == 7 and (tmp_path / "metrics" / "reconstruction-nll-n7-abc.json").is_file()
    run.model = None
    assert measures.reconstruction_report(run, test) == report


def _measured(counts, parzen=None, marginal=None, kl=None):
    activity = [{"count": c, "threshold": 0.02, "n_examples": 500, "kl_active": kl, "kl_inactive": None,
                 "data": "first 500 training images", **({"per_epitome": {}, "marginal_count": m} if marginal else {})}
                for c, m in zip(counts, marginal or counts)]
    return measures.Measured([types.SimpleNamespace()] * len(counts), activity, parzen=parzen)


def test_rows_give_the_mean_over_seeds_and_list_them():
    rows = measures.rows({"eVAE": _measured((48, 50), Seeds((160.0, 170.0), (3.0, 3.5)), marginal=(40, 44), kl=1.5)},
                         paper={("active_units", "eVAE"): 50}, kl=True)
    by = {r.quantity: r for r in rows}
    assert by["active_units"].ours == 49.0 and by["active_units"].gap == -1.0
    assert "mean of 2 seeds: 48.00, 50.00" in by["active_units"].note
    assert by["active_units_marginal"].ours == 42.0
    assert by["parzen_log_density"].ours == 165.0 and by["parzen_log_density"].note.startswith("SE 3.00")
    assert by["mean_unit_kl_inactive"].ours is None and by["mean_unit_kl_active"].ours == 1.5


def test_one_seed_keeps_its_value_and_negated_likelihoods_read_as_nll():
    m = _measured((20,))
    m.iwll = Seeds((-86.5,), (0.4,))
    rows = measures.rows({"VAE": m}, negate_iwll=True)
    assert rows[0].ours == 20 and isinstance(rows[0].ours, int) and rows[0].note == "A_u >= 0.02, 500 train"
    assert rows[1].quantity == "negative_test_log_likelihood" and rows[1].ours == 86.5
    row = measures.seed_row("gap", "D=50", Seeds((1.0, 3.0), (0.5, 0.5)), paper=0.63, note="> 0: better")
    assert row.ours == 2.0 and row.note.startswith("> 0: better; SE 0.50; mean of 2 seeds")


def test_measure_collects_every_seed(monkeypatch):
    monkeypatch.setattr(measures, "test_set", lambda dataset, n: types.SimpleNamespace(x=None))
    monkeypatch.setattr(measures, "activity_report", lambda run, dataset, threshold: {"count": run.n})
    monkeypatch.setattr(measures, "parzen_report", lambda run, dataset, budget: {"mean": 10.0 * run.n, "sem": 1.0})
    monkeypatch.setattr(measures, "test_log_likelihood", lambda run, test, k: {"mean": -float(run.n), "sem": 0.5})
    runs = [types.SimpleNamespace(n=1), types.SimpleNamespace(n=3)]
    m = measures.measure(runs, types.SimpleNamespace(test_subset=5), parzen=True, iwll_k=7)
    assert m.counts == (1, 3) and m.parzen == Seeds((10.0, 30.0), (1.0, 1.0)) and m.iwll.values == (-1.0, -3.0)
    assert m.reconstruction is None and m.first is runs[0]
