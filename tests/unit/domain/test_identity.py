"""Countries, VAT numbers and company register numbers: what is accepted, in which form it is kept, and
what a wrong one is told."""

from __future__ import annotations

import pytest

from portal.domain import identity
from portal.domain.errors import InvalidInput
from portal.i18n import locale_scope


@pytest.mark.parametrize(
    ("typed", "kept", "country"),
    [
        ("fr 40 303 265 045", "FR40303265045", "FR"),
        ("DE136695976", "DE136695976", "DE"),
        ("ATU13585627", "ATU13585627", "AT"),
        ("EL094259216", "EL094259216", "GR"),
        ("GR 094259216", "EL094259216", "GR"),  # Greece's VAT prefix is EL whatever was typed
        ("GB 980 7806 84", "GB980780684", "GB"),
        ("XI980780684", "XI980780684", "GB"),  # Northern Ireland
        ("NL.004495445.B01", "NL004495445B01", "NL"),
    ],
)
def test_a_vat_number_is_kept_compact_with_its_prefix(typed: str, kept: str, country: str) -> None:
    assert identity.clean_vat_number(typed) == kept
    assert identity.vat_country(kept) == country


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("FR40303265046", "check digits of this VAT number do not match"),
        ("FR123", "A VAT number of France does not have this many characters"),
        ("US123456789", "US is not one of their prefixes"),
        ("40303265045", "with its country prefix"),
    ],
)
def test_a_wrong_vat_number_is_told_why(typed: str, says: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        identity.clean_vat_number(typed)
    assert says in raised.value.message
    assert raised.value.field == "vat_number"


def test_no_vat_number_is_no_vat_number() -> None:
    assert identity.clean_vat_number("  ") == ""


def test_a_french_company_gives_its_siren_or_siret_with_valid_check_digits() -> None:
    assert identity.clean_company_id("732 829 320", country="FR") == "732829320"
    assert identity.clean_company_id("732 829 320 00074", country="FR") == "73282932000074"
    with pytest.raises(InvalidInput, match="check digit"):
        identity.clean_company_id("732829321", country="FR")
    with pytest.raises(InvalidInput, match="9 digits"):
        identity.clean_company_id("HRB 12345", country="FR")


def test_elsewhere_the_register_number_is_kept_as_written() -> None:
    assert identity.clean_company_id("  HRB  86891 ", country="DE") == "HRB 86891"
    with pytest.raises(InvalidInput, match="letters, digits"):
        identity.clean_company_id("<script>", country="DE")
    with pytest.raises(InvalidInput, match="at most 40"):
        identity.clean_company_id("1" * 41, country="")


def test_countries_are_iso_codes_named_in_the_readers_language() -> None:
    assert identity.clean_country(" fr ") == "FR"
    assert identity.clean_country("") == ""
    with pytest.raises(InvalidInput, match="country from the list"):
        identity.clean_country("EU")  # a region, not a country
    assert identity.country_name("DE", "fr") == "Allemagne"
    assert identity.country_name("DE", "en") == "Germany"
    names = identity.country_names("en")
    assert "001" not in names and "ZZ" not in names and len(names) > 240
    assert list(names.values()) == sorted(names.values(), key=str.casefold)


def test_the_eu_is_27_member_states() -> None:
    assert len(identity.EU_COUNTRIES) == 27
    assert {"FR", "DE", "GR", "IE"} <= identity.EU_COUNTRIES
    assert "GB" not in identity.EU_COUNTRIES and "XI" not in identity.EU_COUNTRIES


def test_messages_are_in_the_readers_language() -> None:
    with locale_scope("fr"), pytest.raises(InvalidInput) as raised:
        identity.clean_vat_number("FR40303265046")
    assert "clé de contrôle" in raised.value.message
