"""Epitomic VAE: epitome layout, eq. 6-8 masking, y* assignment, balanced batches, IW weights (§3)."""
import math

import pytest
import torch

from memvae_lib.models import base, evae
from memvae_lib.models.evae import (EVAEConfig, EpitomicVAE, balanced_minibatch_indices, epitome_masks,
                                    epitome_starts)
from memvae_lib.objectives import (iwae_bound, kl_standard_normal, log_bernoulli_logits, log_mean_exp,
                                   log_normal, log_standard_normal)

SMALL = dict(input_dim=12, hidden=(16, 8), latent_dim=6, epitome_size=2, stride=2)


def model_and_data(seed=0, n=32, **overrides):
    torch.manual_seed(seed)
    model = EpitomicVAE(EVAEConfig(**{**SMALL, **overrides}))
    x = (torch.rand(n, model.config.input_dim) < 0.4).float()
    return model, x


def starts_of(masks):
    return [int(row.nonzero()[0]) for row in masks]


@pytest.mark.parametrize("D,K,s,expected", [
    (20, 2, 1, list(range(19))),
    (48, 4, 4, list(range(0, 45, 4))),
    (8, 3, 3, [0, 3, 5]),
    (8, 2, 2, [0, 2, 4, 6]),          # Fig. 5 (left)
    (7, 7, 7, [0]),                   # D = K = s: a VAE
    (10, 4, 3, [0, 3, 6]),
])
def test_epitome_layouts(D, K, s, expected):
    masks = epitome_masks(D, K, s)
    assert masks.dtype == torch.bool and masks.shape == (len(expected), D)
    assert starts_of(masks) == expected == epitome_starts(D, K, s)
    assert (masks.sum(1) == K).all()                                   # K contiguous ones per row
    for row, start in zip(masks, expected):
        assert row[start:start + K].all()
    assert masks.any(0).all()                                          # every unit in some epitome


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_one_epitome_is_a_vae(likelihood):
    model, x = model_and_data(latent_dim=4, epitome_size=4, stride=4, likelihood=likelihood)
    assert model.num_epitomes == 1 and model.log_prior_y == 0.0
    torch.manual_seed(1)
    loss, logs = model.training_loss(x)
    # by hand: single-sample VAE loss with analytic KL, same weights, same noise
    torch.manual_seed(1)
    h = model.encoder(x)
    mu, logvar = model.mu_head(h), model.logvar_head(h)
    z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
    hd = model.decoder(z)
    if likelihood == "bernoulli":
        log_px = log_bernoulli_logits(x, model.mean_head(hd)).sum(-1)
    else:
        log_px = log_normal(x, model.mean_head(hd), model.x_logvar_head(hd)).sum(-1)
    kl = kl_standard_normal(mu, logvar).sum(-1)
    torch.testing.assert_close(loss, (kl - log_px).mean())
    assert logs["kl"] == pytest.approx(kl.mean().item(), rel=1e-5)
    # importance weights: the VAE's log p(z) + log p(x|z) - log q(z|x), nothing added for y
    torch.manual_seed(2)
    log_w = model.log_weights(x[:5], 3)
    torch.manual_seed(2)
    eps = torch.randn(5, 3, 4)
    z = mu[:5, None] + torch.exp(0.5 * logvar[:5, None]) * eps
    hd = model.decoder(z.reshape(15, 4))
    out = model.mean_head(hd).reshape(5, 3, -1)
    if likelihood == "bernoulli":
        log_px = log_bernoulli_logits(x[:5, None].expand_as(out), out).sum(-1)
    else:
        log_px = log_normal(x[:5, None], out, model.x_logvar_head(hd).reshape(5, 3, -1)).sum(-1)
    hand = log_px + (log_standard_normal(z) - log_normal(z, mu[:5, None], logvar[:5, None])).sum(-1)
    torch.testing.assert_close(log_w, hand[:, None])


def test_masked_units_are_the_prior_and_never_reach_the_decoder():
    model, x = model_and_data()
    masks = model.masks
    y = torch.randint(model.num_epitomes, (x.shape[0],))
    m, q_mu, q_logvar = model._masked_posterior(x, y)
    off = ~masks[y]
    assert (q_mu[off] == 0).all() and (q_logvar[off] == 0).all()       # eq. 6: N(0, 1) off the epitome
    assert (kl_standard_normal(q_mu, q_logvar)[off] == 0).all()        # eq. 8: exactly 0 KL
    kl = model.kl_per_unit(x)
    on_star = masks[model.assign_epitomes(x)]
    assert (kl[~on_star] == 0).all() and (kl[on_star] > 0).all()
    assert (model.posterior_mean(x)[~on_star] == 0).all() and (model.sample_posterior(x)[~on_star] == 0).all()
    seen = []
    hook = model.decoder.register_forward_pre_hook(lambda mod, args: seen.append(args[0].detach()))
    loss, _ = model.training_loss(x, y)
    hook.remove()
    assert len(seen) == 1 and (seen[0][off] == 0).all() and (seen[0][~off] != 0).all()
    # the loss reaches mu only through the units of the assigned epitomes
    y0 = torch.zeros_like(y)
    model.zero_grad()
    model.training_loss(x, y0)[0].backward()
    grad = model.mu_head.weight.grad                                   # (D, hidden)
    assert (grad[~masks[0]] == 0).all() and (grad[masks[0]] != 0).any()


def brute_force_costs(model, x):
    h = model.encoder(x)
    mu, logvar = model.mu_head(h), model.logvar_head(h)
    costs = []
    for mask in model.masks.float():
        logits = model.mean_head(model.decoder(mask * mu))
        costs.append(-log_bernoulli_logits(x, logits).sum(-1) + (kl_standard_normal(mu, logvar) * mask).sum(-1))
    return torch.stack(costs, 1)


def test_assignment_minimises_the_cost(monkeypatch):
    model, x = model_and_data(n=40, latent_dim=7, epitome_size=3, stride=1)   # 5 overlapping epitomes
    with torch.no_grad():
        model.mean_head.weight.mul_(5.0)                               # spread the costs apart
        costs = brute_force_costs(model, x)
    torch.testing.assert_close(model.epitome_costs(x).detach(), costs)
    monkeypatch.setattr(base, "ASSIGN_ROWS", 3 * model.num_epitomes)  # several chunks of 3 rows
    y = model.assign_epitomes(x)
    assert y.dtype == torch.long and torch.equal(y, costs.argmin(1))
    assert len(set(y.tolist())) > 1


@pytest.mark.parametrize("sizes,batch", [([500, 300, 150, 40, 10, 3], 50), ([7, 7, 7], 4), ([1], 1),
                                         ([33, 1, 1, 60, 5], 17)])
def test_balanced_minibatches(sizes, batch):
    g = torch.Generator().manual_seed(0)
    y = torch.cat([torch.full((n,), i) for i, n in enumerate(sizes)])
    y = y[torch.randperm(len(y), generator=g)] * 3                    # arbitrary labels, shuffled
    n = len(y)
    batches = balanced_minibatch_indices(y, batch, torch.Generator().manual_seed(1))
    assert len(batches) == n // batch
    used = torch.cat(batches)
    assert len(used) == len(set(used.tolist())) == (n // batch) * batch
    for b in batches:
        assert b.dtype == torch.long and len(b) == batch
        for i, size in enumerate(sizes):
            assert abs(int((y[b] == 3 * i).sum()) - size * batch / n) < 1
    again = balanced_minibatch_indices(y, batch, torch.Generator().manual_seed(1))
    assert all(torch.equal(a, b) for a, b in zip(batches, again))
    other = balanced_minibatch_indices(y, batch, torch.Generator().manual_seed(2))
    assert n // batch < 2 or not all(torch.equal(a, b) for a, b in zip(batches, other))


def test_balanced_minibatches_random_layouts():
    g = torch.Generator().manual_seed(3)
    for _ in range(30):
        n = int(torch.randint(1, 400, (1,), generator=g))
        batch = int(torch.randint(1, n + 1, (1,), generator=g))
        y = torch.randint(int(torch.randint(1, 30, (1,), generator=g)), (n,), generator=g) ** 2
        batches = balanced_minibatch_indices(y, batch, g)
        assert len(batches) == n // batch and len(torch.cat(batches).unique()) == (n // batch) * batch
        labels, sizes = y.unique(return_counts=True)
        for b in batches:
            counts = (y[b][:, None] == labels).sum(0)
            assert ((counts - sizes * batch / n).abs() < 1).all()
    with pytest.raises(ValueError, match="batch_size"):
        balanced_minibatch_indices(y, 0)


def test_minibatches_carry_the_epoch_assignment():
    model, x = model_and_data(n=50)
    y = model.assign_epitomes(x)
    batches = list(model.minibatches(x, 8, torch.Generator().manual_seed(0)))
    assert len(batches) == 6
    for b in batches:
        assert set(b) == {"x", "y"} and torch.equal(b["y"], model.assign_epitomes(b["x"]))
    assert sum(len(b["y"]) for b in batches) == 48 and len(y) == 50
    loss, logs = model.training_loss(**batches[0])
    assert set(logs) == {"loss", "recon", "kl"}
    assert logs["loss"] == pytest.approx(logs["recon"] + logs["kl"] + math.log(model.num_epitomes), rel=1e-5)


def test_log_weights_include_log_p_y_and_masked_units_cancel():
    model, x = model_and_data(n=6)
    E, k = model.num_epitomes, 4
    torch.manual_seed(5)
    log_w = model.log_weights(x, k)
    torch.manual_seed(5)
    cond, z_in = model.conditional_log_weights(x, k, return_inputs=True)
    assert log_w.shape == (6, E, k) and z_in.shape == (6, E, k, model.latent_dim)
    torch.testing.assert_close(log_w, cond - math.log(E), rtol=0, atol=1e-5)   # log p(y) = -log E (P8)
    per_y = log_mean_exp(cond, -1)                                     # (B, E)
    mixture = iwae_bound(log_w)
    assert (mixture <= per_y.max(1).values + 1e-5).all()
    assert (mixture >= per_y.max(1).values - math.log(E) - 1e-5).all()
    torch.testing.assert_close(iwae_bound(cond) - mixture, torch.full((6,), math.log(E)))
    # full-D recomputation: any value on the masked units gives the same weight
    mask = model.masks.float()[None, :, None]                          # (1, E, 1, D)
    assert (z_in * (1 - mask) == 0).all()
    z = z_in + (1 - mask) * torch.randn_like(z_in)
    mu, phi = model.encode(x)
    q_mu, q_logvar = mask * mu[:, None, None], mask * phi[:, None, None]
    logits = model.mean_head(model.decoder((mask * z).reshape(-1, model.latent_dim))).reshape(6, E, k, -1)
    hand = log_bernoulli_logits(x[:, None, None].expand_as(logits), logits).sum(-1)
    hand = hand + (log_standard_normal(z) - log_normal(z, q_mu, q_logvar)).sum(-1)
    torch.testing.assert_close(cond, hand, rtol=1e-5, atol=1e-4)


def test_sample_prior_is_masked_and_seeded():
    model, _ = model_and_data()
    z = model.sample_prior(200, torch.Generator().manual_seed(0))
    assert z.shape == (200, 6)
    support = z != 0
    assert (support[:, None, :] & ~model.masks[None]).sum(-1).eq(0).any(1).all()   # inside one epitome
    assert torch.equal(z, model.sample_prior(200, torch.Generator().manual_seed(0)))
    assert model.sample(5, torch.Generator().manual_seed(0)).shape == (5, 12)


@pytest.mark.parametrize("overrides,field", [
    (dict(epitome_size=7), "epitome_size"), (dict(stride=0), "stride"), (dict(stride=3), "stride"),
    (dict(activation="gelu"), "activation"), (dict(likelihood="poisson"), "likelihood"),
    (dict(logvar_floor=-5.0), "logvar_floor"), (dict(likelihood="gaussian", logvar_floor=float("nan")), "logvar_floor"),
    (dict(hidden=()), "hidden"), (dict(hidden=(16, 0)), "hidden"), (dict(latent_dim=0), "latent_dim"),
    (dict(input_dim=2.5), "input_dim"),
])
def test_bad_config_names_the_field(overrides, field):
    with pytest.raises(ValueError, match=field):
        EVAEConfig(**{**SMALL, **overrides})


def test_gaussian_floor_and_list_hidden():
    c = EVAEConfig(**{**SMALL, "hidden": [16, 8], "likelihood": "gaussian", "logvar_floor": -2.0})
    assert c.hidden == (16, 8) and c.num_epitomes == 3
    model = EpitomicVAE(c)
    with torch.no_grad():
        model.x_logvar_head.bias.fill_(-50.0)
    assert (model.decode(torch.zeros(3, 6))[1] == -2.0).all()


def test_the_hard_assignment_base_lives_in_base_and_is_still_importable_from_evae():
    from memvae_lib.models.mvae import MixtureVAE
    assert evae.HardAssignmentModel is base.HardAssignmentModel
    assert evae.balanced_minibatch_indices is base.balanced_minibatch_indices
    assert issubclass(EpitomicVAE, base.HardAssignmentModel) and issubclass(MixtureVAE, base.HardAssignmentModel)


def test_assignment_scores_all_epitomes_in_one_decoder_pass_per_chunk(monkeypatch):
    """Issue 13: Algorithm 1's assignment is batched over epitomes (one decoder call per chunk of
    images, no Python loop per epitome), and picks exactly the y* of the one-epitome-at-a-time loop."""
    torch.set_default_dtype(torch.float64)
    try:
        model, x = model_and_data(n=50, latent_dim=8, epitome_size=2, stride=2)   # E = 4
        x = x.double()
    finally:
        torch.set_default_dtype(torch.float32)
    calls = []
    model.decoder.register_forward_hook(lambda module, args, out: calls.append(args[0].shape[0]))
    monkeypatch.setattr(base, "ASSIGN_ROWS", 20 * model.num_epitomes)      # chunks of 20, 20, 10 images
    y = model.assign_epitomes(x)
    assert calls == [20 * 4, 20 * 4, 10 * 4]
    with torch.no_grad():
        looped = brute_force_costs(model, x).argmin(1)                       # one decoder call per epitome
    assert torch.equal(y, looped) and len(set(y.tolist())) > 1
