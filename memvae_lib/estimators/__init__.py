"""Evaluation estimators shared by every model: IW log-likelihood (§1.4), active units (§1.5),
Parzen window (§3.7, legacy), imputation chain (E8), linear-SVM probe (E4) and the reconstruction
error at the posterior mean (eVAE Figs. 2-4)."""
from .activity import ActiveUnits, active_units, activity_order, per_unit_kl
from .imputation import CORRUPTIONS, ImputationResult, corruption_mask, imputation_chain
from .likelihood import iw_log_likelihood, iw_summary
from .parzen import (DEFAULT_SIGMAS, BandwidthAtEdgeWarning, ParzenResult, bandwidth_edge, kmeans_centres, parzen_evaluate,
                     parzen_log_density, select_bandwidth)
from .probe import ProbeResult, features, linear_svm_probe
from .reconstruction import reconstruction_nll

__all__ = [
    "ActiveUnits", "active_units", "activity_order", "per_unit_kl",
    "CORRUPTIONS", "ImputationResult", "corruption_mask", "imputation_chain",
    "iw_log_likelihood", "iw_summary",
    "DEFAULT_SIGMAS", "BandwidthAtEdgeWarning", "ParzenResult", "bandwidth_edge", "kmeans_centres", "parzen_evaluate",
    "parzen_log_density", "select_bandwidth",
    "ProbeResult", "features", "linear_svm_probe",
    "reconstruction_nll",
]
