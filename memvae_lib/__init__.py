"""memvae_lib: the small PyTorch library behind the memvae notebook collection.

Layout (arrows point one way):
    data -> nets/memory -> models -> objectives/estimators -> train/runs -> experiments -> notebooks
"""

import os

__version__ = "0.1.0"

# Folders named by environment variables. A relative value means "from where the command ran", but
# notebook kernels run in their notebook's folder: so it is made absolute, once, when memvae_lib is
# first imported, and written back to os.environ for every child process (papermill kernels,
# workers) to inherit. runs.runs_dir() and data.data_dir() return absolute paths in any case.
PATH_VARIABLES = ("MEMVAE_RUNS_DIR", "MEMVAE_DATA_DIR")


def absolute_path_variables(environ=os.environ) -> None:
    """Make each relative PATH_VARIABLES value in `environ` absolute against the current directory."""
    for name in PATH_VARIABLES:
        value = environ.get(name)
        if value and not os.path.isabs(os.path.expanduser(value)):
            environ[name] = os.path.abspath(os.path.expanduser(value))


absolute_path_variables()

# Bumped whenever a change alters the numbers a trained model produces (an initialiser, an
# objective, a schedule). It is part of every run's hash, so stale cached runs are never reused.
# 3: the clipped Bernoulli as one logit-clamped kernel, the fused Lasagne Adam (same functions, other
#    float rounding).
NUMERICS_VERSION = 3
