from django.urls import path

from . import views

app_name = "topology"

CLUSTER = "clusters/<slug:name>/"
TENANT = "tenants/<slug:tenant>/"
NAMESPACE = TENANT + "<slug:namespace>/"

urlpatterns = [
    path("", views.index, name="index"),
    path(CLUSTER, views.cluster, name="cluster"),
    path(CLUSTER + "graph.json", views.cluster_graph, name="cluster_graph"),
    path(
        CLUSTER + "namespaces/<slug:namespace>/graph.json",
        views.cluster_namespace_graph,
        name="cluster_namespace_graph",
    ),
    path(CLUSTER + "node/", views.cluster_node, name="cluster_node"),
    path(CLUSTER + "reach/", views.cluster_reach, name="cluster_reach"),
    path(TENANT, views.tenant, name="tenant"),
    path(TENANT + "graph.json", views.tenant_graph, name="tenant_graph"),
    path(TENANT + "node/", views.tenant_node, name="tenant_node"),
    path(TENANT + "reach/", views.tenant_reach, name="tenant_reach"),
    path(NAMESPACE, views.namespace, name="namespace"),
    path(NAMESPACE + "graph.json", views.namespace_graph, name="namespace_graph"),
    path(NAMESPACE + "node/", views.node, name="node"),
    path(NAMESPACE + "reach/", views.reach, name="reach"),
]
