"""Password reset by email: real SMTP on loopback, the real task worker, a one-time link."""

import json
import re

from django.test import Client
from django.utils import translation
from django.utils.translation import gettext
from django_tasks_db.models import DBTaskResult

from custos.accounts.models import User
from custos.accounts.tests.helpers import html_text, sign_in, signed_in_user_id
from custos.testing import run_tasks, web_client

NEW_PASSWORD = "amber-quarry-whistle-58"
LINK = r"http://127\.0\.0\.1:8000(/password-reset/[^/\s]+/[^/\s]+/)"


def _request_reset(email: str):
    return Client().post("/password-reset/", {"email": email}, REMOTE_ADDR="192.0.2.10")


def _body(message) -> str:
    return message.get_payload(decode=True).decode(message.get_content_charset() or "utf-8")


def _link_path(message) -> str:
    match = re.search(LINK, _body(message))
    assert match is not None, _body(message)
    return match.group(1)


def _set_new_password(client: Client, path: str, password: str = NEW_PASSWORD):
    form_page = client.get(path, follow=True)
    assert form_page.context["validlink"] is True
    form_url = form_page.redirect_chain[-1][0]
    return client.post(form_url, {"new_password1": password, "new_password2": password})


def test_the_request_page_answers_the_same_for_known_and_unknown_emails(cast, smtp_server):
    known = _request_reset("sam@acme.example")
    unknown = _request_reset("nobody@acme.example")
    assert (
        (known.status_code, known["Location"])
        == (unknown.status_code, unknown["Location"])
        == (
            302,
            "/password-reset/sent/",
        )
    )
    page = Client().get("/password-reset/sent/")
    assert "If the address belongs to an account, a link to choose a new password is on its way." in html_text(page)
    run_tasks()
    messages = smtp_server.wait_for(1)
    assert [m["To"] for m in messages] == ["sam@acme.example"]


def test_the_task_payload_holds_the_user_id_and_never_the_email(cast, smtp_server):
    _request_reset("Sam@Acme.example")
    (task,) = DBTaskResult.objects.all()
    assert task.task_path == "custos.accounts.tasks.send_password_reset"
    assert task.args_kwargs == {"args": [str(cast.sam.pk)], "kwargs": {}}
    assert "acme.example" not in json.dumps(task.args_kwargs).lower()
    run_tasks()
    task.refresh_from_db()
    assert task.status == "SUCCESSFUL"


def test_an_unknown_email_queues_nothing_and_sends_nothing(cast, smtp_server):
    _request_reset("nobody@acme.example")
    assert DBTaskResult.objects.count() == 0
    run_tasks()
    assert smtp_server.wait_for(1, timeout=0.3) == []


def test_the_mail_arrives_with_a_link_and_the_time_it_works(cast, smtp_server):
    _request_reset("sam@acme.example")
    run_tasks()
    (message,) = smtp_server.wait_for(1)
    assert message["To"] == "sam@acme.example"
    assert message["Subject"] == "Your Custos password reset link"
    assert "expires in 60 minutes" in " ".join(_body(message).split())
    assert _link_path(message).startswith("/password-reset/")


def test_the_mail_is_written_in_the_users_language(cast, smtp_server):
    User.objects.filter(pk=cast.sam.pk).update(language="de")
    _request_reset("sam@acme.example")
    run_tasks()
    (message,) = smtp_server.wait_for(1)
    with translation.override("de"):
        german_subject = gettext("Your Custos password reset link")
    assert german_subject != "Your Custos password reset link", "the German catalog lacks the reset mail's subject"
    assert message["Subject"] == german_subject


def test_the_link_sets_a_new_password_once_and_then_is_dead(cast, smtp_server):
    _request_reset("sam@acme.example")
    run_tasks()
    (message,) = smtp_server.wait_for(1)
    path = _link_path(message)

    client = Client()
    response = _set_new_password(client, path)
    assert response.status_code == 302
    assert response["Location"] == "/password-reset/done/"
    assert signed_in_user_id(client) is None

    fresh = Client()
    sign_in(fresh, "sam@acme.example", NEW_PASSWORD)
    assert signed_in_user_id(fresh) == str(cast.sam.pk)

    second = Client().get(path, follow=True)
    assert second.context["validlink"] is False
    assert "This link does not work" in html_text(second)


def test_a_reset_ends_every_old_session(cast, smtp_server):
    laptop = web_client(cast.sam)
    phone = web_client(cast.sam)
    assert laptop.get("/account/").status_code == phone.get("/account/").status_code == 200
    _request_reset("sam@acme.example")
    run_tasks()
    (message,) = smtp_server.wait_for(1)
    _set_new_password(Client(), _link_path(message))
    for client in (laptop, phone):
        response = client.get("/account/")
        assert response.status_code == 302
        assert response["Location"] == "/login/?next=/account/"


def test_a_weak_new_password_is_refused_and_the_link_still_works(cast, smtp_server):
    _request_reset("sam@acme.example")
    run_tasks()
    (message,) = smtp_server.wait_for(1)
    path = _link_path(message)
    client = Client()
    response = _set_new_password(client, path, "short")
    assert response.status_code == 200
    assert "new_password2" in response.context["form"].errors
    assert _set_new_password(client, path)["Location"] == "/password-reset/done/"


def test_a_password_reset_lifts_the_account_lock(cast, smtp_server, settings):
    settings.CUSTOS_LOGIN_MAX_FAILURES = 2
    for guess in ("guess-one-1", "guess-two-2"):
        sign_in(Client(), "sam@acme.example", guess)
    locked = sign_in(Client(), "sam@acme.example")
    assert "It is locked for 15 minutes; try again later or reset your password." in html_text(locked)

    _request_reset("sam@acme.example")
    run_tasks()
    (message,) = smtp_server.wait_for(1)
    _set_new_password(Client(), _link_path(message))
    client = Client()
    response = sign_in(client, "sam@acme.example", NEW_PASSWORD)
    assert (response.status_code, signed_in_user_id(client)) == (302, str(cast.sam.pk))
