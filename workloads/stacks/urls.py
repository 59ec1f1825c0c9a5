from django.urls import path

from . import views

app_name = "stacks"

STACK = "stacks/<slug:tenant>/<slug:namespace>/<slug:name>/"

urlpatterns = [
    path("", views.template_list, name="template_list"),
    path("new/", views.template_add, name="template_add"),
    path("extract/", views.extract, name="extract"),
    path("prices/<slug:cluster>/", views.prices, name="prices"),
    path("<int:pk>/", views.template_detail, name="template"),
    path("<int:pk>/versions/new/", views.version_add, name="version_add"),
    path("<int:pk>/versions/<int:number>/", views.version_detail, name="version"),
    path("<int:pk>/copy/", views.template_copy, name="template_copy"),
    path("<int:pk>/delete/", views.template_delete, name="template_delete"),
    path("<int:pk>/instantiate/", views.instantiate, name="instantiate"),
    path(STACK, views.stack_detail, name="stack"),
    path(STACK + "upgrade/", views.stack_upgrade, name="stack_upgrade"),
    path(STACK + "delete/", views.stack_delete, name="stack_delete"),
    path(STACK + "replicate/", views.stack_replicate, name="stack_replicate"),
]
