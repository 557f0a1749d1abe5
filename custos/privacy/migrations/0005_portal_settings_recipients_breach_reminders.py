# Portal visibility settings, Art. 19 recipients on processors, the breach clock's reminders.

from django.db import migrations, models

import custos.privacy.models.requests


class Migration(migrations.Migration):
    dependencies = [
        ("privacy", "0003_system_roles_gain_privacy_registers"),
    ]

    operations = [
        migrations.AddField(
            model_name="breach",
            name="clock_reminders",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="privacysettings",
            name="portal_editable",
            field=models.JSONField(
                default=custos.privacy.models.requests.default_portal_editable,
                verbose_name="data the person may correct in the portal",
            ),
        ),
        migrations.AddField(
            model_name="privacysettings",
            name="portal_visible",
            field=models.JSONField(
                default=custos.privacy.models.requests.default_portal_visible, verbose_name="data shown in the portal"
            ),
        ),
        migrations.AddField(
            model_name="processor",
            name="contact_email",
            field=models.EmailField(blank=True, max_length=254, verbose_name="contact email"),
        ),
        migrations.AddField(
            model_name="processor",
            name="inform_of_changes",
            field=models.BooleanField(default=False, verbose_name="inform of rectification, erasure and restriction"),
        ),
    ]
