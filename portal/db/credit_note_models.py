"""Tortoise models of credit notes (issue 16): an issued invoice is never deleted or changed; voiding it,
or refunding money with the amount cancelled, issues a credit note with its own number, which names the
invoice and lists the lines (or the shares of them) it cancels.
`portal.db.models` names them too (one app, "models"; every table is imported from there), so the
relations below are typed as plain models: importing that module here would make a cycle.

Amounts are stored as positive minor units, as the invoice's are (an e-invoice of type 381, a credit
note, carries positive amounts); every view shows them as deductions.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from portal.db.machinery import TimestampMixin


class CreditNote(Model, TimestampMixin):
    """A credit note: what it cancels of one invoice, with its own gapless number."""

    id = fields.IntField(primary_key=True)
    number = fields.CharField(max_length=60, unique=True)
    client: fields.ForeignKeyRelation[Model] = fields.ForeignKeyField(
        "models.Client", related_name="credit_notes", on_delete=fields.RESTRICT
    )
    invoice: fields.ForeignKeyRelation[Model] = fields.ForeignKeyField(
        "models.Invoice", related_name="credit_notes", on_delete=fields.RESTRICT
    )
    currency = fields.CharField(max_length=3)
    issue_date = fields.DateField()
    reason = fields.CharField(max_length=20)  # void | refund
    note = fields.TextField(default="")  # why, in staff's words
    # a refund that cancels part (or all) of the invoice: the money went back, the client no longer owes it
    refund: fields.ForeignKeyNullableRelation[Model] = fields.ForeignKeyField(
        "models.Refund", related_name="credit_notes", null=True, on_delete=fields.RESTRICT
    )
    subtotal_minor = fields.BigIntField()
    tax_minor = fields.BigIntField()
    total_minor = fields.BigIntField()
    dedupe_key = fields.CharField(max_length=100, unique=True)  # "void:invoice:42": issued once
    created_by: fields.ForeignKeyNullableRelation[Model] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "credit_note"
        indexes = (("client_id", "issue_date"),)


class CreditNoteLine(Model):
    """One line a credit note cancels, as the invoice had it."""

    id = fields.IntField(primary_key=True)
    credit_note: fields.ForeignKeyRelation[CreditNote] = fields.ForeignKeyField(
        "models.CreditNote", related_name="lines", on_delete=fields.CASCADE
    )
    position = fields.IntField(default=0)
    date = fields.DateField(null=True)
    description = fields.CharField(max_length=500)
    quantity = fields.DecimalField(max_digits=12, decimal_places=4)
    unit_price_minor = fields.BigIntField()
    tax_name = fields.CharField(max_length=100, default="")
    tax_rate = fields.DecimalField(max_digits=7, decimal_places=4)
    net_minor = fields.BigIntField()
    tax_minor = fields.BigIntField()
    gross_minor = fields.BigIntField()

    class Meta:
        table = "credit_note_line"
