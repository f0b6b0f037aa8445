"""MEM-VAE: memory read-out, compositions, identity at initialisation, E3 counts, E9/E10 tools."""
import math

import pytest
import torch

from memvae_lib.memory import LadderComposition, MemoryLayer, SumComposition
from memvae_lib.models.mem_vae import MemVAE, MemVAEConfig
from memvae_lib.models.vae import VAE, VAEConfig
from memvae_lib.nets import count_parameters

SMALL = dict(input_dim=20, hidden=(16, 12), latent_dim=4)


def data(n=8, d=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, d, generator=g).bernoulli(generator=g)


@torch.no_grad()
def perturb(model: MemVAE, seed=0):
    """Make the memory matter: a 'trained-ish' composition and memory."""
    g = torch.Generator().manual_seed(seed)
    for composition in model.compositions.values():
        for p in composition.parameters():
            p.add_(0.5 * torch.randn(p.shape, generator=g))
    for memory in model.memories.values():
        memory.memory.mul_(100.0)


@pytest.mark.parametrize("kwargs, expected", [
    (dict(), 1_550_084),                                                   # MNIST-500-500-100-MEM
    (dict(input_dim=128, hidden=(200, 200), latent_dim=50), 207_528),      # OCR-letters MEM
    (dict(input_dim=560, hidden=(200,), latent_dim=10, likelihood="gaussian",
          memory_slots=(20,), lre_weights=()), 354_160),                    # Frey MEM-20
    (dict(memory_slots=(70, 0)), 1_440_984 + 74_570),
    (dict(memory_slots=(0, 30)), 1_440_984 + 34_530),
])
def test_parameter_counts(kwargs, expected):
    assert count_parameters(MemVAE(MemVAEConfig(**kwargs))) == expected


def test_memory_layer_init_and_read_out():
    torch.manual_seed(0)
    layer = MemoryLayer(500, 70)
    bound = math.sqrt(6 / 570)
    assert layer.controller.shape == (500, 70) and layer.controller.abs().max() <= bound
    assert layer.controller.abs().max() > 0.9 * bound
    assert layer.memory.shape == (70, 500) and abs(layer.memory.std().item() - 0.01) < 5e-4
    assert torch.equal(layer.bias, torch.zeros(70))
    h_g = torch.relu(torch.randn(6, 500))
    h_m, a = layer(h_g)
    assert torch.allclose(a, torch.sigmoid(h_g @ layer.controller + layer.bias))
    assert not torch.allclose(a.sum(-1), torch.ones(6))  # sigmoid attention is not normalised
    assert torch.allclose(h_m, a @ layer.memory)

    soft = MemoryLayer(500, 70, "softmax")
    h_m, a = soft(h_g)
    assert torch.allclose(a.sum(-1), torch.ones(6), atol=1e-6) and (a > 0).all()


def test_compositions():
    torch.manual_seed(0)
    h_g, h_m = torch.relu(torch.randn(5, 8)), torch.randn(5, 8)
    ladder = LadderComposition(8)
    assert torch.equal(ladder(h_g, h_m), h_g)  # identity at initialisation
    with torch.no_grad():
        ladder.a3.fill_(1.0)  # code index 3 multiplies h_m (the paper's a2)
    assert torch.allclose(ladder(h_g, h_m), torch.relu(h_g + h_m))
    with torch.no_grad():
        ladder.b1.fill_(2.0)
        ladder.c3.fill_(1.0)
    s = torch.sigmoid(h_g + h_m)
    assert torch.allclose(ladder(h_g, h_m), torch.relu(h_g + 2 * s + h_m))
    assert sum(p.numel() for p in ladder.parameters()) == 9 * 8
    assert torch.equal(SumComposition(8)(h_g, h_m), torch.relu(h_g + h_m))


def test_mem_vae_at_initialisation_equals_vae_with_same_weights():
    torch.manual_seed(0)
    vae = VAE(VAEConfig(**SMALL, lre_weights=(0.1, 0.1)))
    mem = MemVAE(MemVAEConfig(**SMALL, memory_slots=(7, 3)))
    missing, unexpected = mem.load_state_dict(vae.state_dict(), strict=False)
    assert not unexpected and all(k.startswith(("memories.", "compositions.")) for k in missing)
    x, z = data(6), torch.randn(6, 4)
    for mode in ("train", "eval"):
        if mode == "eval":
            for model in (vae, mem):
                torch.manual_seed(5)
                model.prepare_evaluation(data(40, seed=3))
                model.eval()
        assert torch.allclose(vae.decode_mean(z), mem.decode_mean(z), atol=1e-6)
        torch.manual_seed(1)
        lw_vae = vae.log_weights(x, 3)
        torch.manual_seed(1)
        lw_mem = mem.log_weights(x, 3)
        assert torch.allclose(lw_vae, lw_mem, atol=1e-4)
    vae.train(), mem.train()
    torch.manual_seed(2)
    loss_vae = vae.training_loss(x)[0]
    torch.manual_seed(2)
    loss_mem = mem.training_loss(x)[0]
    assert torch.allclose(loss_vae, loss_mem, rtol=1e-5)
    perturb(mem)
    assert not torch.allclose(vae.decode_mean(z), mem.decode_mean(z), atol=1e-3)


def test_composition_parameters_learn_from_the_loss():
    torch.manual_seed(0)
    mem = MemVAE(MemVAEConfig(**SMALL, memory_slots=(7, 3)))
    mem.training_loss(data(8))[0].backward()
    for composition in mem.compositions.values():
        assert composition.a3.grad.abs().sum() > 0  # d out / d a3 = h_m: the memory's way in


def test_memory_override():
    torch.manual_seed(0)
    mem = MemVAE(MemVAEConfig(**SMALL, memory_slots=(7, 3)))
    mem.eval()
    z = torch.randn(5, 4)
    intact = mem.decode_mean(z)
    # the identity ladder ignores h_m, so at initialisation disabling memory changes nothing
    assert torch.allclose(mem.decode_mean(z, {1: "ones", 2: "ones"}), intact)
    perturb(mem)
    intact = mem.decode_mean(z)
    ones_1 = mem.decode_mean(z, {1: "ones"})
    ones_both = mem.decode_mean(z, {1: "ones", 2: "ones"})
    assert not torch.allclose(ones_1, intact, atol=1e-4)
    assert not torch.allclose(ones_both, ones_1, atol=1e-4)
    assert not torch.allclose(mem.decode_mean(z, {1: "zeros"}), ones_1, atol=1e-4)
    assert torch.allclose(mem.decode_mean(z, {1: torch.ones(16)}), ones_1)
    # "ones" goes through the learned composition: h = f_c(h_g, 1), not a bypass
    h2 = mem._compose(2, mem.decoder.blocks[0](z))[0]  # layer 2 (nearest z) intact
    h_g = mem.decoder.blocks[1](h2)
    h1 = mem.compositions["1"](h_g, torch.ones_like(h_g))
    assert torch.allclose(ones_1, torch.sigmoid(mem.out_mean(h1)), atol=1e-6)
    with pytest.raises(ValueError):
        mem.decode_mean(z, {3: "ones"})
    with pytest.raises(ValueError):
        mem.decode_mean(z, {1: "twos"})
    no_top = MemVAE(MemVAEConfig(**SMALL, memory_slots=(7, 0)))
    with pytest.raises(ValueError, match="no memory"):
        no_top.decode_mean(z, {2: "ones"})


@pytest.mark.parametrize("attention, composition", [("sigmoid", "ladder"), ("softmax", "sum")])
def test_attention_and_slot_images(attention, composition):
    torch.manual_seed(0)
    mem = MemVAE(MemVAEConfig(**SMALL, memory_slots=(7, 3), attention=attention, composition=composition))
    mem.prepare_evaluation(data(30, seed=1))
    attentions = mem.attention(data(5))
    assert [a.shape for a in attentions] == [(5, 7), (5, 3)]
    if attention == "softmax":
        assert all(torch.allclose(a.sum(-1), torch.ones(5), atol=1e-6) for a in attentions)
    else:
        assert all(((a > 0) & (a < 1)).all() for a in attentions)
    assert mem.slot_images(1).shape == (7, 20) and mem.slot_images(2).shape == (3, 20)
    images = mem.slot_images(1)
    assert ((images >= 0) & (images <= 1)).all()
    if composition == "sum":  # E10: image_k = sigmoid(W_x ReLU(M1[k]) + b_x)
        expected = torch.sigmoid(mem.out_mean(torch.relu(mem.memories["1"].memory)))
        assert torch.allclose(images, expected, atol=1e-6)
    with pytest.raises(ValueError):
        MemVAE(MemVAEConfig(**SMALL, memory_slots=(7, 0))).slot_images(2)


def test_frey_mem_vae_single_layer_gaussian():
    torch.manual_seed(0)
    mem = MemVAE(MemVAEConfig(input_dim=20, hidden=(16,), latent_dim=3, likelihood="gaussian",
                              memory_slots=(5,), lre_weights=()))
    x = torch.rand(6, 20)
    loss, logs = mem.training_loss(x)
    assert math.isfinite(loss.item()) and logs["lre"] == 0.0
    assert torch.isfinite(mem.log_weights(x, 3)).all()
    assert mem.slot_images(1).shape == (5, 20)
