"""The Art. 30 record and the privacy notice are made from the live configuration."""

import io

import pytest
from openpyxl import load_workbook

from custos.audit.models import AuditEntry
from custos.core.errors import ValidationFailed
from custos.core.tenancy import tenant_scope
from custos.privacy.models import PrivacySettings
from custos.privacy.services.consent import purpose_create
from custos.privacy.services.processing_record import (
    privacy_notice,
    processing_record,
    processing_record_pdf,
    processing_record_xlsx,
)
from custos.privacy.services.processors import processor_create
from custos.privacy.services.requests import privacy_settings_update
from custos.testing import sql_as_database_owner, web_client


def _configure(cast):
    actor = cast.actor(cast.alice)
    purpose = purpose_create(
        actor=actor,
        data={
            "key": "newsletter",
            "legal_basis": "consent",
            "names": {"en": "Newsletter", "de": "Rundbrief"},
            "descriptions": {"en": '=HYPERLINK("http://x") monthly news'},
        },
    )
    processor = processor_create(
        actor=actor, data={"name": "Mailcloud Inc.", "service": "mail delivery", "location": "US", "safeguard": "scc"}
    )
    processor.purposes.add(purpose)


def test_the_record_follows_the_configuration(cast):
    with tenant_scope(cast.org_a):
        _configure(cast)
        record = processing_record(language="de")

    assert [a["name"] for a in record["activities"]] == ["Rundbrief"]
    assert record["activities"][0]["recipients"] == ["Mailcloud Inc."]
    assert [p["name"] for p in record["transfers"]] == ["Mailcloud Inc."]  # outside the EEA
    labels = {t["type"] for t in record["record_types"]}
    assert {"crm.Contact", "crm.Lead", "crm.Activity"} <= labels
    assert "search.SearchEntry" not in labels  # copies are not a category of their own
    assert len(record["security_measures"]) >= 5


def test_the_record_downloads_as_pdf_and_xlsx_without_formulas(cast):
    with tenant_scope(cast.org_a):
        _configure(cast)
        record = processing_record(language="en")

    assert processing_record_pdf(record).startswith(b"%PDF")
    workbook = load_workbook(io.BytesIO(processing_record_xlsx(record)))
    activities = workbook["Activities"]
    assert activities["B2"].value.startswith("'=HYPERLINK")
    assert [sheet.title for sheet in workbook.worksheets] == [
        "Controller",
        "Activities",
        "Data",
        "Processors",
        "Retention",
        "Security",
    ]


def test_the_notice_speaks_every_language(cast):
    with tenant_scope(cast.org_a):
        _configure(cast)
        notices = {language: privacy_notice(language=language) for language in ("en", "de", "pl", "ar")}

    assert len({notice["rights"][0] for notice in notices.values()}) == 4
    assert notices["de"]["activities"][0]["name"] == "Rundbrief"
    # The kinds of records it names too: "Aktivitäten", not "activitys".
    kinds = {language: {t["type"]: t["label"] for t in notice["record_types"]} for language, notice in notices.items()}
    assert (kinds["en"]["crm.Activity"], kinds["de"]["crm.Activity"]) == ("activities", "Aktivitäten")
    assert (kinds["pl"]["crm.Contact"], kinds["ar"]["crm.Contact"]) == ("kontakty", "جهات الاتصال")


def test_staff_pages(cast):
    with tenant_scope(cast.org_a):
        _configure(cast)
    alice = web_client(cast.alice)

    page = alice.get("/privacy/record/")
    pdf = alice.get("/privacy/record/", {"format": "pdf"})
    notice = alice.get("/privacy/notice/", {"language": "ar"})

    assert page.status_code == 200 and b"Mailcloud Inc." in page.content
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert notice.status_code == 200 and 'dir="rtl"' in notice.content.decode()
    assert web_client(cast.bob).get("/privacy/record/").status_code == 403


def test_retention_periods_name_the_records_as_readers_know_them(cast):
    from custos.privacy.services import retention

    actor = cast.actor(cast.olive)
    with tenant_scope(cast.org_a):
        policy = retention.retention_policy_create(
            actor=actor, data={"key": "contact.inactive", "condition": "inactive", "days": 365, "action": "anonymise"}
        )
        retention.retention_policy_preview(actor=actor, policy=policy)
        retention.retention_policy_update(actor=actor, policy=policy, data={"is_enabled": True})
        german = privacy_notice(language="de")["retention"]
        english = processing_record(language="en")["retention"]

    assert [p["record_type"] for p in german] == ["Kontakte"]
    assert [p["record_type"] for p in english] == ["Contacts"]
    assert "contact.inactive" not in str(german) + str(english)


CONTACT = "Praxis Dr. Lind\nHauptstraße 1, 10115 Berlin\ndatenschutz@praxis-lind.example"
DPO = "Datenschutz Nord GmbH <b>Team</b>\ndsb@datenschutz-nord.example"


def test_the_notice_and_the_record_say_who_to_contact_and_the_officer(cast):
    """Art. 13(1)(a)(b) and 30(1)(a): the controller's contact details and its officer's."""
    with tenant_scope(cast.org_a):
        privacy_settings_update(actor=cast.actor(cast.alice), data={"controller_contact": CONTACT, "dpo_contact": DPO})
        record = processing_record(language="en")
    alice = web_client(cast.alice)

    assert (record["controller"]["contact"], record["controller"]["dpo"]) == (CONTACT, DPO)
    notice = alice.get("/privacy/notice/", {"language": "de"}).content.decode()
    assert "Hauptstraße 1, 10115 Berlin<br>datenschutz@praxis-lind.example" in notice
    assert "Datenschutz Nord GmbH &lt;b&gt;Team&lt;/b&gt;<br>" in notice  # the organisation's text, escaped
    assert "Art. 13" not in notice  # the reminder to add a contact is gone
    page = alice.get("/privacy/record/").content.decode()
    assert "dsb@datenschutz-nord.example" in page
    controller = load_workbook(io.BytesIO(processing_record_xlsx(record)))["Controller"]
    assert [cell.value for cell in controller[2]][:4] == ["Acme Praxis", "DE", CONTACT, DPO]


def test_a_notice_without_a_contact_reminds_staff_to_add_one(cast):
    page = web_client(cast.alice).get("/privacy/notice/").content.decode()

    assert "does not yet say how people reach you about their data" in page
    assert 'href="/privacy/settings/"' in page


def test_contact_details_are_checked_like_every_text(cast, as_tenant):
    actor = cast.actor(cast.alice)

    with pytest.raises(ValidationFailed) as refused:
        privacy_settings_update(actor=actor, data={"controller_contact": "x" * 1001, "dpo_contact": "a\x00b"})

    assert sorted(e.field for e in refused.value.errors) == ["controller_contact", "dpo_contact"]
    assert PrivacySettings.objects.count() == 0
    privacy_settings_update(actor=actor, data={"dpo_contact": "  Dr. Ewa Nowak\n+48 22 123 45 67  "})
    assert PrivacySettings.objects.get().dpo_contact == "Dr. Ewa Nowak\n+48 22 123 45 67"
    assert AuditEntry.objects.get(action="privacy_settings.update").fields == ["dpo_contact"]


def test_the_notice_and_the_record_say_how_long_a_request_names_who_asked(cast):
    with tenant_scope(cast.org_a):
        privacy_settings_update(actor=cast.actor(cast.alice), data={"request_keep_years": 2})
        record = processing_record(language="de")
        english = processing_record(language="en")
    alice = web_client(cast.alice)

    assert record["requests_kept"]["period"] == "Angaben zur anfragenden Person 2 Jahre nach der Antwort entfernt"
    assert (
        "the requester&#x27;s details removed 2 years after the answer"
        in alice.get("/privacy/notice/").content.decode()
    )
    retention = load_workbook(io.BytesIO(processing_record_xlsx(english)))["Retention"]
    assert [cell.value for cell in retention[retention.max_row]] == [
        "Privacy requests",
        "the requester's details removed 2 years after the answer",
    ]


def test_the_notice_and_the_record_say_when_they_last_changed(cast):
    import datetime as dt

    from django.db.migrations.recorder import MigrationRecorder
    from django.utils import timezone

    from custos.crm.services.people import contact_create

    def aged(when):
        return dt.datetime.combine(when, dt.time(12), tzinfo=dt.UTC)

    with tenant_scope(cast.org_a):
        MigrationRecorder.Migration.objects.update(applied=aged(dt.date(2020, 6, 1)))
        sql_as_database_owner(cast.org_a, "UPDATE audit_auditentry SET at = %s", [aged(dt.date(2021, 3, 4))])
        contact_create(actor=cast.actor(cast.olive), data={"first_name": "Anna"})  # not part of the notice
        before = privacy_notice(language="en")["last_changed"]
        processor_create(
            actor=cast.actor(cast.alice),
            data={"name": "Hoster", "service": "hosting", "location": "DE", "safeguard": "none_needed"},
        )
        after = processing_record(language="en")
        sql_as_database_owner(cast.org_a, "UPDATE audit_auditentry SET at = %s", [aged(dt.date(2019, 1, 1))])
        upgraded = processing_record(language="en")["last_changed"]  # Custos upgraded since

    assert before == dt.date(2021, 3, 4)
    assert after["last_changed"] == timezone.localdate()
    assert upgraded == dt.date(2020, 6, 1)
    workbook = load_workbook(io.BytesIO(processing_record_xlsx(after)))
    assert workbook["Controller"]["E2"].value == timezone.localdate().isoformat()
    page = web_client(cast.alice).get("/privacy/notice/", {"language": "de"}).content.decode()
    assert "Zuletzt geändert:" in page and 'datetime="2020-06-01"' in page
