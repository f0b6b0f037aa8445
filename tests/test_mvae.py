"""mVAE: independent components, parameter matching to the eVAE (§3.5), block latent exposure."""
import math

import pytest
import torch

from memvae_lib.models.evae import EVAEConfig, EpitomicVAE
from memvae_lib.models.mvae import (MVAEConfig, MixtureVAE, evae_parameter_count, matched_component_width,
                                    mvae_parameter_count)
from memvae_lib.nets import count_parameters
from memvae_lib.objectives import (iwae_bound, kl_standard_normal, log_bernoulli_logits, log_mean_exp,
                                   log_normal, log_standard_normal)

SMALL = dict(input_dim=10, hidden=(12,), latent_dim=6, epitome_size=2, stride=2, component_hidden=(5, 4))


def model_and_data(seed=0, n=30, **overrides):
    torch.manual_seed(seed)
    model = MixtureVAE(MVAEConfig(**{**SMALL, **overrides}))
    x = (torch.rand(n, model.config.input_dim) < 0.4).float()
    return model, x


def component(model, j, x=None, z=None):
    """Component j as a plain VAE, from its slice of the stacked weights: (mu, logvar) or logits."""
    layers = model.encoder.layers if z is None else model.decoder.layers
    h = x if z is None else z
    for layer in layers:
        h = torch.relu(h @ layer.weight[j] + layer.bias[j])
    if z is None:
        return h @ model.mu_head.weight[j] + model.mu_head.bias[j], h @ model.logvar_head.weight[j] + model.logvar_head.bias[j]
    return h @ model.mean_head.weight[j] + model.mean_head.bias[j]


@pytest.mark.parametrize("evae_kwargs", [
    dict(),                                                            # Fig. 3: 784-500-50, K = 5
    dict(hidden=(500, 500, 500), latent_dim=48, epitome_size=4, stride=4),   # Table 4 (3, 500, 48)
    dict(hidden=(1000, 1000), latent_dim=24, epitome_size=3, stride=3, batch_norm=True),
    dict(input_dim=2304, hidden=(500, 500), latent_dim=25, epitome_size=5, stride=5, likelihood="gaussian"),
    dict(latent_dim=20, epitome_size=2, stride=1),                     # 19 overlapping epitomes
])
def test_matched_width_is_the_largest_that_fits(evae_kwargs):
    c = EVAEConfig(**evae_kwargs)
    width, depth = matched_component_width(c), len(c.hidden)
    budget = evae_parameter_count(c)
    assert mvae_parameter_count(c, (width,) * depth) <= budget < mvae_parameter_count(c, (width + 1,) * depth)
    if depth == 1:
        assert count_parameters(EpitomicVAE(c)) == budget
        mc = MVAEConfig(**evae_kwargs)
        model = MixtureVAE(mc)
        counts = model.parameter_counts()
        assert model.component_hidden == (width,) and counts["component_hidden"] == (width,)
        assert counts["mvae"] == count_parameters(model) == mvae_parameter_count(c, (width,)) <= counts["evae"] == budget


def test_parameter_formulas_match_built_models():
    c = EVAEConfig(input_dim=10, hidden=(7, 5), latent_dim=6, epitome_size=3, stride=1, batch_norm=True,
                   likelihood="gaussian", logvar_floor=-4.0)
    assert count_parameters(EpitomicVAE(c)) == evae_parameter_count(c)
    m = MixtureVAE(MVAEConfig(**{**SMALL, "likelihood": "gaussian"}))
    assert count_parameters(m) == mvae_parameter_count(m.config, (5, 4)) == m.parameter_counts()["mvae"]


def test_components_are_independent():
    model, x = model_and_data()
    E = model.num_epitomes
    y = torch.zeros(x.shape[0], dtype=torch.long)
    model.training_loss(x, y)[0].backward()
    for name, p in model.named_parameters():
        assert (p.grad[1:] == 0).all(), name                           # nobody assigned to 1..E-1
        assert (p.grad[0] != 0).any(), name
    costs = model.epitome_costs(x).detach()
    with torch.no_grad():
        for p in model.parameters():
            p[1].add_(1.0)                                             # perturb component 1 only
    new = model.epitome_costs(x).detach()
    assert torch.equal(new[:, [0, 2]], costs[:, [0, 2]]) and not torch.equal(new[:, 1], costs[:, 1])
    assert E == 3


def test_costs_and_training_loss_match_the_component_vaes():
    model, x = model_and_data()
    with torch.no_grad():
        model.mean_head.weight.mul_(5.0)
    hand = []
    for j in range(model.num_epitomes):
        mu, logvar = component(model, j, x=x)
        hand.append(-log_bernoulli_logits(x, component(model, j, z=mu)).sum(-1) + kl_standard_normal(mu, logvar).sum(-1))
    hand = torch.stack(hand, 1)
    torch.testing.assert_close(model.epitome_costs(x), hand)
    y = model.assign_epitomes(x)
    assert torch.equal(y, hand.argmin(1)) and len(set(y.tolist())) > 1
    y = torch.arange(x.shape[0]) % model.num_epitomes                  # mixed assignment, each row its own component
    torch.manual_seed(3)
    loss, logs = model.training_loss(x, y)
    torch.manual_seed(3)
    eps = torch.randn(x.shape[0], 2)
    per_row = []
    for i, j in enumerate(y.tolist()):
        mu, logvar = component(model, j, x=x[i:i + 1])
        z = mu + torch.exp(0.5 * logvar) * eps[i]
        per_row.append(-log_bernoulli_logits(x[i:i + 1], component(model, j, z=z)).sum() + kl_standard_normal(mu, logvar).sum())
    torch.testing.assert_close(loss, torch.stack(per_row).mean() + math.log(3))
    assert set(logs) == {"loss", "recon", "kl"}


def test_log_weights_include_log_p_y():
    model, x = model_and_data(n=5)
    torch.manual_seed(1)
    log_w = model.log_weights(x, 4)
    torch.manual_seed(1)
    cond = model.conditional_log_weights(x, 4)
    assert log_w.shape == (5, 3, 4)
    torch.testing.assert_close(log_w, cond - math.log(3), rtol=0, atol=1e-5)
    per_y = log_mean_exp(cond, -1)
    mixture = iwae_bound(log_w)
    assert (mixture <= per_y.max(1).values + 1e-5).all() and (mixture >= per_y.max(1).values - math.log(3) - 1e-5).all()
    # component 2's weights by hand, same noise
    torch.manual_seed(1)
    eps = torch.randn(3, 5, 4, 2)[2]
    mu, logvar = component(model, 2, x=x)
    z = mu[:, None] + torch.exp(0.5 * logvar[:, None]) * eps
    logits = component(model, 2, z=z)
    hand = log_bernoulli_logits(x[:, None].expand_as(logits), logits).sum(-1)
    hand = hand + (log_standard_normal(z) - log_normal(z, mu[:, None], logvar[:, None])).sum(-1)
    torch.testing.assert_close(cond[:, 2], hand, rtol=1e-5, atol=1e-4)


def test_latent_space_is_exposed_in_blocks():
    model, x = model_and_data()
    E, K = model.num_epitomes, 2
    assert model.latent_dim == E * K
    y = model.assign_epitomes(x)
    blocks = model.posterior_mean(x).reshape(-1, E, K)
    kl = model.kl_per_unit(x).reshape(-1, E, K)
    sample = model.sample_posterior(x).reshape(-1, E, K)
    for i, j in enumerate(y.tolist()):
        mu, logvar = component(model, j, x=x[i:i + 1])
        torch.testing.assert_close(blocks[i, j], mu[0])
        torch.testing.assert_close(kl[i, j], kl_standard_normal(mu, logvar)[0])
        others = [e for e in range(E) if e != j]
        assert (blocks[i, others] == 0).all() and (kl[i, others] == 0).all() and (sample[i, others] == 0).all()
    z = model.sample_prior(50, torch.Generator().manual_seed(0))
    assert z.shape == (50, E * K) and ((z.reshape(50, E, K) != 0).any(-1).sum(1) == 1).all()
    assert torch.equal(z, model.sample_prior(50, torch.Generator().manual_seed(0)))
    z = torch.cat([z[:10], torch.zeros(1, E * K)])                     # last row: all zeros -> component 0
    means = model.decode_mean(z)
    comp = (z.reshape(11, E, K) != 0).any(-1).float().argmax(1)
    for i in range(11):
        j = int(comp[i])
        torch.testing.assert_close(means[i:i + 1], torch.sigmoid(component(model, j, z=z[i].reshape(E, K)[j:j + 1])))
    assert model.sample(4).shape == model.reconstruct(x[:4]).shape == (4, 10)


def test_minibatches_are_balanced_and_carry_y():
    model, x = model_and_data(n=61)
    y = model.assign_epitomes(x)
    sizes = torch.bincount(y, minlength=3)
    batches = list(model.minibatches(x, 10, torch.Generator().manual_seed(0)))
    assert len(batches) == 6
    for b in batches:
        assert torch.equal(b["y"], model.assign_epitomes(b["x"]))
        assert ((torch.bincount(b["y"], minlength=3) - sizes * 10 / 61).abs() < 1).all()


@pytest.mark.parametrize("overrides,field", [
    (dict(component_hidden=()), "component_hidden"), (dict(component_hidden=(5, 0)), "component_hidden"),
    (dict(batch_norm=True), "batch_norm"), (dict(stride=3), "stride"), (dict(epitome_size=9), "epitome_size"),
])
def test_bad_config_names_the_field(overrides, field):
    with pytest.raises(ValueError, match=field):
        MVAEConfig(**{**SMALL, **overrides})


def test_matched_default_and_impossible_match():
    c = MVAEConfig(**{**SMALL, "component_hidden": None, "hidden": [12]})
    assert c.resolved_component_hidden() == (matched_component_width(c),)
    assert "matched" in c.describe()
    with pytest.raises(ValueError, match="no component width fits"):
        matched_component_width(EVAEConfig(input_dim=10, hidden=(1,), latent_dim=6, epitome_size=1, stride=1))
