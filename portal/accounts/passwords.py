"""Password hashing: the only module that imports passlib. Hashing runs off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any, TypeVar

from passlib.context import CryptContext

from portal.domain.errors import InvalidInput
from portal.i18n import _

T = TypeVar("T")

_context = CryptContext(schemes=["argon2"], deprecated="auto")
MIN_LENGTH = 10
_HASH = re.compile(r"\$argon2[a-z]*\$[^\s'\",\])]+")


class _HideHashes(logging.Filter):
    """The database drivers log every query's values at DEBUG: a password hash written to `user` is
    masked in those lines (it would otherwise reach any DEBUG log, where it can be cracked offline)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "$argon2" in message:
            record.msg, record.args = _HASH.sub("$argon2$<hidden>", message), ()
        return True


_hide_hashes = _HideHashes()
for _logger in ("tortoise.db_client", "aiosqlite"):
    logging.getLogger(_logger).addFilter(_hide_hashes)


def _yield_to_the_loop() -> None:
    """Run this hashing thread, and the argon2 lane threads it starts (they inherit it), at a lower CPU
    priority (nice 10), so that the event loop's thread still gets a core at once while sign-ins hash."""
    with contextlib.suppress(AttributeError, OSError):  # not on every OS
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


# Hashing has its own few threads: at most one per core but one (and four, argon2 takes 64 MiB each),
# so that a burst of sign-ins queues here instead of taking every core from the event loop.
_hashing = ThreadPoolExecutor(
    max_workers=max(1, min(4, (os.cpu_count() or 2) - 1)),
    thread_name_prefix="password-hash",
    initializer=_yield_to_the_loop,
)


async def _off_the_loop(function: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(_hashing, function, *args)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A real argon2 hash to verify against when the email is unknown (same cost as a wrong password)."""
    return _context.hash("unknown-user-dummy-password")


def check_strength(password: str) -> None:
    """Raise InvalidInput when a new password is too weak."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(_("Use at least {count} characters.", count=MIN_LENGTH), field="password")


async def hash_password(password: str) -> str:
    """Hash a password with argon2 in a hashing thread."""
    return await _off_the_loop(_context.hash, password)


async def verify_password(password: str, password_hash: str | None) -> bool:
    """Check a password; with no hash, burn the same time against a dummy hash and say no."""
    if not password_hash:
        await _off_the_loop(_context.verify, password, _dummy_hash())
        return False
    try:
        return await _off_the_loop(_context.verify, password, password_hash)
    except (ValueError, TypeError):
        return False


async def warm_up() -> None:
    """Compute the dummy hash once so the first unknown-email login is not slower than later ones."""
    await _off_the_loop(_dummy_hash)
