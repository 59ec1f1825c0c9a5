"""Pipeline operations. Each takes the acting user, checks the rules, writes the operation log
and queues the run as a console job (tasks.py). One run per pipeline at a time: a later run
waits in the queue, or supersedes the running one (the pipeline's setting).

Whom a run acts for: who pressed Run; for pushes and schedules the pipeline's "deploy as"
member (chosen by a tenant admin, else whoever made the pipeline), whose right to deploy is
checked again when the run starts. The pusher a webhook's payload names is never trusted: it
is recorded as what the provider claims, nothing more (anyone who can push can name anyone)."""

import secrets
from urllib.parse import urlsplit

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from console import crypto, documents
from console.accounts import roles
from console.accounts.access import require_permission
from console.accounts.models import User
from console.choices import JobStatus, OperationResult
from console.clusters.models import MirroredObject
from console.jobs import jobs
from console.jobs.models import Job
from console.oplog import oplog
from console.texts import message
from tenants import access
from tenants.models import Membership, Project
from workloads import specs
from workloads.checks import check_may_change
from workloads.choices import AppKind
from workloads.models import App

from . import live, webhooks
from .choices import Concurrency, RunStatus, Stage, StageStatus, Strategy, Trigger
from .models import BuildSpace, Delivery, Pipeline, Run, StageRun

SETTINGS = (
    "app",
    "repository_url",
    "branch",
    "dockerfile",
    "context",
    "image_repository",
    "registry_username",
    "test_command",
    "sonar_url",
    "sonar_project_key",
    "strategy",
    "canary_weight",
    "promote_after_minutes",
    "concurrency",
    "schedule_minutes",
)
SECRET_SETTINGS = ("registry_password", "sonar_token")
SUPERSEDED = message("Run #%(number)s was superseded by a later push.")
EXPORT_KIND = "Pipeline"
EXPORT_VERSION = "caas.io/v1"


# --- settings ---------------------------------------------------------------------------


def check_settings(project: Project, values: dict) -> dict:
    """The pipeline's settings as stored (app by name), or ValidationError naming the field."""
    errors = {}
    app = values.get("app")
    if isinstance(app, str):
        app = App.objects.filter(project=project, name=app).first()
    if not isinstance(app, App) or app.project_id != project.pk:
        errors["app"] = _("Choose an app of namespace %(ns)s.") % {"ns": project.name}
    elif app.kind != AppKind.DEPLOYMENT and values.get("strategy") == Strategy.CANARY:
        errors["strategy"] = _("Canary releases are offered for Deployments.")
    url = str(values.get("repository_url") or "")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http", "git", "ssh") or not parts.netloc or any(c.isspace() for c in url):
        errors["repository_url"] = _("Give the repository's https://, ssh:// or git:// URL.")
    branch = str(values.get("branch") or "")
    if (
        not branch
        or branch.startswith(("-", "/"))
        or ".." in branch
        or any(c.isspace() or c in "~^:?*[\\" for c in branch)
    ):
        errors["branch"] = _("Give a branch name, e.g. main.")
    for field in ("dockerfile", "context"):
        path = str(values.get(field) or "")
        if not path or path.startswith("/") or ".." in path.split("/") or any(c.isspace() for c in path):
            errors[field] = _("A path inside the repository, e.g. Dockerfile or ./app.")
    image = str(values.get("image_repository") or "")
    if "/" not in image or ":" in image.rsplit("/", 1)[-1] or "@" in image or any(c.isspace() for c in image):
        errors["image_repository"] = _("Give the image repository without a tag, e.g. registry.example.com/acme/web.")
    sonar = str(values.get("sonar_url") or "")
    if sonar:
        parts = urlsplit(sonar)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            errors["sonar_url"] = _("Give the SonarQube server's http(s):// address.")
        if not values.get("sonar_project_key"):
            errors["sonar_project_key"] = _("Name the SonarQube project whose quality gate decides.")
    weight = values.get("canary_weight")
    if not isinstance(weight, int) or not 1 <= weight <= 100:
        errors["canary_weight"] = _("The canary's weight is a share of the traffic from 1 to 100 (%).")
    minutes = values.get("promote_after_minutes")
    if not isinstance(minutes, (int, float)) or not 0.05 <= minutes <= 24 * 60:
        errors["promote_after_minutes"] = _("Promote after 0.05 to 1440 minutes.")
    schedule = values.get("schedule_minutes")
    if not isinstance(schedule, int) or not (schedule == 0 or 5 <= schedule <= 7 * 24 * 60):
        errors["schedule_minutes"] = _("Run every 5 to 10080 minutes, or 0 for no schedule.")
    if values.get("strategy") not in Strategy.values:
        errors["strategy"] = _("Choose rolling or canary.")
    if values.get("concurrency") not in Concurrency.values:
        errors["concurrency"] = _("Choose queue or supersede.")
    if len(str(values.get("test_command") or "")) > 4000:
        errors["test_command"] = _("The test command is at most 4000 characters.")
    if errors:
        raise ValidationError(errors)
    cleaned = {name: values.get(name) for name in SETTINGS}
    cleaned["app"] = app
    for name in ("registry_username", "test_command", "sonar_url", "sonar_project_key"):
        cleaned[name] = str(cleaned[name] or "")
    return cleaned


def check_run_as(project: Project, acting_user: User, username) -> User | None:
    """The "deploy as" member: none (the pipeline's maker), the acting user themselves, or, when
    a tenant admin (or an operator) chooses, another active member of the tenant."""
    if not username:
        return None
    tenant = project.tenant
    user = (
        get_user_model()
        .objects.filter(
            username=str(username), is_active=True, pk__in=Membership.objects.filter(tenant=tenant).values("user")
        )
        .first()
    )
    if user is None:
        raise ValidationError({"run_as": _("%(name)s is no active member of the tenant.") % {"name": username}})
    if user != acting_user and not access.may_administer(acting_user, tenant):
        raise PermissionError(_("Only a tenant admin chooses another member to deploy as."))
    return user


def may_deploy(user: User | None, pipeline: Pipeline) -> bool:
    """The member may (still) deploy the pipeline's app: active, a member (or an operator), the tenant active."""
    tenant = pipeline.project.tenant
    return user is not None and user.is_active and tenant.is_active and access.may_operate(user, tenant)


def loggable(values: dict) -> dict:
    logged = {name: (value.name if isinstance(value, App) else value) for name, value in values.items()}
    for name in SECRET_SETTINGS:
        if values.get(name):
            logged[name] = "***"
    return logged


def _store_secrets(pipeline: Pipeline, values: dict) -> None:
    if values.get("registry_password"):
        pipeline.registry_password_encrypted = crypto.encrypt(values["registry_password"])
    if values.get("sonar_token"):
        pipeline.sonar_token_encrypted = crypto.encrypt(values["sonar_token"])


def create_pipeline(
    project: Project, *, acting_user: User, name: str, run_as: str = "", **values
) -> tuple[Pipeline, str]:
    """A new pipeline and its webhook secret: the secret is shown once, to its maker, never again.
    run_as: the member pushes deploy as (a tenant admin may name another member); empty: the maker."""
    target = {
        "tenant": project.tenant.name,
        "cluster": project.cluster.name,
        "namespace": project.name,
        "kind": "Pipeline",
        "name": name,
    }
    with oplog.recorded(acting_user, "pipeline.create", target=target, payload=loggable(values)) as outcome:
        check_may_change(acting_user, project)
        specs.check_app_name(name)
        if Pipeline.objects.filter(project=project, name=name).exists():
            raise ValidationError({"name": _("A pipeline named %(name)s exists already.") % {"name": name}})
        cleaned = check_settings(project, values)
        deploy_as = check_run_as(project, acting_user, run_as)
        secret = secrets.token_urlsafe(32)
        pipeline = Pipeline(
            project=project,
            name=name,
            created_by=acting_user,
            run_as=deploy_as,
            webhook_secret_encrypted=crypto.encrypt(secret),
            **cleaned,
        )
        _store_secrets(pipeline, values)
        pipeline.save()
        outcome.after = {**loggable(cleaned), "deploys_as": pipeline.deploys_as.get_username()}
    return pipeline, secret


def _deploys_as_name(pipeline: Pipeline) -> str:
    return pipeline.deploys_as.get_username() if pipeline.deploys_as else ""


def update_pipeline(pipeline: Pipeline, *, acting_user: User, run_as: str | None = None, **values) -> Pipeline:
    """Change the settings; credentials given replace the stored ones, left empty keep them.
    run_as None keeps the "deploy as" member, "" makes it the maker again. A pipeline that
    deploys as somebody else is changed by them or a tenant admin only: else whoever may push
    could point it at their own repository and deploy as that person."""
    with oplog.recorded(acting_user, "pipeline.update", target=pipeline.target(), payload=loggable(values)) as outcome:
        check_may_change(acting_user, pipeline.project)
        tenant = pipeline.project.tenant
        deploys_as = pipeline.deploys_as
        if deploys_as not in (None, acting_user) and not access.may_administer(acting_user, tenant):
            raise PermissionError(
                _("Pipeline %(name)s deploys as %(who)s: only they or a tenant admin change it.")
                % {"name": pipeline.name, "who": deploys_as.get_username()}
            )
        cleaned = check_settings(pipeline.project, values)
        if run_as is not None:
            cleaned["run_as"] = check_run_as(pipeline.project, acting_user, run_as)
        outcome.before = {
            **loggable({name: getattr(pipeline, name) for name in SETTINGS}),
            "deploys_as": _deploys_as_name(pipeline),
        }
        for name, value in cleaned.items():
            setattr(pipeline, name, value)
        _store_secrets(pipeline, values)
        pipeline.save()
        settings = loggable({k: v for k, v in cleaned.items() if k != "run_as"})
        outcome.after = {**settings, "deploys_as": _deploys_as_name(pipeline)}
    return pipeline


def rotate_webhook_secret(pipeline: Pipeline, *, acting_user: User) -> str:
    with oplog.recorded(acting_user, "pipeline.webhook_secret", target=pipeline.target()):
        check_may_change(acting_user, pipeline.project)
        secret = secrets.token_urlsafe(32)
        Pipeline.objects.filter(pk=pipeline.pk).update(webhook_secret_encrypted=crypto.encrypt(secret))
    return secret


def delete_pipeline(pipeline: Pipeline, *, acting_user: User) -> None:
    with oplog.recorded(acting_user, "pipeline.delete", target=pipeline.target()):
        check_may_change(acting_user, pipeline.project)
        if pipeline.runs.filter(status=RunStatus.RUNNING).exists():
            raise ValidationError(_("A run is in progress: cancel it first."))
        pipeline.delete()


# --- YAML -------------------------------------------------------------------------------


def export_pipeline(pipeline: Pipeline) -> str:
    """The pipeline as YAML, without its credentials and webhook secret."""
    import yaml

    spec = {name: getattr(pipeline, name) for name in SETTINGS}
    spec["app"] = pipeline.app.name
    document = {"apiVersion": EXPORT_VERSION, "kind": EXPORT_KIND, "metadata": {"name": pipeline.name}, "spec": spec}
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def import_pipeline(project: Project, *, acting_user: User, text: str) -> tuple[Pipeline, str]:
    """Create the pipeline a YAML export describes, or update the one of that name (its
    credentials stay). Returns the pipeline and its new webhook secret ("" when it existed)."""
    try:
        document = documents.load_yaml(text, max_bytes=64 * 1024)
    except documents.DocumentError as exc:
        raise ValidationError({"text": str(exc)}) from None
    if not isinstance(document, dict) or document.get("kind") != EXPORT_KIND:
        raise ValidationError({"text": _("This is not a pipeline: kind must be Pipeline.")})
    metadata, spec = document.get("metadata"), document.get("spec")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str) or not isinstance(spec, dict):
        raise ValidationError({"text": _("A pipeline needs metadata.name and a spec.")})
    unknown = sorted(set(spec) - set(SETTINGS))
    if unknown:
        raise ValidationError({"text": _("Unknown settings: %(names)s.") % {"names": ", ".join(map(str, unknown))}})
    values = {**{name: getattr(Pipeline, name).field.get_default() for name in SETTINGS if name != "app"}, **spec}
    existing = Pipeline.objects.filter(project=project, name=metadata["name"]).first()
    try:
        if existing is not None:
            return update_pipeline(existing, acting_user=acting_user, **values), ""
        return create_pipeline(project, acting_user=acting_user, name=metadata["name"], **values)
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            raise ValidationError(
                {"text": [f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items()]}
            ) from None
        raise


# --- runs -------------------------------------------------------------------------------


def stages_for(pipeline: Pipeline) -> list[str]:
    names = [Stage.BUILD]
    if pipeline.test_command:
        names.append(Stage.TEST)
    if pipeline.sonar_url:
        names += [Stage.SCAN, Stage.QUALITY]
    return [*names, Stage.DEPLOY]


def _new_run(pipeline: Pipeline, **fields) -> Run:
    """The run row, numbered, with its stages; then started now or left queued (the setting)."""
    Pipeline.objects.select_for_update().filter(pk=pipeline.pk).first()  # one numbering at a time
    number = (pipeline.runs.aggregate(n=Max("number"))["n"] or 0) + 1
    run = Run.objects.create(pipeline=pipeline, number=number, branch=pipeline.branch, **fields)
    StageRun.objects.bulk_create([StageRun(run=run, order=i, name=name) for i, name in enumerate(stages_for(pipeline))])
    others = pipeline.runs.filter(status__in=RunStatus.active()).exclude(pk=run.pk)
    if pipeline.concurrency == Concurrency.SUPERSEDE:
        for other in others:
            _supersede(other)
    launch_next(pipeline)
    run.refresh_from_db()
    live.push_runs(pipeline)
    return run


def _supersede(run: Run) -> None:
    if run.job_id is None:
        Run.objects.filter(pk=run.pk).update(status=RunStatus.SUPERSEDED, finished_at=timezone.now())
        run.stages.filter(status=StageStatus.PENDING).update(status=StageStatus.SKIPPED)
    else:
        Run.objects.filter(pk=run.pk).update(status=RunStatus.SUPERSEDED)
        job = Job.objects.select_for_update().filter(pk=run.job_id).first()
        if job is None or job.status not in JobStatus.active():
            return
        job.cancel_requested = True
        job.save(update_fields=["cancel_requested"])
        if job.status == JobStatus.PENDING and job.owner != jobs.REAPER:  # no worker has it: it ends now
            jobs.fail(job, SUPERSEDED(number=run.number))


def launch_next(pipeline: Pipeline) -> Run | None:
    """Start the oldest queued run when no run of the pipeline is running (its job not ended)."""
    with transaction.atomic():
        Pipeline.objects.select_for_update().filter(pk=pipeline.pk).first()
        busy = pipeline.runs.filter(job__isnull=False, job__finished_at__isnull=True).exists()
        if busy:
            return None
        run = pipeline.runs.filter(status=RunStatus.QUEUED, job__isnull=True).order_by("number").first()
        if run is None:
            return None
        project = pipeline.project
        run.job = jobs.create_job(
            "pipeline.run",
            requested_by=run.requested_by,
            tenant=(project.tenant_id, project.tenant.name),
            target={
                "cluster": project.cluster.name,
                "namespace": project.name,
                "kind": "Pipeline",
                "name": f"{pipeline.name} #{run.number}",
            },
            payload={"run": run.pk, "pipeline": pipeline.pk},
        )
        run.save(update_fields=["job"])
        return run


def _last_commit(pipeline: Pipeline) -> dict:
    """What a manual or scheduled run builds: the branch's last pushed commit the console heard of."""
    last = pipeline.runs.filter(branch=pipeline.branch).exclude(commit_sha="").order_by("-number").first()
    if last is None:
        return {}
    return {"commit_sha": last.commit_sha, "commit_message": last.commit_message, "commit_author": last.commit_author}


def run_pipeline(pipeline: Pipeline, *, acting_user: User) -> Run:
    """The Run button: build the branch's last pushed commit (or its head) now."""
    with oplog.recorded(acting_user, "pipeline.run", target=pipeline.target()) as outcome:
        check_may_change(acting_user, pipeline.project)
        run = _new_run(pipeline, trigger=Trigger.MANUAL, requested_by=acting_user, **_last_commit(pipeline))
        outcome.after = {"run": run.number, "status": run.status}
    return run


def rerun(run: Run, *, acting_user: User) -> Run:
    """Run a past run's commit again, as a new run."""
    pipeline = run.pipeline
    with oplog.recorded(acting_user, "pipeline.rerun", target=pipeline.target(), payload={"run": run.number}) as out:
        check_may_change(acting_user, pipeline.project)
        new = _new_run(
            pipeline,
            trigger=Trigger.RERUN,
            requested_by=acting_user,
            rerun_of=run,
            commit_sha=run.commit_sha,
            commit_message=run.commit_message,
            commit_author=run.commit_author,
        )
        out.after = {"run": new.number, "status": new.status}
    return new


def cancel_run(run: Run, *, acting_user: User) -> None:
    """Stop a run: a queued one never starts; a running one stops at its next step, its
    Kubernetes Jobs deleted (tasks.failing)."""
    pipeline = run.pipeline
    with oplog.recorded(acting_user, "pipeline.cancel", target=pipeline.target(), payload={"run": run.number}):
        check_may_change(acting_user, pipeline.project)
        run = Run.objects.select_for_update().get(pk=run.pk)
        if not run.is_active:
            raise ValidationError(_("Run #%(n)s has ended already.") % {"n": run.number})
        if run.job_id is None:
            run.status, run.finished_at = RunStatus.CANCELLED, timezone.now()
            run.save(update_fields=["status", "finished_at"])
            run.stages.filter(status=StageStatus.PENDING).update(status=StageStatus.CANCELLED)
            live.push_runs(pipeline)
        else:
            jobs.cancel_job(run.job, acting_user=acting_user)


def run_schedules(now=None) -> list[Run]:
    """Runs of the pipelines whose schedule is due (beat calls this every 30 s)."""
    now = now or timezone.now()
    started = []
    for pipeline in Pipeline.objects.filter(schedule_minutes__gt=0).select_related("project__tenant", "created_by"):
        last = pipeline.last_scheduled_at or pipeline.created_at
        if (now - last).total_seconds() < pipeline.schedule_minutes * 60:
            continue
        if not pipeline.project.tenant.is_active:
            continue
        with oplog.recorded(None, "pipeline.run", target=pipeline.target(), actor_name="schedule") as outcome:
            updated = Pipeline.objects.filter(pk=pipeline.pk, last_scheduled_at=pipeline.last_scheduled_at).update(
                last_scheduled_at=now
            )
            if not updated:
                continue  # another beat took it
            run = _new_run(
                pipeline, trigger=Trigger.SCHEDULE, requested_by=pipeline.deploys_as, **_last_commit(pipeline)
            )
            outcome.after = {"run": run.number, "status": run.status}
        started.append(run)
    return started


# --- webhooks ---------------------------------------------------------------------------


def receive_webhook(pipeline_id: int, provider: str, headers, body: bytes) -> tuple[int, str, Run | None]:
    """A provider's delivery: (HTTP status, what to answer, the run it started). Unknown pipelines,
    unsigned or wrongly signed requests are refused and logged; a replayed delivery is ignored."""
    pipeline = (
        Pipeline.objects.filter(pk=pipeline_id).select_related("project__tenant", "project__cluster").first()
        if isinstance(pipeline_id, int)
        else None
    )
    target = pipeline.target() if pipeline else {"kind": "Pipeline", "name": str(pipeline_id)}
    actor_name = f"webhook ({provider})"[:150]
    try:
        if pipeline is None:
            raise webhooks.Refused(404, "no such pipeline")
        webhooks.verify(provider, pipeline.webhook_secret, headers, body)
        push = webhooks.parse(provider, headers, body)
    except webhooks.Refused as exc:
        oplog.record(
            None,
            "pipeline.webhook",
            result=OperationResult.DENIED,
            actor_name=actor_name,
            target=target,
            payload={"provider": provider},
            error=exc.reason,
        )
        return exc.status, exc.reason, None
    with transaction.atomic():
        delivery, created = Delivery.objects.get_or_create(
            pipeline=pipeline, provider=provider, delivery_id=push.delivery_id
        )
        if not created:
            return 200, "replayed delivery ignored", None
        if push.event == "ping":
            return 200, "pong", None
        if push.event != "push":
            return 202, f"event {push.event} ignored", None
        if push.deleted or push.branch != pipeline.branch:
            return 202, f"push to {push.branch or 'a tag'} ignored: the pipeline builds {pipeline.branch}", None
        # The run acts as the pipeline's "deploy as" member, whoever the payload says pushed.
        user = pipeline.deploys_as
        claimed = push.pusher or push.pusher_email
        payload = {
            "provider": provider,
            "delivery": push.delivery_id,
            "pusher_claimed": claimed,  # unverified: what the provider's payload says
            "commit": push.sha,
        }
        with oplog.recorded(None, "pipeline.push", target=target, payload=payload, actor_name=actor_name) as outcome:
            run = _new_run(
                pipeline,
                trigger=Trigger.PUSH,
                requested_by=user,
                pusher=claimed,
                provider=provider,
                commit_sha=push.sha,
                commit_message=push.message,
                commit_author=push.author,
            )
            delivery.run = run
            delivery.save(update_fields=["run"])
            outcome.after = {
                "run": run.number,
                "status": run.status,
                "acting_for": user.get_username() if user else "",
                "pushed_by": f"{claimed} (as claimed by {run.get_provider_display()})" if claimed else "",
            }
    return 202, f"run #{run.number} {run.status}", run


# --- image builds ---------------------------------------------------------------------------


def set_builds(pipeline: Pipeline, *, acting_user: User, enabled: bool) -> BuildSpace | None:
    """Operators enable (or disable) image builds for the pipeline's tenant on its cluster: its
    Kaniko Jobs then run in the tenant's build namespace (caas-build-<tenant>, Pod Security
    baseline), made by the console when a build first needs it, instead of the tenant's own
    namespaces (restricted, where Kaniko is refused). Disabling is refused while a run of the
    tenant is running; builds go back to the tenant's namespaces at once, and a job deletes the
    build namespace (also one that an earlier disabling left, as the mirror shows)."""
    project = pipeline.project
    tenant, cluster = project.tenant, project.cluster
    namespace = BuildSpace.PREFIX + tenant.name
    target = {"tenant": tenant.name, "cluster": cluster.name, "kind": "Namespace", "name": namespace}
    action = "pipeline.builds_enable" if enabled else "pipeline.builds_disable"
    with oplog.recorded(acting_user, action, target=target) as outcome:
        require_permission(roles.is_operator(acting_user), _("Only operators enable image builds for a tenant."))
        space = BuildSpace.objects.select_for_update().filter(tenant=tenant, cluster=cluster).first()
        outcome.before = {"enabled": space is not None}
        if enabled and space is None:
            space = BuildSpace.objects.create(tenant=tenant, cluster=cluster, enabled_by=acting_user)
        elif not enabled:
            left = MirroredObject.objects.filter(cluster=cluster, kind="Namespace", name=namespace).exists()
            if space is not None or left:
                if Run.objects.filter(
                    pipeline__project__tenant=tenant, pipeline__project__cluster=cluster, status=RunStatus.RUNNING
                ).exists():
                    raise ValidationError(_("A run of the tenant is in progress: wait for it or cancel it first."))
                if space is not None:
                    space.delete()
                    space = None
                job = jobs.create_job(
                    "pipeline.builds_remove",
                    requested_by=acting_user,
                    tenant=(tenant.pk, tenant.name),
                    target={"cluster": cluster.name, "namespace": namespace, "kind": "Namespace", "name": namespace},
                    payload={"tenant": tenant.pk, "cluster": cluster.pk, "namespace": namespace},
                )
                outcome.accepted(job, enabled=False)  # the namespace goes in the job
                return None
        outcome.after = {"enabled": space is not None}
    return space


def build_space(pipeline: Pipeline) -> BuildSpace | None:
    project = pipeline.project
    return BuildSpace.objects.filter(tenant=project.tenant, cluster=project.cluster).first()


def may_change(user, pipeline: Pipeline) -> bool:
    return access.may_operate(user, pipeline.project.tenant) and pipeline.project.tenant.is_active


def require_change(user, pipeline: Pipeline) -> None:
    require_permission(may_change(user, pipeline), _("Only the tenant's members and operators run its pipelines."))
