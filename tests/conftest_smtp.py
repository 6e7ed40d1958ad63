"""The `smtp_sink` fixtures: an aiosmtpd server on 127.0.0.1 per test (see tests/smtp_sink.py).

Load them with `pytest_plugins = ["tests.conftest_smtp"]`. `smtp_sink` also points the portal's default
SMTP settings (SMTP_HOST, SMTP_PORT, SMTP_TLS, SMTP_FROM, no login) at the sink. `make_smtp_sink` starts
more sinks (with AUTH, for instance) that are stopped at the end of the test.

With CI=true a sink that does not start is an error, never a skip; elsewhere the test is skipped with
the reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from tests.smtp_sink import DEFAULT_FROM, SmtpSink


def _start(sink: SmtpSink) -> SmtpSink:
    try:
        return sink.start()
    except Exception as exc:
        if os.environ.get("CI", "").lower() == "true":
            raise
        pytest.skip(f"the SMTP sink could not start on 127.0.0.1: {exc!r}")


@pytest.fixture
def make_smtp_sink() -> Iterator[Callable[..., SmtpSink]]:
    """A factory: `make_smtp_sink(username="u", password="p")` returns a started sink."""
    started: list[SmtpSink] = []

    def make(*, username: str | None = None, password: str | None = None) -> SmtpSink:
        sink = _start(SmtpSink(username=username, password=password))
        started.append(sink)
        return sink

    try:
        yield make
    finally:
        for sink in started:
            sink.stop()


@pytest.fixture
def smtp_sink(make_smtp_sink: Callable[..., SmtpSink], monkeypatch: pytest.MonkeyPatch) -> SmtpSink:
    """A started sink without AUTH that the default SMTP settings point at."""
    sink = make_smtp_sink()
    monkeypatch.setenv("SMTP_HOST", sink.host)
    monkeypatch.setenv("SMTP_PORT", str(sink.port))
    monkeypatch.setenv("SMTP_TLS", "none")
    monkeypatch.setenv("SMTP_FROM", DEFAULT_FROM)
    monkeypatch.setenv("SMTP_USERNAME", "")
    monkeypatch.setenv("SMTP_PASSWORD", "")
    return sink
