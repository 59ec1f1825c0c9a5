from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    """The parent of the monitoring apps (monitoring/metrics, alerts, logs, topology), each
    registering its own section."""

    name = "monitoring"
    default_auto_field = "django.db.models.BigAutoField"
