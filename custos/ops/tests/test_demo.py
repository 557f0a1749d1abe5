"""`custos demo`: a realistic organisation to try Custos with, printed login included."""

from io import StringIO

from django.core.management import call_command

from custos.accounts.models import Membership, User
from custos.audit.services import audit_verify
from custos.core.models import Organization
from custos.core.tenancy import tenant_scope
from custos.crm.models import Company, Contact


def _demo(*args):
    out = StringIO()
    call_command("demo", *args, stdout=out)
    return out.getvalue()


def test_the_demo_creates_an_organisation_with_staff_and_contacts_and_prints_the_login(db):
    output = _demo("--contacts", "40")
    org = Organization.objects.get()
    owner = User.objects.get(email="owner@lindenhof.example")
    password = next(line.split(": ", 1)[1] for line in output.splitlines() if line.startswith("password: "))
    assert owner.check_password(password)
    assert Membership.objects.filter(org=org).count() == 6
    with tenant_scope(org):
        assert Contact.objects.count() == 40
        assert Company.objects.count() >= 5
        assert all(phone.startswith("+49") for phone in Contact.objects.values_list("phone", flat=True))
        assert any(Contact.objects.values_list("health_notes", flat=True))
    assert audit_verify(org.pk) is None


def test_running_it_again_keeps_the_data_and_prints_no_password(db):
    _demo("--contacts", "5")
    again = _demo("--if-empty")
    assert "password:" not in again
    assert Organization.objects.count() == 1


def test_the_demo_has_a_sales_pipeline_to_look_at(db):
    from custos.crm.models import Activity, Deal, Lead

    _demo("--contacts", "30")
    org = Organization.objects.get()
    with tenant_scope(org):
        assert Lead.objects.count() == 25
        assert Deal.objects.values("stage").distinct().count() >= 3
        assert Activity.objects.filter(kind="task", done_at__isnull=True).exists()
