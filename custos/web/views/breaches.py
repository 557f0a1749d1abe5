"""Staff pages of the privacy engine: the breach register (Art. 33 to 34) and the processors
register (Art. 28). The forms parse; `custos.privacy.services` decides what is valid."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from custos.core.errors import Conflict, ValidationFailed
from custos.core.personal_data import CATEGORY_LABELS
from custos.crm.selectors.leads import lead_list
from custos.crm.selectors.people import contact_list, persons_listed
from custos.privacy.models import Breach, BreachSubject, Processor, Purpose
from custos.privacy.services import breaches as breach_services
from custos.privacy.services import processors as processor_services
from custos.privacy.services.breaches import access_breach, breach_clock, breach_counts, breach_list
from custos.privacy.services.processors import access_processor, is_outside_eea, processor_list
from custos.search.text import query
from custos.web.forms import attach_errors, country_choices
from custos.web.shortcuts import actor_of
from custos.web.views.leads import LEAD_STATUSES
from custos.web.views.listing import filter_value, list_filters, page, posted, search_terms

BREACH_FORM = "web/privacy/breaches/form.html"
PROCESSOR_FORM = "web/privacy/processors/form.html"
PICKS = 50  # of each kind, contacts and leads

# Forms ------------------------------------------------------------------------------------


def _local_input(value: Any) -> str:
    """A stored moment as a datetime-local input shows it, in the user's time zone."""
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M") if value else ""


class BreachForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=200, required=False)
    aware_at = forms.CharField(
        label=gettext_lazy("Became aware at"),
        required=False,
        help_text=gettext_lazy("The authority must be notified within 72 hours of this moment."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    occurred_at = forms.CharField(
        label=gettext_lazy("Occurred at"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    nature = forms.CharField(
        label=gettext_lazy("Nature of the breach"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    data_categories = forms.MultipleChoiceField(
        label=gettext_lazy("Kinds of personal data concerned"),
        required=False,
        choices=[(str(key), label) for key, label in CATEGORY_LABELS.items()],
        widget=forms.CheckboxSelectMultiple,
    )
    person_categories = forms.CharField(
        label=gettext_lazy("Categories of persons"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    approx_persons = forms.CharField(
        label=gettext_lazy("Approximate number of persons"),
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "dir": "ltr"}),
    )
    approx_records = forms.CharField(
        label=gettext_lazy("Approximate number of records"),
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "dir": "ltr"}),
    )
    consequences = forms.CharField(
        label=gettext_lazy("Likely consequences"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    measures = forms.CharField(
        label=gettext_lazy("Measures taken or proposed"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def domain_data(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in breach_services.BREACH_FIELDS}


def _breach_initial(breach: Breach) -> dict[str, Any]:
    initial = {name: getattr(breach, name) for name in breach_services.BREACH_FIELDS}
    initial["aware_at"] = _local_input(breach.aware_at)
    initial["occurred_at"] = _local_input(breach.occurred_at)
    for name in ("approx_persons", "approx_records"):
        initial[name] = "" if initial[name] is None else str(initial[name])
    return initial


class ProcessorForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200, required=False)
    service = forms.CharField(label=gettext_lazy("Service"), max_length=300, required=False)
    location = forms.ChoiceField(label=gettext_lazy("Country"), choices=country_choices, required=False)
    safeguard = forms.ChoiceField(
        label=gettext_lazy("Transfer safeguard"),
        choices=[("", "—"), *Processor.Safeguard.choices],
        required=False,
        help_text=gettext_lazy("Outside the EU/EEA, personal data may only go with a safeguard (Art. 44 to 49 GDPR)."),
    )
    dpa_signed_on = forms.CharField(
        label=gettext_lazy("Data processing agreement signed on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    purposes = forms.MultipleChoiceField(
        label=gettext_lazy("Purposes"), required=False, widget=forms.CheckboxSelectMultiple
    )
    is_active = forms.BooleanField(label=gettext_lazy("Active"), required=False)
    contact_email = forms.CharField(
        label=gettext_lazy("Contact email"),
        max_length=254,
        required=False,
        widget=forms.EmailInput(attrs={"dir": "ltr"}),
        help_text=gettext_lazy("Where the processor is told of rectifications, erasures and restrictions."),
    )
    inform_of_changes = forms.BooleanField(
        label=gettext_lazy("Inform of rectification, erasure and restriction (Art. 19 GDPR)"),
        required=False,
        help_text=gettext_lazy(
            "Mailed when such a request is completed, if the privacy settings say to inform recipients."
        ),
    )

    def __init__(self, *args: Any, purposes: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if purposes is None:
            del self.fields["purposes"]
        else:
            self.fields["purposes"].choices = purposes  # type: ignore[attr-defined]  # a ChoiceField

    def domain_data(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.fields}


def _purpose_choices(request: HttpRequest) -> list[tuple[str, str]] | None:
    """Purposes to link a processor to; None (the field left out) for a role that cannot see them."""
    actor = actor_of(request)
    if not any(actor.can(p) for p in ("purpose.view", "consent.view", "consent.add")):
        return None
    return [(str(pk), name) for pk, name in Purpose.objects.order_by("key").values_list("pk", "key")]


# Breaches ---------------------------------------------------------------------------------


def breach_list_view(request: HttpRequest) -> HttpResponse:
    """The register with each breach's 72-hour clock; overdue ones stand out."""
    actor = actor_of(request)
    cursor = request.GET.get("cursor") or None
    rows, next_cursor = page(breach_list(actor), cursor)
    now = timezone.now()
    breaches = [(breach, breach_clock(breach, now)) for breach in rows]
    return render(
        request,
        "web/privacy/breaches/list.html",
        {"breaches": breaches, "next_cursor": next_cursor, "filters": []},
    )


def breach_create_view(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    actor.require("breach.add")
    form = BreachForm(posted(request), initial={"aware_at": _local_input(timezone.now())})
    if request.method == "POST" and form.is_valid():
        try:
            breach = breach_services.breach_create(actor=actor, data=form.domain_data())
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            messages.success(request, _("The breach is recorded; the 72-hour clock is running."))
            return redirect("web:breach-detail", breach.pk)
    return render(request, BREACH_FORM, {"form": form, "title": _("New breach")})


def breach_edit_view(request: HttpRequest, breach_id: str) -> HttpResponse:
    actor = actor_of(request)
    breach = access_breach(actor, breach_id, write=True)
    if breach.status == Breach.Status.CLOSED:
        messages.info(request, _("This breach is closed."))
        return redirect("web:breach-detail", breach.pk)
    form = BreachForm(posted(request), initial=_breach_initial(breach))
    if request.method == "POST" and form.is_valid():
        try:
            breach_services.breach_update(actor=actor, breach=breach, data=form.domain_data())
        except ValidationFailed as error:
            attach_errors(form, error)
        except Conflict as error:
            form.add_error(None, error.detail)
        else:
            messages.success(request, _("The breach is saved."))
            return redirect("web:breach-detail", breach.pk)
    return render(
        request, BREACH_FORM, {"form": form, "breach": breach, "title": _("Breach: %(title)s") % {"title": breach}}
    )


def _affected_names(request: HttpRequest, breach: Breach) -> list[tuple[BreachSubject, list[tuple[str, Any]]]]:
    """The first affected persons, each with the contacts and leads the actor may see of them."""
    actor = actor_of(request)
    links = list(BreachSubject.objects.filter(breach=breach).select_related("subject").order_by("pk")[:200])
    records: dict[Any, list[tuple[str, Any]]] = {}
    for record in _records_of(actor, [link.subject_id for link in links]):
        url = reverse(f"web:{record._meta.model_name}-detail", args=[record.pk])
        records.setdefault(record.subject_id, []).append((url, record))
    return [(link, records.get(link.subject_id, [])) for link in links]


def _records_of(actor: Any, subject_ids: list[Any], q: str = "") -> list[Any]:
    """The contacts, then the leads, the actor may see: of these persons, or matching `q`."""
    found: list[Any] = []
    for kind, listed in (("contact", contact_list), ("lead", lead_list)):
        if not actor.can(f"{kind}.view"):
            continue
        if q:
            found.extend(listed(actor, q=q).filter(subject__isnull=False)[:PICKS])
        else:
            found.extend(listed(actor).filter(subject_id__in=subject_ids))
    return found


def breach_detail_view(request: HttpRequest, breach_id: str) -> HttpResponse:
    actor = actor_of(request)
    breach = access_breach(actor, breach_id)
    affected, notified = breach_counts(breach)
    categories = {str(key): label for key, label in CATEGORY_LABELS.items()}
    return render(
        request,
        "web/privacy/breaches/detail.html",
        {
            "breach": breach,
            "clock": breach_clock(breach),
            "affected": affected,
            "notified": notified,
            "people": _affected_names(request, breach),
            "categories": [categories[key] for key in breach.data_categories if key in categories],
            "is_open": breach.status == Breach.Status.OPEN,
        },
    )


def breach_subjects_view(request: HttpRequest, breach_id: str) -> HttpResponse:
    """Pick the affected persons from the contacts and leads: search (posted, so names stay out
    of URLs), tick, add. The breach records their subjects, not the records."""
    actor = actor_of(request)
    breach = access_breach(actor, breach_id, write=True)
    if not (actor.can("contact.view") or actor.can("lead.view")):
        actor.require("contact.view")
    if breach.status == Breach.Status.CLOSED:
        messages.info(request, _("This breach is closed."))
        return redirect("web:breach-detail", breach.pk)
    q = query(request.POST.get("q", "")) if request.method == "POST" else ""
    error = ""
    if request.method == "POST" and "add" in request.POST:
        subject_ids = sorted(
            {
                str(pk)
                for kind, listed in (("contact", contact_list), ("lead", lead_list))
                if actor.can(f"{kind}.view")
                for pk in listed(actor)
                .filter(pk__in=_valid_ids([pk for pk in request.POST.getlist(f"{kind}s") if pk]))
                .filter(subject__isnull=False)
                .values_list("subject_id", flat=True)
            }
        )
        if not subject_ids:
            error = _("Tick at least one person.")
        else:
            try:
                added = breach_services.breach_add_subjects(actor=actor, breach=breach, subject_ids=subject_ids)
            except ValidationFailed as failure:
                error = " ".join(e.message for e in failure.errors)
            else:
                return _added(request, breach, added)
    candidates = _records_of(actor, [], q) if q else []
    present = set(BreachSubject.objects.filter(breach=breach).values_list("subject_id", flat=True))
    return render(
        request,
        "web/privacy/breaches/subjects.html",
        {
            "breach": breach,
            "q": q,
            "candidates": [(record, record._meta.model_name, record.subject_id in present) for record in candidates],
            "error": error,
        },
    )


@require_POST
def breach_from_list_view(request: HttpRequest) -> HttpResponse:
    """Record everyone in a contact or lead list, with the list's search and filters (posted,
    like the list's own, for they may hold personal values), as affected by a breach: first
    how many that is, with a few names, to confirm; then the add, of exactly the persons
    counted (the confirmation carries the count; a list that changed since is counted again)."""
    actor = actor_of(request)
    kind = "lead" if request.POST.get("kind") == "lead" else "contact"
    breach = access_breach(actor, request.POST.get("breach", ""), write=True)
    if breach.status == Breach.Status.CLOSED:
        messages.info(request, _("This breach is closed."))
        return redirect("web:breach-detail", breach.pk)
    q, _cursor = search_terms(request)
    filters = list_filters(request)
    filters.pop("order", None)
    status = filter_value(request, "status", LEAD_STATUSES) if kind == "lead" else ""
    confirmed = _confirmed_count(request.POST.get("listed", "")) if "confirm" in request.POST else None
    try:
        persons = persons_listed(actor, kind, q=q, status=status, filters=filters)
        if confirmed is not None:
            try:
                added = breach_services.breach_add_listed(
                    actor=actor, breach=breach, subjects=[persons], expected=confirmed
                )
            except breach_services.ListChanged as changed:
                messages.error(request, changed.detail)
                return _from_list_confirmation(request, actor, breach, kind, q, status, filters, persons)
            except Conflict as error:  # closed meanwhile
                messages.error(request, error.detail)
                return redirect("web:breach-detail", breach.pk)
            return _added(request, breach, added)
    except ValidationFailed as failure:
        return _from_list_page(request, breach, kind, q, status, filters, errors=failure.errors)
    return _from_list_confirmation(request, actor, breach, kind, q, status, filters, persons)


def _added(request: HttpRequest, breach: Breach, added: int) -> HttpResponse:
    messages.success(
        request,
        ngettext(
            "%(count)d person is added to the affected persons.",
            "%(count)d persons are added to the affected persons.",
            added,
        )
        % {"count": added},
    )
    return redirect("web:breach-detail", breach.pk)


def _confirmed_count(value: str) -> int | None:
    """The count the confirmation showed; None when there is none (then it is shown first)."""
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 10 else None


def _from_list_confirmation(
    request: HttpRequest,
    actor: Any,
    breach: Breach,
    kind: str,
    q: str,
    status: str,
    filters: dict[str, str],
    persons: Any,
) -> HttpResponse:
    listed, recorded = breach_services.breach_listed_count(breach, [persons])
    lister = lead_list if kind == "lead" else contact_list
    examples = list(lister(actor, q=q, **({"status": status} if kind == "lead" else {}), filters=filters)[:5])
    return _from_list_page(
        request, breach, kind, q, status, filters, listed=listed, recorded=recorded, examples=examples
    )


def _from_list_page(
    request: HttpRequest,
    breach: Breach,
    kind: str,
    q: str,
    status: str,
    filters: dict[str, str],
    *,
    listed: int = 0,
    recorded: int = 0,
    examples: list[Any] | None = None,
    errors: list[Any] | None = None,
) -> HttpResponse:
    return render(
        request,
        "web/privacy/breaches/from_list.html",
        {
            "breach": breach,
            "kind": kind,
            "q": q,
            "filters": sorted([*filters.items(), *([("status", status)] if status else [])]),
            "listed": listed,
            "recorded": recorded,
            "new": listed - recorded,
            "examples": examples or [],
            "errors": errors or [],
            "list_url": reverse(f"web:{kind}-list"),
        },
    )


@require_POST
def breach_subject_remove_view(request: HttpRequest, breach_id: str) -> HttpResponse:
    """Take a person recorded by mistake off the breach (not one told already)."""
    actor = actor_of(request)
    breach = access_breach(actor, breach_id, write=True)
    try:
        removed = breach_services.breach_remove_subjects(
            actor=actor, breach=breach, subject_ids=[request.POST.get("subject", "")]
        )
    except ValidationFailed as failure:
        messages.error(request, " ".join(e.message for e in failure.errors))
    except Conflict as error:
        messages.error(request, error.detail)
    else:
        if removed:
            messages.success(request, _("The person is no longer recorded as affected."))
    return redirect("web:breach-detail", breach.pk)


def _valid_ids(values: list[str]) -> list[str]:
    valid = []
    for value in values[: breach_services.MAX_SUBJECTS_PER_CALL]:
        try:
            valid.append(str(uuid.UUID(value)))
        except ValueError:
            continue
    return valid


@require_POST
def breach_notify_view(request: HttpRequest, breach_id: str) -> HttpResponse:
    actor = actor_of(request)
    breach = access_breach(actor, breach_id, write=True)
    try:
        counts = breach_services.breach_notify_subjects(actor=actor, breach=breach)
    except Conflict as error:
        messages.error(request, error.detail)
    else:
        messages.success(
            request,
            ngettext(
                "%(count)d notice is on its way.",
                "%(count)d notices are on their way.",
                counts.queued,
            )
            % {"count": counts.queued},
        )
        if counts.without_email:
            messages.warning(
                request,
                ngettext(
                    "%(count)d affected person has no email on record: tell them another way.",
                    "%(count)d affected persons have no email on record: tell them another way.",
                    counts.without_email,
                )
                % {"count": counts.without_email},
            )
    return redirect("web:breach-detail", breach.pk)


@require_POST
def breach_authority_notified_view(request: HttpRequest, breach_id: str) -> HttpResponse:
    actor = actor_of(request)
    breach = access_breach(actor, breach_id, write=True)
    try:
        breach_services.breach_mark_authority_notified(
            actor=actor, breach=breach, notified_at=request.POST.get("notified_at") or None
        )
    except ValidationFailed as error:
        messages.error(request, " ".join(e.message for e in error.errors))
    except Conflict as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, _("The authority’s notification is recorded; the clock has stopped."))
    return redirect("web:breach-detail", breach.pk)


@require_POST
def breach_close_view(request: HttpRequest, breach_id: str) -> HttpResponse:
    actor = actor_of(request)
    breach = access_breach(actor, breach_id, write=True)
    try:
        breach_services.breach_close(actor=actor, breach=breach)
    except Conflict as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, _("The breach is closed."))
    return redirect("web:breach-detail", breach.pk)


# Processors -------------------------------------------------------------------------------


def processor_list_view(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    cursor = request.GET.get("cursor") or None
    rows, next_cursor = page(processor_list(actor), cursor)
    return render(
        request,
        "web/privacy/processors/list.html",
        {
            "processors": [(p, is_outside_eea(p.location)) for p in rows],
            "next_cursor": next_cursor,
            "filters": [],
        },
    )


def processor_create_view(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    actor.require("processor.add")
    form = ProcessorForm(posted(request), purposes=_purpose_choices(request), initial={"is_active": True})
    if request.method == "POST" and form.is_valid():
        try:
            processor = processor_services.processor_create(actor=actor, data=form.domain_data())
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            messages.success(request, _("The processor “%(name)s” is saved.") % {"name": processor.name})
            return redirect("web:processor-list")
    return render(request, PROCESSOR_FORM, {"form": form, "title": _("New processor")})


def processor_edit_view(request: HttpRequest, processor_id: str) -> HttpResponse:
    actor = actor_of(request)
    processor = access_processor(actor, processor_id, write=True)
    initial = {
        "name": processor.name,
        "service": processor.service,
        "location": processor.location,
        "safeguard": processor.safeguard,
        "dpa_signed_on": processor.dpa_signed_on.isoformat() if processor.dpa_signed_on else "",
        "purposes": [str(p.pk) for p in processor.purposes.all()],
        "is_active": processor.is_active,
        "contact_email": processor.contact_email,
        "inform_of_changes": processor.inform_of_changes,
    }
    form = ProcessorForm(posted(request), purposes=_purpose_choices(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            processor_services.processor_update(actor=actor, processor=processor, data=form.domain_data())
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            messages.success(request, _("The processor “%(name)s” is saved.") % {"name": processor.name})
            return redirect("web:processor-list")
    return render(
        request,
        PROCESSOR_FORM,
        {"form": form, "processor": processor, "title": _("Processor: %(name)s") % {"name": processor.name}},
    )


@require_POST
def processor_delete_view(request: HttpRequest, processor_id: str) -> HttpResponse:
    actor = actor_of(request)
    actor.require("processor.delete")
    processor = access_processor(actor, processor_id)
    processor_services.processor_delete(actor=actor, processor=processor)
    messages.success(request, _("The processor “%(name)s” is removed.") % {"name": processor.name})
    return redirect("web:processor-list")


def breach_report_view(request: HttpRequest, breach_id: str) -> HttpResponse:
    """The report for the supervisory authority, in the staff member's language."""
    from custos.privacy.services.documents import breach_report_pdf

    actor = actor_of(request)
    actor.require("breach.export")
    breach = access_breach(actor, breach_id)
    language = translation.get_language() or "en"
    body = breach_report_pdf(breach_services.breach_report_data(breach), language=language)
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="breach-{breach.pk}.pdf"'
    return response


urlpatterns: list[URLPattern] = [
    path("privacy/breaches/", breach_list_view, name="breach-list"),
    path("privacy/breaches/new/", breach_create_view, name="breach-create"),
    path("privacy/breaches/from-list/", breach_from_list_view, name="breach-from-list"),
    path("privacy/breaches/<str:breach_id>/", breach_detail_view, name="breach-detail"),
    path("privacy/breaches/<str:breach_id>/edit/", breach_edit_view, name="breach-edit"),
    path("privacy/breaches/<str:breach_id>/subjects/", breach_subjects_view, name="breach-subjects"),
    path("privacy/breaches/<str:breach_id>/subjects/remove/", breach_subject_remove_view, name="breach-subject-remove"),
    path("privacy/breaches/<str:breach_id>/notify/", breach_notify_view, name="breach-notify"),
    path(
        "privacy/breaches/<str:breach_id>/authority-notified/",
        breach_authority_notified_view,
        name="breach-authority-notified",
    ),
    path("privacy/breaches/<str:breach_id>/close/", breach_close_view, name="breach-close"),
    path("privacy/breaches/<str:breach_id>/report.pdf", breach_report_view, name="breach-report"),
    path("privacy/processors/", processor_list_view, name="processor-list"),
    path("privacy/processors/new/", processor_create_view, name="processor-create"),
    path("privacy/processors/<str:processor_id>/", processor_edit_view, name="processor-edit"),
    path("privacy/processors/<str:processor_id>/delete/", processor_delete_view, name="processor-delete"),
]
