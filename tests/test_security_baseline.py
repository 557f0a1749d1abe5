"""The production configuration passes Django's deployment checks; headers hold in every response."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

from django.test import Client

CUSTOS = str(Path(sys.executable).with_name("custos"))


def _production_env(tmp_path, **extra):
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CUSTOS_VAR_DIR": str(tmp_path),
        "CUSTOS_HTTPS": "1",
        "CUSTOS_SECRET_KEY": secrets.token_urlsafe(60),
        "CUSTOS_ALLOWED_HOSTS": "crm.example.org",
        "CUSTOS_BASE_URL": "https://crm.example.org",
        "CUSTOS_SMTP_HOST": "mail.example.org",
        "CUSTOS_SMTP_STARTTLS": "1",
        **extra,
    }


def test_check_deploy_is_clean_under_production_settings(tmp_path):
    result = subprocess.run(
        [CUSTOS, "check", "--deploy", "--fail-level", "WARNING"],
        env=_production_env(tmp_path),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_without_an_smtp_server_is_flagged(tmp_path):
    env = _production_env(tmp_path)
    del env["CUSTOS_SMTP_HOST"]
    result = subprocess.run([CUSTOS, "check", "--deploy"], env=env, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "mail.E001" in result.stderr


def test_production_mailing_links_to_this_machine_is_refused(tmp_path):
    env = _production_env(tmp_path)
    del env["CUSTOS_BASE_URL"]  # left at its default, http://127.0.0.1:8000
    result = subprocess.run([CUSTOS, "check", "--deploy"], env=env, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "custos.E014" in result.stderr


def test_production_over_plain_http_is_refused(tmp_path):
    env = _production_env(tmp_path, CUSTOS_HTTPS="0", CUSTOS_BASE_URL="http://crm.example.org")
    result = subprocess.run([CUSTOS, "check", "--deploy"], env=env, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "custos.E011" in result.stderr
    assert "custos.E012" in result.stderr


def test_secrets_are_generated_into_var_with_owner_only_access(tmp_path):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CUSTOS_VAR_DIR": str(tmp_path)}
    subprocess.run([CUSTOS, "check"], env=env, capture_output=True, check=True)
    for name in ("secret_key", "master_key"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600
    first = (tmp_path / "master_key").read_text()
    subprocess.run([CUSTOS, "check"], env=env, capture_output=True, check=True)
    assert (tmp_path / "master_key").read_text() == first  # generated once, then kept


def test_pages_carry_a_strict_content_security_policy(db):
    response = Client().get("/login/")
    policy = response["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_forms_are_protected_against_cross_site_requests(cast):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"email": "olive@acme.example", "password": "x"})
    assert response.status_code == 403


def test_plain_http_is_served_without_https_redirects_unless_told(db, settings):
    assert Client().get("/login/").status_code == 200
    assert "Strict-Transport-Security" not in Client().get("/login/")


def test_pages_of_a_signed_in_person_are_never_cached(cast):
    from custos.testing import web_client

    for path in ("/", "/contacts/", "/account/tokens/", "/account/security/"):
        cache_control = web_client(cast.alice).get(path)["Cache-Control"]
        assert "no-store" in cache_control and "private" in cache_control, path
