"""`custos keys generate | rotate | status`: master keys wrap data keys and TOTP seeds."""

import base64
from io import StringIO

import pytest
from django.core.management import call_command

from custos.accounts.models import User
from custos.audit.services import audit_verify
from custos.core import crypto
from custos.core.models import DataKey, Organization
from custos.core.tenancy import tenant_scope
from custos.crm.models import Contact
from custos.crm.services.people import contact_create
from custos.testing import TOTP_SECRET


@pytest.fixture
def use_master_keys(settings):
    """Configure master keys as an operator would, and forget what was unwrapped before."""

    def use(*keys):
        settings.CUSTOS_MASTER_KEYS = list(keys)
        crypto.master_keys.cache_clear()
        crypto.forget_keys()

    yield use
    crypto.master_keys.cache_clear()
    crypto.forget_keys()


def _keys(*args):
    out = StringIO()
    call_command("keys", *args, stdout=out)
    return out.getvalue()


def _line(key, data_keys, secrets, mark):
    return f"{_key_id(key)}  {data_keys:6d} data keys  {secrets:6d} sign-in secrets  ({mark})\n"


def _key_id(key):
    return crypto.master_key_id(base64.urlsafe_b64decode(key))


def _wrappers(cast):
    wrappers = {}
    for org in (cast.org_a, cast.org_b):
        with tenant_scope(org):
            wrappers[org.slug] = sorted(DataKey.objects.values_list("master_key_id", flat=True))
    return wrappers


def _health_notes(cast):
    notes = {}
    for org in (cast.org_a, cast.org_b):
        with tenant_scope(org):
            notes[org.slug] = sorted(Contact.objects.values_list("health_notes", flat=True))
    return notes


def _seeds(cast):
    return {
        user.email: crypto.open_platform(user.totp_secret, aad=f"totp|{user.pk}")
        for user in User.objects.exclude(totp_secret="").order_by("email")
    }


@pytest.fixture
def data(cast):
    for org, user, note in ((cast.org_a, cast.alice, "Migraine"), (cast.org_b, cast.mallory, "Pregnant, week 12")):
        with tenant_scope(org):
            contact_create(actor=cast.actor(user, org), data={"last_name": "Kowalczyk", "health_notes": note})
    return cast


def test_generate_prints_a_fresh_32_byte_key(cast, use_master_keys):
    first, second = _keys("generate").strip(), _keys("generate").strip()

    assert len(base64.urlsafe_b64decode(first)) == 32
    assert first != second
    use_master_keys(first)
    assert list(crypto.master_keys()) == [_key_id(first)]


def test_rotate_rewraps_every_data_key_and_reseals_every_totp_seed(data, settings, use_master_keys):
    cast = data
    (old,) = settings.CUSTOS_MASTER_KEYS
    new = crypto.generate_master_key()
    use_master_keys(new, old)

    output = _keys("rotate")

    assert output == f"re-wrapped 2 data keys and 3 platform secrets under master key {_key_id(new)}\n"
    assert _wrappers(cast) == {"acme-praxis": [_key_id(new)], "bravo-handel": [_key_id(new)]}
    sealed = User.objects.exclude(totp_secret="").values_list("totp_secret", flat=True)
    assert all(secret.startswith(f"m1.{_key_id(new)}.") for secret in sealed)


def test_after_rotation_the_new_key_alone_opens_everything(data, settings, use_master_keys):
    cast = data
    index_before = crypto.blind_index("anna@example.org", purpose="email", org_id=cast.org_a.pk)
    (old,) = settings.CUSTOS_MASTER_KEYS
    new = crypto.generate_master_key()
    use_master_keys(new, old)
    _keys("rotate")

    use_master_keys(new)

    assert _health_notes(cast) == {"acme-praxis": ["Migraine"], "bravo-handel": ["Pregnant, week 12"]}
    assert _seeds(cast) == {
        "alice@acme.example": TOTP_SECRET,
        "mallory@bravo.example": TOTP_SECRET,
        "olive@acme.example": TOTP_SECRET,
    }
    assert audit_verify(cast.org_a.pk) is None
    assert audit_verify(cast.org_b.pk) is None
    # Derived keys do not change with the master key: blind-index lookups keep finding.
    assert crypto.blind_index("anna@example.org", purpose="email", org_id=cast.org_a.pk) == index_before


def test_new_values_written_during_rotation_open_afterwards(data, settings, use_master_keys):
    cast = data
    (old,) = settings.CUSTOS_MASTER_KEYS
    new = crypto.generate_master_key()
    use_master_keys(new, old)
    with tenant_scope(cast.org_a):
        contact_create(actor=cast.actor(cast.alice), data={"last_name": "Nowak", "health_notes": "Tinnitus"})
    _keys("rotate")

    use_master_keys(new)

    assert _health_notes(cast)["acme-praxis"] == ["Migraine", "Tinnitus"]


def test_rotating_again_has_nothing_to_do(data, settings, use_master_keys):
    (old,) = settings.CUSTOS_MASTER_KEYS
    new = crypto.generate_master_key()
    use_master_keys(new, old)
    _keys("rotate")

    assert _keys("rotate") == f"re-wrapped 0 data keys and 0 platform secrets under master key {_key_id(new)}\n"


def test_without_the_wrapping_master_key_nothing_opens_and_the_error_says_why(data, use_master_keys):
    cast = data
    unknown = crypto.generate_master_key()
    use_master_keys(unknown)

    with tenant_scope(cast.org_a), pytest.raises(crypto.MasterKeyError) as raised:
        list(Contact.objects.values_list("health_notes", flat=True))
    assert "not configured in CUSTOS_MASTER_KEY" in str(raised.value)
    assert str(cast.org_a.pk) in str(raised.value)

    with pytest.raises(crypto.MasterKeyError, match="unknown master key"):
        _seeds(cast)


def test_a_malformed_master_key_is_refused_clearly(cast, use_master_keys):
    use_master_keys("too-short")

    with pytest.raises(crypto.MasterKeyError, match="entry 1 is not 32 bytes of URL-safe base64"):
        crypto.master_keys()


def test_status_shows_which_master_key_wraps_how_many_data_keys(data, settings, use_master_keys):
    (old,) = settings.CUSTOS_MASTER_KEYS
    new = crypto.generate_master_key()

    assert _keys("status") == _line(old, 2, 3, "current")

    use_master_keys(new, old)
    assert _keys("status") == _line(old, 2, 3, "configured")

    _keys("rotate")
    assert _keys("status") == _line(new, 2, 3, "current")

    use_master_keys(crypto.generate_master_key())
    assert _keys("status") == _line(new, 2, 3, "MISSING")


def test_status_shows_sign_in_secrets_still_under_the_old_key(data, settings, use_master_keys):
    """A rotation stopped after the data keys must not look finished: removing the old key
    then would lock every two-factor user out."""
    (old,) = settings.CUSTOS_MASTER_KEYS
    new = crypto.generate_master_key()
    use_master_keys(new, old)
    for org in Organization.objects.all():
        crypto.rewrap_data_keys(org.pk)

    assert _keys("status") == _line(new, 2, 0, "current") + _line(old, 0, 3, "configured")
