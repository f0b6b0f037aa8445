"""Which images each epitome explains (memvae_lib/papers/evae/epitomes.py): purity in closed form,
collapse, the usage report, the manifold grid."""
import types

import pytest
import torch

from memvae_lib.papers.evae import epitomes


def test_label_purity_in_closed_form():
    groups, labels = torch.tensor([0, 0, 1, 1]), torch.tensor([3, 3, 5, 6])
    assert epitomes.label_purity(groups, labels) == pytest.approx(3 / 4)
    assert epitomes.label_purity(torch.arange(4), labels) == 1.0          # one image per group: pure
    assert epitomes.label_purity(torch.zeros(4, dtype=torch.long), labels) == pytest.approx(2 / 4)
    with pytest.raises(ValueError, match="one of each per image"):
        epitomes.label_purity(groups, labels[:3])


def test_shuffled_purity_keeps_group_sizes_and_is_reproducible():
    labels = torch.arange(100) % 10
    groups = labels.clone()                                               # perfectly specialised
    assert epitomes.label_purity(groups, labels) == 1.0
    shuffled = epitomes.shuffled_purity(groups, labels)
    assert shuffled < 0.5 and shuffled == epitomes.shuffled_purity(groups, labels)
    one_group = torch.zeros(100, dtype=torch.long)                        # a shuffle cannot change one group
    assert epitomes.shuffled_purity(one_group, labels) == epitomes.label_purity(one_group, labels) == 0.1


def test_largest_share():
    assert epitomes.largest_share([1, 3]) == 0.75 and epitomes.largest_share(torch.tensor([5, 5, 5, 5])) == 0.25
    with pytest.raises(ValueError, match="no image"):
        epitomes.largest_share([0, 0])


class FirstColumnPicks(torch.nn.Module):
    """An eVAE stand-in: the epitome is the first pixel times 10 (a labelled test of the report)."""

    num_epitomes = 3

    def __init__(self):
        super().__init__()
        self.register_buffer("_dtype", torch.zeros(1, dtype=torch.float64))

    def assign_epitomes(self, x):
        return (x[:, 0] * 10).round().long()



@pytest.mark.parametrize("counts,reason", [
    ([0, 0, 300], "collapsed 100%"),                         # the Olivetti collapse of issue 13
    ([91, 9], "collapsed 91%"),
    ([100, 100, 100] + [0] * 7, "3 of 10 epitomes used"),    # balanced, but 70% of samples from unused epitomes
    ([50, 50], None), ([5, 5, 5, 5, 0], None), ([90, 10], None),
    ([300], None),                                           # K = D: one epitome, a VAE, nothing to collapse onto
])
def test_degeneracy_names_the_reason_and_returns_the_counts(counts, reason):
    d = epitomes.degeneracy(counts)
    assert d["reason"] == reason and d["degenerate"] == (reason is not None)
    assert d["counts"] == counts and d["epitomes"] == len(counts) and d["used"] == sum(n > 0 for n in counts)
    assert d["untrained_sample_share"] == pytest.approx(1 - d["used"] / len(counts))
    assert d["largest_share"] == pytest.approx(max(counts) / sum(counts))


@pytest.mark.parametrize("counts", [[], [[1, 2]], [3, -1], [0, 0]])
def test_degeneracy_refuses_what_is_not_one_count_per_epitome(counts):
    with pytest.raises(ValueError):
        epitomes.degeneracy(counts)


def test_usage_report_counts_train_and_test_images_and_caches(tmp_path, monkeypatch):
    import memvae_lib.evaluation as evaluation

    train = torch.zeros(10, 4)
    train[:8, 0] = 0.1                                                    # 8 images on epitome 1, 2 on epitome 0
    labels = torch.tensor([7] * 8 + [1, 2])
    monkeypatch.setattr(epitomes, "training_images", lambda spec, dataset: (train, labels))
    monkeypatch.setattr(evaluation, "test_set", lambda dataset, n: types.SimpleNamespace(x=torch.full((4, 4), 0.2)))
    run = types.SimpleNamespace(model=FirstColumnPicks(), path=tmp_path, spec=None)
    report = epitomes.usage_report(run, "mnist", 4)
    assert report["train_counts"] == [2, 8, 0] and report["test_counts"] == [0, 0, 4]
    assert report["largest_share_train"] == 0.8 and report["largest_share_test"] == 1.0 and report["used_train"] == 2
    assert report["purity"] == pytest.approx(9 / 10)                     # epitome 0 holds labels 1 and 2
    run.model.assign_epitomes = None
    assert epitomes.usage_report(run, "mnist", 4) == report               # from the cache
    rows = epitomes.usage_rows([report, {**report, "purity": 0.7}], "eVAE")
    by = {r.quantity: r for r in rows}
    assert by["epitome_label_purity"].ours == pytest.approx(0.8) and by["epitomes_used"].ours == 2


class Echo(torch.nn.Module):
    """decode_mean returns its input: the manifold grid's latent codes can be read back."""

    latent_dim = 5

    def __init__(self, units):
        super().__init__()
        self.active_units = torch.tensor(units)
        self.register_buffer("_dtype", torch.zeros(1))

    @property
    def device(self):
        return torch.device("cpu")

    def decode_mean(self, z):
        return z


def test_manifold_grid_varies_the_epitomes_two_units_only():
    z = epitomes.manifold(Echo([[0, 1], [2, 3]]), epitome=1, grid_size=3).reshape(3, 3, 5)
    q = torch.distributions.Normal(0.0, 1.0).icdf(torch.tensor([0.05, 0.5, 0.95]))
    torch.testing.assert_close(z[:, 0, 2], q)                             # rows: the first unit
    torch.testing.assert_close(z[0, :, 3], q)                             # columns: the second
    assert z[..., [0, 1, 4]].abs().max() == 0
    with pytest.raises(ValueError, match="K = 2"):
        epitomes.manifold(Echo([[0, 1, 2]]), epitome=0)
