"""VAE / IWAE-k: parameter counts, sample layout, bounds and their gradients, BN evaluation, LRE,
the objective strategy, the config checks shared by every model."""
import math
import re

import pytest
import torch

from memvae_lib.models.evae import EVAEConfig
from memvae_lib.models.mem_vae import MemVAE, MemVAEConfig
from memvae_lib.models.mvae import MVAEConfig
from memvae_lib.models.vae import VAE, VAEConfig
from memvae_lib.models.vae_objectives import ImportanceWeightedBound, LocalReconstructionError, WeightedKLObjective
from memvae_lib.nets import batch_norm_layers, count_parameters
from memvae_lib.objectives import iwae_bound, log_normal, log_standard_normal

SMALL = dict(input_dim=20, hidden=(16, 12), latent_dim=4)  # distinct widths catch layer mix-ups


def data(n=8, d=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, d, generator=g).bernoulli(generator=g)


def grads(loss, model):
    params = [p for p in model.parameters()]
    return torch.autograd.grad(loss, params, allow_unused=True)


@pytest.mark.parametrize("kwargs, expected", [
    (dict(), 1_440_984),                                                    # MNIST 500-500-100
    (dict(hidden=(530, 530)), 1_559_184),                                   # Large-VAE
    (dict(input_dim=128, hidden=(200, 200), latent_dim=50), 163_828),       # OCR-letters
    (dict(input_dim=560, hidden=(200,), latent_dim=10, likelihood="gaussian"), 344_340),  # Frey
    (dict(hidden=(200, 200), latent_dim=50, activation="tanh", batch_norm=False,
          bernoulli_clip=None), 425_284),                                   # IWAE reference net
])
def test_parameter_counts(kwargs, expected):
    assert count_parameters(VAE(VAEConfig(**kwargs))) == expected


def test_sample_layout_is_example_major_and_decoder_sees_b_times_k_rows():
    torch.manual_seed(0)
    model = VAE(VAEConfig(**SMALL))
    x = data(3)
    seen = {}
    model.encoder.blocks[0].register_forward_pre_hook(lambda m, inp: seen.setdefault("enc", inp[0]))
    model.decoder.blocks[0].register_forward_pre_hook(lambda m, inp: seen.setdefault("dec", inp[0]))
    torch.manual_seed(1)
    log_w = model.log_weights(x, 4)
    assert log_w.shape == (3, 4)
    assert seen["enc"].shape[0] == 3 and seen["dec"].shape == (12, 4)

    # rows i*k .. (i+1)*k - 1 are example i's samples: recompute log w by hand from the same noise
    mu, logvar, _ = model.encode(x)
    torch.manual_seed(1)
    z = mu.repeat_interleave(4, 0) + torch.exp(0.5 * logvar).repeat_interleave(4, 0) * torch.randn(3, 4, 4).view(12, 4)
    assert torch.allclose(seen["dec"], z, atol=1e-6)
    expected = (log_standard_normal(z).sum(-1) + model.log_likelihood(x.repeat_interleave(4, 0), z)
                - log_normal(z, mu.repeat_interleave(4, 0), logvar.repeat_interleave(4, 0)).sum(-1))
    assert torch.allclose(log_w, expected.view(3, 4), atol=1e-4)


def test_iwae_gradient_equals_normalised_weight_estimator():
    torch.manual_seed(0)
    model = VAE(VAEConfig(**SMALL, k=5))
    x = data(6)
    torch.manual_seed(7)
    g_auto = grads(-iwae_bound(model.log_weights(x, 5)).mean(), model)
    torch.manual_seed(7)
    log_w = model.log_weights(x, 5)
    w = torch.softmax(log_w, -1).detach()  # w~_j held constant (P1)
    g_surrogate = grads(-(w * log_w).sum(-1).mean(), model)
    torch.manual_seed(7)
    g_loss = grads(model.training_loss(x)[0], model)
    torch.manual_seed(7)
    g_vae_k = grads(-model.log_weights(x, 5).mean(), model)  # the VAE-k gradient: must differ
    for a, b, c in zip(g_auto, g_surrogate, g_loss):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5)
        assert torch.allclose(a, c, rtol=1e-4, atol=1e-5)
    assert not all(torch.allclose(a, d, rtol=1e-3, atol=1e-4) for a, d in zip(g_auto, g_vae_k))


@pytest.mark.parametrize("model_class, config", [
    (VAE, VAEConfig(**SMALL)),
    (MemVAE, MemVAEConfig(**SMALL, memory_slots=(7, 3))),
])
def test_prepare_evaluation_stores_full_batch_statistics(model_class, config):
    torch.manual_seed(0)
    model = model_class(config)
    x_train = data(50, seed=1)
    inputs = {}
    for bn in batch_norm_layers(model):  # record what each BN layer normalises during collection
        bn._statistics = (lambda a, bn=bn, f=bn._statistics: (inputs.__setitem__(bn, a.detach()), f(a))[1])
    model.prepare_evaluation(x_train)
    for bn in batch_norm_layers(model):
        del bn._statistics
    assert len(inputs) == 4 and model.training  # the mode is restored
    model.eval()
    for bn, a in inputs.items():
        assert a.shape[0] == 50
        assert torch.allclose(bn.stored_mean, a.mean(0), atol=1e-6)
        assert torch.allclose(bn.stored_var, a.var(0, unbiased=False), rtol=1e-5, atol=1e-7)

    # eval mode: each row's output does not depend on which rows share its batch
    x, z = data(6, seed=2), torch.randn(6, config.latent_dim)
    full_mu, full_dec = model.posterior_mean(x), model.decode_mean(z)
    for i in range(6):
        assert torch.allclose(model.posterior_mean(x[i:i + 1])[0], full_mu[i], atol=1e-5)
        assert torch.allclose(model.decode_mean(z[i:i + 1])[0], full_dec[i], atol=1e-5)
    model.train()  # ... while in training mode it does
    assert not torch.allclose(model.decode_mean(z[:2])[0], model.decode_mean(z)[0], atol=1e-3)


def test_lre_off_on_and_its_gradient():
    torch.manual_seed(0)
    x = data(8)
    off = VAE(VAEConfig(**SMALL, lre_weights=(0.0, 0.0)))
    loss, logs = off.training_loss(x)
    assert logs["lre"] == 0.0 and loss.item() == pytest.approx(-logs["bound"])

    model = VAE(VAEConfig(**SMALL, lre_weights=(0.1, 0.1)))  # the "VAE + LRE" ablation
    loss, logs = model.training_loss(x)
    assert logs["lre"] > 0 and logs["loss"] == pytest.approx(logs["lre"] - logs["bound"], rel=1e-5)
    lre = model.local_reconstruction_error(x)
    lre.backward()
    for block in (*model.encoder.blocks, *model.decoder.blocks):
        assert block.linear.weight.grad.abs().sum() > 0


def test_lre_pairs_encoder_layer_1_with_decoder_layer_nearest_x():
    torch.manual_seed(0)
    model = VAE(VAEConfig(**SMALL, lre_weights=(0.1, 0.2)))
    x, k = data(5), 3
    torch.manual_seed(3)
    lre = model.local_reconstruction_error(x, k)
    torch.manual_seed(3)
    mu, logvar, enc = model.encode(x)
    z = (mu.unsqueeze(1) + torch.exp(0.5 * logvar).unsqueeze(1) * torch.randn(5, k, 4)).view(5 * k, 4)
    h2 = model.decoder.blocks[0](z)   # nearest z, width 12
    h1 = model.decoder.blocks[1](h2)  # nearest x, width 16

    def dec(h):
        n = (h - h.mean(0)) / torch.sqrt(h.var(0, unbiased=False) + 1e-10)
        return n.view(5, k, -1).mean(1)
    expected = 0.1 * ((enc[0] - dec(h1)) ** 2).mean() + 0.2 * ((enc[1] - dec(h2)) ** 2).mean()
    assert torch.allclose(lre, expected, rtol=1e-5)


def test_lre_uses_its_own_z_draw():
    torch.manual_seed(0)
    model = VAE(VAEConfig(**SMALL, lre_weights=(0.1, 0.1)))
    inputs = []
    model.decoder.blocks[0].register_forward_pre_hook(lambda m, inp: inputs.append(inp[0]))
    model.training_loss(data(4))
    assert len(inputs) == 2 and not torch.allclose(inputs[0], inputs[1])


def test_bernoulli_clip_bounds_per_pixel_log_prob():
    x, z = torch.ones(3, 20), torch.randn(3, 4)
    clipped = VAE(VAEConfig(**SMALL))
    unclipped = VAE(VAEConfig(**SMALL, bernoulli_clip=None))
    for model in (clipped, unclipped):
        with torch.no_grad():
            model.out_mean.weight.zero_()
            model.out_mean.bias.fill_(-100.0)  # p(x_i = 1) ~ e^-100
    assert torch.allclose(clipped.log_likelihood(x, z), torch.full((3,), 20 * math.log(1e-6)), rtol=1e-3)
    assert torch.allclose(unclipped.log_likelihood(x, z), torch.full((3,), -2000.0), rtol=1e-4)


def test_gaussian_likelihood():
    torch.manual_seed(0)
    model = VAE(VAEConfig(input_dim=20, hidden=(16,), latent_dim=3, likelihood="gaussian"))
    x = torch.rand(6, 20)
    log_w = model.log_weights(x, 4)
    assert log_w.shape == (6, 4) and torch.isfinite(log_w).all()
    loss, _ = model.training_loss(x)
    loss.backward()
    assert torch.isfinite(model.out_logvar.weight.grad).all()
    z = torch.randn(6, 3)
    h = model.decoder(z)
    assert torch.allclose(model.decode_mean(z), model.out_mean(h))  # identity head, no sigmoid
    with pytest.raises(ValueError, match="Bernoulli"):
        model.init_output_bias(0.5)


def test_kl_weighted_and_dropout_objectives():
    torch.manual_seed(0)
    x = data(8)
    model = VAE(VAEConfig(**SMALL, kl_weight=0.5))
    torch.manual_seed(1)
    loss, logs = model.training_loss(x)
    torch.manual_seed(1)
    z = model.sample_posterior(x)
    rec, kl = model.log_likelihood(x, z), model.kl_per_unit(x).sum(-1)
    assert loss.item() == pytest.approx((-rec + 0.5 * kl).mean().item(), rel=1e-5)
    assert logs["bound"] == pytest.approx((rec - kl).mean().item(), rel=1e-5)

    model = VAE(VAEConfig(**SMALL, z_dropout=0.5))
    inputs = []
    model.decoder.blocks[0].register_forward_pre_hook(lambda m, inp: inputs.append(inp[0]))
    torch.manual_seed(2)
    model.training_loss(x)
    torch.manual_seed(2)
    z = model.sample_posterior(x)
    kept = inputs[0] != 0
    assert 0 < kept.sum() < kept.numel()
    assert torch.allclose(inputs[0][kept], 2 * z[kept])  # inverted dropout
    model.eval()
    model.training_loss(x)
    assert (inputs[1] != 0).all()  # no dropout outside training


def test_prior_features_and_output_bias():
    model = VAE(VAEConfig(**SMALL))
    a = model.sample_prior(5, torch.Generator().manual_seed(3))
    b = model.sample_prior(5, torch.Generator().manual_seed(3))
    assert a.shape == (5, 4) and torch.equal(a, b)
    features = model.encoder_features(data(4))
    assert features.shape == (4, 12) and (features >= 0).all()
    model.init_output_bias(torch.tensor([0.0, 0.5, 1.0] + [0.25] * 17))
    logit = math.log(0.999 / 0.001)
    assert torch.allclose(model.out_mean.bias[:3], torch.tensor([-logit, 0.0, logit]), atol=1e-5)


@pytest.mark.parametrize("config_class, kwargs, field", [
    (VAEConfig, dict(hidden=(500, 0)), "hidden"),
    (VAEConfig, dict(hidden=()), "hidden"),
    (VAEConfig, dict(latent_dim=0), "latent_dim"),
    (VAEConfig, dict(input_dim=-3), "input_dim"),
    (VAEConfig, dict(k=0), "k"),
    (VAEConfig, dict(activation="sigmoid"), "activation"),
    (VAEConfig, dict(likelihood="poisson"), "likelihood"),
    (VAEConfig, dict(bernoulli_clip=0.7), "bernoulli_clip"),
    (VAEConfig, dict(lre_weights=(0.1,)), "lre_weights"),
    (VAEConfig, dict(lre_weights=(0.1, -1.0)), "lre_weights"),
    (VAEConfig, dict(kl_weight=-1.0), "kl_weight"),
    (VAEConfig, dict(kl_weight=0.5, k=5), "kl_weight"),
    (VAEConfig, dict(z_dropout=0.1, k=2), "z_dropout"),
    (VAEConfig, dict(z_dropout=1.0), "z_dropout"),
    (VAEConfig, dict(z_dropout=-0.1), "z_dropout"),
    (MemVAEConfig, dict(memory_slots=(70,)), "memory_slots"),
    (MemVAEConfig, dict(memory_slots=(70, -1)), "memory_slots"),
    (MemVAEConfig, dict(attention="hard"), "attention"),
    (MemVAEConfig, dict(composition="gru"), "composition"),
    (MemVAEConfig, dict(hidden=(200,), memory_slots=(20,)), "lre_weights"),
])
def test_bad_config_values_raise_naming_the_field(config_class, kwargs, field):
    with pytest.raises(ValueError, match=field):
        config_class(**kwargs)


def test_config_accepts_lists_and_describes_itself():
    config = MemVAEConfig(hidden=[200, 200], memory_slots=[70, 30], lre_weights=[0.1, 0.1])
    assert config.hidden == (200, 200) and config.memory_slots == (70, 30)
    hash(config)
    assert "784-200-200-100" in config.describe()


def test_the_objective_is_chosen_once_from_the_config():
    assert VAE(VAEConfig(**SMALL)).objective == ImportanceWeightedBound(1)
    assert VAE(VAEConfig(**SMALL, k=5)).objective == ImportanceWeightedBound(5)
    assert VAE(VAEConfig(**SMALL, kl_weight=0.5)).objective == WeightedKLObjective(0.5, 0.0)   # eVAE Sec. 3.1
    assert VAE(VAEConfig(**SMALL, z_dropout=0.2)).objective == WeightedKLObjective(1.0, 0.2)   # eVAE Sec. 3.2
    assert not VAE(VAEConfig(**SMALL)).lre.active
    assert not VAE(VAEConfig(**SMALL, lre_weights=(0.0, 0.0))).lre.active
    assert VAE(VAEConfig(**SMALL, lre_weights=(0.1, 0.0))).lre.active
    assert MemVAE(MemVAEConfig(**SMALL)).lre == LocalReconstructionError((0.1, 0.1))            # MEM's default


def test_the_plain_vae_decoder_knows_nothing_of_memory():
    model = VAE(VAEConfig(**SMALL))
    with pytest.raises(TypeError):
        model.decode_mean(torch.randn(2, 4), memory_override={1: "ones"})
    assert len(model._decode(torch.randn(2, 4))) == 2  # (output, hiddens): no attentions


@pytest.mark.parametrize("make, message", [
    (lambda: VAEConfig(k=0), "k=0 is invalid: must be an integer >= 1"),
    (lambda: EVAEConfig(stride=True), "stride=True is invalid: must be an integer >= 1"),
    (lambda: MemVAEConfig(hidden=()), "hidden=() is invalid: must be a non-empty tuple of integers >= 1"),
    (lambda: EVAEConfig(hidden=[5, 0]), "hidden=(5, 0) is invalid: must be a non-empty tuple of integers >= 1"),
    (lambda: MVAEConfig(activation="gelu"), "activation='gelu' is invalid: allowed: 'relu', 'tanh'"),
    (lambda: VAEConfig(likelihood="poisson"), "likelihood='poisson' is invalid: allowed: ('bernoulli', 'gaussian')"),
    (lambda: EVAEConfig(likelihood="poisson"), "likelihood='poisson' is invalid: allowed: ('bernoulli', 'gaussian')"),
    (lambda: MemVAEConfig(memory_slots=(70, True)), "memory_slots=(70, True) is invalid: must be a tuple of 2 "
                                                    "integers >= 0, one per hidden layer (layer 1 nearest x)"),
    (lambda: MVAEConfig(component_hidden=[3, 0]), "component_hidden=(3, 0) is invalid: must be None or a "
                                                  "non-empty tuple of integers >= 1"),
])
def test_every_config_runs_the_same_checks_with_the_same_messages(make, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        make()
