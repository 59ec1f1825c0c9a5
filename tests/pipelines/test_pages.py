"""Pipeline pages: making one (the webhook secret shown once, credentials never), other
tenants see nothing (404, as a typo; the run's live group refuses them), YAML export and
import through the hardened loader, the schedule."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from console.oplog.models import OperationLogEntry
from tests.factories import create_two_tenants, mk_app
from workloads.pipelines import live, services
from workloads.pipelines.models import Pipeline, Run

from .conftest import pipeline_values

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenants():
    cluster, acme, globex, project, users = create_two_tenants()
    mk_app(project, "web")
    return project, users


def form_data(**changes):
    values = {k: v for k, v in pipeline_values(**changes).items() if v is not None}
    return {"name": "web-ci", **values}


def test_create_shows_the_secret_once_and_never_the_credentials(client, tenants):
    project, users = tenants
    client.force_login(users["tenant_member"])
    url = reverse("pipelines:pipeline_add", args=["acme", "acme-web"])
    assert client.get(url).status_code == 200
    response = client.post(url, form_data())
    pipeline = Pipeline.objects.get(name="web-ci")
    page = reverse("pipelines:pipeline", args=["acme", "acme-web", "web-ci"])
    assert response.status_code == 302 and response["Location"] == page
    first = client.get(page).content.decode()
    assert pipeline.webhook_secret in first and 'data-testid="webhook-secret"' in first
    again = client.get(page).content.decode()
    assert pipeline.webhook_secret not in again and "s3cret-registry-pass" not in again
    assert f"/pipelines/hooks/{pipeline.pk}/github/" in again
    edit = client.get(reverse("pipelines:pipeline_edit", args=["acme", "acme-web", "web-ci"])).content.decode()
    assert "s3cret-registry-pass" not in edit
    entry = OperationLogEntry.objects.get(action="pipeline.create")
    assert "s3cret" not in str(entry.payload) and "s3cret" not in str(entry.after)


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"repository_url": "file:///etc/passwd"}, "repository_url"),
        ({"branch": "main branch"}, "branch"),
        ({"dockerfile": "../../Dockerfile"}, "dockerfile"),
        ({"image_repository": "registry.example.com/acme/web:1.0"}, "image_repository"),
        ({"sonar_url": "ftp://sonar"}, "sonar_url"),
        ({"app": "nope"}, "app"),
        ({"name": "new"}, "name"),
    ],
)
def test_bad_settings_are_refused_with_a_message(client, tenants, changes, field):
    project, users = tenants
    client.force_login(users["tenant_member"])
    response = client.post(reverse("pipelines:pipeline_add", args=["acme", "acme-web"]), form_data(**changes))
    assert response.status_code == 400
    assert response.context["form"].errors, field
    assert not Pipeline.objects.exists()


def test_other_tenants_see_nothing(client, tenants):
    project, users = tenants
    pipeline, _ = services.create_pipeline(
        project, acting_user=users["tenant_member"], name="web-ci", **pipeline_values()
    )
    run = services.run_pipeline(pipeline, acting_user=users["tenant_member"])
    client.force_login(users["other_member"])
    assert b"web-ci" not in client.get(reverse("pipelines:pipeline_list")).content
    for name, args in (
        ("pipelines:pipeline", []),
        ("pipelines:pipeline_export", []),
        ("pipelines:run", [run.number]),
    ):
        assert client.get(reverse(name, args=["acme", "acme-web", "web-ci", *args])).status_code == 404
    assert client.post(reverse("pipelines:run_cancel", args=["acme", "acme-web", "web-ci", 1])).status_code == 404
    assert not live.may_follow_run(users["other_member"], str(run.pk))
    assert live.may_follow_run(users["tenant_member"], str(run.pk))
    client.force_login(users["tenant_member"])
    page = client.get(reverse("pipelines:run", args=["acme", "acme-web", "web-ci", 1]))
    assert page.status_code == 200 and b'data-stage="build"' in page.content
    assert f"pipelinerun-{run.pk}".encode() in page.content  # the page follows its run live


def test_yaml_export_and_import(client, tenants):
    project, users = tenants
    pipeline, _ = services.create_pipeline(
        project, acting_user=users["tenant_member"], name="web-ci", **pipeline_values(strategy="canary")
    )
    client.force_login(users["tenant_member"])
    text = client.get(reverse("pipelines:pipeline_export", args=["acme", "acme-web", "web-ci"])).content.decode()
    assert "kind: Pipeline" in text and "strategy: canary" in text
    assert "s3cret" not in text and pipeline.webhook_secret not in text
    url = reverse("pipelines:pipeline_import", args=["acme", "acme-web"])
    response = client.post(url, {"text": text.replace("name: web-ci", "name: web-ci2")})
    assert response.status_code == 302
    copy = Pipeline.objects.get(name="web-ci2")
    assert copy.strategy == "canary" and copy.app.name == "web" and copy.registry_password == ""
    for bad, said in (
        ("a: &a [*a, *a, *a]\n" * 2, ""),
        ("kind: Deployment\n", "kind must be Pipeline"),
        ("kind: Pipeline\nmetadata: {name: x}\nspec: {shell: rm -rf /}\n", "Unknown settings: shell"),
        (text.replace("branch: main", "branch: '../x'").replace("name: web-ci", "name: web-ci3"), "branch"),
    ):
        response = client.post(url, {"text": bad})
        assert response.status_code == 400, bad
        assert said in " ".join(response.context["form"].errors["text"])
    assert Pipeline.objects.count() == 2


def test_schedule_runs_when_due(tenants):
    project, users = tenants
    pipeline, _ = services.create_pipeline(
        project, acting_user=users["tenant_member"], name="web-ci", **pipeline_values(schedule_minutes=60)
    )
    assert services.run_schedules(now=timezone.now()) == []
    later = timezone.now() + datetime.timedelta(minutes=61)
    (run,) = services.run_schedules(now=later)
    assert run.trigger == "schedule" and run.requested_by == users["tenant_member"] and run.job is not None
    assert services.run_schedules(now=later + datetime.timedelta(minutes=1)) == []
    assert Run.objects.count() == 1


def test_deploy_as_is_chosen_on_the_form_by_a_tenant_admin(client, tenants):
    project, users = tenants
    pipeline, _ = services.create_pipeline(
        project, acting_user=users["tenant_member"], name="web-ci", **pipeline_values()
    )
    edit = reverse("pipelines:pipeline_edit", args=["acme", "acme-web", "web-ci"])
    data = {k: v for k, v in form_data().items() if k != "name"}
    client.force_login(users["tenant_member"])
    assert client.post(edit, {**data, "run_as": "acme-admin"}).status_code == 403  # a member may not
    assert client.post(edit, {**data, "run_as": "globex-dev"}).status_code == 400  # not a choice
    client.force_login(users["tenant_admin"])
    assert client.post(edit, {**data, "run_as": "acme-admin"}).status_code == 302
    pipeline.refresh_from_db()
    assert pipeline.deploys_as == users["tenant_admin"]
    page = client.get(reverse("pipelines:pipeline", args=["acme", "acme-web", "web-ci"])).content.decode()
    assert 'data-testid="deploys-as">acme-admin' in page
    assert "Enable image builds" not in page  # an operator's button


def test_an_operator_enables_image_builds_for_the_tenant(client, tenants, operator):
    from workloads.pipelines.models import BuildSpace

    project, users = tenants
    services.create_pipeline(project, acting_user=users["tenant_member"], name="web-ci", **pipeline_values())
    url = reverse("pipelines:pipeline_builds", args=["acme", "acme-web", "web-ci"])
    client.force_login(users["tenant_admin"])
    assert client.post(url, {"enabled": "on"}).status_code == 403 and not BuildSpace.objects.exists()
    client.force_login(operator)
    page = reverse("pipelines:pipeline", args=["acme", "acme-web", "web-ci"])
    assert 'data-testid="enable-builds"' in client.get(page).content.decode()
    assert client.post(url, {"enabled": "on"}).status_code == 302
    space = BuildSpace.objects.get()
    assert space.namespace == "caas-build-acme" and space.enabled_by == operator
    shown = client.get(page).content.decode()
    assert "caas-build-acme" in shown and "A job then deletes <code>caas-build-acme</code>" in shown
    assert client.post(url, {}).status_code == 302 and not BuildSpace.objects.exists()
    entries = OperationLogEntry.objects.filter(action__startswith="pipeline.builds_").order_by("id")
    assert [(e.action, e.result) for e in entries] == [
        ("pipeline.builds_enable", "denied"),
        ("pipeline.builds_enable", "succeeded"),
        ("pipeline.builds_disable", "accepted"),  # the namespace goes in a job (test_build_space.py)
    ]
