"""The documents store: a folder several processes share, written whole or not at all, under checked keys;
and where it is by default (DOCUMENTS_DIR, else beside the SQLite database)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from portal.config import Settings
from portal.core.storage import LocalFolderStore, MissingDocument


def test_bytes_come_back_as_stored_and_a_put_replaces_them_whole(tmp_path: Path) -> None:
    store = LocalFolderStore(tmp_path / "documents")
    key = "invoice/42/" + "ab" * 32 + ".pdf"
    assert not store.exists(key)
    with pytest.raises(MissingDocument):
        store.get(key)
    store.put(key, b"%PDF-1 first")
    store.put(key, b"%PDF-1 second, longer")
    assert store.exists(key) and store.get(key) == b"%PDF-1 second, longer"
    assert [p.name for p in (tmp_path / "documents" / "invoice" / "42").iterdir()] == ["ab" * 32 + ".pdf"]


@pytest.mark.parametrize(
    "key",
    [
        "../outside.pdf",
        "invoice/../../etc/passwd",
        "/etc/passwd",
        "invoice/42/My Invoice.pdf",
        "",
        "Invoice/1",
    ],
)
def test_a_key_that_could_leave_the_folder_or_carries_stray_text_is_refused(tmp_path: Path, key: str) -> None:
    store = LocalFolderStore(tmp_path)
    with pytest.raises(ValueError, match="not a storage key"):
        store.put(key, b"x")
    assert list(tmp_path.iterdir()) == []


def test_a_reader_never_sees_half_a_file_while_another_process_writes_it(tmp_path: Path) -> None:
    store = LocalFolderStore(tmp_path)
    key = "receipt/7/" + "cd" * 32 + ".pdf"
    whole = {b"a" * 2_000_000, b"b" * 3_000_000}
    store.put(key, b"a" * 2_000_000)
    done = threading.Event()

    def write() -> None:
        for blob in [b"b" * 3_000_000, b"a" * 2_000_000] * 10:
            store.put(key, blob)
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    seen = 0
    while not done.is_set():
        assert store.get(key) in whole
        seen += 1
    writer.join()
    assert seen > 0
    assert [p.name for p in (tmp_path / "receipt" / "7").iterdir()] == ["cd" * 32 + ".pdf"]  # no temp left


def test_documents_live_beside_the_sqlite_database_unless_documents_dir_says_where() -> None:
    assert Settings(database_url="sqlite://data/portal.sqlite3").documents_path == Path("data/documents")
    assert Settings(database_url="sqlite:///srv/portal/db.sqlite3").documents_path == Path(
        "/srv/portal/documents"
    )
    assert Settings(database_url="postgres://u@db:5432/portal").documents_path == Path("data/documents")
    shared = Settings(database_url="postgres://u@db:5432/portal", documents_dir="/mnt/shared/documents")
    assert shared.documents_path == Path("/mnt/shared/documents")
