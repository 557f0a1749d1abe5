"""The site's address that links in mails start with (CUSTOS_BASE_URL, config/settings.py)."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings import env_site


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("https://crm.example.org", "https://crm.example.org"),
        ("https://crm.example.org/", "https://crm.example.org"),  # else links would read "org//portal/…"
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://[::1]:8000", "http://[::1]:8000"),
    ],
)
def test_a_site_address_is_its_scheme_and_host(monkeypatch, given, used):
    monkeypatch.setenv("CUSTOS_BASE_URL", given)

    assert env_site("CUSTOS_BASE_URL", "http://127.0.0.1:8000") == used


@pytest.mark.parametrize(
    "given",
    [
        "https://example.org/crm",  # reverse() gives /portal/…: the link would miss /crm
        "https://crm.example.org/?a=1",
        "https://crm.example.org#top",
        "crm.example.org",
        "ftp://crm.example.org",
        "https://",
        "https://crm.example.org?",
        "https://crm.example.org:notaport",
        "https://crm.example.org:99999",
        "https://user:secret@crm.example.org",  # would go out in every mailed link
        "http://[::1",
    ],
)
def test_an_address_links_cannot_start_with_stops_the_start_naming_the_setting(monkeypatch, given):
    monkeypatch.setenv("CUSTOS_BASE_URL", given)

    with pytest.raises(ImproperlyConfigured, match="CUSTOS_BASE_URL must be http"):
        env_site("CUSTOS_BASE_URL", "http://127.0.0.1:8000")
