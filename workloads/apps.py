from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkloadsConfig(AppConfig):
    name = "workloads"
    verbose_name = _("Workloads")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from console.jobs import jobs
        from console.live import realtime

        from . import dashboard, live, permissions, podlogs, signals  # noqa: F401 (signals: receivers connect on import)
        from . import tasks  # noqa: F401 (registers its job kinds with the reaper)
        from .choices import JOB_KINDS

        jobs.register_kind_labels(JOB_KINDS)
        permissions.register()  # what the console's identity needs on a cluster for this app's features
        dashboard.register()  # its panels on the console's dashboard

        realtime.register_group("app", live.may_follow_app, live.snapshot)
        realtime.register_group(podlogs.PREFIX, podlogs.may_follow, podlogs.snapshot)
        from .consumers import TerminalConsumer

        realtime.register_socket("ws/terminal/<str:token>/", TerminalConsumer)
        register_beat()


BEAT = {
    "workloads-scale-schedules": {"task": "workloads.tasks.run_scale_schedules", "schedule": 30.0},
    "workloads-observe-autoscalers": {"task": "workloads.tasks.observe_autoscalers", "schedule": 15.0},
}


def register_beat():
    """Add the workloads' periodic tasks to Celery beat's schedule (kept in settings by the
    console, which knows no feature app)."""
    from console.celery import app as celery_app

    celery_app.conf.beat_schedule = {**(celery_app.conf.beat_schedule or {}), **BEAT}
