"""HTTP hardening shared by every route: foreign-origin requests refused, protective response headers.

Browsers send `Origin` on cross-site form posts, fetches and websocket handshakes. NiceGUI's socket.io
server accepts any origin, so this guard refuses, before NiceGUI sees them, every websocket handshake and
every state-changing request whose Origin is neither the portal's public address nor the address the
request was made to. Server-to-server calls (the Stripe webhook) carry no Origin and are not affected.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
SOCKET_PATH = "/_nicegui_ws/"
HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),  # payment-link tokens are in URLs: never leak them to others
    (b"content-security-policy", b"frame-ancestors 'none'"),
]


def origin_of(url: str) -> str:
    """'https://billing.example.com:8443/x' -> 'https://billing.example.com:8443'."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


class OriginGuard:
    """Pure ASGI middleware: refuse foreign origins, add security headers to every HTTP response."""

    def __init__(self, app: ASGIApp, public_url: str = "") -> None:
        self.app = app
        self.public_origin = origin_of(public_url)

    def _allowed(self, scope: Scope) -> bool:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        origin = headers.get("origin", "").strip().lower()
        if not origin:
            return True  # not sent by a browser on a cross-site request
        path = scope.get("path", "")
        cross_site_capable = (
            scope["type"] == "websocket"
            or scope.get("method", "GET") not in SAFE_METHODS
            or path.startswith(SOCKET_PATH)
        )
        if not cross_site_capable:
            return True
        scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
        own = {self.public_origin, f"{scheme}://{headers.get('host', '')}".lower()}
        return origin in own

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if not self._allowed(scope):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await send(
                {"type": "http.response.start", "status": 403, "headers": [(b"content-type", b"text/plain")]}
            )
            await send(
                {"type": "http.response.body", "body": b"Requests from another site are not accepted."}
            )
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    h for h in HEADERS if h[0] not in present
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app, *, public_url: str) -> None:
    """Add the guard once (main.py runs again for every simulated-user test)."""
    if not any(getattr(m, "cls", None) is OriginGuard for m in app.user_middleware):
        app.add_middleware(OriginGuard, public_url=public_url)
