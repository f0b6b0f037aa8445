"""A paper's claim judged against the noise.

Each claim of a paper is a named check that turns our computed statistics into one of four verdicts
(VERDICTS). The yardstick is the training noise, the spread of the statistic over training seeds,
plus the standard error from the test images: not the test-set SE alone, which only says how well
we measured one trained model. Changing nothing but float rounding moved MEM-minus-baseline gaps by
up to 0.22 nats at the laptop budget; a verdict that flips with the CPU is not a verdict.

    est = estimate([0.91, 0.78, 0.95], test_se=[0.05, 0.05, 0.06], floor=0.15)
    claim = exceeds(est, paper_effect=1.26, id="mem/table1/mnist-gain-k1", paper="mem",
                    section="Sec. 5.1, Table 1", statement="MEM-VAE beats VAE on MNIST (k=1)", unit="nats")
    print(format_verdicts([claim]))

Notebooks store their claims in their results JSON (results.write_results); the README table of
claims is built from those files (results.build_claims_table).
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, fields

VERDICTS = ("shows", "partly", "does not show", "not measurable at this budget")
ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9._/+=-]*")
REASON_CHARS = 160  # a combined claim's reason stays one readable line
WIDTH = 100  # format_verdicts wraps here


def _finite(name: str, value) -> float:
    if isinstance(value, (str, bytes)):
        raise ValueError(f"{name} should be a number, got {value!r}")
    try:
        x = float(value)  # numpy / torch scalars too
    except (TypeError, ValueError):
        raise ValueError(f"{name} should be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"{name} is {x}: compute it from finite values (a diverged seed is a failed run, "
                         "rerun or drop it rather than average it in)")
    return x


def _numbers(name: str, values) -> list[float]:
    one = isinstance(values, (str, bytes)) or getattr(values, "ndim", None) == 0 or not hasattr(values, "__iter__")
    seq = [values] if one else list(values)
    if not seq:
        raise ValueError(f"{name} is empty: pass one value per training seed")
    return [_finite(f"{name}[{i}]" if len(seq) > 1 else name, v) for i, v in enumerate(seq)]


@dataclass(frozen=True)
class Estimate:
    """A statistic of ours: the mean over training seeds with its uncertainty."""

    mean: float
    uncertainty: float  # sqrt(max(seed_sd, floor)**2 / n_seeds + test_se**2)
    n_seeds: int
    seed_sd: float | None  # sample sd (ddof=1) over seeds; None with one seed
    test_se: float  # standard error from the test images (shared by all seeds: does not average down)
    floor: float  # the noise floor used when the seeds cannot show the spread

    def negated(self) -> Estimate:
        """The estimate of minus the statistic: a 'lower is better' claim becomes one for `exceeds`."""
        return Estimate(-self.mean, self.uncertainty, self.n_seeds, self.seed_sd, self.test_se, self.floor)


def estimate(per_seed, test_se=0.0, floor: float = 0.0) -> Estimate:
    """Mean over training seeds of `per_seed` (a number, or one per seed) and its uncertainty.

    `test_se` is a number or one per seed (their root-mean-square is used): every seed is scored on
    the same test images, so that part of the error is shared and does not shrink with more seeds.
    With one or two seeds the sample sd is unreliable (one seed has none; two can agree by luck),
    so `floor`, a seed spread measured once per quantity (say from a float-rounding change or a
    few-seed pilot), is the least spread allowed.
    """
    values = _numbers("per_seed", per_seed)
    ses = _numbers("test_se", test_se)
    if len(ses) not in (1, len(values)):
        raise ValueError(f"test_se has {len(ses)} values for {len(values)} seeds: pass one per seed, or one number")
    floor = _finite("floor", floor)
    for name, value in [("floor", floor), *(("test_se", s) for s in ses)]:
        if value < 0:
            raise ValueError(f"{name} is {value}, below 0: pass a standard deviation or error (0 or more)")
    n = len(values)
    mean = math.fsum(values) / n
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
    se = math.sqrt(math.fsum(s * s for s in ses) / len(ses))
    spread = max(sd or 0.0, floor)
    return Estimate(mean, math.sqrt(spread**2 / n + se**2), n, sd, se, floor)


def difference(a: Estimate, b: Estimate) -> Estimate:
    """a - b for two estimates from separately trained models. The uncertainties add in quadrature,
    which ignores the correlation of paired test images (both scored on the same images), so it is
    conservative. Seeds paired by design are better served by estimate() of per-seed differences."""
    return Estimate(a.mean - b.mean, math.hypot(a.uncertainty, b.uncertainty), min(a.n_seeds, b.n_seeds),
                    None, math.hypot(a.test_se, b.test_se), math.hypot(a.floor, b.floor))


@dataclass(frozen=True)
class Claim:
    """One claim of a paper and its verdict here."""

    id: str  # e.g. "mem/table1/mnist-gain-k1" (unique, lowercase, no spaces)
    paper: str  # "mem" | "evae" (any short key)
    section: str  # "Sec. 5.1, Table 1"
    statement: str  # the claim as the paper states it
    verdict: str  # one of VERDICTS
    ours: float | None  # the statistic (mean over seeds)
    uncertainty: float | None
    threshold: float | None  # what it was judged against
    paper_value: float | str | None
    unit: str
    reason: str  # one line, why this verdict (numbers included)
    n_seeds: int = 1

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"claim {self.id!r}: verdict {self.verdict!r} is not one of {list(VERDICTS)}")
        if not isinstance(self.id, str) or not ID_PATTERN.fullmatch(self.id):
            raise ValueError(f"claim id {self.id!r}: use lowercase letters, digits and ._/+=- (no spaces), "
                             "e.g. 'mem/table1/mnist-gain-k1'")
        if isinstance(self.n_seeds, bool) or not isinstance(self.n_seeds, int) or self.n_seeds < 0:
            raise ValueError(f"claim {self.id!r}: n_seeds should be a count (0 or more), got {self.n_seeds!r}")
        for key in ("ours", "uncertainty", "threshold", "paper_value"):
            value = getattr(self, key)
            if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
                object.__setattr__(self, key, value.item())

    def to_json(self) -> dict:
        """The claim as stored: floats rounded to 4 decimals, NaN as null (JSON has no NaN)."""
        return {k: (round(v, 4) if math.isfinite(v) else None) if isinstance(v, float) else v
                for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, d) -> Claim:
        """A stored claim back; a ValueError naming the bad key or value."""
        if not isinstance(d, dict):
            raise ValueError(f"a claim should be a JSON object, got {type(d).__name__}")
        known = {f.name: f for f in fields(cls)}
        if unknown := sorted(set(d) - set(known)):
            raise ValueError(f"unknown claim key {unknown[0]!r}; a claim has {sorted(known)}")
        for name, f in known.items():
            if name not in d and f.default is MISSING:  # no default: required
                raise ValueError(f"missing claim key {name!r}")
        for key in ("id", "paper", "section", "statement", "verdict", "unit", "reason"):
            if not isinstance(d[key], str):
                raise ValueError(f"claim key {key!r} should be a string, got {d[key]!r}")
        for key in ("ours", "uncertainty", "threshold", "paper_value"):
            value = d[key]
            if value is not None and not (isinstance(value, (int, float)) and not isinstance(value, bool)) \
                    and not (key == "paper_value" and isinstance(value, str)):
                raise ValueError(f"claim key {key!r} should be a number or null, got {value!r}")
        return cls(**d)


def _sign(x: float) -> str:
    text = f"{x:+.2f}"
    return "+0.00" if text == "-0.00" else text  # no "-0.00"


def _check_z(z: float) -> None:
    if not z > 0:
        raise ValueError(f"z is {z}: pass how many uncertainties count as beyond the noise (above 0; 2 is usual)")


def _where(kw: dict, verdict: str, reason: str, ours=None, uncertainty=None, threshold=None, **extra) -> Claim:
    return Claim(verdict=verdict, ours=ours, uncertainty=uncertainty, threshold=threshold, reason=reason,
                 **{**kw, **extra})


def exceeds(est: Estimate, *, id: str, paper: str, section: str, statement: str, paper_effect: float | None,
            z: float = 2.0, unit: str = "", paper_value: float | str | None = None) -> Claim:
    """'The statistic is > 0' (MEM minus baseline, say), judged against z times its uncertainty.

    Within the noise it is 'not measurable at this budget' when the effect the paper reports is no
    larger than our noise (this budget could not resolve it), else 'does not show'.
    """
    _check_z(z)
    if paper_effect is not None:
        paper_effect = _finite("paper_effect", paper_effect)
    kw = dict(id=id, paper=paper, section=section, statement=statement, unit=unit, n_seeds=est.n_seeds,
              paper_value=paper_effect if paper_value is None else paper_value)
    t = z * est.uncertainty
    m, nums = est.mean, dict(ours=est.mean, uncertainty=est.uncertainty, threshold=t)
    if m > t:
        return _where(kw, "shows", f"{_sign(m)} > {t:.2f} ({z:g} x uncertainty {est.uncertainty:.2f})", **nums)
    if m < -t:
        return _where(kw, "does not show", f"reversed: {_sign(m)} < -{t:.2f}, beyond the noise", **nums)
    within = f"{_sign(m)} is within {t:.2f} of 0"
    if paper_effect is not None and abs(paper_effect) <= t:
        return _where(kw, "not measurable at this budget", f"{within}, and the paper's effect "
                      f"{_sign(paper_effect)} is no larger than our noise: this budget cannot resolve it", **nums)
    tail = f", though the paper's {_sign(paper_effect)} would have shown" if paper_effect is not None else ""
    return _where(kw, "does not show", within + tail, **nums)


def near(est: Estimate, *, id: str, paper: str, section: str, statement: str, target: float, tolerance: float,
         z: float = 2.0, unit: str = "", paper_value: float | str | None = None) -> Claim:
    """'About `target`' (about 30 active units, a parameter count): within max(tolerance, z x
    uncertainty) shows, within twice that partly, further does not show."""
    _check_z(z)
    if not tolerance >= 0:
        raise ValueError(f"tolerance is {tolerance}: pass how far from {target} still counts as 'about' (0 or more)")
    kw = dict(id=id, paper=paper, section=section, statement=statement, unit=unit, n_seeds=est.n_seeds,
              paper_value=target if paper_value is None else paper_value)
    t = max(tolerance, z * est.uncertainty)
    gap = abs(est.mean - target)
    verdict = "shows" if gap <= t else "partly" if gap <= 2 * t else "does not show"
    rel = "<=" if gap <= t else "<= 2 x" if gap <= 2 * t else "> 2 x"
    return _where(kw, verdict, f"|{est.mean:.2f} - {target:.2f}| = {gap:.2f} {rel} {t:.2f}",
                  ours=est.mean, uncertainty=est.uncertainty, threshold=t)


def above(est: Estimate, bound: float, *, id: str, paper: str, section: str, statement: str, z: float = 2.0,
          unit: str = "", paper_value: float | str | None = None) -> Claim:
    """'The statistic is above `bound`' (a bound of ours, not the paper's effect): shows beyond z
    uncertainties above it, does not show beyond them below it; within them the budget cannot tell."""
    _check_z(z)
    t = z * est.uncertainty
    gap = est.mean - bound
    verdict, rel = (("shows", ">") if gap > t else ("does not show", "<") if gap < -t
                    else ("not measurable at this budget", "is within"))
    reason = (f"{est.mean:.3f} {rel} {bound:g} {'+' if gap > 0 else '-'} {t:.3f}" if rel != "is within"
              else f"{est.mean:.3f} is within {t:.3f} of the bound {bound:g}: the noise straddles it")
    return Claim(id=id, paper=paper, section=section, statement=statement, verdict=verdict, ours=est.mean,
                 uncertainty=est.uncertainty, threshold=bound, paper_value=paper_value, unit=unit, reason=reason,
                 n_seeds=est.n_seeds)


def no_effect(est: Estimate, margin: float, *, id: str, paper: str, section: str, statement: str,
              paper_value: float, z: float = 2.0, unit: str = "", margin_note: str = "") -> Claim:
    """'Adding X changes nothing' (`est` is with X minus without): shows when the difference is within
    the noise AND the noise is below `margin`, else no effect and an effect of `margin` look alike
    (not measurable); a gain beyond the noise does not show; a loss beyond it partly shows (X still
    does not help, but it does something where the paper reports `paper_value`). `margin_note` says
    in the reason where the margin comes from."""
    _check_z(z)
    t = z * est.uncertainty
    kw = dict(id=id, paper=paper, section=section, statement=statement, ours=est.mean, uncertainty=est.uncertainty,
              threshold=t, paper_value=paper_value, unit=unit, n_seeds=est.n_seeds)
    m = est.mean
    if m > t:
        return Claim(verdict="does not show", reason=f"a gain {m:+.2f} > {t:.2f}, beyond the noise", **kw)
    if m < -t:
        return Claim(verdict="partly", reason=f"a loss {m:+.2f} < -{t:.2f}: no gain, but an effect where the "
                     f"paper has {paper_value:+.2f}", **kw)
    if t > margin:
        return Claim(verdict="not measurable at this budget", reason=f"{m:+.2f} is within {t:.2f} of 0, but so "
                     f"would be an effect of {margin:.2f}" + (f" ({margin_note})" if margin_note else ""), **kw)
    return Claim(verdict="shows", reason=f"{m:+.2f} is within {t:.2f} of 0, below the {margin:.2f} margin", **kw)


def not_below(est: Estimate, *, id: str, paper: str, section: str, statement: str, z: float = 2.0,
              unit: str = "", paper_value: float | str | None = None) -> Claim:
    """'Comparable or better' (`est` is ours minus the rival): shows unless below 0 beyond z uncertainties."""
    _check_z(z)
    t = z * est.uncertainty
    return holds(bool(est.mean >= -t), id=id, paper=paper, section=section, statement=statement, ours=est.mean,
                 threshold=t, n_seeds=est.n_seeds, unit=unit, paper_value=paper_value, reason=(
                     f"{est.mean:+.2f} >= -{t:.2f}: not below beyond the noise" if est.mean >= -t else
                     f"{est.mean:+.2f} < -{t:.2f}: below beyond the noise"))


def holds(value: bool, *, id: str, paper: str, section: str, statement: str, ours: float | None, reason: str,
          threshold: float | None = None, unit: str = "", paper_value: float | str | None = None,
          n_seeds: int = 1) -> Claim:
    """A yes/no that float noise cannot flip (an integer count against a definite bound)."""
    value = value.item() if hasattr(value, "item") else value
    if not isinstance(value, bool):
        raise ValueError(f"holds() takes a bool, got {value!r}: compare the count with its bound first")
    return Claim(id=id, paper=paper, section=section, statement=statement, verdict="shows" if value else
                 "does not show", ours=ours, uncertainty=None, threshold=threshold, paper_value=paper_value,
                 unit=unit, reason=reason, n_seeds=n_seeds)


def not_measurable(*, id: str, paper: str, section: str, statement: str, reason: str, unit: str = "",
                   paper_value: float | str | None = None, n_seeds: int = 0) -> Claim:
    """The budget does not contain what the claim needs (a grid cell or a model this profile skips)."""
    return Claim(id=id, paper=paper, section=section, statement=statement, verdict="not measurable at this budget",
                 ours=None, uncertainty=None, threshold=None, paper_value=paper_value, unit=unit, reason=reason,
                 n_seeds=n_seeds)


SHORT = {"shows": "shows", "partly": "partly", "does not show": "no", "not measurable at this budget": "n/m"}


def combine(parts: Sequence[Claim], *, id: str, paper: str, section: str, statement: str,
            labels: Sequence[str] | None = None, ours: float | None = None, uncertainty: float | None = None,
            threshold: float | None = None, unit: str = "", paper_value: float | str | None = None,
            n_seeds: int | None = None) -> Claim:
    """A claim made of parts (three gains, an ordering): all show -> shows; all not measurable -> not
    measurable; some show (or partly show) -> partly; none -> does not show. `labels` name the parts
    in the reason (default: the last segment of each part's id)."""
    parts = list(parts)
    if not parts:
        raise ValueError(f"combine({id!r}) got no parts: pass the claims it is made of")
    labels = list(labels) if labels is not None else [p.id.rsplit("/", 1)[-1] for p in parts]
    if len(labels) != len(parts):
        raise ValueError(f"combine({id!r}): {len(labels)} labels for {len(parts)} parts")
    verdicts = [p.verdict for p in parts]
    n = {v: verdicts.count(v) for v in VERDICTS}
    if n["shows"] == len(parts):
        verdict = "shows"
    elif n["not measurable at this budget"] == len(parts):
        verdict = "not measurable at this budget"
    else:
        verdict = "partly" if n["shows"] or n["partly"] else "does not show"
    head = f"{n['shows']} of {len(parts)} parts show" + "".join(
        f", {n[v]} {v.split(' at ')[0]}" for v in ("partly", "not measurable at this budget") if n[v])
    items = [f"{label} {_sign(p.ours)} vs {p.threshold:.2f}: {SHORT[p.verdict]}"
             if p.ours is not None and p.threshold is not None else f"{label}: {SHORT[p.verdict]}"
             for label, p in zip(labels, parts)]
    reason = textwrap.shorten(f"{head}: " + "; ".join(items), REASON_CHARS, placeholder=" ...")
    return Claim(id=id, paper=paper, section=section, statement=statement, verdict=verdict, ours=ours,
                 uncertainty=uncertainty, threshold=threshold, paper_value=paper_value, unit=unit, reason=reason,
                 n_seeds=max(p.n_seeds for p in parts) if n_seeds is None else n_seeds)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9._+=-]+", "-", name.lower()).strip("-") or "x"


def ordering(estimates: Mapping[str, Estimate], order: Sequence[str], *, id: str, paper: str, section: str,
             statement: str, paper_values: Mapping[str, float] | None = None, z: float = 2.0, unit: str = "",
             paper_value: float | str | None = None) -> Claim:
    """'order[0] > order[1] > ...': `exceeds` on each adjacent difference, then `combine`. A lower-is-better
    ordering passes negated estimates. `paper_values` (the paper's numbers by name) give each step the
    paper's effect, so a step smaller than our noise is 'not measurable' rather than 'does not show'."""
    order = list(order)
    if len(order) < 2 or len(set(order)) != len(order):
        raise ValueError(f"ordering({id!r}): order {order} needs two or more distinct names")
    if missing := [k for k in order if k not in estimates]:
        raise ValueError(f"ordering({id!r}): no estimate for {missing[0]!r}; estimates has {sorted(estimates)}")
    paper_values = paper_values or {}
    parts = []
    for a, b in zip(order, order[1:]):
        effect = paper_values[a] - paper_values[b] if a in paper_values and b in paper_values else None
        parts.append(exceeds(difference(estimates[a], estimates[b]), id=f"{id}/{_slug(a)}-gt-{_slug(b)}",
                             paper=paper, section=section, statement=f"{a} > {b}", paper_effect=effect, z=z,
                             unit=unit))
    return combine(parts, id=id, paper=paper, section=section, statement=statement, unit=unit,
                   labels=[f"{a}>{b}" for a, b in zip(order, order[1:])], paper_value=paper_value,
                   n_seeds=min(estimates[k].n_seeds for k in order))  # the weakest link


def _as_claim(c) -> Claim:
    return c if isinstance(c, Claim) else Claim.from_json(c)


def count_verdicts(claims) -> dict[str, int]:
    """{verdict: how many}, every verdict present, in VERDICTS order."""
    verdicts = [_as_claim(c).verdict for c in claims]
    return {v: verdicts.count(v) for v in VERDICTS}


def format_verdicts(claims) -> str:
    """Plain text for a notebook to print (nbval compares it: deterministic, 2 decimals, wrapped at
    word boundaries at 100 columns):

        [shows] Sec. 5.1, Table 1: MEM-VAE beats VAE on MNIST (k=1)
            ours +0.88 +- 0.09 nats (3 seeds), threshold 0.18, paper +1.26: +0.88 > 0.18 (...)
    """
    wrap = dict(width=WIDTH, subsequent_indent="    ", break_long_words=False, break_on_hyphens=False)
    lines = []
    for c in map(_as_claim, claims):
        lines += textwrap.wrap(f"[{c.verdict}] {c.section}: {c.statement}", **wrap)
        facts = []
        if c.ours is not None:
            seeds = f"{c.n_seeds} seed{'s' if c.n_seeds != 1 else ''}"
            spread = f" +- {c.uncertainty:.2f}" if c.uncertainty is not None else ""
            facts.append(f"ours {_sign(c.ours)}{spread}{' ' + c.unit if c.unit else ''} ({seeds})")
        if c.threshold is not None:
            facts.append(f"threshold {c.threshold:.2f}")
        if c.paper_value is not None:
            value = c.paper_value
            facts.append(f"paper {_sign(value) if isinstance(value, (int, float)) else value}")
        detail = ", ".join(facts) + ": " + c.reason if facts else c.reason
        lines += textwrap.wrap(detail, initial_indent="    ", **wrap)
    return "\n".join(lines) if lines else "no claims judged"
