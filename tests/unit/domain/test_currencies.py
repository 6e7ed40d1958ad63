"""The portal's own ISO 4217 table decides every currency's decimals; babel and upgrades cannot move them."""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path

import pytest
from babel.core import get_global
from babel.numbers import get_territory_currencies, list_currencies

from portal.domain import currencies
from portal.domain.currencies import MINOR_UNITS, fingerprint, migration_suffix
from portal.domain.errors import InvalidInput
from portal.domain.money import (
    currency_exponent,
    format_amount,
    format_money,
    normalize_currency,
    parse_amount,
)

ROOT = Path(__file__).resolve().parents[3]
MIGRATIONS = ROOT / "portal" / "db" / "migrations"
TABLE_DATE = date(2026, 12, 3)  # the day the table was checked in: babel's view of that day is compared

# Where babel's list of currencies in use differs from ISO 4217 List One, on purpose:
ONLY_IN_BABEL = {
    "CNH",  # offshore renminbi: a market convention, not an ISO 4217 code
    # ISO 4217 codes whose minor unit is "N.A." (metals, SDR, bond-market units, testing, no currency):
    *"XAD XAG XAU XBA XBB XBC XBD XDR XPD XPT XSU XTS XUA XXX".split(),
}
ONLY_IN_TABLE = {
    "BGN",  # Bulgaria adopted the euro on 2026-01-01; kept so that stored lev amounts stay readable
    "SVC",  # still on ISO List One; CLDR dates the colón's use in El Salvador as ended in 2001
}


@pytest.mark.parametrize(
    ("code", "exponent"),
    [
        ("JPY", 0),
        ("KWD", 3),
        ("BHD", 3),
        ("HUF", 2),  # babel 2.19 says 0 (CLDR cash digits); ISO 4217 and Stripe say 2
        ("ISK", 0),
        ("UGX", 0),
        ("CLP", 0),
        ("TND", 3),
        ("USD", 2),
        ("EUR", 2),
        ("COP", 2),  # babel 2.19 says 0
        ("IDR", 2),  # babel 2.19 says 0
        ("LBP", 2),  # babel 2.18 said 0
        ("IQD", 3),  # babel 2.18 said 0
        ("CLF", 4),
    ],
)
def test_exponents_are_iso_4217(code: str, exponent: int) -> None:
    assert MINOR_UNITS[code] == exponent
    assert currency_exponent(code.lower()) == exponent


def test_the_table_and_babel_agree_on_which_currencies_exist() -> None:
    """A currency babel starts listing (or drops) fails here, so that it is added or removed on purpose."""
    in_use: set[str] = set()
    for territory in get_global("territory_currencies"):
        in_use.update(get_territory_currencies(territory, start_date=TABLE_DATE, non_tender=True))
    assert in_use - set(MINOR_UNITS) == ONLY_IN_BABEL
    assert set(MINOR_UNITS) - in_use == ONLY_IN_TABLE
    assert set(MINOR_UNITS) <= set(list_currencies()), "babel must have a name and symbol for every code"


def test_codes_outside_the_table_are_refused_with_a_clear_message() -> None:
    for code in ("XAU", "XXX", "DEM", "HRK", "ABC"):  # a metal, "no currency", withdrawn, made up
        with pytest.raises(InvalidInput, match=f"Unknown currency code '{code}'"):
            normalize_currency(code)


def test_formatting_and_parsing_use_the_table_not_babel() -> None:
    assert format_money(199_999, "HUF") == "HUF1,999.99"
    assert format_amount(199_999, "COP", "fr") == "1\u202f999,99"
    assert format_money(1_234_567, "IQD") == "IQD1,234.567"
    assert format_money(1999, "JPY", "fr") == "1\u202f999\u00a0JPY"
    assert parse_amount("19.99", "HUF") == 1999
    assert parse_amount("1,234.567", "IQD") == 1_234_567


def test_a_migration_named_after_the_tables_fingerprint_exists() -> None:
    """THE RULE (portal/domain/currencies.py): an exponent changes only with a data migration."""
    names = [path.stem for path in MIGRATIONS.glob("[0-9]*.py")]
    assert any(name.endswith(migration_suffix()) for name in names), (
        f"The currency table changed (fingerprint {fingerprint()[:12]}). Write a data migration that "
        f"rescales the stored amounts of the changed currencies and name it NNNN{migration_suffix()}.py"
    )


def test_the_fingerprint_moves_with_any_exponent_or_code() -> None:
    changed = dict(MINOR_UNITS, HUF=0)
    added = dict(MINOR_UNITS, XYZ=2)
    assert len({fingerprint(), fingerprint(changed), fingerprint(added)}) == 3
    assert not any(path.stem.endswith(migration_suffix(changed)) for path in MIGRATIONS.glob("*.py"))


FORBIDDEN = {"get_currency_precision", "format_currency", "list_currencies", "get_decimal_precision"}


def test_no_module_asks_babel_how_many_decimals_a_currency_has() -> None:
    offenders = []
    for path in sorted((ROOT / "portal").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("babel"):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.Attribute):
                names = [node.attr]
            offenders += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names if n in FORBIDDEN]
    assert offenders == []
    assert "currency_digits=False" in Path(currencies.__file__).with_name("money.py").read_text()
