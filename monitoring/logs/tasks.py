from celery import shared_task
from django.utils.translation import gettext_lazy as _

from console import crypto
from console.clusters.models import Cluster
from console.jobs import jobs
from console.jobs.jobs import JobFailed
from console.jobs.models import Job
from console.kube.api import ClusterAPI
from console.kube.errors import ApiRefused, ClusterError
from console.texts import message

from . import manifests, services

INSTALLING = message("Installing the fluentd collector on %(cluster)s: %(count)s objects.")
INSTALLED = message("The fluentd DaemonSet is applied; its pods post to %(url)s with the cluster's new token.")
UNREACHABLE = message("The cluster did not answer: %(error)s")


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=3)
def maintain_partitions():
    """Daily partitions made ahead, those past the retention dropped."""
    created, dropped = services.maintain_partitions()
    return {"created": len(created), "dropped": len(dropped)}


@shared_task
def import_events():
    """The resource mirror's Kubernetes events into the log store, for every cluster."""
    total = 0
    for cluster in Cluster.objects.all():
        total += services.import_events(cluster)
    return total


# --- jobs -------------------------------------------------------------------------------


@shared_task(bind=True, max_retries=5)
def run_logs_job(self, job_id):
    jobs.run(self, job_id)


def install_collector(job):
    """Apply the fluentd collector's objects (server-side apply: a second run converges)."""
    cluster = Cluster.objects.get(name=job.cluster)
    token = crypto.decrypt(job.payload["token"])
    objects = manifests.fluentd_objects(cluster, ingest_url=job.payload["ingest_url"], token=token)
    jobs.step(job, INSTALLING(cluster=cluster.name, count=len(objects)))
    try:
        with ClusterAPI(cluster) as api:
            for obj in objects:
                after = {"keys": sorted(obj.get("stringData", {}))} if obj["kind"] == "Secret" else None
                jobs.apply(job, api, obj, action="logs.collector.apply", after=after)
    except ApiRefused as exc:
        raise JobFailed(exc.message) from None
    except ClusterError as exc:
        raise JobFailed(UNREACHABLE(error=str(exc))) from None
    jobs.step(job, INSTALLED(url=job.payload["ingest_url"]))
    return {"objects": len(objects)}


def _ended(job, outcome):
    """The token is in the cluster's Secret now (or the job failed): the job keeps no copy."""
    job.payload.pop("token", None)
    Job.objects.filter(pk=job.pk).update(payload=job.payload)


KINDS = jobs.JobKinds(
    task=run_logs_job, runners={"logs.collector.install": install_collector}, idempotent=True, ended=_ended
)
JOB_KINDS = {"logs.collector.install": _("Install log collector")}
