"""`custos check --deploy` refuses a public site without HTTPS and warns of mail sent in clear."""

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

SMTP = "django.core.mail.backends.smtp.EmailBackend"
PUBLIC_HTTPS = {"CUSTOS_BASE_URL": "https://crm.example.org", "HTTPS": True, "ALLOWED_HOSTS": ["crm.example.org"]}


def _mailer(host="mail.example.org", **options):
    return {"default": {"BACKEND": SMTP, "OPTIONS": {"host": host, "port": 587, **options}}}


def _custos_findings():
    found = checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security])
    return [(f.id, f.msg, f.hint) for f in found if f.id.startswith("custos.")]


def _configure(settings, **values):
    for name, value in values.items():
        setattr(settings, name, value)


def test_a_public_site_behind_https_with_encrypted_mail_passes(db, settings):
    _configure(settings, **PUBLIC_HTTPS, MAILERS=_mailer(use_tls=True))

    assert _custos_findings() == []
    call_command("check", "--deploy", verbosity=0)  # no SystemCheckError: it exits 0


@pytest.mark.parametrize("address", ["http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000"])
def test_plain_http_on_loopback_stays_allowed(settings, address):
    hosts = ["127.0.0.1", "localhost", "[::1]"]
    _configure(settings, CUSTOS_BASE_URL=address, HTTPS=False, ALLOWED_HOSTS=hosts, MAILERS=_mailer("127.0.0.1"))

    assert _custos_findings() == []


def test_a_public_http_address_is_an_error_naming_the_setting(db, settings):
    _configure(settings, **{**PUBLIC_HTTPS, "CUSTOS_BASE_URL": "http://crm.example.org"}, MAILERS=_mailer(use_ssl=True))

    assert _custos_findings() == [
        (
            "custos.E011",
            "CUSTOS_BASE_URL sends the links in mails to crm.example.org over plain HTTP",
            "Set CUSTOS_BASE_URL=https://crm.example.org and serve it through a TLS proxy.",
        )
    ]
    with pytest.raises(SystemCheckError, match=r"custos\.E011"):
        call_command("check", "--deploy", verbosity=0)


@pytest.mark.parametrize(
    ("address", "hosts", "named"),
    [
        ("https://crm.example.org", ["crm.example.org"], "crm.example.org"),
        ("http://127.0.0.1:8000", ["127.0.0.1", "crm.example.org"], "crm.example.org"),  # answers a public name
        ("http://127.0.0.1:8000", ["*"], "*"),
    ],
)
def test_a_public_host_without_https_is_an_error_naming_the_setting(settings, address, hosts, named):
    _configure(settings, CUSTOS_BASE_URL=address, HTTPS=False, ALLOWED_HOSTS=hosts, MAILERS=_mailer(use_tls=True))

    assert [f for f in _custos_findings() if f[0] == "custos.E012"] == [
        (
            "custos.E012",
            f"HTTPS is not configured, but Custos answers for {named}",
            "Put a TLS proxy in front and set CUSTOS_HTTPS=1 (HTTPS redirect, HSTS, secure cookies).",
        )
    ]


@pytest.mark.parametrize("address", ["http://127.0.0.1:8000", "https://localhost", "http://[::1]:8000"])
def test_links_in_mails_to_this_machine_on_a_public_site_are_an_error(settings, address):
    _configure(settings, **{**PUBLIC_HTTPS, "CUSTOS_BASE_URL": address}, MAILERS=_mailer(use_tls=True))
    host = address.split("//")[1].rsplit(":", 1)[0] if "[" not in address else "::1"

    assert _custos_findings() == [
        (
            "custos.E014",
            f"CUSTOS_BASE_URL points at this machine ({host}), but Custos answers for crm.example.org: "
            "the links in mails would lead nowhere",
            "Set CUSTOS_BASE_URL to the address people reach Custos at, such as https://crm.example.org.",
        )
    ]
    with pytest.raises(SystemCheckError, match=r"custos\.E014"):
        call_command("check", "--deploy", verbosity=0)


def test_mail_to_another_machine_without_tls_is_a_warning(db, settings):
    _configure(settings, **PUBLIC_HTTPS, MAILERS=_mailer())

    assert _custos_findings() == [
        (
            "custos.W013",
            "Mail ('default') goes to mail.example.org unencrypted: neither STARTTLS nor SSL is set",
            "Set CUSTOS_SMTP_STARTTLS=1 (usually port 587) or CUSTOS_SMTP_SSL=1 (port 465).",
        )
    ]
    call_command("check", "--deploy", verbosity=0)  # a warning: the operator decides
