"""Passwords are stored with argon2 under the production hasher list."""

import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client

from config import settings as production
from custos.accounts.models import User
from custos.accounts.tests.helpers import sign_in, signed_in_user_id
from custos.testing import PASSWORD, web_client


@pytest.fixture
def production_hashers(settings):
    settings.PASSWORD_HASHERS = production.PASSWORD_HASHERS
    assert settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


def test_a_new_password_is_stored_as_argon2(cast, production_hashers):
    cast.sam.set_password("a-new-long-password-77")
    cast.sam.save()
    stored = User.objects.get(pk=cast.sam.pk).password
    assert stored.startswith("argon2$argon2id$")
    assert "a-new-long-password-77" not in stored


def test_a_password_changed_on_the_security_page_is_stored_as_argon2_and_signs_in(cast, production_hashers):
    cast.sam.set_password(PASSWORD)
    cast.sam.save()
    client = web_client(cast.sam)
    response = client.post(
        "/account/security/",
        {
            "form": "password",
            "old_password": PASSWORD,
            "new_password1": "violet-harbour-lantern-93",
            "new_password2": "violet-harbour-lantern-93",
        },
    )
    assert response.status_code == 302
    assert User.objects.get(pk=cast.sam.pk).password.startswith("argon2$")
    assert client.get("/account/").status_code == 200  # this session survives the change

    fresh = Client()
    sign_in(fresh, "sam@acme.example", "violet-harbour-lantern-93")
    assert signed_in_user_id(fresh) == str(cast.sam.pk)


def test_an_older_hash_is_upgraded_to_argon2_at_sign_in(cast, production_hashers):
    User.objects.filter(pk=cast.sam.pk).update(password=make_password(PASSWORD, hasher="pbkdf2_sha256"))
    client = Client()
    sign_in(client, "sam@acme.example")
    assert signed_in_user_id(client) == str(cast.sam.pk)
    assert User.objects.get(pk=cast.sam.pk).password.startswith("argon2$")
