"""A French organization under the VAT exemption scheme for small businesses (franchise en base, article
293 B of the French General Tax Code): its invoices without VAT say so (issue 16)."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0014_refund_credit_notes")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Organization",
            name="vat_franchise",
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
