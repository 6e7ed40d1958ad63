"""HTTP hardening shared by every route: foreign origins refused, request bodies bounded, protective headers.

`OriginGuard`: browsers send `Origin` on cross-site form posts, fetches and websocket handshakes.
NiceGUI's socket.io server accepts any origin, so this guard refuses, before NiceGUI sees them, every
websocket handshake and every state-changing request whose Origin is neither the portal's public address
nor the address the request was made to. Server-to-server calls (the Stripe webhook) carry no Origin and
are not affected. It also adds the security headers to every HTTP response: a Content-Security-Policy
(with a fresh script nonce on each HTML page), and Strict-Transport-Security when the portal is public
over https.

`BodyLimit`: a request body larger than the bound is answered 413 before it is read whole: a declared
Content-Length over the bound is refused before a byte of the body is read, and a body without one
(chunked) is counted as it arrives and refused as soon as it passes the bound.
"""

from __future__ import annotations

import logging
import re
import secrets
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
SOCKET_PATH = "/_nicegui_ws/"
UPLOAD_PATH = re.compile(r"(?:/.*)?/_nicegui/client/[^/]+/upload/[^/]+")
"""NiceGUI 3 posts a `ui.upload`'s files (multipart) to `/_nicegui/client/<client id>/upload/<element id>`."""

HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),  # payment-link tokens are in URLs: never leak them to others
]
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
CSP = b"content-security-policy"
_SCRIPT_TAG = re.compile(rb"<script(?=[\s>])", re.IGNORECASE)


def origin_of(url: str) -> str:
    """'https://billing.example.com:8443/x' -> 'https://billing.example.com:8443'."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def content_security_policy(public_url: str = "", *, nonce: str = "") -> str:
    """The portal's policy, as strict as NiceGUI 3's Vue runtime allows (the README explains each part).

    `nonce` is given for HTML pages: their inline scripts carry it (see `OriginGuard`). Without one, no
    inline script may run at all (JSON, files, redirects have none)."""
    origin = origin_of(public_url)
    websocket = ""
    if origin.startswith("https://"):
        websocket = " wss://" + origin.removeprefix("https://")
    elif origin.startswith("http://"):
        websocket = " ws://" + origin.removeprefix("http://")
    script = "'self'" + (f" 'nonce-{nonce}'" if nonce else "") + " 'unsafe-eval'"
    directives = [
        "default-src 'self'",
        f"script-src {script}",  # inline page scripts: the nonce; Vue's template compiler, NiceGUI's eval
        "script-src-attr 'none'",  # no inline event handler (onclick=...) ever runs
        "style-src 'self' 'unsafe-inline'",  # Quasar, ui.colors and Tailwind's runtime add <style> elements
        "img-src 'self' data: blob:",  # data: images are inert; ui.upload previews a chosen image as blob:
        f"connect-src 'self'{websocket}",  # socket.io; browsers before CSP3 do not count ws(s) as 'self'
        "frame-src data:",  # the invoice template's PDF preview is a data: URL in an iframe
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(directives)


def new_nonce() -> str:
    """A fresh, unguessable script nonce (base64url: no quoting needed in an attribute)."""
    return secrets.token_urlsafe(18)


def add_script_nonce(html: bytes, nonce: str) -> bytes:
    """Give every `<script` tag of a NiceGUI page the nonce.

    Safe because a user's text can never be a tag in NiceGUI's page: it reaches the page only inside the
    element tree, which NiceGUI writes with `<`, `>`, `&`, backticks and `$` escaped (see the unit test
    that watches `nicegui.client.HTML_ESCAPE_TABLE`); every `<script` in the HTML is NiceGUI's own or the
    portal's own head HTML."""
    return _SCRIPT_TAG.sub(b"<script nonce=" + nonce.encode(), html)  # a space or `>` follows


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes:
    for key, value in headers:
        if key.lower() == name:
            return value
    return b""


class OriginGuard:
    """Pure ASGI middleware: refuse foreign origins, add security headers to every HTTP response."""

    def __init__(self, app: ASGIApp, public_url: str = "") -> None:
        self.app = app
        self.public_url = public_url
        self.public_origin = origin_of(public_url)
        self.headers = list(HEADERS) + ([HSTS] if self.public_origin.startswith("https://") else [])
        self.plain_policy = content_security_policy(public_url).encode()

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

    def _with_headers(self, message: Message, policy: bytes) -> Message:
        headers = list(message.get("headers", []))
        present = {k.lower() for k, _ in headers}
        headers += [h for h in self.headers if h[0] not in present]
        if CSP not in present:
            headers.append((CSP, policy))
        return {**message, "headers": headers}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if not self._allowed(scope):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await send(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [(b"content-type", b"text/plain"), *self.headers, (CSP, self.plain_policy)],
                }
            )
            await send(
                {"type": "http.response.body", "body": b"Requests from another site are not accepted."}
            )
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return

        held: Message | None = None  # the start of an HTML page, sent once its body is complete
        chunks: list[bytes] = []

        async def send_with_headers(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                is_html = _header(headers, b"content-type").lower().startswith(b"text/html")
                if is_html and scope.get("method") != "HEAD":
                    if _header(headers, b"content-encoding"):  # compressed before us: cannot add nonces
                        log.error("an HTML page reached OriginGuard compressed; its scripts will be blocked")
                    else:
                        held = message
                        return
                await send(self._with_headers(message, self.plain_policy))
                return
            if held is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            nonce = new_nonce()
            body = add_script_nonce(b"".join(chunks), nonce)
            start = self._with_headers(held, content_security_policy(self.public_url, nonce=nonce).encode())
            start["headers"] = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            start["headers"].append((b"content-length", str(len(body)).encode()))
            await send(start)
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes the bound (answered 413)."""

    def __init__(self) -> None:
        super().__init__(status_code=413, detail="Request body too large.")


class BodyLimit:
    """Pure ASGI middleware: 413 for request bodies over the bound, before they are read whole."""

    def __init__(
        self, app: ASGIApp, max_body_bytes: int = 1024 * 1024, upload_max_body_bytes: int = 0
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.upload_max_body_bytes = upload_max_body_bytes or max_body_bytes

    def limit_for(self, path: str) -> int:
        """NiceGUI's upload routes have their own (larger) bound; every other route the general one."""
        return self.upload_max_body_bytes if UPLOAD_PATH.fullmatch(path) else self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = _header(scope.get("headers", []), b"content-length")
        if declared.strip().isdigit() and int(declared) > limit:
            await _refuse(send, limit)  # nothing of the body is read
            return
        received = 0
        started = False

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, bounded_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await _refuse(send, limit)


async def _refuse(send: Send, limit: int) -> None:
    body = f"Request body too large (the limit is {limit} bytes).".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def install(app, *, public_url: str, max_body_bytes: int, upload_max_body_bytes: int) -> None:
    """Add the middlewares once (main.py runs again for every simulated-user test). The body limit is
    added first so that it runs inside the guard: its 413 answers carry the headers too."""
    installed = {getattr(m, "cls", None) for m in app.user_middleware}
    if BodyLimit not in installed:
        app.add_middleware(
            BodyLimit, max_body_bytes=max_body_bytes, upload_max_body_bytes=upload_max_body_bytes
        )
    if OriginGuard not in installed:
        app.add_middleware(OriginGuard, public_url=public_url)
