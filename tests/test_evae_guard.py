"""The empty-epitome guard of Algorithm 1 (`min_assigned`, models/base.assign_with_minimum, issue 13):
the rule itself, its use by the eVAE and the mVAE in training only, and the run hashes it must leave
alone (every existing spec) or change (the Olivetti eVAE/mVAE specs, which use it)."""
import dataclasses

import pytest
import torch

from memvae_lib import experiments
from memvae_lib.models.base import assign_with_minimum
from memvae_lib.models.evae import EVAEConfig, EpitomicVAE
from memvae_lib.models.mvae import MVAEConfig, MixtureVAE
from memvae_lib.papers import evae
from memvae_lib.papers.evae.configs import FACES_MIN_ASSIGNED
from memvae_lib.runs import spec_hash, spec_json

SMALL = dict(input_dim=12, hidden=(16,), latent_dim=6, epitome_size=2, stride=2)   # 3 epitomes

# spec_hash of named experiments, computed before the field existed (commit 38ec957): a change here
# moves cached runs to new folders, i.e. retrains them.
PINNED = {("laptop", "evae/mnist/eVAE-L1-H500-D24-K4"): "f6b107f1854c4f93",
          ("smoke", "evae/mnist/eVAE-D50-K5"): "0f28b1d9429a5edd",
          ("laptop", "evae/mnist/eVAE-D20-K2-s1"): "b1899c70e485288a",
          ("laptop", "evae/mnist/mVAE-L1-H500-D24-K4"): "ff7de64be20b985f",
          ("paper", "evae/table2/eVAE-D50"): "b90025bd192e4a44"}
# the Olivetti specs' hashes before they took the guard: they must have changed
FACES_BEFORE = {("laptop", "evae/faces/eVAE-L2-H500-D25-K5"): "7e09ec27f860dc6b",
                ("laptop", "evae/faces/mVAE-L2-H500-D25-K5"): "fefdabae97fb0d2b"}


def sequential_reference(costs, n):
    """The rule as written in the docstring, one row at a time."""
    y = costs.argmin(1).clone()
    counts = torch.bincount(y, minlength=costs.shape[1])
    for e in range(costs.shape[1]):
        for i in torch.argsort(costs[:, e] - costs[torch.arange(len(y)), y], stable=True).tolist():
            if counts[e] >= n:
                break
            if counts[y[i]] > n:
                counts[y[i]] -= 1
                y[i] = e
                counts[e] += 1
    return y


# ---- the rule ----------------------------------------------------------------------------------
def test_the_short_epitome_takes_the_rows_it_fits_best_relative_to_their_own():
    costs = torch.tensor([[0.0, 1.0, 9.0],      # regret for epitome 1: 1, the least
                          [0.0, 2.0, 9.0],      # 2, but epitome 0 (3 rows) can spare only 3 - 2 = 1
                          [0.0, 8.0, 9.0],      # 8
                          [9.0, 9.0, 0.0],      # 9
                          [9.0, 5.0, 0.0],      # 5
                          [9.0, 4.0, 0.0],      # 4: taken second, from epitome 2 (4 rows, spares 2)
                          [9.0, 7.0, 0.0]])     # 7
    assert costs.argmin(1).tolist() == [0, 0, 0, 2, 2, 2, 2]
    assert assign_with_minimum(costs, 2).tolist() == [1, 0, 0, 2, 2, 1, 2]
    assert assign_with_minimum(costs, 1).tolist() == [1, 0, 0, 2, 2, 2, 2]
    assert torch.equal(assign_with_minimum(costs, 0), costs.argmin(1))


def test_no_short_epitome_means_the_plain_argmin_and_ties_go_to_the_lower_row():
    costs = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    assert torch.equal(assign_with_minimum(costs, 1), costs.argmin(1))
    tied = torch.zeros(4, 2)                               # argmin: all 0; every regret 0
    assert assign_with_minimum(tied, 2).tolist() == [1, 1, 0, 0]
    with pytest.raises(ValueError, match="min_assigned=3.*4 training examples and 2 epitomes"):
        assign_with_minimum(tied, 3)


def test_random_costs_match_the_row_by_row_rule_and_every_epitome_is_filled():
    g = torch.Generator().manual_seed(0)
    for _ in range(40):
        n_rows, n_epi = int(torch.randint(1, 60, (1,), generator=g)), int(torch.randint(1, 8, (1,), generator=g))
        costs = torch.randn(n_rows, n_epi, generator=g)
        costs[:, int(torch.randint(n_epi, (1,), generator=g))] -= 3.0      # one epitome wins most rows
        n = int(torch.randint(0, n_rows // n_epi + 1, (1,), generator=g))
        y = assign_with_minimum(costs, n)
        assert torch.equal(y, sequential_reference(costs, n))
        assert (torch.bincount(y, minlength=n_epi) >= n).all()
        moved = y != costs.argmin(1)
        assert int(moved.sum()) == int((n - torch.bincount(costs.argmin(1), minlength=n_epi)).clamp_min(0).sum())


# ---- the models: training only ------------------------------------------------------------------
@pytest.mark.parametrize("model_class,config_class,extra", [(EpitomicVAE, EVAEConfig, {}),
                                                             (MixtureVAE, MVAEConfig, {"component_hidden": (5,)})])
def test_training_assignments_use_the_guard_and_evaluation_the_argmin(model_class, config_class, extra):
    torch.manual_seed(0)
    plain = model_class(config_class(**SMALL, **extra))
    guarded = model_class(config_class(**SMALL, **extra, min_assigned=12))
    guarded.load_state_dict(plain.state_dict())
    x = (torch.rand(40, 12) < 0.4).float()
    with torch.no_grad():
        costs = plain.epitome_costs(x)
    assert torch.equal(plain.training_assignments(x), plain.assign_epitomes(x))
    y = guarded.training_assignments(x)
    assert torch.equal(y, assign_with_minimum(costs, 12))
    assert (torch.bincount(y, minlength=3) >= 12).all()
    assert torch.equal(guarded.assign_epitomes(x), plain.assign_epitomes(x))     # evaluation unchanged
    batches = list(guarded.minibatches(x, 10, torch.Generator().manual_seed(0)))
    seen = torch.cat([b["y"] for b in batches])
    assert len(batches) == 4 and sorted(seen.tolist()) == sorted(y.tolist())


def test_a_guarded_mvae_trains_every_component():
    """mVAE components share nothing: one that no row chooses gets no gradient at all (the collapse)."""
    torch.manual_seed(1)
    model = MixtureVAE(MVAEConfig(**SMALL, component_hidden=(5,), min_assigned=4))
    x = (torch.rand(30, 12) < 0.4).float()
    with torch.no_grad():
        model.mean_head.bias[1:] -= 50.0                     # components 1, 2 predict all-black: 0 wins every row
    assert torch.bincount(model.assign_epitomes(x), minlength=3).tolist() == [30, 0, 0]
    batch = next(model.minibatches(x, 30, torch.Generator().manual_seed(0)))
    model.training_loss(**batch)[0].backward()
    assert all(model.mean_head.weight.grad[e].abs().sum() > 0 for e in range(3))


@pytest.mark.parametrize("value", [-1, 1.5, True, None])
def test_bad_min_assigned_names_the_field(value):
    with pytest.raises(ValueError, match="min_assigned"):
        EVAEConfig(**SMALL, min_assigned=value)


def test_describe_names_the_guard():
    assert "min_assigned 10" in EVAEConfig(**SMALL, min_assigned=10).describe()
    assert "min_assigned" not in MVAEConfig(**SMALL).describe()


# ---- run hashes ---------------------------------------------------------------------------------
@pytest.mark.parametrize("profile,name", sorted(PINNED))
def test_existing_specs_keep_their_hash_and_a_guard_changes_it(profile, name):
    spec = evae.experiments(evae.budget(profile))[name]()
    assert spec_hash(spec) == PINNED[profile, name]
    assert "min_assigned" not in spec_json(spec)
    explicit = dataclasses.replace(spec, model=dataclasses.replace(spec.model, min_assigned=0))
    assert spec_hash(explicit) == PINNED[profile, name]
    guarded = dataclasses.replace(spec, model=dataclasses.replace(spec.model, min_assigned=5))
    assert spec_hash(guarded) != PINNED[profile, name] and '"min_assigned":5' in spec_json(guarded)


@pytest.mark.parametrize("profile", ["smoke", "laptop", "paper"])
def test_only_the_olivetti_evae_and_mvae_specs_use_the_guard(profile):
    """Every MNIST spec keeps the paper's argmin, so its hash (and run folder) is as before."""
    for name, make in evae.experiments(evae.budget(profile)).items():
        spec = make()
        guarded = spec.dataset == "olivetti" and type(spec.model).__name__ in ("EVAEConfig", "MVAEConfig")
        assert getattr(spec.model, "min_assigned", 0) == (FACES_MIN_ASSIGNED if guarded else 0), name
        assert ("min_assigned" in spec_json(spec)) == guarded, name


@pytest.mark.parametrize("profile,name", sorted(FACES_BEFORE))
def test_olivetti_specs_moved_to_new_folders(profile, name):
    spec = evae.experiments(evae.budget(profile))[name]()
    assert spec.model.min_assigned == FACES_MIN_ASSIGNED and spec_hash(spec) != FACES_BEFORE[profile, name]
    unguarded = dataclasses.replace(spec, model=dataclasses.replace(spec.model, min_assigned=0))
    assert spec_hash(unguarded) == FACES_BEFORE[profile, name]
