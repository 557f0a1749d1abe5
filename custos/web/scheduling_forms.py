"""Forms of the appointment pages. They parse input; the scheduling actions decide what is valid."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from custos.core.validation import time_zone_names
from custos.scheduling.models import FeedDetail, Resource
from custos.web.forms import MomentField
from custos.web.pickers import contact_field


def _choices(field: forms.Field, options: list[tuple[str, str]], *, empty: bool) -> None:
    field.choices = [("", "—"), *options] if empty else options  # type: ignore[attr-defined]


class AppointmentForm(forms.Form):
    contact = contact_field(_("Patient or customer"), required=True)
    service = forms.ChoiceField(label=_("Service"))
    practitioner = forms.ChoiceField(label=_("Practitioner"))
    resource = forms.ChoiceField(label=_("Room, chair or equipment"), required=False)
    starts_at = MomentField(label=_("Starts"))
    ends_at = MomentField(label=_("Ends"), required=False, help_text=_("Leave empty for the service's usual length."))
    notes = forms.CharField(
        label=_("Notes"), max_length=20000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    clinical_details = forms.CharField(
        label=_("Reason and clinical details"),
        max_length=20000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Special-category data: stored encrypted; every read is logged."),
    )
    send_reminder = forms.BooleanField(label=_("Send a reminder by email"), required=False, initial=True)
    recall = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        services: list[tuple[str, str]],
        practitioners: list[tuple[str, str]],
        resources: list[tuple[str, str]],
        show_special: bool,
        hidden: frozenset[str] = frozenset(),
        editing: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        _choices(self.fields["service"], services, empty=True)
        _choices(self.fields["practitioner"], practitioners, empty=True)
        _choices(self.fields["resource"], resources, empty=True)
        if not show_special:
            del self.fields["clinical_details"]
        if editing:
            del self.fields["recall"]
        for name in (hidden - {"contact", "service", "practitioner", "starts_at"}) & set(self.fields):
            del self.fields[name]

    def domain_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        for name in ("resource", "ends_at", "recall"):
            if name in data and not data[name]:
                data[name] = None
        if data.get("recall") is None:
            data.pop("recall", None)
        return data


class ServiceForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    duration_minutes = forms.IntegerField(label=_("Duration (minutes)"), min_value=5, max_value=24 * 60, initial=30)
    price = forms.DecimalField(label=_("Price"), min_value=0, max_digits=12, decimal_places=2, required=False)
    currency = forms.CharField(label=_("Currency"), max_length=3, initial="EUR", required=False)
    resource_kind = forms.ChoiceField(
        label=_("Usually needs"), choices=[("", "—"), *Resource.Kind.choices], required=False
    )
    recall_months = forms.IntegerField(
        label=_("Recall after (months)"),
        min_value=1,
        max_value=120,
        required=False,
        help_text=_("When an appointment of this service is done, the person is due again this many months later."),
    )
    reminder_hours = forms.IntegerField(
        label=_("Reminder (hours before)"),
        min_value=1,
        max_value=24 * 14,
        required=False,
        help_text=_("Leave empty for the organisation's setting."),
    )
    is_active = forms.BooleanField(label=_("Can be booked"), required=False, initial=True)

    def domain_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if data.get("price") is None:
            data.pop("price", None)
        return data


class ResourceForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    kind = forms.ChoiceField(label=_("Kind"), choices=Resource.Kind.choices)
    is_active = forms.BooleanField(label=_("Can be booked"), required=False, initial=True)

    def domain_data(self) -> dict[str, Any]:
        return dict(self.cleaned_data)


class PractitionerForm(forms.Form):
    user = forms.ChoiceField(label=_("Member"))

    def __init__(self, *args: Any, members: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(self.fields["user"], members, empty=True)

    def domain_data(self) -> dict[str, Any]:
        return dict(self.cleaned_data)


class SchedulingSettingsForm(forms.Form):
    reminder_hours = forms.IntegerField(label=_("Reminder (hours before)"), min_value=1, max_value=24 * 14)
    language = forms.ChoiceField(label=_("Language of reminders"), choices=settings.LANGUAGES)
    time_zone = forms.ChoiceField(label=_("Time zone of reminders"))
    feed_detail = forms.ChoiceField(
        label=_("Calendar feeds show"),
        choices=FeedDetail.choices,
        help_text=_(
            "Feeds end up in phone calendars that third parties sync. Names, contact details, notes and "
            "clinical details are never in them."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The zones the settings take; the stored one stays even if it is no longer among them.
        zones = list(time_zone_names())
        if (current := self.initial.get("time_zone")) and current not in zones:
            zones.insert(0, current)
        _choices(self.fields["time_zone"], [(name, name) for name in zones], empty=False)

    def domain_data(self) -> dict[str, Any]:
        return dict(self.cleaned_data)


class RecallForm(forms.Form):
    contact = contact_field(_("Patient or customer"), required=True)
    service = forms.ChoiceField(label=_("Service"))
    interval_months = forms.IntegerField(label=_("Every (months)"), min_value=1, max_value=120, initial=6)
    due_on = forms.DateField(label=_("Next due"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def __init__(self, *args: Any, services: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(self.fields["service"], services, empty=True)

    def domain_data(self) -> dict[str, Any]:
        return dict(self.cleaned_data)
