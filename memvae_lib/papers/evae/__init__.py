"""Tackling Over-pruning in Variational Autoencoders (Yeung, Kannan, Dauphin, Fei-Fei 2017): the
epitomic VAE, KL weighting, the dropout VAE, the mixture VAE and active units."""
from .configs import BUDGETS, EVAEBudget, budget, experiments

KEY = "evae"
TITLE = "Tackling Over-pruning in Variational Autoencoders"
CITATION = "Yeung, Kannan, Dauphin, Fei-Fei (2017)"
ARXIV = "https://arxiv.org/abs/1706.03643"

__all__ = ["BUDGETS", "EVAEBudget", "budget", "experiments", "KEY", "TITLE", "CITATION", "ARXIV"]
