"""Tenant pages: usage bars from the mirror, and queries that do not grow with namespaces."""

import pytest
from django.urls import reverse

from console.clusters import mirror

from ..factories import create_two_tenants, mk_project

pytestmark = pytest.mark.django_db


def quota(namespace, used):
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "caas-quota", "namespace": namespace, "uid": f"u-{namespace}", "resourceVersion": "1"},
        "spec": {"hard": {"pods": "10"}},
        "status": {"hard": {"pods": "10"}, "used": used},
    }


def test_usage_bars_come_from_the_mirrored_quotas(client):
    cluster, acme, _globex, project, users = create_two_tenants()
    acme.limits = {"pods": "20", "memory": "8Gi"}
    acme.save()
    project.quota = {"pods": "10", "memory": "4Gi"}
    project.save()
    mirror.replace_kind(
        cluster.pk,
        "ResourceQuota",
        [
            quota("acme-web", {"pods": "5", "requests.memory": "1Gi", "limits.memory": "2Gi"}),
            quota("globex-shop", {"pods": "9"}),
        ],
        "10",
    )
    client.force_login(users["tenant_member"])
    page = client.get(reverse("tenants:project", args=["acme", "acme-web"])).content.decode()
    assert 'aria-valuenow="50"' in page  # pods 5 of 10; memory 2Gi (the larger of request and limit) of 4Gi
    tenant_page = client.get(reverse("tenants:tenant", args=["acme"])).content.decode()
    assert 'aria-valuenow="25"' in tenant_page  # pods 5 of the tenant's 20: globex's 9 pods do not count


def test_tenant_page_queries_do_not_grow_with_namespaces(client, django_assert_max_num_queries):
    cluster, acme, _globex, _project, users = create_two_tenants()
    for i in range(30):
        mk_project(acme, cluster, f"n{i}")
    client.force_login(users["tenant_admin"])
    with django_assert_max_num_queries(20):
        assert client.get(reverse("tenants:tenant", args=["acme"])).status_code == 200


def test_refusals_are_read_in_the_users_language():
    from django.test import Client

    from ..factories import mk_user

    user = mk_user("lonely", password=None)
    for language, text in (("zh-hans", "只有运维人员可以管理租户。"), ("en", "Only operators manage tenants.")):
        client = Client(HTTP_ACCEPT_LANGUAGE=language)
        client.force_login(user)
        response = client.get(reverse("tenants:tenant_add"))
        assert response.status_code == 403 and text in response.content.decode()
