"""Exact decimal strings to integer ticks and lots, never through binary floats.

Venues send prices and sizes as decimal strings (``"61800.20"``, ``"0.00100000"``). A float
parse of ``"0.1"`` is already wrong in the last bit, and dividing it by a tick size can land a
hair below an integer and truncate to the wrong level. :class:`Grid` works on the digits
instead: the value and the step are both scaled to integers of the same power of ten, and the
value must be an exact multiple of the step.

Rules (documented for every importer):

* A value not on the grid is an error (:class:`DecimalError`, naming the value and the step),
  unless the caller asks for rounding with :meth:`Grid.round_fraction`, which rounds half to
  even (used only where a conversion is inherently inexact: COIN-M contracts to base asset).
* Accepted syntax: optional sign, digits, optional ``.`` and digits (``"1."``, ``".5"`` too),
  optional exponent (``"1e-5"``, as some venues print small numbers). Anything else
  (``"nan"``, ``"inf"``, ``""``, ``"1,5"``) is an error.
"""

from __future__ import annotations

import re
from fractions import Fraction

_NUMBER = re.compile(r"^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$", re.ASCII)


class DecimalError(ValueError):
    """A decimal string that is malformed or not on its grid; ``str()`` is one line."""


def parse(text: str) -> tuple[int, int]:
    """``text`` as ``(mantissa, exponent)`` with value ``mantissa * 10**exponent``, exactly."""
    m = _NUMBER.fullmatch(text)
    if m is None or (not m.group(2) and not m.group(3)):
        raise DecimalError(f"not a decimal number: {text!r}")
    sign, whole, frac, exp = m.groups()
    frac = frac or ""
    mantissa = int((whole or "0") + frac)
    if sign == "-":
        mantissa = -mantissa
    return mantissa, (int(exp) if exp else 0) - len(frac)


def to_fraction(text: str) -> Fraction:
    mantissa, exp = parse(text)
    return Fraction(mantissa) * (Fraction(10) ** exp)


def decimals_of(text: str) -> int:
    """Digits after the point once trailing zeros are dropped (``"61800.20"`` -> 1)."""
    mantissa, exp = parse(text)
    if mantissa == 0:
        return 0
    while mantissa % 10 == 0:
        mantissa //= 10
        exp += 1
    return max(0, -exp)


def step_for_decimals(n: int) -> str:
    """The decimal string ``10**-n`` (``3`` -> ``"0.001"``, ``0`` -> ``"1"``)."""
    return "1" if n <= 0 else "0." + "0" * (n - 1) + "1"


class Grid:
    """Integer units of ``step`` (a tick size or lot size), parsed from decimal strings.

    ``Grid("0.1").units("61800.20") == 618002``; ``Grid("0.1").units("61800.25")`` raises.
    Fast path: when the value has no exponent, the digits are scaled with string padding and
    one ``int()``; the generic path uses :func:`parse`.
    """

    __slots__ = ("step", "_step_m", "_step_e", "_scale", "_unit_is_pow10", "_cache")

    def __init__(self, step: str) -> None:
        m, e = parse(step)
        if m <= 0:
            raise DecimalError(f"step must be positive: {step!r}")
        self.step = step
        # Represent the step as step_m * 10**step_e with step_e <= 0.
        self._step_m, self._step_e = m, e
        if e > 0:
            self._step_m, self._step_e = m * 10**e, 0
        self._scale = -self._step_e  # digits after the point the value is scaled to
        self._unit_is_pow10 = self._step_m == 1
        self._cache: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"Grid({self.step!r})"

    def units(self, text: str) -> int:
        """``text`` in whole steps; raises :class:`DecimalError` when off the grid."""
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        value = self._units(text)
        if len(self._cache) < 200_000:  # prices repeat: a bounded cache pays for itself
            self._cache[text] = value
        return value

    def _units(self, text: str) -> int:
        whole, _, frac = text.partition(".")
        if whole.isdigit() and whole.isascii() and (not frac or (frac.isdigit() and frac.isascii())):
            mantissa, exp = int(whole + frac), -len(frac)
        else:
            mantissa, exp = parse(text)
        shift = exp + self._scale
        if shift >= 0:
            scaled = mantissa * 10**shift
        else:
            div = 10 ** (-shift)
            scaled, rest = divmod(mantissa, div)
            if rest:
                raise DecimalError(f"{text!r} is not a multiple of {self.step}")
        if self._unit_is_pow10:
            return scaled
        q, r = divmod(scaled, self._step_m)
        if r:
            raise DecimalError(f"{text!r} is not a multiple of {self.step}")
        return q

    def round_fraction(self, value: Fraction) -> int:
        """``value`` in whole steps, rounded half to even (for inexact conversions only)."""
        return round(value / self.step_fraction)

    @property
    def step_fraction(self) -> Fraction:
        return Fraction(self._step_m) * (Fraction(10) ** self._step_e)

    def to_string(self, units: int) -> str:
        """The decimal string of ``units`` steps (exact; for reports and tests)."""
        value = units * self._step_m
        if self._scale == 0:
            return str(value)
        sign = "-" if value < 0 else ""
        digits = str(abs(value)).rjust(self._scale + 1, "0")
        return f"{sign}{digits[:-self._scale]}.{digits[-self._scale:]}"
