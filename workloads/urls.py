from django.urls import path

from . import config_views, views

app_name = "workloads"

APP = "<slug:tenant>/<slug:namespace>/apps/<slug:name>/"
NS = "<slug:tenant>/<slug:namespace>/"

urlpatterns = [
    path("", views.app_list, name="app_list"),
    path("<slug:tenant>/<slug:namespace>/deploy/", views.app_add, name="app_add"),
    path("<slug:tenant>/<slug:namespace>/import/", views.app_import, name="app_import"),
    path(APP, views.app_detail, name="app"),
    path(APP + "upgrade/", views.app_upgrade, name="app_upgrade"),
    path(APP + "scale/", views.app_scale, name="app_scale"),
    path(APP + "pause/", views.app_pause, name="app_pause"),
    path(APP + "resume/", views.app_resume, name="app_resume"),
    path(APP + "rollback/", views.app_rollback, name="app_rollback"),
    path(APP + "expose/", views.app_expose, name="app_expose"),
    path(APP + "delete/", views.app_delete, name="app_delete"),
    path(APP + "schedules/", views.schedule_add, name="schedule_add"),
    path(APP + "schedules/<int:pk>/remove/", views.schedule_remove, name="schedule_remove"),
    path(APP + "autoscaler/", views.autoscaler_set, name="autoscaler_set"),
    path(APP + "autoscaler/remove/", views.autoscaler_remove, name="autoscaler_remove"),
    path(APP + "canary/", views.canary_start, name="canary_start"),
    path(APP + "canary/traffic/", views.canary_traffic, name="canary_traffic"),
    path(APP + "canary/promote/", views.canary_promote, name="canary_promote"),
    path(APP + "canary/abort/", views.canary_abort, name="canary_abort"),
    path(APP + "pods/<str:pod>/restart/", views.pod_restart, name="pod_restart"),
    path(APP + "pods/<str:pod>/log/", views.pod_log, name="pod_log"),
    path(APP + "pods/<str:pod>/terminal/", views.pod_terminal, name="pod_terminal"),
    # Secrets and ConfigMaps of a namespace ("secrets/new/" apart from "secret/<name>/": "new" is a valid name)
    path(NS + "secrets/", config_views.secret_list, name="secret_list"),
    path(NS + "secrets/new/", config_views.secret_add, name="secret_add"),
    path(NS + "secret/<str:secret>/", config_views.secret_edit, name="secret_edit"),
    path(NS + "secret/<str:secret>/reveal/", config_views.secret_reveal, name="secret_reveal"),
    path(NS + "secret/<str:secret>/delete/", config_views.secret_delete, name="secret_delete"),
    path(NS + "configmaps/", config_views.configmap_list, name="configmap_list"),
    path(NS + "configmaps/new/", config_views.configmap_add, name="configmap_add"),
    path(NS + "configmap/<str:configmap>/", config_views.configmap_edit, name="configmap_edit"),
    path(NS + "configmap/<str:configmap>/delete/", config_views.configmap_delete, name="configmap_delete"),
    path(NS + "yaml/<str:kind>/<str:name>/", config_views.object_yaml, name="object_yaml"),
]
