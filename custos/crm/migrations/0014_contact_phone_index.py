"""Contacts by phone number (E.164, as stored): the duplicate check on create and an
import's rows without an email find their stored people through it, not by reading every
contact of the organisation."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0013_search_text_trigram_index"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(fields=["org", "phone"], name="contact_org_phone"),
        ),
    ]
