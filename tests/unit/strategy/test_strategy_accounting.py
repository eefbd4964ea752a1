import pytest

from paraphina.strategy.accounting import aggregates, apply_fill, funding_payment, unrealised_pnl


def test_round_trip_without_fees_realises_price_difference():
    a = apply_fill(0.0, 0.0, +1, 100.0, 2.0, 0.0)
    b = apply_fill(a.position, a.avg_entry, -1, 105.0, 2.0, 0.0)
    assert (a.position, a.avg_entry, a.realised) == (2.0, 100.0, 0.0)
    assert (b.position, b.avg_entry, b.realised) == (0.0, 0.0, 10.0)


def test_fee_comes_off_realised():
    f = apply_fill(0.0, 0.0, +1, 100.0, 1.0, 5.0)
    assert f.fee == pytest.approx(0.05)
    assert f.realised == pytest.approx(-0.05)


def test_same_direction_vwap_entry():
    f = apply_fill(1.0, 100.0, +1, 104.0, 3.0, 0.0)
    assert f.position == 4.0 and f.avg_entry == pytest.approx(103.0)


def test_partial_close_keeps_entry_and_short_realises_mirror():
    f = apply_fill(-4.0, 110.0, +1, 100.0, 1.0, 0.0)
    assert (f.position, f.avg_entry, f.realised) == (-3.0, 110.0, 10.0)


def test_flip_opens_remainder_at_fill_price():
    f = apply_fill(2.0, 100.0, -1, 110.0, 5.0, 0.0)
    assert f.position == -3.0 and f.avg_entry == 110.0 and f.realised == 20.0


def test_funding_longs_pay_positive_rate():
    assert funding_payment(2.0, 100.0, 0.0001) == pytest.approx(-0.02)
    assert funding_payment(-2.0, 100.0, 0.0001) == pytest.approx(0.02)


def test_unrealised_zero_when_flat():
    assert unrealised_pnl(0.0, 100.0, 0.0) == 0.0


def test_invariant_20_basis_example():
    a = aggregates([5.0, -3.0], [102.0, 98.0], [95.0, 110.0], 100.0)
    assert a.q == 2.0
    assert a.delta_usd == 200.0
    assert a.basis_usd == 16.0
    assert a.basis_gross_usd == 16.0
    assert a.unrealised == 55.0


def test_aggregates_without_fair_value_are_zero():
    a = aggregates([5.0], [102.0], [95.0], None)
    assert (a.q, a.delta_usd, a.unrealised) == (0.0, 0.0, 0.0)
