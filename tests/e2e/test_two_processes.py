"""Two portal processes on one PostgreSQL and one Redis, as deployed behind a proxy with sticky sessions.

Both processes run every job every second. Each reminder, billing-request expiry and outbox email must
happen exactly once (checked in the database and in what the SMTP sink received), and a sign-in made
on one process must be valid on the other (shared session storage in Redis).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e.conftest import REPO_ROOT, _free_port, _login_status, _run_cli, _server_env, _tail
from tests.e2e.test_login_e2e import CLIENT_EMAIL, DEMO_PASSWORD, _path_is, _sign_in, _wait
from tests.smtp_sink import SmtpSink

POSTGRES = os.environ.get("TEST_POSTGRES_URL") or "postgres://postgres@127.0.0.1:5432/test"
REDIS = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"
DATABASE = "portal_two_processes"
SETTLE_SECONDS = 90.0


def _unavailable(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


async def _sql(url: str, *statements: str) -> list[list[tuple]]:
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        results = []
        for statement in statements:
            results.append([tuple(row) for row in await connection.fetch(statement)])
        return results
    finally:
        await connection.close()


def _sql_now(url: str, *statements: str) -> list[list[tuple]]:
    return asyncio.run(_sql(url, *statements))


def _database_url() -> str:
    base = POSTGRES.rsplit("/", 1)[0]
    try:
        _sql_now(
            f"{base}/postgres",
            f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)",
            f"CREATE DATABASE {DATABASE}",
        )
    except Exception as exc:
        _unavailable(f"PostgreSQL is not answering at {base}: {exc}")
    return f"{base}/{DATABASE}"


def _check_redis() -> None:
    import redis

    try:
        redis.from_url(REDIS).ping()
    except Exception as exc:
        _unavailable(f"Redis is not answering at {REDIS}: {exc}")


@pytest.fixture(scope="module")
def sink() -> Iterator[SmtpSink]:
    smtp = SmtpSink().start()
    try:
        yield smtp
    finally:
        smtp.stop()


@pytest.fixture(scope="module")
def two_portals(sink: SmtpSink) -> Iterator[tuple[str, str, str]]:
    """Migrate and load the demo once, make work due for every job, start two processes; yield urls."""
    _check_redis()
    database_url = _database_url()
    env = _server_env(database_url)
    _run_cli(["migrate"], env)
    _run_cli(["demo"], env)
    # Work that is due now: a pending billing request past its 24 hours, an invoice due in 3 days.
    _sql_now(
        database_url,
        "UPDATE billing_request SET expires_at = now() - interval '1 minute', description = 'due for expiry' "
        "WHERE id = (SELECT min(id) FROM billing_request WHERE status = 'pending')",
        "UPDATE invoice SET due_date = current_date + 3 "
        "WHERE id = (SELECT min(id) FROM invoice WHERE status = 'open')",
        "UPDATE organization SET reminders_enabled = true, reminder_offsets = '[-3, 0, 7]'",
    )
    workdir = Path(tempfile.mkdtemp(prefix="portal-two-"))
    prefix = f"portal-test-{uuid.uuid4().hex[:8]}:"
    processes: list[tuple[subprocess.Popen, Path]] = []
    urls = []
    try:
        for name in ("a", "b"):
            port = _free_port()
            process_env = _server_env(database_url, port)
            process_env.update(
                JOBS_ENABLED="true",
                JOBS_INTERVAL_SECONDS="1",
                AUTO_MIGRATE="false",
                NICEGUI_REDIS_URL=REDIS,
                NICEGUI_REDIS_KEY_PREFIX=prefix,
                SMTP_HOST="127.0.0.1",
                SMTP_PORT=str(sink.port),
                SMTP_TLS="none",
                PUBLIC_URL=f"http://127.0.0.1:{port}",
            )
            log_path = workdir / f"{name}.log"
            process = subprocess.Popen(
                [sys.executable, "main.py"],
                cwd=REPO_ROOT,
                env=process_env,
                stdout=log_path.open("w"),
                stderr=subprocess.STDOUT,
            )
            processes.append((process, log_path))
            urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 90
        for (process, log_path), url in zip(processes, urls, strict=True):
            while _login_status(f"{url}/login") != 200:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"portal process did not start:\n{_tail(log_path)}", pytrace=False)
                time.sleep(0.25)
        yield urls[0], urls[1], database_url
    finally:
        for process, _log in processes:
            process.terminate()
        for process, _log in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_for(predicate, what: str, timeout: float = SETTLE_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}", pytrace=False)
        time.sleep(0.5)


def test_each_expiry_reminder_and_email_happens_once_with_two_processes(
    two_portals: tuple[str, str, str], sink: SmtpSink
) -> None:
    _a, _b, database_url = two_portals

    def settled() -> bool:
        pending_expired, reminders, unsent = _sql_now(
            database_url,
            "SELECT count(*) FROM billing_request WHERE status = 'pending' AND expires_at < now()",
            "SELECT count(*) FROM reminder_sent",
            "SELECT count(*) FROM outbox_email WHERE status <> 'sent'",
        )
        return pending_expired[0][0] == 0 and reminders[0][0] > 0 and unsent[0][0] == 0

    _wait_for(settled, "the jobs to expire the request, send the reminders and empty the outbox")
    time.sleep(5)  # several more job rounds on both processes: nothing more may happen

    expired_now, reminder_rows, outbox = _sql_now(
        database_url,
        "SELECT count(*) FROM billing_request WHERE status = 'expired' AND description = 'due for expiry'",
        "SELECT invoice_id, offset_days, count(*) FROM reminder_sent GROUP BY invoice_id, offset_days",
        "SELECT message_id, kind FROM outbox_email",
    )
    assert expired_now[0][0] == 1, "the overdue billing request was not expired"
    assert all(count == 1 for *_key, count in reminder_rows), reminder_rows

    received = Counter(sink.message_ids())
    duplicates = {message_id: n for message_id, n in received.items() if n > 1}
    assert not duplicates, f"emails delivered more than once: {duplicates}"
    sent_ids = {message_id for message_id, _kind in outbox}
    assert sent_ids == set(received), "every outbox email reaches the sink, and nothing else does"
    kinds = Counter(kind for _id, kind in outbox)
    assert kinds["reminder"] >= 1, kinds
    assert kinds["billing_request_expired"] == expired_now[0][0], kinds


def test_a_sign_in_on_one_process_is_valid_on_the_other(
    two_portals: tuple[str, str, str], browser: WebDriver
) -> None:
    first, second, _db = two_portals
    _sign_in(browser, first, CLIENT_EMAIL, DEMO_PASSWORD)
    _wait(browser).until(_path_is("/billing"))
    # Cookies are scoped by host, not port: the same session cookie now goes to the second process.
    browser.get(f"{second}/billing")
    _wait(browser).until(lambda driver: "My Billing" in driver.page_source)
    assert urlsplit(browser.current_url).path == "/billing"
