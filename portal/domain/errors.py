"""Typed domain errors that services raise and pages turn into clear messages."""

from __future__ import annotations

from portal.i18n import N_, _

NOT_FOUND = N_("Not found.")
NOT_ALLOWED = N_("You are not allowed to do this.")


class DomainError(Exception):
    """Base of every error a user may be shown."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """The record does not exist, or the actor may not know that it does."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(_(NOT_FOUND) if message is None else message)


class Forbidden(DomainError):
    """The actor is known but not allowed to do this."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(_(NOT_ALLOWED) if message is None else message)


class InvalidInput(DomainError):
    """A value the user typed is wrong; `field` names the input it belongs to."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidFields(InvalidInput):
    """Several inputs are wrong at once: `errors` maps each field to its message.

    `field` and `message` are those of the first problem, so it can be handled as any InvalidInput.
    """

    def __init__(self, errors: dict[str, str]) -> None:
        field, message = next(iter(errors.items()))
        super().__init__(message, field=field)
        self.errors = dict(errors)


class Conflict(DomainError):
    """The request clashes with the current state (already paid, expired, locked out...)."""


class CurrencyMismatch(InvalidInput):
    """Arithmetic or allocation across two currencies."""


class IllegalTransition(Conflict):
    """A status change the transition table does not allow."""
