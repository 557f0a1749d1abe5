"""Forms of the staff UI. They parse input; the domain functions decide what is valid."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from babel import Locale, UnknownLocaleError
from django import forms
from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm as DjangoPasswordResetForm
from django.forms.utils import from_current_timezone, to_current_timezone
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import get_language, gettext, pgettext_lazy, to_locale
from django.utils.translation import gettext_lazy as _

from custos.accounts.models import LANGUAGE_CHOICES, RECORD_SCOPE_CHOICES, Role, User
from custos.accounts.permissions import AREA_LABELS, AREAS
from custos.core.errors import ValidationFailed
from custos.core.validation import COUNTRIES, time_zone_names
from custos.crm.models import ContactPoint, CustomField
from custos.crm.services.people import POINT_FIELDS
from custos.web.pickers import company_field, contact_field


def attach_errors(form: forms.Form, error: ValidationFailed, rename: dict[str, str] | None = None) -> None:
    """Put a domain ValidationFailed onto the form fields it names (`rename`: domain → form name)."""
    for item in error.errors:
        field = item.field or ""
        name = CUSTOM_PREFIX + field.split(".", 1)[1] if field.startswith("custom_fields.") else field.split(".")[0]
        name = (rename or {}).get(name, name)
        form.add_error(name if name in form.fields else None, item.message)


# Addresses and custom fields, shared by the record forms -----------------------------------

CUSTOM_PREFIX = "cf_"


def country_choices() -> list[tuple[str, str]]:
    """Every country by its name in the language of the request."""
    try:
        names = Locale.parse(to_locale(get_language() or "en")).territories
    except (UnknownLocaleError, ValueError):
        names = Locale("en").territories
    return [("", "—"), *sorted(((code, names.get(code, code)) for code in COUNTRIES), key=lambda item: item[1])]


def address_fields() -> tuple[forms.Field, forms.Field, forms.Field, forms.Field]:
    """Street, postcode, city and country, declared in a form class where they should appear."""
    return (
        forms.CharField(label=_("Street and number"), max_length=200, required=False),
        forms.CharField(
            label=_("Postcode"), max_length=20, required=False, widget=forms.TextInput(attrs={"dir": "ltr"})
        ),
        forms.CharField(label=_("City"), max_length=100, required=False),
        forms.ChoiceField(label=_("Country"), choices=country_choices, required=False),
    )


def address_initial(record: Any) -> dict[str, str]:
    return {name: getattr(record, name) for name in ("street", "postcode", "city", "country")}


def _custom_form_field(definition: CustomField, kept: list[str]) -> forms.Field:
    """`kept`: options the record holds that the field no longer offers; they stay choosable,
    so that saving the form unchanged keeps them."""
    label = definition.label
    help_text = _("Special-category data: stored encrypted; every read is logged.") if definition.is_special else ""
    kinds = CustomField.Kind
    match definition.kind:
        case kinds.LONG_TEXT:
            widget: forms.Widget = forms.Textarea(attrs={"rows": 3})
            return forms.CharField(label=label, required=False, max_length=10000, widget=widget, help_text=help_text)
        case kinds.NUMBER | kinds.MONEY:
            widget = forms.TextInput(attrs={"inputmode": "decimal", "dir": "ltr"})
            return forms.CharField(label=label, required=False, max_length=30, widget=widget, help_text=help_text)
        case kinds.DATE:
            widget = forms.DateInput(attrs={"type": "date"})
            return forms.CharField(label=label, required=False, max_length=10, widget=widget, help_text=help_text)
        case kinds.CHOICE:
            choices = [("", "—"), *((option, option) for option in definition.options), *_no_longer_offered(kept)]
            return forms.ChoiceField(label=label, required=False, choices=choices, help_text=help_text)
        case kinds.MULTI_CHOICE:
            return forms.MultipleChoiceField(
                label=label,
                required=False,
                choices=[*((option, option) for option in definition.options), *_no_longer_offered(kept)],
                widget=forms.CheckboxSelectMultiple,
                help_text=help_text,
            )
        case kinds.YES_NO:
            choices = [("", "—"), ("true", gettext("Yes")), ("false", gettext("No"))]
            return forms.ChoiceField(label=label, required=False, choices=choices, help_text=help_text)
    return forms.CharField(label=label, required=False, max_length=500, help_text=help_text)


def _no_longer_offered(options: list[str]) -> list[tuple[str, str]]:
    return [(option, gettext("%(option)s (no longer offered)") % {"option": option}) for option in options]


def custom_initial(definitions: list[CustomField], values: dict[str, Any]) -> dict[str, Any]:
    """A record's custom values as the form fields show them."""
    initial: dict[str, Any] = {}
    for definition in definitions:
        value = values.get(definition.key)
        if isinstance(value, bool):
            value = "true" if value else "false"
        initial[CUSTOM_PREFIX + definition.key] = "" if value is None else value
    return initial


class CustomFieldsMixin(forms.Form):
    """The organisation's custom fields as form fields `cf_<key>`, after the built-in ones;
    special-category ones only for a role that may both read and write them, and none for a
    role from which `custom_fields` is hidden."""

    def add_custom_fields(
        self, definitions: list[CustomField], *, special: bool, hidden: frozenset[str] = frozenset()
    ) -> None:
        if "custom_fields" in hidden:
            return
        for definition in definitions:
            if special or not definition.is_special:
                name = CUSTOM_PREFIX + definition.key
                stored = self.initial.get(name)
                chosen = stored if isinstance(stored, list) else [stored] if isinstance(stored, str) and stored else []
                kept = [option for option in chosen if option not in definition.options]
                self.fields[name] = _custom_form_field(definition, kept)

    def pop_custom(self, data: dict[str, Any]) -> dict[str, Any]:
        """Move the changed custom values into `custom_fields`, as the domain takes them."""
        values: dict[str, Any] = {}
        for name in [name for name in data if name.startswith(CUSTOM_PREFIX)]:
            value = data.pop(name)
            if name not in self.changed_data:
                continue
            if value in ("true", "false") and isinstance(self.fields[name], forms.ChoiceField):
                value = value == "true"
            values[name.removeprefix(CUSTOM_PREFIX)] = value if value not in ("", []) else None
        if values:
            data["custom_fields"] = values
        return data

    def changes(self) -> dict[str, Any]:
        """What an edit changes: the fields that differ from the record, custom values included."""
        data = self.domain_data()  # type: ignore[attr-defined]
        return {name: value for name, value in data.items() if name in self.changed_data or name == "custom_fields"}


# Moments typed as wall-clock time, shared by the activity and appointment forms ------------


class MomentField(forms.DateTimeField):
    """A moment typed as the reader's wall-clock time, to the minute.

    When the clocks go back, each time of that hour happens twice. One typed there is read as
    its first occurrence rather than refused; one sent back as it was shown is no change, so a
    form that saves only what changed keeps the stored moment (either occurrence, its seconds
    too). A time skipped when the clocks go forward is still refused."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

    def to_python(self, value: Any) -> datetime | None:
        wall = self._wall_time(value)
        if wall is None or timezone.is_aware(wall):
            return wall
        zone = timezone.get_current_timezone()
        if _occurs_twice(wall, zone):
            return wall.replace(tzinfo=zone, fold=0)
        return from_current_timezone(wall)

    def has_changed(self, initial: Any, data: Any) -> bool:
        if self.disabled or not isinstance(initial, datetime):
            return super().has_changed(initial, data)
        try:
            typed = self._wall_time(data)
        except forms.ValidationError:
            return True
        if typed is None or timezone.is_aware(typed):
            return super().has_changed(initial, data)
        shown = to_current_timezone(initial)  # naive wall times compare without their fold
        return shown.replace(second=0, microsecond=0) != typed.replace(second=0, microsecond=0)

    def _wall_time(self, value: Any) -> datetime | None:
        """The date and time as typed, before any time zone is applied."""
        if value in self.empty_values:
            return None
        if isinstance(value, datetime):
            return value
        try:
            parsed = parse_datetime(str(value).strip())
        except ValueError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
        return parsed or forms.fields.BaseTemporalField.to_python(self, value)


def _occurs_twice(wall: datetime, zone: tzinfo) -> bool:
    """The clocks show this time twice in the zone (going back), rather than never (going forward)."""
    first, second = (wall.replace(tzinfo=zone, fold=fold) for fold in (0, 1))
    return (
        first.utcoffset() != second.utcoffset() and first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall
    )


class SignInForm(forms.Form):
    email = forms.EmailField(
        label=_("Email"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True, "dir": "ltr"}),
    )
    password = forms.CharField(
        label=_("Password"),
        max_length=4096,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code from your authenticator app, or a recovery code"),
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


class ConfirmTwoFactorForm(forms.Form):
    code = forms.CharField(
        label=_("The 6-digit code your app shows now"),
        max_length=12,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


class PasswordResetForm(DjangoPasswordResetForm):
    """Sends the reset mail through a task that receives the user's id only."""

    def get_users(self, email: str) -> Any:
        # Unlike Django's, this includes invited members who never chose a password:
        # the invitation link may have expired before they used it.
        return User.objects.filter(email__iexact=email, is_active=True)

    def save(self, *args: Any, **kwargs: Any) -> None:
        from custos.accounts.tasks import send_password_reset

        for user in self.get_users(self.cleaned_data["email"]):
            send_password_reset.enqueue(str(user.pk))


def _time_zones() -> list[tuple[str, str]]:
    return [(name, name) for name in time_zone_names()]


class ProfileForm(forms.Form):
    full_name = forms.CharField(label=pgettext_lazy("person", "Name"), max_length=200, required=False)
    language = forms.ChoiceField(label=_("Language"), choices=LANGUAGE_CHOICES, required=False)
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=_time_zones)


def _scope_choices() -> list[tuple[str, str]]:
    """Built per form, so that the labels are in the language of the request."""
    areas = [area for area in AREAS if area != "admin"]
    return [
        ("read", gettext("Read everything my role may read")),
        ("write", gettext("Read and change everything my role may change")),
        ("admin", gettext("Everything my role may do, administration included")),
        *[(f"{area}:read", gettext("Read: %(area)s") % {"area": AREA_LABELS[area]}) for area in areas],
        *[(f"{area}:write", gettext("Read and change: %(area)s") % {"area": AREA_LABELS[area]}) for area in areas],
    ]


class TokenForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("What the token is for, e.g. “Invoice sync”."))
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"), choices=_scope_choices, widget=forms.CheckboxSelectMultiple, initial=["read"]
    )
    expires_days = forms.IntegerField(
        label=_("Expires after (days)"),
        min_value=1,
        max_value=3650,
        initial=90,
        required=False,
        help_text=_("Leave empty for a token that does not expire."),
    )


class ContactForm(CustomFieldsMixin):
    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    email = forms.CharField(
        label=_("Email"),
        max_length=254,
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "off", "dir": "ltr"}),
    )
    phone = forms.CharField(
        label=_("Phone"), max_length=40, required=False, widget=forms.TextInput(attrs={"type": "tel", "dir": "ltr"})
    )
    other_emails = forms.CharField(
        label=_("More email addresses"),
        max_length=3000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "dir": "ltr"}),
        help_text=_("One per line; a label may come first, e.g. “private: anna@example.org”."),
    )
    other_phones = forms.CharField(
        label=_("More phone numbers"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "dir": "ltr"}),
        help_text=_("One per line; a label may come first, e.g. “mobile: 0170 1234567”."),
    )
    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        choices=[("", _("The organisation's language")), *settings.LANGUAGES],
        help_text=_("Reminders and notices to this person are written in it."),
    )
    contract_ends_on = forms.DateField(
        label=_("Contract ends on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("A retention policy on “contract end” counts from this day."),
    )
    street, postcode, city, country = address_fields()
    company = company_field(_("Company"))
    tags = forms.CharField(label=_("Tags"), max_length=2000, required=False, help_text=_("Separate tags with commas."))
    notes = forms.CharField(
        label=_("Notes"), max_length=20000, required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    health_notes = forms.CharField(
        label=_("Health notes"),
        max_length=20000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Special-category data: stored encrypted; every read is logged."),
    )

    def __init__(
        self,
        *args: Any,
        show_special: bool,
        hidden: frozenset[str] = frozenset(),
        custom: list[CustomField] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if not show_special:
            del self.fields["health_notes"]
        # Further emails and phones are hidden with the main ones.
        _drop_hidden(self, hidden | {name for name, main in POINT_FIELDS.items() if main in hidden})
        self.add_custom_fields(custom or [], special=show_special, hidden=hidden)

    def domain_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if "tags" in data:
            data["tags"] = _tag_list(data["tags"])
        for name, kind in (("other_emails", "email"), ("other_phones", "phone")):
            if name in data:
                data[name] = points_from_text(data[name], kind)
        return self.pop_custom(data)


def _point_labels() -> dict[str, str]:
    """Label words a line may start with, in the user's language and in English, by their key."""
    words = {str(label).casefold(): key for key, label in ContactPoint.Label.choices}
    return {**{key: key for key in ContactPoint.Label.values}, **words}


def points_from_text(text: str, kind: str) -> list[dict[str, str]]:
    """Lines such as "mobile: 0170 1234567" as the domain takes them; a first word that is no
    label stays part of the value, for the domain to judge."""
    labels = _point_labels()
    points = []
    for line in text.splitlines():
        label, colon, value = line.partition(":")
        key = labels.get(label.strip().casefold()) if colon else None
        if key is None:
            key, value = ContactPoint.Label.OTHER, line
        if value.strip():
            points.append({kind: value.strip(), "label": key})
    return points


def points_as_text(points: list[dict[str, str]], kind: str) -> str:
    """The contact's further emails or phones as the form shows them, labelled in the user's language."""
    labels = dict(ContactPoint.Label.choices)
    return "\n".join(
        point[kind] if point["label"] == ContactPoint.Label.OTHER else f"{labels[point['label']]}: {point[kind]}"
        for point in points
    )


class CompanyForm(CustomFieldsMixin):
    def __init__(
        self, *args: Any, hidden: frozenset[str] = frozenset(), custom: list[CustomField] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        _drop_hidden(self, hidden, keep=frozenset({"name"}))
        self.add_custom_fields(custom or [], special=False, hidden=hidden)

    name = forms.CharField(label=_("Name"), max_length=200)
    vat_id = forms.CharField(label=_("VAT ID"), max_length=20, required=False)
    website = forms.CharField(label=_("Website"), max_length=200, required=False)
    email = forms.CharField(
        label=_("Email"), max_length=254, required=False, widget=forms.EmailInput(attrs={"dir": "ltr"})
    )
    phone = forms.CharField(
        label=_("Phone"), max_length=40, required=False, widget=forms.TextInput(attrs={"type": "tel", "dir": "ltr"})
    )
    street, postcode, city, country = address_fields()
    tags = forms.CharField(label=_("Tags"), max_length=2000, required=False, help_text=_("Separate tags with commas."))

    def domain_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if "tags" in data:
            data["tags"] = _tag_list(data["tags"])
        return self.pop_custom(data)


class MemberAddForm(forms.Form):
    email = forms.EmailField(label=_("Email"), max_length=254)
    role = forms.ModelChoiceField(label=_("Role"), queryset=Role.objects.none())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].queryset = Role.objects.all()  # type: ignore[attr-defined]


class MemberRoleForm(forms.Form):
    role = forms.ModelChoiceField(label=_("Role"), queryset=Role.objects.none())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].queryset = Role.objects.all()  # type: ignore[attr-defined]


class RoleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    record_scope = forms.ChoiceField(
        label=_("Records visible"),
        choices=RECORD_SCOPE_CHOICES,
    )
    permissions = forms.MultipleChoiceField(label=_("Permissions"), required=False, widget=forms.CheckboxSelectMultiple)
    restricted_fields = forms.CharField(
        label=_("Hidden fields"),
        required=False,
        max_length=2000,
        help_text=_("Fields this role may not see, as object.field separated by commas, e.g. contact.phone."),
    )

    def __init__(self, *args: Any, permission_choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["permissions"].choices = permission_choices  # type: ignore[attr-defined]

    def domain_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["hidden_fields"] = [f.strip() for f in data.pop("restricted_fields", "").split(",") if f.strip()]
        return data


class TeamForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)


class OrganizationForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    country = forms.CharField(label=_("Country (two letters)"), max_length=2, min_length=2)
    require_two_factor = forms.BooleanField(label=_("Everyone signs in with a second factor"), required=False)


class AuditFilterForm(forms.Form):
    action = forms.CharField(label=_("Action"), max_length=64, required=False)
    user = forms.ChoiceField(label=_("Who"), required=False)
    object_type = forms.CharField(label=_("Object type"), max_length=64, required=False)
    object_id = forms.CharField(label=_("Object id"), max_length=64, required=False)
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, members: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].choices = [("", _("Anyone")), *members]  # type: ignore[attr-defined]


def _tag_list(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _drop_hidden(form: forms.Form, hidden: frozenset[str], keep: frozenset[str] = frozenset()) -> None:
    for name in (hidden - keep) & set(form.fields):
        del form.fields[name]


class LeadForm(CustomFieldsMixin):
    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    email = forms.CharField(
        label=_("Email"), max_length=254, required=False, widget=forms.EmailInput(attrs={"dir": "ltr"})
    )
    phone = forms.CharField(
        label=_("Phone"), max_length=40, required=False, widget=forms.TextInput(attrs={"type": "tel", "dir": "ltr"})
    )
    company_name = forms.CharField(label=_("Company"), max_length=200, required=False)
    job_title = forms.CharField(label=_("Job title"), max_length=100, required=False)
    street, postcode, city, country = address_fields()
    status = forms.ChoiceField(label=_("Status"), required=False)
    disqualified_reason = forms.CharField(
        label=_("Reason for disqualifying"),
        max_length=500,
        required=False,
        help_text=_("Needed when the status is “disqualified”."),
    )
    source = forms.ChoiceField(label=_("Source"), required=False)
    interest = forms.CharField(
        label=_("Interest"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    owner = forms.ChoiceField(label=_("Owner"), required=False)
    tags = forms.CharField(label=_("Tags"), max_length=2000, required=False, help_text=_("Separate tags with commas."))
    notes = forms.CharField(
        label=_("Notes"), max_length=20000, required=False, widget=forms.Textarea(attrs={"rows": 4})
    )

    def __init__(
        self,
        *args: Any,
        statuses: list[tuple[str, str]],
        sources: list[tuple[str, str]],
        members: list[tuple[str, str]],
        hidden: frozenset[str] = frozenset(),
        custom: list[CustomField] | None = None,
        special: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = statuses  # type: ignore[attr-defined]
        self.fields["source"].choices = sources  # type: ignore[attr-defined]
        self.fields["owner"].choices = [("", "—"), *members]  # type: ignore[attr-defined]
        _drop_hidden(self, hidden)
        self.add_custom_fields(custom or [], special=special, hidden=hidden)

    def domain_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if "tags" in data:
            data["tags"] = _tag_list(data["tags"])
        return self.pop_custom(data)


class LeadDisqualifyForm(forms.Form):
    reason = forms.CharField(
        label=_("Why is the lead disqualified?"), max_length=500, widget=forms.TextInput(attrs={"autofocus": True})
    )


class LeadConvertForm(forms.Form):
    create_deal = forms.BooleanField(label=_("Create a deal as well"), required=False, initial=True)
    deal_name = forms.CharField(label=_("Deal name"), max_length=200, required=False)
    amount = forms.DecimalField(
        label=_("Amount"), required=False, min_value=0, max_digits=14, decimal_places=2, localize=True
    )
    currency = forms.CharField(
        label=_("Currency"), max_length=3, required=False, initial="EUR", widget=forms.TextInput(attrs={"dir": "ltr"})
    )
    pipeline = forms.ChoiceField(label=_("Pipeline"), required=False)
    expected_close = forms.DateField(
        label=_("Expected close"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, pipelines: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["pipeline"].choices = pipelines  # type: ignore[attr-defined]

    def deal_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "amount": str(data["amount"]) if data.get("amount") is not None else None,
            "currency": data.get("currency") or None,
            "pipeline": data.get("pipeline") or None,
            "expected_close": data.get("expected_close"),
        }


class DealForm(CustomFieldsMixin):
    name = forms.CharField(label=_("Name"), max_length=200)
    stage = forms.ChoiceField(label=_("Pipeline and stage"))
    amount = forms.DecimalField(
        label=_("Amount"), required=False, min_value=0, max_digits=14, decimal_places=2, localize=True
    )
    currency = forms.CharField(
        label=_("Currency"),
        max_length=3,
        required=False,
        initial="EUR",
        help_text=_("Three letters, e.g. EUR."),
        widget=forms.TextInput(attrs={"dir": "ltr"}),
    )
    expected_close = forms.DateField(
        label=_("Expected close"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    lost_reason = forms.CharField(
        label=_("Reason lost"),
        max_length=500,
        required=False,
        help_text=_("Needed when the stage is a lost one."),
    )
    owner = forms.ChoiceField(label=_("Owner"), required=False)
    company = company_field(_("Company"))
    contact = contact_field(_("Contact"))
    tags = forms.CharField(label=_("Tags"), max_length=2000, required=False, help_text=_("Separate tags with commas."))
    notes = forms.CharField(
        label=_("Notes"), max_length=20000, required=False, widget=forms.Textarea(attrs={"rows": 4})
    )

    def __init__(
        self,
        *args: Any,
        stages: list[tuple[str, list[tuple[str, str]]]],
        pipeline_of_stage: dict[str, str],
        members: list[tuple[str, str]],
        hidden: frozenset[str] = frozenset(),
        custom: list[CustomField] | None = None,
        special: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.pipeline_of_stage = pipeline_of_stage
        self.fields["stage"].choices = stages  # type: ignore[attr-defined]
        self.fields["owner"].choices = [("", "—"), *members]  # type: ignore[attr-defined]
        _drop_hidden(self, hidden, keep=frozenset({"name"}))
        self.add_custom_fields(custom or [], special=special, hidden=hidden)

    def domain_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["pipeline"] = self.pipeline_of_stage[data["stage"]]
        if "amount" in data:
            data["amount"] = str(data["amount"]) if data["amount"] is not None else None
        if "tags" in data:
            data["tags"] = _tag_list(data["tags"])
        if "contact" in data:
            data["contact"] = data["contact"] or None
        return self.pop_custom(data)


class DealMoveForm(forms.Form):
    stage = forms.ChoiceField(label=_("Move to"))
    lost_reason = forms.CharField(
        label=_("Reason lost"),
        max_length=500,
        required=False,
        help_text=_("Needed when moving to a lost stage."),
    )

    def __init__(self, *args: Any, stages: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["stage"].choices = stages  # type: ignore[attr-defined]


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(label=_("Type"))
    title = forms.CharField(label=_("Summary"), max_length=200)
    body = forms.CharField(
        label=_("Details"), max_length=20000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    due_at = MomentField(label=_("Due"), required=False, help_text=_("Needed for a task."))
    reminder_at = MomentField(
        label=_("Reminder"),
        required=False,
        help_text=_("For a task: its assignee gets an email then, without the task's title or details."),
    )
    owner = forms.ChoiceField(label=_("Assigned to"), required=False)
    occurred_at = MomentField(label=_("When"), required=False, help_text=_("Leave empty for now."))
    duration_minutes = forms.IntegerField(label=_("Duration (minutes)"), required=False, min_value=0, max_value=44640)

    def __init__(
        self,
        *args: Any,
        kinds: list[tuple[str, str]],
        members: list[tuple[str, str]],
        hidden: frozenset[str] = frozenset(),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = kinds  # type: ignore[attr-defined]
        self.fields["owner"].choices = [("", "—"), *members]  # type: ignore[attr-defined]
        _drop_hidden(self, hidden, keep=frozenset({"title", "kind"}))

    def domain_data(self) -> dict[str, Any]:
        return dict(self.cleaned_data)


class PipelineForm(forms.Form):
    """A new pipeline and its stages, one row each; rows left without a name are skipped."""

    ROWS = 8
    name = forms.CharField(label=_("Name"), max_length=100)

    def __init__(self, *args: Any, outcomes: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for row in range(1, self.ROWS + 1):
            self.fields[f"stage_{row}_name"] = forms.CharField(
                label=_("Stage %(number)d: name") % {"number": row}, max_length=100, required=False
            )
            self.fields[f"stage_{row}_probability"] = forms.IntegerField(
                label=_("Stage %(number)d: probability (%%)") % {"number": row},
                min_value=0,
                max_value=100,
                required=False,
            )
            self.fields[f"stage_{row}_outcome"] = forms.ChoiceField(
                label=_("Stage %(number)d: outcome") % {"number": row}, choices=outcomes, required=False
            )
        self.used_rows: list[int] = []

    def rows(self) -> list[list[forms.BoundField]]:
        return [
            [self[f"stage_{row}_{part}"] for part in ("name", "probability", "outcome")]
            for row in range(1, self.ROWS + 1)
        ]

    def stages(self) -> list[dict[str, Any]]:
        data = self.cleaned_data
        stages = []
        self.used_rows = []
        for row in range(1, self.ROWS + 1):
            if data.get(f"stage_{row}_name"):
                self.used_rows.append(row)
                stages.append(
                    {
                        "name": data[f"stage_{row}_name"],
                        "probability": data.get(f"stage_{row}_probability") or 0,
                        "outcome": data.get(f"stage_{row}_outcome") or "open",
                    }
                )
        return stages

    def attach_stage_errors(self, error: ValidationFailed) -> None:
        """Domain errors name `stages.<index>.<field>`; the index counts only rows with a name."""
        for item in error.errors:
            parts = (item.field or "").split(".")
            if parts[0] == "stages" and len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < len(self.used_rows):
                name = f"stage_{self.used_rows[int(parts[1])]}_{parts[2]}"
                self.add_error(name if name in self.fields else None, item.message)
            else:
                self.add_error(parts[0] if parts[0] == "name" else None, item.message)


class StageForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    probability = forms.IntegerField(label=_("Probability (%)"), min_value=0, max_value=100)
    outcome = forms.ChoiceField(label=_("Outcome"))
    position = forms.IntegerField(label=_("Order"), min_value=1, max_value=1000)

    def __init__(self, *args: Any, outcomes: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["outcome"].choices = outcomes  # type: ignore[attr-defined]


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("File (CSV or XLSX)"),
        allow_empty_file=True,  # the domain names an empty file itself
        widget=forms.FileInput(
            attrs={
                "accept": ".csv,.txt,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
        ),
        help_text=_(
            "The first row names the columns. UTF-8, UTF-16 or Latin-1; separated by commas, "
            "semicolons or tabs; at most 200 MB."
        ),
    )


class ImportSettingsForm(forms.Form):
    """One choice per column of the file (what it becomes, or ignored), the rule for
    duplicates, and dry run. Columns are named by position: a header may hold any text."""

    duplicates = forms.ChoiceField(
        label=_("When the contact exists already"),
        help_text=_(
            "A row is the same contact as one with the same email; else as one with the same phone number and "
            "name that holds no other email; without either, as one with the same name at the same company."
        ),
        widget=forms.RadioSelect,
        initial="skip",
    )
    dry_run = forms.BooleanField(
        label=_("Dry run: check and count every row, but write nothing"), required=False, initial=False
    )

    def __init__(
        self,
        *args: Any,
        headers: list[str],
        targets: list[tuple[str, str]],
        duplicates: list[tuple[str, str]],
        mapping: dict[str, str],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.headers = headers
        self.fields["duplicates"].choices = duplicates  # type: ignore[attr-defined]
        choices = [("", gettext("Ignore this column")), *targets]
        known = {value for value, _label in targets}
        for index, header in enumerate(headers):
            self.fields[f"column_{index}"] = forms.ChoiceField(
                label=header or gettext("Column %(number)d") % {"number": index + 1},
                choices=choices,
                required=False,
                initial=mapping.get(header, "") if mapping.get(header, "") in known else "",
            )

    def columns(self) -> list[forms.BoundField]:
        return [self[f"column_{index}"] for index in range(len(self.headers))]

    def mapping(self) -> dict[str, str]:
        """Column header → field, for the columns that are not ignored."""
        return {
            header: self.cleaned_data[f"column_{index}"]
            for index, header in enumerate(self.headers)
            if self.cleaned_data.get(f"column_{index}")
        }


class CustomFieldForm(forms.Form):
    object_type = forms.ChoiceField(label=_("Applies to"), choices=CustomField.ObjectType.choices)
    label = forms.CharField(label=_("Label"), max_length=100)
    key = forms.CharField(
        label=_("Key"),
        max_length=50,
        widget=forms.TextInput(attrs={"dir": "ltr"}),
        help_text=_("How the API and exports name it: a–z, 0–9 and _, e.g. employees. It cannot change later."),
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=CustomField.Kind.choices)
    options = forms.CharField(
        label=_("Options"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("For a choice or multiple choice: one option per line."),
    )
    category = forms.ChoiceField(
        label=_("Personal data it holds"),
        choices=CustomField.CATEGORIES,
        help_text=_("Special-category data is stored encrypted, and only roles allowed to see it read it."),
    )

    def __init__(self, *args: Any, editing: CustomField | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing is not None:  # what values were written under stays as it is
            for name in ("object_type", "key", "kind", "category"):
                del self.fields[name]
            if editing.kind not in (CustomField.Kind.CHOICE, CustomField.Kind.MULTI_CHOICE):
                del self.fields["options"]
            self.fields["position"] = forms.IntegerField(label=_("Position"), min_value=1, max_value=100)

    def domain_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if "options" in data:
            data["options"] = [line.strip() for line in data["options"].splitlines() if line.strip()]
        if "position" in data:
            data["position"] -= 1
        return data
