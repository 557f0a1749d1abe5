"""Purposes of processing, and the append-only consent ledger per subject and purpose."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from custos.core.personal_data import ANONYMISE, ONLINE_IDENTIFIER
from custos.core.tenancy import TenantModel
from custos.privacy.models.subjects import Subject


class LegalBasis(models.TextChoices):
    """Art. 6(1) GDPR."""

    CONSENT = "consent", _("Consent")
    CONTRACT = "contract", _("Contract")
    LEGAL_OBLIGATION = "legal_obligation", _("Legal obligation")
    VITAL_INTERESTS = "vital_interests", _("Vital interests")
    PUBLIC_TASK = "public_task", _("Public task")
    LEGITIMATE_INTEREST = "legitimate_interest", _("Legitimate interest")


class Purpose(TenantModel):
    """Why the organisation processes personal data; its text lives in versions."""

    key = models.SlugField(_("key"), max_length=60)
    legal_basis = models.CharField(_("legal basis"), max_length=24, choices=LegalBasis.choices)
    is_marketing = models.BooleanField(_("direct marketing"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "key"], name="purpose_unique_key")]

    class Privacy:
        subject = None
        fields: dict[str, str] = {}
        not_personal = ("id", "org", "key", "legal_basis", "is_marketing", "is_active", "version", "created_at")

    def __str__(self) -> str:
        return self.key


class PurposeVersion(TenantModel):
    """The wording of a purpose as it stood: consent proof points at the exact version shown."""

    purpose = models.ForeignKey(Purpose, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    # Language code → text, for every language the organisation writes it in.
    names = models.JSONField(default=dict)
    descriptions = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["purpose", "version"], name="purpose_version_unique")]

    class Privacy:
        subject = None
        fields: dict[str, str] = {}
        not_personal = ("id", "org", "purpose", "version", "names", "descriptions", "created_at")

    def __str__(self) -> str:
        return f"{self.purpose_id} v{self.version}"


class ConsentSource(models.TextChoices):
    WEB_FORM = "web_form", _("Web form")
    PORTAL = "portal", _("Privacy portal")
    IMPORT = "import", _("Import")
    STAFF = "staff", _("Staff")
    API = "api", _("API")


class ConsentEvent(TenantModel):
    """One entry of the ledger: consent given or withdrawn, with its proof.

    Rows are never updated, with one exception: a double opt-in's confirmation time is
    written once onto the event it confirms, and the link's digest is cleared with it. The
    current state is derived from the ledger.
    """

    class Action(models.TextChoices):
        GIVEN = "given", _("given")
        WITHDRAWN = "withdrawn", _("withdrawn")

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="+")
    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="+")
    purpose_version = models.PositiveIntegerField()
    action = models.CharField(max_length=10, choices=Action.choices)
    occurred_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=10, choices=ConsentSource.choices)
    text_shown = models.TextField(blank=True)
    form = models.CharField(max_length=100, blank=True)
    ip = models.GenericIPAddressField(_("network address"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=300, blank=True)
    requires_confirmation = models.BooleanField(default=False)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmation_digest = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("consent event")
        verbose_name_plural = _("consent events")
        indexes = [
            models.Index(fields=["org", "subject", "purpose", "occurred_at"], name="consent_subject_purpose"),
            models.Index(fields=["org", "confirmation_digest"], name="consent_confirmation"),
        ]

    class Privacy:
        subject = "subject"
        fields = {"ip": ONLINE_IDENTIFIER, "user_agent": ONLINE_IDENTIFIER}
        not_personal = (
            "id",
            "org",
            "subject",
            "purpose",
            "purpose_version",
            "action",
            "occurred_at",
            "source",
            "text_shown",
            "form",
            "requires_confirmation",
            "confirmed_at",
            "confirmation_digest",
            "expires_at",
            "recorded_by",
        )
        # The proof that consent was asked stays (Art. 7(1)); the address it came from goes.
        on_erasure = ANONYMISE

    def __str__(self) -> str:
        return f"{self.purpose_id} {self.action} {self.occurred_at:%Y-%m-%d}"
