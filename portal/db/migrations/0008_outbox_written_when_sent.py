"""An email can be written when it is sent rather than when it is queued (the reminders, issue 17): the
outbox row keeps what its writer needs."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0007_awaiting_transfer")]

    initial = False

    operations = [
        ops.AddField(model_name="OutboxEmail", name="values", field=fields.JSONField(null=True)),
    ]
