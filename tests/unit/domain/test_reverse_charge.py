"""EU reverse charge: when an invoice is written without VAT, one condition at a time, and what it does to
the lines."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from portal.domain.mentions import reverse_charge_note
from portal.domain.reverse_charge import applies, charged_lines

# a French agency with a VAT number, a German business client with a valid one, never checked with VIES
BASE = {
    "seller_country": "FR",
    "seller_vat_number": "FR40303265045",
    "buyer_is_business": True,
    "buyer_country": "DE",
    "buyer_vat_number": "DE136695976",
    "buyer_vat_check": "",
}


def rule(**changes: object) -> bool:
    return applies(**{**BASE, **changes})  # type: ignore[arg-type]


def test_an_eu_business_in_another_member_state_is_reverse_charged() -> None:
    assert rule()


@pytest.mark.parametrize("answer", ["", "valid", "unchecked"])
def test_vies_not_saying_invalid_is_enough(answer: str) -> None:
    assert rule(buyer_vat_check=answer)


def test_a_number_vies_says_is_invalid_is_charged_vat() -> None:
    assert not rule(buyer_vat_check="invalid")


@pytest.mark.parametrize("country", ["", "GB", "US", "CH"])
def test_the_seller_must_be_in_the_eu(country: str) -> None:
    assert not rule(seller_country=country)


def test_the_seller_must_have_a_vat_number() -> None:
    assert not rule(seller_vat_number="")
    assert not rule(seller_vat_number="  ")


def test_a_person_is_charged_vat() -> None:
    assert not rule(buyer_is_business=False)


def test_a_business_in_the_sellers_own_country_is_charged_vat() -> None:
    assert not rule(buyer_country="FR", buyer_vat_number="FR44732829320")


def test_a_business_without_a_vat_number_is_charged_vat() -> None:
    assert not rule(buyer_vat_number="")


@pytest.mark.parametrize("number", ["DE136695977", "DE13669597", "DE", "XX123", "12345"])
def test_a_vat_number_with_a_wrong_check_digit_or_form_is_charged_vat(number: str) -> None:
    assert not rule(buyer_vat_number=number)


def test_the_number_may_be_written_with_spaces_and_dots() -> None:
    assert rule(buyer_vat_number="de 136.695.976")


def test_a_number_of_another_country_than_the_clients_is_charged_vat() -> None:
    assert not rule(buyer_country="DE", buyer_vat_number="BE0403170701")
    assert not rule(buyer_country="DE", buyer_vat_number="FR44732829320")  # the seller's country's number


def test_without_a_country_the_numbers_member_state_counts() -> None:
    assert rule(buyer_country="", buyer_vat_number="BE0403170701")
    assert not rule(buyer_country="", buyer_vat_number="FR44732829320")


def test_greece_is_el_in_vat_numbers() -> None:
    assert rule(buyer_country="GR", buyer_vat_number="EL094259216")
    assert rule(buyer_country="GR", buyer_vat_number="GR094259216")  # the ISO prefix, cleaned to EL
    assert not rule(
        seller_country="GR",
        seller_vat_number="EL094259216",
        buyer_vat_number="EL094259216",
        buyer_country="GR",
    )


def test_northern_ireland_and_the_uk_are_not_member_states() -> None:
    assert not rule(buyer_country="GB", buyer_vat_number="XI980780684")
    assert not rule(buyer_country="GB", buyer_vat_number="GB980780684")
    assert not rule(buyer_country="", buyer_vat_number="XI980780684")


@dataclass(frozen=True)
class Line:
    description: str
    tax_rate: Decimal
    tax_name: str


def test_a_reverse_charged_document_has_no_tax_on_any_line_whatever_was_chosen() -> None:
    lines = [
        Line("Design", Decimal(20), "VAT"),
        Line("Hosting", Decimal("5.5"), "TVA"),
        Line("Free", Decimal(0), ""),
    ]
    charged = charged_lines(lines, reverse_charge=True)
    assert [(line.description, line.tax_rate, line.tax_name) for line in charged] == [
        ("Design", 0, ""),
        ("Hosting", 0, ""),
        ("Free", 0, ""),
    ]
    assert charged_lines(lines, reverse_charge=False) == lines


def test_the_mention_in_the_invoices_language() -> None:
    assert reverse_charge_note("en") == (
        "TXD",
        "Reverse charge: VAT to be accounted for by the recipient "
        "(Article 196 of Council Directive 2006/112/EC)",
    )
    assert reverse_charge_note("fr") == (
        "TXD",
        "Autoliquidation : TVA due par le preneur (article 196 de la directive 2006/112/CE)",
    )
