"""A board's column reads its newest cards through the index, in order, instead of every
deal of its stage (sorted, and joined to every contact and company of the organisation)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0014_contact_phone_index"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="deal",
            index=models.Index(fields=["org", "pipeline", "stage", "updated_at", "id"], name="deal_org_board_newest"),
        ),
        migrations.RemoveIndex(model_name="deal", name="deal_org_board"),
    ]
