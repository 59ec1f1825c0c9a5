"""The generic service-action view (console.views.generic) as the pages use it: an htmx POST
that works gets a client redirect (HX-Redirect) instead of a 302, a full-page POST still a
302; bad input and refusals get the page again with a message and a 4xx, htmx or not; an
empty POST is a bound form, so it gets its messages too."""

import pytest
from django.urls import reverse

from console.oplog.models import OperationLogEntry

from ..factories import create_two_tenants, mk_app, mk_user

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def world():
    _cluster, acme, _globex, project, users = create_two_tenants()
    mk_app(project)
    return acme, project, {**users, "operator": mk_user("op-user", "operator", password=None)}


def test_htmx_post_gets_a_client_redirect_and_a_full_page_post_a_302(client, world):
    _acme, project, users = world
    client.force_login(users["tenant_admin"])
    page = reverse("tenants:project", args=["acme", project.name])
    path = {"kind": "cidr", "cidr": "10.0.0.0/8"}
    response = client.post(reverse("tenants:path_add", args=["acme", project.name]), path, **HTMX)
    assert response.status_code == 200 and response["HX-Redirect"] == page and not response.has_header("Location")
    assert OperationLogEntry.objects.filter(action="network.path_add", result="accepted").exists()
    member = {"username": "newbie", "role": "tenant-member"}
    response = client.post(reverse("tenants:member_add", args=["acme"]), member)
    page = reverse("tenants:tenant", args=["acme"])
    assert response.status_code == 302 and response["Location"] == page and not response.has_header("HX-Redirect")


def test_the_message_waits_for_the_page_the_client_redirect_opens(client, world):
    _acme, _project, users = world
    client.force_login(users["operator"])
    response = client.post(reverse("tenants:tenant_suspend", args=["acme"]), **HTMX)
    assert response["HX-Redirect"] == reverse("tenants:tenant", args=["acme"])
    assert "Suspending acme" in client.get(response["HX-Redirect"]).content.decode()


def test_an_empty_post_is_bound_and_answered_with_its_errors(client, world):
    _acme, project, users = world
    client.force_login(users["tenant_admin"])
    for headers in ({}, HTMX):
        response = client.post(reverse("tenants:path_add", args=["acme", project.name]), {}, **headers)
        assert response.status_code == 400 and not response.has_header("HX-Redirect")
        assert 'class="invalid-feedback d-block">This field is required.' in response.content.decode()
        response = client.post(reverse("workloads:app_scale", args=["acme", project.name, "web"]), {}, **headers)
        assert response.status_code == 400 and "Replicas must be a number from 0 to 100." in response.content.decode()


def test_a_refusal_is_the_page_again_with_the_services_message(client, world):
    _acme, _project, users = world
    client.force_login(users["operator"])
    response = client.post(reverse("tenants:tenant_resume", args=["acme"]), **HTMX)  # acme is not suspended
    assert response.status_code == 400 and not response.has_header("HX-Redirect")
    assert 'class="alert alert-danger"' in response.content.decode()
    assert 'data-testid="tenant-status"' in response.content.decode()  # the tenant's page


def test_the_service_judges_a_confirmation(client, world):
    _acme, project, users = world
    client.force_login(users["tenant_admin"])
    url = reverse("tenants:project_delete", args=["acme", project.name])
    for body in ({}, {"confirm_name": "acme-WEB"}):
        response = client.post(url, body)
        assert response.status_code == 400 and "Type the namespace&#x27;s name to confirm." in response.content.decode()


def test_a_revision_that_is_not_a_number_is_refused_by_the_form(client, world):
    _acme, project, users = world
    client.force_login(users["tenant_member"])
    url = reverse("workloads:app_rollback", args=["acme", project.name, "web"])
    for revision in ("", "²", "-1", "two"):
        response = client.post(url, {"revision": revision})
        assert response.status_code == 400 and "Choose a revision to roll back to." in response.content.decode()


def test_the_method_is_checked_before_sign_in(client, world):
    _acme, project, _users = world
    assert client.get(reverse("workloads:app_scale", args=["acme", project.name, "web"])).status_code == 405
    assert client.get(reverse("tenants:tenant_add")).status_code == 302  # a form page: to sign-in
