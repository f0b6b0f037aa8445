"""Fig. 3 / Table 4 slot statistics (memvae_lib/papers/mem/slots.py): class profiles, correlations,
the sharing margin in closed form, the collapse detector, and the statistics of a real MEM-VAE."""
import math

import numpy as np
import pytest
import torch

from memvae_lib.models import build_model
from memvae_lib.models.mem_vae import MemVAEConfig
from memvae_lib.papers.mem import slots

LABELS = np.repeat(np.arange(10), 3)  # three examples per class


def test_class_profiles_normalise_each_example_then_average_per_class():
    values = np.zeros((30, 4))
    values[:, 0] = 1.0
    values[LABELS == 7, 1] = 3.0  # class 7: each example (1, 3, 0, 0) -> (0.25, 0.75, 0, 0)
    prof = slots.class_profiles(values, LABELS)
    assert prof.shape == (10, 4) and np.allclose(prof.sum(axis=1), 1)
    assert np.allclose(prof[7], [0.25, 0.75, 0, 0]) and np.allclose(prof[0], [1, 0, 0, 0])


@pytest.mark.parametrize("values, labels, message", [
    (-np.ones((30, 4)), LABELS, "non-negative"),
    (np.ones((30, 4)), LABELS[:-1], "need values"),
    (np.ones((27, 4)), LABELS[:27], "no example of class 9"),
])
def test_class_profiles_refuse_bad_input(values, labels, message):
    with pytest.raises(ValueError, match=message):
        slots.class_profiles(values, labels)


def test_correlation_similarity_and_rank():
    rng = np.random.default_rng(0)
    prof = rng.random((10, 20))
    corr = slots.class_correlation(prof)
    assert np.allclose(corr, corr.T) and np.allclose(np.diag(corr), 1) and np.allclose(corr, np.corrcoef(prof))
    assert slots.graph_similarity(corr, corr) == pytest.approx(1.0)
    upper = corr[np.triu_indices(10, 1)]
    i, j = np.argwhere(corr == upper.max())[0]
    assert slots.pair_rank(corr, i, j) == 1
    i, j = np.argwhere(corr == upper.min())[0]
    assert slots.pair_rank(corr, i, j) == 45


def test_a_feature_on_for_the_group_and_off_elsewhere_has_the_closed_form_margin():
    prof = np.random.default_rng(1).random((10, 5)) * 0.1  # noise features, never group-specific
    prof[:, 4] = 0.0
    prof[[1, 4, 7, 9], 4] = 1.0  # a perfect feature for {1, 4, 7, 9}
    # standardised across 10 classes, on = 0.6 / sqrt(0.24), off = -0.4 / sqrt(0.24): margin 1 / sqrt(0.24)
    assert slots.sharing_margin(prof, (1, 4, 7, 9)) == pytest.approx(1 / math.sqrt(0.24))
    assert slots.sharing_margin(prof, (3, 5, 8)) < slots.sharing_margin(prof, (1, 4, 7, 9))


def test_the_margin_is_negative_when_no_feature_singles_the_group_out_and_is_scale_free():
    prof = np.tile(np.eye(10), (1, 2))  # each feature belongs to one class: the other member is as low as outsiders
    assert slots.sharing_margin(prof, (1, 4)) == pytest.approx(0.0)
    assert slots.sharing_margin(prof[:, [0, 2, 3]], (1, 4)) < 0  # features of outsiders only
    scaled = prof * np.linspace(1, 100, 20)
    assert slots.sharing_margin(scaled, (1, 4)) == pytest.approx(slots.sharing_margin(prof, (1, 4)))


def test_the_margin_refuses_groups_of_none_or_all_and_constant_features():
    prof = np.random.default_rng(2).random((10, 3))
    with pytest.raises(ValueError, match="some classes"):
        slots.sharing_margin(prof, ())
    with pytest.raises(ValueError, match="some classes"):
        slots.sharing_margin(prof, range(10))
    with pytest.raises(ValueError, match="same for all classes"):
        slots.sharing_margin(np.ones((10, 3)), (1, 2))


def test_bootstrap_se_is_deterministic_keeps_every_class_and_is_close_to_the_mean_se():
    x = np.random.default_rng(3).normal(size=400)
    labels = np.arange(400) % 10
    seen = []
    mean = lambda idx: seen.append(np.bincount(labels[idx], minlength=10)) or x[idx].mean()
    se = slots.bootstrap_se(mean, labels, seed=5, resamples=400)
    assert all((counts == 40).all() for counts in seen)  # stratified: each class keeps its 40 images
    assert se == slots.bootstrap_se(lambda idx: x[idx].mean(), labels, seed=5, resamples=400)
    assert se == pytest.approx(x.std() / math.sqrt(len(x)), rel=0.2)
    assert slots.bootstrap_se(lambda idx: 1.0, labels, seed=0) == 0.0
    with pytest.raises(ValueError, match="at least 2"):
        slots.bootstrap_se(lambda idx: 1.0, labels, seed=0, resamples=1)


def test_distinct_top_slots_tells_a_collapse_and_flat_attention_from_class_specific_slots():
    specific = np.full((10, 70), 0.5 / 69)
    specific[np.arange(10), np.arange(10)] = 0.5
    assert slots.distinct_top_slots(specific, 0.08) == 10
    collapsed = specific.copy()
    collapsed[:, 35] = 0.9  # slot 35 first for every class (the laptop run of the old notebook)
    assert slots.distinct_top_slots(collapsed, 0.08) == 1
    assert slots.distinct_top_slots(np.full((10, 70), 1 / 70), 0.08) == 0  # flat: no class has a share >= 0.08


def test_top_values_and_table4_layout():
    prof = np.tile(np.arange(5.0), (10, 1))
    top, values = slots.top_values(prof, 2)
    assert (top == [4, 3]).all() and (values == [4.0, 3.0]).all()
    text = slots.format_top_table(values, "ours").splitlines()
    assert len(text) == 3 and '"0"' in text[0] and '"9"' in text[0]
    assert text[1].startswith("top-1") and "4.00" in text[1]


class Test:
    grey = torch.rand(60, 784, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    y = torch.arange(60) % 10


def test_slot_statistics_of_a_mem_vae_compare_with_the_pixels_computed_the_same_way():
    torch.manual_seed(0)
    model = build_model(MemVAEConfig(input_dim=784, hidden=(16, 12), latent_dim=4, memory_slots=(7, 5))).double().eval()
    stats = slots.slot_statistics(model, Test, seed=3)
    assert stats.preference[1].shape == (10, 7) and stats.preference[2].shape == (10, 5)
    raw = slots.class_profiles(Test.grey.numpy(), Test.y.numpy())
    assert stats.raw_sharing[1] == pytest.approx(slots.sharing_margin(raw, (1, 4, 7, 9)))
    assert stats.correlation["raw pixels"] == pytest.approx(slots.class_correlation(raw))
    assert stats.advantage(2)["mean"] == pytest.approx(stats.sharing[2] - stats.raw_sharing[2])
    assert stats.sharing_se[1] > 0 and stats.similarity_se > 0
    again = slots.slot_statistics(model, Test, seed=3)  # the posterior draw and the bootstrap are seeded
    assert again.sharing == stats.sharing and again.sharing_se == stats.sharing_se
    assert slots.layer_preference(model, Test, layer=1, seed=3) == pytest.approx(stats.preference[1])
