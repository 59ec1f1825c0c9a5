"""Celery work of the job runner."""

from celery import shared_task


@shared_task
def reap_stale_jobs():
    """Beat: end or re-queue the jobs whose worker is gone (see console.jobs.jobs.reap_stale_jobs)."""
    from console.jobs.jobs import reap_stale_jobs as reap

    return reap()
