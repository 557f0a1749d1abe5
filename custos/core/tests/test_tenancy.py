import pytest

from custos.core.tenancy import TenantContextMissing, current_org_id, tenant_scope
from custos.crm.models import Company


def test_a_tenant_query_without_an_organisation_fails_loudly(cast):
    with pytest.raises(TenantContextMissing):
        list(Company.objects.all())


def test_a_tenant_query_sees_only_its_own_organisation(cast):
    with tenant_scope(cast.org_a):
        Company.objects.create(name="Only in A")
    with tenant_scope(cast.org_b):
        Company.objects.create(name="Only in B")
        assert list(Company.objects.values_list("name", flat=True)) == ["Only in B"]
    with tenant_scope(cast.org_a):
        assert list(Company.objects.values_list("name", flat=True)) == ["Only in A"]


def test_a_row_of_another_organisation_cannot_be_saved_in_this_one(cast):
    with tenant_scope(cast.org_a):
        company = Company.objects.create(name="A's")
    with tenant_scope(cast.org_b), pytest.raises(TenantContextMissing):
        company.name = "stolen"
        company.save()
    with tenant_scope(cast.org_b), pytest.raises(TenantContextMissing):
        Company.objects.bulk_create([Company(name="x", org_id=cast.org_a.pk)])


def test_bulk_create_fills_in_the_organisation_in_context(cast):
    with tenant_scope(cast.org_a):
        Company.objects.bulk_create([Company(name="one"), Company(name="two")])
        assert Company.objects.filter(org_id=cast.org_a.pk).count() == 2


def test_scopes_nest_and_restore(cast):
    assert current_org_id() is None
    with tenant_scope(cast.org_a):
        with tenant_scope(cast.org_b):
            assert current_org_id() == cast.org_b.pk
        assert current_org_id() == cast.org_a.pk
    assert current_org_id() is None


def test_unscoped_is_the_named_way_across_tenants(cast):
    with tenant_scope(cast.org_a):
        Company.objects.create(name="a")
    with tenant_scope(cast.org_b):
        Company.objects.create(name="b")
    names = set(Company.objects.unscoped().values_list("name", flat=True))
    # On PostgreSQL, row-level security still walls an unscoped read outside any
    # tenant unless the login role is a superuser (see test_rls).
    assert names <= {"a", "b"}
