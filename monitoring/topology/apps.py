from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TopologyConfig(AppConfig):
    name = "monitoring.topology"
    label = "topology"
    verbose_name = _("Topology")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from console import navigation

        navigation.register_section(
            "topology",
            _("Topology"),
            "topology:index",
            _("The network topology of clusters, namespaces and apps."),
            order=60,
        )
