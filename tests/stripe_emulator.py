"""A Stripe API emulator for tests: localstripe in a subprocess, on 127.0.0.1 only, with nothing on disk.

This is a fake at the edge of the machine only. The portal's own code runs unchanged; the official
`stripe` SDK talks HTTP to this process exactly as it would to api.stripe.com, so everything between
the portal and the socket is real. What is fake is the far side of the socket:

- localstripe (customers, payment methods, setup and payment intents, products, legacy plans,
  subscriptions, refunds, events, signed webhooks), run with persistence off: it never loads or writes
  /tmp/localstripe.pickle and only listens on 127.0.0.1.
- Added in the same process, following Stripe's API reference: Checkout Sessions in `payment` and
  `setup` mode (`POST /v1/checkout/sessions`, `GET /v1/checkout/sessions/{id}`, `POST .../{id}/expire`),
  `GET /v1/account`, `Idempotency-Key` replay on every POST (localstripe ignores the header), one
  accepted secret key (a wrong key gets Stripe's 401), a subscription's own `default_payment_method`,
  `created`/`customer` filters on `GET /v1/payment_intents` and `GET /v1/payment_methods` without `type`.
- Test-only routes: `POST /_test/checkout/sessions/{id}/complete` pays a session (or, in setup mode, saves
  the card on a confirmed SetupIntent and attaches it to the customer) as a customer would on Stripe's
  hosted page and sends a signed `checkout.session.completed` webhook (with `setup_intent` in setup
  mode); `GET /_test/health`; `DELETE /_config/webhooks/{id}`.

Run `python tests/stripe_emulator.py --port N --api-key sk_test_...` to start the server by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

DEFAULT_API_KEY = "sk_test_emulator_4eC39HqLyjWDarjtT1zdp7dc"
STARTUP_TIMEOUT = 20.0
ACCOUNT_ID = "acct_1EmulatorLocal"


def _free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sign_payload(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A Stripe-Signature header value for a payload: `t=<ts>,v1=<hmac sha256 of "<ts>.<payload>">`."""
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}"


class EmulatorError(RuntimeError):
    """The emulator did not start, or answered a harness call with an error."""


class StripeEmulator:
    """Start, stop and drive the emulator subprocess from tests (all calls are blocking)."""

    def __init__(self, api_key: str = DEFAULT_API_KEY) -> None:
        self.api_key = api_key
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    @property
    def base_url(self) -> str:
        """The API base to give the SDK (`http://127.0.0.1:<port>`)."""
        if not self.port:
            raise EmulatorError("the Stripe emulator is not running")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> StripeEmulator:
        """Start the subprocess and wait until it answers; raise EmulatorError with its output if not."""
        if self._process is not None:
            return self
        self.port = _free_port()
        self._log = tempfile.TemporaryFile()  # closed in stop()
        env = {k: v for k, v in os.environ.items() if k not in {"PYTEST_CURRENT_TEST", "PYTHONPATH"}}
        env["PYTHONUNBUFFERED"] = "1"
        command = [sys.executable, "-I", str(Path(__file__).resolve()), "--port", str(self.port)]
        command += ["--api-key", self.api_key]
        self._process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=tempfile.gettempdir()
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            with contextlib.suppress(OSError, EmulatorError):
                if self._request("GET", "/_test/health", timeout=1).get("ok"):
                    return self
            time.sleep(0.1)
        code = self._process.poll()
        output = self.output()
        self.stop()
        why = (
            f"exited with code {code}"
            if code is not None
            else f"did not answer within {STARTUP_TIMEOUT:.0f} s"
        )
        raise EmulatorError(f"the Stripe emulator {why}:\n{output}")

    def output(self) -> str:
        """Everything the subprocess printed so far."""
        if self._log is None:
            return ""
        fd = self._log.fileno()  # pread leaves the offset the child writes at alone
        return os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")

    def stop(self) -> None:
        """Stop the subprocess (terminate, then kill) and forget it."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None
        self.port = 0

    def __enter__(self) -> StripeEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _request(
        self, method: str, path: str, form: dict[str, str] | None = None, timeout: float = 10
    ) -> dict[str, Any]:
        """One HTTP call to the emulator with the secret key; JSON in, JSON out."""
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.api_key}")
        if data is not None:
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise EmulatorError(f"{method} {path}: HTTP {exc.code}: {detail}") from exc
        return json.loads(body) if body.strip() else {}

    def register_webhook(self, url: str, secret: str, events: list[str] | None = None) -> str:
        """Send signed events to `url` (all events, or only `events`); return the registration id."""
        webhook_id = "wh_" + uuid.uuid4().hex[:16]
        form = {"url": url, "secret": secret}
        form.update({f"events[{i}]": event for i, event in enumerate(events or [])})
        self._request("POST", f"/_config/webhooks/{webhook_id}", form)
        return webhook_id

    def unregister_webhook(self, webhook_id: str) -> None:
        """Stop sending events to a registered webhook."""
        self._request("DELETE", f"/_config/webhooks/{webhook_id}")

    def complete_checkout(self, session_id: str, payment_method: str = "pm_card_visa") -> dict[str, Any]:
        """Pay a Checkout Session (or save the card, in setup mode) as the customer would on Stripe's page;
        return the `checkout.session.completed` event."""
        return self._request(
            "POST", f"/_test/checkout/sessions/{session_id}/complete", {"payment_method": payment_method}
        )

    def retrieve(self, path: str) -> dict[str, Any]:
        """GET any API path as raw JSON (to see amounts exactly as Stripe would hold them)."""
        return self._request("GET", path)


# --------------------------------------------------------------------------------------------------
# Everything below runs in the subprocess only.
# --------------------------------------------------------------------------------------------------


def _patch_localstripe() -> None:
    """Persistence off, plus the Stripe behaviour localstripe lacks and the portal relies on."""
    from localstripe import resources
    from localstripe.errors import UserError
    from localstripe.resources import Customer, PaymentIntent, PaymentMethod, StripeObject, Subscription

    # Never write /tmp/localstripe.pickle (Store.__setitem__, __delitem__ and the server middleware
    # all call this); never load it either (server.start() would, and we do not use server.start()).
    resources.store.dump_to_disk = lambda: None

    def created_filters(created: Any) -> list[Any]:
        if created is None:
            return []
        if isinstance(created, str):
            value = resources.try_convert_to_int(created)
            if not isinstance(value, int):
                raise UserError(400, "Invalid integer: created", {"param": "created"})
            return [lambda obj: obj.created == value]
        if not isinstance(created, dict) or not set(created) <= {"gt", "gte", "lt", "lte"}:
            raise UserError(400, "Invalid created filter", {"param": "created"})
        checks = []
        for op, raw in created.items():
            value = resources.try_convert_to_int(raw)
            if not isinstance(value, int):
                raise UserError(400, f"Invalid integer: created[{op}]", {"param": f"created[{op}]"})
            compare = {
                "gt": lambda a, b: a > b,
                "gte": lambda a, b: a >= b,
                "lt": lambda a, b: a < b,
                "lte": lambda a, b: a <= b,
            }[op]
            checks.append(lambda obj, compare=compare, value=value: compare(obj.created, value))
        return checks

    def pi_list_all(cls, url, customer=None, created=None, limit=None, starting_after=None, **kwargs):
        if kwargs:
            raise UserError(400, "Received unknown parameter: " + ", ".join(kwargs))
        checks = created_filters(created)
        if customer is not None:
            Customer._api_retrieve(customer)
            checks.append(lambda obj: obj.customer == customer)
        li = super(PaymentIntent, cls)._api_list_all(url, limit=limit, starting_after=starting_after)
        li._list = [obj for obj in li._list if all(check(obj) for check in checks)]
        li._list.sort(key=lambda obj: obj.created, reverse=True)  # Stripe lists newest first
        return li

    PaymentIntent._api_list_all = classmethod(pi_list_all)

    pm_list_original = PaymentMethod._api_list_all.__func__

    def pm_list_all(cls, url, customer=None, type=None, limit=None, starting_after=None, **kwargs):
        if kwargs:
            raise UserError(400, "Received unknown parameter: " + ", ".join(kwargs))
        if type is not None:
            return pm_list_original(
                cls, url, customer=customer, type=type, limit=limit, starting_after=starting_after
            )
        if not isinstance(customer, str) or not customer.startswith("cus_"):
            raise UserError(400, "Bad request", {"param": "customer"})
        Customer._api_retrieve(customer)
        li = super(PaymentMethod, cls)._api_list_all(url, limit=limit, starting_after=starting_after)
        li._list = [pm for pm in li._list if pm.customer == customer]
        return li

    PaymentMethod._api_list_all = classmethod(pm_list_all)

    def check_method(method: Any) -> str:
        if not isinstance(method, str) or not method.startswith("pm_"):
            raise UserError(400, "Invalid payment method", {"param": "default_payment_method"})
        return PaymentMethod._api_retrieve(method).id

    sub_create_original = Subscription._api_create.__func__
    sub_update_original = Subscription._api_update.__func__

    def sub_create(cls, default_payment_method=None, **data):
        if default_payment_method is None:
            obj = sub_create_original(cls, **data)
            obj.default_payment_method = None
            return obj
        method = check_method(default_payment_method)
        if not isinstance(data.get("customer"), str):
            return sub_create_original(cls, **data)  # localstripe's own 400
        customer = Customer._api_retrieve(data["customer"])
        # localstripe pays the first invoice with the customer's default method: lend it ours.
        previous = customer.invoice_settings.get("default_payment_method")
        customer.invoice_settings["default_payment_method"] = method
        try:
            obj = sub_create_original(cls, **data)
        finally:
            customer.invoice_settings["default_payment_method"] = previous
        obj.default_payment_method = method
        return obj

    def sub_update(cls, id, default_payment_method=None, **data):
        obj = cls._api_retrieve(id)
        method = check_method(default_payment_method) if default_payment_method else None
        if data:
            obj = sub_update_original(cls, id, **data)
        if default_payment_method is not None:
            obj.default_payment_method = method
        return obj

    Subscription._api_create = classmethod(sub_create)
    Subscription._api_update = classmethod(sub_update)
    assert issubclass(Subscription, StripeObject)


class _Snapshot:
    """A plain dict dressed as a localstripe object, so that localstripe's Event can carry it."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def _export(self, expand: Any = None) -> dict[str, Any]:
        return json.loads(json.dumps(self._data))


def _build_app(api_key: str) -> Any:
    """localstripe's aiohttp app with our middlewares and routes added."""
    import asyncio

    import aiohttp
    from aiohttp import web
    from localstripe import server
    from localstripe.errors import UserError
    from localstripe.resources import (
        Customer,
        Event,
        PaymentIntent,
        PaymentMethod,
        SetupIntent,
        random_id,
    )
    from localstripe.webhooks import _webhooks

    _patch_localstripe()
    app = server.app
    sessions: dict[str, dict[str, Any]] = {}
    session_intent_data: dict[str, dict[str, Any]] = {}
    replies: dict[tuple[str, str], tuple[tuple[str, bytes], int, bytes, str]] = {}
    in_flight: set[tuple[str, str]] = set()
    deliveries: set[asyncio.Future[None]] = set()

    def stripe_error(status: int, message: str, error_type: str = "invalid_request_error") -> web.Response:
        return server.json_response({"error": {"type": error_type, "message": message}}, status=status)

    @web.middleware
    async def secret_key(request: web.Request, handler: Any) -> web.StreamResponse:
        """Accept only the emulator's own secret key on the API and test routes (Stripe's 401 otherwise)."""
        if request.path.startswith(("/v1/", "/_test/")):
            header = request.headers.get("Authorization", "")
            given = header.split(" ", 1)[1] if header.startswith("Bearer ") else ""
            if given != api_key:
                masked = (given[:8] + "*" * max(len(given) - 12, 0) + given[-4:]) if given else ""
                return stripe_error(401, f"Invalid API Key provided: {masked}")
        return await handler(request)

    @web.middleware
    async def idempotency(request: web.Request, handler: Any) -> web.StreamResponse:
        """Replay the first response for a repeated Idempotency-Key, as Stripe does."""
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key:
            return await handler(request)
        slot = (request.headers.get("Authorization", ""), key)
        fingerprint = (request.path, await request.read())
        if slot in replies:
            first, status, body, content_type = replies[slot]
            if first != fingerprint:
                return stripe_error(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters they were "
                    f"first used with. Try using a key other than '{key}' if you meant to execute a "
                    "different request.",
                    error_type="idempotency_error",
                )
            response = web.Response(status=status, body=body, content_type=content_type)
            response.headers["Idempotent-Replayed"] = "true"
            response.headers["Idempotency-Key"] = key
            return response
        if slot in in_flight:
            return stripe_error(
                409,
                "There is currently another in-progress request using this Idempotency-Key.",
                error_type="idempotency_error",
            )
        in_flight.add(slot)
        try:
            response = await handler(request)
        finally:
            in_flight.discard(slot)
        if isinstance(response, web.Response) and isinstance(response.body, bytes) and response.status < 500:
            replies[slot] = (fingerprint, response.status, response.body, response.content_type)
        response.headers["Idempotency-Key"] = key
        return response

    app.middlewares.insert(0, idempotency)
    app.middlewares.insert(0, secret_key)

    async def health(request: web.Request) -> web.Response:
        return server.json_response({"ok": True})

    async def account(request: web.Request) -> web.Response:
        return server.json_response(
            {
                "id": ACCOUNT_ID,
                "object": "account",
                "business_profile": {"name": "Stripe emulator"},
                "charges_enabled": True,
                "country": "US",
                "default_currency": "usd",
                "details_submitted": True,
                "payouts_enabled": True,
                "type": "standard",
            }
        )

    def line_total(line_items: Any) -> tuple[int, str]:
        if not isinstance(line_items, list) or not line_items:
            raise UserError(400, "line_items is required in payment mode", {"param": "line_items"})
        total, currency = 0, ""
        for i, item in enumerate(line_items):
            if not isinstance(item, dict) or "price" in item:
                param = {"param": f"line_items[{i}]"}
                raise UserError(400, "This emulator has no Prices: use price_data", param)
            price = item.get("price_data")
            unit_amount = price.get("unit_amount") if isinstance(price, dict) else None
            quantity = item.get("quantity", "1")
            product = price.get("product_data") if isinstance(price, dict) else None
            if (
                not isinstance(unit_amount, str)
                or not unit_amount.isdigit()
                or not str(quantity).isdigit()
                or int(quantity) < 1
                or not isinstance(product, dict)
                or not product.get("name")
                or not price.get("currency")
            ):
                raise UserError(400, "Invalid line item", {"param": f"line_items[{i}]"})
            if currency and price["currency"] != currency:
                raise UserError(400, "All line items must use the same currency", {"param": "line_items"})
            currency = price["currency"]
            total += int(unit_amount) * int(quantity)
        return total, currency

    known = {
        "mode", "success_url", "cancel_url", "line_items", "metadata", "customer", "customer_email",
        "customer_creation", "client_reference_id", "payment_method_types", "payment_intent_data",
        "expires_at", "locale", "submit_type", "billing_address_collection",
    }  # fmt: skip

    async def create_session(request: web.Request) -> web.Response:
        data = await server.get_post_data(request) or {}
        data.pop("expand", None)
        unknown = sorted(set(data) - known)
        if unknown:
            raise UserError(400, f"Received unknown parameter: {unknown[0]}", {"param": unknown[0]})
        mode = data.get("mode")
        if mode not in ("payment", "setup"):
            raise UserError(400, "This emulator supports mode=payment and mode=setup only", {"param": "mode"})
        if not data.get("success_url"):
            raise UserError(400, "Missing required param: success_url.", {"param": "success_url"})
        metadata = data.get("metadata") or {}
        intent_data = data.get("payment_intent_data") or {}
        if not isinstance(metadata, dict) or not isinstance(intent_data, dict):
            raise UserError(400, "Invalid object", {"param": "metadata"})
        if mode == "setup":
            if "line_items" in data or "payment_intent_data" in data:
                param = "line_items" if "line_items" in data else "payment_intent_data"
                raise UserError(400, f"You can not pass `{param}` in `setup` mode.", {"param": param})
            amount, currency = None, data.get("currency")
        else:
            amount, currency = line_total(data.get("line_items"))
        customer = data.get("customer")
        if customer is not None:
            Customer._api_retrieve(customer)
        elif data.get("customer_creation") == "always":
            customer = Customer(email=data.get("customer_email")).id
        session_id = "cs_test_" + random_id(56)
        now = int(time.time())
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": amount,
            "amount_total": amount,
            "cancel_url": data.get("cancel_url"),
            "client_reference_id": data.get("client_reference_id"),
            "created": now,
            "currency": currency,
            "customer": customer,
            "customer_email": data.get("customer_email"),
            "expires_at": int(data.get("expires_at") or now + 24 * 3600),
            "livemode": False,
            "metadata": dict(metadata),
            "mode": mode,
            "payment_intent": None,
            "payment_method_types": data.get("payment_method_types") or ["card"],
            "payment_status": "unpaid",
            "setup_intent": None,
            "status": "open",
            "subscription": None,
            "success_url": data["success_url"],
            "url": f"http://127.0.0.1:{request.url.port}/_test/checkout/pay/{session_id}",
        }
        sessions[session_id] = session
        session_intent_data[session_id] = intent_data
        return server.json_response(session)

    def find_session(request: web.Request) -> dict[str, Any]:
        session_id = request.match_info["id"]
        session = sessions.get(session_id)
        if session is None:
            raise UserError(404, f"No such checkout.session: '{session_id}'", {"code": "resource_missing"})
        return session

    async def retrieve_session(request: web.Request) -> web.Response:
        return server.json_response(find_session(request))

    async def expire_session(request: web.Request) -> web.Response:
        session = find_session(request)
        if session["status"] != "open":
            raise UserError(400, "Only Checkout Sessions with a status of open can be expired.")
        session["status"] = "expired"
        return server.json_response(session)

    async def deliver(event: Any) -> None:
        """Send the event to every registered webhook that wants it, signed like localstripe does."""
        payload = json.dumps(event._export(), indent=2, sort_keys=True).encode()
        timeout = aiohttp.ClientTimeout(total=10)
        for webhook in list(_webhooks.values()):
            if webhook.events is not None and event.type not in webhook.events:
                continue
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": sign_payload(payload, webhook.secret, event.created),
            }
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                async with aiohttp.ClientSession(timeout=timeout) as client:
                    async with client.post(webhook.url, data=payload, headers=headers) as response:
                        print(f"webhook {event.type} -> {webhook.url}: HTTP {response.status}", flush=True)

    async def complete_session(request: web.Request) -> web.Response:
        session = find_session(request)
        if session["status"] != "open":
            raise UserError(400, f"This Checkout Session is {session['status']}, not open.")
        data = await server.get_post_data(request) or {}
        method = PaymentMethod._api_retrieve(data.get("payment_method") or "pm_card_visa")
        if session["mode"] == "setup":
            complete_setup(session, method)
            return send_completed(session)
        intent_data = session_intent_data[session["id"]]
        if session["customer"] and intent_data.get("setup_future_usage"):
            PaymentMethod._api_attach(method.id, customer=session["customer"])
        intent = PaymentIntent(
            amount=session["amount_total"],
            currency=session["currency"],
            customer=session["customer"],
            payment_method=method.id,
            metadata=dict(intent_data.get("metadata") or {}),
            payment_method_types=[method.type],
        )
        intent._confirm(on_failure_now=intent._report_failure)  # a declined card raises a 402 here
        if intent.status == "requires_action":
            raise UserError(400, "This emulator cannot complete 3-D Secure on a Checkout page.")
        session.update(
            status="complete",
            payment_status="paid" if intent.status == "succeeded" else "unpaid",
            payment_intent=intent.id,
        )
        return send_completed(session)

    def complete_setup(session: dict[str, Any], method: Any) -> None:
        """Save the card as Stripe's page does in setup mode: a confirmed SetupIntent, the card attached."""
        if method.type not in session["payment_method_types"]:
            raise UserError(400, f"This Checkout Session does not accept {method.type}.")
        customer = session["customer"]
        if customer is None:  # Stripe creates a customer for a setup session without one
            customer = Customer(email=session.get("customer_email")).id
        intent = SetupIntent(customer=customer, payment_method_types=[method.type])
        intent = SetupIntent._api_confirm(intent.id, payment_method=method.id)  # a decline raises a 402
        if intent.status == "requires_action":
            raise UserError(400, "This emulator cannot complete 3-D Secure on a Checkout page.")
        PaymentMethod._api_attach(method.id, customer=customer)
        session.update(status="complete", customer=customer, setup_intent=intent.id)

    def send_completed(session: dict[str, Any]) -> web.Response:
        """Reply with a `checkout.session.completed` event and deliver it to the webhooks afterwards."""
        event = Event("checkout.session.completed", _Snapshot(session))
        task = asyncio.ensure_future(deliver(event))  # delivered after this reply, as Stripe does
        deliveries.add(task)
        task.add_done_callback(deliveries.discard)
        return server.json_response(event._export())

    async def unregister_webhook(request: web.Request) -> web.Response:
        _webhooks.pop(request.match_info["id"], None)
        return web.Response()

    app.router.add_get("/_test/health", health)
    app.router.add_get("/v1/account", account)
    app.router.add_post("/v1/checkout/sessions", create_session)
    app.router.add_get("/v1/checkout/sessions/{id}", retrieve_session)
    app.router.add_post("/v1/checkout/sessions/{id}/expire", expire_session)
    app.router.add_post("/_test/checkout/sessions/{id}/complete", complete_session)
    app.router.add_delete("/_config/webhooks/{id}", unregister_webhook)
    return app


def _serve() -> None:
    """Subprocess entry point: serve on 127.0.0.1 only, until terminated."""
    parser = argparse.ArgumentParser(description="Stripe API emulator (localstripe, loopback, no disk)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    args = parser.parse_args()

    from aiohttp import web

    app = _build_app(args.api_key)
    print(f"stripe emulator on http://127.0.0.1:{args.port}", flush=True)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    _serve()
