"""Sessions: signing out everywhere, expiry, and how the session cookie is set."""

import os
import subprocess
import sys
from datetime import timedelta

from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from custos.accounts.tests.helpers import audit_entries, sign_in, signed_in_user_id
from custos.testing import web_client


def test_signing_out_everywhere_ends_other_sessions_and_keeps_this_one(cast):
    here = web_client(cast.sam)
    elsewhere = web_client(cast.sam)
    someone_else = web_client(cast.bob)
    response = here.post("/account/security/sign-out-everywhere/", follow=True)
    assert response.redirect_chain == [("/account/security/", 302)]
    assert "Every other session of your account has ended." in response.content.decode()

    assert here.get("/account/").status_code == 200
    gone = elsewhere.get("/account/")
    assert (gone.status_code, gone["Location"]) == (302, "/login/?next=/account/")
    assert someone_else.get("/account/").status_code == 200
    assert len(audit_entries(cast.org_a, "auth.sign_out_everywhere")) == 1


def test_a_session_ended_everywhere_cannot_come_back_by_signing_in_again_elsewhere(cast):
    here = web_client(cast.sam)
    elsewhere = web_client(cast.sam)
    here.post("/account/security/sign-out-everywhere/")
    again = Client()
    sign_in(again, "sam@acme.example")
    assert signed_in_user_id(again) == str(cast.sam.pk)
    assert elsewhere.get("/account/").status_code == 302


def test_signing_out_ends_the_session(cast):
    client = web_client(cast.sam)
    response = client.post("/logout/")
    assert response["Location"] == "/login/"
    assert client.get("/account/").status_code == 302
    assert len(audit_entries(cast.org_a, "auth.sign_out")) == 1


def test_signing_out_needs_a_post(cast):
    client = web_client(cast.sam)
    assert client.get("/logout/").status_code == 405
    assert client.get("/account/").status_code == 200


def test_the_session_cookie_ends_with_the_browser_and_is_http_only(cast):
    client = Client()
    response = sign_in(client, "sam@acme.example")
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["expires"] == ""
    assert cookie["max-age"] == ""
    assert cookie["samesite"] == "Lax"


def test_the_session_lasts_as_long_as_custos_session_seconds_says(cast):
    client = Client()
    sign_in(client, "sam@acme.example")
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True
    assert client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE
    stored = Session.objects.get(session_key=client.session.session_key)
    expected = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    assert abs((stored.expire_date - expected).total_seconds()) < 60


def test_an_expired_session_is_signed_out(cast):
    client = Client()
    sign_in(client, "sam@acme.example")
    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    response = client.get("/account/")
    assert (response.status_code, response["Location"]) == (302, "/login/?next=/account/")


def test_expired_sessions_are_cleared_daily_and_live_ones_kept(cast):
    """An ended session still says who was signed in: it goes, not only its cookie."""
    from custos.accounts.tasks import clear_expired_sessions
    from custos.core.periodic import JOBS

    ended, live = Client(), Client()
    sign_in(ended, "bob@acme.example")
    sign_in(live, "sam@acme.example")
    Session.objects.filter(session_key=ended.session.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )

    assert clear_expired_sessions.call() == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session.session_key]
    assert live.get("/account/").status_code == 200
    assert [j.every for j in JOBS if j.task == "custos.accounts.tasks.clear_expired_sessions"] == [timedelta(days=1)]


def test_custos_session_seconds_sets_the_session_age(tmp_path):
    env = {
        **os.environ,
        "CUSTOS_SESSION_SECONDS": "1234",
        "CUSTOS_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.SESSION_COOKIE_AGE)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=settings.BASE_DIR,
    )
    assert result.stdout.strip() == "1234"


def test_changing_the_password_ends_other_sessions_and_keeps_this_one(cast):
    here = web_client(cast.sam)
    elsewhere = web_client(cast.sam)
    response = here.post(
        "/account/security/",
        {
            "form": "password",
            "old_password": "correct-horse-battery-staple-42",
            "new_password1": "violet-harbour-lantern-93",
            "new_password2": "violet-harbour-lantern-93",
        },
    )
    assert response["Location"] == "/account/security/"
    assert here.get("/account/").status_code == 200
    assert elsewhere.get("/account/").status_code == 302
    assert len(audit_entries(cast.org_a, "auth.password_change")) == 1
