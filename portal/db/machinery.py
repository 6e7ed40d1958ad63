"""Tortoise models of the portal's own machinery, with no relation to the business tables: sign-in attempts,
the built-in sandbox gateway's state, the webhook events received, the gapless number sequences.
`portal.db.models` names them too (one app, "models"; every table is imported from there)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class TimestampMixin:
    created_at = fields.DatetimeField(auto_now_add=True)


class LoginAttempt(Model):
    """One row per login attempt, failures inside the window lock the account or address out."""

    id = fields.BigIntField(primary_key=True)
    email = fields.CharField(max_length=254)
    ip = fields.CharField(max_length=64, default="")
    succeeded = fields.BooleanField(default=False)
    at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "login_attempt"
        indexes = (("email", "at"), ("ip", "at"))


class SandboxObject(Model, TimestampMixin):
    """State of the built-in sandbox gateway (customers, methods, intents, subscriptions, refunds)."""

    id = fields.IntField(primary_key=True)
    object_id = fields.CharField(max_length=100, unique=True)
    kind = fields.CharField(max_length=30)
    data = fields.JSONField(default=dict)
    idempotency_key = fields.CharField(max_length=200, null=True, unique=True)

    class Meta:
        table = "sandbox_object"


class WebhookEvent(Model):
    id = fields.IntField(primary_key=True)
    provider = fields.CharField(max_length=20)
    event_id = fields.CharField(max_length=100)
    type = fields.CharField(max_length=100)
    payload = fields.JSONField()
    received_at = fields.DatetimeField(auto_now_add=True)
    processed_at = fields.DatetimeField(null=True)
    attempts = fields.IntField(default=0)
    error = fields.TextField(default="")

    class Meta:
        table = "webhook_event"
        unique_together = (("provider", "event_id"),)


class NumberSequence(Model):
    """Gapless document numbers: the row is locked while the next number is taken."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=60, unique=True)
    next_value = fields.IntField(default=1)

    class Meta:
        table = "number_sequence"
