"""A pipeline run as a console job (kind pipeline.run): each stage in turn, the run's page
following live (group pipelinerun-<id>).

- build: a Kubernetes Job in the tenant's namespace running Kaniko's executor, which builds the
  commit from the repository and pushes it to --destination; the digest comes back as the
  container's termination message (--digest-file=/dev/termination-log);
- test: a Job running the test command in the image just built (`sh -c`), with the commit in
  CI_COMMIT_SHA, CI_COMMIT_BRANCH, CI_COMMIT_MESSAGE;
- quality: SonarQube's quality gate for the project (api/qualitygates/project_status);
- deploy: the app changes through the workloads services, as the person the run acts for
  (so the revision timeline and the operation log show it): a rolling upgrade, or a canary
  promoted after the rule held (no restarts, no alert firing) and aborted otherwise.

Jobs are created as the person (impersonated), logs are read through the pod log API while
they run. A failed stage ends the run: the Jobs of the run are deleted, the app is as it was,
the person is notified. Then the next queued run of the pipeline starts."""

import base64
import json
import logging
import time

from celery import shared_task
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from console import alerting
from console.choices import JobStatus, NotificationLevel
from console.jobs import jobs
from console.jobs.jobs import JobCancelled, JobFailed
from console.jobs.models import Job
from console.kube.api import ClusterAPI
from console.kube.errors import ApiRefused, ClusterError
from console.notifications import notifications
from console.oplog import oplog
from console.texts import message
from workloads import manifests
from workloads import services as app_services
from workloads.cluster import identity, live_workload
from workloads.models import App

from . import live, services, sonar
from .choices import RunStatus, Stage, StageStatus, Strategy
from .models import Run, StageRun

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
KANIKO_IMAGE = "gcr.io/kaniko-project/executor:v1.23.2"
RUN_LABEL = "caas.io/pipeline-run"
MAX_LOG = 200_000  # characters of a stage's log kept

STARTED = message("Run #%(number)s of %(pipeline)s started (%(trigger)s).")
STAGE_STARTED = message("Stage %(stage)s started.")
STAGE_DONE = message("Stage %(stage)s succeeded in %(seconds)s s.")
STAGE_FAILED = message("Stage %(stage)s failed: %(reason)s")
JOB_FAILED = message("Kubernetes Job %(job)s failed (%(reason)s): %(message)s")
JOB_TIMEOUT = message("Kubernetes Job %(job)s did not finish within %(seconds)s s.")
NO_DIGEST = message("The build pushed no image digest.")
BUILT = message("Built and pushed %(image)s@%(digest)s.")
GATE_PASSED = message("Quality gate of %(project)s: %(status)s.")
GATE_FAILED = message("Quality gate of %(project)s is %(status)s: %(conditions)s")
NOBODY = message("Nobody to deploy as: the person who pushed is not a member of the tenant and the owner is gone.")
DEPLOY_REFUSED = message("The deploy was refused: %(reason)s")
APP_JOB_FAILED = message("%(operation)s of %(app)s failed: %(error)s")
ALREADY = message("%(app)s runs %(image)s already.")
ROLLED = message("Rolled %(app)s out with %(image)s: revision %(revision)s.")
CANARY_UP = message(
    "Canary of %(app)s runs %(image)s with %(weight)s%% of the traffic; promoting after %(minutes)s min."
)
CANARY_RESTARTS = message("The canary restarted %(restarts)s times: aborting it.")
CANARY_ALERT = message("Alerts fire on %(app)s (%(alerts)s): aborting the canary.")
CANARY_ABORTED = message("Canary aborted: the stable version runs on, untouched.")
PROMOTED = message("The canary held for %(minutes)s min: promoted, revision %(revision)s.")
RUN_FAILED = message("Run #%(number)s of pipeline %(pipeline)s failed")
RUN_SUCCEEDED = message("Run #%(number)s of pipeline %(pipeline)s deployed %(image)s")


@shared_task(bind=True, max_retries=3)
def run_pipeline_job(self, job_id):
    jobs.run(self, job_id)


@shared_task
def run_schedules():
    return len(services.run_schedules())


def timeout():
    return settings.CAAS_ROLLOUT_TIMEOUT


def stage_deadline():
    return settings.PIPELINE_STAGE_DEADLINE_SECONDS


# --- the run ----------------------------------------------------------------------------


def _run_of(job) -> Run:
    return Run.objects.select_related(
        "pipeline__project__tenant", "pipeline__project__cluster", "pipeline__app", "requested_by"
    ).get(pk=job.payload["run"])


def _stage(stage: StageRun, **fields) -> None:
    for name, value in fields.items():
        setattr(stage, name, value)
    StageRun.objects.filter(pk=stage.pk).update(**fields)


def execute(job: Job) -> dict:
    run = _run_of(job)
    if run.status not in RunStatus.active():
        raise JobCancelled(job.pk)  # superseded or cancelled before it started
    # a run taken over from a worker that died goes on where it was: started stays, finished stages are kept
    Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING)
    Run.objects.filter(pk=run.pk, started_at__isnull=True).update(started_at=timezone.now())
    run.refresh_from_db()
    live.push_run(run)
    jobs.step(job, STARTED(number=run.number, pipeline=run.pipeline.name, trigger=run.get_trigger_display()))
    user = run.requested_by
    if user is None:
        raise JobFailed(NOBODY())
    project = run.pipeline.project
    with ClusterAPI(project.cluster, identity(user, project.tenant)) as api:
        for stage in list(run.stages.all()):
            if stage.status == StageStatus.SUCCEEDED:
                continue
            _stage(stage, status=StageStatus.RUNNING, started_at=stage.started_at or timezone.now())
            live.push_run(run)
            jobs.step(job, STAGE_STARTED(stage=stage.get_name_display()))
            try:
                STAGES[stage.name](job, run, stage, api)
            except JobFailed as exc:
                _stage(stage, status=StageStatus.FAILED, finished_at=timezone.now())
                jobs.step(job, STAGE_FAILED(stage=stage.get_name_display(), reason=jobs.reason(exc)), ok=False)
                raise
            _stage(stage, status=StageStatus.SUCCEEDED, finished_at=timezone.now())
            seconds = round((stage.finished_at - stage.started_at).total_seconds(), 1)
            jobs.step(job, STAGE_DONE(stage=stage.get_name_display(), seconds=seconds))
            live.push_run(run)
    return {"run": run.number, "image": run.image, "digest": run.image_digest, "revision": run.revision}


# --- Kubernetes Jobs --------------------------------------------------------------------


def _job_name(run: Run, stage: StageRun) -> str:
    return f"{run.pipeline.name}-{run.number}-{stage.name}"[:63].rstrip("-")


def _restricted(container: dict) -> dict:
    """Pod Security "restricted" (tenant namespaces enforce it)."""
    container["securityContext"] = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    return container


def _batch_job(run: Run, stage: StageRun, container: dict, volumes=()) -> dict:
    pipeline = run.pipeline
    labels = {"caas.io/pipeline": pipeline.name, RUN_LABEL: str(run.pk), "caas.io/stage": stage.name}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": _job_name(run, stage), "namespace": pipeline.namespace, "labels": labels},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": stage_deadline(),
            "ttlSecondsAfterFinished": 24 * 3600,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [_restricted(container)],
                    **({"volumes": list(volumes)} if volumes else {}),
                },
            },
        },
    }


def _job_pod(api: ClusterAPI, run: Run, name: str) -> dict | None:
    pods = api.list("Pod", run.pipeline.namespace, label_selector=f"job-name={name}")
    return max(pods, key=lambda p: p["metadata"].get("creationTimestamp", ""), default=None)


def _read_log(api: ClusterAPI, run: Run, stage: StageRun, pod: dict | None) -> None:
    if pod is None:
        return
    state = ((pod.get("status") or {}).get("containerStatuses") or [{}])[0].get("state") or {}
    if "waiting" in state or not state:
        return
    try:
        text = api.pod_log(pod["metadata"]["name"], run.pipeline.namespace, tail_lines=5000)
    except (ApiRefused, ClusterError):
        return
    text = text[-MAX_LOG:]
    if text != stage.log:
        _stage(stage, log=text)
        live.push_run(run, force=False)


def _run_job(job: Job, api: ClusterAPI, run: Run, stage: StageRun, obj: dict) -> dict:
    """Create the Job, follow its pod's log until it finishes; its pod's container status at the end."""
    name = obj["metadata"]["name"]
    namespace = run.pipeline.namespace
    if api.get("Job", name, namespace) is None:  # a run taken over by another worker has it already
        api.apply(obj)
    _stage(stage, job_name=name)
    deadline = time.monotonic() + stage_deadline() + 60  # the Job's own deadline ends it before
    while True:
        current = api.get("Job", name, namespace)
        if current is None:
            raise JobFailed(JOB_FAILED(job=name, reason="Deleted", message="the Job was deleted"))
        pod = _job_pod(api, run, name)
        _read_log(api, run, stage, pod)
        finished = {
            c["type"]: c
            for c in (current.get("status") or {}).get("conditions") or []
            if c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        }
        if finished:
            pod = _job_pod(api, run, name) or pod
            _read_log(api, run, stage, pod)
            status = ((pod or {}).get("status") or {}).get("containerStatuses") or [{}]
            terminated = (status[0].get("state") or {}).get("terminated") or {}
            if "Failed" in finished:
                condition = finished["Failed"]
                detail = condition.get("message", "")
                if terminated:
                    detail = f"{detail}; exit code {terminated.get('exitCode')}"
                raise JobFailed(JOB_FAILED(job=name, reason=condition.get("reason", "Failed"), message=detail))
            return terminated
        if time.monotonic() > deadline:
            raise JobFailed(JOB_TIMEOUT(job=name, seconds=stage_deadline()))
        jobs.wait(job, POLL_SECONDS)


def _registry_secret(api: ClusterAPI, run: Run) -> str:
    """The docker config Kaniko reads, as a Secret in the namespace (made or updated per run)."""
    pipeline = run.pipeline
    if not pipeline.registry_username:
        return ""
    registry = pipeline.image_repository.split("/", 1)[0]
    auth = base64.b64encode(f"{pipeline.registry_username}:{pipeline.registry_password}".encode()).decode()
    config = json.dumps({"auths": {registry: {"auth": auth}}})
    name = f"{pipeline.name}-registry"[:63]
    api.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": pipeline.namespace, "labels": {"caas.io/pipeline": pipeline.name}},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": base64.b64encode(config.encode()).decode()},
        }
    )
    return name


def _image_tag(run: Run) -> str:
    return run.commit_sha[:12] if run.commit_sha else f"{run.branch.replace('/', '-')[:100]}-{run.number}"


def build(job: Job, run: Run, stage: StageRun, api: ClusterAPI) -> None:
    pipeline = run.pipeline
    image = f"{pipeline.image_repository}:{_image_tag(run)}"
    ref = f"refs/heads/{run.branch}" + (f"#{run.commit_sha}" if run.commit_sha else "")
    repository = pipeline.repository_url.split("://", 1)[-1]
    args = [
        f"--context=git://{repository}#{ref}",
        f"--context-sub-path={pipeline.context}" if pipeline.context not in (".", "./") else "",
        f"--dockerfile={pipeline.dockerfile}",
        f"--destination={image}",
        "--digest-file=/dev/termination-log",
        "--cache=true",
    ]
    container = {"name": "kaniko", "image": KANIKO_IMAGE, "args": [a for a in args if a]}
    volumes = []
    secret = _registry_secret(api, run)
    if secret:
        container["volumeMounts"] = [{"name": "registry", "mountPath": "/kaniko/.docker", "readOnly": True}]
        volumes = [
            {
                "name": "registry",
                "secret": {"secretName": secret, "items": [{"key": ".dockerconfigjson", "path": "config.json"}]},
            }
        ]
    terminated = _run_job(job, api, run, stage, _batch_job(run, stage, container, volumes))
    digest = (terminated.get("message") or "").strip()
    if not digest.startswith("sha256:"):
        raise JobFailed(NO_DIGEST())
    run.image, run.image_digest = image, digest
    Run.objects.filter(pk=run.pk).update(image=image, image_digest=digest)
    jobs.step(job, BUILT(image=image, digest=digest))


def test(job: Job, run: Run, stage: StageRun, api: ClusterAPI) -> None:
    env = [
        {"name": "CI", "value": "true"},
        {"name": "CI_COMMIT_SHA", "value": run.commit_sha},
        {"name": "CI_COMMIT_BRANCH", "value": run.branch},
        {"name": "CI_COMMIT_MESSAGE", "value": run.commit_message},
        {"name": "CI_PIPELINE_RUN", "value": str(run.number)},
    ]
    container = {
        "name": "test",
        "image": f"{run.image}@{run.image_digest}" if run.image_digest else run.image,
        "command": ["sh", "-c", run.pipeline.test_command],
        "env": env,
    }
    _run_job(job, api, run, stage, _batch_job(run, stage, container))


def quality(job: Job, run: Run, stage: StageRun, api: ClusterAPI) -> None:
    pipeline = run.pipeline
    try:
        gate = sonar.project_status(pipeline.sonar_url, pipeline.sonar_token, pipeline.sonar_project_key, run.branch)
    except sonar.SonarError as exc:
        _stage(stage, log=str(exc))
        raise JobFailed(str(exc)) from None
    _stage(stage, log=gate.report())
    live.push_run(run)
    if gate.status not in ("OK", "WARN"):
        raise JobFailed(
            GATE_FAILED(project=pipeline.sonar_project_key, status=gate.status, conditions=gate.failing() or "-")
        )
    jobs.step(job, GATE_PASSED(project=pipeline.sonar_project_key, status=gate.status))


# --- deploy -----------------------------------------------------------------------------


def _as_pipeline(run: Run):
    """The workloads services record their entries as the person, from this pipeline run."""
    info = oplog.RequestInfo(
        request_id=f"pipeline-run-{run.pk}",
        user_agent=f"pipeline {run.pipeline.name} run #{run.number}",
        tenant=run.pipeline.project.tenant.name,
    )
    return oplog.current_request.set(info)


def _app_job(job: Job, run: Run, stage: StageRun, service, *args, **kwargs) -> Job:
    """Call a workloads service as the run's person and run the app job it queued here (a
    second delivery of it to a worker finds it taken), then wait for it to end."""
    from workloads.tasks import run_app_job

    token = _as_pipeline(run)
    try:
        app_job = service(*args, acting_user=run.requested_by, **kwargs)
    except ValidationError as exc:
        raise JobFailed(DEPLOY_REFUSED(reason=" ".join(exc.messages))) from None
    except PermissionError as exc:
        raise JobFailed(DEPLOY_REFUSED(reason=str(exc))) from None
    finally:
        oplog.current_request.reset(token)
    _log(run, stage, f"{app_job.kind_label}: job {app_job.pk}")
    run_app_job.apply(args=[app_job.pk])
    deadline = time.monotonic() + timeout() + 60
    while True:
        app_job.refresh_from_db()
        if app_job.status not in JobStatus.active():
            break
        if time.monotonic() > deadline:
            raise JobFailed(JOB_TIMEOUT(job=app_job.kind, seconds=timeout()))
        jobs.wait(job, POLL_SECONDS)
    for step in app_job.steps:
        _log(run, stage, str(step.get("text", "")))
    if app_job.status != JobStatus.SUCCEEDED:
        raise JobFailed(APP_JOB_FAILED(operation=app_job.kind_label, app=run.pipeline.app.name, error=app_job.error))
    return app_job


def _log(run: Run, stage: StageRun, line: str) -> None:
    _stage(stage, log=(stage.log + line + "\n")[-MAX_LOG:])
    live.push_run(run)


def _revision(api: ClusterAPI, app: App) -> str:
    workload = live_workload(app, api)
    return str((workload["metadata"].get("annotations") or {}).get(manifests.REVISION, ""))


def _canary_trouble(api: ClusterAPI, app: App) -> tuple[int, list[str]]:
    twin = manifests.CanaryOf(app)
    pods = api.list("Pod", app.namespace, label_selector=f"caas.io/app={twin.name}")
    restarts = sum(
        s.get("restartCount", 0) for p in pods for s in (p.get("status") or {}).get("containerStatuses") or []
    )
    firing = alerting.firing_for(cluster_id=app.project.cluster_id, namespace=app.namespace, app=app.name)
    return restarts, firing


def deploy(job: Job, run: Run, stage: StageRun, api: ClusterAPI) -> None:
    pipeline = run.pipeline
    app = App.objects.select_related("project__tenant", "project__cluster").get(pk=pipeline.app_id)
    image = f"{run.image}@{run.image_digest}" if run.image_digest else run.image
    current = manifests.spec_from_workload(live_workload(app, api), app.kind)
    if current["image"] == image and not app.canary:  # a run taken over after its deploy was done
        _log(run, stage, str(ALREADY(app=app.name, image=image)))
        pipeline.strategy = Strategy.ROLLING
    elif pipeline.strategy == Strategy.ROLLING:
        _app_job(job, run, stage, app_services.upgrade_app, app, spec={**current, "image": image})
    if pipeline.strategy == Strategy.ROLLING:
        revision = _revision(api, app)
        Run.objects.filter(pk=run.pk).update(revision=revision)
        run.revision = revision
        jobs.step(job, ROLLED(app=app.name, image=image, revision=revision))
        return
    if (app.canary or {}).get("image") != image:  # not started yet (a run taken over may have started it)
        _app_job(
            job, run, stage, app_services.start_canary, app, image=image, replicas=1, weight=pipeline.canary_weight
        )
    jobs.step(
        job,
        CANARY_UP(app=app.name, image=image, weight=pipeline.canary_weight, minutes=pipeline.promote_after_minutes),
    )
    _log(
        run,
        stage,
        str(
            CANARY_UP(app=app.name, image=image, weight=pipeline.canary_weight, minutes=pipeline.promote_after_minutes)
        ),
    )
    until = time.monotonic() + pipeline.promote_after_minutes * 60
    while True:
        restarts, firing = _canary_trouble(api, app)
        trouble = None
        if restarts:
            trouble = CANARY_RESTARTS(restarts=restarts)
        elif firing:
            trouble = CANARY_ALERT(app=app.name, alerts=", ".join(firing))
        if trouble is not None:
            _log(run, stage, str(trouble))
            app.refresh_from_db()
            _app_job(job, run, stage, app_services.abort_canary, app)
            _log(run, stage, str(CANARY_ABORTED()))
            raise JobFailed(trouble)
        if time.monotonic() >= until:
            break
        jobs.wait(job, POLL_SECONDS)
    app.refresh_from_db()
    _app_job(job, run, stage, app_services.promote_canary, app)
    revision = _revision(api, app)
    Run.objects.filter(pk=run.pk).update(revision=revision)
    run.revision = revision
    promoted = PROMOTED(minutes=pipeline.promote_after_minutes, revision=revision)
    _log(run, stage, str(promoted))
    jobs.step(job, promoted)


STAGES = {Stage.BUILD: build, Stage.TEST: test, Stage.QUALITY: quality, Stage.DEPLOY: deploy}


# --- how a run ends -----------------------------------------------------------------------


def _delete_jobs(run: Run) -> None:
    """The run's Kubernetes Jobs go (their pods with them): nothing of a stopped run runs on."""
    project = run.pipeline.project
    try:
        with ClusterAPI(project.cluster, identity(run.requested_by, project.tenant)) as api:
            for obj in api.list("Job", project.name, label_selector=f"{RUN_LABEL}={run.pk}"):
                if not (obj.get("status") or {}).get("completionTime"):
                    api.delete("Job", obj["metadata"]["name"], project.name, propagation="Background")
    except (ApiRefused, ClusterError, PermissionError) as exc:
        log.warning("run %s: its Jobs could not be deleted: %s", run.pk, exc)


def _abort_leftover_canary(run: Run) -> None:
    """A run stopped while its canary was being watched: the canary goes, the stable version stays."""
    app = App.objects.filter(pk=run.pipeline.app_id).select_related("project__tenant", "project__cluster").first()
    if app is None or not app.canary or run.requested_by is None:
        return
    token = _as_pipeline(run)
    try:
        app_services.abort_canary(app, acting_user=run.requested_by)
    except (ValidationError, PermissionError) as exc:
        log.warning("run %s: the canary could not be aborted: %s", run.pk, exc)
    finally:
        oplog.current_request.reset(token)


def failing(job: Job, error) -> None:
    run = _run_of(job)
    current = Run.objects.filter(pk=run.pk).values_list("status", flat=True).first()
    if current == RunStatus.SUPERSEDED:
        status = RunStatus.SUPERSEDED
    elif job.cancel_requested:
        status = RunStatus.CANCELLED
    else:
        status = RunStatus.FAILED
    Run.objects.filter(pk=run.pk).update(status=status, error=error, finished_at=timezone.now())
    ended_as = StageStatus.FAILED if status == RunStatus.FAILED else StageStatus.CANCELLED
    run.stages.filter(status=StageStatus.RUNNING).update(status=ended_as, finished_at=timezone.now())
    run.stages.filter(status=StageStatus.PENDING).update(status=StageStatus.SKIPPED)
    _delete_jobs(run)
    if status != RunStatus.FAILED and run.stages.filter(name=Stage.DEPLOY, status=ended_as).exists():
        _abort_leftover_canary(run)


def ended(job: Job, outcome) -> None:
    run = _run_of(job)
    if job.status == JobStatus.SUCCEEDED:
        Run.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED, finished_at=timezone.now())
    run.refresh_from_db()
    live.push_run(run)
    link = reverse(
        "pipelines:run",
        args=[run.pipeline.project.tenant.name, run.pipeline.namespace, run.pipeline.name, run.number],
    )
    if run.requested_by is not None and run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
        if run.status == RunStatus.SUCCEEDED:
            title = RUN_SUCCEEDED(number=run.number, pipeline=run.pipeline.name, image=run.image)
            level = NotificationLevel.SUCCESS
        else:
            title, level = RUN_FAILED(number=run.number, pipeline=run.pipeline.name), NotificationLevel.DANGER
        notifications.notify_user(run.requested_by, title, body=run.error, level=level, link=link)
    services.launch_next(run.pipeline)


# Idempotent: a run cut off with its worker goes on from its first unfinished stage (a stage's
# Kubernetes Job is taken over when it exists; a deploy already done is not done again).
KINDS = jobs.JobKinds(
    task=run_pipeline_job, runners={"pipeline.run": execute}, idempotent=True, failing=failing, ended=ended
)
