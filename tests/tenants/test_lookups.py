"""access.get_in_namespace: the one lookup of a named object in a namespace (apps, pipelines,
stacks, volumes). What the user may not see answers 404 exactly like what does not exist."""

import pytest
from django.http import Http404
from django.urls import reverse

from tenants import access
from workloads.models import App

from ..factories import create_two_tenants, mk_app, mk_project, mk_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    cluster, acme, globex, project, users = create_two_tenants()
    shop = mk_project(globex, cluster, "store")
    return {"project": project, "shop": shop, "web": mk_app(project), "theirs": mk_app(shop, "only"), **users}


def missing(user, tenant, namespace, queryset, name):
    with pytest.raises(Http404) as caught:
        access.get_in_namespace(user, tenant, namespace, queryset, name)
    return str(caught.value)


def test_finds_by_model_or_queryset_with_the_project_already_joined(world, django_assert_num_queries):
    member = world["tenant_member"]
    by_model = access.get_in_namespace(member, "acme", "acme-web", App, "web")
    by_queryset = access.get_in_namespace(member, "acme", "acme-web", App.objects.select_related("created_by"), "web")
    assert by_model == by_queryset == world["web"]
    with django_assert_num_queries(0):  # tenant, cluster and the selected relation come with the lookup
        assert (by_queryset.project.tenant.name, by_queryset.project.cluster.name) == ("acme", "c1")
        assert by_queryset.created_by is None


def test_missing_and_foreign_objects_answer_404_with_a_message(world):
    member, operator = world["tenant_member"], mk_user("op-look", "operator", password=None)
    assert missing(member, "acme", "acme-web", App, "nope") == "no such app"
    # another tenant's app, asked for under the user's own namespace or through the other tenant
    assert missing(member, "acme", "acme-web", App, "only") == "no such app"
    assert missing(member, "globex", "globex-store", App, "only") == "no such tenant"
    assert missing(member, "acme", "globex-store", App, "only") == "no such namespace"
    # operators see every tenant, but still only what is in the namespace they name
    assert access.get_in_namespace(operator, "globex", "globex-store", App, "only") == world["theirs"]
    assert missing(operator, "globex", "globex-store", App, "web") == "no such app"


def test_the_pages_answer_a_missing_object_with_the_not_found_message(client, world):
    client.force_login(world["tenant_member"])
    for name, args in (
        ("workloads:app", ["acme", "acme-web", "only"]),
        ("pipelines:pipeline", ["acme", "acme-web", "nope"]),
        ("stacks:stack", ["acme", "acme-web", "nope"]),
        ("storage:volume", ["acme", "acme-web", "nope"]),
        ("workloads:app", ["globex", "globex-store", "only"]),
    ):
        page = client.get(reverse(name, args=args))
        assert page.status_code == 404, name
        assert b'data-testid="error-message"' in page.content and b"nothing at this address" in page.content, name
