from django.apps import AppConfig
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class AlertsConfig(AppConfig):
    name = "monitoring.alerts"
    label = "alerts"
    verbose_name = _("Alerts")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from console import alerting, navigation
        from console.live import realtime

        from . import dashboard, live, services, tasks  # noqa: F401  (the worker's tasks)

        navigation.register_section(
            "alerts",
            _("Alerts"),
            "alerts:alert_list",
            _("Alert rules, firing alerts and their history; notification channels."),
            may_open=services.may_open,
            order=52,
        )
        alerting.register_firing_source(services.firing_titles)
        realtime.register_group("alerts", live.may_follow)
        dashboard.register()
        register_beat()


def register_beat() -> None:
    from console.celery import app as celery_app

    beat = {
        "alerts-evaluate": {
            "task": "monitoring.alerts.tasks.evaluate_alerts",
            "schedule": float(settings.ALERT_EVALUATION_SECONDS),
        }
    }
    celery_app.conf.beat_schedule = {**(celery_app.conf.beat_schedule or {}), **beat}
