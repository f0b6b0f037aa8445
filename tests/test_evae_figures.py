"""The eVAE figures draw what they are given (memvae_lib/papers/evae/figures.py, parzen_figures.py)."""
import matplotlib.pyplot as plt
import torch

from memvae_lib.papers.evae import figures, grid, parzen_figures
from memvae_lib.papers.evae.claims import Seeds


def _report(n=6):
    return {"activity": [0.5 ** i for i in range(n)], "kl": [2.0 - 0.3 * i for i in range(n)], "count": 3}


def test_activity_figures_colour_units_by_the_threshold():
    fig = figures.kl_vs_activity(_report(), threshold=0.2)
    bars = fig.axes[1].patches
    assert len(bars) == 6 and sum(b.get_facecolor() == bars[0].get_facecolor() for b in bars) == 3  # 1, .5, .25 >= .2
    assert "3 units" in fig._suptitle.get_text()
    plt.close(fig)
    images = torch.rand(64, 784)
    fig = figures.activity_and_images({"a": _report(), "b": _report()}, [{"x": images, "y": images}, {"z": images[:0]}])
    assert len(fig.axes) == 4 and "none" in fig.axes[-1].get_title()
    plt.close(fig)


def test_image_panels_and_epitome_overview():
    fig = figures.image_panels({"a": torch.rand(25, 784), "faces": (torch.rand(4, 48 * 48), (48, 48))}, ncols=1)
    assert len(fig.axes) == 2 and fig.axes[0].get_title() == "a"
    plt.close(fig)
    fig = figures.epitome_overview(torch.eye(4, dtype=torch.bool).repeat_interleave(2, 1), [5, 0, 3, 2], [0, 2],
                                   {0: torch.rand(100, 784), 2: torch.rand(100, 784)}, {0: [0, 1], 2: [4, 5]})
    assert len(fig.axes) == 4
    plt.close(fig)


def _cell(kind, latent, k, parzen, share=None):
    return grid.CellResult("x", "mnist", kind, 1, 500, latent, k, [None],
                           [{"mean": parzen, "sem": 2.0, "sweep": [[0.1, parzen - 1], [0.2, parzen]]}],
                           [{"count": latent}], None if kind == "VAE" else {"largest_share_train": share})


def test_parzen_figures():
    results = {("VAE", 1, 500, 8, None): _cell("VAE", 8, None, 180.0)}
    for kind in ("eVAE", "mVAE"):
        for k in (2, 4):
            results[kind, 1, 500, 8, k] = _cell(kind, 8, k, 170.0 + k, 0.95 if k == 4 else 0.5)
    baselines = {"real": {"mean": 150.0, "sem": 1.0, "sweep": [[0.1, 1.0], [0.2, 2.0]]},
                 "kmeans": {"mean": 250.0, "sem": 1.0, "sweep": [[0.1, 3.0], [0.2, 2.0]]}}
    for fig in (parzen_figures.parzen_vs_k(results, baselines),
                parzen_figures.bandwidth_sweeps({"mnist": list(results.values())}, {"mnist": baselines}),
                parzen_figures.d_sweep(grid.best_over_k(results), "mnist", 1, 500),
                parzen_figures.against_literature(grid.best_of_family(results), baselines)):
        assert fig.axes
        plt.close(fig)
    assert all(r.epitome != 4 for r in grid.best_over_k(results).values())   # K = 4 collapsed: never selected
    fig = parzen_figures.grid_heatmaps({"mnist": {key[:4]: r for key, r in results.items() if key[4] in (None, 4)}})
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert sum(t.endswith("*") for t in labels) == 2  # the collapsed K = 4 cells are starred
    plt.close(fig)
    nll = {(m, d): Seeds((-100.0 - d / 10,), (1.0,)) for m in ("VAE", "eVAE") for d in (50, 100)}
    fig = parzen_figures.nll_vs_d(nll, {key: (20,) for key in nll}, 0.02)
    assert len(fig.axes) == 2
    plt.close(fig)


def test_active_units_over_epochs_draws_a_line_per_seed_of_the_counts():
    from memvae_lib.papers.evae.activity import ActivityCurve

    a = ActivityCurve([1, 2, 3], torch.tensor([[0.5, 0.5], [0.5, 0.01], [0.5, 0.0]], dtype=torch.float64))
    b = ActivityCurve([1, 2, 3], torch.tensor([[0.5, 0.5], [0.5, 0.5], [0.5, 0.01]], dtype=torch.float64))
    fig = figures.active_units_over_epochs({"lambda = 1": [a, b], "lambda = 0.5": [b]}, 0.02, latent=2)
    lines = [line for line in fig.axes[0].get_lines() if line.get_linestyle() == "-"]
    assert [list(line.get_ydata()) for line in lines] == [[2, 1, 1], [2, 2, 1], [2, 2, 1]]
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["lambda = 1 (2 seeds)", "lambda = 0.5 (1 seed)"]
    plt.close(fig)
