"""EU reverse charge (issue 16): whether an invoice was written without VAT because its client, a business
in another member state, accounts for it. Existing invoices were not: false."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0010_invoice_mentions")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Invoice",
            name="reverse_charge",
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
