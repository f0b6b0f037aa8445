"""Active units and KL per unit (memvae_lib/papers/evae/activity.py): the per-epitome activity of the
eVAE/mVAE in closed form, the rank correlation, and the report on models with known answers."""
import types

import pytest
import torch

from memvae_lib.estimators import active_units
from memvae_lib.models.evae import EpitomicVAE, EVAEConfig
from memvae_lib.models.mvae import MixtureVAE, MVAEConfig
from memvae_lib.papers.evae import activity
from toy_models import LinearGaussianModel


class PlantedEpitomes(torch.nn.Module):
    """An 'eVAE' whose input says everything: column 0 is the epitome y*, columns 1.. are mu(x)."""

    def __init__(self, masks):
        super().__init__()
        self.register_buffer("masks", torch.as_tensor(masks, dtype=torch.bool))
        self.register_buffer("_dtype", torch.zeros(1, dtype=torch.float64))
        self.num_epitomes = self.masks.shape[0]

    def assign_epitomes(self, x):
        return x[:, 0].long()

    def posterior_mean(self, x):  # m_{y*} * mu(x)
        return self.masks[x[:, 0].long()].to(x.dtype) * x[:, 1:]


def _images(rows):
    """[(y, mu_vector), ...] -> (N, 1 + D) float64."""
    return torch.tensor([[y, *mu] for y, mu in rows], dtype=torch.float64)


MASKS = [[1, 1, 0, 0], [0, 0, 1, 1]]


def test_per_epitome_variance_in_closed_form():
    # epitome 0: unit 0 alternates +-1 (variance 1), unit 1 constant; epitome 1: unit 2 +-0.5, unit 3 +-0.1
    rows = [(0, [s, 3.0, 9.0, 9.0]) for s in [1.0, -1.0] * 10] + [(1, [9.0, 9.0, s / 2, s / 10]) for s in [1.0, -1.0] * 6]
    view = activity.epitome_activity(PlantedEpitomes(MASKS), _images(rows), threshold=0.02, min_images=10)
    expected = torch.tensor([[1.0, 0.0, float("nan"), float("nan")], [float("nan"), float("nan"), 0.25, 0.01]],
                            dtype=torch.float64)
    torch.testing.assert_close(view.variances, expected, equal_nan=True)
    assert view.images.tolist() == [20, 12] and view.active.tolist() == [True, False, True, False]
    assert view.count == 2 and view.per_epitome.tolist() == [1, 1]


def test_a_rarely_chosen_epitome_counts_as_fully_as_a_popular_one():
    # 990 images on epitome 0, 10 on epitome 1 whose unit 2 varies strongly (variance 1)
    rows = [(0, [s, s, 0.0, 0.0]) for s in [1.0, -1.0] * 495] + [(1, [0.0, 0.0, s, s]) for s in [1.0, -1.0] * 5]
    model, x = PlantedEpitomes(MASKS), _images(rows)
    ours = activity.epitome_activity(model, x, threshold=0.02)
    assert ours.count == 4
    # the marginal statistic on m_{y*} * mu sees unit 2 only 1% of the time: 0.01 x 1 < 0.02
    marginal = active_units(model, x, 0.02)
    assert marginal.variances[2] == pytest.approx(0.01) and marginal.count == 2


def test_an_epitome_with_too_few_images_leaves_its_units_inactive():
    rows = [(0, [s, s, 0.0, 0.0]) for s in [1.0, -1.0] * 10] + [(1, [0.0, 0.0, 5.0, -5.0]), (1, [0.0, 0.0, -5.0, 5.0])]
    view = activity.epitome_activity(PlantedEpitomes(MASKS), _images(rows), min_images=3)
    assert torch.isnan(view.variances[1]).all() and view.active.tolist() == [True, True, False, False]
    assert view.unit_activity[2] == 0.0


def test_selector_masks_of_each_model():
    evae = EpitomicVAE(EVAEConfig(input_dim=6, hidden=(5,), latent_dim=6, epitome_size=2, stride=2))
    assert activity.selector_masks(evae).tolist() == [[1, 1, 0, 0, 0, 0], [0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 1, 1]]
    mvae = MixtureVAE(MVAEConfig(input_dim=6, hidden=(5,), latent_dim=6, epitome_size=3, stride=3))
    masks = activity.selector_masks(mvae)
    assert masks.shape == (2, mvae.latent_dim) and masks.tolist() == [[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]]
    assert activity.selector_masks(LinearGaussianModel()) is None
    with pytest.raises(ValueError, match="no epitomes"):
        activity.epitome_activity(LinearGaussianModel(), torch.zeros(3, 6))


def test_every_unit_of_a_real_evae_is_in_the_table_of_its_epitomes():
    torch.manual_seed(0)
    model = EpitomicVAE(EVAEConfig(input_dim=6, hidden=(5,), latent_dim=6, epitome_size=3, stride=3)).double()
    x = torch.rand(200, 6, dtype=torch.float64)
    view = activity.epitome_activity(model, x, min_images=1)
    used = view.images > 0
    assert torch.equal(~torch.isnan(view.variances[used]), activity.selector_masks(model)[used])
    assert int(view.images.sum()) == 200


@pytest.mark.parametrize("a, b, rho", [([1, 2, 3, 4], [10, 20, 30, 40], 1.0), ([1, 2, 3, 4], [4, 3, 2, 1], -1.0),
                                       ([1, 1, 2, 2], [1, 1, 2, 2], 1.0), ([1, 2, 3], [5, 5, 5], 0.0),
                                       ([1, 2, 3, 4], [1, 3, 2, 4], 0.8)])
def test_spearman(a, b, rho):
    assert activity.spearman(torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)) == pytest.approx(rho)


def test_unit_statistics_of_a_model_with_an_unused_unit():
    """Linear-Gaussian model: an unused unit (scale 0) has posterior mean 0 and KL exactly 0, and
    both activity and KL grow with a unit's scale (toy_models: Var = 1 - v_d, KL = -log(v_d) / 2)."""
    model = LinearGaussianModel(data_dim=6, latent_dim=3, scales=[0.0, 1.0, 2.0], noise_std=0.5).eval()
    x = model.sample_data(4000, torch.Generator().manual_seed(0))
    stats = activity.unit_statistics(model, x, threshold=0.02)
    assert stats["active"] == [False, True, True] and stats["count"] == 2 == stats["marginal_count"]
    assert stats["kl_inactive"] == pytest.approx(0.0, abs=1e-12) and stats["kl_active"] > 0.5
    assert stats["rank_correlation"] == pytest.approx(1.0) and "per_epitome" not in stats
    v = model.unit_posterior_variance()
    assert stats["kl"][2] == pytest.approx(float(-0.5 * torch.log(v[2])), rel=0.02)  # E_x KL_d, 4000 draws


def test_activity_report_is_cached_and_names_the_per_epitome_count(tmp_path, monkeypatch):
    import memvae_lib.evaluation as evaluation

    x = _images([(0, [s, s, 0.0, 0.0]) for s in [1.0, -1.0] * 10] + [(1, [0.0, 0.0, s, s]) for s in [1.0, -1.0] * 6])
    monkeypatch.setattr(evaluation, "activity_set", lambda dataset, n: x)
    monkeypatch.setattr("memvae_lib.data.load_dataset", lambda name: types.SimpleNamespace(kind="continuous"))
    model = PlantedEpitomes(MASKS)
    model.kl_per_unit = lambda xb: torch.zeros(xb.shape[0], 4, dtype=torch.float64)
    run = types.SimpleNamespace(model=model, path=tmp_path)
    report = activity.activity_report(run, "olivetti", 0.02, n=32)
    assert report["count"] == 4 and report["per_epitome"] == {"images": [20, 12], "active": [2, 2]}
    assert report["data"] == "first 32 training images"
    [path] = (tmp_path / "metrics").glob("*.json")
    assert path.name.startswith("activity-olivetti-n32-t0.02") and "per-epitome" in path.name
    model.posterior_mean = None  # a second call reads the cache
    assert activity.activity_report(run, "olivetti", 0.02, n=32) == report



def test_a_model_with_epitomes_is_counted_on_5000_images_so_a_rare_epitome_is_seen(tmp_path, monkeypatch):
    """Epitome 1 explains 1 image in 100: 6 of the first 500 (below MIN_EPITOME_IMAGES, so its units
    would count as inactive) but 50 of the first 5,000. The report's default n is 5,000 for a model
    with epitomes, 500 for one without (§1.5)."""
    import memvae_lib.evaluation as evaluation

    rows = [(1, [0.0, 0.0, s, s]) if i % 200 < 2 else (0, [s, s, 0.0, 0.0])
            for i, s in enumerate([1.0, -1.0] * 2500)]
    x = _images(rows)                                                   # (5000, 5)
    asked = []
    monkeypatch.setattr(evaluation, "activity_set", lambda dataset, n: asked.append(n) or x[:n])
    monkeypatch.setattr("memvae_lib.data.load_dataset", lambda name: types.SimpleNamespace(kind="continuous"))
    model = PlantedEpitomes(MASKS)
    model.kl_per_unit = lambda xb: torch.zeros(xb.shape[0], 4, dtype=torch.float64)
    assert activity.activity_images(model) == activity.EPITOME_ACTIVITY_IMAGES == 5000
    assert activity.activity_images(LinearGaussianModel(data_dim=3, latent_dim=2, scales=[1.0, 1.0])) == 500
    assert activity.epitome_activity(model, x[:500]).count == 2           # epitome 1: 6 images, not counted
    report = activity.activity_report(types.SimpleNamespace(model=model, path=tmp_path), "olivetti", 0.02)
    assert asked == [5000] and report["n_examples"] == 5000 and report["count"] == 4
    assert report["per_epitome"] == {"images": [4950, 50], "active": [2, 2]}

# ---- active units over training -----------------------------------------------------------------
def _curve():
    # 4 units over epochs 1..4: unit 0 always active, unit 1 pruned at epoch 2 for good, unit 2
    # inactive half-way (epoch 2) and active again at the end, unit 3 never active
    a = [[0.5, 0.3, 0.05, 0.0], [0.5, 0.001, 0.01, 0.0], [0.5, 0.001, 0.015, 0.0], [0.5, 0.0005, 0.03, 0.001]]
    return activity.ActivityCurve([1, 2, 3, 4], torch.tensor(a, dtype=torch.float64))


def test_an_activity_curve_counts_at_any_threshold_and_finds_the_resurrected_units():
    curve = _curve()
    assert curve.counts(0.02) == [3, 1, 1, 2] and curve.counts(0.01) == [3, 2, 2, 2]
    assert curve.resurrected(0.02) == (1, 3)            # unit 2 of units 1, 2, 3 (inactive at epoch 2)
    assert curve.resurrected(0.01, since=0.75) == (0, 2)  # epoch 3 at 0.01: units 1 and 3, both still off


def test_activity_curve_reads_the_runs_history_and_names_a_run_without_one(tmp_path):
    from pathlib import Path
    from types import SimpleNamespace

    history = [{"epoch": 1, "loss": 3.0, "activity": [0.1, 0.0]}, {"epoch": 2, "loss": 2.0, "activity": [0.2, 0.03]}]
    curve = activity.activity_curve(SimpleNamespace(history=history, path=Path("r")))
    assert curve.epochs == [1, 2] and curve.counts(0.02) == [1, 2]
    spec = SimpleNamespace(train=SimpleNamespace(eval_metric="test_ll"))
    with pytest.raises(ValueError, match=r"run mnist-VAE-x recorded no active units while training "
                                         r"\(TrainConfig.eval_metric='test_ll'\)"):
        activity.activity_curve(SimpleNamespace(history=[{"epoch": 1, "loss": 3.0}], path=Path("mnist-VAE-x"),
                                                spec=spec))


def test_a_curve_too_short_to_follow_a_unit_says_so():
    one = activity.ActivityCurve([1], torch.tensor([[0.5, 0.0]], dtype=torch.float64))
    assert one.resurrected(0.02) is None  # the half-way record is the last one
    with pytest.raises(ValueError, match=r"since=1.0: the share of training .* in \(0, 1\)"):
        _curve().resurrected(0.02, since=1.0)
