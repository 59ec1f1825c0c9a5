from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StorageConfig(AppConfig):
    name = "workloads.storage"
    label = "storage"
    verbose_name = _("Storage")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from console import navigation
        from console.jobs import jobs
        from console.live import realtime

        from . import live, tasks
        from .choices import JOB_KINDS

        jobs.register_kind_labels(JOB_KINDS)
        jobs.register(tasks.KINDS)
        navigation.register_section(
            "storage", _("Storage"), "storage:volume_list", _("Ceph RBD volumes and their backup chains."), order=40
        )
        realtime.register_group("backupchain", live.may_follow_chain, live.snapshot)
        register_beat()


BEAT = {
    "storage-refresh-ceph-state": {"task": "workloads.storage.tasks.refresh_ceph_state", "schedule": 30.0},
    "storage-backup-policies": {"task": "workloads.storage.tasks.run_backup_policies", "schedule": 60.0},
}


def register_beat() -> None:
    from console.celery import app as celery_app

    celery_app.conf.beat_schedule = {**(celery_app.conf.beat_schedule or {}), **BEAT}
