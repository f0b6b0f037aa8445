"""Issue 17's live controls (memvae_lib/explore.py, papers/mem/explore.py, papers/evae/explore.py):
latent traversals, the test-image pickers and memory on/off, on small freshly built models in float64,
against closed forms (the traversal passes the reconstruction, a unit the decoder ignores changes
nothing, softmax attention sums to 1, a memory replaced by what it reads changes nothing)."""
import matplotlib
import pytest
import torch

matplotlib.use("Agg")

from memvae_lib import explore  # noqa: E402
from memvae_lib.models import build_model  # noqa: E402
from memvae_lib.models.evae import EVAEConfig  # noqa: E402
from memvae_lib.models.mem_vae import MemVAEConfig  # noqa: E402
from memvae_lib.models.vae import VAEConfig  # noqa: E402
from memvae_lib.papers.evae import explore as evae_explore  # noqa: E402
from memvae_lib.papers.mem import disabling, explore as mem_explore  # noqa: E402

D_X = 36  # 6 x 6 images


def images(n=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, D_X, generator=g, dtype=torch.float64).bernoulli(generator=g)


def vae(seed=0, **kw):
    torch.manual_seed(seed)
    return build_model(VAEConfig(input_dim=D_X, hidden=(16, 12), latent_dim=5, **kw)).double().eval()


def mem_vae(seed=0, **kw):
    torch.manual_seed(seed)
    model = build_model(MemVAEConfig(input_dim=D_X, hidden=(16, 12), latent_dim=5, **kw)).double().eval()
    with torch.no_grad():  # make the memory matter: the identity-initialised ladder ignores h_m
        for composition in model.compositions.values():
            for p in composition.parameters():
                p.add_(0.5 * torch.randn(p.shape))
        for memory in model.memories.values():
            memory.memory.mul_(100.0)
    return model


def evae(seed=0):
    torch.manual_seed(seed)
    return build_model(EVAEConfig(input_dim=D_X, hidden=(16,), latent_dim=6, epitome_size=2, stride=1)).double().eval()


# ---- the model-agnostic traversal ---------------------------------------------------------------
def test_traversal_moves_one_unit_and_passes_the_reconstruction():
    model, x = vae(), images()[2]
    base = explore.posterior_mean(model, x)                                  # (5,)
    values = torch.cat([explore.strip_values(), base[3:4]])                  # the strip, then mu_3 itself
    t = explore.traverse(model, base, 3, values)
    assert t.codes.shape == (10, 5) and t.images.shape == (10, D_X) and t.reconstruction.shape == (D_X,)
    assert torch.equal(t.codes[:, 3], values) and torch.equal(t.codes[:, [0, 1, 2, 4]], base[[0, 1, 2, 4]].expand(10, 4))
    assert t.base_value == float(base[3])
    # z_3 = mu_3: the same code in the same batch; rows at other batch positions may take another BLAS
    # kernel on another CPU, so equal to float64 rounding, not bit for bit
    torch.testing.assert_close(t.images[-1], t.reconstruction, rtol=0, atol=1e-12)
    torch.testing.assert_close(t.reconstruction, model.reconstruct(x[None])[0], rtol=0, atol=1e-12)
    assert (t.images[0] - t.images[-2]).abs().max() > 1e-3                   # z_3 = -3 and +3 do differ


def test_a_unit_the_decoder_ignores_changes_nothing():
    """An inactive unit (eVAE Fig. 1): its decoder weights are 0, so moving it leaves the image."""
    model, x = vae(), images()[0]
    with torch.no_grad():
        model.decoder.blocks[0].linear.weight[:, 1] = 0
    t = explore.posterior_traversal(model, x, 1, explore.strip_values())
    torch.testing.assert_close(t.images, t.reconstruction.expand_as(t.images), rtol=0, atol=1e-12)  # see above
    assert not torch.equal(explore.posterior_traversal(model, x, 2, explore.strip_values()).images[0], t.reconstruction)


def test_traversal_runs_in_eval_mode_and_restores_training_mode():
    """A one-image batch must use the stored batch-norm statistics, whatever mode the model is in."""
    model, x = vae(), images()[1]
    expected = explore.posterior_traversal(model, x, 0, [0.5]).images
    model.train()
    again = explore.posterior_traversal(model, x, 0, [0.5]).images
    assert model.training and torch.equal(again, expected)


def test_traversal_is_deterministic():
    model, x = vae(), images()[4]
    a, b = (explore.posterior_traversal(model, x, 4, explore.strip_values()) for _ in range(2))
    assert torch.equal(a.images, b.images) and torch.equal(a.codes, b.codes)


def test_bad_indices_name_the_value_the_range_and_the_fix():
    model, x = vae(), images()
    with pytest.raises(ValueError, match=r"unit=5 is out of range: .*latent_dim=5.* must be in 0\.\.4"):
        explore.posterior_traversal(model, x[0], 5, [0.0])
    with pytest.raises(ValueError, match=r"unit=1\.5 is not an integer index; pick unit in 0\.\.4"):
        explore.posterior_traversal(model, x[0], 1.5, [0.0])
    with pytest.raises(ValueError, match=r"image=5 is out of range: .* must be in 0\.\.4"):
        explore.pick_image(x, 5)
    with pytest.raises(ValueError, match=r"image=-1 is out of range"):
        explore.pick_image(x, -1)
    with pytest.raises(ValueError, match="one image at a time: got a batch of 5"):
        explore.posterior_mean(model, x)


def test_traversal_view_draws_one_row_per_model_with_the_strip_values_as_ticks():
    x = images()
    fig = explore.traversal_view({"VAE": vae(0), "MEM-VAE": mem_vae(1)}, x, 3, 2, 1.25, image_shape=(6, 6))
    assert len(fig.axes) == 1 + 2 * 3                                         # the test image once, 3 panels per model
    strip_ticks = [t.get_text() for t in fig.axes[3].get_xticklabels()]
    assert strip_ticks == [f"{v:.2g}" for v in explore.strip_values().tolist()]
    assert "= 1.25" in fig.axes[2].get_title()


# ---- MEM-VAE: attention and memory on/off --------------------------------------------------------
def test_attention_at_the_posterior_mean_per_memory_layer():
    model, x = mem_vae(memory_slots=(7, 5)), images()[0]
    reading = mem_explore.memory_reading(model, x)
    assert reading.layers == [1, 2] and [a.shape for a in reading.attention] == [(7,), (5,)]
    assert all(((a > 0) & (a < 1)).all() for a in reading.attention)         # sigmoid: each slot in (0, 1)
    torch.testing.assert_close(reading.reconstruction, model.reconstruct(x[None])[0], rtol=0, atol=1e-12)
    again = mem_explore.memory_reading(model, x)                              # no z is sampled
    assert all(torch.equal(a, b) for a, b in zip(reading.attention, again.attention))


def test_attention_closed_forms_sigmoid_constant_and_softmax_rows_sum_to_one():
    model, x = mem_vae(memory_slots=(7, 0)), images()[1]
    with torch.no_grad():
        model.memories["1"].controller.zero_()
        model.memories["1"].bias.copy_(torch.linspace(-2, 2, 7, dtype=torch.float64))
    (a,) = mem_explore.memory_reading(model, x).attention
    torch.testing.assert_close(a, torch.sigmoid(torch.linspace(-2, 2, 7, dtype=torch.float64)), rtol=0, atol=1e-15)
    soft = mem_vae(memory_slots=(7, 5), attention="softmax", composition="sum")
    for x_i in images():
        for a in mem_explore.memory_reading(soft, x_i).attention:
            assert float(a.sum()) == pytest.approx(1.0, abs=1e-12)


def test_memory_off_changes_the_image_where_the_memory_matters():
    model = mem_vae(memory_slots=(7, 5))
    z = explore.posterior_mean(model, images()[0])
    result = mem_explore.memory_off(model, z, (1,))
    assert result.on.shape == result.off.shape == result.difference.shape == (1, D_X)
    assert result.switched == (1,) and result.difference.abs().max() > 1e-3
    torch.testing.assert_close(result.off, disabling.decode(model, z[None], "layer 1"), rtol=0, atol=0)


def test_memory_off_is_zero_without_memory_in_the_layer():
    z = torch.randn(3, 5, dtype=torch.float64)
    model = mem_vae(memory_slots=(7, 0))
    result = mem_explore.memory_off(model, z, (2,))                           # layer 2 has no memory
    assert result.switched == () and torch.equal(result.difference, torch.zeros(3, D_X, dtype=torch.float64))
    plain = mem_explore.memory_off(vae(), z, (1, 2))                          # a VAE has none at all
    assert plain.switched == () and not plain.difference.any()


def test_memory_off_is_zero_when_the_replacement_is_what_the_memory_reads():
    """Softmax attention over slots that all hold ones reads h_m = a M = ones: "off" (ones) == on.
    Sigmoid attention over an all-zero memory reads zeros: "off" (zeros) == on."""
    z = torch.randn(4, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    soft = mem_vae(memory_slots=(7, 5), attention="softmax", composition="sum")
    with torch.no_grad():
        for memory in soft.memories.values():
            memory.memory.fill_(1.0)
    same = mem_explore.memory_off(soft, z, (1, 2), "ones")
    assert same.switched == (1, 2) and same.difference.abs().max() < 1e-12
    assert mem_explore.memory_off(soft, z, (1, 2), "zeros").difference.abs().max() > 1e-3
    sig = mem_vae(memory_slots=(7, 5))
    with torch.no_grad():
        for memory in sig.memories.values():
            memory.memory.zero_()
    assert mem_explore.memory_off(sig, z, (1, 2), "zeros").difference.abs().max() == 0


def test_memory_controls_refuse_bad_layers_values_and_models():
    model, z = mem_vae(memory_slots=(7, 5)), torch.zeros(1, 5, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"layers=\[3\]: \[3\] not a decoder layer; .* layers 1\.\.2"):
        mem_explore.memory_off(model, z, (3,))
    with pytest.raises(ValueError, match=r"value='half' is not a memory replacement; pick one of \('ones', 'zeros'\)"):
        mem_explore.memory_off(model, z, (1,), "half")
    with pytest.raises(ValueError, match="VAE has no memory to read"):
        mem_explore.memory_reading(vae(), images()[0])
    with pytest.raises(ValueError, match="switched_off='layer 3' is not one of"):
        mem_explore.memory_off_view(model, images(), 0, "layer 3")


def test_memory_views_draw_the_attention_of_each_layer_and_the_difference():
    model, x = mem_vae(memory_slots=(7, 5)), images()
    fig = mem_explore.reading_view(model, x, 2, image_shape=(6, 6))
    assert [len(ax.patches) for ax in fig.axes[2:]] == [7, 5]                # one bar per slot
    fig = mem_explore.memory_off_view(model, x, 2, "both", image_shape=(6, 6))
    z = explore.posterior_mean(model, x[2])
    mean_abs = float(mem_explore.memory_off(model, z, (1, 2)).difference.abs().mean())
    assert f"mean |.| {mean_abs:.2g} per pixel" in fig.axes[3].get_title()


# ---- eVAE: the chosen epitome and its traversal --------------------------------------------------
def test_epitome_choice_is_the_assignment_and_its_units():
    model = evae()
    for x in images():
        choice = evae_explore.epitome_choice(model, x)
        assert choice.costs.shape == (model.num_epitomes,) == (5,)
        assert choice.epitome == int(choice.costs.argmin()) == int(model.assign_epitomes(x[None])[0])
        assert choice.units.tolist() == [choice.epitome, choice.epitome + 1]   # K = 2, stride 1
        mu, _ = model.encode(x[None])
        assert torch.equal(choice.means, mu[0, choice.units]) and (choice.kl >= 0).all()
        torch.testing.assert_close(choice.reconstruction, model.reconstruct(x[None])[0], rtol=0, atol=1e-12)


def test_epitome_traversal_moves_only_the_epitomes_units():
    model, x = evae(), images()[3]
    y = evae_explore.epitome_choice(model, x).epitome
    mu, _ = model.encode(x[None])
    t = evae_explore.epitome_traversal(model, x, 1, explore.strip_values())
    outside = torch.ones(6, dtype=torch.bool)
    outside[[y, y + 1]] = False
    assert t.unit == y + 1 and torch.equal(t.codes[:, y + 1], explore.strip_values())
    assert not t.codes[:, outside].any()                                       # exactly 0 outside the epitome
    assert torch.equal(t.codes[:, y], mu[0, y].expand(len(t.values)))          # its other unit stays at mu
    torch.testing.assert_close(t.reconstruction, model.reconstruct(x[None])[0], rtol=0, atol=1e-12)
    other = (y + 2) % model.num_epitomes                                       # another epitome: its own support
    t2 = evae_explore.epitome_traversal(model, x, 0, [0.0, 1.0], epitome=other)
    assert t2.unit == other and set(t2.codes[1].nonzero().flatten().tolist()) <= {other, other + 1}


def test_epitome_controls_refuse_indices_beyond_e_and_k():
    model, x = evae(), images()[0]
    with pytest.raises(ValueError, match=r"epitome=5 is out of range: the eVAE's epitomes \(E=5\) .* 0\.\.4"):
        evae_explore.epitome_traversal(model, x, 0, [0.0], epitome=5)
    with pytest.raises(ValueError, match=r"unit=2 is out of range: epitome \d's units \(K=2.*0\.\.1"):
        evae_explore.epitome_traversal(model, x, 2, [0.0])


def test_epitome_views_mark_the_chosen_epitome():
    model, x = evae(), images()
    choice = evae_explore.epitome_choice(model, x[1])
    fig = evae_explore.choice_view(model, x, 1, image_shape=(6, 6))
    colours = [tuple(p.get_facecolor()) for p in fig.axes[2].patches]
    assert len(colours) == 5 and colours.count(colours[choice.epitome]) == 1   # y* alone in its colour
    fig = evae_explore.epitome_traversal_view(model, x, 1, 0, -1.0, image_shape=(6, 6))
    assert fig.axes[1].get_title().startswith(f"epitome {choice.epitome} (y*)")
