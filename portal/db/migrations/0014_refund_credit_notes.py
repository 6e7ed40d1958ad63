from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0013_credit_notes')]

    initial = False

    operations = [
        ops.AlterModelOptions(
            name='Allocation',
            options={'table': 'allocation', 'app': 'models', 'indexes': [Index(fields=['invoice_id', 'created_at'])], 'pk_attr': 'id', 'table_description': 'Ties a payment, a use of credit or a credit note to the invoice it settles (a refund: negative).'},
        ),
        ops.AddField(
            model_name='Allocation',
            name='credit_note',
            field=fields.ForeignKeyField('models.CreditNote', source_field='credit_note_id', null=True, db_constraint=True, to_field='id', related_name='allocations', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='CreditNote',
            name='refund',
            field=fields.ForeignKeyField('models.Refund', source_field='refund_id', null=True, db_constraint=True, to_field='id', related_name='credit_notes', on_delete=OnDelete.RESTRICT),
        ),
    ]
