"""What the eVAE notebooks measure on the seed runs of each model (Yeung et al. 2017, Figs. 1-6,
Table 2), as per-seed statistics ready for the claims and rows ready for the checked table.

    m = measure(nb.seed_runs("evae/mnist/VAE-D50-lambda1"), nb.budget, reconstruction=True, parzen=True)
    m.counts, m.reconstruction, m.parzen      # (50, 49), Seeds(...), Seeds(...)

Every number is cached in its run's folder (`evaluation.cached_metric`), so a second notebook
that measures the same run only loads it. Sample quality is the Parzen log-density of decoder
means of prior samples (§3.7, a legacy metric: the paper's own measure of samples, Sec. 5.2).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ...evaluation import cached_metric, paired_difference, test_log_likelihood, test_set
from ...results import Row
from .activity import THRESHOLD, activity_report
from .claims import Seeds
from .parzen_protocol import parzen_report


def reconstruction_report(run, test) -> dict:
    """Test -log p(x | z = E_q[z|x]) in nats (Bernoulli decoder): mean and SE over the images, cached."""
    import torch
    import torch.nn.functional as F

    from ...estimators._util import map_batches

    def compute():
        def per_image(xb):  # float64 before the pixel sum
            return F.binary_cross_entropy(run.model.reconstruct(xb), xb, reduction="none").to(torch.float64).sum(1)

        nll = map_batches(run.model, test.x, per_image, 1000)                      # (N,)
        n = nll.numel()
        return {"mean": float(nll.mean()), "sem": float(nll.std() / math.sqrt(n)) if n > 1 else 0.0, "n": n}

    key = f"reconstruction-nll-n{test.x.shape[0]}-{test.protocol.get('test_set_sha256', test.dataset)}"
    return cached_metric(run.path, key, compute)


@dataclass
class Measured:
    """The seed runs of one model (the first is the ordinary run) and what was measured on each."""

    runs: list
    activity: list[dict]                       # activity.activity_report per seed
    reconstruction: Seeds | None = None        # test -log p(x | E_q z), nats
    parzen: Seeds | None = None                # Parzen log-density of samples, nats (legacy)
    iwll: Seeds | None = None                  # test IW log-likelihood L_k, nats
    notes: dict = field(default_factory=dict)

    @property
    def counts(self) -> tuple[int, ...]:
        return tuple(a["count"] for a in self.activity)

    @property
    def first(self):
        return self.runs[0]


def _seeds(reports) -> Seeds:
    return Seeds(tuple(r["mean"] for r in reports), tuple(r["sem"] for r in reports))


def measure(runs, budget, *, dataset: str = "mnist", threshold: float = THRESHOLD, reconstruction: bool = False,
            parzen: bool = False, iwll_k: int | None = None) -> Measured:
    """Active units (and KL per unit) of every seed run, plus what is asked: the reconstruction NLL
    and the IW log-likelihood on the budget's test subset, the Parzen log-density (§3.7)."""
    test = test_set(dataset, budget.test_subset)
    m = Measured(list(runs), [activity_report(r, dataset, threshold) for r in runs])
    if reconstruction:
        m.reconstruction = _seeds([reconstruction_report(r, test) for r in runs])
    if parzen:
        m.parzen = _seeds([parzen_report(r, dataset, budget) for r in runs])
    if iwll_k is not None:
        m.iwll = _seeds([test_log_likelihood(r, test, iwll_k) for r in runs])
    return m


def paired_gaps(runs_a, runs_b, budget, k: int, dataset: str = "mnist") -> Seeds:
    """L_k(a) - L_k(b) of seed i of a against seed i of b on the same test images, with the SE of
    the per-image differences (pairing removes the between-image spread)."""
    test = test_set(dataset, budget.test_subset)
    return _seeds([paired_difference(a, b, test, k) for a, b in zip(runs_a, runs_b, strict=True)])


def _value(seeds: Seeds | tuple, sign: float = 1.0) -> tuple[float, str]:
    """The mean over seeds and a note listing them."""
    values = seeds.values if isinstance(seeds, Seeds) else tuple(seeds)
    if len(values) == 1:  # one seed: its value as it is (a count stays an int)
        return (values[0] if sign == 1.0 else sign * values[0]), ""
    mean = sign * math.fsum(values) / len(values)
    note = f"mean of {len(values)} seeds: " + ", ".join(f"{sign * v:.2f}" for v in values)
    return mean, note


def rows(measured: dict, *, dataset: str = "mnist", paper: dict | None = None, negate_iwll: bool = False,
         kl: bool = False) -> list[Row]:
    """The checked table: per model (dict key = its label), active units (eVAE/mVAE: per epitome,
    and the marginal count beside it), then each measured statistic, the mean over seeds with the
    seeds in the note. `paper` maps (quantity, label) to the paper's number; `negate_iwll` prints the
    IW estimate as a negative log-likelihood (Table 2); `kl` adds the mean KL per active and inactive unit."""
    paper = paper or {}
    out = []
    for label, m in measured.items():
        a = m.activity[0]
        value, note = _value(m.counts)
        out.append(Row("active_units", label, value, dataset,
                       paper=paper.get(("active_units", label)), unit="units",
                       note=f"A_u >= {a['threshold']:g}, {a['n_examples']} train" + (f"; {note}" if note else "")))
        if "per_epitome" in a:
            value, note = _value([r["marginal_count"] for r in m.activity])
            out.append(Row("active_units_marginal", label, value, dataset, unit="units",
                           note="A_u of m_y* * mu (mixes in how often each epitome is chosen)" + (f"; {note}" if note else "")))
        for side in ("active", "inactive") if kl else ():
            per_seed = [r[f"kl_{side}"] for r in m.activity if r[f"kl_{side}"] is not None]
            value, note = _value(per_seed) if per_seed else (None, "no such unit")
            out.append(Row(f"mean_unit_kl_{side}", label, value, dataset,
                           note=f"{len(per_seed)} of {len(m.activity)} seeds have {side} units" + (f"; {note}" if note else "")))
        for quantity, seeds, sign in (("reconstruction_nll", m.reconstruction, 1.0), ("parzen_log_density", m.parzen, 1.0),
                                      ("negative_test_log_likelihood" if negate_iwll else "test_log_likelihood",
                                       m.iwll, -1.0 if negate_iwll else 1.0)):
            if seeds is not None:
                value, note = _value(seeds, sign)
                out.append(Row(quantity, label, value, dataset, paper=paper.get((quantity, label)),
                               note=f"SE {seeds.test_se[0]:.2f}" + (f"; {note}" if note else "")))
    return out


def protocol(budget, measured: dict, threshold: float = THRESHOLD, **extra) -> dict:
    """The results JSON's protocol for notebooks built on `measure`."""
    first = next(iter(measured.values()))
    spec = first.first.spec
    return {"epochs": spec.train.epochs, "train_subset": spec.train_subset, "threshold": threshold,
            "activity_data": first.activity[0]["data"],
            "evae_active_units": "per epitome: max_y Var_{x: y*(x)=y} mu_u(x) >= threshold (activity.py)",
            **test_set("mnist", budget.test_subset).protocol, **extra}


def seed_row(quantity: str, label: str, seeds: Seeds, *, dataset: str = "mnist", paper=None, note: str = "") -> Row:
    """One statistic measured per seed as a row: the mean, the seeds and the test SE in the note."""
    value, seeds_note = _value(seeds)
    return Row(quantity, label, value, dataset, paper=paper,
               note="; ".join(x for x in (note, f"SE {seeds.test_se[0]:.2f}", seeds_note) if x))
