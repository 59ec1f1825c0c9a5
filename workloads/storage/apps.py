from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StorageConfig(AppConfig):
    name = "workloads.storage"
    label = "storage"
    verbose_name = _("Storage")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from console import navigation, object_panels
        from console.apps import register_feature_app
        from console.live import realtime
        from workloads import panels

        from . import live, permissions, services, tasks, views
        from .choices import JOB_KINDS

        register_feature_app(JOB_KINDS, tasks, permissions)
        navigation.register_section(
            "storage", _("Storage"), "storage:volume_list", _("Ceph RBD volumes and their backup chains."), order=40
        )
        realtime.register_group("backupchain", live.may_follow_chain, live.snapshot)
        object_panels.register_object_panel("app", "volumes", "storage/_app_volumes.html", views.app_panel, order=40)
        panels.register_before_app_delete("storage", services.before_app_delete)
        register_beat()


BEAT = {
    "storage-refresh-ceph-state": {"task": "workloads.storage.tasks.refresh_ceph_state", "schedule": 30.0},
    "storage-backup-policies": {"task": "workloads.storage.tasks.run_backup_policies", "schedule": 60.0},
    "storage-adopt-statefulset-volumes": {
        "task": "workloads.storage.tasks.adopt_statefulset_volumes",
        "schedule": 30.0,
    },
}


def register_beat() -> None:
    from console.celery import app as celery_app

    celery_app.conf.beat_schedule = {**(celery_app.conf.beat_schedule or {}), **BEAT}
