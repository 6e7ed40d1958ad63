"""The console's clients list among many clients: its page (active clients in name order), its count and
its currency filter read an index instead of the whole table (issue 17)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0003_currency_exponents_d9985b828411')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Client',
            index=Index(fields=['archived', 'name', 'id']),
        ),
        ops.AddIndex(
            model_name='Client',
            index=Index(fields=['archived', 'currency']),
        ),
    ]
