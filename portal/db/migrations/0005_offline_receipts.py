"""Receipts for offline payments: the organization's setting, on by default (issue 15 item 4)."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0004_client_list_indexes')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Organization',
            name='email_offline_receipts',
            field=fields.BooleanField(default=True),
        ),
    ]
