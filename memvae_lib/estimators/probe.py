"""Linear-SVM probe of encoder features (MEM paper Appendix A; docs/protocols.md §2.5 E4).

The original `svm.py` minimises the Crammer-Singer multiclass hinge objective without bias,

    lambda/2 ||W||^2 + (1/N) sum_i max_y [ Delta(y, y_i) + w_y . x_i - w_{y_i} . x_i ],  lambda = 1e-4,

by 200,000 AdaGrad minibatch steps. Here the same objective is solved (to tolerance) by
liblinear: dividing by lambda gives 1/2 ||W||^2 + C sum_i hinge_i with C = 1 / (lambda N), i.e.
scikit-learn's LinearSVC(multi_class='crammer_singer', fit_intercept=False). An exact optimum
instead of a truncated stochastic one may differ from the paper by a few tenths of a percent;
features are not standardised (as the original).
"""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import torch

from ._util import as_tensor, check_matrix, chunks


@dataclasses.dataclass
class ProbeResult:
    accuracy: float  # test accuracy in [0, 1]
    C: float  # = 1 / (lambda N_train)
    n_train: int
    converged: bool  # liblinear reached its tolerance within max_iter


def _numpy(a) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def linear_svm_probe(train_features, train_labels, test_features, test_labels, *,
                     lam: float = 1e-4, seed: int = 1234, max_iter: int = 10000) -> ProbeResult:
    """Fit the E4 Crammer-Singer SVM on (train_features, train_labels), report test accuracy."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    xtr, ytr, xte, yte = (_numpy(a) for a in (train_features, train_labels, test_features, test_labels))
    for name, f, y in (("train", xtr, ytr), ("test", xte, yte)):
        if f.ndim != 2 or y.ndim != 1 or f.shape[0] != y.shape[0]:
            raise ValueError(f"{name}: need features (N, d) and labels (N,), got {f.shape} and {y.shape}")
    if xtr.shape[1] != xte.shape[1]:
        raise ValueError(f"train features have {xtr.shape[1]} dimensions, test features {xte.shape[1]}")
    if lam <= 0:
        raise ValueError(f"lam must be > 0, got {lam}")
    n = xtr.shape[0]
    C = 1.0 / (lam * n)
    svm = LinearSVC(C=C, multi_class="crammer_singer", fit_intercept=False, random_state=seed, max_iter=max_iter)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        svm.fit(xtr.astype(np.float64), ytr)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    accuracy = float((svm.predict(xte.astype(np.float64)) == yte).mean())
    return ProbeResult(accuracy=accuracy, C=C, n_train=n, converged=converged)


def features(model_fn, x, batch_size: int = 1000) -> torch.Tensor:
    """model_fn applied to x in batches under no_grad, concatenated on the CPU (N, feature_dim).
    Put the model in the intended mode (eval, stored BN statistics) before calling."""
    x = as_tensor(x)
    check_matrix(x)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    with torch.no_grad():
        return torch.cat([model_fn(x[rows]).detach().cpu() for rows in chunks(x.shape[0], batch_size)])
