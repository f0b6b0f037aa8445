"""The MEM figures draw what they are given (memvae_lib/papers/mem/figures.py)."""
from types import SimpleNamespace

import matplotlib.pyplot as plt
import pytest

from memvae_lib.papers.mem import figures, values


def _run(lls):
    return SimpleNamespace(history=[{"epoch": e + 1, "test_ll": v} for e, v in enumerate(lls)])


@pytest.mark.parametrize("seeds", [1, 2, 4])
def test_the_k1_pair_figure_draws_each_seeds_gain_and_the_papers(seeds):
    mem = [_run([-100.0 + s, -95.0, -90.0]) for s in range(seeds)]
    base = [_run([-101.0, -95.5, -91.0]) for _ in range(seeds)]
    fig = figures.k1_pair_over_training(mem, base, 20, "title")
    left, right = fig.axes
    assert len(left.get_lines()) == 2                              # the first seed's VAE and MEM-VAE curves
    gains = [line for line in right.get_lines() if line.get_label().startswith("seed")]
    assert len(gains) == seeds and list(gains[0].get_ydata()) == [1.0, 0.5, 1.0]
    paper = values.MEM_TABLE1["mnist"]["MEM-VAE"] - values.MEM_TABLE1["mnist"]["VAE"]
    assert any(line.get_ydata()[0] == pytest.approx(paper) for line in right.get_lines())
    plt.close(fig)
