"""Lead scoring and assignment: every score and every owner can be explained."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from custos.accounts.models import Membership
from custos.audit.models import AuditEntry
from custos.core.actor import Via
from custos.core.errors import PermissionDenied, ValidationFailed
from custos.crm.models import Lead
from custos.crm.services.activities import activity_create, activity_delete
from custos.crm.services.custom_fields import custom_field_create
from custos.crm.services.leads import lead_create, lead_update
from custos.crm.services.rules import (
    assignment_rule_create,
    assignment_rule_update,
    reassign_untouched,
    rep_capacity_set,
    scoring_rule_create,
    scoring_rule_update,
)
from custos.privacy.models import Subject


def _web_lead(cast, **data):
    """A lead as a web form delivers it: no owner named, so the rules choose."""
    return lead_create(actor=cast.actor(cast.alice, via=Via.API), data={"source": "web_form", **data})


def test_every_score_lists_the_rules_that_gave_its_points(cast, as_tenant):
    admin = cast.actor(cast.alice)
    custom_field_create(
        actor=admin,
        data={"object_type": "lead", "key": "employees", "label": "Employees", "kind": "number"} | {"category": "none"},
    )
    germany = scoring_rule_create(
        actor=admin,
        data={"name": "In Germany", "condition": "field_equals", "field": "country", "value": "de"} | {"points": 20},
    )
    scoring_rule_create(actor=admin, data={"name": "Form", "condition": "came_from_form", "points": 10})
    scoring_rule_create(
        actor=admin,
        data={"name": "Big", "condition": "field_at_least", "field": "custom:employees", "value": "50", "points": 15},
    )
    scoring_rule_create(actor=admin, data={"name": "Student", "condition": "tag", "value": "student", "points": -30})

    lead = _web_lead(cast, last_name="Lind", country="DE", custom_fields={"employees": 120})
    assert lead.score == 45
    assert {(r["name"], r["points"]) for r in lead.score_reasons} == {("In Germany", 20), ("Form", 10), ("Big", 15)}

    lead_update(actor=admin, lead=lead, data={"tags": ["Student"], "custom_fields": {"employees": 12}})
    assert Lead.objects.get(pk=lead.pk).score == 0  # 20 + 10 - 30

    # A rule changed is a rule applied to every open lead at once.
    scoring_rule_update(actor=admin, rule=germany, data={"points": 50})
    stored = Lead.objects.get(pk=lead.pk)
    assert stored.score == 30
    assert {r["name"]: r["points"] for r in stored.score_reasons if r["name"] == "In Germany"} == {"In Germany": 50}


def test_recent_activity_counts_only_while_it_is_recent(cast, as_tenant):
    admin = cast.actor(cast.alice)
    scoring_rule_create(actor=admin, data={"name": "Active", "condition": "recent_activity", "days": 7, "points": 5})
    lead = lead_create(actor=admin, data={"last_name": "Nowak"})
    assert lead.score == 0
    call = activity_create(actor=admin, data={"kind": "call", "title": "First call", "lead": str(lead.pk)})
    assert Lead.objects.get(pk=lead.pk).score == 5
    activity_delete(actor=admin, activity=call)
    assert Lead.objects.get(pk=lead.pk).score == 0
    old = (timezone.now() - timedelta(days=30)).isoformat()
    activity_create(actor=admin, data={"kind": "call", "title": "Old", "lead": str(lead.pk), "occurred_at": old})
    assert Lead.objects.get(pk=lead.pk).score == 0


def test_points_for_recent_activity_go_once_it_is_no_longer_recent(cast, as_tenant):
    """Nothing changes on the lead when a week passes: the periodic job takes the points away."""
    from custos.core.periodic import JOBS
    from custos.crm.services.rules import rescore_lapsed

    admin = cast.actor(cast.alice)
    scoring_rule_create(actor=admin, data={"name": "Active", "condition": "recent_activity", "days": 7, "points": 5})
    lead = lead_create(actor=admin, data={"last_name": "Nowak"})
    almost = (timezone.now() - timedelta(days=6, hours=23)).isoformat()
    activity_create(actor=admin, data={"kind": "call", "title": "Call", "lead": str(lead.pk), "occurred_at": almost})
    assert Lead.objects.get(pk=lead.pk).score == 5

    rescore_lapsed(now=timezone.now())
    assert Lead.objects.get(pk=lead.pk).score == 5  # still recent
    rescore_lapsed(now=timezone.now() + timedelta(hours=6))

    assert (Lead.objects.get(pk=lead.pk).score, Lead.objects.get(pk=lead.pk).score_reasons) == (0, [])
    assert "crm.rescore_lapsed" in {job.name for job in JOBS}


def test_a_person_whose_processing_is_restricted_is_not_profiled(cast, as_tenant):
    admin = cast.actor(cast.alice)
    lead = lead_create(actor=admin, data={"last_name": "Kowalski", "country": "PL"})
    Subject.objects.filter(pk=lead.subject_id).update(state=Subject.State.RESTRICTED)
    scoring_rule_create(
        actor=admin, data={"name": "PL", "condition": "field_equals", "field": "country", "value": "PL", "points": 9}
    )
    stored = Lead.objects.get(pk=lead.pk)
    assert (stored.score, stored.score_reasons) == (0, [])


@pytest.mark.parametrize("step", ["object_to_profiling", "restrict"])
def test_a_score_goes_the_moment_the_person_objects_or_is_restricted_and_comes_back_after(cast, as_tenant, step):
    from custos.privacy.services.restriction import subject_lift_restriction, subject_object, subject_restrict

    admin = cast.actor(cast.alice)
    scoring_rule_create(
        actor=admin, data={"name": "PL", "condition": "field_equals", "field": "country", "value": "PL", "points": 9}
    )
    lead = lead_create(actor=admin, data={"last_name": "Kowalski", "country": "PL"})
    assert Lead.objects.get(pk=lead.pk).score == 9

    if step == "restrict":
        subject_restrict(actor=admin, subject=lead.subject, inform=False)
    else:
        subject_object(actor=admin, subject=lead.subject, about="profiling")
    stored = Lead.objects.get(pk=lead.pk)
    assert (stored.score, stored.score_reasons) == (0, [])

    if step == "restrict":
        subject_lift_restriction(actor=admin, subject=lead.subject)
        assert Lead.objects.get(pk=lead.pk).score == 9


@pytest.mark.parametrize("status", ["disqualified", "converted"])
def test_an_objection_to_profiling_takes_the_score_off_a_closed_lead_too(cast, as_tenant, status):
    """The score a lead closed with is a profile of the person like any other: it goes when
    they object, whatever the lead's status."""
    from custos.crm.services.leads import lead_convert
    from custos.privacy.services.restriction import subject_object

    admin = cast.actor(cast.alice)
    scoring_rule_create(
        actor=admin, data={"name": "PL", "condition": "field_equals", "field": "country", "value": "PL", "points": 9}
    )
    lead = lead_create(actor=admin, data={"last_name": "Kowalski", "country": "PL"})
    if status == "disqualified":
        lead_update(actor=admin, lead=lead, data={"status": "disqualified", "disqualified_reason": "No budget"})
    else:
        lead_convert(actor=admin, lead=lead, create_deal=False)
    assert Lead.objects.get(pk=lead.pk).score == 9

    subject_object(actor=admin, subject=lead.subject, about="profiling")

    stored = Lead.objects.get(pk=lead.pk)
    assert (stored.status, stored.score, stored.score_reasons) == (status, 0, [])


def test_a_scoring_rule_is_checked_as_a_whole(cast, as_tenant):
    admin = cast.actor(cast.alice)
    with pytest.raises(ValidationFailed) as refused:
        scoring_rule_create(
            actor=admin,
            data={"name": "", "condition": "field_equals", "field": "notes", "value": "", "points": "many"},
        )
    assert sorted(e.field for e in refused.value.errors) == ["field", "name", "points", "value"]
    with pytest.raises(ValidationFailed) as refused:
        scoring_rule_create(
            actor=admin,
            data={"name": "x", "condition": "field_at_least", "field": "custom:size", "value": "lots"}
            | {"points": 1, "colour": "red"},
        )
    # No such custom field, a number that is not one, and a field that does not exist.
    assert sorted(e.field for e in refused.value.errors) == ["colour", "field", "value"]
    custom_field_create(
        actor=admin,
        data={"object_type": "lead", "key": "diagnosis", "label": "Diagnosis", "kind": "text"}
        | {"category": "special"},
    )
    with pytest.raises(ValidationFailed) as refused:
        scoring_rule_create(
            actor=admin,
            data={"name": "x", "condition": "field_equals", "field": "custom:diagnosis", "value": "x", "points": 1},
        )
    assert [(e.field, e.message) for e in refused.value.errors] == [
        ("field", "Special-category data is never used for scoring.")
    ]
    with pytest.raises(PermissionDenied):
        scoring_rule_create(
            actor=cast.actor(cast.sam), data={"name": "x", "condition": "tag", "value": "a", "points": 1}
        )


def _member(cast, email):
    from custos.accounts.models import Role
    from custos.accounts.services import member_add

    return member_add(actor=cast.actor(cast.olive), email=email, role=Role.objects.get(key="sales")).user


def test_leads_go_round_the_reps_of_the_first_matching_rule(cast, as_tenant):
    admin = cast.actor(cast.alice)
    tom, uma = _member(cast, "tom@acme.example"), _member(cast, "uma@acme.example")
    poland = assignment_rule_create(
        actor=admin, data={"name": "Poland", "countries": ["pl"], "reps": [str(cast.sam.pk)]}
    )
    dach = assignment_rule_create(
        actor=admin, data={"name": "DACH", "countries": ["DE", "AT", "CH"], "reps": [str(tom.pk), str(uma.pk)]}
    )
    owners = [_web_lead(cast, last_name=f"L{n}", country="DE").owner_id for n in range(4)]
    assert owners[0] != owners[1] and owners[0] == owners[2] and owners[1] == owners[3]
    assert set(owners) == {tom.pk, uma.pk}

    polish = _web_lead(cast, last_name="Zieliński", country="PL")
    assert (polish.owner_id, polish.assignment_rule_id, polish.assigned_because) == (
        cast.sam.pk,
        poland.pk,
        "next_in_turn",
    )
    entry = AuditEntry.objects.filter(action="lead.assign", object_id=str(polish.pk)).get()
    assert entry.extra == {"rule": str(poland.pk), "owner": str(cast.sam.pk), "because": "next_in_turn"}

    # No rule matches a French lead: it stays with whoever entered it.
    french = _web_lead(cast, last_name="Martin", country="FR")
    assert (french.owner_id, french.assignment_rule_id) == (cast.alice.pk, None)
    # Naming an owner outright is not overruled by the rules.
    named = lead_create(actor=admin, data={"last_name": "Named", "country": "DE", "owner": str(cast.sam.pk)})
    assert named.owner_id == cast.sam.pk
    assert dach.last_assigned_id is None  # its turn pointer lives in the database


def test_only_members_whose_role_works_on_leads_receive_them(cast, as_tenant):
    """Bob is read-only: a lead given to him would sit unworked. Tom's role becomes read-only later."""
    from custos.accounts.models import Role

    admin = cast.actor(cast.alice)
    tom, uma = _member(cast, "tom@acme.example"), _member(cast, "uma@acme.example")
    with pytest.raises(ValidationFailed) as refused:
        assignment_rule_create(actor=admin, data={"name": "Bob", "reps": [str(cast.bob.pk)]})
    assignment_rule_create(actor=admin, data={"name": "All", "reps": [str(tom.pk), str(uma.pk)]})
    Membership.objects.filter(user=tom).update(role=Role.objects.get(key="read_only"))

    owners = {_web_lead(cast, last_name=f"L{n}").owner_id for n in range(3)}

    assert [e.field for e in refused.value.errors] == ["reps"]
    assert owners == {uma.pk}


def test_absent_and_full_reps_are_skipped(cast, as_tenant):
    admin = cast.actor(cast.alice)
    tom, uma = _member(cast, "tom@acme.example"), _member(cast, "uma@acme.example")
    assignment_rule_create(actor=admin, data={"name": "All", "reps": [str(tom.pk), str(uma.pk)]})
    today = timezone.localdate()
    rep_capacity_set(actor=admin, user_id=tom.pk, data={"away_from": str(today), "away_until": str(today)})
    rep_capacity_set(actor=admin, user_id=uma.pk, data={"max_open_leads": 2})
    owners = [_web_lead(cast, last_name=f"L{n}").owner_id for n in range(3)]
    # Tom is away; Uma takes two, then is full, and the third stays with its creator.
    assert owners == [uma.pk, uma.pk, cast.alice.pk]
    with pytest.raises(ValidationFailed) as refused:
        rep_capacity_set(
            actor=admin, user_id=uma.pk, data={"away_from": str(today), "away_until": str(date(2000, 1, 1))}
        )
    assert [e.field for e in refused.value.errors] == ["away_until"]


def test_a_rep_who_left_gets_no_more_leads(cast, as_tenant):
    admin = cast.actor(cast.alice)
    tom, uma = _member(cast, "tom@acme.example"), _member(cast, "uma@acme.example")
    assignment_rule_create(actor=admin, data={"name": "All", "reps": [str(tom.pk), str(uma.pk)]})
    Membership.objects.filter(user=tom).update(is_active=False)
    assert {_web_lead(cast, last_name=f"L{n}").owner_id for n in range(3)} == {uma.pk}


def _reassigning_after_four_hours(cast):
    """A rule giving web leads to Tom and Uma in turn, and to the next when untouched for 4 hours."""
    admin = cast.actor(cast.alice)
    tom, uma = _member(cast, "tom@acme.example"), _member(cast, "uma@acme.example")
    assignment_rule_create(
        actor=admin, data={"name": "Fast", "reps": [str(tom.pk), str(uma.pk)], "reassign_after_hours": 4}
    )
    return admin


def test_an_untouched_lead_moves_to_the_next_rep_and_says_why(cast, as_tenant):
    admin = _reassigning_after_four_hours(cast)
    waiting = _web_lead(cast, last_name="Waiting")
    worked = _web_lead(cast, last_name="Worked")
    activity_create(actor=admin, data={"kind": "call", "title": "Called", "lead": str(worked.pk)})
    first_owner = waiting.owner_id

    assert reassign_untouched(org_id=cast.org_a.pk, now=timezone.now() + timedelta(hours=3)) == 0
    assert reassign_untouched(org_id=cast.org_a.pk, now=timezone.now() + timedelta(hours=5)) == 1
    moved = Lead.objects.get(pk=waiting.pk)
    assert moved.owner_id not in (first_owner, None)
    assert moved.assigned_because == Lead.AssignedBecause.UNTOUCHED
    assert Lead.objects.get(pk=worked.pk).owner_id == worked.owner_id
    entry = AuditEntry.objects.filter(action="lead.assign", object_id=str(waiting.pk)).order_by("-seq").first()
    assert entry.via == "system" and entry.extra["because"] == "untouched"
    # Running again right away does nothing more: the clock restarted with the new owner.
    assert reassign_untouched(org_id=cast.org_a.pk, now=timezone.now() + timedelta(hours=5)) == 0


def test_an_untouched_lead_of_a_restricted_person_stays_where_it_is(cast, as_tenant):
    """Reassignment is automation: a person whose processing is restricted is left out."""
    from custos.privacy.services.restriction import subject_restrict

    admin = _reassigning_after_four_hours(cast)
    waiting = _web_lead(cast, last_name="Waiting")
    subject_restrict(actor=admin, subject=waiting.subject, inform=False)

    assert reassign_untouched(org_id=cast.org_a.pk, now=timezone.now() + timedelta(hours=5)) == 0
    assert Lead.objects.get(pk=waiting.pk).owner_id == waiting.owner_id
    assert not AuditEntry.objects.filter(action="lead.assign", object_id=str(waiting.pk), via="system").exists()


def test_an_assignment_rule_names_real_members_and_valid_places(cast, as_tenant):
    admin = cast.actor(cast.alice)
    with pytest.raises(ValidationFailed) as refused:
        assignment_rule_create(
            actor=admin,
            data={"name": "Bad", "countries": ["Germany"], "sources": ["fax"], "reps": [str(cast.mallory.pk)]},
        )
    assert sorted(e.field for e in refused.value.errors) == ["countries", "reps", "sources"]
    rule = assignment_rule_create(actor=admin, data={"name": "Ok", "reps": [str(cast.sam.pk)]})
    with pytest.raises(ValidationFailed):
        assignment_rule_update(actor=admin, rule=rule, data={"reps": []})
    assert list(rule.reps.values_list("pk", flat=True)) == [cast.sam.pk]
