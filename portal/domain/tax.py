"""Invoice line amounts and totals: per-line half-up rounding to the minor unit, then sums."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext

from portal.domain.errors import InvalidInput
from portal.domain.money import round_half_up
from portal.i18n import _

_HUNDRED = Decimal(100)
_PRECISION = 80
"""Decimal digits used for line arithmetic: far beyond any real amount, so nothing is rounded early."""


@dataclass(frozen=True)
class LineInput:
    """One invoice line: quantity, unit price in minor units, tax rate as a percentage (e.g. 8.875)."""

    quantity: Decimal
    unit_price_minor: int
    tax_rate: Decimal


@dataclass(frozen=True)
class LineAmounts:
    """A line's rounded net, tax and gross, in minor units."""

    net_minor: int
    tax_minor: int
    gross_minor: int


@dataclass(frozen=True)
class Totals:
    """Invoice totals in minor units; `tax_by_rate` sums the rounded line taxes per rate."""

    subtotal_minor: int
    tax_minor: int
    total_minor: int
    tax_by_rate: dict[Decimal, int]


def _validate(line: LineInput) -> None:
    """Raise InvalidInput naming the field of the first bad value on the line."""
    if not isinstance(line.quantity, Decimal | int) or isinstance(line.quantity, bool):
        raise InvalidInput(_("The quantity must be a number."), field="quantity")
    if not Decimal(line.quantity).is_finite() or line.quantity <= 0:
        raise InvalidInput(_("The quantity must be greater than zero."), field="quantity")
    if not isinstance(line.unit_price_minor, int) or isinstance(line.unit_price_minor, bool):
        raise InvalidInput(_("The unit price must be a whole number of minor units."), field="unit_price")
    if line.unit_price_minor < 0:
        raise InvalidInput(_("The unit price cannot be negative."), field="unit_price")
    if not isinstance(line.tax_rate, Decimal | int) or isinstance(line.tax_rate, bool):
        raise InvalidInput(_("The tax rate must be a number."), field="tax_rate")
    if not Decimal(line.tax_rate).is_finite() or not 0 <= line.tax_rate <= 100:
        raise InvalidInput(_("The tax rate must be between 0% and 100%."), field="tax_rate")


def line_amounts(line: LineInput) -> LineAmounts:
    """Net = quantity x unit price and tax = net x rate / 100, each rounded half-up to the minor unit."""
    _validate(line)
    with localcontext(prec=_PRECISION):
        net = round_half_up(Decimal(line.quantity) * line.unit_price_minor)
        tax = round_half_up(net * Decimal(line.tax_rate) / _HUNDRED)
    return LineAmounts(net_minor=net, tax_minor=tax, gross_minor=net + tax)


def invoice_totals(lines: Sequence[LineInput]) -> Totals:
    """Totals of an invoice: each line's tax is rounded half-up to the minor unit, then lines are summed."""
    subtotal = tax = 0
    tax_by_rate: dict[Decimal, int] = {}
    for line in lines:
        amounts = line_amounts(line)
        subtotal += amounts.net_minor
        tax += amounts.tax_minor
        rate = Decimal(line.tax_rate)
        tax_by_rate[rate] = tax_by_rate.get(rate, 0) + amounts.tax_minor
    return Totals(subtotal_minor=subtotal, tax_minor=tax, total_minor=subtotal + tax, tax_by_rate=tax_by_rate)


@dataclass(frozen=True)
class CreditShare:
    """The part of a partial credit that falls on one tax (name and rate): its net and tax, in minor units."""

    tax_name: str
    tax_rate: Decimal
    net_minor: int
    tax_minor: int

    @property
    def gross_minor(self) -> int:
        """Net plus tax: the share of the credited amount."""
        return self.net_minor + self.tax_minor


def credit_shares(groups: Sequence[tuple[str, Decimal, int]], amount_minor: int) -> list[CreditShare]:
    """Share a credited gross amount across an invoice's taxes, `groups` being (name, rate, gross) in the
    invoice's order: in proportion to each tax's gross (largest remainder, ties to the earlier tax), then each
    share split into net (share x 100 / (100 + rate), rounded half-up) and tax (the rest), so the shares add
    up to the amount exactly and each tax stays within one minor unit of net x rate."""
    total = sum(gross for _name, _rate, gross in groups)
    if amount_minor <= 0 or amount_minor > total:
        raise ValueError(f"cannot credit {amount_minor} of a gross total of {total}")
    exact = [Decimal(amount_minor) * gross / total for _name, _rate, gross in groups]
    shares = [int(value) for value in exact]  # floors: every value is positive
    by_remainder = sorted(range(len(groups)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in by_remainder[: amount_minor - sum(shares)]:
        shares[i] += 1
    out = []
    for (name, rate, _gross), share in zip(groups, shares, strict=True):
        if share == 0:
            continue
        with localcontext(prec=_PRECISION):
            net = round_half_up(Decimal(share) * _HUNDRED / (_HUNDRED + Decimal(rate)))
        out.append(CreditShare(name, Decimal(rate), net, share - net))
    return out
