"""Exact decimal parsing: on-grid values round-trip, off-grid values are errors, never floats."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paraphina.decimals import DecimalError, Grid, decimals_of, parse, step_for_decimals


@pytest.mark.parametrize("step,text,units", [
    ("0.1", "61800.20", 618002), ("0.1", "0", 0), ("0.1", "0.000", 0), ("0.01", "61837.63000000", 6183763),
    ("0.000001", "25.42618900", 25426189), ("0.5", "6421.5", 12843), ("10", "18640", 1864),
    ("1", "1e3", 1000), ("0.00001", "1E-5", 1), ("0.1", ".5", 5), ("0.1", "-1.2", -12),
])
def test_units(step, text, units):
    assert Grid(step).units(text) == units


@pytest.mark.parametrize("step,text,msg", [
    ("0.1", "61800.25", "not a multiple of 0.1"), ("0.5", "6421.2", "not a multiple of 0.5"),
    ("0.1", "", "not a decimal"), ("0.1", "nan", "not a decimal"), ("0.1", "1,5", "not a decimal"),
    ("0.1", "１", "not a decimal"), ("0.1", "1.0\n", "not a decimal"), ("0.1", "0x10", "not a decimal"),
])
def test_rejects(step, text, msg):
    with pytest.raises(DecimalError, match=msg):
        Grid(step).units(text)


def test_a_float_path_would_be_wrong_here():
    # float("0.3") / 0.1 == 2.9999999999999996: truncation would give 2 ticks.
    assert int(float("0.3") / 0.1) == 2
    assert Grid("0.1").units("0.3") == 3


def test_helpers():
    assert parse("61800.20") == (6180020, -2)
    assert decimals_of("61800.20") == 1 and decimals_of("100") == 0
    assert step_for_decimals(3) == "0.001" and step_for_decimals(0) == "1"
    assert Grid("0.1").to_string(618002) == "61800.2" and Grid("0.5").to_string(3) == "1.5"
    assert Grid("0.00000001").round_fraction(Fraction(1, 3 * 10**8)) == 0
    with pytest.raises(DecimalError):
        Grid("0")


@given(st.integers(-10**15, 10**15), st.sampled_from(["1", "0.1", "0.01", "0.000001", "0.5", "0.25", "10", "5"]),
       st.integers(0, 4))
def test_round_trip_and_padding(n, step, pad):
    g = Grid(step)
    s = g.to_string(n)
    if pad and "." in s:
        s += "0" * pad  # venues pad with zeros ("61800.20")
    assert g.units(s) == n
    assert Decimal(s) == Decimal(n) * Decimal(step)


@given(st.integers(-10**12, 10**12), st.sampled_from(["0.1", "0.01", "0.5", "10"]))
def test_off_grid_always_rejected(n, step):
    g = Grid(step)
    off = Decimal(n) * Decimal(step) + Decimal(step) / 3 if step != "10" else Decimal(n) * 10 + 1
    text = format(off.quantize(Decimal("0.0001")), "f")
    if Decimal(text) % Decimal(step) == 0:
        return
    with pytest.raises(DecimalError):
        g.units(text)
