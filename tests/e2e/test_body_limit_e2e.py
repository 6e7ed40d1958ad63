"""Against the real server (uvicorn): an oversized body is answered 413 before it is read whole.

A declared Content-Length over MAX_BODY_BYTES is refused before a single byte of the body is sent; a
chunked body (no Content-Length) is refused as soon as it passes the bound, while the sender is still
sending. Nothing is stored, and a body within the bound still reaches the route.
"""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

from tests.e2e.conftest import read_head

MIB = 1024 * 1024


def _connect(base_url: str) -> socket.socket:
    parts = urlsplit(base_url)
    return socket.create_connection((parts.hostname, parts.port), timeout=10)


def _head(base_url: str, path: str, extra: str) -> str:
    host = urlsplit(base_url).netloc
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Stripe-Signature: t={int(time.time())},v1=00\r\n{extra}\r\n"
    )


def test_a_declared_2_mib_webhook_is_refused_before_its_body_is_sent(portal_server: str) -> None:
    with _connect(portal_server) as sock:
        sock.sendall(_head(portal_server, "/webhooks/stripe", f"Content-Length: {2 * MIB}\r\n").encode())
        answer = read_head(sock)  # nothing of the body was sent: the answer cannot have waited for it
    assert answer.split(" ")[1] == "413", answer
    assert "content-security-policy" in answer.lower()


def test_a_chunked_oversized_webhook_is_refused_while_it_is_still_being_sent(portal_server: str) -> None:
    chunk = b"x" * (64 * 1024)
    sent = 0
    with _connect(portal_server) as sock:
        sock.sendall(_head(portal_server, "/webhooks/stripe", "Transfer-Encoding: chunked\r\n").encode())
        sock.settimeout(0.05)
        while sent < 8 * MIB:
            try:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            except (TimeoutError, BrokenPipeError, ConnectionResetError):
                break  # the server stopped reading
            sent += len(chunk)
            try:
                if sock.recv(1, socket.MSG_PEEK):
                    break  # the server answered before the end of the body
            except TimeoutError:
                continue
        sock.settimeout(10)
        answer = read_head(sock)
    assert answer.split(" ")[1] == "413", answer
    assert sent < 4 * MIB  # refused soon after the 1 MiB bound, long before the 8 MiB the sender had


def test_every_other_route_refuses_an_oversized_body_too(portal_server: str) -> None:
    # socket.io's polling transport reads posted bodies whole; the others would refuse the method later
    for path in ["/_nicegui_ws/socket.io/?EIO=4&transport=polling&sid=x", "/auth/session", "/login"]:
        with _connect(portal_server) as sock:
            sock.sendall(_head(portal_server, path, f"Content-Length: {2 * MIB}\r\n").encode())
            answer = read_head(sock)
        assert answer.split(" ")[1] == "413", (path, answer)


def test_a_small_body_still_reaches_the_webhook_route(portal_server: str) -> None:
    body = b'{"id": "evt_small"}'
    with _connect(portal_server) as sock:
        head = _head(
            portal_server, "/webhooks/stripe", f"Content-Length: {len(body)}\r\nConnection: close\r\n"
        )
        sock.sendall(head.encode() + body)
        answer = read_head(sock)
    assert answer.split(" ")[1] == "400", answer  # read and checked: the signature is wrong


def test_nicegui_uploads_have_their_own_larger_bound(portal_server: str) -> None:
    path = "/_nicegui/client/no-such-client/upload/1"
    answers = {}
    for size in (2 * MIB, 5 * MIB):  # UPLOAD_MAX_BODY_BYTES is 4 MiB by default
        with _connect(portal_server) as sock:
            sock.sendall(_head(portal_server, path, f"Content-Length: {size}\r\n").encode())
            answers[size] = read_head(sock).split(" ")[1]
    assert answers == {2 * MIB: "404", 5 * MIB: "413"}  # 2 MiB passes the bound (then: no such upload)
