from django.urls import path

from . import views

app_name = "logs"

urlpatterns = [
    path("", views.search, name="search"),
    path("histogram/", views.histogram, name="histogram"),
    path("context/", views.line_context, name="context"),
    path("ingest/", views.ingest_endpoint, name="ingest"),
    path("<slug:tenant>/<slug:namespace>/apps/<slug:app>/", views.app_timeline, name="app_timeline"),
    path("saved/", views.saved_search_add, name="saved_search_add"),
    path("saved/<int:pk>/", views.saved_search_open, name="saved_search"),
    path("saved/<int:pk>/delete/", views.saved_search_delete, name="saved_search_delete"),
    path("clusters/<slug:name>/token/", views.token_rotate, name="token_rotate"),
    path("clusters/<slug:name>/collector/", views.collector_install, name="collector_install"),
    path("clusters/<slug:name>/fluentd.yaml", views.collector_manifest, name="collector_manifest"),
]
