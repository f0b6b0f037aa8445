"""Fig. 6 statistics (memvae_lib/papers/mem/disabling.py): the change ratio and the pattern similarity
in closed form on a stub decoder, and on a freshly built MEM-VAE whose ladder ignores its memory."""
import pytest
import torch

from memvae_lib.models import build_model
from memvae_lib.models.mem_vae import MemVAEConfig
from memvae_lib.papers.mem import disabling


class StubDecoder:
    """Image i for z = i; layer 1 off shifts every pixel by 0.05, layer 2 off changes nothing, both off
    decodes the next sample's image instead (exactly as different as another sample)."""

    def __init__(self, images):
        self.images = images

    def decode_mean(self, z, memory_override=None):
        idx, off = z[:, 0].long(), set(memory_override or {})
        if off == {1, 2}:
            return self.images[(idx + 1) % len(self.images)]
        return self.images[idx] + (0.05 if off == {1} else 0.0)


def test_change_ratio_and_pattern_similarity_in_closed_form():
    images = torch.rand(8, 784, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    z = torch.arange(8.0)[:, None]
    stats = disabling.disabling_statistics(StubDecoder(images), z)
    between = float((images - images.roll(1, 0)).abs().mean())
    assert stats.between_samples == pytest.approx(between)
    assert stats.change["layer 1"] == pytest.approx(0.05)
    assert stats.change_ratio["layer 1"]["mean"] == pytest.approx(0.05 / between)
    assert stats.change_ratio["layer 1"]["sem"] == pytest.approx(0, abs=1e-12)
    assert stats.similarity["layer 1"]["mean"] == pytest.approx(1.0)  # a shift keeps the pattern exactly
    assert stats.change_ratio["layer 2"]["mean"] == 0.0 and stats.similarity["layer 2"]["mean"] == pytest.approx(1.0)
    assert stats.change_ratio["both"]["mean"] == pytest.approx(1.0)  # another sample: the scale itself
    assert stats.similarity["both"]["mean"] == pytest.approx(0.0, abs=1e-12) and stats.similarity["both"]["sem"] > 0


def test_bad_inputs_are_refused():
    images = torch.rand(4, 784, dtype=torch.float64)
    with pytest.raises(ValueError, match="not one of"):
        disabling.decode(StubDecoder(images), torch.zeros(2, 1), "layer 3")
    with pytest.raises(ValueError, match="at least 2"):
        disabling.disabling_statistics(StubDecoder(images), torch.zeros(1, 1))
    with pytest.raises(ValueError, match="no scale"):
        disabling.disabling_statistics(StubDecoder(torch.ones(4, 784, dtype=torch.float64)), torch.arange(4.0)[:, None])


def test_an_untrained_mem_vae_ignores_its_memory_so_switching_it_off_changes_nothing():
    torch.manual_seed(0)
    model = build_model(MemVAEConfig(input_dim=784, hidden=(16, 12), latent_dim=4, memory_slots=(7, 5))).double().eval()
    z = model.sample_prior(50, generator=torch.Generator().manual_seed(1))
    stats = disabling.disabling_statistics(model, z)
    assert stats.change_ratio["both"]["mean"] == pytest.approx(0.0, abs=1e-9)  # the identity-initialised ladder
    assert torch.equal(disabling.decode(model, z, "none"), model.decode_mean(z).double().cpu())
