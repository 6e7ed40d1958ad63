"""An invoice or credit request the client said they will pay by bank transfer shows as awaiting it
(issue 15 item 3)."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0006_credit_idempotency')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Invoice',
            name='awaiting_transfer_since',
            field=fields.DatetimeField(null=True),
        ),
        ops.AddField(
            model_name='CreditRequest',
            name='awaiting_transfer_since',
            field=fields.DatetimeField(null=True),
        ),
    ]
