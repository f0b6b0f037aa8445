"""memvae_lib: the small PyTorch library behind the memvae notebook collection.

Layout (arrows point one way):
    data -> nets/memory -> models -> objectives/estimators -> train/runs -> evaluation
    -> papers/<paper> (budgets, named runs, analyses, claims) -> experiments, notebook -> notebooks
"""

__version__ = "0.1.0"

from .files import absolute_path_variables  # noqa: E402

# relative MEMVAE_RUNS_DIR / MEMVAE_DATA_DIR made absolute once, for notebook kernels and workers
absolute_path_variables()


# Bumped whenever a change alters the numbers a trained model produces (an initialiser, an
# objective, a schedule). It is part of every run's hash, so stale cached runs are never reused.
# 3: the clipped Bernoulli as one logit-clamped kernel, the fused Lasagne Adam (same functions, other
#    float rounding).
NUMERICS_VERSION = 3
