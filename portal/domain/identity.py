"""Legal identity: countries, VAT numbers and company register numbers, checked by their format and check
digits with python-stdnum. Pure, no I/O: the online VIES check is `portal.clients.vies`."""

from __future__ import annotations

import re
from functools import lru_cache

from babel import Locale
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import InvalidChecksum, InvalidLength, ValidationError
from stdnum.fr import siren, siret
from stdnum.gb import vat as gb_vat

from portal.domain.errors import InvalidInput
from portal.i18n import _, get_locale

COMPANY_ID_MAX = 40
# babel's territories that are not countries a business can be in (regions, the EU, "unknown", tests)
_NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "ZZ", "XA", "XB"}
# a VAT prefix that is not the country's ISO code: Greece uses EL, Northern Ireland's traders XI
_VAT_PREFIX_COUNTRY = {"EL": "GR", "XI": "GB"}
# EU member states by ISO code (python-stdnum's list, less XI: Northern Ireland is in the UK)
EU_COUNTRIES = frozenset(code.upper() for code in eu_vat.MEMBER_STATES) - {"XI"}
_EU_VAT_PREFIXES = {code.upper() for code in eu_vat.MEMBER_STATES} | {"EL"}
_SEPARATORS = re.compile(r"[\s.\-/]")
_REGISTER_CHARACTERS = re.compile(r"^[0-9A-Za-z .\-/]+$")


@lru_cache(maxsize=8)
def _countries(locale: str) -> dict[str, str]:
    names = Locale.parse(locale).territories
    pairs = [
        (code, name)
        for code, name in names.items()
        if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES
    ]
    return dict(sorted(pairs, key=lambda pair: pair[1].casefold()))


def country_names(locale: str | None = None) -> dict[str, str]:
    """ISO 3166-1 alpha-2 code -> the country's name in `locale` (the page's by default), by name."""
    return _countries(locale or get_locale())


def country_name(code: str, locale: str | None = None) -> str:
    """The country's name, or its code when unknown ("" for "")."""
    return country_names(locale).get(code, code)


def clean_country(value: str | None) -> str:
    """An ISO 3166-1 alpha-2 code in capitals, or "" when none is given."""
    code = (value or "").strip().upper()
    if code and code not in country_names("en"):
        raise InvalidInput(_("Choose a country from the list."), field="country")
    return code


def vat_country(vat_number: str) -> str:
    """The ISO country of a cleaned VAT number's prefix ("" for "")."""
    prefix = vat_number[:2]
    return _VAT_PREFIX_COUNTRY.get(prefix, prefix)


def clean_vat_number(value: str | None) -> str:
    """A VAT number in its compact form with its country prefix ("FR40303265045"), or "" when none is
    given; checked by format and check digits for the EU member states, Northern Ireland and the UK."""
    raw = _SEPARATORS.sub("", value or "").upper()
    if not raw:
        return ""
    prefix = raw[:2]
    example = _("Enter the VAT number with its country prefix, like FR40303265045 or DE136695976.")
    if not prefix.isalpha():
        raise InvalidInput(example, field="vat_number")
    try:
        if prefix in _EU_VAT_PREFIXES:
            number = eu_vat.validate(raw)
            return "EL" + number[2:] if prefix == "GR" else number  # Greece's VAT prefix is EL
        if prefix == "GB":
            return "GB" + gb_vat.validate(raw)
    except InvalidChecksum:
        raise InvalidInput(
            _("The check digits of this VAT number do not match: look for a typing mistake."),
            field="vat_number",
        ) from None
    except InvalidLength:
        raise InvalidInput(
            _(
                "A VAT number of {country} does not have this many characters.",
                country=country_name(vat_country(raw)),
            ),
            field="vat_number",
        ) from None
    except ValidationError:
        raise InvalidInput(
            _("This is not the form of a VAT number of {country}.", country=country_name(vat_country(raw))),
            field="vat_number",
        ) from None
    raise InvalidInput(
        _(
            "VAT numbers are checked for the EU and the UK; {prefix} is not one of their prefixes.",
            prefix=prefix,
        )
        + " "
        + example,
        field="vat_number",
    )


def clean_company_id(value: str | None, *, country: str) -> str:
    """A company register number: in France a SIREN (9 digits) or SIRET (14) with valid check digits,
    stored as digits only; elsewhere the number as written (letters, digits, spaces, . - /)."""
    text = " ".join((value or "").split())
    if not text:
        return ""
    if country == "FR":
        digits = _SEPARATORS.sub("", text)
        try:
            if len(digits) == 9:
                return siren.validate(digits)
            if len(digits) == 14:
                return siret.validate(digits)
        except InvalidChecksum:
            raise InvalidInput(
                _("The check digit of this SIREN or SIRET does not match: look for a typing mistake."),
                field="company_id",
            ) from None
        except ValidationError:
            pass
        raise InvalidInput(
            _("In France, enter the SIREN (9 digits) or the SIRET (14 digits)."), field="company_id"
        )
    if len(text) > COMPANY_ID_MAX:
        raise InvalidInput(_("Use at most {count} characters.", count=COMPANY_ID_MAX), field="company_id")
    if not _REGISTER_CHARACTERS.match(text):
        raise InvalidInput(_("Use letters, digits, spaces and . - / only."), field="company_id")
    return text
