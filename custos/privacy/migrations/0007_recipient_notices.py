# Art. 19 notices recorded per recipient, so that the sweeper sends what a crash left pending.

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

import custos.core.fields
import custos.core.ids


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_organization_offboarding"),
        ("privacy", "0006_retention_conditions_and_mention_indexes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="privacysettings",
            name="inform_recipients",
            field=models.BooleanField(
                default=False, verbose_name="inform recipients of rectifications, erasures and restrictions"
            ),
        ),
        migrations.CreateModel(
            name="RecipientNotice",
            fields=[
                (
                    "id",
                    models.UUIDField(default=custos.core.ids.uuid7, editable=False, primary_key=True, serialize=False),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("rectification", "rectification"),
                            ("erasure", "erasure"),
                            ("restriction", "restriction"),
                            ("restriction_lifted", "restriction lifted"),
                        ],
                        max_length=20,
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[("pending", "pending"), ("informed", "informed"), ("failed", "failed")],
                        default="pending",
                        max_length=8,
                    ),
                ),
                ("details", custos.core.fields.EncryptedTextField(blank=True)),
                ("attempts", models.PositiveSmallIntegerField(default=0)),
                ("next_attempt_at", models.DateTimeField()),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ("sent_at", models.DateTimeField(blank=True, null=True)),
                (
                    "org",
                    models.ForeignKey(
                        editable=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="core.organization",
                    ),
                ),
                (
                    "processor",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="privacy.processor",
                    ),
                ),
                (
                    "request",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="privacy.privacyrequest",
                    ),
                ),
                (
                    "subject",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="privacy.subject"
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["org", "status", "next_attempt_at"], name="recipient_notice_due")],
            },
        ),
    ]
