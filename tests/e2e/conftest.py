"""End-to-end fixtures: a real portal server on loopback and a real headless Chromium.

The server runs as a subprocess against a fresh SQLite database holding the demo data; the
browser is driven through selenium and chromedriver (both from Debian packages).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from portal import i18n
from tests.support import copy_template

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
STARTUP_TIMEOUT = 60.0
# NiceGUI changes behaviour when it believes it runs under pytest: keep these out of the server.
TEST_ONLY_VARIABLES = ("PYTEST_CURRENT_TEST", "NICEGUI_USER_SIMULATION", "NICEGUI_SCREEN_TEST_PORT")


# The log of every portal server started here, so that each test can be failed on what its servers logged.
SERVER_LOGS: list[Path] = []
# a traceback, or a line logged at ERROR or CRITICAL by Python's logging or by uvicorn
PROBLEM_MARKERS = ("Traceback (most recent call last)", "ERROR", "CRITICAL")


def server_problems(text: str) -> list[str]:
    """The lines of a server log that show a traceback or an error."""
    return [line for line in text.splitlines() if any(marker in line for marker in PROBLEM_MARKERS)]


@pytest.fixture(autouse=True)
def no_locale_leak() -> Iterator[None]:
    """Fail the test that leaves another locale behind (`i18n.set_locale` in a test): every test after it
    in the same run would read French, as a CI run did (use `i18n.locale_scope`)."""
    before = i18n.get_locale()
    yield
    after = i18n.get_locale()
    assert after == before, f"the test left the locale at {after!r} (use i18n.locale_scope)"


@pytest.fixture(autouse=True)
def no_server_errors() -> Iterator[None]:
    """Fail the test when a portal server logged a traceback or an error while it ran (the page may look
    fine while a handler failed behind it)."""
    sizes = {path: path.stat().st_size if path.exists() else 0 for path in SERVER_LOGS}
    yield
    found = []
    for path in list(SERVER_LOGS):
        if not path.exists():
            continue
        with path.open(errors="replace") as log:
            log.seek(sizes.get(path, 0))
            text = log.read()
        if server_problems(text):
            found.append(f"{path}:\n{text[-6000:]}")
    if found:
        pytest.fail("The portal server logged an error during this test:\n" + "\n".join(found), pytrace=False)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(could not read {path}: {exc})"


def _server_env(database_url: str, port: int | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in TEST_ONLY_VARIABLES}
    env["DATABASE_URL"] = database_url
    env["JOBS_ENABLED"] = "false"
    env["PYTHONUNBUFFERED"] = "1"
    if port is not None:
        env["HOST"] = "127.0.0.1"
        env["PORT"] = str(port)
        env["PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    return env


def _run_cli(args: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "portal", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"`python -m portal {' '.join(args)}` failed with exit code {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}",
            pytrace=False,
        )


def _login_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


@dataclass(frozen=True)
class ServedPortal:
    """A portal server started by `served_portal`: its address, its database, and what `prepare` printed."""

    url: str
    database_url: str
    workdir: Path
    prepared: str = ""


@contextmanager
def served_portal(
    prefix: str,
    *,
    demo: bool = True,
    prepare: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[ServedPortal]:
    """Start `main.py` on a free loopback port over a fresh SQLite database (migrated, with the demo data
    unless `demo` is False). `prepare` (arguments for this Python, run in the repository with DATABASE_URL set
    and the database URL as its last argument) runs before the server starts; its output is kept. `env` adds
    or overrides the server's variables."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    # a copy of the run's migrated template (with the demo data unless `demo` is False): `portal migrate` and
    # `portal demo` run once per test run, not once per server
    database_url = copy_template(workdir / "portal.sqlite3", with_demo=demo)
    prepared = ""
    if prepare is not None:
        result = subprocess.run(
            [sys.executable, *prepare, database_url],
            cwd=REPO_ROOT,
            env=_server_env(database_url),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            pytest.fail(f"preparing the data failed:\n{result.stdout}\n{result.stderr}", pytrace=False)
        prepared = result.stdout
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = workdir / "server.log"
    log = log_path.open("w")
    SERVER_LOGS.append(log_path)
    process = subprocess.Popen(
        [sys.executable, "main.py"],
        cwd=REPO_ROOT,
        env={**_server_env(database_url, port), **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"The portal server exited with code {process.returncode} during startup.\n"
                    f"Server output ({log_path}):\n{_tail(log_path)}",
                    pytrace=False,
                )
            if _login_status(f"{base_url}/login") == 200:
                break
            if time.monotonic() > deadline:
                pytest.fail(
                    f"The portal server did not answer GET /login with 200 within {STARTUP_TIMEOUT:.0f} s.\n"
                    f"Server output ({log_path}):\n{_tail(log_path)}",
                    pytrace=False,
                )
            time.sleep(0.25)
        yield ServedPortal(base_url, database_url, workdir, prepared)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()
        problems = server_problems(_tail(log_path, 100000))
        SERVER_LOGS.remove(log_path)
        shutil.rmtree(workdir, ignore_errors=True)
    if problems:  # logged after the test's own check (while stopping, say)
        pytest.fail("The portal server logged an error:\n" + "\n".join(problems[-40:]), pytrace=False)


def read_head(sock: socket.socket) -> str:
    """Read an HTTP answer from a raw socket up to the end of its headers; return the status and headers."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n\r\n", 1)[0].decode("latin-1")


@pytest.fixture(scope="session")
def tour_portal() -> Iterator[ServedPortal]:
    """A demo portal that only the page tours use (accessibility, phone widths): nothing pays its invoices,
    so the records they open are there whatever order the tests run in."""
    with served_portal("portal-tour-") as served:
        yield served


@pytest.fixture(scope="session")
def portal_server() -> Iterator[str]:
    """Start the portal with the demo data on a free loopback port; yield its base URL."""
    with served_portal("portal-e2e-") as served:
        yield served.url


@contextmanager
def chromium(prefix: str = "portal-e2e-chromium-") -> Iterator[WebDriver]:
    """A fresh headless Chromium (its own profile directory, so its own cookies) driven by selenium."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).exists()]
    if missing:
        message = (
            f"End-to-end tests need Chromium and chromedriver; missing: {', '.join(missing)} "
            "(install the Debian packages `chromium` and `chromium-driver`)."
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        # The only allowed skip: on a developer machine without Chromium. CI=true turns it into a failure.
        pytest.skip(message)

    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    profile_dir = tempfile.mkdtemp(prefix=prefix)
    options = Options()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--window-size=1280,900",
        f"--user-data-dir={profile_dir}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile_dir, ignore_errors=True)


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    """A fresh headless Chromium for the test."""
    with chromium() as driver:
        yield driver


@pytest.fixture
def artifacts_dir() -> Path:
    """`artifacts/` under the repository root (created if needed): screenshots go here."""
    path = REPO_ROOT / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path
