"""One formatter per kind in the reader's locale (date, date and time, time, relative time, number), plurals
through babel, words whose French depends on what they describe, and no date written another way."""

from __future__ import annotations

import inspect
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from portal import i18n

MOMENT = datetime(2026, 12, 3, 14, 5, tzinfo=UTC)
PORTAL = Path(i18n.__file__).parent


@pytest.mark.parametrize(
    ("locale", "day", "moment", "time"),
    [
        ("en", "Dec 3, 2026", "Dec 3, 2026, 2:05\u202fPM UTC", "2:05\u202fPM"),
        ("fr", "3 déc. 2026", "3 déc. 2026, 14:05 UTC", "14:05"),
    ],
)
def test_one_date_format_per_locale(locale: str, day: str, moment: str, time: str) -> None:
    assert i18n.format_date(date(2026, 12, 3), locale) == day
    assert i18n.format_date(MOMENT, locale) == day  # a moment's day
    assert i18n.format_datetime(MOMENT, locale) == moment
    assert i18n.format_datetime(MOMENT.replace(tzinfo=None), locale) == moment  # stored naive = UTC
    assert i18n.format_time(MOMENT, locale) == time
    assert i18n.format_date(None, locale) == i18n.format_datetime(None, locale) == ""


def test_a_moment_is_written_in_utc_whatever_its_zone() -> None:
    east = MOMENT.astimezone(ZoneInfo("Asia/Tokyo"))  # Dec 3, 23:05 in Tokyo
    assert i18n.format_datetime(east, "fr") == "3 déc. 2026, 14:05 UTC"
    late = datetime(2026, 12, 3, 23, 30, tzinfo=UTC).astimezone(ZoneInfo("Asia/Tokyo"))
    assert i18n.format_date(late, "en") == "Dec 3, 2026"  # Dec 4 in Tokyo, Dec 3 in UTC


def test_the_date_formatter_takes_no_other_format() -> None:
    assert "fmt" not in inspect.signature(i18n.format_date).parameters


@pytest.mark.parametrize(
    ("locale", "ago", "ahead", "today"),
    [("en", "3 days ago", "in 2 hours", "today"), ("fr", "il y a 3 jours", "dans 2 heures", "aujourd'hui")],
)
def test_relative_time(locale: str, ago: str, ahead: str, today: str) -> None:
    assert i18n.format_relative(MOMENT - timedelta(days=3), MOMENT, locale) == ago
    assert i18n.format_relative(MOMENT + timedelta(hours=2), MOMENT, locale) == ahead
    assert i18n.format_relative(date(2026, 11, 30), date(2026, 12, 3), locale) == ago
    assert i18n.format_relative(date(2026, 12, 3), MOMENT, locale) == today


def test_numbers_follow_the_locale() -> None:
    assert i18n.format_number(1300, "en") == "1,300"
    assert i18n.format_number(1300, "fr") == "1\u202f300"


@pytest.mark.parametrize(
    ("locale", "n", "expected"),
    [
        ("en", 0, "Page 1 of 1 · 0 entries"),
        ("en", 1, "Page 1 of 1 · 1 entry"),
        ("en", 2, "Page 1 of 1 · 2 entries"),
        ("en", 1300, "Page 1 of 1 · 1,300 entries"),
        ("fr", 0, "Page 1 sur 1 · 0 entrée"),  # French: 0 and 1 are singular
        ("fr", 1, "Page 1 sur 1 · 1 entrée"),
        ("fr", 2, "Page 1 sur 1 · 2 entrées"),
        ("fr", 1300, "Page 1 sur 1 · 1\u202f300 entrées"),
    ],
)
def test_counts_take_the_plural_the_language_wants(locale: str, n: int, expected: str) -> None:
    text = i18n.ntranslate(
        "Page {page} of {pages} · {count} entry",
        "Page {page} of {pages} · {count} entries",
        n,
        locale,
        page=1,
        pages=1,
    )
    assert text == expected


def test_ngettext_uses_the_current_locale() -> None:
    i18n.set_locale("fr")
    try:
        assert (
            i18n.ngettext(
                "Page {page} of {pages} · {count} request",
                "Page {page} of {pages} · {count} requests",
                1,
                page=2,
                pages=3,
            )
            == "Page 2 sur 3 · 1 demande"
        )
    finally:
        i18n.set_locale("en")
    assert (
        i18n.ngettext(
            "Page {page} of {pages} · {count} request",
            "Page {page} of {pages} · {count} requests",
            1,
            page=2,
            pages=3,
        )
        == "Page 2 of 3 · 1 request"
    )


def test_every_counted_message_has_its_french_forms() -> None:
    plurals = i18n.extract_plural_messages()
    assert plurals, "no ngettext message found: the extraction lost them"
    missing = [singular for singular, _plural in plurals if len(i18n.plural_catalog().get(singular, ())) != 2]
    assert not missing, missing


def test_a_payment_is_paid_in_the_masculine_an_invoice_in_the_feminine() -> None:
    assert i18n.pgettext("payment", "Paid", "fr") == "Payé"
    assert i18n.translate("Paid", "fr") == "Payée"
    assert i18n.pgettext("payment", "Paid", "en") == "Paid"
    assert i18n.pgettext("in a sentence", "invoice {number}", "fr", number="INV-3") == "la facture INV-3"


# a person reads what these produce: only the formatters above may write a date or a time
FORBIDDEN = re.compile(r"fmt=|strftime|:%H|:%d|:%b|:%Y")


def test_no_date_is_written_another_way() -> None:
    offenders = [
        f"{path.relative_to(PORTAL)}:{number}: {line.strip()}"
        for path in PORTAL.rglob("*.py")
        if "migrations" not in path.parts
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if FORBIDDEN.search(line)
    ]
    assert not offenders, offenders


def test_plural_translations_keep_the_placeholders_of_the_english_message() -> None:
    names = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)\}")
    for singular, plural in i18n.extract_plural_messages():
        wanted = set(names.findall(plural)) | {"count"}
        for form in i18n.plural_catalog().get(singular, ()):
            assert set(names.findall(form)) <= wanted and "count" in names.findall(form), (singular, form)
