"""Paying from credit exactly once: a use of credit is stored under the key of the form that asked for it
(issue 15 item 2)."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0005_offline_receipts')]

    initial = False

    operations = [
        ops.AddField(
            model_name='CreditEntry',
            name='idempotency_key',
            field=fields.CharField(null=True, unique=True, max_length=200),
        ),
    ]
