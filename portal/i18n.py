"""English and French: the current locale, `_()` for every user-visible string, one message catalog.

The catalog is `portal/locales/fr/LC_MESSAGES/messages.po` (English is the source language, so English
needs no catalog). Write messages with named placeholders and pass the values to `_`:

    _("Pay {amount} now", amount=format_money(...))

`N_("...")` marks a string for the catalog without translating it (module-level constants); translate it
where it is shown with `_(constant)`. Services that write for someone else (emails, jobs) pass the
recipient's locale explicitly with `translate(message, locale, **values)`.
`python -m portal.i18n` adds missing messages to the catalog; tests fail while any lacks a translation.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

SUPPORTED = ("en", "fr")
DEFAULT = "en"
LABELS = {"en": "English", "fr": "Français"}
CATALOG_PATH = Path(__file__).parent / "locales" / "fr" / "LC_MESSAGES" / "messages.po"
_locale_var: ContextVar[str | None] = ContextVar("portal_locale", default=None)


def normalize_locale(value: str | None) -> str:
    """'fr-CA', 'fr_FR' or 'FR' -> 'fr'; anything unsupported -> 'en'."""
    code = (value or "").strip().lower().replace("_", "-").split("-")[0]
    return code if code in SUPPORTED else DEFAULT


def best_match(accept_language: str | None) -> str:
    """The supported locale a browser's Accept-Language header prefers most."""
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _sep, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        code = tag.strip().lower().split("-")[0]
        if code in SUPPORTED and quality > 0:
            choices.append((-quality, index, code))
    return min(choices)[2] if choices else DEFAULT


def set_locale(locale: str | None) -> str:
    """Use this locale for the rest of the current page build and its event handlers."""
    code = normalize_locale(locale)
    _locale_var.set(code)
    client = _ui_client()
    if client is not None:
        client.portal_locale = code  # type: ignore[attr-defined]  # read back by event handlers
    return code


def _ui_client() -> Any:
    """The NiceGUI client of the page this task works for, or None (services, jobs, tests, plain routes).

    Reads the task's slot stack itself: `nicegui.context.client` called before the app has started (in
    service tests) would switch NiceGUI into "script mode" with a stand-in client, breaking later pages.
    """
    # Not loaded: no page can be around this call. Looked up, not imported: formatting money in the domain
    # or a CLI command must not pull NiceGUI in (two seconds) just to learn that.
    slot = sys.modules.get("nicegui.slot")
    if slot is None:
        return None
    try:
        stack = slot.Slot.stacks.get(slot.get_task_id())
        return stack[-1].parent.client if stack else None
    except Exception:  # no NiceGUI page around this call
        return None


def get_locale() -> str:
    """The locale of the page being built or the event being handled; English outside a page."""
    code = _locale_var.get()
    if code:
        return code
    client = _ui_client()
    return getattr(client, "portal_locale", DEFAULT) if client is not None else DEFAULT


@lru_cache(maxsize=1)
def catalog() -> Mapping[str, str]:
    """The French translations, msgid -> msgstr (empty translations left out)."""
    if not CATALOG_PATH.exists():
        return {}

    with CATALOG_PATH.open("rb") as handle:
        po = read_po(handle, locale="fr")
    return {m.id: m.string for m in po if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


def translate(message: str, locale: str | None, /, **values: Any) -> str:
    """`message` in `locale`, with `{name}` placeholders filled from `values`."""
    text = message
    if normalize_locale(locale) == "fr":
        text = catalog().get(message, message)
    return text.format(**values) if values else text


def _(message: str, /, **values: Any) -> str:
    """`message` in the current locale (see `get_locale`)."""
    return translate(message, get_locale(), **values)


def N_(message: str) -> str:
    """Mark a string for the catalog; translate it later with `_(...)`."""
    return message


def format_date(value: date | datetime | None, locale: str | None = None, *, fmt: str = "medium") -> str:
    """A date for people: 'Nov 21, 2026' / '21 nov. 2026'."""
    if value is None:
        return ""

    day = value.date() if isinstance(value, datetime) else value
    return babel_format_date(day, format=fmt, locale=normalize_locale(locale or get_locale()))


def format_datetime(value: datetime | None, locale: str | None = None) -> str:
    """A moment for people, in UTC: 'Nov 21, 2026, 14:05 UTC'."""
    if value is None:
        return ""

    text = babel_format_datetime(
        value, format="medium", tzinfo="UTC", locale=normalize_locale(locale or get_locale())
    )
    return f"{text} UTC"


KEYWORDS = {"_": None, "N_": None, "translate": (1,)}


def extract_messages(root: Path | None = None) -> dict[str, list[str]]:
    """Every message the code marks for translation: msgid -> ['portal/x.py:12', ...]."""
    root = root or Path(__file__).parent
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(root),
        method_map=[("**.py", "python")],
        keywords=KEYWORDS,
        comment_tags=(),
        strip_comment_tags=True,
    ):
        if isinstance(message, str) and message:
            found.setdefault(message, []).append(f"{filename}:{lineno}")
    return found


def update_catalog() -> tuple[int, int]:
    """Add messages missing from the catalog (empty translations) and refresh where each one is used;
    return (added, untranslated)."""
    if CATALOG_PATH.exists():
        with CATALOG_PATH.open("rb") as handle:
            po = read_po(handle, locale="fr")
    else:
        po = Catalog(locale="fr", project="billing-portal")
    added = 0
    for message, places in extract_messages().items():
        locations = [(p.rsplit(":", 1)[0], int(p.rsplit(":", 1)[1])) for p in places]
        if message in po:
            po[message].locations = locations  # files move: the comments follow the code
        else:
            po.add(message, "", locations=locations)
            added += 1
    CATALOG_PATH.parent.mkdir(parents=True, exist_ok=True)
    with CATALOG_PATH.open("wb") as handle:
        write_po(handle, po, width=0, omit_header=False, sort_output=True, include_lineno=False)
    catalog.cache_clear()
    untranslated = sum(1 for m in po if m.id and not m.string)
    return added, untranslated


if __name__ == "__main__":
    new, missing = update_catalog()
    print(f"{new} message(s) added to {CATALOG_PATH}; {missing} without a French translation")
