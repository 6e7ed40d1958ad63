"""English and French: one catalog, every marked message translated, placeholders kept, locale choice."""

from __future__ import annotations

import re
from datetime import date

import pytest

from portal import i18n

PLACEHOLDER = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)(?:[:!][^}]*)?\}")


def test_every_message_in_the_code_has_a_french_translation() -> None:
    missing = sorted(m for m in i18n.extract_messages() if not i18n.catalog().get(m))
    assert not missing, (
        f"{len(missing)} message(s) lack a French translation; run `.venv/bin/python -m portal.i18n` and "
        f"translate them in {i18n.CATALOG_PATH}:\n" + "\n".join(missing[:40])
    )


def test_translations_keep_exactly_the_placeholders_of_the_english_message() -> None:
    wrong = [
        (source, target)
        for source, target in i18n.catalog().items()
        if set(PLACEHOLDER.findall(source)) != set(PLACEHOLDER.findall(target))
    ]
    assert not wrong, wrong[:10]


def test_a_message_is_shown_in_the_chosen_language_with_its_values() -> None:
    source = next(m for m in i18n.extract_messages() if PLACEHOLDER.search(m) and i18n.catalog().get(m))
    names = {name: f"<{name}>" for name in PLACEHOLDER.findall(source)}
    french = i18n.translate(source, "fr", **names)
    english = i18n.translate(source, "en", **names)
    assert french != english
    assert all(value in french for value in names.values())


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fr-FR,fr;q=0.9,en;q=0.8", "fr"),
        ("en-GB,en;q=0.9,fr;q=0.8", "en"),
        ("de-DE,fr;q=0.5", "fr"),
        ("de-DE", "en"),
        ("", "en"),
        ("fr;q=0, en", "en"),
    ],
)
def test_the_login_page_language_follows_the_browser(header: str, expected: str) -> None:
    assert i18n.best_match(header) == expected


def test_dates_are_written_for_the_locale() -> None:
    assert i18n.format_date(date(2026, 11, 21), "en") == "Nov 21, 2026"
    assert i18n.format_date(date(2026, 11, 21), "fr") == "21 nov. 2026"


def test_unsupported_locales_fall_back_to_english() -> None:
    assert i18n.normalize_locale("pt-BR") == "en"
    assert i18n.normalize_locale("FR_ca") == "fr"
