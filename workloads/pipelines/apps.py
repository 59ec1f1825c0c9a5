from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PipelinesConfig(AppConfig):
    name = "workloads.pipelines"
    label = "pipelines"
    verbose_name = _("Pipelines")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from console import navigation
        from console.jobs import jobs
        from console.live import realtime

        from . import dashboard, demo, live, tasks
        from .choices import JOB_KINDS

        dashboard.register()
        demo.register()
        jobs.register_kind_labels(JOB_KINDS)
        jobs.register(tasks.KINDS)
        jobs.register(tasks.BUILD_SPACE_KINDS)
        navigation.register_section(
            "pipelines",
            _("Pipelines"),
            "pipelines:pipeline_list",
            _("CI/CD: webhooks, image builds, quality gates and deployments."),
            order=80,
        )
        realtime.register_group("pipelinerun", live.may_follow_run, live.snapshot)
        realtime.register_group("pipeline", live.may_follow_pipeline, live.pipeline_snapshot)
        register_beat()


BEAT = {"pipelines-schedules": {"task": "workloads.pipelines.tasks.run_schedules", "schedule": 30.0}}


def register_beat() -> None:
    from console.celery import app as celery_app

    celery_app.conf.beat_schedule = {**(celery_app.conf.beat_schedule or {}), **BEAT}
