from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LogsConfig(AppConfig):
    name = "monitoring.logs"
    label = "logs"
    verbose_name = _("Logs")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from console import navigation, object_panels
        from console.jobs import jobs
        from console.live import realtime

        from . import live, tasks, views  # noqa: F401  (tasks: registered with the worker)
        from .consumers import TimelineConsumer

        navigation.register_section(
            "logs",
            _("Logs"),
            "logs:search",
            _("Component logs, resource events and application logs, searched in one place."),
            order=55,
        )
        jobs.register_kind_labels(tasks.JOB_KINDS)
        jobs.register(tasks.KINDS)
        object_panels.register_object_panel(
            "cluster", "logs", "logs/_cluster_panel.html", views.cluster_panel, order=60
        )
        object_panels.register_object_panel("app", "logs", "logs/_app_panel.html", views.app_panel, order=40)
        realtime.register_socket(live.SOCKET_ROUTE, TimelineConsumer)
        register_beat()


BEAT = {
    "logs-maintain-partitions": {"task": "monitoring.logs.tasks.maintain_partitions", "schedule": 3600.0},
    "logs-import-events": {"task": "monitoring.logs.tasks.import_events", "schedule": 5.0},
}


def register_beat() -> None:
    from console.celery import app as celery_app

    celery_app.conf.beat_schedule = {**(celery_app.conf.beat_schedule or {}), **BEAT}
