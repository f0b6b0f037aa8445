"""Notebook parameter checks: every rule refuses what it should, by name, before anything trains."""

import math

import pytest

from memvae_lib.parameters import Bool, Int, ListOf, OneOf, Optional, ParameterError, Real, check_parameters

COMMON = {"profile": "smoke", "device": "cpu", "seed": 0, "interactive": False}


def check(**knobs_and_rules):
    values = {k: v for k, (v, _) in knobs_and_rules.items()}
    rules = {k: r for k, (_, r) in knobs_and_rules.items()}
    check_parameters({**COMMON, **values}, **rules)


@pytest.mark.parametrize("value", [-3, 0, "64", 64.0, True, None])
def test_int_refuses_what_is_not_an_int_in_range(value):
    with pytest.raises(ParameterError, match=r"n_samples=.*expected an int >= 1.*parameters cell"):
        check(n_samples=(value, Int(1)))


def test_int_accepts_its_bounds():
    check(n=(1, Int(1, 3)), m=(3, Int(1, 3)))
    with pytest.raises(ParameterError, match=r"in \[1, 3\]"):
        check(n=(4, Int(1, 3)))


@pytest.mark.parametrize("value", [0, -0.5, math.nan, math.inf, "0.02", False])
def test_positive_real_refuses_zero_negative_nonfinite_and_strings(value):
    with pytest.raises(ParameterError, match="threshold="):
        check(threshold=(value, Real(positive=True)))


def test_real_range_and_int_values():
    check(share=(0, Real(0, 1)), other=(1, Real(0, 1)), lam=(2, Real(positive=True)))
    with pytest.raises(ParameterError, match=r"in \[0, 1\]"):
        check(share=(1.5, Real(0, 1)))


def test_one_of_matches_numbers_by_value_but_not_bools_or_strings():
    rule = OneOf(1.0, 0.5)
    assert rule.ok(1) and rule.ok(0.5)
    assert not rule.ok(True) and not rule.ok("1.0") and not rule.ok(0.2)
    assert OneOf("ones", "zeros").ok("ones") and not OneOf("ones", "zeros").ok("one")


def test_list_of_refuses_empty_lists_repeats_and_bad_items():
    rule = ListOf(OneOf("mnist", "ocr_letters"))
    assert rule.ok(["mnist"]) and rule.ok(("mnist", "ocr_letters"))
    for bad in ([], ["mnist", "mnist"], ["mnst"], "mnist"):
        assert not rule.ok(bad), bad
    assert Optional(ListOf(Int(0))).ok(None) and not Optional(ListOf(Int(0))).ok([-1])


@pytest.mark.parametrize("knob,value,expected", [
    ("profile", "nonsense", "one of 'laptop', 'paper', 'smoke'"),
    ("seed", -1, "an int >= 0"),
    ("interactive", "yes", "True or False"),
    ("device", "gpu", "'auto', 'cpu'"),
])
def test_the_common_knobs_are_always_checked(knob, value, expected):
    with pytest.raises(ParameterError, match=f"{knob}=.*{expected}"):
        check_parameters({**COMMON, knob: value})


def test_cuda_without_a_gpu_is_refused(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ParameterError, match="device='cuda'.*needs a GPU"):
        check_parameters({**COMMON, "device": "cuda"})


def test_a_missing_knob_is_named():
    with pytest.raises(ParameterError, match="'n_show' is not set"):
        check_parameters(dict(COMMON), n_show=Int(1))
    assert Bool().ok(True) and not Bool().ok(1)
