"""Forms of the privacy engine's staff pages. They parse; `custos.privacy.services` decides
what is valid, and its field errors are put back onto these forms."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from custos.core.errors import ValidationFailed
from custos.privacy.models import PrivacyRequest
from custos.privacy.models.consent import LegalBasis
from custos.privacy.services.requests import MAX_EXTENSION_DAYS

LANGUAGES = [(code, name) for code, name in settings.LANGUAGES]
# Fields a person may ask to have corrected (identity and contact data of contacts and leads).
CORRECTABLE = (
    ("first_name", _("Corrected first name")),
    ("last_name", _("Corrected last name")),
    ("email", _("Corrected email")),
    ("phone", _("Corrected phone")),
)


def attach_domain_errors(form: forms.Form, error: ValidationFailed, rename: dict[str, str] | None = None) -> None:
    """Put a domain error onto the form field it names: the full dotted name first
    (`names.de` → `name_de` via `rename`), then its first part, else the whole form."""
    for item in error.errors:
        field = item.field or ""
        candidates = [(rename or {}).get(field, field), (rename or {}).get(field.split(".")[0], field.split(".")[0])]
        name = next((c for c in candidates if c in form.fields), None)
        form.add_error(name, item.message)


class RequestForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind of request"), choices=PrivacyRequest.Kind.choices)
    email = forms.CharField(
        label=_("Email of the person"),
        max_length=254,
        widget=forms.EmailInput(attrs={"dir": "ltr", "autocomplete": "off"}),
        help_text=_("The deadline runs from now, whether or not the address is on record."),
    )
    language = forms.ChoiceField(label=_("Answer in"), choices=LANGUAGES)
    objection_about = forms.ChoiceField(
        label=_("Objection to"),
        required=False,
        choices=[
            ("marketing", _("Direct marketing")),
            ("profiling", _("Profiling (lead scores)")),
            ("situation", _("Any processing, for reasons of the person's particular situation")),
        ],
        help_text=_("Objections only."),
    )
    first_name = forms.CharField(label=CORRECTABLE[0][1], max_length=300, required=False)
    last_name = forms.CharField(label=CORRECTABLE[1][1], max_length=300, required=False)
    corrected_email = forms.CharField(
        label=CORRECTABLE[2][1], max_length=300, required=False, widget=forms.TextInput(attrs={"dir": "ltr"})
    )
    phone = forms.CharField(
        label=CORRECTABLE[3][1], max_length=300, required=False, widget=forms.TextInput(attrs={"dir": "ltr"})
    )
    note = forms.CharField(
        label=_("Details"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What the person asked for, in their words, without special-category data."),
    )

    def details(self) -> dict[str, Any]:
        """The request's details as the domain takes them, for its kind."""
        kind = self.cleaned_data["kind"]
        note = self.cleaned_data.get("note", "")
        if kind == PrivacyRequest.Kind.OBJECTION:
            about = self.cleaned_data.get("objection_about") or "marketing"
            return {"about": about, **({"note": note} if note and about == "situation" else {})}
        if kind == PrivacyRequest.Kind.RECTIFICATION:
            fields = {
                "first_name": "first_name",
                "last_name": "last_name",
                "email": "corrected_email",
                "phone": "phone",
            }
            corrections = {
                name: self.cleaned_data[form] for name, form in fields.items() if self.cleaned_data.get(form)
            }
            return {"corrections": corrections, "note": note}
        return {"note": note} if note else {}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") == PrivacyRequest.Kind.RECTIFICATION and not any(
            data.get(name) for name in ("first_name", "last_name", "corrected_email", "phone")
        ):
            self.add_error("first_name", _("Enter at least one corrected value."))
        return data


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class ExtendForm(ReasonForm):
    days = forms.IntegerField(
        label=_("Extend by (days)"),
        min_value=1,
        max_value=MAX_EXTENSION_DAYS,
        help_text=_("At most 61 days (two further months, Art. 12(3) GDPR); once per request."),
    )


class PurposeForm(forms.Form):
    key = forms.CharField(
        label=_("Key"),
        max_length=60,
        help_text=_("Lower-case letters, digits and underscores; fixed once created."),
        widget=forms.TextInput(attrs={"dir": "ltr"}),
    )
    legal_basis = forms.ChoiceField(label=_("Legal basis"), choices=LegalBasis.choices)
    is_marketing = forms.BooleanField(label=_("Direct marketing"), required=False)
    is_active = forms.BooleanField(label=_("Active"), required=False)

    def __init__(self, *args: Any, creating: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if creating:
            del self.fields["is_active"]  # a new purpose is active
        else:
            del self.fields["key"]
        for code, language in LANGUAGES:
            self.fields[f"name_{code}"] = forms.CharField(
                label=_("Name (%(language)s)") % {"language": language},
                max_length=200,
                required=False,
                widget=forms.TextInput(attrs={"lang": code, "dir": "auto"}),
            )
            self.fields[f"description_{code}"] = forms.CharField(
                label=_("Description (%(language)s)") % {"language": language},
                max_length=5000,
                required=False,
                widget=forms.Textarea(attrs={"rows": 3, "lang": code, "dir": "auto"}),
            )

    def domain_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            name: self.cleaned_data[name]
            for name in ("key", "legal_basis", "is_marketing", "is_active")
            if name in self.fields
        }
        data["names"] = {code: self.cleaned_data[f"name_{code}"] for code, _name in LANGUAGES}
        data["descriptions"] = {code: self.cleaned_data[f"description_{code}"] for code, _name in LANGUAGES}
        return data

    @staticmethod
    def error_names() -> dict[str, str]:
        """Domain field names (`names.de`) → this form's fields (`name_de`)."""
        names = {"names": f"name_{LANGUAGES[0][0]}", "descriptions": f"description_{LANGUAGES[0][0]}"}
        for code, _name in LANGUAGES:
            names[f"names.{code}"] = f"name_{code}"
            names[f"descriptions.{code}"] = f"description_{code}"
        return names


class ConsentForm(forms.Form):
    purpose = forms.ChoiceField(label=_("Purpose"))
    action = forms.ChoiceField(
        label=_("The person has"),
        choices=[("given", _("given consent")), ("withdrawn", _("withdrawn consent"))],
    )
    text_shown = forms.CharField(
        label=_("Text shown to the person"),
        max_length=10000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Leave empty when they were shown the purpose's current wording."),
    )

    def __init__(self, *args: Any, purposes: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["purpose"].choices = purposes  # type: ignore[attr-defined]  # a ChoiceField
