"""Forms and wording of the lead rules settings: scoring rules, assignment rules, reps' capacities.

The forms parse; `custos.crm.services.rules` decides what is valid.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.text import capfirst
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from custos.crm.models import AssignmentRule, Lead, ScoringRule
from custos.crm.services.custom_fields import fields_of
from custos.crm.services.rules import CUSTOM_PREFIX, FIELD_CONDITIONS, SCORABLE_FIELDS

# The lead fields a scoring rule may look at, as the lead form names them.
FIELD_LABELS = {
    "country": _("Country"),
    "postcode": _("Postcode"),
    "city": _("City"),
    "company_name": _("Company"),
    "job_title": _("Job title"),
    "source": _("Source"),
    "interest": _("Interest"),
    "email": _("Email"),
}
CONDITION_LABELS = {
    ScoringRule.Condition.FIELD_EQUALS: _("A field has a value"),
    ScoringRule.Condition.FIELD_CONTAINS: _("A field contains a text"),
    ScoringRule.Condition.FIELD_AT_LEAST: _("A number field is at least"),
    ScoringRule.Condition.TAG: _("The lead has a tag"),
    ScoringRule.Condition.RECENT_ACTIVITY: _("Something happened with the lead recently"),
    ScoringRule.Condition.CAME_FROM_FORM: _("The lead came through a web form"),
}


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def scorable_fields() -> list[tuple[str, str]]:
    """Lead fields and custom lead fields a rule may look at; never special-category ones."""
    builtin = [(name, str(FIELD_LABELS[name])) for name in SCORABLE_FIELDS]
    custom = [(f"{CUSTOM_PREFIX}{f.key}", f.label) for f in fields_of("lead") if not f.is_special]
    return builtin + custom


def source_choices() -> list[tuple[str, str]]:
    return [(str(value), capfirst(str(label))) for value, label in Lead.Source.choices]


def describe_scoring_rule(rule: ScoringRule, field_names: dict[str, str]) -> str:
    """What the rule asks of a lead, in words: “Country is DE”, “Tag student”."""
    field = field_names.get(rule.field, rule.field)
    match rule.condition:
        case ScoringRule.Condition.FIELD_EQUALS:
            return gettext("%(field)s is “%(value)s”") % {"field": field, "value": rule.value}
        case ScoringRule.Condition.FIELD_CONTAINS:
            return gettext("%(field)s contains “%(value)s”") % {"field": field, "value": rule.value}
        case ScoringRule.Condition.FIELD_AT_LEAST:
            return gettext("%(field)s is at least %(value)s") % {"field": field, "value": rule.value}
        case ScoringRule.Condition.TAG:
            return gettext("Tagged “%(tag)s”") % {"tag": rule.value}
        case ScoringRule.Condition.RECENT_ACTIVITY:
            return gettext("An activity within %(days)d days") % {"days": rule.days}
        case ScoringRule.Condition.CAME_FROM_FORM:
            return gettext("Came through a web form")
    return rule.condition


def describe_assignment_rule(rule: AssignmentRule) -> list[str]:
    """Which leads the rule takes, one criterion a line; every lead when it names none."""
    sources = dict(source_choices())
    parts = []
    if rule.countries:
        parts.append(gettext("Countries: %(list)s") % {"list": ", ".join(rule.countries)})
    if rule.postcode_prefixes:
        parts.append(gettext("Postcodes starting with: %(list)s") % {"list": ", ".join(rule.postcode_prefixes)})
    if rule.sources:
        parts.append(gettext("Sources: %(list)s") % {"list": ", ".join(sources.get(s, s) for s in rule.sources)})
    if rule.interest_contains:
        parts.append(gettext("Interest contains “%(text)s”") % {"text": rule.interest_contains})
    return parts or [gettext("Every lead")]


class ScoringRuleForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=100, help_text=_("Shown beside the points as the reason, e.g. “In Germany”.")
    )
    condition = forms.ChoiceField(label=_("Condition"))
    field = forms.ChoiceField(
        label=pgettext_lazy("a field of a record", "Field"),
        required=False,
        help_text=_("For the conditions about a field."),
    )
    value = forms.CharField(
        label=pgettext_lazy("what a field is compared with", "Value"),
        max_length=200,
        required=False,
        help_text=_("What the field is or contains, the least number, or the tag."),
    )
    days = forms.IntegerField(
        label=_("Within days"),
        min_value=1,
        max_value=365,
        required=False,
        initial=7,
        help_text=_("For recent activity."),
    )
    points = forms.IntegerField(
        label=_("Points"), min_value=-1000, max_value=1000, help_text=_("Negative points lower the score.")
    )
    is_active = forms.BooleanField(label=pgettext_lazy("a rule in force", "Active"), required=False, initial=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["condition"].choices = [(str(k), str(v)) for k, v in CONDITION_LABELS.items()]  # type: ignore[attr-defined]
        self.fields["field"].choices = [("", "—"), *scorable_fields()]  # type: ignore[attr-defined]

    def domain_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if data["condition"] not in FIELD_CONDITIONS:
            data["field"] = ""
        return data


class AssignmentRuleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("Leads name the rule that assigned them."))
    reps = forms.MultipleChoiceField(
        label=_("Reps who take turns"), required=False, widget=forms.CheckboxSelectMultiple
    )
    countries = forms.CharField(
        label=_("Countries"),
        max_length=1000,
        required=False,
        help_text=_("Two-letter codes separated by commas, e.g. DE, AT, CH. Empty: any country."),
    )
    postcode_prefixes = forms.CharField(
        label=_("Postcodes starting with"),
        max_length=2000,
        required=False,
        help_text=_("Separated by commas, e.g. 80, 81. Empty: any postcode."),
    )
    sources = forms.MultipleChoiceField(
        label=_("Sources"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: any source."),
    )
    interest_contains = forms.CharField(
        label=_("Interest contains"), max_length=100, required=False, help_text=_("Empty: any interest.")
    )
    reassign_after_hours = forms.IntegerField(
        label=_("Reassign when untouched for (hours)"),
        min_value=1,
        max_value=24 * 90,
        required=False,
        help_text=_("A new lead nobody has worked on goes to the next rep after this many hours. Empty: never."),
    )
    is_active = forms.BooleanField(label=pgettext_lazy("a rule in force", "Active"), required=False, initial=True)

    def __init__(self, *args: Any, members: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reps"].choices = members  # type: ignore[attr-defined]
        self.fields["sources"].choices = source_choices()  # type: ignore[attr-defined]

    def domain_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["countries"] = _split(data["countries"])
        data["postcode_prefixes"] = _split(data["postcode_prefixes"])
        return data


def assignment_initial(rule: AssignmentRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "reps": [str(user.pk) for user in rule.reps.all()],
        "countries": ", ".join(rule.countries),
        "postcode_prefixes": ", ".join(rule.postcode_prefixes),
        "sources": rule.sources,
        "interest_contains": rule.interest_contains,
        "reassign_after_hours": rule.reassign_after_hours,
        "is_active": rule.is_active,
    }


class RepCapacityForm(forms.Form):
    max_open_leads = forms.IntegerField(
        label=_("Most open leads at a time"),
        min_value=0,
        max_value=100000,
        required=False,
        help_text=_("A rep holding this many open leads gets no more. Empty: no limit."),
    )
    away_from = forms.DateField(
        label=_("Away from"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    away_until = forms.DateField(
        label=_("Away until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("The last day away. An absent rep gets no new leads; empty both when there is no absence."),
    )

    def domain_data(self) -> dict[str, Any]:
        return dict(self.cleaned_data)
