"""Break-it tests against the real server: foreign origins, cookie flags, protective headers."""

from __future__ import annotations

import base64
import os
import socket
import urllib.request
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import read_head, served_portal


def _raw_request(base_url: str, request: str) -> str:
    """Send one raw HTTP/1.1 request and return the status line and headers of the answer."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request.encode())
        return read_head(sock)


def _websocket_handshake(base_url: str, origin: str) -> str:
    host = urlsplit(base_url).netloc
    key = base64.b64encode(os.urandom(16)).decode()
    return _raw_request(
        base_url,
        f"GET /_nicegui_ws/socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        f"Sec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n",
    )


def test_a_websocket_from_a_foreign_origin_is_refused(portal_server: str) -> None:
    refused = _websocket_handshake(portal_server, "https://evil.example")
    assert refused.split(" ")[1] == "403", refused
    accepted = _websocket_handshake(portal_server, portal_server)
    assert accepted.split(" ")[1] == "101", accepted  # the portal's own pages still connect


def test_a_form_post_from_a_foreign_origin_is_refused(portal_server: str) -> None:
    host = urlsplit(portal_server).netloc
    body = "email=client%40demo.test&password=demo-password"
    answer = _raw_request(
        portal_server,
        f"POST /login HTTP/1.1\r\nHost: {host}\r\nOrigin: https://evil.example\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
        f"Connection: close\r\n\r\n{body}",
    )
    assert answer.split(" ")[1] == "403", answer
    polling = _raw_request(
        portal_server,
        f"GET /_nicegui_ws/socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: {host}\r\n"
        f"Origin: https://evil.example\r\nConnection: close\r\n\r\n",
    )
    assert polling.split(" ")[1] == "403", polling


def test_pages_carry_protective_headers_and_an_httponly_samesite_cookie(portal_server: str) -> None:
    with urllib.request.urlopen(f"{portal_server}/login", timeout=10) as response:
        headers = response.headers
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    cookie = headers["Set-Cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # plain http on loopback: a Secure cookie would never come back


@pytest.fixture(scope="module")
def https_portal() -> Iterator[str]:
    """A server whose public address is https (as behind a TLS proxy)."""
    https = {"PUBLIC_URL": "https://billing.example.com"}
    with served_portal("portal-https-", demo=False, env=https) as served:
        yield served.url


def test_behind_https_the_session_cookie_is_secure(https_portal: str) -> None:
    with urllib.request.urlopen(f"{https_portal}/login", timeout=10) as response:
        cookie = response.headers["Set-Cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    # the proxy's public origin is accepted for websockets, a foreign one is not
    assert _websocket_handshake(https_portal, "https://billing.example.com").split(" ")[1] == "101"
    assert _websocket_handshake(https_portal, "https://evil.example").split(" ")[1] == "403"
