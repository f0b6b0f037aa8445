"""Learning to Generate with Memory (Li, Zhu, Zhang, ICML 2016): MEM-VAE and MEM-IWAE, an external
memory read by attention in each deterministic layer of the generative network."""
from .configs import BUDGETS, MemBudget, budget, experiments

KEY = "mem"
TITLE = "Learning to Generate with Memory"
CITATION = "Li, Zhu, Zhang (ICML 2016)"
ARXIV = "https://arxiv.org/abs/1602.07416"

__all__ = ["BUDGETS", "MemBudget", "budget", "experiments", "KEY", "TITLE", "CITATION", "ARXIV"]
