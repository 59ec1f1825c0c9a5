"""The Templates pages with real templates and stacks: a tenant's private template is a 404
for other tenants (as a typo), published ones are everyone's; the editor answers bad input
with line-numbered errors and a 400; the instantiate page previews (dry run, quota, cost)
before anything is created, then creates by a job."""

import pytest
from django.test import Client
from django.urls import reverse

from console.jobs.models import Job
from console.kube.api import ClusterAPI
from workloads.stacks import services
from workloads.stacks.models import Stack, Template

from ..factories import mk_member, mk_tenant
from .conftest import recommended, run

pytestmark = pytest.mark.django_db

MANIFESTS = """apiVersion: v1
kind: ConfigMap
metadata: {name: "${name}"}
data: {greeting: "${greeting}"}
"""
PARAMETERS = "- {name: name, type: string, default: hello}\n- {name: greeting, type: string, default: hi}\n"


def signed_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def private(acme, dev):
    return services.create_template(
        acting_user=dev, tenant=acme, name="greeter", manifests=MANIFESTS, parameters=PARAMETERS
    )


def test_a_private_template_is_invisible_to_other_tenants(client, private, acme):
    globex = mk_tenant("globex", clusters=list(acme.clusters.all()))
    other = signed_in(client, mk_member(globex, "globex-admin", "tenant-admin"))
    for url in (
        reverse("stacks:template", args=[private.pk]),
        reverse("stacks:version", args=[private.pk, 1]),
        reverse("stacks:instantiate", args=[private.pk]),
    ):
        assert other.get(url).status_code == 404
    assert (
        other.post(reverse("stacks:template_copy", args=[private.pk]), {"name": "mine", "owner": "globex"}).status_code
        == 404
    )
    page = other.get(reverse("stacks:template_list")).content.decode()
    assert "greeter" not in page and "web-app" in page  # published templates are everyone's
    assert not Template.objects.filter(name="mine").exists()


def test_the_editor_answers_with_line_numbers(client, acme, dev):
    page = signed_in(client, dev)
    bad = MANIFESTS + "  extra: ${nope}\n"
    response = page.post(
        reverse("stacks:template_add"), {"name": "t1", "owner": "acme", "manifests": bad, "parameters": PARAMETERS}
    )
    assert response.status_code == 400
    assert "Line 5: ${nope} is not a declared parameter." in response.content.decode()
    response = page.post(
        reverse("stacks:template_add"),
        {"name": "t1", "owner": "acme", "manifests": MANIFESTS, "parameters": "- {name: x, type: float}"},
    )
    assert response.status_code == 400 and "the type must be one of" in response.content.decode()
    response = page.post(
        reverse("stacks:template_add"),
        {"name": "t1", "owner": "acme", "manifests": MANIFESTS, "parameters": PARAMETERS},
    )
    template = Template.objects.get(name="t1")
    assert response.status_code == 302 and template.tenant == acme
    # a new version, and the diff between the two
    response = page.post(
        reverse("stacks:version_add", args=[template.pk]),
        {
            "manifests": MANIFESTS.replace("greeting", "welcome"),
            "parameters": PARAMETERS.replace("greeting", "welcome"),
        },
    )
    assert response.status_code == 302
    diff = page.get(reverse("stacks:version", args=[template.pk, 2])).content.decode()
    assert "-data: {greeting: &quot;${greeting}&quot;}" in diff
    assert "+data: {welcome: &quot;${welcome}&quot;}" in diff


def test_only_operators_publish_and_recommended_templates_are_copied_not_changed(client, acme, dev, operator):
    page = signed_in(client, dev)
    response = page.post(
        reverse("stacks:template_add"), {"name": "pub", "owner": "", "manifests": MANIFESTS, "parameters": PARAMETERS}
    )
    assert response.status_code == 400  # "published" is not among a member's choices
    shipped = recommended("redis").template
    assert page.get(reverse("stacks:version_add", args=[shipped.pk])).status_code == 403
    response = page.post(reverse("stacks:template_copy", args=[shipped.pk]), {"name": "my-redis", "owner": "acme"})
    copy = Template.objects.get(name="my-redis")
    assert response.status_code == 302 and copy.tenant == acme and copy.latest().manifests == shipped.latest().manifests


def test_instantiate_previews_then_creates(client, cluster, project, dev):
    page = signed_in(client, dev)
    version = recommended("web-app")
    url = reverse("stacks:instantiate", args=[version.template.pk])
    form = {"project": project.pk, "stack_name": "shop", "p-host": "shop.example.com", "p-replicas": "1"}
    response = page.post(url, form)
    text = response.content.decode()
    assert response.status_code == 200
    assert 'data-object="Deployment/web" data-action="create"' in text
    assert "Monthly cost on sandbox" in text and "no price table for this cluster" in text
    assert not Stack.objects.exists()
    response = page.post(url, {**form, "p-replicas": "99"})
    assert response.status_code == 400 and "replicas: at most 20" in response.content.decode()
    response = page.post(url, {**form, "confirm": "yes"})
    stack = Stack.objects.get(name="shop")
    assert response.status_code == 302 and response.url == reverse("stacks:stack", args=["acme", project.name, "shop"])
    assert run(Job.objects.get(payload__stack=stack.pk)).status == "succeeded"
    with ClusterAPI(cluster) as api:
        assert api.get("Ingress", "web", project.name)["spec"]["rules"][0]["host"] == "shop.example.com"
    assert "Deployment/web" in page.get(response.url).content.decode()
    # another tenant's user: the stack does not exist for them, over every URL
    globex = mk_tenant("globex", clusters=[cluster])
    other = Client(HTTP_ACCEPT_LANGUAGE="en")
    other_user = mk_member(globex, "globex-admin", "tenant-admin")
    other.force_login(other_user)
    args = ["acme", project.name, "shop"]
    assert other.get(reverse("stacks:stack", args=args)).status_code == 404
    assert other.get(reverse("stacks:stack_upgrade", args=args)).status_code == 404
    assert other.post(reverse("stacks:stack_delete", args=args), {"confirm_name": "shop"}).status_code == 404
    assert Stack.objects.get(name="shop").status == "ready"
    from workloads.stacks import live

    stack = Stack.objects.get(name="shop")  # nor over the websocket
    assert live.may_follow(dev, str(stack.pk)) and not live.may_follow(other_user, str(stack.pk))
    assert not live.may_follow(dev, "x") and not live.may_follow(dev, "99999")
