"""Typed domain errors that services raise and pages turn into clear messages."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a user may be shown."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """The record does not exist, or the actor may not know that it does."""

    def __init__(self, message: str = "Not found.") -> None:
        super().__init__(message)


class Forbidden(DomainError):
    """The actor is known but not allowed to do this."""

    def __init__(self, message: str = "You are not allowed to do this.") -> None:
        super().__init__(message)


class InvalidInput(DomainError):
    """A value the user typed is wrong; `field` names the input it belongs to."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Conflict(DomainError):
    """The request clashes with the current state (already paid, expired, locked out...)."""


class CurrencyMismatch(InvalidInput):
    """Arithmetic or allocation across two currencies."""


class IllegalTransition(Conflict):
    """A status change the transition table does not allow."""
