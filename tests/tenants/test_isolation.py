"""A tenant member must never see or change anything of another tenant: not through
pages, partials, websocket groups, jobs, exports, or guessed names and ids."""

import pytest
from django.urls import reverse

from console.jobs import jobs
from console.jobs.models import Job
from console.live import realtime
from tenants.models import NetworkPath

from ..factories import create_two_tenants, mk_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    cluster, acme, globex, project, users = create_two_tenants()
    job = Job.objects.create(
        kind="namespace.create", tenant_id=acme.pk, tenant_name="acme", cluster=cluster.name, namespace=project.name
    )
    path = NetworkPath.objects.create(project=project, kind="cidr", cidr="10.0.0.0/8")
    auditor = mk_user("aud-iso", "auditor", password=None)
    return {
        "cluster": cluster,
        "acme": acme,
        "globex": globex,
        "project": project,
        "job": job,
        "path": path,
        "auditor": auditor,
        **users,
    }


def test_foreign_tenant_pages_answer_404_like_missing_ones(client, world):
    client.force_login(world["other_member"])
    for url in (
        reverse("tenants:tenant", args=["acme"]),
        reverse("tenants:project", args=["acme", "acme-web"]),
        reverse("tenants:project", args=["globex", "acme-web"]),  # own tenant, foreign namespace
        reverse("console:job", args=[world["job"].pk]),
    ):
        foreign = client.get(url)
        missing = client.get(url.replace("acme", "nosuch"))
        assert foreign.status_code == missing.status_code == 404, url
        assert b"Acme" not in foreign.content  # the display name: nothing of the tenant shows


def test_listing_and_switching_show_only_own_tenants(client, world):
    client.force_login(world["other_member"])
    page = client.get(reverse("tenants:tenant_list"))
    assert b"globex" in page.content and b"acme" not in page.content.lower().replace(b"acme-", b"")
    assert client.post(reverse("tenants:tenant_switch"), {"tenant": "acme"}).status_code == 404
    assert client.post(reverse("tenants:tenant_switch"), {"tenant": "globex"}).status_code == 302
    header = client.get(reverse("console:dashboard")).content
    assert b'<option value="globex"' in header and b'<option value="acme"' not in header


def test_foreign_objects_cannot_be_changed_by_guessing_ids(client, world):
    client.force_login(world["other_member"])
    acme_member = world["acme"].memberships.first()
    # Ids of acme's objects under globex's own URLs: not found there.
    assert client.post(reverse("tenants:member_remove", args=["globex", acme_member.pk])).status_code == 400
    assert (
        client.post(reverse("tenants:path_remove", args=["globex", "globex-shop", world["path"].pk])).status_code == 400
    )
    assert world["acme"].memberships.filter(pk=acme_member.pk).exists()
    assert NetworkPath.objects.filter(pk=world["path"].pk).exists()


def test_htmx_partial_requests_are_checked_the_same(client, world):
    client.force_login(world["other_member"])
    response = client.get(reverse("tenants:project", args=["acme", "acme-web"]), HTTP_HX_REQUEST="true")
    assert response.status_code == 404


def test_operation_log_and_resources_stay_closed_to_tenant_users(client, world):
    client.force_login(world["tenant_admin"])
    assert client.get(reverse("console:oplog_export")).status_code == 403
    assert client.get(reverse("console:oplog") + "?tenant=globex").status_code == 403
    assert (
        client.get(reverse("console:resource_list", args=["c1", "Pod"]) + "?namespace=globex-shop").status_code == 403
    )


def test_websocket_groups_of_other_tenants_are_refused(world):
    acme, globex, job = world["acme"], world["globex"], world["job"]
    own_job = Job.objects.create(kind="namespace.create", tenant_id=globex.pk, tenant_name="globex")
    other = world["other_member"]
    assert not realtime.may_subscribe(other, f"tenant-{acme.pk}")
    assert not realtime.may_subscribe(other, jobs.group(job))
    assert not realtime.may_subscribe(other, f"kind-{world['cluster'].pk}.Pod")
    assert not realtime.may_subscribe(other, f"nskind-{world['cluster'].pk}.acme-web.Pod")
    assert not realtime.may_subscribe(other, f"user-{world['tenant_admin'].pk}")
    assert realtime.may_subscribe(other, f"tenant-{globex.pk}")
    assert realtime.may_subscribe(other, jobs.group(own_job))
    assert realtime.may_subscribe(world["tenant_member"], jobs.group(job))
    assert realtime.may_subscribe(world["tenant_member"], f"project-{world['project'].pk}")
    assert not realtime.may_subscribe(other, f"project-{world['project'].pk}")
    # The mirror: a tenant's members follow its namespaces, never a whole kind across the cluster.
    cluster_id = world["cluster"].pk
    assert realtime.may_subscribe(world["tenant_member"], f"nskind-{cluster_id}.acme-web.Pod")
    assert not realtime.may_subscribe(world["tenant_member"], f"nskind-{cluster_id}.globex-shop.Pod")
    assert not realtime.may_subscribe(world["tenant_member"], f"kind-{cluster_id}.Pod")
    assert realtime.may_subscribe(world["auditor"], f"kind-{cluster_id}.Pod")
