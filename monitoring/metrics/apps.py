from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MetricsConfig(AppConfig):
    name = "monitoring.metrics"
    label = "metrics"
    verbose_name = _("Metrics")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from console import dashboard, navigation, object_panels
        from console.live import realtime

        from . import live, services, tasks, views  # noqa: F401  (tasks: Celery registers them)

        navigation.register_section(
            "monitoring",
            _("Monitoring"),
            "metrics:overview",
            _("Cluster health, metrics, alerts, events, logs and root-cause analysis."),
            may_open=views.may_open,
            order=50,
        )
        realtime.register_group("metrics", live.may_follow)
        dashboard.register_panel(
            "metrics_health", "metrics/_dash_health.html", services.health_panel_context, dashboard.OPERATORS, order=15
        )
        dashboard.register_panel(
            "metrics_usage", "metrics/_dash_usage.html", services.usage_panel_context, ("tenant",), order=15
        )
        object_panels.register_object_panel("app", "metrics", "metrics/_app_panel.html", views.app_panel, order=30)
        register_beat()


def register_beat() -> None:
    from django.conf import settings

    from console.celery import app as celery_app

    beat = {
        "metrics-scrape-clusters": {
            "task": "monitoring.metrics.tasks.scrape_clusters",
            "schedule": float(settings.METRICS_SCRAPE_SECONDS),
        },
        "metrics-downsample": {
            "task": "monitoring.metrics.tasks.downsample",
            "schedule": float(settings.METRICS_DOWNSAMPLE_SECONDS),
        },
        "metrics-partitions-and-retention": {
            "task": "monitoring.metrics.tasks.maintain_partitions",
            "schedule": 3600.0,
        },
    }
    celery_app.conf.beat_schedule = {**(celery_app.conf.beat_schedule or {}), **beat}
