import logging
import os

import celery
from celery.contrib.django.task import DjangoTask  # keeps delay_on_commit
from celery.signals import after_setup_logger, after_setup_task_logger, worker_ready

from console import outages

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

# How long a task that met a PostgreSQL or Redis outage waits for its end before it is sent again.
OUTAGE_WAIT_SECONDS = 60


class Task(DjangoTask):
    """Every task of the console: one that meets a PostgreSQL or Redis outage (a restart)
    waits for the service to come back and runs again, instead of failing for it. Tasks
    are idempotent; job tasks give their job back to the queue first (console.jobs.jobs.run)."""

    def __call__(self, *args, **kwargs):
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:
            service = outages.outage_of(exc)
            if service is None or self.request.called_directly:
                raise
            from django.db import close_old_connections

            outages.noticed(service, exc, where=self.name)
            outages.wait_until_back(service, OUTAGE_WAIT_SECONDS)
            close_old_connections()
            raise self.retry(countdown=1, max_retries=None) from None


app = celery.Celery("console", task_cls=Task)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def reap_lost_jobs(**_kwargs):
    """A worker starting (often the one that was killed, restarted) ends or re-queues the
    jobs whose worker is gone at once, without waiting for beat."""
    from django.db import connection

    from console.jobs.jobs import reap_stale_jobs

    try:
        reap_stale_jobs()
    finally:
        connection.close()  # the pool's processes open their own


@after_setup_logger.connect
@after_setup_task_logger.connect
def filter_outage_logs(logger=None, **_kwargs):
    """Celery's worker and beat set up their own log handlers: an outage there too is one
    warning when it starts and one when it ends, not a traceback per retry."""
    outages.install_filter(logger)
    logging.getLogger("py.warnings").addFilter(_decided_warning)


def _decided_warning(record):
    """On a broker connection loss running tasks go on (CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_
    ON_CONNECTION_LOSS in settings); Celery warns at every loss that 6.0 will cancel them by
    default. The choice is made: the warning would be a second one per Redis outage. (Celery
    turns its deprecation warnings back on after its log setup: a warnings filter would not do.)"""
    return "worker_cancel_long_running_tasks_on_connection_loss" not in record.getMessage()
