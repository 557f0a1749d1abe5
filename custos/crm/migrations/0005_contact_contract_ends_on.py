"""A contact's contract end: the day retention's "contract end" condition counts from."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("crm", "0004_contact_points_and_language")]

    operations = [
        migrations.AddField(
            model_name="contact",
            name="contract_ends_on",
            field=models.DateField(blank=True, null=True, verbose_name="contract ends on"),
        ),
    ]
