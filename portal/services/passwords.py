"""Password hashing: the only module that imports passlib. Hashing runs off the event loop."""

from __future__ import annotations

import asyncio
from functools import lru_cache

from passlib.context import CryptContext

_context = CryptContext(schemes=["argon2"], deprecated="auto")
MIN_LENGTH = 10


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A real argon2 hash to verify against when the email is unknown (same cost as a wrong password)."""
    return _context.hash("unknown-user-dummy-password")


def check_strength(password: str) -> None:
    """Raise InvalidInput when a new password is too weak."""
    from portal.domain.errors import InvalidInput

    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"Use at least {MIN_LENGTH} characters.", field="password")


async def hash_password(password: str) -> str:
    """Hash a password with argon2 in a worker thread."""
    return await asyncio.to_thread(_context.hash, password)


async def verify_password(password: str, password_hash: str | None) -> bool:
    """Check a password; with no hash, burn the same time against a dummy hash and say no."""
    if not password_hash:
        await asyncio.to_thread(_context.verify, password, _dummy_hash())
        return False
    try:
        return await asyncio.to_thread(_context.verify, password, password_hash)
    except (ValueError, TypeError):
        return False


async def warm_up() -> None:
    """Compute the dummy hash once so the first unknown-email login is not slower than later ones."""
    await asyncio.to_thread(_dummy_hash)
