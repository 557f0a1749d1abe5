"""Companies and contacts: the people and organisations a tenant works with."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from custos.core.fields import EncryptedTextField
from custos.core.personal_data import ANONYMISE, CONTACT, DELETE, FREE_TEXT, IDENTITY, SPECIAL
from custos.core.tenancy import TenantModel
from custos.privacy.models import Subject


class PostalAddress(models.Model):
    """Street, postcode, city and country: a place where someone can be written to."""

    street = models.CharField(_("street and number"), max_length=200, blank=True)
    postcode = models.CharField(_("postcode"), max_length=20, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)

    class Meta:
        abstract = True


# An address names where a person lives or works: contact details, for every model using it.
ADDRESS = {"street": CONTACT, "postcode": CONTACT, "city": CONTACT, "country": CONTACT}


class Searchable(models.Model):
    """A record the search box and searched lists find.

    `search_text` holds the record's search entries' values on its own row
    (`custos.search.index.record_text`, written with the entries by `custos.crm.search`): a
    list read in its own order checks each row against it as it reads the row, where a look-up
    of the row's entries elsewhere cost ten times as much (at a million contacts, sorted by
    name: 30,000 rows in 350 ms against 10 ms). A copy of declared fields (`Privacy.copies`):
    emptied by every anonymisation, never reported or corrected on its own.
    """

    # Null until the record is first indexed; nullable also so that SQLite adds the column in
    # place: a NOT NULL one makes Django rebuild the table, which drops its triggers.
    search_text = models.TextField(null=True, blank=True, editable=False)

    class Meta:
        abstract = True


class Company(PostalAddress, Searchable, TenantModel):
    name = models.CharField(_("name"), max_length=200)
    vat_id = models.CharField(_("VAT ID"), max_length=20, blank=True)
    website = models.CharField(_("website"), max_length=200, blank=True)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tags = models.JSONField(_("tags"), default=list, blank=True)
    custom_fields = models.JSONField(_("further fields"), default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        indexes = [
            # Ending with the search text: a searched list sorted by name reads it from the index.
            models.Index(fields=["org", "name", "id", "search_text"], name="company_org_name"),
            models.Index(fields=["org", "owner", "id"], name="company_org_owner"),
            models.Index(fields=["org", "country", "id"], name="company_org_country"),
            models.Index(fields=["org", "id"], name="company_org_id"),
            # An import finds a row's company by VAT ID or by name in any case, a batch at a time.
            models.Index(F("org"), Lower("name"), name="company_org_name_lower"),
            models.Index(fields=["org", "vat_id"], name="company_org_vat_id"),
        ]

    class Privacy:
        # A company is not a natural person, but a sole trader's name, VAT ID, website, email
        # and phone name one: they are declared personal, and erasure redacts mentions.
        subject = None
        fields = {
            "name": IDENTITY,
            "vat_id": IDENTITY,
            "website": CONTACT,
            "email": CONTACT,
            "phone": CONTACT,
            "custom_fields": FREE_TEXT,
            **ADDRESS,
        }
        not_personal = ("id", "org", "owner", "tags", "created_at", "updated_at")
        copies = ("search_text",)

    def __str__(self) -> str:
        return self.name


class Contact(PostalAddress, Searchable, TenantModel):
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="+")
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    # What to write to them in (reminders, notices); empty: the organisation's language.
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, blank=True)
    company = models.ForeignKey(
        Company, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts", verbose_name=_("company")
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tags = models.JSONField(_("tags"), default=list, blank=True)
    custom_fields = models.JSONField(_("further fields"), default=dict, blank=True)
    # Values of custom fields declared special category, as encrypted JSON.
    custom_special = EncryptedTextField(_("further sensitive fields"), blank=True)
    notes = models.TextField(_("notes"), blank=True)
    health_notes = EncryptedTextField(_("health notes"), blank=True)
    # The last day of the person's contract with the organisation, if they have one: a
    # retention policy can count from it ("contract end").
    contract_ends_on = models.DateField(_("contract ends on"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        indexes = [
            # Ending with the search text (after the id, it orders nothing): a searched list sorted
            # by name reads it from the index, not from rows scattered over the table.
            models.Index(fields=["org", "last_name", "first_name", "id", "search_text"], name="contact_org_name"),
            # A person is found by email case-insensitively (subject matching, duplicates).
            models.Index(F("org"), Lower("email"), name="contact_org_email_lower"),
            # ... and by phone number (E.164, as stored), and by last name in any case:
            # duplicates on create and import.
            models.Index(fields=["org", "phone"], name="contact_org_phone"),
            models.Index(F("org"), Lower("last_name"), name="contact_org_last_name_lower"),
            models.Index(fields=["org", "owner", "id"], name="contact_org_owner"),
            models.Index(fields=["org", "subject"], name="contact_org_subject"),
            # The list's country filter, and its count up to 10,000 (25-65 ms without, 2 ms with,
            # at a million contacts); ending with the id, the lists' order (crm 0011).
            models.Index(fields=["org", "country", "id"], name="contact_org_country"),
            # A list's default order within the organisation: without it SQLite reads the
            # organisation's rows through another index and sorts them all (166 ms at 100,000).
            models.Index(fields=["org", "id"], name="contact_org_id"),
        ]

    class Privacy:
        subject = "subject"
        details = ("company", "contract_ends_on")
        fields = {
            "first_name": IDENTITY,
            "last_name": IDENTITY,
            "email": CONTACT,
            "phone": CONTACT,
            "language": CONTACT,
            "tags": FREE_TEXT,
            "custom_fields": FREE_TEXT,
            "notes": FREE_TEXT,
            "health_notes": SPECIAL,
            "custom_special": SPECIAL,
            **ADDRESS,
        }
        # Like the timestamps, the contract's end is what retention counts from: emptied by an
        # anonymisation, it would stop other policies (the person's leads) from finding them.
        not_personal = ("id", "org", "subject", "company", "owner", "contract_ends_on", "created_at", "updated_at")
        copies = ("search_text",)
        on_erasure = ANONYMISE
        retention = "contact.inactive"

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email


class Affiliation(TenantModel):
    """A contact's role at a company other than their main one (`Contact.company`): the second
    practice a dentist works at, the board a buyer sits on."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="affiliations")
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="affiliations", verbose_name=_("company")
    )
    role = models.CharField(_("role"), max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("company membership")
        verbose_name_plural = _("company memberships")
        constraints = [models.UniqueConstraint(fields=["contact", "company"], name="affiliation_once")]
        indexes = [models.Index(fields=["org", "company"], name="affiliation_org_company")]

    class Privacy:
        subject = "contact__subject"
        details = ("company",)
        fields = {"role": IDENTITY}
        not_personal = ("id", "org", "contact", "company", "created_at")
        on_erasure = DELETE


class ContactPoint(TenantModel):
    """One more email address or phone number of a contact, beyond the main `email` and
    `phone`: the private address, the mobile. A row holds one of the two, never both."""

    class Label(models.TextChoices):
        WORK = "work", _("work")
        PRIVATE = "private", _("private")
        MOBILE = "mobile", _("mobile")
        OTHER = "other", _("other")

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="points")
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    label = models.CharField(_("label"), max_length=10, choices=Label.choices, default=Label.OTHER)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("further email or phone")
        verbose_name_plural = _("further emails and phones")
        indexes = [
            models.Index(F("org"), Lower("email"), name="contactpoint_org_email_lower"),
            models.Index(fields=["org", "phone"], name="contactpoint_org_phone"),
            models.Index(fields=["contact"], name="contactpoint_contact"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(email="") & ~models.Q(phone="")) | (~models.Q(email="") & models.Q(phone="")),
                name="contactpoint_email_or_phone",
            )
        ]

    class Privacy:
        subject = "contact__subject"
        details = ("label",)
        fields = {"email": CONTACT, "phone": CONTACT}
        not_personal = ("id", "org", "contact", "label", "created_at")
        on_erasure = DELETE
        rectify = False
