"""Webhooks of GitLab (token), GitHub and Gitea (HMAC-SHA256 signatures) with the providers'
documented headers and payloads: a push starts a run for the branch, a replayed delivery is
ignored, unsigned, wrongly signed or unknown requests are refused with a 4xx and logged.
Then a real git repository whose post-receive hook posts to the running console."""

import json
import uuid

import pytest
from django.urls import reverse

from console.oplog.models import OperationLogEntry
from tests.factories import create_two_tenants, mk_app
from workloads.pipelines import services, webhooks
from workloads.pipelines.models import Delivery, Run

from .conftest import pipeline_values
from .gitrepo import head, make_repo, push

SHA = "9fceb02d0ae598e95dc970b74767f19372d61af8"


@pytest.fixture
def acme_pipeline(db):
    cluster, acme, globex, project, users = create_two_tenants()
    mk_app(project, "web")
    pipeline, secret = services.create_pipeline(
        project, acting_user=users["tenant_member"], name="web-ci", **pipeline_values()
    )
    return pipeline, secret, users


def github_push(ref="refs/heads/main", sha=SHA):
    commit = {"id": sha, "message": "Fix the cart", "author": {"name": "Ada Dev", "email": "ada@acme.example"}}
    return {
        "ref": ref,
        "before": "0" * 39 + "1",
        "after": sha,
        "commits": [commit],
        "head_commit": commit,
        "pusher": {"name": "acme-dev", "email": "ada@acme.example"},
        "sender": {"login": "acme-dev"},
    }


def post(client, pipeline_id, provider, body, **headers):
    data = json.dumps(body).encode() if not isinstance(body, bytes) else body
    url = reverse("pipelines:webhook", args=[pipeline_id, provider])
    return client.post(url, data=data, content_type="application/json", headers=headers)


def github_headers(secret, data, delivery=None, event="push"):
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": "sha256=" + webhooks.sign(secret, data),
    }


def test_github_push_starts_a_run_and_a_replay_is_ignored(client, acme_pipeline):
    pipeline, secret, users = acme_pipeline
    data = json.dumps(github_push()).encode()
    headers = github_headers(secret, data, delivery="72d3162e-cc78-11e3-81ab-4c9367dc0958")
    response = post(client, pipeline.pk, "github", data, **headers)
    assert response.status_code == 202, response.content
    run = Run.objects.get(pipeline=pipeline)
    assert (run.trigger, run.commit_sha, run.commit_message, run.pusher) == ("push", SHA, "Fix the cart", "acme-dev")
    assert run.commit_author == "Ada Dev <ada@acme.example>" and run.requested_by == users["tenant_member"]
    assert run.job is not None and response.json()["run"] == 1
    again = post(client, pipeline.pk, "github", data, **headers)
    assert again.status_code == 200 and again.json()["message"] == "replayed delivery ignored"
    assert Run.objects.filter(pipeline=pipeline).count() == 1
    entry = OperationLogEntry.objects.get(action="pipeline.push")
    assert entry.actor_name == "webhook (github)" and entry.after["acting_for"] == "acme-dev"


@pytest.mark.parametrize(
    "headers, status, reason",
    [
        ({}, 401, "no X-Hub-Signature-256"),
        ({"X-Hub-Signature-256": "sha256=" + "0" * 64}, 403, "wrong X-Hub-Signature-256"),
        ({"X-Hub-Signature-256": "sha1=abc"}, 403, "wrong X-Hub-Signature-256"),
    ],
)
def test_unsigned_or_wrongly_signed_github_requests_are_refused_and_logged(
    client, acme_pipeline, headers, status, reason
):
    pipeline, _, _ = acme_pipeline
    response = post(client, pipeline.pk, "github", github_push(), **{"X-GitHub-Event": "push", **headers})
    assert response.status_code == status and response.json()["error"] == reason
    assert not Run.objects.exists()
    entry = OperationLogEntry.objects.get(action="pipeline.webhook")
    assert entry.result == "denied" and entry.error == reason and entry.target_name == "web-ci"


def test_unknown_pipeline_or_provider_is_a_404(client, acme_pipeline):
    pipeline, secret, _ = acme_pipeline
    data = json.dumps(github_push()).encode()
    assert post(client, pipeline.pk + 1000, "github", data, **github_headers(secret, data)).status_code == 404
    assert post(client, pipeline.pk, "bitbucket", data, **github_headers(secret, data)).status_code == 404
    assert client.get(reverse("pipelines:webhook", args=[pipeline.pk, "github"])).status_code == 405
    assert OperationLogEntry.objects.filter(action="pipeline.webhook", result="denied").count() == 2


def test_bad_bodies_and_other_branches(client, acme_pipeline):
    pipeline, secret, _ = acme_pipeline
    for body in (b"{not json", b"[1, 2]", json.dumps({"ref": 7}).encode(), b"[" * 200 + b"]" * 200):
        response = post(client, pipeline.pk, "github", body, **github_headers(secret, body))
        assert response.status_code == 400, body
    other = json.dumps(github_push(ref="refs/heads/feature")).encode()
    response = post(client, pipeline.pk, "github", other, **github_headers(secret, other))
    assert response.status_code == 202 and "ignored" in response.json()["message"]
    ping = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
    assert post(client, pipeline.pk, "github", ping, **github_headers(secret, ping, event="ping")).json() == {
        "message": "pong"
    }
    deleted = json.dumps(github_push(sha="0" * 40)).encode()
    assert post(client, pipeline.pk, "github", deleted, **github_headers(secret, deleted)).status_code == 202
    assert not Run.objects.exists()


def test_gitlab_token_and_gitea_signature(client, acme_pipeline):
    pipeline, secret, _ = acme_pipeline
    gitlab = {
        "object_kind": "push",
        "ref": "refs/heads/main",
        "before": "0" * 39 + "1",
        "after": SHA,
        "checkout_sha": SHA,
        "user_username": "someone-else",
        "user_email": "nobody@example.com",
        "commits": [{"id": SHA, "message": "Gitlab push\n", "author": {"name": "Jo", "email": "jo@example.com"}}],
    }
    gl_headers = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Event-UUID": str(uuid.uuid4())}
    assert post(client, pipeline.pk, "gitlab", gitlab, **gl_headers, **{"X-Gitlab-Token": "wrong"}).status_code == 403
    assert post(client, pipeline.pk, "gitlab", gitlab, **gl_headers).status_code == 401
    response = post(client, pipeline.pk, "gitlab", gitlab, **gl_headers, **{"X-Gitlab-Token": secret})
    assert response.status_code == 202
    run = Run.objects.get(provider="gitlab")
    # the pusher is no member: the run acts for the pipeline's owner
    assert run.pusher == "someone-else" and run.requested_by == pipeline.created_by
    gitea = json.dumps(github_push(sha="a" * 40)).encode()
    bad = {"X-Gitea-Event": "push", "X-Gitea-Delivery": "d1", "X-Gitea-Signature": webhooks.sign("other", gitea)}
    assert post(client, pipeline.pk, "gitea", gitea, **bad).status_code == 403
    good = {**bad, "X-Gitea-Signature": webhooks.sign(secret, gitea)}
    assert post(client, pipeline.pk, "gitea", gitea, **good).status_code == 202
    no_id = {k: v for k, v in good.items() if k != "X-Gitea-Delivery"}
    assert post(client, pipeline.pk, "gitea", gitea, **no_id).status_code == 400
    assert Delivery.objects.filter(pipeline=pipeline).count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_push_to_a_real_git_repository_fires_the_webhook(live_server, tmp_path):
    cluster, acme, globex, project, users = create_two_tenants()
    mk_app(project, "web")
    pipeline, secret = services.create_pipeline(
        project, acting_user=users["tenant_member"], name="web-ci", **pipeline_values()
    )
    url = live_server.url + reverse("pipelines:webhook", args=[pipeline.pk, "gitea"])
    work = make_repo(tmp_path, url=url, secret=secret, provider="gitea")
    output = push(work, "First version of the shop", {"index.html": "<h1>shop</h1>"})
    assert "webhook: 202" in output, output
    run = Run.objects.get(pipeline=pipeline)
    assert run.commit_sha == head(work) and run.commit_message == "First version of the shop\n"
    assert run.commit_author == "Ada Dev <ada@acme.example>" and run.requested_by == users["tenant_member"]
    output = push(work, "Work on a branch", branch="feature")
    assert "webhook: 202" in output and "ignored" in output
    assert Run.objects.filter(pipeline=pipeline).count() == 1


# --- whom a push deploys as -------------------------------------------------------------


def test_a_payload_naming_another_member_does_not_act_as_them(client, acme_pipeline):
    """Anyone who can push can write any name into a push: the run deploys as the pipeline's
    "deploy as" member (here its maker, acme-dev), and the claim is recorded as unverified."""
    pipeline, secret, users = acme_pipeline
    admin = users["tenant_admin"]
    body = github_push()
    body["pusher"] = {"name": admin.username, "email": admin.email or "admin@acme.example"}
    body["sender"] = {"login": admin.username}
    data = json.dumps(body).encode()
    assert post(client, pipeline.pk, "github", data, **github_headers(secret, data)).status_code == 202
    run = Run.objects.get(pipeline=pipeline)
    assert run.requested_by == users["tenant_member"] and run.requested_by != admin
    assert run.pusher == admin.username
    entry = OperationLogEntry.objects.get(action="pipeline.push")
    assert entry.payload["pusher_claimed"] == admin.username
    assert entry.after["acting_for"] == "acme-dev"
    assert entry.after["pushed_by"] == "acme-admin (as claimed by GitHub)"
    client.force_login(users["tenant_member"])
    page = client.get(reverse("pipelines:run", args=["acme", "acme-web", "web-ci", 1])).content.decode()
    assert "pushed by acme-admin (as claimed by GitHub)" in page and "deploys as acme-dev" in page


def test_only_a_tenant_admin_chooses_another_member_to_deploy_as(acme_pipeline):
    from django.core.exceptions import ValidationError

    pipeline, secret, users = acme_pipeline
    member, admin = users["tenant_member"], users["tenant_admin"]
    assert pipeline.deploys_as == member and pipeline.run_as is None
    with pytest.raises(PermissionError):  # a member may not make pushes deploy as the admin
        services.update_pipeline(pipeline, acting_user=member, run_as=admin.username, **pipeline_values())
    with pytest.raises(ValidationError):  # nor as somebody of another tenant
        services.update_pipeline(pipeline, acting_user=admin, run_as="globex-dev", **pipeline_values())
    pipeline.refresh_from_db()
    assert pipeline.run_as is None
    services.update_pipeline(pipeline, acting_user=admin, run_as=admin.username, **pipeline_values())
    pipeline.refresh_from_db()
    assert pipeline.deploys_as == admin
    entry = OperationLogEntry.objects.filter(action="pipeline.update", result="succeeded").latest("id")
    assert entry.before["deploys_as"] == "acme-dev" and entry.after["deploys_as"] == "acme-admin"
    # now that it deploys as the admin, a member may not repoint it (at their own repository, say)
    with pytest.raises(PermissionError):
        services.update_pipeline(
            pipeline, acting_user=member, **pipeline_values(repository_url="https://evil.example.com/x.git")
        )
    pipeline.refresh_from_db()
    assert pipeline.repository_url == "https://git.example.com/acme/web.git"
    denied = OperationLogEntry.objects.filter(action="pipeline.update", result="denied")
    assert denied.count() == 2


def test_the_deploy_as_member_is_checked_again_when_the_run_starts(client, acme_pipeline):
    from tenants.models import Membership

    from .conftest import run_job

    pipeline, secret, users = acme_pipeline
    data = json.dumps(github_push()).encode()
    assert post(client, pipeline.pk, "github", data, **github_headers(secret, data)).status_code == 202
    run = Run.objects.get(pipeline=pipeline)
    Membership.objects.filter(user=users["tenant_member"]).delete()  # left the tenant before the run started
    job = run_job(run.job)
    run.refresh_from_db()
    assert job.status == "failed" and run.status == "failed"
    assert "acme-dev may no longer deploy in tenant acme" in str(run.error)
    assert run.stages.exclude(status="skipped").count() == 0  # nothing was built, nothing deployed
