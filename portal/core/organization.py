"""The organization (the agency running the portal): one row, created on first use."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from portal.db.models import Organization

UPLOADS_DIR = Path(__file__).resolve().parents[2] / "data" / "uploads"
"""Where uploaded files (the logo) are kept; each has a random name and is served at UPLOADS_URL."""
UPLOADS_URL = "/uploads/"
UPLOAD_NAME = re.compile(r"^[0-9a-f]{32}\.png$")
"""The only file names an upload can have: 32 random hex digits, always re-encoded as PNG."""


def uploaded_file(url: str) -> Path | None:
    """The file behind an upload URL ('/uploads/<random>.png'), or None when it is not one or is missing."""
    name = url.removeprefix(UPLOADS_URL) if url.startswith(UPLOADS_URL) else ""
    if not UPLOAD_NAME.match(name):
        return None
    path = UPLOADS_DIR / name
    return path if path.is_file() else None


class _PageRead:
    """The organization row as read once for one page build (see `page_scope`)."""

    __slots__ = ("open", "org")

    def __init__(self) -> None:
        self.open = True
        self.org: Organization | None = None


_page_read: ContextVar[_PageRead | None] = ContextVar("organization_page_read", default=None)


@contextmanager
def page_scope() -> Iterator[None]:
    """Read the organization row at most once inside the block: the auth guard opens one around each page
    build, where the frame, the branding and every service asking for the gateway all need it. Tasks
    started inside the block (timers, refreshes) inherit it, so it is closed at the end and then ignored:
    after the page is built, every read goes to the database again."""
    scope = _PageRead()
    token = _page_read.set(scope)
    try:
        yield
    finally:
        scope.open, scope.org = False, None
        _page_read.reset(token)


def in_page_scope() -> bool:
    """True inside an open `page_scope` (where `get_organization` reads the row at most once)."""
    scope = _page_read.get()
    return scope is not None and scope.open


async def get_organization() -> Organization:
    """Return the organization row, creating it with defaults when the database is new (inside a
    `page_scope`, the row that scope already read)."""
    scope = _page_read.get()
    if scope is not None and scope.open and scope.org is not None:
        return scope.org
    # a plain read; get_or_create (a transaction around it) only on a new database
    org = await Organization.get_or_none(id=1)
    if org is None:
        org, _ = await Organization.get_or_create(id=1)
    if scope is not None and scope.open:
        scope.org = org
    return org
