"""Reconstruction NLL at the posterior mean, against its closed form for a known decoder mean."""
import math

import pytest
import torch
from torch import nn

from memvae_lib.estimators import reconstruction_nll


class ConstantDecoder(nn.Module):
    """reconstruct(x) = m for every pixel; records the mode it was called in."""

    def __init__(self, m: float, likelihood: str = "bernoulli"):
        super().__init__()
        self.m = nn.Parameter(torch.tensor(m))
        self.config = type("Config", (), {"likelihood": likelihood})()
        self.modes = []

    def reconstruct(self, x):
        self.modes.append(self.training)
        return self.m.expand_as(x)


def test_matches_closed_form_and_ignores_batching():
    x = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 0.5]])
    model = ConstantDecoder(0.25)
    expected = -(2 * math.log(0.25) + math.log(0.75) + 2 * math.log(0.75) + 0.5 * math.log(0.25) + 0.5 * math.log(0.75)) / 2
    assert reconstruction_nll(model, x) == pytest.approx(expected, rel=1e-6)
    assert reconstruction_nll(model, x, batch_size=1) == pytest.approx(expected, rel=1e-6)
    assert model.modes == [False] * 3 and model.training  # eval inside, mode restored


def test_a_perfect_decoder_loses_nothing():
    x = torch.tensor([[1.0, 0.0]])
    assert reconstruction_nll(ConstantDecoder(1.0), x[:, :1]) == pytest.approx(0.0, abs=1e-6)


def test_gaussian_decoder_refused():
    with pytest.raises(ValueError, match="Bernoulli decoder.*'gaussian'"):
        reconstruction_nll(ConstantDecoder(0.5, "gaussian"), torch.zeros(2, 3))
