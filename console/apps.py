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
        from console.clusters import mirror, tasks as cluster_tasks  # noqa: F401
        from console.jobs import jobs, tasks as job_tasks  # noqa: F401
        from console.oplog import tasks as oplog_tasks  # noqa: F401
