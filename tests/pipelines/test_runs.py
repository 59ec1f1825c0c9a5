"""A run end to end on the sandbox cluster: Kaniko builds (a Job; the digest from its
termination message), the test command runs in the built image (a Job: `exit 1` fails it),
the deploy goes through the workloads services as the person (revision timeline, operation
log), a canary is promoted when the rule holds; a failed stage leaves the app as it was."""

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
        built = api.get("Job", "web-ci-1-build", web.namespace)
        secret_obj = api.get("Secret", "web-ci-registry", web.namespace)
    assert built["spec"]["template"]["spec"]["containers"][0]["image"].startswith("gcr.io/kaniko-project/executor")
    assert secret_obj["type"] == "kubernetes.io/dockerconfigjson"
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
    assert [stages[n].status for n in ("build", "quality", "deploy")] == ["succeeded", "failed", "skipped"]
    assert "new_coverage 41.0 (LT 80)" in str(run.error) and "ERROR new_coverage" in stages["quality"].log
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
        assert api.get("Job", "web-ci-1-build", web.namespace) is not None  # a finished stage's Job stays (TTL)
    assert image_of(cluster, web) == before
