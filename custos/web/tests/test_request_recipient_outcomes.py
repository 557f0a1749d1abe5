"""A privacy request's page says what became of each Art. 19 recipient's notice: a refused
mail is on its way with the time of its next attempt, in the reader's time zone and date
format, and one given up says why in words, never as a code."""

from __future__ import annotations

import html
import zoneinfo

from django.utils import formats, translation

from custos.accounts.models import User
from custos.core.tenancy import tenant_scope
from custos.privacy.models import Processor, RecipientNotice
from custos.privacy.services.processors import processor_delete
from custos.privacy.tests.test_recipient_notice_outcomes import NOBODY_LISTENS
from custos.privacy.tests.test_recipient_notices import HOSTER, MAILER, _completed, _setup
from custos.testing import run_tasks, web_client


def _recipients(client, request) -> str:
    page = client.get(f"/privacy/requests/{request.pk}/").content.decode()
    return html.unescape(page.split('<ul class="recipients">')[1].split("</ul>")[0])


def test_a_pending_notice_shows_its_next_attempt_and_a_given_up_one_its_reason(cast, settings):
    _setup(cast, recipients=(("Rundbrief GmbH", MAILER), ("Hosting AG", HOSTER)))
    settings.MAILERS = NOBODY_LISTENS
    User.objects.filter(pk=cast.alice.pk).update(language="de", time_zone="America/New_York")
    done = _completed(cast, "restriction")
    run_tasks()
    client = web_client(cast.alice)

    with tenant_scope(cast.org_a):
        retry_at = {n.processor.name: n.next_attempt_at for n in RecipientNotice.objects.select_related("processor")}
    shown = _recipients(client, done)
    new_york = retry_at["Hosting AG"].astimezone(zoneinfo.ZoneInfo("America/New_York"))
    with translation.override("de"):
        local = formats.date_format(new_york, "SHORT_DATETIME_FORMAT")
    assert f'<time datetime="{new_york.isoformat()}">{local}</time>' in shown
    assert shown.count("(nächster Versuch <time") == 2

    User.objects.filter(pk=cast.alice.pk).update(language="en")
    assert _recipients(client, done).count("mail on its way (next attempt <time") == 2

    with tenant_scope(cast.org_a):
        processor_delete(actor=cast.actor(cast.alice), processor=Processor.objects.get(name="Rundbrief GmbH"))
    shown = _recipients(client, done)
    assert (
        "Rundbrief GmbH: the mail could not be sent (the recipient, or its address, was removed from the register)"
        in " ".join(html.unescape(shown).replace('<span class="badge danger">', "").replace("</span>", "").split())
    )
    assert "recipient_removed" not in shown
    assert shown.count("mail on its way (next attempt") == 1  # Hosting AG's, still waiting
