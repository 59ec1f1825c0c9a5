"""A run end to end on the sandbox cluster: Kaniko builds (a Job; the digest from its
termination message), the test command runs in the built image (a Job: `exit 1` fails it),
the deploy goes through the workloads services as the person (revision timeline, operation
log), a canary is promoted when the rule holds; a failed stage leaves the app as it was."""

import json

import pytest

from console.jobs.models import Job
from console.kube.api import ClusterAPI
from console.notifications.models import Notification
from console.oplog.models import OperationLogEntry
from workloads.pipelines import services
from workloads.pipelines.models import Run

from .conftest import make_pipeline, run_job

pytestmark = pytest.mark.django_db


def image_of(cluster, app, name=None):
    with ClusterAPI(cluster) as api:
        deployment = api.get("Deployment", name or app.name, app.namespace)
    return deployment and deployment["spec"]["template"]["spec"]["containers"][0]["image"]


def test_a_run_builds_tests_and_rolls_the_app_out(cluster, web, dev):
    pipeline, secret = make_pipeline(web.project, dev)
    assert secret and secret not in pipeline.webhook_secret_encrypted and pipeline.webhook_secret == secret
    assert "s3cret-registry-pass" not in pipeline.registry_password_encrypted
    run = services.run_pipeline(pipeline, acting_user=dev)
    assert (
        run.number == 1
        and run.job is not None
        and [s.name for s in run.stages.all()]
        == [
            "build",
            "test",
            "deploy",
        ]
    )
    job = run_job(run.job)
    assert job.status == "succeeded", (job.error, [str(s["text"]) for s in job.steps])
    run.refresh_from_db()
    assert run.status == "succeeded" and run.image.startswith("registry.example.com/acme/web:main-1")
    assert run.image_digest.startswith("sha256:") and run.revision == "2"
    stages = {s.name: s for s in run.stages.all()}
    assert all(s.status == "succeeded" and s.duration is not None for s in stages.values())
    assert "Pushed registry.example.com/acme/web@" + run.image_digest in stages["build"].log
    assert stages["test"].log == "running the tests\nall 12 passed\n"
    assert image_of(cluster, web) == f"{run.image}@{run.image_digest}"
    with ClusterAPI(cluster) as api:
        # Kaniko ran in the tenant's build namespace (baseline), the tests in the app's (restricted)
        built = api.get("Job", f"{web.namespace}-web-ci-1-build", "caas-build-acme")
        secret_obj = api.get("Secret", f"{web.namespace}-web-ci-registry", "caas-build-acme")
        tested = api.get("Job", "web-ci-1-test", web.namespace)
        space = api.get("Namespace", "caas-build-acme")
        quota = api.get("ResourceQuota", "builds", "caas-build-acme")
        fenced = api.get("NetworkPolicy", "builds-no-ingress", "caas-build-acme")
        pods = api.list("Pod", "caas-build-acme", label_selector=f"job-name={web.namespace}-web-ci-1-build")
    kaniko = built["spec"]["template"]["spec"]["containers"][0]
    assert kaniko["image"].startswith("gcr.io/kaniko-project/executor") and kaniko["securityContext"]["runAsUser"] == 0
    assert secret_obj["type"] == "kubernetes.io/dockerconfigjson"
    assert tested["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsNonRoot"] is True
    assert space["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    assert space["metadata"]["labels"]["pod-security.kubernetes.io/warn"] == "restricted"
    assert quota["spec"]["hard"]["pods"] == "4"  # bounded outside the tenant's quotas
    assert fenced["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    assert pods[0]["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "2", "memory": "4Gi"}
    # the workloads' own entry, as the person, marked as the pipeline's
    upgrade = OperationLogEntry.objects.filter(action="app.upgrade", target_name="web").latest("id")
    assert upgrade.actor_name == "acme-dev" and upgrade.user_agent == "pipeline web-ci run #1"
    assert Notification.objects.filter(user=dev, level="success").exists()
    # nothing secret in the operation log
    assert not OperationLogEntry.objects.filter(payload__icontains="s3cret-registry-pass").exists()

    # a worker dies during the deploy: the reaper queues the job again, and the run goes on from there
    Job.objects.filter(pk=job.pk).update(status="pending", owner="", finished_at=None)
    Run.objects.filter(pk=run.pk).update(status="running", finished_at=None)
    run.stages.filter(name="deploy").update(status="running", finished_at=None, log="")
    assert run_job(job).status == "succeeded"
    run.refresh_from_db()
    assert run.status == "succeeded" and run.revision == "2"  # not rolled out a second time
    assert "runs registry.example.com/acme/web:main-1@sha256:" in run.stages.get(name="deploy").log
    assert run.stages.get(name="build").log == stages["build"].log  # finished stages are not run again


def test_a_failing_test_stops_the_run_and_leaves_the_app_as_it_was(cluster, web, dev):
    pipeline, _ = make_pipeline(web.project, dev, test_command="echo 3 tests failed >&2; exit 1")
    before = image_of(cluster, web)
    run = services.run_pipeline(pipeline, acting_user=dev)
    job = run_job(run.job)
    assert job.status == "failed"
    run.refresh_from_db()
    stages = {s.name: s for s in run.stages.all()}
    assert run.status == "failed" and "exit code 1" in str(run.error)
    assert [stages[n].status for n in ("build", "test", "deploy")] == ["succeeded", "failed", "skipped"]
    assert stages["test"].log == "3 tests failed\n"
    assert image_of(cluster, web) == before
    assert not OperationLogEntry.objects.filter(action="app.upgrade", user_agent__startswith="pipeline").exists()
    note = Notification.objects.get(user=dev, level="danger")
    assert "Run #1 of pipeline web-ci failed" in str(note.title)


def test_canary_is_promoted_when_the_rule_holds(cluster, web, dev):
    from workloads import services as app_services

    from .conftest import run as run_app

    assert (
        run_app(
            app_services.expose_app(web, acting_user=dev, service_type="ClusterIP", port=80, host="shop.example.com")
        ).status
        == "succeeded"
    )
    pipeline, _ = make_pipeline(web.project, dev, strategy="canary", canary_weight=30, test_command="")
    run = services.run_pipeline(pipeline, acting_user=dev)
    job = run_job(run.job)
    assert job.status == "succeeded", (job.error, [str(s["text"]) for s in job.steps])
    run.refresh_from_db()
    web.refresh_from_db()
    assert not web.canary and image_of(cluster, web) == f"{run.image}@{run.image_digest}"
    assert image_of(cluster, web, "web-canary") is None  # the canary went after the promotion
    actions = list(
        OperationLogEntry.objects.filter(user_agent="pipeline web-ci run #1").values_list("action", flat=True)
    )
    assert "app.canary_start" in actions and "app.canary_promote" in actions
    deploy = run.stages.get(name="deploy")
    assert "promoted" in deploy.log


def test_canary_is_aborted_when_an_alert_fires(cluster, web, dev):
    from console import alerting
    from workloads import services as app_services

    from .conftest import run as run_app

    run_app(app_services.expose_app(web, acting_user=dev, service_type="ClusterIP", port=80, host="shop.example.com"))
    before = image_of(cluster, web)
    pipeline, _ = make_pipeline(web.project, dev, strategy="canary", test_command="", promote_after_minutes=0.2)

    def firing(*, cluster_id, namespace, app=None):
        return ["HighErrorRate"] if namespace == web.namespace else []

    alerting.register_firing_source(firing)
    try:
        run = services.run_pipeline(pipeline, acting_user=dev)
        job = run_job(run.job)
    finally:
        alerting._sources.remove(firing)
    assert job.status == "failed"
    run.refresh_from_db()
    web.refresh_from_db()
    assert "HighErrorRate" in str(run.error) and not web.canary
    assert image_of(cluster, web) == before and image_of(cluster, web, "web-canary") is None


def test_one_run_at_a_time_queue_supersede_cancel_and_rerun(cluster, web, dev):
    pipeline, _ = make_pipeline(web.project, dev)
    first = services.run_pipeline(pipeline, acting_user=dev)
    second = services.run_pipeline(pipeline, acting_user=dev)
    assert first.job is not None and second.job is None and second.status == "queued"  # waits its turn
    services.cancel_run(second, acting_user=dev)
    second.refresh_from_db()
    assert second.status == "cancelled" and second.job is None
    # a later push supersedes (the setting): the waiting run's job ends, the new run starts
    pipeline.concurrency = "supersede"
    pipeline.save()
    third = services.run_pipeline(pipeline, acting_user=dev)
    first.refresh_from_db()
    assert first.status == "superseded" and Job.objects.get(pk=first.job_id).status == "cancelled"
    assert third.job is not None and third.status == "queued"
    services.cancel_run(third, acting_user=dev)  # its job had not started: it ends at once
    third.refresh_from_db()
    assert third.status == "cancelled" and Job.objects.get(pk=third.job_id).status == "cancelled"
    again = services.rerun(first, acting_user=dev)
    assert again.rerun_of == first and again.trigger == "rerun" and again.job is not None
    assert Run.objects.filter(pipeline=pipeline).count() == 4


def test_a_failing_quality_gate_stops_the_run_before_the_deploy(cluster, web, dev):
    from .sonarmock import FAILING, TOKEN, SonarMock

    before = image_of(cluster, web)
    with SonarMock({"acme:web": FAILING}) as mock:
        pipeline, _ = make_pipeline(
            web.project, dev, sonar_url=mock.url, sonar_project_key="acme:web", sonar_token=TOKEN, test_command=""
        )
        run = services.run_pipeline(pipeline, acting_user=dev)
        assert run_job(run.job).status == "failed"
    run.refresh_from_db()
    stages = {s.name: s for s in run.stages.all()}
    assert [stages[n].status for n in ("build", "scan", "quality", "deploy")] == [
        "succeeded",
        "succeeded",
        "failed",
        "skipped",
    ]
    assert "new_coverage 41.0 (LT 80)" in str(run.error) and "ERROR new_coverage" in stages["quality"].log
    assert image_of(cluster, web) == before


def test_the_scanner_runs_as_a_job_then_the_gate_of_its_report_is_read(cluster, web, dev):
    """sonarsource/sonar-scanner-cli as a Job in the app's namespace (restricted admits it): the
    commit cloned into /usr/src by an init container, SONAR_HOST_URL and SONAR_TOKEN (from a
    Secret, never in the spec); then the console waits for SonarQube to process the report the
    scanner printed (api/ce/task) and reads the gate (api/qualitygates/project_status)."""
    import re

    from .sonarmock import PASSING, TOKEN, SonarMock

    with SonarMock({"acme:web": PASSING}) as mock:
        pipeline, _ = make_pipeline(
            web.project, dev, sonar_url=mock.url, sonar_project_key="acme:web", sonar_token=TOKEN, test_command=""
        )
        run = services.run_pipeline(pipeline, acting_user=dev)
        assert [s.name for s in run.stages.all()] == ["build", "scan", "quality", "deploy"]
        assert run_job(run.job).status == "succeeded", run.error
    run.refresh_from_db()
    stages = {s.name: s for s in run.stages.all()}
    assert "ANALYSIS SUCCESSFUL" in stages["scan"].log and "EXECUTION SUCCESS" in stages["scan"].log
    task = re.search(r"/api/ce/task\?id=(\w+)", stages["scan"].log)[1]
    paths = [(path, query) for path, query in mock.requests]
    assert paths.index(("/api/ce/task", {"id": task})) < [p for p, _ in paths].index("/api/qualitygates/project_status")
    assert f"report {task}: SUCCESS" in stages["quality"].log and "quality gate: OK" in stages["quality"].log
    with ClusterAPI(cluster) as api:
        scanned = api.get("Job", "web-ci-1-scan", web.namespace)
    spec = scanned["spec"]["template"]["spec"]
    scanner, checkout = spec["containers"][0], spec["initContainers"][0]
    assert scanner["image"].startswith("sonarsource/sonar-scanner-cli:")
    assert "-Dsonar.projectKey=acme:web" in scanner["args"]
    env = {e["name"]: e for e in scanner["env"]}
    assert env["SONAR_HOST_URL"]["value"] == mock.url
    assert env["SONAR_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "token" and TOKEN not in json.dumps(scanned)
    assert checkout["command"][:2] == ["sh", "-c"] and "git clone" in checkout["command"][2]
    assert {"name": "source", "mountPath": "/usr/src"} in scanner["volumeMounts"]


def test_a_report_sonarqube_could_not_process_fails_the_gate_stage(cluster, web, dev):
    from .sonarmock import PASSING, TOKEN, SonarMock

    before = image_of(cluster, web)
    with SonarMock({"acme:web": PASSING}, task_status="FAILED") as mock:
        pipeline, _ = make_pipeline(
            web.project, dev, sonar_url=mock.url, sonar_project_key="acme:web", sonar_token=TOKEN, test_command=""
        )
        run = services.run_pipeline(pipeline, acting_user=dev)
        assert run_job(run.job).status == "failed"
    run.refresh_from_db()
    assert "could not process the analysis report" in str(run.error) and "Unsupported language" in str(run.error)
    assert "/api/qualitygates/project_status" not in [path for path, _ in mock.requests]
    assert image_of(cluster, web) == before


@pytest.mark.django_db(transaction=True)
def test_cancel_stops_a_running_stage_and_deletes_its_job(cluster, project, dev):
    import threading
    import time

    from .conftest import deploy_web

    web = deploy_web(project, dev)
    before = image_of(cluster, web)
    # `sleep 600` lasts 600 simulated seconds (30 s here): the test stage is running when cancelled
    pipeline, _ = make_pipeline(web.project, dev, test_command="echo started; sleep 600; echo never")
    run = services.run_pipeline(pipeline, acting_user=dev)

    def work():
        from django.db import connection

        try:
            run_job(run.job)
        finally:
            connection.close()  # this thread's own connection

    worker = threading.Thread(target=work)
    worker.start()
    deadline = time.monotonic() + 20
    while not run.stages.filter(name="test", status="running", job_name__gt="").exists():
        assert time.monotonic() < deadline, "the test stage did not start"
        time.sleep(0.1)
    services.cancel_run(run, acting_user=dev)
    worker.join(timeout=20)
    assert not worker.is_alive()
    run.refresh_from_db()
    stages = {s.name: s.status for s in run.stages.all()}
    assert run.status == "cancelled" and stages == {"build": "succeeded", "test": "cancelled", "deploy": "skipped"}
    with ClusterAPI(cluster) as api:
        job = api.get("Job", "web-ci-1-test", web.namespace)
        assert job is None or job["metadata"].get("deletionTimestamp")
        # a finished stage's Job stays (TTL)
        assert api.get("Job", f"{web.namespace}-web-ci-1-build", "caas-build-acme") is not None
    assert image_of(cluster, web) == before


def test_stage_logs_are_followed_and_pushed_live_not_polled(
    sandbox, cluster, web, dev, django_capture_on_commit_callbacks
):
    """The test stage's log is read once, as a stream (follow=true), and its lines reach the
    run's group (pipelinerun-<id>, the real Redis channel layer) as they are written, appended
    to the stage's log on the page; nobody asks for the whole log again and again."""
    import asyncio
    import html
    import re

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    pipeline, _ = make_pipeline(
        web.project, dev, test_command="echo first; sleep 60; echo second; sleep 60; echo third"
    )
    run = services.run_pipeline(pipeline, acting_user=dev)
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(run.group, channel)
    with django_capture_on_commit_callbacks(execute=True):  # pushes go out after commit
        assert run_job(run.job).status == "succeeded"
    test_stage = run.stages.get(name="test")
    assert test_stage.log == "first\nsecond\nthird\n"

    async def drain():
        messages = []
        while True:
            try:
                messages.append(await asyncio.wait_for(layer.receive(channel), 1))
            except TimeoutError:
                return messages

    appended = re.compile(rf'<pre id="stage-log-{test_stage.pk}" hx-swap-oob="beforeend">(.*?)</pre>', re.DOTALL)
    pieces = [html.unescape(m[1]) for msg in async_to_sync(drain)() for m in [appended.search(msg["html"])] if m]
    assert "".join(pieces) == test_stage.log  # every line once, in order
    assert len(pieces) >= 2, pieces  # as they came: the sleeps part them
    # the test pod's log was read through one follow=true stream (as the member), not polled
    pod_reads = [
        e
        for e in sandbox.audit_events(impersonatedUser="acme-dev", subresource="log", namespace=web.namespace)
        if e["name"].startswith("web-ci-1-test-")
    ]
    assert len(pod_reads) == 1 and "follow=true" in pod_reads[0]["uri"], pod_reads


def test_kaniko_is_refused_where_pod_security_is_restricted(sandbox, cluster, web, dev):
    """No build namespace enabled: the build Job goes to the app's namespace, whose Pod Security
    level (restricted, the tenants' default) refuses Kaniko's root pod. The run fails at once
    with the cluster's own words and says what an operator can do; the app stays as it was."""
    before = image_of(cluster, web)
    pipeline, _ = make_pipeline(web.project, dev, builds=False)
    run = services.run_pipeline(pipeline, acting_user=dev)
    assert run_job(run.job).status == "failed"
    run.refresh_from_db()
    error = str(run.error)
    assert 'is forbidden: violates PodSecurity "restricted:latest"' in error, error
    assert "must set securityContext.runAsNonRoot=true" in error and "runAsUser=0" in error, error
    stages = {s.name: s for s in run.stages.all()}
    assert [stages[n].status for n in ("build", "test", "deploy")] == ["failed", "skipped", "skipped"]
    assert "An operator enables image builds for tenant acme" in stages["build"].log
    assert image_of(cluster, web) == before and not run.image_digest
    with ClusterAPI(cluster) as api:
        assert not api.list("Pod", web.namespace, label_selector="job-name=web-ci-1-build")


def test_the_build_namespace_is_the_consoles_not_the_tenants(sandbox, cluster, web, dev):
    """Enabling builds is an operator's act (logged); the build Job is made by the console, and
    the tenant's members, impersonated, may not even list the build namespace's Jobs."""
    from console.kube.errors import ApiRefused
    from tenants.access import identity_for

    pipeline, _ = make_pipeline(web.project, dev, builds=False)
    with pytest.raises(PermissionError):
        services.set_builds(pipeline, acting_user=dev, enabled=True)
    from .conftest import enable_builds

    enable_builds(pipeline)
    entries = OperationLogEntry.objects.filter(action="pipeline.builds_enable").order_by("id")
    assert [e.result for e in entries] == ["denied", "succeeded"] and entries[1].target_name == "caas-build-acme"
    run = services.run_pipeline(pipeline, acting_user=dev)
    assert run_job(run.job).status == "succeeded"
    writes = [
        e
        for e in sandbox.audit_events(resource="jobs", namespace="caas-build-acme")
        if e["verb"] in ("create", "patch") and e["name"] == f"{web.namespace}-web-ci-1-build"
    ]
    assert writes and all(e["impersonatedUser"] is None and e["code"] in (200, 201) for e in writes), writes
    with ClusterAPI(cluster, identity_for(dev, web.project.tenant)) as api, pytest.raises(ApiRefused) as refused:
        api.list("Job", "caas-build-acme")
    assert refused.value.status == 403


def test_a_scanner_without_a_token_fails_the_scan_stage(cluster, web, dev):
    from .sonarmock import PASSING, SonarMock

    with SonarMock({"acme:web": PASSING}) as mock:
        pipeline, _ = make_pipeline(web.project, dev, sonar_url=mock.url, sonar_project_key="acme:web", test_command="")
        run = services.run_pipeline(pipeline, acting_user=dev)
        assert run_job(run.job).status == "failed"
    run.refresh_from_db()
    stages = {s.name: s for s in run.stages.all()}
    assert [stages[n].status for n in ("scan", "quality", "deploy")] == ["failed", "skipped", "skipped"]
    assert "Not authorized" in stages["scan"].log and "EXECUTION FAILURE" in stages["scan"].log
    assert "exit code 2" in str(run.error) and not mock.requests
