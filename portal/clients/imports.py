"""Importing clients from a CSV file: a preview with a per-row report first, nothing written until staff
confirm, then the valid rows in one transaction.

Each row is checked by the client form's own rules (`profiles.check_form`: name, email, currency, language,
lengths), plus what only a file can get wrong: the same email twice in the file, or an email a client
already has. Confirming imports the rows without a problem and skips the others: someone with 200 rows
and two typos expects the 198 to arrive and a list of the two to fix, not to fix them first; the
confirmation says how many rows are skipped before it is pressed, and a corrected file can be uploaded
again, since the rows already imported are then reported as existing clients and skipped. Each preview
has a key: confirming it twice (a double click, two tabs) imports once.
"""

from __future__ import annotations

import csv
import io
import secrets
from dataclasses import dataclass, field
from typing import Any

from tortoise.transactions import in_transaction

from portal import i18n
from portal.clients import profiles
from portal.clients.profiles import ClientForm
from portal.core import audit
from portal.core.actors import Actor, require_staff
from portal.core.organization import get_organization
from portal.db.models import AuditEntry, Client, Organization
from portal.domain.errors import InvalidInput
from portal.i18n import _

MAX_BYTES = 1_000_000
MAX_ROWS = 2000
COLUMNS = ("name", "company", "email", "currency", "language", "address")
REQUIRED = ("name", "email")
ALIASES = {
    "locale": "language",
    "billing_address": "address",
    "billing address": "address",
    "e-mail": "email",
    "nom": "name",
    "société": "company",
    "entreprise": "company",
    "courriel": "email",
    "devise": "currency",
    "langue": "language",
    "adresse": "address",
}
LANGUAGES = {
    "en": "en",
    "english": "en",
    "anglais": "en",
    "fr": "fr",
    "french": "fr",
    "français": "fr",
    "francais": "fr",
}
FIELD_COLUMNS = {  # the client form's field -> the file's column
    "name": "name",
    "company": "company",
    "email": "email",
    "currency": "currency",
    "locale": "language",
    "billing_address": "address",
}
IMPORT_ACTION = "client.import"


@dataclass(frozen=True)
class RowProblem:
    """What is wrong in one column of one row."""

    column: str
    message: str


@dataclass(frozen=True)
class ImportRow:
    """One row of the file: what it says, the client it would create, and its problems."""

    number: int  # the row as a spreadsheet numbers it: the header is row 1
    values: dict[str, str]
    form: ClientForm
    problems: tuple[RowProblem, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the row will be imported."""
        return not self.problems


@dataclass(frozen=True)
class ImportPreview:
    """A checked file, not imported yet; `key` makes its confirmation happen once."""

    key: str
    filename: str
    rows: tuple[ImportRow, ...]
    ignored_columns: tuple[str, ...] = ()

    @property
    def valid(self) -> list[ImportRow]:
        """The rows that confirming imports."""
        return [row for row in self.rows if row.ok]

    @property
    def invalid(self) -> list[ImportRow]:
        """The rows that confirming skips."""
        return [row for row in self.rows if not row.ok]


@dataclass(frozen=True)
class ImportResult:
    """What a confirmation did (`repeated`: this preview had been imported already, nothing new)."""

    created: int
    skipped: int
    repeated: bool = False
    client_ids: tuple[int, ...] = field(default_factory=tuple)


def template_csv() -> str:
    """The file to fill in: the header row, in the order the import reads it."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(COLUMNS)
    return "\ufeff" + out.getvalue()


def _text(data: bytes) -> str:
    if not data:
        raise InvalidInput(_("The file is empty."), field="file")
    if len(data) > MAX_BYTES:
        raise InvalidInput(
            _(
                "The file is larger than {size}; split it into files of at most {rows} rows.",
                size="1 MB",
                rows=MAX_ROWS,
            ),
            field="file",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(
            _("The file is not UTF-8 text: save it as “CSV UTF-8” in your spreadsheet and upload it again."),
            field="file",
        ) from None


def _delimiter(text: str) -> str:
    """Comma, or the semicolon or tab a spreadsheet in another language writes, read from the header."""
    header = text.split("\n", 1)[0]
    return max((",", ";", "\t"), key=header.count)


def _columns(header: list[str]) -> tuple[dict[str, int], tuple[str, ...]]:
    """Which position holds each known column, and the columns the import ignores."""
    positions: dict[str, int] = {}
    ignored = []
    for index, title in enumerate(header):
        name = title.strip().lower()
        name = ALIASES.get(name, name)
        if name in COLUMNS and name not in positions:
            positions[name] = index
        elif title.strip():
            ignored.append(title.strip())
    missing = [name for name in REQUIRED if name not in positions]
    if missing:
        raise InvalidInput(
            _(
                "The first row must name the columns: {columns}. Missing: {missing}. "
                "Download the template to see the expected header.",
                columns=", ".join(COLUMNS),
                missing=", ".join(missing),
            ),
            field="file",
        )
    return positions, tuple(ignored)


def _parse(text: str) -> tuple[list[list[str]], dict[str, int], tuple[str, ...]]:
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text)))
    except csv.Error as exc:
        raise InvalidInput(
            _("The file is not a readable CSV file ({reason}).", reason=str(exc)), field="file"
        ) from None
    if not records or not any(cell.strip() for cell in records[0]):
        raise InvalidInput(_("The file is empty."), field="file")
    positions, ignored = _columns(records[0])
    body = records[1:]
    filled = sum(1 for record in body if any(cell.strip() for cell in record))
    if filled > MAX_ROWS:
        raise InvalidInput(
            _(
                "The file has {count} rows; import at most {limit} at a time (split the file).",
                count=filled,
                limit=MAX_ROWS,
            ),
            field="file",
        )
    if not filled:
        raise InvalidInput(_("The file has a header but no client rows."), field="file")
    return body, positions, ignored


def _language(value: str, default: str) -> tuple[str, str | None]:
    """The locale code of a language cell ('' = the organization's), or a problem."""
    word = value.strip().lower()
    if not word:
        return default, None
    code = LANGUAGES.get(word) or LANGUAGES.get(word.split("-")[0].split("_")[0])
    if code is None:
        return "", _(
            "'{value}' is not a supported language; use en (English) or fr (French).", value=value.strip()
        )
    return code, None


def _check_row(number: int, values: dict[str, str], currency: str, locale: str) -> ImportRow:
    language, language_problem = _language(values["language"], locale)
    code = values["currency"].strip()
    form = ClientForm(
        name=values["name"],
        company=values["company"],
        email=values["email"],
        currency=code or currency,
        billing_address=values["address"],
        locale=language or locale,
    )
    form, errors = profiles.check_form(form)
    problems = [RowProblem(FIELD_COLUMNS.get(name, name), message) for name, message in errors.items()]
    if code and "currency" in errors:  # the form's message speaks of a field, the file's of a value
        problems = [p for p in problems if p.column != "currency"]
        problems.append(
            RowProblem(
                "currency", _("'{code}' is not a known currency; use an ISO code like USD or EUR.", code=code)
            )
        )
    if language_problem:
        problems = [p for p in problems if p.column != "language"]
        problems.append(RowProblem("language", language_problem))
    return ImportRow(number=number, values=values, form=form, problems=tuple(problems))


async def _taken(emails: list[str]) -> dict[str, str]:
    """Email -> the name of the client who already has it (in chunks: one query per 500 emails)."""
    taken: dict[str, str] = {}
    unique = sorted(set(emails))
    for index in range(0, len(unique), 500):
        chunk = unique[index : index + 500]
        for email, name in await Client.filter(email__in=chunk).values_list("email", "name"):
            taken[str(email).lower()] = str(name)
    return taken


def _with(row: ImportRow, problem: RowProblem) -> ImportRow:
    return ImportRow(row.number, row.values, row.form, (*row.problems, problem))


async def preview_import(*, actor: Actor, data: bytes, filename: str = "") -> ImportPreview:
    """Staff: read and check a CSV file of clients; nothing is written. File-wide problems (empty, too
    large, not UTF-8, no header, too many rows) raise InvalidInput (field 'file')."""
    require_staff(actor)
    body, positions, ignored = _parse(_text(data))
    org = await get_organization()
    currency, locale = org.default_currency, i18n.normalize_locale(org.default_locale)
    rows: list[ImportRow] = []
    for offset, record in enumerate(body):
        if not any(cell.strip() for cell in record):
            continue
        values = {
            name: (record[positions[name]] if name in positions and positions[name] < len(record) else "")
            for name in COLUMNS
        }
        rows.append(_check_row(offset + 2, values, currency, locale))
    taken = await _taken([row.form.email for row in rows if row.form.email])
    first_row: dict[str, int] = {}
    checked: list[ImportRow] = []
    for row in rows:
        email = row.form.email
        if email and not any(p.column == "email" for p in row.problems):
            if email in first_row:
                row = _with(
                    row, RowProblem("email", _("This email is also on row {row}.", row=first_row[email]))
                )
            elif email in taken:
                row = _with(
                    row, RowProblem("email", _("{name} already uses this email address.", name=taken[email]))
                )
            first_row.setdefault(email, row.number)
        checked.append(row)
    return ImportPreview(
        key=secrets.token_urlsafe(16), filename=filename, rows=tuple(checked), ignored_columns=ignored
    )


async def confirm_import(*, actor: Actor, preview: ImportPreview) -> ImportResult:
    """Staff: create the preview's valid rows in one transaction, audited; a second confirmation of the
    same preview imports nothing and says what the first did. A row whose email a client has taken since
    the preview is skipped too."""
    require_staff(actor)
    subject = f"client_import:{preview.key}"
    async with in_transaction():
        await Organization.select_for_update().first()  # one import at a time (PostgreSQL); SQLite serialises
        done = await AuditEntry.filter(action=IMPORT_ACTION, subject=subject).first()
        if done is not None:
            details: dict[str, Any] = dict(done.details or {})
            return ImportResult(
                created=int(details.get("created", 0)),
                skipped=int(details.get("skipped", 0)),
                repeated=True,
                client_ids=tuple(details.get("client_ids", ())),
            )
        valid = preview.valid
        taken = await _taken([row.form.email for row in valid])
        created: list[int] = []
        for row in valid:
            form = row.form
            if form.email in taken:
                continue
            client = await Client.create(
                name=form.name,
                company=form.company,
                email=form.email,
                currency=form.currency,
                billing_address=form.billing_address,
                locale=form.locale,
                reminders_enabled=form.reminders_enabled,
            )
            created.append(client.id)
            await audit.record(
                actor=actor,
                action="client.create",
                subject=f"client:{client.id}",
                client_id=client.id,
                details={"name": form.name, "email": form.email, "currency": form.currency, "via": "import"},
            )
        skipped = len(preview.rows) - len(created)
        await audit.record(
            actor=actor,
            action=IMPORT_ACTION,
            subject=subject,
            details={
                "created": len(created),
                "skipped": skipped,
                "file": preview.filename,
                "client_ids": created,
            },
        )
    return ImportResult(created=len(created), skipped=skipped, client_ids=tuple(created))
