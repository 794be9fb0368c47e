"""Policy.validate: every field is checked, and a number outside its range (NaN and infinity
included) is refused naming the field, the value and a fix."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner.policy import CHOICES, MULTI_CHOICES, RANGES, Policy
from pricing_data.errors import PlannerInputError

NOT_RANGED = {"integer", "terms_months"}  # a bool, and a tuple checked on its own


def test_every_policy_field_has_a_rule() -> None:
    checked = set(RANGES) | {n for n, *_ in CHOICES} | {n for n, _ in MULTI_CHOICES} | NOT_RANGED
    assert {f.name for f in dataclasses.fields(Policy)} <= checked


def test_the_defaults_are_valid() -> None:
    assert Policy().validate() == Policy()


@pytest.mark.parametrize("name", sorted(RANGES))
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, -1e9])
def test_a_non_finite_or_far_out_number_is_refused(name: str, bad: float) -> None:
    with pytest.raises(PlannerInputError) as e:
        dataclasses.replace(Policy(), **{name: bad}).validate()
    msg = str(e.value)
    assert name in msg and "To fix:" in msg


@given(v=st.floats(allow_nan=False, allow_infinity=False, min_value=-10, max_value=10))
def test_cvar_beta_is_accepted_exactly_inside_the_open_interval(v: float) -> None:
    policy = dataclasses.replace(Policy(), cvar_beta=v)
    if 0 < v < 1:
        assert policy.validate() is policy
    else:
        with pytest.raises(PlannerInputError, match="cvar_beta"):
            policy.validate()


@pytest.mark.parametrize(("name", "ok"), [("mip_gap", 0.0), ("min_utilization_tail", 1.0)])
def test_the_closed_ends_are_accepted(name: str, ok: float) -> None:
    dataclasses.replace(Policy(), **{name: ok}).validate()


@pytest.mark.parametrize(("name", "bad"), [("mip_gap", 1.0), ("min_utilization_tail", 0.0)])
def test_the_open_ends_are_refused(name: str, bad: float) -> None:
    with pytest.raises(PlannerInputError, match=name):
        dataclasses.replace(Policy(), **{name: bad}).validate()


def test_an_unset_optional_bound_is_valid_and_an_unknown_choice_names_the_options() -> None:
    Policy(cvar_limit_usd=None, min_utilization=None).validate()
    with pytest.raises(PlannerInputError, match="use highs or cbc"):
        Policy(solver="glpk").validate()
    with pytest.raises(PlannerInputError, match="unknown value 'azure'"):
        Policy(providers=("aws", "azure")).validate()
