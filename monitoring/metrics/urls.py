from django.urls import path

from . import views

app_name = "metrics"

NAMESPACE = "clusters/<slug:cluster>/namespaces/<slug:namespace>/"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("clusters/<slug:cluster>/", views.cluster_page, name="cluster"),
    path("clusters/<slug:cluster>/prometheus/", views.prometheus, name="prometheus"),
    path("clusters/<slug:cluster>/nodes/<str:node>/", views.node_page, name="node"),
    path(NAMESPACE, views.namespace_page, name="namespace"),
    path(NAMESPACE + "pods/<str:pod>/", views.pod_page, name="pod"),
    path(NAMESPACE + "<slug:kind>/<str:name>/", views.workload_page, name="workload"),
    path("charts/<slug:kind>/<slug:cluster>/<slug:key>/", views.chart, name="chart"),
]
