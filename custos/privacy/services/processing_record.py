"""The record of processing activities (Art. 30) and the privacy notice (Art. 13/14), both
generated from the live configuration: purposes, declarations, processors, retention
policies and the security measures the code itself implements. They cannot drift from
what the system does, because they are what the system does, read back.
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from django.conf import settings
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import Max
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from openpyxl import Workbook
from openpyxl.styles import Font

from custos.audit.models import AuditEntry
from custos.core.cells import neutralise
from custos.core.models import Organization
from custos.core.personal_data import Erasure
from custos.core.tenancy import require_org_id
from custos.privacy.models import PrivacyRequest, Processor, Purpose, RetentionPolicy
from custos.privacy.models.consent import LegalBasis
from custos.privacy.registry import subject_models
from custos.privacy.services.consent import in_language, purpose_text
from custos.privacy.services.requests import privacy_settings
from custos.privacy.services.retention import retention_keys

# EU and EEA countries: a processor elsewhere needs a transfer safeguard (Chapter V GDPR).
EEA = frozenset(
    {
        *("AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT"),
        *("LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO"),
    }
)


def _security_measures() -> list[str]:
    return [
        _(
            "Special-category data encrypted at rest with AES-256-GCM under keys of the organisation, "
            "wrapped by a master key kept outside the database."
        ),
        _(
            "Each organisation's data walled off by tenant-scoped queries and, on PostgreSQL, "
            "forced row-level security."
        ),
        _(
            "An append-only, hash-chained audit log of every change and of every read of "
            "special-category data, verifiable at any time."
        ),
        _(
            "Passwords hashed with Argon2; two-factor sign-in required for owners and administrators; "
            "sign-in attempts throttled."
        ),
        _("Roles with record scopes and field-level visibility; API tokens scoped, expiring and revocable."),
        _(
            "Erasure by anonymisation, with search entries removed, deleted content overwritten, and "
            "erasures re-applied after a restore from backup."
        ),
        _("Network addresses in the audit log shortened after 90 days."),
    ]


def _record_types() -> list[dict[str, Any]]:
    types = []
    for declaration in subject_models():
        if declaration.copy_of_personal_data or not declaration.fields:
            continue
        meta = declaration.model._meta
        types.append(
            {
                "type": meta.label,
                "label": str(meta.verbose_name_plural),
                "categories": sorted({category.label for category in declaration.fields.values()}),
                "on_erasure": declaration.on_erasure.value if declaration.on_erasure else "",
                "retention_key": declaration.retention or "",
                "keep": (
                    _("kept %(years)d years: %(law)s")
                    % {"years": declaration.keep_years, "law": declaration.keep_because}
                    if declaration.on_erasure == Erasure.KEEP_RESTRICTED and declaration.keep_years
                    else ""
                ),
            }
        )
    return sorted(types, key=lambda t: t["label"])


def _retention() -> list[dict[str, str]]:
    policies: list[dict[str, str]] = [
        {
            # What the reader knows the records as ("Contacts"), not the policy's internal key.
            "record_type": ", ".join(
                capfirst(str(d.model._meta.verbose_name_plural)) for d in retention_keys().get(policy.key, ())
            )
            or policy.key,
            "period": _("%(action)s %(days)d days after %(condition)s")
            % {
                "action": RetentionPolicy.Action(policy.action).label,
                "days": policy.days,
                "condition": RetentionPolicy.Condition(policy.condition).label,
            },
        }
        for policy in RetentionPolicy.objects.filter(is_enabled=True).order_by("key")
    ]
    return policies


def _requests_kept(years: int) -> dict[str, str]:
    """How long a privacy request names who asked (`requests_forget`)."""
    return {
        "record_type": capfirst(str(PrivacyRequest._meta.verbose_name_plural)),
        "period": ngettext(
            "the requester's details removed %(years)d year after the answer",
            "the requester's details removed %(years)d years after the answer",
            years,
        )
        % {"years": years},
    }


def _processors() -> list[dict[str, Any]]:
    return [
        {
            "name": p.name,
            "service": p.service,
            "country": p.location,
            "outside_eea": p.location not in EEA,
            "safeguard": str(Processor.Safeguard(p.safeguard).label),
            "dpa_signed_on": p.dpa_signed_on.isoformat() if p.dpa_signed_on else "",
            "purposes": sorted(p.purposes.values_list("key", flat=True)),
        }
        for p in Processor.objects.filter(is_active=True).prefetch_related("purposes").order_by("name")
    ]


# The audited changes to what the record and the notice are made of (a retention run is not one).
CHANGES = (
    "organization.create",
    "organization.change",
    "privacy_settings.update",
    *(f"{kind}.{verb}" for kind in ("purpose", "processor", "retention_policy") for verb in ("create", "update")),
    "processor.delete",
    "retention_policy.delete",
)
CHANGED_TYPES = ("organization", "privacy_settings", "purpose", "processor", "retention_policy")


def last_changed() -> date | None:
    """The day the record last changed: the organisation's last audited change to its parts,
    or the last upgrade of Custos that changed its data model (declarations come with a
    migration), whichever is later. Read through the audit log's index of object types."""
    changed = AuditEntry.objects.filter(object_type__in=CHANGED_TYPES, action__in=CHANGES).aggregate(at=Max("at"))["at"]
    upgraded = MigrationRecorder.Migration.objects.aggregate(at=Max("applied"))["at"]
    latest = max((at for at in (changed, upgraded) if at is not None), default=None)
    return timezone.localdate(latest) if latest is not None else None


def processing_record(*, language: str = "en") -> dict[str, Any]:
    """The Art. 30(1) record of the current organisation, in one language."""
    with translation.override(language):
        org = Organization.objects.get(pk=require_org_id())
        current = privacy_settings()
        processors = _processors()
        activities = []
        for purpose in Purpose.objects.filter(is_active=True).order_by("key"):
            text = purpose_text(purpose)
            activities.append(
                {
                    "key": purpose.key,
                    "name": in_language(text.names, language),
                    "description": in_language(text.descriptions, language),
                    "legal_basis": str(LegalBasis(purpose.legal_basis).label),
                    "version": purpose.version,
                    "marketing": purpose.is_marketing,
                    "recipients": [p["name"] for p in processors if purpose.key in p["purposes"]],
                }
            )
        return {
            "controller": {
                "name": org.name,
                "country": org.country,
                "contact": current.controller_contact,
                "dpo": current.dpo_contact,
            },
            "generated_at": timezone.now().isoformat(),
            "last_changed": last_changed(),
            "language": language,
            "activities": activities,
            "record_types": _record_types(),
            "processors": processors,
            "transfers": [p for p in processors if p["outside_eea"]],
            "retention": _retention(),
            "requests_kept": _requests_kept(current.request_keep_years),
            "security_measures": _security_measures(),
        }


def _direction(language: str) -> str:
    return "rtl" if language in settings.LANGUAGES_BIDI else "ltr"


def processing_record_html(record: dict[str, Any]) -> str:
    with translation.override(record["language"]):
        return render_to_string(
            "privacy/processing_record.html", {"record": record, "direction": _direction(record["language"])}
        )


def processing_record_pdf(record: dict[str, Any]) -> bytes:
    from weasyprint import HTML

    from custos.privacy.services.documents import offline_url_fetcher

    pdf = HTML(string=processing_record_html(record), url_fetcher=offline_url_fetcher()).write_pdf()
    assert pdf is not None
    return bytes(pdf)


def processing_record_xlsx(record: dict[str, Any]) -> bytes:
    """One sheet per part of the record; every text cell neutralised against formulas."""
    with translation.override(record["language"]):
        workbook = Workbook()
        controller = record["controller"]
        sheets = [
            (
                _("Controller"),
                [_("Controller"), _("Country"), _("Contact"), _("Data protection officer"), _("Last changed")],
                [
                    [
                        controller["name"],
                        controller["country"],
                        controller["contact"],
                        controller["dpo"],
                        record["last_changed"].isoformat() if record["last_changed"] else "",
                    ]
                ],
            ),
            (
                _("Activities"),
                [_("Purpose"), _("Description"), _("Legal basis"), _("Recipients")],
                [
                    [a["name"], a["description"], a["legal_basis"], ", ".join(a["recipients"])]
                    for a in record["activities"]
                ],
            ),
            (
                _("Data"),
                [_("Record type"), _("Categories"), _("Kept by law")],
                [[t["label"], ", ".join(t["categories"]), t["keep"]] for t in record["record_types"]],
            ),
            (
                _("Processors"),
                [_("Name"), _("Service"), _("Country"), _("Safeguard"), _("Agreement signed")],
                [
                    [p["name"], p["service"], p["country"], p["safeguard"], p["dpa_signed_on"]]
                    for p in record["processors"]
                ],
            ),
            (
                _("Retention"),
                [_("Record type"), _("Period")],
                [[r["record_type"], r["period"]] for r in [*record["retention"], record["requests_kept"]]],
            ),
            (_("Security"), [_("Measure")], [[m] for m in record["security_measures"]]),
        ]
        workbook.remove(workbook.active)
        for title, header, rows in sheets:
            sheet = workbook.create_sheet(title[:31])
            sheet.sheet_view.rightToLeft = _direction(record["language"]) == "rtl"
            sheet.append(header)
            for cell in sheet[1]:
                cell.font = Font(bold=True)
            for row in rows:
                sheet.append([neutralise(str(value)) for value in row])
        buffer = io.BytesIO()
        workbook.save(buffer)
        return buffer.getvalue()


def privacy_notice(*, language: str) -> dict[str, Any]:
    """What a person is told (Art. 13/14): the same configuration as the record, worded for them."""
    record = processing_record(language=language)
    with translation.override(language):
        return {
            **record,
            "rights": [
                _("to get a copy of the data we hold about you and to learn how we use it (Art. 15)"),
                _("to have wrong data corrected (Art. 16)"),
                _("to have your data erased (Art. 17)"),
                _("to have its processing restricted (Art. 18)"),
                _("to receive the data you gave us in a machine-readable form (Art. 20)"),
                _(
                    "to object to direct marketing and to profiling at any time, and to any other processing "
                    "for reasons of your particular situation (Art. 21)"
                ),
                _("to withdraw a consent at any time, without affecting what happened before (Art. 7(3))"),
                _("to complain to a data protection supervisory authority (Art. 77)"),
            ],
        }
