from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Payment',
            name='checkout_url',
            field=fields.CharField(default='', max_length=500),
        ),
        ops.AddField(
            model_name='Payment',
            name='gateway_checkout_id',
            field=fields.CharField(null=True, unique=True, max_length=100),
        ),
        ops.AddField(
            model_name='Payment',
            name='invoice',
            field=fields.ForeignKeyField('models.Invoice', source_field='invoice_id', null=True, db_constraint=True, to_field='id', related_name='payments', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='Payment',
            name='purpose',
            field=fields.CharField(default='invoice', max_length=20),
        ),
        ops.AddIndex(
            model_name='Payment',
            index=Index(fields=['invoice_id', 'status']),
        ),
    ]
