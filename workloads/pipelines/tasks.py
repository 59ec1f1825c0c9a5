"""A pipeline run as a console job (kind pipeline.run): each stage in turn, the run's page
following live (group pipelinerun-<id>).

- build: a Kubernetes Job running Kaniko's executor, which builds the commit from the
  repository and pushes it to --destination; the digest comes back as the container's
  termination message (--digest-file=/dev/termination-log). Kaniko runs as root, which Pod
  Security "restricted" (tenant namespaces) refuses and "baseline" admits: the Job runs in the
  tenant's build namespace (caas-build-<tenant>, baseline, the console's own) when an operator
  enabled builds for the tenant, else in the app's namespace as the person, where the cluster
  refuses its pod unless the tenant's level is baseline (the run fails at once, in its words);
- test: a Job running the test command in the image just built (`sh -c`), with the commit in
  CI_COMMIT_SHA, CI_COMMIT_BRANCH, CI_COMMIT_MESSAGE;
- scan (with SonarQube): a Job running sonarsource/sonar-scanner-cli over the commit (cloned
  into /usr/src by an init container), SONAR_HOST_URL and SONAR_TOKEN (from a Secret);
- quality: SonarQube processed the scanner's report (api/ce/task), then its quality gate for
  the project (api/qualitygates/project_status);
- deploy: the app changes through the workloads services, as the member the run acts for
  (so the revision timeline and the operation log show it): a rolling upgrade, or a canary
  promoted after the rule held (no restarts, no alert firing) and aborted otherwise.

Jobs in tenant namespaces are created as the person (impersonated); the member's right to
deploy is checked again when the run starts. Each stage's log is followed as a stream
(logs.py) and pushed to the run's page as it comes. A failed stage ends the run: the Jobs of
the run are deleted, the app is as it was, the person is notified. Then the next queued run
of the pipeline starts."""

import base64
import json
import logging
import re
import time

from celery import shared_task
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from console import alerting
from console.choices import JobStatus, NotificationLevel, OperationResult
from console.clusters.models import Cluster
from console.jobs import jobs
from console.jobs.jobs import JobCancelled, JobFailed
from console.jobs.models import Job
from console.kube.api import CONSOLE, ClusterAPI
from console.kube.errors import ApiRefused, ClusterError
from console.notifications import notifications
from console.oplog import oplog
from console.texts import message
from tenants.manifests import MANAGED_BY, MANAGED_LABEL
from tenants.tasks import DELETING_NAMESPACE, NAMESPACE_GONE, wait_until_gone
from workloads import manifests
from workloads import services as app_services
from workloads.cluster import identity, live_workload
from workloads.models import App

from . import live, logs, services, sonar
from .choices import RunStatus, Stage, StageStatus, Strategy
from .models import BuildSpace, Run, StageRun

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5  # waiting for a pod to start, an app job to end, a canary's rule
CHECK_SECONDS = 1.0  # how often a stage whose log is followed looks at its Job
KANIKO_IMAGE = "gcr.io/kaniko-project/executor:v1.23.2"
SONAR_SCANNER_IMAGE = "sonarsource/sonar-scanner-cli:11.3"
GIT_IMAGE = "alpine/git:2.47.2"
RUN_LABEL = "caas.io/pipeline-run"
BUILD_TENANT_LABEL = "caas.io/builds-of"  # not caas.io/tenant: the tenant's network policies do not admit it
MAX_LOG = logs.MAX_LOG

STARTED = message("Run #%(number)s of %(pipeline)s started (%(trigger)s).")
STAGE_STARTED = message("Stage %(stage)s started.")
STAGE_DONE = message("Stage %(stage)s succeeded in %(seconds)s s.")
STAGE_FAILED = message("Stage %(stage)s failed: %(reason)s")
JOB_FAILED = message("Kubernetes Job %(job)s failed (%(reason)s): %(message)s")
POD_REFUSED = message("The cluster refused the pod of Job %(job)s in namespace %(namespace)s: %(message)s")
BUILDS_OFF = message(
    "Kaniko runs as root, which the Pod Security level of namespace %(namespace)s refuses. An operator "
    "enables image builds for tenant %(tenant)s (a build namespace at level baseline) on the pipeline's page."
)
JOB_TIMEOUT = message("Kubernetes Job %(job)s did not finish within %(seconds)s s.")
NO_DIGEST = message("The build pushed no image digest.")
BUILT = message("Built and pushed %(image)s@%(digest)s.")
REPORT_TIMEOUT = message("SonarQube did not process the analysis report %(task)s within %(seconds)s s.")
REPORT_FAILED = message("SonarQube could not process the analysis report %(task)s (%(status)s): %(error)s")
GATE_PASSED = message("Quality gate of %(project)s: %(status)s.")
GATE_FAILED = message("Quality gate of %(project)s is %(status)s: %(conditions)s")
NOBODY = message("Nobody to deploy as: the pipeline's maker is gone. A tenant admin chooses a member to deploy as.")
NO_LONGER = message(
    "%(who)s may no longer deploy in tenant %(tenant)s: a tenant admin chooses another member to deploy as."
)
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
BUILDS_AGAIN = message("Image builds of tenant %(tenant)s were enabled again: namespace %(namespace)s stays.")
NOT_A_BUILD_NAMESPACE = message(
    "Namespace %(namespace)s is not the console's build namespace of tenant %(tenant)s: it is left alone."
)
STILL_BUILDING = message(
    "Builds still run in namespace %(namespace)s (%(jobs)s): it stays. Disable image builds again once they end."
)
RUN_FAILED = message("Run #%(number)s of pipeline %(pipeline)s failed")
RUN_SUCCEEDED = message("Run #%(number)s of pipeline %(pipeline)s deployed %(image)s")


@shared_task(bind=True, max_retries=3)
def run_pipeline_job(self, job_id):
    jobs.run(self, job_id)


@shared_task(bind=True, max_retries=3)
def remove_build_namespace_job(self, job_id):
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
    if not services.may_deploy(user, run.pipeline):  # rights are checked when the run starts, not when queued
        raise JobFailed(NO_LONGER(who=user.get_username(), tenant=run.pipeline.project.tenant.name))
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


def _job_name(run: Run, stage: StageRun, namespace: str = "") -> str:
    """<pipeline>-<run>-<stage>; in a tenant's build namespace, which all its namespaces share,
    prefixed with the pipeline's namespace."""
    prefix = f"{run.pipeline.namespace}-" if namespace and namespace != run.pipeline.namespace else ""
    return f"{prefix}{run.pipeline.name}-{run.number}-{stage.name}"[:63].rstrip("-")


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


RESTRICTED_POD = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


def _batch_job(
    run: Run, stage: StageRun, container: dict, volumes=(), namespace: str = "", pod_security=None, init=()
) -> dict:
    """A stage's Kubernetes Job. The container is hardened as "restricted" unless it brings its
    own securityContext (Kaniko's, for a baseline namespace), with the pod's `pod_security`."""
    pipeline = run.pipeline
    namespace = namespace or pipeline.namespace
    labels = {"caas.io/pipeline": pipeline.name, RUN_LABEL: str(run.pk), "caas.io/stage": stage.name}
    if namespace != pipeline.namespace:
        labels["caas.io/pipeline-namespace"] = pipeline.namespace
    if "securityContext" not in container:
        _restricted(container)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": _job_name(run, stage, namespace), "namespace": namespace, "labels": labels},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": stage_deadline(),
            "ttlSecondsAfterFinished": 24 * 3600,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "securityContext": dict(pod_security or RESTRICTED_POD),
                    **({"initContainers": [_restricted(c) for c in init]} if init else {}),
                    "containers": [container],
                    **({"volumes": list(volumes)} if volumes else {}),
                },
            },
        },
    }


def _job_pod(api: ClusterAPI, namespace: str, name: str) -> dict | None:
    pods = api.list("Pod", namespace, label_selector=f"job-name={name}")
    return max(pods, key=lambda p: p["metadata"].get("creationTimestamp", ""), default=None)


def _append_log(run: Run, stage: StageRun, text: str) -> None:
    """New lines of the stage's log: kept on the stage (the newest MAX_LOG characters) and pushed
    to the open run pages, appended to what they show."""
    _stage(stage, log=(stage.log + text)[-MAX_LOG:])
    logs.push_lines(run, stage, text)


def _state(pod: dict | None) -> dict:
    statuses = ((pod or {}).get("status") or {}).get("containerStatuses") or [{}]
    return statuses[0].get("state") or {}


def _started(pod: dict | None) -> bool:
    """The pod's container runs or ran (its log can be read)."""
    return "running" in _state(pod) or "terminated" in _state(pod)


def _running(pod: dict | None) -> bool:
    return "running" in _state(pod)


def _refused(api: ClusterAPI, namespace: str, name: str) -> str:
    """Why the Job controller could not make the Job's pod (Pod Security, quota...), in the
    cluster's words, or "" (a FailedCreate event on the Job, as kubectl describe job shows)."""
    events = api.list("Event", namespace, field_selector=f"involvedObject.name={name},reason=FailedCreate")
    events = [e for e in events if (e.get("involvedObject") or {}).get("kind") == "Job"]
    return max(events, key=lambda e: e.get("lastTimestamp") or "", default={}).get("message", "")


def _run_job(job: Job, api: ClusterAPI, run: Run, stage: StageRun, obj: dict) -> dict:
    """Create the Job and follow its pod's log (streamed, see logs.py) until it finishes; its
    pod's container status at the end."""
    name = obj["metadata"]["name"]
    namespace = obj["metadata"]["namespace"]
    if api.get("Job", name, namespace) is None:  # a run taken over by another worker has it already
        api.apply(obj)
    _stage(stage, job_name=name)
    deadline = time.monotonic() + stage_deadline() + 60  # the Job's own deadline ends it before
    follower = None
    try:
        while True:
            current = api.get("Job", name, namespace)
            if current is None:
                raise JobFailed(JOB_FAILED(job=name, reason="Deleted", message="the Job was deleted"))
            pod = _job_pod(api, namespace, name)
            if follower is not None and follower.done.is_set() and _running(pod):
                follower.finish(lambda text: _append_log(run, stage, text), timeout=0)
                follower = None  # the stream broke while the container runs: follow it again
            if follower is None and _started(pod):
                follower = logs.LogFollower(api, pod["metadata"]["name"], namespace)
                _stage(stage, log="")  # the stream starts from the first line (again, for a run taken over)
                live.push_run(run)
            if pod is None and not (current.get("status") or {}).get("active"):
                refusal = _refused(api, namespace, name)
                if refusal:
                    raise JobFailed(POD_REFUSED(job=name, message=refusal, namespace=namespace))
            finished = {
                c["type"]: c
                for c in (current.get("status") or {}).get("conditions") or []
                if c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
            }
            if finished:
                if follower is not None:
                    follower.finish(lambda text: _append_log(run, stage, text))
                    follower = None
                pod = _job_pod(api, namespace, name) or pod
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
            if follower is not None and not follower.done.is_set():
                # the log comes as it is written; the Job's status is looked at between two waits
                follower.pump(CHECK_SECONDS, lambda text: _append_log(run, stage, text))
                jobs.checkpoint(job)
            else:
                jobs.wait(job, POLL_SECONDS)  # no pod running yet, or its container ended: the Job's verdict comes
    finally:
        if follower is not None:
            follower.close()


def _registry_secret(api: ClusterAPI, run: Run, namespace: str) -> str:
    """The docker config Kaniko reads, as a Secret in the build's namespace (made or updated per run)."""
    pipeline = run.pipeline
    if not pipeline.registry_username:
        return ""
    registry = pipeline.image_repository.split("/", 1)[0]
    auth = base64.b64encode(f"{pipeline.registry_username}:{pipeline.registry_password}".encode()).decode()
    config = json.dumps({"auths": {registry: {"auth": auth}}})
    prefix = f"{pipeline.namespace}-" if namespace != pipeline.namespace else ""
    name = f"{prefix}{pipeline.name}-registry"[:63]
    api.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace, "labels": {"caas.io/pipeline": pipeline.name}},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": base64.b64encode(config.encode()).decode()},
        }
    )
    return name


# Kaniko unpacks the base image and runs the Dockerfile's RUN steps as root (uid 0) with the
# runtime's default capabilities: not privileged, but "restricted" refuses it (runAsNonRoot,
# runAsUser=0, allowPrivilegeEscalation, capabilities). "baseline" admits it. (BuildKit rootless
# would need seccomp and AppArmor Unconfined, which baseline refuses too: "privileged".)
KANIKO_POD = {"seccompProfile": {"type": "RuntimeDefault"}}
BUILD_PODS = 4  # build pods of one tenant at a time (its build namespace's ResourceQuota)
BUILD_RESOURCES = {
    "defaultRequest": {"cpu": "500m", "memory": "1Gi"},
    "default": {"cpu": "2", "memory": "4Gi"},
    "max": {"cpu": "4", "memory": "8Gi"},
}
KANIKO_CONTAINER = {"runAsUser": 0}


def build_namespace(api: ClusterAPI, space: BuildSpace) -> str:
    """The tenant's build namespace, made (or kept) as the console: Pod Security baseline enforced,
    restricted warned and audited, so what would not pass in the tenant's namespaces shows."""
    labels = {BUILD_TENANT_LABEL: space.tenant.name, MANAGED_LABEL: MANAGED_BY}
    for mode, level in (("enforce", "baseline"), ("warn", "restricted"), ("audit", "restricted")):
        labels[f"pod-security.kubernetes.io/{mode}"] = level
        labels[f"pod-security.kubernetes.io/{mode}-version"] = "latest"
    api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": space.namespace, "labels": labels}})
    meta = {"namespace": space.namespace, "labels": {BUILD_TENANT_LABEL: space.tenant.name}}
    # outside the tenant's namespace quotas, builds are bounded here: a few at a time, each sized
    api.apply(
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "builds", **meta},
            "spec": {"hard": {"pods": str(BUILD_PODS)}},
        }
    )
    api.apply(
        {
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": {"name": "builds", **meta},
            "spec": {"limits": [{"type": "Container", **BUILD_RESOURCES}]},
        }
    )
    api.apply(  # nothing reaches a build; builds reach out (git, the registry)
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "builds-no-ingress", **meta},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
        }
    )
    return space.namespace


def build_space(run: Run) -> BuildSpace | None:
    project = run.pipeline.project
    return BuildSpace.objects.filter(tenant=project.tenant, cluster=project.cluster).select_related("tenant").first()


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
    container = {
        "name": "kaniko",
        "image": KANIKO_IMAGE,
        "args": [a for a in args if a],
        "securityContext": dict(KANIKO_CONTAINER),
    }
    space = build_space(run)
    if space is not None:  # an operator enabled builds for the tenant: in its namespace, as the console
        with ClusterAPI(run.pipeline.project.cluster) as console_api:
            _build(job, run, stage, console_api, build_namespace(console_api, space), container, image)
    else:  # in the app's namespace, as the person: admitted when the tenant's level is baseline
        _build(job, run, stage, api, run.pipeline.namespace, container, image)


def _build(job: Job, run: Run, stage: StageRun, api: ClusterAPI, namespace: str, container: dict, image: str) -> None:
    volumes = []
    secret = _registry_secret(api, run, namespace)
    if secret:
        container["volumeMounts"] = [{"name": "registry", "mountPath": "/kaniko/.docker", "readOnly": True}]
        volumes = [
            {
                "name": "registry",
                "secret": {"secretName": secret, "items": [{"key": ".dockerconfigjson", "path": "config.json"}]},
            }
        ]
    obj = _batch_job(run, stage, container, volumes, namespace=namespace, pod_security=KANIKO_POD)
    try:
        terminated = _run_job(job, api, run, stage, obj)
    except JobFailed as exc:
        if "PodSecurity" in str(jobs.reason(exc)) and namespace == run.pipeline.namespace:
            _log(run, stage, str(BUILDS_OFF(tenant=run.pipeline.project.tenant.name, namespace=namespace)))
        raise
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


def _sonar_secret(api: ClusterAPI, run: Run) -> str:
    """The SonarQube token, as a Secret the scanner's SONAR_TOKEN reads (never in the Job's spec)."""
    pipeline = run.pipeline
    name = f"{pipeline.name}-sonar"[:63]
    api.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": pipeline.namespace, "labels": {"caas.io/pipeline": pipeline.name}},
            "type": "Opaque",
            "data": {"token": base64.b64encode(pipeline.sonar_token.encode()).decode()},
        }
    )
    return name


def scan(job: Job, run: Run, stage: StageRun, api: ClusterAPI) -> None:
    """SonarScanner CLI (its official image) over the commit: an init container clones the
    repository into /usr/src (the image's working directory), the scanner analyses it and
    uploads the report to SONAR_HOST_URL with SONAR_TOKEN; the quality stage then waits for the
    server to process that report and reads the gate."""
    pipeline = run.pipeline
    checkout = (
        'git clone --quiet --depth 50 --branch "$CI_COMMIT_BRANCH" -- "$CI_REPOSITORY_URL" /usr/src'
        ' && cd /usr/src && if [ -n "$CI_COMMIT_SHA" ]; then git checkout --quiet "$CI_COMMIT_SHA"; fi'
    )
    source_env = [
        {"name": "CI_REPOSITORY_URL", "value": pipeline.repository_url},
        {"name": "CI_COMMIT_BRANCH", "value": run.branch},
        {"name": "CI_COMMIT_SHA", "value": run.commit_sha},
        {"name": "HOME", "value": "/tmp"},
    ]
    mount = [{"name": "source", "mountPath": "/usr/src"}]
    init = {"name": "checkout", "image": GIT_IMAGE, "command": ["sh", "-c", checkout], "env": source_env}
    init["volumeMounts"] = mount
    args = [f"-Dsonar.projectKey={pipeline.sonar_project_key}"]
    if run.commit_sha:
        args.append(f"-Dsonar.scm.revision={run.commit_sha}")
    env = [{"name": "SONAR_HOST_URL", "value": pipeline.sonar_url}]
    if pipeline.sonar_token:
        secret = _sonar_secret(api, run)
        env.append({"name": "SONAR_TOKEN", "valueFrom": {"secretKeyRef": {"name": secret, "key": "token"}}})
    container = {"name": "sonar-scanner", "image": SONAR_SCANNER_IMAGE, "args": args, "env": env}
    container["volumeMounts"] = mount
    volumes = [{"name": "source", "emptyDir": {}}]
    _run_job(job, api, run, stage, _batch_job(run, stage, container, volumes, init=[init]))


CE_TASK = re.compile(r"/api/ce/task\?id=([A-Za-z0-9_-]{1,64})")
CE_WAITING = ("PENDING", "IN_PROGRESS")


def _report_processed(job: Job, run: Run, stage: StageRun) -> None:
    """Wait until SonarQube processed the report the scanner uploaded (the task id it printed):
    the gate read before that would be the previous analysis's."""
    pipeline = run.pipeline
    scanned = run.stages.filter(name=Stage.SCAN).values_list("log", flat=True).first() or ""
    found = CE_TASK.findall(scanned)
    if not found:
        return
    deadline = time.monotonic() + stage_deadline()
    while True:
        status, error = sonar.ce_task(pipeline.sonar_url, pipeline.sonar_token, found[-1])
        if status not in CE_WAITING:
            break
        if time.monotonic() > deadline:
            raise JobFailed(REPORT_TIMEOUT(task=found[-1], seconds=stage_deadline()))
        jobs.wait(job, POLL_SECONDS)
    _log(run, stage, f"report {found[-1]}: {status}")
    if status != "SUCCESS":
        raise JobFailed(REPORT_FAILED(task=found[-1], status=status, error=error or "-"))


def quality(job: Job, run: Run, stage: StageRun, api: ClusterAPI) -> None:
    pipeline = run.pipeline
    try:
        _report_processed(job, run, stage)
        gate = sonar.project_status(pipeline.sonar_url, pipeline.sonar_token, pipeline.sonar_project_key, run.branch)
    except sonar.SonarError as exc:
        _log(run, stage, str(exc))
        raise JobFailed(str(exc)) from None
    _append_log(run, stage, gate.report())
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
    _append_log(run, stage, line + "\n")


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


STAGES = {Stage.BUILD: build, Stage.TEST: test, Stage.SCAN: scan, Stage.QUALITY: quality, Stage.DEPLOY: deploy}


# --- how a run ends -----------------------------------------------------------------------


def _delete_jobs(run: Run) -> None:
    """The run's Kubernetes Jobs go (their pods with them): nothing of a stopped run runs on."""
    project = run.pipeline.project
    space = build_space(run)
    places = [(lambda: identity(run.requested_by, project.tenant), project.name)]
    if space is not None:
        places.append((lambda: CONSOLE, space.namespace))  # the build namespace is the console's
    for who, namespace in places:
        try:
            with ClusterAPI(project.cluster, who()) as api:
                for obj in api.list("Job", namespace, label_selector=f"{RUN_LABEL}={run.pk}"):
                    if not (obj.get("status") or {}).get("completionTime"):
                        api.delete("Job", obj["metadata"]["name"], namespace, propagation="Background")
        except (ApiRefused, ClusterError, PermissionError) as exc:
            log.warning("run %s: its Jobs in %s could not be deleted: %s", run.pk, namespace, exc)


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


# --- the build namespace, when builds are disabled ---------------------------------------


def _finished(batch_job: dict) -> bool:
    status = batch_job.get("status") or {}
    conditions = status.get("conditions") or []
    return bool(status.get("completionTime")) or any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in conditions
    )


def remove_build_namespace(job: Job) -> dict:
    """Delete a tenant's build namespace (its build Jobs, Secrets, quota with it), as the console,
    and wait until the cluster has finished it. Idempotent: a namespace gone already is done; one
    enabled again meanwhile, one not made by the console for this tenant, or one where a build
    still runs (a run started as builds were being disabled) is kept."""
    tenant_id, cluster_id, namespace = (job.payload[k] for k in ("tenant", "cluster", "namespace"))
    if BuildSpace.objects.filter(tenant_id=tenant_id, cluster_id=cluster_id).exists():
        jobs.step(job, BUILDS_AGAIN(tenant=job.tenant_name, namespace=namespace))
        return {"namespace": namespace, "deleted": False}
    cluster = Cluster.objects.get(pk=cluster_id)
    with ClusterAPI(cluster) as api:
        found = api.get("Namespace", namespace)
        if found is None:
            jobs.step(job, NAMESPACE_GONE(name=namespace))
            return {"namespace": namespace, "deleted": False}
        labels = (found.get("metadata") or {}).get("labels") or {}
        if labels.get(BUILD_TENANT_LABEL) != job.tenant_name or labels.get(MANAGED_LABEL) != MANAGED_BY:
            raise JobFailed(NOT_A_BUILD_NAMESPACE(namespace=namespace, tenant=job.tenant_name))
        running = [j["metadata"]["name"] for j in api.list("Job", namespace) if not _finished(j)]
        if running:
            raise JobFailed(STILL_BUILDING(namespace=namespace, jobs=", ".join(sorted(running))))
        if api.delete("Namespace", namespace):
            jobs.step(job, DELETING_NAMESPACE(name=namespace))
            jobs.record(
                job,
                "namespace.delete_object",
                OperationResult.SUCCEEDED,
                kind="Namespace",
                name=namespace,
                namespace=namespace,
                before={"labels": labels},
            )
        wait_until_gone(job, api, namespace)
    jobs.step(job, NAMESPACE_GONE(name=namespace))
    return {"namespace": namespace, "deleted": True}


# Idempotent: a run cut off with its worker goes on from its first unfinished stage (a stage's
# Kubernetes Job is taken over when it exists; a deploy already done is not done again).
KINDS = jobs.JobKinds(
    task=run_pipeline_job, runners={"pipeline.run": execute}, idempotent=True, failing=failing, ended=ended
)
# Each step converges (a deleted namespace is gone, a terminating one is waited for).
BUILD_SPACE_KINDS = jobs.JobKinds(
    task=remove_build_namespace_job, runners={"pipeline.builds_remove": remove_build_namespace}, idempotent=True
)
