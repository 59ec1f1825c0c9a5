from django.urls import path

from . import views

app_name = "tenants"

urlpatterns = [
    path("", views.tenant_list, name="tenant_list"),
    path("add/", views.tenant_add, name="tenant_add"),
    path("switch/", views.tenant_switch, name="tenant_switch"),
    path("invitations/accept/", views.invitation_accept, name="invitation_accept"),
    path("<slug:name>/", views.tenant_detail, name="tenant"),
    path("<slug:name>/edit/", views.tenant_edit, name="tenant_edit"),
    path("<slug:name>/suspend/", views.tenant_suspend, name="tenant_suspend"),
    path("<slug:name>/resume/", views.tenant_resume, name="tenant_resume"),
    path("<slug:name>/delete/", views.tenant_delete, name="tenant_delete"),
    path("<slug:name>/members/", views.member_add, name="member_add"),
    path("<slug:name>/members/<int:pk>/remove/", views.member_remove, name="member_remove"),
    path("<slug:name>/namespaces/add/", views.project_add, name="project_add"),
    path("<slug:name>/namespaces/<slug:namespace>/", views.project_detail, name="project"),
    path("<slug:name>/namespaces/<slug:namespace>/edit/", views.project_edit, name="project_edit"),
    path("<slug:name>/namespaces/<slug:namespace>/retry/", views.project_retry, name="project_retry"),
    path("<slug:name>/namespaces/<slug:namespace>/delete/", views.project_delete, name="project_delete"),
    path("<slug:name>/namespaces/<slug:namespace>/paths/", views.path_add, name="path_add"),
    path("<slug:name>/namespaces/<slug:namespace>/paths/<int:pk>/remove/", views.path_remove, name="path_remove"),
]
