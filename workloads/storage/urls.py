from django.urls import path

from . import views

app_name = "storage"

VOLUME = "<slug:tenant>/<slug:namespace>/volumes/<slug:name>/"
NODE = VOLUME + "backups/<int:pk>/"

urlpatterns = [
    path("", views.volume_list, name="volume_list"),
    path("<slug:tenant>/<slug:namespace>/volumes/", views.volume_add, name="volume_add"),
    path(VOLUME, views.volume_detail, name="volume"),
    path(VOLUME + "resize/", views.volume_resize, name="volume_resize"),
    path(VOLUME + "delete/", views.volume_delete, name="volume_delete"),
    path(VOLUME + "backups/", views.backup_add, name="backup_add"),
    path(NODE + "rollback/", views.backup_rollback, name="backup_rollback"),
    path(NODE + "restore/", views.backup_restore, name="backup_restore"),
    path(NODE + "delete/", views.backup_delete, name="backup_delete"),
    path(NODE + "consolidate/", views.backup_consolidate, name="backup_consolidate"),
    path(VOLUME + "policy/", views.backup_policy, name="backup_policy"),
    path(VOLUME + "policy/remove/", views.backup_policy_remove, name="backup_policy_remove"),
]
