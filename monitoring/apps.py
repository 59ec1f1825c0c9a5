from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MonitoringConfig(AppConfig):
    name = "monitoring"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        register_sections()


def register_sections() -> None:
    """Placeholders for the nested apps still to come (monitoring/metrics, monitoring/logs,
    monitoring/topology): each replaces its own with its list page."""
    from console import navigation

    navigation.register_section(
        "monitoring",
        _("Monitoring"),
        None,
        _("Cluster health, metrics, alerts, events, logs and root-cause analysis."),
        order=50,
    )
    navigation.register_section(
        "logs",
        _("Logs"),
        None,
        _("Component logs, resource events and application logs, searched in one place."),
        order=55,
    )
    navigation.register_section(
        "topology", _("Topology"), None, _("The network topology of clusters, namespaces and apps."), order=60
    )
