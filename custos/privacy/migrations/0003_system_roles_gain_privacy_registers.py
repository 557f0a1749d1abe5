from django.db import migrations

NEW = [
    f"{kind}.{action}"
    for kind, actions in {
        "purpose": ("view", "add", "change", "delete"),
        "retention_policy": ("view", "add", "change", "delete"),
        "breach": ("view", "add", "change", "export"),
        "processor": ("view", "add", "change", "delete"),
    }.items()
    for action in actions
]


def grant(apps, schema_editor):
    """Organisations made before these registers existed get them in their system roles."""
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(is_system=True, key__in=["owner", "admin", "privacy_officer"]):
        role.permissions = sorted(set(role.permissions) | set(NEW))
        role.save(update_fields=["permissions"])


def revoke(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(is_system=True):
        role.permissions = sorted(set(role.permissions) - set(NEW))
        role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("privacy", "0002_purposes_consent_requests_and_registers"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
