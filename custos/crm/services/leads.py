"""Actions on leads, and their conversion into contact, company and deal in one step."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.audit.services import audit_record
from custos.core.actor import Actor, Via
from custos.core.errors import Conflict, ValidationFailed
from custos.core.validation import Cleaner
from custos.crm.models import Activity, Company, Contact, Deal, Lead
from custos.crm.selectors.records import scoped
from custos.crm.services.custom_fields import carried_custom_values, clean_custom_values
from custos.crm.services.records import (
    ADDRESS_FIELDS,
    check_field_rights,
    clean_address,
    clean_member,
    delete_record,
    given_fields,
    insert_record,
    names_of,
    org_country,
    reject_unknown,
    subject_for_email,
    update_record,
)
from custos.crm.services.rules import lead_assign, rescore

LEAD_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "company_name",
    "job_title",
    "status",
    "disqualified_reason",
    "source",
    "interest",
    "owner",
    "tags",
    "custom_fields",
    "notes",
    *ADDRESS_FIELDS,
)
# Where a lead came from, when the caller does not say: how it reached Custos.
SOURCE_BY_VIA = {Via.API: Lead.Source.API, Via.PORTAL: Lead.Source.WEB_FORM}
# A lead needs at least one of these, to say who it is.
REACH_FIELDS = ("first_name", "last_name", "email", "company_name")
# Converted is reached only by converting.
SETTABLE_STATUSES = [s for s in Lead.Status.values if s != Lead.Status.CONVERTED]


def clean_lead(
    actor: Actor,
    data: Mapping[str, Any],
    *,
    partial: bool,
    country: str,
    index: int | None = None,
    record: Lead | None = None,
) -> tuple[dict[str, Any], Cleaner]:
    cleaner = Cleaner(index)
    cleaned: dict[str, Any] = {}
    reject_unknown(cleaner, data, LEAD_FIELDS)
    clean_address(cleaner, data, cleaned, partial=partial)
    for name in LEAD_FIELDS:
        if partial and name not in data:
            continue
        value = data.get(name)
        match name:
            case "first_name" | "last_name" | "job_title":
                cleaned[name] = cleaner.text(name, value, max_length=100)
            case "company_name":
                cleaned[name] = cleaner.text(name, value, max_length=200)
            case "email":
                cleaned[name] = cleaner.email(name, value)
            case "phone":
                cleaned[name] = cleaner.phone(name, value, country=country)
            case "status":
                cleaned[name] = cleaner.choice(name, value, SETTABLE_STATUSES, default=Lead.Status.NEW)
            case "source":
                cleaned[name] = cleaner.choice(name, value, Lead.Source.values, default=Lead.Source.MANUAL)
            case "disqualified_reason":
                cleaned[name] = cleaner.text(name, value, max_length=500)
            case "interest":
                # The hosted form asks for it in a textarea: a visitor may well write lines.
                cleaned[name] = cleaner.text(name, value, max_length=500, multiline=True)
            case "owner":
                cleaned["owner_id"] = (
                    clean_member(cleaner, actor, "owner", value) if value is not None or partial else actor.user_id
                )
            case "tags":
                cleaned[name] = cleaner.tags(name, value)
            case "custom_fields":
                cleaned |= clean_custom_values(cleaner, actor, "lead", value, record)
            case "notes":
                cleaned[name] = cleaner.text(name, value, max_length=20000, multiline=True)
    return cleaned, cleaner


def _check_lead(cleaner: Cleaner, lead: Lead) -> None:
    """Invariants on the whole lead, after the change: someone to reach, a reason to drop."""
    if not any(getattr(lead, name) for name in REACH_FIELDS):
        cleaner.fail("last_name", _("Enter a name, an email address or a company."))
    if lead.status == Lead.Status.DISQUALIFIED and not lead.disqualified_reason:
        cleaner.fail("disqualified_reason", _("Say why the lead is disqualified."))


def lead_create(*, actor: Actor, data: Mapping[str, Any]) -> Lead:
    """Create a lead, linked to its person's subject (shared with a contact of the same email)."""
    actor.require("lead.add")
    check_field_rights(actor, "lead", given_fields(data))
    cleaned, cleaner = clean_lead(actor, data, partial=False, country=org_country(actor))
    if not data.get("source"):
        cleaned["source"] = SOURCE_BY_VIA.get(actor.via, Lead.Source.MANUAL)
    lead = Lead(**cleaned)
    _check_lead(cleaner, lead)
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    with transaction.atomic():
        lead.subject = subject_for_email(lead.email, names_of(lead.first_name, lead.last_name))
        insert_record(actor, lead, "lead", cleaned)
        if "owner" not in data:
            lead_assign(actor=actor, lead=lead)  # by the rules, when one matches
        rescore([lead])
    return lead


def lead_update(*, actor: Actor, lead: Lead, data: Mapping[str, Any]) -> Lead:
    actor.require("lead.change")
    if lead.status == Lead.Status.CONVERTED:
        raise Conflict(_("This lead is converted; change the contact or the deal instead."))
    check_field_rights(actor, "lead", data.keys())
    cleaned, cleaner = clean_lead(actor, data, partial=True, country=org_country(actor), record=lead)
    if cleaned.get("status", Lead.Status.DISQUALIFIED) != Lead.Status.DISQUALIFIED and lead.disqualified_reason:
        cleaned.setdefault("disqualified_reason", "")  # qualified again: the old reason no longer holds
    after = Lead(**{**{f.attname: getattr(lead, f.attname) for f in Lead._meta.concrete_fields}, **cleaned})
    _check_lead(cleaner, after)
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    with transaction.atomic():
        changed = update_record(actor, lead, "lead", cleaned)
        if "owner_id" in changed and lead.assigned_because:
            # A person chose the new owner: the rule no longer explains who holds the lead.
            lead.assignment_rule, lead.assigned_because, lead.assigned_at = None, "", None
            Lead.objects.filter(pk=lead.pk).update(assignment_rule=None, assigned_because="", assigned_at=None)
        rescore([lead])
    return lead


def lead_delete(*, actor: Actor, lead: Lead) -> None:
    delete_record(actor, lead, "lead")


@dataclass(frozen=True)
class Conversion:
    contact: Contact
    company: Company | None
    deal: Deal | None


def lead_convert(
    *,
    actor: Actor,
    lead: Lead,
    deal_name: str = "",
    create_deal: bool = True,
    deal_data: Mapping[str, Any] | None = None,
) -> Conversion:
    """Turn a lead into a contact (the same person, the same subject: their existing contact
    where they have one), its company (found by name or created) and optionally a deal, in one
    transaction. The lead stays, marked
    converted and pointing at what it became; its timeline moves along to the contact."""
    from custos.crm.services.deals import deal_create

    actor.require("lead.change")
    actor.require("contact.add")
    if lead.status == Lead.Status.CONVERTED:
        raise Conflict(_("This lead is converted already."))
    if lead.status == Lead.Status.DISQUALIFIED:
        raise Conflict(_("A disqualified lead cannot be converted; qualify it first."))
    with transaction.atomic():
        company = None
        if lead.company_name:
            # Among the companies the actor may see; one they may not see is not theirs to link.
            company = (
                scoped(actor, Company.objects.annotate(name_lower=Lower("name")))
                .filter(name_lower=lead.company_name.lower())
                .first()
            )
            if company is None:
                actor.require("company.add")
                company = Company(name=lead.company_name, owner_id=lead.owner_id)
                insert_record(actor, company, "company", {"name": company.name, "owner_id": company.owner_id})
        # The person may be a contact already (the same subject: an earlier enquiry, a patient):
        # the lead joins that contact rather than making them twice.
        known = scoped(actor, Contact.objects.filter(subject_id=lead.subject_id)).order_by("created_at").first()
        contact = known or Contact(
            subject_id=lead.subject_id,
            first_name=lead.first_name,
            last_name=lead.last_name,
            email=lead.email,
            phone=lead.phone,
            company=company,
            owner_id=lead.owner_id,
            tags=lead.tags,
            notes=lead.notes,
            **{name: getattr(lead, name) for name in ADDRESS_FIELDS},
            **carried_custom_values(lead, "lead", "contact"),
        )
        if known is None:
            carried = ("first_name", "last_name", "email", "phone", "tags", "notes", "custom_fields", "custom_special")
            insert_record(actor, contact, "contact", {f: getattr(contact, f) for f in (*carried, *ADDRESS_FIELDS)})
        deal = None
        if create_deal:
            actor.require("deal.add")
            data = {
                "name": deal_name or (lead.company_name or str(lead))[:200],
                "owner": str(lead.owner_id) if lead.owner_id else None,
                **(deal_data or {}),
                "contact": str(contact.pk),
                "company": str(company.pk) if company else None,
            }
            deal = deal_create(actor=actor, data=data)
        Activity.objects.filter(lead=lead, contact__isnull=True).update(contact=contact)
        lead.status = Lead.Status.CONVERTED
        lead.converted_at = timezone.now()
        lead.converted_contact = contact
        lead.converted_deal = deal
        lead.updated_at = lead.converted_at
        lead.save(update_fields=["status", "converted_at", "converted_contact", "converted_deal", "updated_at"])
        audit_record(
            actor=actor,
            action="lead.convert",
            object_type="lead",
            object_id=lead.pk,
            extra={
                "contact": str(contact.pk),
                "company": str(company.pk) if company else "",
                "deal": str(deal.pk) if deal else "",
            },
        )
    return Conversion(contact=contact, company=company, deal=deal)
