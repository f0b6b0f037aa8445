"""The capacity grids (memvae_lib/papers/evae/grid.py): which cells each profile trains, the replicated
representative cell, selection on validation, the seed spread."""
import math
import types

import pytest

from memvae_lib import experiments
from memvae_lib.papers import evae
from memvae_lib.papers.evae import grid
from memvae_lib.papers.evae.configs import grid_cell

PROFILES = ("smoke", "laptop", "paper")


def test_grid_keys_follow_the_budget():
    smoke = grid.grid_keys(evae.budget("smoke"), "table4")
    assert smoke == [("VAE", 1, 500, 8, None), ("mVAE", 1, 500, 8, 4), ("eVAE", 1, 500, 8, 4)]
    laptop = grid.grid_keys(evae.budget("laptop"), "fig7")
    assert {k for *_, k in laptop} == {None, 2, 4, 8} and all(k is None or k <= d for _, _, _, d, k in laptop)
    assert {k for *_, k in grid.grid_keys(evae.budget("laptop"), "table1")} == {None, grid.FACES_EPITOME}
    with pytest.raises(ValueError, match="grid 'table5'"):
        grid.grid_keys(evae.budget("smoke"), "table5")


@pytest.mark.parametrize("profile", PROFILES)
def test_every_cell_is_a_registered_experiment(profile):
    b, names = evae.budget(profile), set(experiments.experiment_names(profile))
    for g in grid.GRIDS:
        dataset = "olivetti" if g == "table1" else "mnist"
        for kind, layers, hidden, latent, k in grid.grid_keys(b, g):
            name, _ = grid_cell(kind, b, layers=layers, hidden=hidden, latent=latent, epitome=k, dataset=dataset)
            assert name in names


@pytest.mark.parametrize("profile", PROFILES)
def test_the_representative_cell_is_in_table4_and_fig7_alike(profile):
    """Fig. 7, Table 4 and Table 3 borrow the spread of the same replicated runs."""
    b = evae.budget(profile)
    layers, hidden, latent, k = grid.representative_cell(b, "mnist")
    for g in ("table4", "fig7"):
        keys = grid.grid_keys(b, g)
        assert all((kind, layers, hidden, latent, k if kind != "VAE" else None) in keys for kind in grid.KINDS), g
    faces = grid.representative_cell(b, "olivetti")
    assert all((kind, *faces[:3], faces[3] if kind != "VAE" else None) in grid.grid_keys(b, "table1")
               for kind in grid.KINDS)
    if profile == "laptop":
        assert (layers, hidden, latent, k) == (1, 500, 24, 4) and faces == (2, 500, 25, 5)


def _result(kind, latent, k, test, valid, seeds=(None,), share=None):
    parzen = [{"mean": test if s is None else s, "sem": 1.0, "sweep": [[0.1, valid - 5], [0.2, valid]]} for s in seeds]
    return grid.CellResult("x", "mnist", kind, 1, 500, latent, k, [object()] * len(seeds), parzen,
                           [{"count": latent}] * len(seeds), None if kind == "VAE" else {"largest_share_train": share})


def test_best_k_and_best_family_are_chosen_on_validation_never_test():
    results = {("eVAE", 1, 500, 8, 3): _result("eVAE", 8, 3, test=300.0, valid=10.0),
               ("eVAE", 1, 500, 8, 4): _result("eVAE", 8, 4, test=200.0, valid=20.0),
               ("VAE", 1, 500, 8, None): _result("VAE", 8, None, test=250.0, valid=5.0),
               ("VAE", 1, 500, 24, None): _result("VAE", 24, None, test=100.0, valid=15.0)}
    best = grid.best_over_k(results)
    assert best["eVAE", 1, 500, 8].epitome == 4 and best["VAE", 1, 500, 8].latent == 8 and len(best) == 3
    family = grid.best_of_family(results)
    assert family["eVAE"].epitome == 4 and family["VAE"].latent == 24



def test_a_degenerate_model_is_selected_only_when_every_candidate_is():
    def cell(k, valid, share, used=3):
        r = _result("eVAE", 24, k, test=0.0, valid=valid)
        r.usage = {"largest_share_train": share, "used_train": used, "epitomes": 8}
        return r
    results = {("eVAE", 1, 500, 24, 3): cell(3, valid=50.0, share=1.0, used=1),    # best validation, collapsed
               ("eVAE", 1, 500, 24, 4): cell(4, valid=20.0, share=0.3, used=6),
               ("eVAE", 1, 500, 24, 2): cell(2, valid=10.0, share=0.3, used=3)}    # 3 of 8 used: degenerate
    assert results["eVAE", 1, 500, 24, 3].degenerate == "collapsed 100%"
    assert results["eVAE", 1, 500, 24, 2].degenerate == "3 of 8 epitomes used"
    assert results["eVAE", 1, 500, 24, 4].degenerate is None and results["eVAE", 1, 500, 24, 4].cell.epitomes_used == (6, 8)
    assert grid.best_over_k(results)["eVAE", 1, 500, 24].epitome == 4
    assert grid.best_of_family(results)["eVAE"].epitome == 4
    del results["eVAE", 1, 500, 24, 4]                                              # all degenerate: validation decides
    assert grid.best_over_k(results)["eVAE", 1, 500, 24].epitome == 3


def test_seed_spread_is_the_sample_sd_at_the_replicated_cells():
    results = {"a": _result("eVAE", 24, 4, 0, 0, seeds=(160.0, 170.0)), "b": _result("VAE", 24, None, 0, 0, seeds=(130.0,))}
    assert grid.seed_spread(results) == {"eVAE": pytest.approx(math.sqrt(50.0))}
    cell = results["a"].cell
    assert cell.parzen.values == (160.0, 170.0) and cell.active == (24, 24) and cell.largest_share is None
    assert results["a"].label == "eVAE L1 H500 D24 K4"


def test_sweep_replicates_only_the_representative_cell(monkeypatch):
    b = evae.budget("smoke")
    calls = []
    nb = types.SimpleNamespace(budget=b, run=lambda name: calls.append(("run", name)) or types.SimpleNamespace(name=name),
                               seed_runs=lambda name: calls.append(("seeds", name)) or [types.SimpleNamespace(name=name)] * 2)
    monkeypatch.setattr(grid, "parzen_report", lambda run, dataset, budget: {"mean": 1.0, "sem": 0.1, "sweep": [[0.1, 1.0]]})
    monkeypatch.setattr(grid, "activity_report", lambda run, dataset, threshold: {"count": 3})
    monkeypatch.setattr(grid, "usage_report", lambda run, dataset, n: {"largest_share_train": 0.5})
    results = grid.sweep(nb, "fig7")
    replicated = {name for how, name in calls if how == "seeds"}
    assert replicated == {"evae/mnist/VAE-L1-H500-D8", "evae/mnist/mVAE-L1-H500-D8-K4", "evae/mnist/eVAE-L1-H500-D8-K4"}
    assert {name for how, name in calls if how == "run"} == {"evae/mnist/mVAE-L1-H500-D8-K2", "evae/mnist/eVAE-L1-H500-D8-K2"}
    assert results["eVAE", 1, 500, 8, 4].cell.parzen.values == (1.0, 1.0) and results["VAE", 1, 500, 8, None].usage is None


SEC3 = ("evae/mnist/VAE-D50-lambda1", "evae/mnist/VAE-D50-lambda0.5", "evae/mnist/VAE-D50-lambda0.2",
        "evae/mnist/dropout-VAE-D50", "evae/mnist/eVAE-D50-K5")


@pytest.mark.parametrize("profile", PROFILES)
def test_the_sec3_models_take_their_own_budget_and_only_they_do(profile):
    """Figs. 1-3's D = 50 models train at sec3_train_subset / sec3_epochs (laptop: 50,000 images, 20
    epochs, where over-pruning appears); every other MNIST model of Sec. 4-5 keeps train_subset / epochs."""
    b = evae.budget(profile)
    for name in experiments.experiment_names(profile):
        spec = experiments.run_spec(name, profile)
        if spec.dataset != "mnist" or name.startswith("evae/table2/") or not name.startswith("evae/"):
            continue
        expected = (b.sec3_train_subset, b.sec3_epochs) if name in SEC3 else (b.train_subset, b.epochs)
        assert (spec.train_subset, spec.train.epochs) == expected, name
        # the Sec. 3 VAEs (Figs. 1-3, not the eVAE) record their active units after every epoch
        curve = (1, "active_units") if name in SEC3 and "eVAE" not in name else (0, "test_ll")
        assert (spec.train.eval_every, spec.train.eval_metric) == curve, name
    laptop = evae.budget("laptop")
    assert (laptop.sec3_train_subset, laptop.sec3_epochs) == (50_000, 20)
