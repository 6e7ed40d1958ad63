from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='GatewayCustomer',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('client', fields.ForeignKeyField('models.Client', source_field='client_id', db_constraint=True, to_field='id', related_name='gateway_customers', on_delete=OnDelete.CASCADE)),
                ('gateway', fields.CharField(max_length=30)),
                ('ref', fields.CharField(max_length=100)),
            ],
            options={'table': 'gateway_customer', 'app': 'models', 'unique_together': (('gateway', 'ref'), ('client', 'gateway')), 'pk_attr': 'id', 'table_description': "A client's customer record at one gateway account (sandbox, Stripe test, Stripe live)."},
            bases=['Model', 'TimestampMixin'],
        ),
        ops.RemoveField(model_name='Client', name='gateway_customer_id'),
        ops.AlterField(
            model_name='Payment',
            name='gateway',
            field=fields.CharField(default='', max_length=30),
        ),
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
        ops.AlterField(
            model_name='PaymentMethod',
            name='gateway',
            field=fields.CharField(max_length=30),
        ),
        ops.AlterField(
            model_name='Subscription',
            name='gateway',
            field=fields.CharField(default='sandbox', max_length=30),
        ),
    ]
