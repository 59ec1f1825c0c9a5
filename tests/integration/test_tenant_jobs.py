"""Namespace provisioning through the real Celery worker, with its progress pushed to the
requester's websocket and refused to a member of another tenant."""

import json

import pytest

from console.jobs.models import Job
from tenants import services

from ..factories import mk_cluster, mk_member, mk_tenant, mk_user
from .test_worker_and_websocket import open_socket, session_cookie, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_worker_provisions_a_namespace_and_pushes_progress(live_console, sandbox):
    cluster = mk_cluster("sandbox", kubeconfig_text=sandbox.kubeconfig_text())
    operator = mk_user("op-jobs", "operator", password=None)
    acme = services.create_tenant(acting_user=operator, name="acme", display_name="Acme", clusters=[cluster])
    admin = mk_member(acme, "acme-admin", "tenant-admin")
    admin.language = "en"  # the worker speaks the requester's language (the default is Chinese)
    admin.save(update_fields=["language"])
    outsider = mk_member(mk_tenant("globex"), "globex-dev")
    # Slow the API server down so the page is subscribed before the worker's first step.
    sandbox.knobs.set_api_faults(stall_rate=1.0, stall_seconds=0.3)
    with (
        open_socket(live_console, session_cookie(admin)) as socket,
        open_socket(live_console, session_cookie(outsider)) as foreign,
    ):
        _project, job = services.create_project(acme, acting_user=admin, cluster=cluster, short_name="web")
        socket.send(json.dumps({"subscribe": f"job-{job.pk}"}))
        foreign.send(json.dumps({"subscribe": f"job-{job.pk}"}))
        assert f"job-{job.pk}" in foreign.recv(timeout=5)  # "You may not follow job-N"
        sandbox.knobs.set_api_faults(stall_rate=0.0)
        pushes = [socket.recv(timeout=30)]
        while not any(f'data-status="{end}"' in pushes[-1] for end in ("succeeded", "failed")):
            pushes.append(socket.recv(timeout=30))
        assert 'data-status="succeeded"' in pushes[-1], pushes[-1]
        with pytest.raises(TimeoutError):
            foreign.recv(timeout=1)
    assert any("Applied ResourceQuota caas-quota" in push for push in pushes)
    assert wait_until(lambda: Job.objects.get(pk=job.pk).status == "succeeded")
    assert acme.projects.get().status == "active"
