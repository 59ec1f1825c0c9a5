from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkloadsConfig(AppConfig):
    name = "workloads"
    verbose_name = _("Workloads")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from console.apps import register_feature_app
        from console.live import realtime

        # signals: receivers connect on import
        from . import dashboard, demo, live, permissions, podlogs, signals, tasks  # noqa: F401
        from .choices import JOB_KINDS

        # its kinds of job; what the console's identity needs on a cluster for this app's features;
        # its panels on the console's dashboard; the demo app of `manage.py seed_demo`
        register_feature_app(JOB_KINDS, tasks, permissions, dashboard, demo)
        register_sections()

        realtime.register_group("app", live.may_follow_app, live.snapshot)
        realtime.register_group(podlogs.PREFIX, podlogs.may_follow, podlogs.snapshot)
        from .consumers import TerminalConsumer

        realtime.register_socket("ws/terminal/<str:token>/", TerminalConsumer)
        register_beat()


def register_sections() -> None:
    """Its section (workloads/storage, stacks and pipelines register their own)."""
    from console import navigation

    navigation.register_section(
        "workloads",
        _("Workloads"),
        "workloads:app_list",
        _("Deploy, upgrade, roll back, scale and canary-release applications."),
        order=30,
    )


BEAT = {
    "workloads-scale-schedules": {"task": "workloads.tasks.run_scale_schedules", "schedule": 30.0},
    "workloads-observe-autoscalers": {"task": "workloads.tasks.observe_autoscalers", "schedule": 15.0},
}


def register_beat() -> None:
    """Add the workloads' periodic tasks to Celery beat's schedule (kept in settings by the
    console, which knows no feature app)."""
    from console.celery import app as celery_app

    celery_app.conf.beat_schedule = {**(celery_app.conf.beat_schedule or {}), **BEAT}
