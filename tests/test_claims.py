import json
import math

import pytest

from memvae_lib.claims import (VERDICTS, Claim, Estimate, above, combine, count_verdicts, difference, estimate,
                               exceeds, format_verdicts, holds, near, no_effect, not_below, not_measurable, ordering)

WHO = dict(paper="mem", section="Sec. 5.1, Table 1")


def _est(mean: float, uncertainty: float, n_seeds: int = 3) -> Estimate:
    return Estimate(mean, uncertainty, n_seeds, None, 0.0, 0.0)


def _gain(mean, uncertainty=0.1, paper_effect=1.26, **kw):
    return exceeds(_est(mean, uncertainty), id="mem/table1/mnist-gain-k1", statement="MEM-VAE beats VAE",
                   paper_effect=paper_effect, unit="nats", **WHO, **kw)


# ------------------------------------------------------------------------------------------------
# estimate

def test_estimate_in_closed_form():
    e = estimate([1.0, 3.0], test_se=0.5, floor=0.0)
    assert e.mean == 2.0 and e.n_seeds == 2 and e.seed_sd == pytest.approx(math.sqrt(2))
    assert e.uncertainty == pytest.approx(math.sqrt(2 / 2 + 0.25)) and e.test_se == 0.5 and e.floor == 0.0


def test_per_seed_test_errors_enter_as_their_root_mean_square_and_do_not_average_down():
    e = estimate([1.0, 1.0, 1.0, 1.0], test_se=[0.3, 0.4, 0.3, 0.4], floor=0.0)
    assert e.seed_sd == 0.0 and e.test_se == pytest.approx(math.sqrt(0.125))
    assert e.uncertainty == pytest.approx(math.sqrt(0.125))  # four seeds, the shared test SE stays whole


def test_the_floor_takes_over_when_the_seeds_cannot_show_the_spread():
    one = estimate(5.0, test_se=0.3, floor=0.4)
    assert one.n_seeds == 1 and one.seed_sd is None and one.uncertainty == pytest.approx(0.5)
    lucky = estimate([5.0, 5.01], floor=0.4)  # two seeds that agree by luck
    assert lucky.uncertainty == pytest.approx(0.4 / math.sqrt(2))
    wide = estimate([4.0, 6.0], floor=0.4)  # a measured spread above the floor wins
    assert wide.uncertainty == pytest.approx(math.sqrt(2) / math.sqrt(2))


def test_estimate_accepts_numpy_values():
    np = pytest.importorskip("numpy")
    e = estimate(np.array([1.0, 3.0]), test_se=np.float32(0.5), floor=np.float64(0.0))
    assert e.mean == 2.0 and isinstance(e.mean, float)
    assert estimate(np.float64(2.5)).mean == 2.5 and estimate(np.array(2.5)).n_seeds == 1


@pytest.mark.parametrize("call, message", [
    (lambda: estimate([]), "per_seed is empty: pass one value per training seed"),
    (lambda: estimate([1.0, float("nan")]), r"per_seed\[1\] is nan"),
    (lambda: estimate(float("inf")), "per_seed is inf"),
    (lambda: estimate([1.0], test_se=-0.1), "test_se is -0.1, below 0"),
    (lambda: estimate([1.0], floor=-1), "floor is -1.0, below 0"),
    (lambda: estimate([1.0, 2.0, 3.0], test_se=[0.1, 0.1]), "test_se has 2 values for 3 seeds"),
    (lambda: estimate(["1.0"]), "per_seed should be a number, got '1.0'"),
])
def test_estimate_refuses_what_it_cannot_average(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_difference_adds_uncertainties_in_quadrature_and_negation_flips_the_mean():
    d = difference(_est(2.0, 0.3, 3), _est(1.5, 0.4, 2))
    assert d.mean == 0.5 and d.uncertainty == pytest.approx(0.5) and d.n_seeds == 2 and d.seed_sd is None
    assert _est(2.0, 0.3).negated() == _est(-2.0, 0.3)


# ------------------------------------------------------------------------------------------------
# exceeds, near, holds, not_measurable

def test_exceeds_shows_only_strictly_beyond_the_threshold():
    shows = _gain(0.21)
    assert shows.verdict == "shows" and shows.threshold == pytest.approx(0.2) and shows.n_seeds == 3
    assert shows.reason == "+0.21 > 0.20 (2 x uncertainty 0.10)" and shows.paper_value == 1.26
    at = _gain(0.2)  # exactly at the threshold: within the noise, and the paper's 1.26 would have shown
    assert at.verdict == "does not show" and "within 0.20 of 0, though the paper's +1.26 would have shown" in at.reason


def test_exceeds_reversed_beyond_the_noise_does_not_show():
    claim = _gain(-0.5)
    assert claim.verdict == "does not show" and claim.reason.startswith("reversed: -0.50 < -0.20")
    assert _gain(-0.2).verdict == "does not show" and "within" in _gain(-0.2).reason


def test_exceeds_within_noise_is_not_measurable_when_the_papers_effect_is_no_larger_than_the_noise():
    claim = _gain(0.05, uncertainty=0.3, paper_effect=0.6)  # threshold 0.6: the paper's effect exactly at it
    assert claim.verdict == "not measurable at this budget" and "cannot resolve" in claim.reason
    assert _gain(0.05, uncertainty=0.3, paper_effect=-0.6).verdict == "not measurable at this budget"
    resolvable = _gain(0.05, uncertainty=0.3, paper_effect=0.61)  # the paper's effect would have shown
    assert resolvable.verdict == "does not show"
    assert _gain(0.05, uncertainty=0.3, paper_effect=None).verdict == "does not show"
    assert _gain(0.05, uncertainty=0.3, paper_effect=None).paper_value is None
    assert _gain(0.7, uncertainty=0.3, paper_effect=0.1).verdict == "shows"  # beyond the noise it shows anyway


def test_exceeds_z_sets_the_threshold_and_must_be_positive():
    assert _gain(0.25, z=3.0).verdict == "does not show" and _gain(0.31, z=3.0).verdict == "shows"
    with pytest.raises(ValueError, match="z is 0"):
        _gain(0.25, z=0)


@pytest.mark.parametrize("mean, verdict", [
    (35.0, "shows"), (25.0, "shows"), (35.01, "partly"), (40.0, "partly"), (40.01, "does not show"),
    (20.0, "partly"), (19.0, "does not show")])
def test_near_bands_at_their_boundaries(mean, verdict):
    claim = near(_est(mean, 1.0), id="evae/fig1/active-units", statement="about 30 active units", target=30,
                 tolerance=5.0, unit="units", **WHO)
    assert claim.verdict == verdict and claim.threshold == 5.0 and claim.paper_value == 30


def test_near_widens_to_the_noise_when_it_exceeds_the_tolerance():
    claim = near(_est(33.0, 2.0), id="evae/x", statement="s", target=30, tolerance=1.0, **WHO)
    assert claim.threshold == 4.0 and claim.verdict == "shows" and claim.reason == "|33.00 - 30.00| = 3.00 <= 4.00"
    with pytest.raises(ValueError, match="tolerance is -1"):
        near(_est(33.0, 2.0), id="evae/x", statement="s", target=30, tolerance=-1, **WHO)


@pytest.mark.parametrize("mean, verdict", [
    (10.21, "shows"), (10.2, "not measurable at this budget"), (9.8, "not measurable at this budget"),
    (9.79, "does not show")])
def test_above_judges_against_the_bound_plus_or_minus_z_uncertainties(mean, verdict):
    claim = above(_est(mean, 0.1), 10.0, id="mem/fig6/details-lost", statement="s", unit="%", **WHO)
    assert claim.verdict == verdict and claim.threshold == 10.0 and claim.uncertainty == 0.1
    assert above(_est(10.25, 0.1), 10.0, id="x", statement="s", z=3.0, **WHO).verdict == "not measurable at this budget"


@pytest.mark.parametrize("mean, uncertainty, verdict", [
    (0.05, 0.1, "shows"),                            # within 0.2 of 0, and 0.2 < the 0.5 margin
    (0.05, 0.3, "not measurable at this budget"),   # within 0.6 of 0, but so would be an effect of 0.5
    (0.25, 0.1, "does not show"),                    # a gain beyond the noise
    (-0.25, 0.1, "partly")])                         # a loss: no gain, but an effect
def test_no_effect_needs_a_noise_below_the_margin(mean, uncertainty, verdict):
    claim = no_effect(_est(mean, uncertainty), 0.5, id="mem/sec52/x", statement="s", paper_value=-0.01,
                      unit="nats", margin_note="half the gain", **WHO)
    assert claim.verdict == verdict and claim.threshold == pytest.approx(2 * uncertainty)
    if verdict == "not measurable at this budget":
        assert claim.reason.endswith("an effect of 0.50 (half the gain)")


def test_not_below_tolerates_a_deficit_within_the_noise_only():
    kw = dict(id="evae/t4/x", statement="s", unit="nats", **WHO)
    assert not_below(_est(-0.19, 0.1), **kw).verdict == "shows"
    below = not_below(_est(-0.21, 0.1), **kw)
    assert below.verdict == "does not show" and below.reason == "-0.21 < -0.20: below beyond the noise"
    with pytest.raises(ValueError, match="z is -1"):
        not_below(_est(0.0, 0.1), z=-1, **kw)


def test_holds_and_not_measurable():
    np = pytest.importorskip("numpy")
    yes = holds(np.bool_(True), id="evae/t1/params", statement="s", ours=12, reason="12 <= 20 units", **WHO)
    assert yes.verdict == "shows" and yes.ours == 12 and yes.uncertainty is None
    assert holds(False, id="evae/t1/params", statement="s", ours=25, reason="25 > 20", **WHO).verdict == "does not show"
    with pytest.raises(ValueError, match="holds\\(\\) takes a bool, got 3"):
        holds(3, id="evae/t1/params", statement="s", ours=3, reason="r", **WHO)
    skipped = not_measurable(id="mem/t2/cell", statement="s", reason="cell not trained at laptop", **WHO)
    assert skipped.verdict == "not measurable at this budget" and skipped.ours is None and skipped.n_seeds == 0


# ------------------------------------------------------------------------------------------------
# combine and ordering

def _parts(*verdicts):
    make = {"shows": lambda i: _gain(0.9), "does not show": lambda i: _gain(0.0),
            "not measurable at this budget": lambda i: _gain(0.0, uncertainty=1.0),
            "partly": lambda i: near(_est(37.0, 1.0), id="evae/x", statement="s", target=30, tolerance=5, **WHO)}
    return [make[v](i) for i, v in enumerate(verdicts)]


@pytest.mark.parametrize("verdicts, combined", [
    (["shows", "shows", "shows"], "shows"),
    (["not measurable at this budget"] * 2, "not measurable at this budget"),
    (["shows", "does not show", "shows"], "partly"),
    (["shows", "not measurable at this budget"], "partly"),
    (["does not show", "not measurable at this budget"], "does not show"),
    (["does not show", "does not show"], "does not show"),
    (["partly", "does not show"], "partly"),  # a part that partly shows is some showing
])
def test_combine_rules(verdicts, combined):
    assert combine(_parts(*verdicts), id="mem/table1/gains", statement="s", **WHO).verdict == combined


def test_combine_reason_counts_the_parts_in_one_short_line():
    claim = combine(_parts("shows", "does not show", "shows"), id="mem/table1/gains", statement="s",
                    labels=["k=1", "k=2", "k=3"], **WHO)
    assert claim.reason == ("2 of 3 parts show: k=1 +0.90 vs 0.20: shows; k=2 +0.00 vs 0.20: no; "
                            "k=3 +0.90 vs 0.20: shows")
    assert claim.ours is None and claim.n_seeds == 3
    many = combine(_parts(*["shows"] * 12), id="mem/table1/gains", statement="s", **WHO)
    assert len(many.reason) <= 160 and many.reason.endswith(" ...") and "\n" not in many.reason
    assert many.reason.startswith("12 of 12 parts show: mnist-gain-k1 +0.90")  # default label: the id's tail
    with pytest.raises(ValueError, match="got no parts"):
        combine([], id="mem/x", statement="s", **WHO)
    with pytest.raises(ValueError, match="2 labels for 3 parts"):
        combine(_parts("shows", "shows", "shows"), id="mem/x", statement="s", labels=["a", "b"], **WHO)


def test_ordering_judges_adjacent_differences():
    ests = {"MEM-VAE": _est(-84.0, 0.1, 3), "VAE": _est(-85.0, 0.1, 2), "IWAE": _est(-85.1, 0.1, 3)}
    claim = ordering(ests, ["MEM-VAE", "VAE", "IWAE"], id="mem/table1/order", statement="MEM-VAE > VAE > IWAE",
                     paper_values={"MEM-VAE": -84.4, "VAE": -85.7, "IWAE": -86.0}, **WHO)
    # each step's uncertainty is sqrt(0.1^2 + 0.1^2): threshold 2 x 0.141 = 0.28; the paper's second step
    # (0.3) is just beyond it, so the 0.1 we see there does not show
    assert claim.verdict == "partly" and claim.n_seeds == 2
    assert claim.reason == "1 of 2 parts show: MEM-VAE>VAE +1.00 vs 0.28: shows; VAE>IWAE +0.10 vs 0.28: no"
    small = ordering(ests, ["MEM-VAE", "VAE", "IWAE"], id="mem/table1/order", statement="s",
                     paper_values={"MEM-VAE": -84.4, "VAE": -85.7, "IWAE": -85.9}, **WHO)
    assert small.reason.endswith("VAE>IWAE +0.10 vs 0.28: n/m")  # the paper's 0.2 step is under our noise
    lower_is_better = {k: e.negated() for k, e in ests.items()}
    assert ordering(lower_is_better, ["IWAE", "VAE", "MEM-VAE"], id="mem/x", statement="s", **WHO).verdict == "partly"
    with pytest.raises(ValueError, match="no estimate for 'IWAE'"):
        ordering({"VAE": ests["VAE"]}, ["VAE", "IWAE"], id="mem/x", statement="s", **WHO)
    with pytest.raises(ValueError, match="two or more distinct names"):
        ordering(ests, ["VAE", "VAE"], id="mem/x", statement="s", **WHO)


# ------------------------------------------------------------------------------------------------
# Claim, its JSON, and the printed verdicts

def test_claim_json_round_trip_rounds_and_drops_nan():
    claim = _gain(0.923456789)
    data = json.loads(json.dumps(claim.to_json()))
    assert data["ours"] == 0.9235 and data["verdict"] == "shows" and list(data)[0] == "id"
    assert Claim.from_json(data).to_json() == data
    assert Claim(**{**claim.to_json(), "ours": float("nan")}).to_json()["ours"] is None


@pytest.mark.parametrize("change, message", [
    ({"verdict": "maybe"}, r"verdict 'maybe' is not one of \['shows', 'partly'"),
    ({"id": "Mem table"}, "claim id 'Mem table': use lowercase"),
    ({"oops": 1}, "unknown claim key 'oops'"),
    ({"verdict": None}, "claim key 'verdict' should be a string"),
    ({"ours": "big"}, "claim key 'ours' should be a number or null, got 'big'"),
    ({"n_seeds": 1.5}, r"n_seeds should be a count \(0 or more\), got 1.5"),
])
def test_from_json_names_the_bad_key_or_value(change, message):
    with pytest.raises(ValueError, match=message):
        Claim.from_json({**_gain(0.9).to_json(), **change})


def test_from_json_names_a_missing_key():
    data = _gain(0.9).to_json()
    del data["reason"]
    with pytest.raises(ValueError, match="missing claim key 'reason'"):
        Claim.from_json(data)
    del data["n_seeds"]  # has a default: an older claim without it still loads
    assert Claim.from_json({**data, "reason": "r"}).n_seeds == 1


def test_format_verdicts_prints_each_claim_in_two_parts():
    text = format_verdicts([_gain(0.88, uncertainty=0.09), not_measurable(id="mem/t2/cell", statement="s",
                                                                        reason="not trained at laptop", **WHO)])
    assert text.splitlines() == [
        "[shows] Sec. 5.1, Table 1: MEM-VAE beats VAE",
        "    ours +0.88 +- 0.09 nats (3 seeds), threshold 0.18, paper +1.26: +0.88 > 0.18 (2 x uncertainty",
        "    0.09)",
        "[not measurable at this budget] Sec. 5.1, Table 1: s",
        "    not trained at laptop"]
    assert format_verdicts([]) == "no claims judged"
    one_seed = format_verdicts([exceeds(estimate(0.5, 0.1), id="mem/x", statement="s", paper_effect=None, **WHO)])
    assert "(1 seed)," in one_seed and "paper" not in one_seed.splitlines()[1]


def test_format_verdicts_never_breaks_a_word_and_is_deterministic():
    long_word = "log-likelihood-gain-over-the-baseline"
    statement = " ".join([f"MEM-VAE's {long_word}"] * 6 + ["x" * 120])  # one word wider than the page
    claims = [exceeds(estimate([0.5, 0.7], 0.1, 0.2), id="mem/x", statement=statement, paper_effect=1.0, **WHO),
              combine(_parts(*["shows"] * 8), id="mem/y", statement=statement, **WHO)]
    text = format_verdicts(claims)
    assert text == format_verdicts([Claim.from_json(c.to_json()) for c in claims])
    tokens = text.split()
    assert tokens.count(long_word) == 12 and tokens.count("MEM-VAE's") == 12 and tokens.count("x" * 120) == 2
    assert " ".join(tokens).count(claims[1].reason) == 1  # the reason reads the same, only re-wrapped
    for line in text.splitlines():
        assert len(line) <= 100 or line.strip() == "x" * 120, line
        assert line.startswith("[") or line.startswith("    "), line


def test_count_verdicts_lists_every_verdict_in_order():
    counts = count_verdicts([_gain(0.9), _gain(0.9).to_json(), _gain(0.0)])
    assert list(counts) == list(VERDICTS) and counts == {"shows": 2, "partly": 0, "does not show": 1,
                                                         "not measurable at this budget": 0}
