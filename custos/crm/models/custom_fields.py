"""Fields an organisation adds to its records, each declaring what personal data it holds."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from custos.core.personal_data import CATEGORY_LABELS
from custos.core.tenancy import TenantModel


class CustomField(TenantModel):
    """One field of one object type. Values live on the record: in `custom_fields`, or, for
    special-category data, encrypted in `custom_special`, readable only with that right."""

    class ObjectType(models.TextChoices):
        COMPANY = "company", _("Companies")
        CONTACT = "contact", _("Contacts")
        LEAD = "lead", _("Leads")
        DEAL = "deal", _("Deals")

    class Kind(models.TextChoices):
        TEXT = "text", _("text")
        LONG_TEXT = "long_text", _("long text")
        NUMBER = "number", _("number")
        MONEY = "money", _("amount of money")
        DATE = "date", _("date")
        CHOICE = "choice", _("choice")
        MULTI_CHOICE = "multi_choice", _("multiple choice")
        YES_NO = "yes_no", _("yes/no")

    NOT_PERSONAL = "none"
    CATEGORIES = [(NOT_PERSONAL, _("Not personal data")), *((str(c), label) for c, label in CATEGORY_LABELS.items())]

    object_type = models.CharField(_("applies to"), max_length=8, choices=ObjectType.choices)
    key = models.CharField(_("key"), max_length=50)
    label = models.CharField(_("label"), max_length=100)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    options = models.JSONField(_("options"), default=list, blank=True)
    category = models.CharField(_("personal data"), max_length=20, choices=CATEGORIES)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["object_type", "position", "label"]
        constraints = [
            models.UniqueConstraint(fields=["org", "object_type", "key"], name="custom_field_unique_key"),
        ]

    class Privacy:
        # The definition describes data; it holds none about a person.
        subject = None
        fields: dict[str, str] = {}
        not_personal = (
            "id",
            "org",
            "object_type",
            "key",
            "label",
            "kind",
            "options",
            "category",
            "position",
            "created_at",
        )

    def __str__(self) -> str:
        return self.label

    @property
    def is_special(self) -> bool:
        return self.category == "special"

    @property
    def is_personal(self) -> bool:
        return self.category != self.NOT_PERSONAL


class CustomValueRemoval(TenantModel):
    """A deleted field whose values many records still hold, while a task takes them off: the
    key cannot be defined again until then (its old values would read as the new field's)."""

    object_type = models.CharField(max_length=8)
    key = models.CharField(max_length=50)
    special = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "object_type", "key", "special"], name="custom_value_removal_once"),
        ]

    class Privacy:
        subject = None
        fields: dict[str, str] = {}
        not_personal = ("id", "org", "object_type", "key", "special", "created_at")

    def __str__(self) -> str:
        return f"{self.object_type}.{self.key}"
