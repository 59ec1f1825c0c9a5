from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = _("Console")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # The core's dashboard panels; live groups of jobs and the mirror; sign-in in the
        # operation log; and the Celery tasks of each concern (autodiscovery looks only at
        # console.tasks).
        from console import dashboard, signals  # noqa: F401
        from console.clusters import mirror  # noqa: F401
        from console.clusters import tasks as cluster_tasks  # noqa: F401
        from console.jobs import jobs  # noqa: F401
        from console.jobs import tasks as job_tasks  # noqa: F401
        from console.notifications import tasks as notification_tasks  # noqa: F401
        from console.oplog import tasks as oplog_tasks  # noqa: F401


def register_feature_app(job_kinds, tasks, *hooks) -> None:
    """A feature app's part in the console, from its ready(): the labels of its kinds of job,
    their runners (`tasks.KINDS`: task, runners, hooks), and each hook module's register()
    (what the console's identity needs on a cluster, its dashboard panels, its demo data...)."""
    from console.jobs import jobs

    jobs.register_kind_labels(job_kinds)
    jobs.register(tasks.KINDS)
    for module in hooks:
        module.register()
