"""memvae_lib: the small PyTorch library behind the memvae notebook collection.

Layout (arrows point one way):
    data -> nets/memory -> models -> objectives/estimators -> train/runs -> experiments -> notebooks
"""

__version__ = "0.1.0"

# Bumped whenever a change alters the numbers a trained model produces (an initialiser, an
# objective, a schedule). It is part of every run's hash, so stale cached runs are never reused.
NUMERICS_VERSION = 2
