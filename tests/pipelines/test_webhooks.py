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
