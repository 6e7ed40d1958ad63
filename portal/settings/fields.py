"""What every settings form shares: trimmed text checks, all field errors at once, audited updates."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from tortoise.transactions import in_transaction

from portal.core import audit
from portal.core.actors import Actor
from portal.db.models import Organization
from portal.domain.errors import InvalidFields, InvalidInput
from portal.i18n import _

NAME_MAX = 200


def clean_text(value: str | None, *, field: str, label: str, max_length: int, required: bool = False) -> str:
    """Trimmed text (line breaks normalised); InvalidInput when empty but required, too long, or binary."""
    text = (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if required and not text:
        raise InvalidInput(_("Enter {label}.", label=label), field=field)
    if len(text) > max_length:
        raise InvalidInput(
            _("{label} is too long ({most} characters at most).", label=label.capitalize(), most=max_length),
            field=field,
        )
    if any(not ch.isprintable() and ch not in "\n\t" for ch in text):
        raise InvalidInput(
            _("{label} contains characters that cannot be shown.", label=label.capitalize()), field=field
        )
    return text


def raise_if_any(errors: dict[str, str | None]) -> None:
    problems = {field: message for field, message in errors.items() if message}
    if problems:
        raise InvalidFields(problems)


def collect(errors: dict[str, str | None], field: str, check) -> object:
    """Run `check()`; an InvalidInput goes into `errors[field]` and the result is None."""
    try:
        return check()
    except InvalidInput as exc:
        errors[field] = exc.message
        return None


async def save_fields(org: Organization, fields: Iterable[str]) -> None:
    await org.save(update_fields=[*fields, "updated_at"])


Details = Callable[[list[str]], dict[str, object]]


def audit_details(changed: list[str], clean: Mapping[str, object], *fields: str) -> dict[str, object]:
    """Audit details: which fields changed, and the new values of `fields` among them."""
    return {"changed": changed, **{field: clean[field] for field in fields if field in changed}}


async def update_fields(
    org: Organization, clean: Mapping[str, object], actor: Actor, action: str, details: Details
) -> None:
    """Write the fields of `clean` that differ from `org` in one transaction, audited as `action` with
    `details(changed fields)`; nothing at all when none differ."""
    changed = [field for field, value in clean.items() if getattr(org, field) != value]
    if changed:
        async with in_transaction():
            for field in changed:
                setattr(org, field, clean[field])
            await save_fields(org, changed)
            await audit.record(actor=actor, action=action, details=details(changed))
