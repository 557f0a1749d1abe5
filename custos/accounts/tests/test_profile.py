"""The profile: name, language and time zone, and the language used on the next page."""

from zoneinfo import ZoneInfo

from django.utils import formats, timezone, translation

from custos.accounts.models import User
from custos.accounts.tests.helpers import audit_entries, html_text
from custos.testing import web_client


def _save(client, **fields):
    data = {"full_name": "Sam Seller", "language": "de", "time_zone": "Europe/Warsaw", **fields}
    return client.post("/account/", data)


def test_language_and_time_zone_are_saved(cast):
    client = web_client(cast.sam)
    response = _save(client)
    assert (response.status_code, response["Location"]) == (302, "/account/")
    sam = User.objects.get(pk=cast.sam.pk)
    assert (sam.full_name, sam.language, sam.time_zone) == ("Sam Seller", "de", "Europe/Warsaw")


def test_the_chosen_language_is_used_on_the_next_page(cast):
    client = web_client(cast.sam)
    _save(client, language="de")
    page = client.get("/")
    assert '<html lang="de" dir="ltr">' in html_text(page)


def test_the_chosen_language_wins_over_the_browsers(cast):
    client = web_client(cast.sam)
    _save(client, language="pl")
    client.cookies.clear()
    client.force_login(User.objects.get(pk=cast.sam.pk))
    page = client.get("/", headers={"Accept-Language": "de"})
    assert '<html lang="pl" dir="ltr">' in html_text(page)


def test_arabic_pages_run_right_to_left(cast):
    client = web_client(cast.sam)
    _save(client, language="ar")
    assert '<html lang="ar" dir="rtl">' in html_text(client.get("/account/"))


def test_without_a_chosen_language_the_browsers_is_used(cast):
    client = web_client(cast.sam)
    _save(client, language="")
    assert User.objects.get(pk=cast.sam.pk).language == ""
    assert '<html lang="de"' in html_text(client.get("/", headers={"Accept-Language": "de"}))


def test_a_bad_time_zone_is_refused_naming_the_field(cast):
    client = web_client(cast.sam)
    response = _save(client, time_zone="Mars/Olympus_Mons")
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["time_zone"]
    assert 'id="id_time_zone_error"' in html_text(response)
    sam = User.objects.get(pk=cast.sam.pk)
    assert (sam.full_name, sam.language, sam.time_zone) == ("", "", "Europe/Berlin")


def test_an_unknown_language_is_refused_naming_the_field(cast):
    response = _save(web_client(cast.sam), language="xx")
    assert list(response.context["form"].errors) == ["language"]
    assert User.objects.get(pk=cast.sam.pk).language == ""


def test_times_are_shown_in_the_chosen_time_zone(cast):
    client = web_client(cast.olive)
    _save(client, language="en", time_zone="Pacific/Kiritimati")
    entry = audit_entries(cast.org_a)[-1]
    with translation.override("en"):
        in_kiritimati = formats.date_format(
            timezone.localtime(entry.at, ZoneInfo("Pacific/Kiritimati")), "SHORT_DATETIME_FORMAT"
        )
        in_berlin = formats.date_format(
            timezone.localtime(entry.at, ZoneInfo("Europe/Berlin")), "SHORT_DATETIME_FORMAT"
        )
    assert in_kiritimati != in_berlin
    page = html_text(client.get("/audit/"))
    assert in_kiritimati in page
    assert in_berlin not in page
