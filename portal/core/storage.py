"""Where issued documents are kept: one small interface, a local (or shared, mounted) folder by default.

Several portal processes, on one machine or several sharing the folder, may write the same key at once:
a file is written to a temporary name in the key's folder and renamed over its key (atomic within one
file system), so a reader sees the whole old file, the whole new one, or none; never half a file. Keys are
made by the caller from ids and hashes (`invoice/42/<sha256>.pdf`), never from user
text, and are checked here before they touch the file system.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

from portal.config import get_settings

KEY = re.compile(r"[a-z0-9][a-z0-9-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*")
FILE_MODE = 0o640  # the portal's own user and group (several processes, one service account)


class MissingDocument(LookupError):
    """No file is stored under that key."""


class DocumentStore(Protocol):
    """A place to keep bytes under a key (blocking calls: run them in a thread from async code)."""

    def put(self, key: str, data: bytes) -> None:
        """Store `data` under `key`, replacing whatever was there in one step."""
        ...

    def get(self, key: str) -> bytes:
        """The bytes stored under `key`; MissingDocument when there are none."""
        ...

    def exists(self, key: str) -> bool:
        """Whether something is stored under `key`."""
        ...


class LocalFolderStore:
    """Files in a folder: `<root>/<key>`; the folder may be shared (NFS, SMB) by several machines."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        """The file of a key; ValueError for a key that could leave the folder or carry stray text."""
        if not KEY.fullmatch(key) or ".." in key:
            raise ValueError(f"not a storage key: {key!r}")
        return self.root / key

    def put(self, key: str, data: bytes) -> None:
        """Write to a temporary file beside the target, flush it to disk, rename it over the target."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, FILE_MODE)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        """The file's bytes."""
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            raise MissingDocument(key) from None

    def exists(self, key: str) -> bool:
        """Whether the file is there."""
        return self.path(key).is_file()


def document_store() -> DocumentStore:
    """The configured store: the folder DOCUMENTS_DIR names (see `Settings.documents_path`)."""
    return LocalFolderStore(get_settings().documents_path)
