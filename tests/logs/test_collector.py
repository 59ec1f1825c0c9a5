"""The fluentd collector installed on a cluster from the console, as an operator's job, on
the sandbox cluster: its objects land in the cluster, the Secret holds a token that works,
and the job keeps no copy of it."""

import pytest
from django.urls import reverse

from console.jobs.models import Job
from console.kube.api import ClusterAPI
from console.oplog.models import OperationLogEntry
from monitoring.logs.tasks import run_logs_job

from ..conftest import sandbox_fixture
from .conftest import loadgen, quick_user, send

pytestmark = pytest.mark.django_db
sandbox = sandbox_fixture("module")


def test_an_operator_installs_the_collector_and_its_token_works(client, cluster):
    operator = quick_user("op", "operator")
    client.force_login(operator)
    response = client.post(reverse("logs:collector_install", args=[cluster.name]))
    job = Job.objects.get(kind="logs.collector.install")
    assert response.status_code == 302 and response["Location"] == reverse("console:job", args=[job.pk])
    run_logs_job.apply(args=[job.pk])
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert "token" not in job.payload
    with ClusterAPI(cluster) as api:
        daemonset = api.get("DaemonSet", "fluentd", "caas-logging")
        config = api.get("ConfigMap", "caas-fluentd", "caas-logging")
        secret = api.get("Secret", "caas-ingest-token", "caas-logging")
    assert daemonset["spec"]["template"]["spec"]["containers"][0]["image"].startswith("fluent/fluentd-kubernetes")
    assert "@type http" in config["data"]["fluent.conf"] and "kubernetes_metadata" in config["data"]["fluent.conf"]
    import base64

    token = base64.b64decode(secret["data"]["token"]).decode()
    assert send(client, token, loadgen.sample_records(2)).status_code == 200
    entries = OperationLogEntry.objects.filter(action="logs.collector.apply")
    assert entries.count() == 7 and token not in str(list(entries.values("after", "payload")))
    # Again: server-side apply converges, a new token replaces the old one.
    client.post(reverse("logs:collector_install", args=[cluster.name]))
    again = Job.objects.filter(kind="logs.collector.install").latest("pk")
    run_logs_job.apply(args=[again.pk])
    again.refresh_from_db()
    assert again.status == "succeeded"
    assert send(client, token, loadgen.sample_records(1)).status_code == 401


def test_only_operators_install(client, cluster):
    client.force_login(quick_user("aud", "auditor"))
    assert client.post(reverse("logs:collector_install", args=[cluster.name])).status_code == 403
    assert not Job.objects.exists()
