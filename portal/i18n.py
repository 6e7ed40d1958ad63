"""English and French: the current locale, `_()` for every user-visible string, one message catalog.

The catalog is `portal/locales/fr/LC_MESSAGES/messages.po` (English is the source language, so English
needs no catalog). Write messages with named placeholders and pass the values to `_`:

    _("Pay {amount} now", amount=format_money(...))

`N_("...")` marks a string for the catalog without translating it (module-level constants); translate it
where it is shown with `_(constant)`. Services that write for someone else (emails, jobs) pass the
recipient's locale explicitly with `translate(message, locale, **values)`.
Counts go through `ngettext("1 request", "{count} requests", n)` (babel's plural rules; French plural
entries in the catalog have msgid_plural and msgstr[0]/msgstr[1]). A word whose French depends on what it
describes takes a context: `pgettext("payment", "Paid")` is "Payé" where an invoice's "Paid" is "Payée".

One formatter per kind, in the reader's locale (the page's, or the `locale` given for emails and PDFs):
`format_date` ('Dec 3, 2026' / '3 déc. 2026'), `format_datetime` ('Dec 3, 2026, 2:05 PM UTC' /
'3 déc. 2026, 14:05 UTC'), `format_time`, `format_relative` ('3 days ago' / 'il y a 3 jours') and
`format_number`; money is `portal.domain.money.format_money`. Machine values (CSV, form fields, URLs)
stay ISO.
`python -m portal.i18n` adds missing messages to the catalog; tests fail while any lacks a translation.
"""

from __future__ import annotations

import gettext
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.core import Locale
from babel.dates import format_date as babel_format_date
from babel.dates import format_time as babel_format_time
from babel.dates import format_timedelta
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po
from babel.numbers import format_decimal

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


@contextmanager
def locale_scope(locale: str | None) -> Iterator[str]:
    """Use `locale` inside the block only, then whatever was used before (a test, a message for one
    recipient): unlike `set_locale`, nothing leaks into what runs after the block in the same context."""
    token = _locale_var.set(normalize_locale(locale))
    try:
        yield _locale_var.get()
    finally:
        _locale_var.reset(token)


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
    stack = slot.Slot.stacks.get(slot.get_task_id()) or []
    for entered in reversed(stack):  # innermost first: an event handler's own slot may have been redrawn
        try:  # away while it awaited (its element deleted); an outer slot of the same page still answers
            return entered.parent.client
        except Exception:  # this slot's element (or its page) is gone
            continue
    return None  # no NiceGUI page around this call


def get_locale() -> str:
    """The locale of the page being built or the event being handled; English outside a page."""
    code = _locale_var.get()
    if code:
        return code
    client = _ui_client()
    return getattr(client, "portal_locale", DEFAULT) if client is not None else DEFAULT


@lru_cache(maxsize=1)
def _french() -> tuple[dict[str, str], dict[str, tuple[str, ...]], Callable[[int], int]]:
    """The French catalog: singular messages, plural messages (singular -> forms), the plural rule."""
    if not CATALOG_PATH.exists():
        return {}, {}, lambda n: int(n > 1)

    with CATALOG_PATH.open("rb") as handle:
        po = read_po(handle, locale="fr")
    singular: dict[str, str] = {}
    plural: dict[str, tuple[str, ...]] = {}
    for m in po:
        if not m.id or m.fuzzy or not m.string:
            continue
        if isinstance(m.id, str) and isinstance(m.string, str):
            singular[_key(m.context, m.id)] = m.string
        elif isinstance(m.id, (tuple, list)) and isinstance(m.string, (tuple, list)) and all(m.string):
            plural[m.id[0]] = tuple(m.string)
    return singular, plural, gettext.c2py(po.plural_expr or "(n > 1)")


def catalog() -> Mapping[str, str]:
    """The French translations, msgid -> msgstr (empty translations left out)."""
    return _french()[0]


def plural_catalog() -> Mapping[str, tuple[str, ...]]:
    """The French plural translations, singular msgid -> (msgstr[0], msgstr[1], ...)."""
    return _french()[1]


def translate(message: str, locale: str | None, /, **values: Any) -> str:
    """`message` in `locale`, with `{name}` placeholders filled from `values`."""
    text = message
    if normalize_locale(locale) == "fr":
        text = catalog().get(message, message)
    return text.format(**values) if values else text


def _(message: str, /, **values: Any) -> str:
    """`message` in the current locale (see `get_locale`)."""
    return translate(message, get_locale(), **values)


def ntranslate(singular: str, plural: str, n: int, locale: str | None, /, **values: Any) -> str:
    """The form of a counted message for `n` in `locale`; `{count}` is `n` written for that locale
    unless given. English: 1 -> singular, else plural; French: the catalog's forms and plural rule."""
    code = normalize_locale(locale)
    text = singular if n == 1 else plural
    if code == "fr":
        forms = plural_catalog().get(singular)
        if forms:
            index = _french()[2](abs(int(n)))
            text = forms[min(index, len(forms) - 1)]
    values.setdefault("count", format_number(n, code))
    return text.format(**values)


def ngettext(singular: str, plural: str, n: int, /, **values: Any) -> str:
    """`ntranslate` in the current locale: `ngettext("1 entry", "{count} entries", total)`."""
    return ntranslate(singular, plural, n, get_locale(), **values)


def N_(message: str) -> str:
    """Mark a string for the catalog; translate it later with `_(...)`."""
    return message


CONTEXT_SEPARATOR = "\x04"  # gettext's: a message with a context is keyed 'context\x04message'


def _key(context: str | None, message: str) -> str:
    return f"{context}{CONTEXT_SEPARATOR}{message}" if context else message


def pgettext(context: str, message: str, locale: str | None = None, /, **values: Any) -> str:
    """`message` as meant in `context` (msgctxt), for words whose French depends on what they describe:
    `pgettext("payment", "Paid")` is 'Payé' where an invoice's 'Paid' is 'Payée'."""
    text = message
    if normalize_locale(locale or get_locale()) == "fr":
        text = catalog().get(_key(context, message), message)
    return text.format(**values) if values else text


def _reader(locale: str | None) -> str:
    return normalize_locale(locale or get_locale())


def format_date(value: date | datetime | None, locale: str | None = None) -> str:
    """A date for people, the one format everywhere: 'Dec 3, 2026' / '3 déc. 2026' ('' for None)."""
    if value is None:
        return ""

    day = value.astimezone(UTC).date() if isinstance(value, datetime) and value.tzinfo else value
    day = day.date() if isinstance(day, datetime) else day
    return babel_format_date(day, format="medium", locale=_reader(locale))


def format_time(value: datetime | None, locale: str | None = None) -> str:
    """A time of day for people, in UTC: '2:05 PM' / '14:05' ('' for None)."""
    if value is None:
        return ""

    return babel_format_time(_utc(value), format="short", tzinfo=UTC, locale=_reader(locale))


def format_datetime(value: datetime | None, locale: str | None = None) -> str:
    """A moment for people, in UTC: 'Dec 3, 2026, 2:05 PM UTC' / '3 déc. 2026, 14:05 UTC'."""
    if value is None:
        return ""

    code = _reader(locale)
    pattern = Locale.parse(code).datetime_formats["medium"]
    text = pattern.format(format_time(value, code), format_date(_utc(value), code))
    return f"{text} UTC"


def format_relative(
    value: date | datetime | None, now: date | datetime | None = None, locale: str | None = None
) -> str:
    """How long ago or ahead, for people: '3 days ago' / 'il y a 3 jours', 'in 2 hours' / 'dans 2 heures'.

    Dates (no time) count whole days, with 'today' for the same day."""
    if value is None:
        return ""

    code = _reader(locale)
    if isinstance(value, datetime):
        moment = now if isinstance(now, datetime) else datetime.now(UTC)
        delta = _utc(value) - _utc(moment)
    else:
        day = now if isinstance(now, date) and not isinstance(now, datetime) else None
        day = day or (now.date() if isinstance(now, datetime) else datetime.now(UTC).date())
        delta = timedelta(days=(value - day).days)
        if not delta:
            return translate(N_("today"), code)
    return format_timedelta(delta, add_direction=True, threshold=0.9, locale=code)


def format_number(value: float | int, locale: str | None = None) -> str:
    """A count or plain number for people: '1,300' / '1 300'."""
    return format_decimal(value, locale=_reader(locale))


def _utc(value: datetime) -> datetime:
    """Stored datetimes are UTC; a naive one is read as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


KEYWORDS = {
    "_": None,
    "N_": None,
    "translate": (1,),
    "ngettext": (1, 2),
    "ntranslate": (1, 2),
    "pgettext": ((1, "c"), 2),
}


def _extract(root: Path | None) -> dict[str | tuple[str, str], list[str]]:
    """Every marked message: msgid (or (singular, plural)) -> ['portal/x.py:12', ...]."""
    root = root or Path(__file__).parent
    found: dict[str | tuple[str, str], list[str]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(root),
        method_map=[("**.py", "python")],
        keywords=KEYWORDS,
        comment_tags=(),
        strip_comment_tags=True,
    ):
        if isinstance(message, str) and message:
            found.setdefault(_key(context, message), []).append(f"{filename}:{lineno}")
        elif isinstance(message, tuple) and len(message) == 2 and all(isinstance(m, str) for m in message):
            found.setdefault((message[0], message[1]), []).append(f"{filename}:{lineno}")
    return found


def extract_messages(root: Path | None = None) -> dict[str, list[str]]:
    """Every message the code marks for translation: msgid -> ['portal/x.py:12', ...]."""
    return {m: places for m, places in _extract(root).items() if isinstance(m, str)}


def extract_plural_messages(root: Path | None = None) -> dict[tuple[str, str], list[str]]:
    """Every counted message (`ngettext`, `ntranslate`): (singular, plural) -> places."""
    return {m: places for m, places in _extract(root).items() if isinstance(m, tuple)}


def update_catalog() -> tuple[int, int]:
    """Add messages missing from the catalog (empty translations) and refresh where each one is used;
    return (added, untranslated)."""
    if CATALOG_PATH.exists():
        with CATALOG_PATH.open("rb") as handle:
            po = read_po(handle, locale="fr")
    else:
        po = Catalog(locale="fr", project="billing-portal")
    added = 0
    for message, places in _extract(None).items():
        locations = [(p.rsplit(":", 1)[0], int(p.rsplit(":", 1)[1])) for p in places]
        context, msgid = "", message
        if isinstance(message, str):
            context, _sep, msgid = message.rpartition(CONTEXT_SEPARATOR)
        known = po.get(msgid, context=context or None)
        if known is not None:
            known.locations = locations  # files move: the comments follow the code
        else:
            blank = ("", "") if isinstance(msgid, tuple) else ""
            po.add(msgid, blank, locations=locations, context=context or None)
            added += 1
    CATALOG_PATH.parent.mkdir(parents=True, exist_ok=True)
    with CATALOG_PATH.open("wb") as handle:
        write_po(handle, po, width=0, omit_header=False, sort_output=True, include_lineno=False)
    _french.cache_clear()
    forms = [m.string if isinstance(m.string, tuple) else (m.string,) for m in po if m.id]
    untranslated = sum(1 for strings in forms if not all(strings))
    return added, untranslated


if __name__ == "__main__":
    new, missing = update_catalog()
    print(f"{new} message(s) added to {CATALOG_PATH}; {missing} without a French translation")
