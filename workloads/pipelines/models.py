"""Pipelines (one per app and repository branch: build with Kaniko, test in the built image,
SonarQube's quality gate, deploy through the workloads services), their runs and each run's
stages (a Kubernetes Job each, but the quality gate and the deploy), and the webhook
deliveries already taken (a replayed one is ignored). Credentials are stored encrypted
(console.crypto), never shown again."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from console import crypto
from console.clusters.models import Cluster
from console.jobs.models import Job
from console.texts import StoredTextField
from tenants.models import Project, Tenant
from workloads.models import App, InNamespace

from .choices import Concurrency, Provider, RunStatus, Stage, StageStatus, Strategy, Trigger


class Pipeline(InNamespace, models.Model):
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="pipelines", verbose_name=_("namespace")
    )
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="pipelines", verbose_name=_("app"))
    name = models.CharField(_("name"), max_length=40)
    repository_url = models.CharField(_("repository URL"), max_length=500)
    branch = models.CharField(_("branch"), max_length=200, default="main")
    dockerfile = models.CharField(_("Dockerfile path"), max_length=300, default="Dockerfile")
    context = models.CharField(_("build context"), max_length=300, default=".")
    image_repository = models.CharField(_("image repository"), max_length=300)
    registry_username = models.CharField(_("registry user"), max_length=200, blank=True)
    registry_password_encrypted = models.TextField(blank=True)
    test_command = models.TextField(_("test command"), blank=True)
    sonar_url = models.CharField(_("SonarQube server"), max_length=300, blank=True)
    sonar_project_key = models.CharField(_("SonarQube project key"), max_length=400, blank=True)
    sonar_token_encrypted = models.TextField(blank=True)
    strategy = models.CharField(_("deploy strategy"), max_length=16, choices=Strategy.choices, default=Strategy.ROLLING)
    canary_weight = models.PositiveSmallIntegerField(_("canary weight (%)"), default=20)
    promote_after_minutes = models.FloatField(_("promote after (minutes)"), default=10)
    concurrency = models.CharField(
        _("later pushes"), max_length=16, choices=Concurrency.choices, default=Concurrency.QUEUE
    )
    schedule_minutes = models.PositiveIntegerField(_("run every (minutes)"), default=0)  # 0: no schedule
    last_scheduled_at = models.DateTimeField(null=True, blank=True)
    webhook_secret_encrypted = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Whom pushes and schedules deploy as: a member a tenant admin chose, else the maker. Never
    # the pusher a webhook names: anybody who can push could name anybody.
    run_as = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("deploy as"),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project__tenant__name", "project__name", "name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="pipeline_unique_name")]

    def __str__(self):
        return self.name

    @property
    def group(self):
        """The websocket group its page (the runs table) follows."""
        return f"pipeline-{self.pk}"

    @property
    def deploys_as(self):
        """The member its pushes and schedules deploy as (checked again when a run starts)."""
        return self.run_as or self.created_by

    @property
    def webhook_secret(self):
        return crypto.decrypt(self.webhook_secret_encrypted)

    @property
    def registry_password(self):
        return crypto.decrypt(self.registry_password_encrypted) if self.registry_password_encrypted else ""

    @property
    def sonar_token(self):
        return crypto.decrypt(self.sonar_token_encrypted) if self.sonar_token_encrypted else ""

    def target(self, **extra):
        return {
            "tenant": self.project.tenant.name,
            "cluster": self.project.cluster.name,
            "namespace": self.project.name,
            "kind": "Pipeline",
            "name": self.name,
            **extra,
        }


class Run(models.Model):
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="runs")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    # Whom the run acts for: who pressed Run (or Run again), else the pipeline's "deploy as"
    # member (pushes, schedules). Checked again when the run starts.
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pusher = models.CharField(max_length=200, blank=True)  # as the provider's payload claims: unverified
    provider = models.CharField(max_length=16, choices=Provider.choices, blank=True)
    branch = models.CharField(max_length=200)
    commit_sha = models.CharField(max_length=64, blank=True)
    commit_message = models.TextField(blank=True)
    commit_author = models.CharField(max_length=300, blank=True)
    image = models.CharField(max_length=500, blank=True)  # the tag built
    image_digest = models.CharField(max_length=100, blank=True)
    revision = models.CharField(max_length=32, blank=True)  # the app's revision it produced
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    rerun_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reruns")
    error = StoredTextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["pipeline", "number"], name="run_unique_number")]

    def __str__(self):
        return f"{self.pipeline.name} #{self.number}"

    @property
    def group(self):
        return f"pipelinerun-{self.pk}"

    @property
    def colour(self):
        return RunStatus.colour(self.status)

    @property
    def is_active(self):
        return self.status in RunStatus.active()

    @property
    def short_sha(self):
        return self.commit_sha[:10]

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class StageRun(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="stages")
    order = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=16, choices=Stage.choices)
    status = models.CharField(max_length=16, choices=StageStatus.choices, default=StageStatus.PENDING)
    job_name = models.CharField(max_length=63, blank=True)  # its Kubernetes Job
    log = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["order"]

    def __str__(self):
        return f"{self.run_id}/{self.name}"

    @property
    def colour(self):
        return StageStatus.colour(self.status)

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class BuildSpace(models.Model):
    """A tenant's build namespace on a cluster (caas-build-<tenant>), enabled by an operator:
    Kaniko runs as root, which Pod Security "restricted" (tenant namespaces) refuses; this
    namespace enforces "baseline" and holds nothing but the tenant's build Jobs, made by the
    console itself. Tenants get no access to it."""

    PREFIX = "caas-build-"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="build_spaces")
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="+")
    enabled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    enabled_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "cluster"], name="buildspace_unique_cluster")]

    def __str__(self):
        return self.namespace

    @property
    def namespace(self):
        return f"{self.PREFIX}{self.tenant.name}"


class Delivery(models.Model):
    """A webhook delivery taken: the same delivery id again is a replay, and is ignored."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="deliveries")
    provider = models.CharField(max_length=16, choices=Provider.choices)
    delivery_id = models.CharField(max_length=200)
    received_at = models.DateTimeField(auto_now_add=True)
    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "provider", "delivery_id"], name="delivery_unique_id")
        ]

    def __str__(self):
        return f"{self.provider} {self.delivery_id}"
