"""An SMTP server for tests: aiosmtpd on 127.0.0.1 (a free port), keeping every message it accepts.

This fakes only the far side of the socket: the portal's own code and aiosmtplib hold a real SMTP
conversation with it. It can require AUTH (LOGIN/PLAIN with one username and password, allowed without
TLS because it is loopback only) and can be told to refuse the next N messages with a temporary (451) or
a permanent (550) answer, at RCPT or at the end of DATA.

aiosmtpd's `Controller` runs its own event loop in a thread, so everything shared is behind a lock.
"""

from __future__ import annotations

import email
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

DEFAULT_FROM = "billing@portal.test"
ANSWERS = {
    451: "451 4.3.0 Temporary failure, please try again later",
    550: "550 5.7.1 Message rejected by the test sink",
}


@dataclass(frozen=True)
class Received:
    """One accepted message: the envelope as sent and the parsed email."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    login: str | None  # the authenticated username, or None

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


@dataclass
class _Refusal:
    count: int
    code: int
    stage: Literal["rcpt", "data"]


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        if self.sink.username is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        answer = self.sink._take_refusal("rcpt")
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        answer = self.sink._take_refusal("data")
        if answer:
            return answer
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode()
        parsed = email.message_from_bytes(content, policy=default_policy)
        auth = session.auth_data
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        received = Received(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            message=parsed,  # type: ignore[arg-type]
            login=login,
        )
        self.sink._store(received)
        return "250 Message accepted for delivery"


class _FreePortController(Controller):
    """A Controller that binds port 0 and then learns which port the system gave it."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class SmtpSink:
    """Start with `.start()`, stop with `.stop()`; `messages` holds what was accepted, oldest first."""

    username: str | None = None
    password: str | None = None
    host: str = "127.0.0.1"
    messages: list[Received] = field(default_factory=list)
    auth_failures: int = 0
    refused: int = 0
    _refusals: list[_Refusal] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None

    @property
    def port(self) -> int:
        if self._controller is None:
            raise RuntimeError("the SMTP sink is not running")
        return int(self._controller.port)

    def start(self) -> SmtpSink:
        """Listen on 127.0.0.1 (a port chosen by the system); raises if it cannot."""
        kwargs: dict[str, Any] = {}
        if self.username is not None:
            # AUTH is enforced at MAIL FROM by the handler: aiosmtpd's own `auth_required` warns on every
            # connection when TLS is not required, and this server is loopback only
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        controller = _FreePortController(
            _Handler(self),
            hostname=self.host,
            port=0,
            server_hostname="sink.test",
            ready_timeout=10,
            **kwargs,
        )
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def refuse_next(
        self, count: int = 1, *, code: int = 451, stage: Literal["rcpt", "data"] = "data"
    ) -> None:
        """Answer the next `count` messages with 451 (try later) or 550 (rejected) at RCPT or DATA."""
        with self._lock:
            self._refusals.append(_Refusal(count, code, stage))

    def message_ids(self) -> list[str]:
        """The Message-ID of every accepted message, in arrival order."""
        with self._lock:
            return [m.message_id for m in self.messages]

    def _take_refusal(self, stage: str) -> str | None:
        with self._lock:
            for refusal in self._refusals:
                if refusal.stage == stage and refusal.count > 0:
                    refusal.count -= 1
                    self.refused += 1
                    return ANSWERS.get(refusal.code, f"{refusal.code} Refused by the test sink")
        return None

    def _store(self, received: Received) -> None:
        with self._lock:
            self.messages.append(received)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.username
            and auth_data.password.decode() == self.password
        )
        if not ok:
            with self._lock:
                self.auth_failures += 1
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)
