from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TopologyConfig(AppConfig):
    name = "monitoring.topology"
    label = "topology"
    verbose_name = _("Topology")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from console import navigation
        from console.clusters import mirror

        from . import graph

        # the mirror stores the slim form the graph reads beside each object (a cold build parses that)
        mirror.register_graph_facts(graph.graph_facts)

        navigation.register_section(
            "topology",
            _("Topology"),
            "topology:index",
            _("The network topology of clusters, namespaces and apps."),
            order=60,
        )
