from django.urls import path

from . import views

app_name = "pipelines"

PROJECT = "<slug:tenant>/<slug:namespace>/"
PIPELINE = PROJECT + "<slug:name>/"
RUN = PIPELINE + "runs/<int:number>/"

urlpatterns = [
    path("", views.pipeline_list, name="pipeline_list"),
    path("hooks/<int:pk>/<slug:provider>/", views.webhook, name="webhook"),
    path(PROJECT + "new/", views.pipeline_add, name="pipeline_add"),
    path(PROJECT + "import/", views.pipeline_import, name="pipeline_import"),
    path(PIPELINE, views.pipeline_detail, name="pipeline"),
    path(PIPELINE + "edit/", views.pipeline_edit, name="pipeline_edit"),
    path(PIPELINE + "delete/", views.pipeline_delete, name="pipeline_delete"),
    path(PIPELINE + "run/", views.pipeline_run, name="pipeline_run"),
    path(PIPELINE + "secret/", views.pipeline_secret, name="pipeline_secret"),
    path(PIPELINE + "export/", views.pipeline_export, name="pipeline_export"),
    path(PIPELINE + "builds/", views.pipeline_builds, name="pipeline_builds"),
    path(RUN, views.run_detail, name="run"),
    path(RUN + "cancel/", views.run_cancel, name="run_cancel"),
    path(RUN + "rerun/", views.run_rerun, name="run_rerun"),
]
