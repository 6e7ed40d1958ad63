"""The payment reminder schedule, and switching reminders off for one client."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from tortoise.transactions import in_transaction

from portal.core import audit
from portal.core.actors import Actor, require_admin, require_staff
from portal.core.organization import get_organization
from portal.db.models import Client, Organization
from portal.domain.errors import InvalidInput, NotFound
from portal.i18n import _
from portal.settings.fields import save_fields

REMINDER_MAX_BEFORE = 60
REMINDER_MAX_AFTER = 365
REMINDERS_MAX = 10
_DAYS = re.compile(r"^\d{1,4}$")


@dataclass(frozen=True)
class RemindersView:
    """The reminder schedule: days relative to the due date (negative = before), sorted."""

    enabled: bool
    offsets: list[int]


def describe_offset(days: int) -> str:
    """'3 days before the due date', 'On the due date', '1 day after the due date'."""
    if days == 0:
        return _("On the due date")
    if days == -1:
        return _("1 day before the due date")
    if days == 1:
        return _("1 day after the due date")
    if days < 0:
        return _("{days} days before the due date", days=-days)
    return _("{days} days after the due date", days=days)


def _reminders_view(org: Organization) -> RemindersView:
    offsets = sorted({int(n) for n in (org.reminder_offsets or []) if isinstance(n, int)})
    return RemindersView(enabled=org.reminders_enabled, offsets=offsets)


def _check_offsets(offsets: Sequence[int]) -> list[int]:
    clean: list[int] = []
    for value in offsets:
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidInput(_("A reminder is a whole number of days."), field="offsets")
        if not -REMINDER_MAX_BEFORE <= value <= REMINDER_MAX_AFTER:
            raise InvalidInput(
                _(
                    "A reminder can be sent at most {before} days before or {after} days after the due date.",
                    before=REMINDER_MAX_BEFORE,
                    after=REMINDER_MAX_AFTER,
                ),
                field="offsets",
            )
        if value in clean:
            raise InvalidInput(
                _("There is already a reminder {when}.", when=describe_offset(value).lower()), field="offsets"
            )
        clean.append(value)
    if len(clean) > REMINDERS_MAX:
        raise InvalidInput(
            _("At most {most} reminders can be scheduled.", most=REMINDERS_MAX), field="offsets"
        )
    return sorted(clean)


async def get_reminders(*, actor: Actor) -> RemindersView:
    """The reminder schedule."""
    require_admin(actor)
    return _reminders_view(await get_organization())


async def update_reminders(*, actor: Actor, enabled: bool, offsets: Sequence[int]) -> RemindersView:
    """Switch reminders on or off and set the days (relative to the due date) they are sent on."""
    require_admin(actor)
    clean = _check_offsets(offsets)
    org = await get_organization()
    current = _reminders_view(org)
    if current.enabled == bool(enabled) and current.offsets == clean and org.reminder_offsets == clean:
        return current
    async with in_transaction():
        org.reminders_enabled = bool(enabled)
        org.reminder_offsets = clean
        await save_fields(org, ["reminders_enabled", "reminder_offsets"])
        await audit.record(
            actor=actor, action="settings.reminders", details={"enabled": bool(enabled), "offsets": clean}
        )
    return _reminders_view(org)


def reminder_offset(days: str | int, when: str) -> int:
    """The offset for 'N days before/after the due date' or 'on the due date' (when: before | on | after)."""
    if when == "on":
        return 0
    if when not in ("before", "after"):
        raise InvalidInput(_("Choose before, on or after the due date."), field="when")
    text = str(days if days is not None else "").strip()
    if not _DAYS.match(text) or int(text) == 0:
        raise InvalidInput(_("Enter the number of days as a whole number above zero."), field="days")
    return -int(text) if when == "before" else int(text)


async def add_reminder(*, actor: Actor, days: str | int, when: str) -> RemindersView:
    """Add one reminder to the schedule ('3' + 'before' = three days before the due date)."""
    require_admin(actor)
    offset = reminder_offset(days, when)
    current = _reminders_view(await get_organization())
    try:
        return await update_reminders(
            actor=actor, enabled=current.enabled, offsets=[*current.offsets, offset]
        )
    except InvalidInput as exc:
        raise InvalidInput(exc.message, field="days") from None


async def remove_reminder(*, actor: Actor, offset: int) -> RemindersView:
    """Take one reminder off the schedule."""
    require_admin(actor)
    current = _reminders_view(await get_organization())
    if offset not in current.offsets:
        raise NotFound(_("That reminder is not in the schedule."))
    return await update_reminders(
        actor=actor, enabled=current.enabled, offsets=[n for n in current.offsets if n != offset]
    )


async def set_reminders_enabled(*, actor: Actor, enabled: bool) -> RemindersView:
    """Switch every reminder on or off (the schedule is kept)."""
    require_admin(actor)
    current = _reminders_view(await get_organization())
    return await update_reminders(actor=actor, enabled=enabled, offsets=current.offsets)


async def set_client_reminders(*, actor: Actor, client_id: int, enabled: bool) -> bool:
    """Send (or stop sending) payment reminders to one client; staff manage this on the client's record."""
    require_staff(actor)
    async with in_transaction():
        client = await Client.select_for_update().get_or_none(id=client_id)
        if client is None:
            raise NotFound(_("That client does not exist."))
        if client.reminders_enabled != bool(enabled):
            client.reminders_enabled = bool(enabled)
            await client.save(update_fields=["reminders_enabled"])
            await audit.record(
                actor=actor,
                action="client.reminders",
                subject=f"client:{client.id}",
                client_id=client.id,
                details={"enabled": bool(enabled)},
            )
    return bool(enabled)
