"""What French invoices must say besides the amounts (issue 16): the nature of the operation, the
late-payment penalty rate and an early-payment discount, as organization settings."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0009_legal_identity")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Organization",
            name="operation_nature",
            field=fields.CharField(max_length=10, default="services", db_default="services"),
        ),
        ops.AddField(
            model_name="Organization",
            name="late_penalty_rate",
            field=fields.DecimalField(max_digits=5, decimal_places=2, null=True),
        ),
        ops.AddField(
            model_name="Organization",
            name="early_payment_discount",
            field=fields.DecimalField(max_digits=5, decimal_places=2, null=True),
        ),
    ]
