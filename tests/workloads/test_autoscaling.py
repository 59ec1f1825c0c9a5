"""Scheduled scaling in the tenant's time zone (Celery beat's task run here) and the
HorizontalPodAutoscaler: every automatic scaling action is logged and announced."""

import time
from datetime import UTC, datetime
from datetime import time as clock

import pytest
from django.core.exceptions import ValidationError

from console.clusters import mirror
from console.jobs.models import Job
from console.kube.api import ClusterAPI
from console.notifications.models import Notification
from console.oplog.models import OperationLogEntry
from workloads import services, tasks
from workloads.models import App, ScaleSchedule

from .conftest import mirror_namespace, run

pytestmark = pytest.mark.django_db


def replicas(app, cluster):
    with ClusterAPI(cluster) as api:
        return api.get(app.kind, app.name, app.namespace)["spec"]["replicas"]


def test_scheduled_scaling_runs_once_a_day_at_the_tenants_local_time(cluster, web, dev):
    assert web.project.tenant.time_zone == "Asia/Shanghai"
    weekdays = [0, 1, 2, 3, 4]
    morning = services.add_scale_schedule(web, acting_user=dev, at=clock(8, 0), replicas=4, weekdays=weekdays)
    services.add_scale_schedule(web, acting_user=dev, at=clock(22, 0), replicas=1, weekdays=weekdays)
    ScaleSchedule.objects.update(last_run_on=None)
    # Wednesday 25 Nov 2026, 07:59 in Shanghai is 23:59 UTC the day before: not yet
    assert tasks.run_scale_schedules(now=datetime(2026, 11, 24, 23, 59, tzinfo=UTC)) == 0
    # 08:01 in Shanghai: the morning schedule is due
    assert tasks.run_scale_schedules(now=datetime(2026, 11, 25, 0, 1, tzinfo=UTC)) == 1
    assert tasks.run_scale_schedules(now=datetime(2026, 11, 25, 0, 5, tzinfo=UTC)) == 0  # once a day
    job = run(Job.objects.filter(kind="app.scale").get())
    assert job.status == "succeeded", job.error
    assert replicas(web, cluster) == 4
    entry = OperationLogEntry.objects.get(action="workload.scale")
    assert entry.actor_name == "system" and entry.before == {"replicas": 2}
    assert entry.after == {"replicas": 4, "reason": "schedule", "by": "system"}
    notes = {str(note.title): str(note.body) for note in Notification.objects.filter(user=dev)}
    assert notes["web scaled from 2 to 4 replicas"].startswith("Scheduled scaling")
    assert ScaleSchedule.objects.get(pk=morning.pk).last_run_on.isoformat() == "2026-11-25"
    # Saturday: not on the list
    assert tasks.run_scale_schedules(now=datetime(2026, 11, 28, 14, 30, tzinfo=UTC)) == 0


def test_schedule_rules_and_a_refused_run_is_announced(cluster, web, dev, operator):
    with pytest.raises(ValidationError, match="at least one day"):
        services.add_scale_schedule(web, acting_user=dev, at=clock(8, 0), replicas=4, weekdays=[])
    with pytest.raises(ValidationError, match="from 0 to 100"):
        services.add_scale_schedule(web, acting_user=dev, at=clock(8, 0), replicas=500, weekdays=[0])
    schedule = services.add_scale_schedule(web, acting_user=dev, at=clock(8, 0), replicas=50, weekdays=list(range(7)))
    ScaleSchedule.objects.update(last_run_on=None)
    assert tasks.run_scale_schedules(now=datetime(2026, 11, 25, 1, 0, tzinfo=UTC)) == 0
    notes = {str(note.title): str(note.body) for note in Notification.objects.filter(user=dev)}
    assert "Not enough quota" in notes["Scheduled scaling of web to 50 did not run"]
    assert OperationLogEntry.objects.get(action="app.scale", result="failed").actor_name == "system"
    services.remove_scale_schedule(web, acting_user=dev, schedule_id=schedule.pk)
    assert not ScaleSchedule.objects.exists()
    assert (
        OperationLogEntry.objects.filter(
            action__in=["app.schedule_add", "app.schedule_remove"], result="succeeded"
        ).count()
        == 2
    )


def test_autoscaler_scales_with_load_and_each_change_is_recorded(cluster, sandbox, web, dev):
    with pytest.raises(ValidationError, match="below the minimum"):
        services.set_autoscaler(web, acting_user=dev, min_replicas=3, max_replicas=2, cpu=50)
    with pytest.raises(ValidationError, match="CPU or a memory target"):
        services.set_autoscaler(web, acting_user=dev, min_replicas=1, max_replicas=2)
    job = run(services.set_autoscaler(web, acting_user=dev, min_replicas=2, max_replicas=4, cpu=50))
    assert job.status == "succeeded", job.error
    web.refresh_from_db()
    assert web.autoscaler == {"min": 2, "max": 4, "cpu": 50, "memory": None} and web.observed_replicas == 2
    with ClusterAPI(cluster) as api:
        hpa = api.get("HorizontalPodAutoscaler", "web", web.namespace)
    assert hpa["spec"]["metrics"][0]["resource"] == {
        "name": "cpu",
        "target": {"type": "Utilization", "averageUtilization": 50},
    }
    with pytest.raises(ValidationError, match="An autoscaler sets this app's replicas"):
        services.scale_app(web, acting_user=dev, replicas=3)
    with pytest.raises(ValidationError, match="remove it before scheduling"):
        services.add_scale_schedule(web, acting_user=dev, at=clock(8, 0), replicas=4, weekdays=[0])

    sandbox.set_pod_load(web.namespace, selector="caas.io/app=web", cpu="150m")  # 150% of the 100m request
    deadline = time.monotonic() + 15
    while replicas(web, cluster) != 4:
        assert time.monotonic() < deadline, "the autoscaler did not scale up"
        time.sleep(0.1)
    mirror_namespace(cluster, web.namespace, kinds=("HorizontalPodAutoscaler",))
    assert tasks.observe_autoscalers() == 1
    assert tasks.observe_autoscalers() == 0  # recorded once
    entry = OperationLogEntry.objects.get(action="workload.scale", actor_name="system")
    assert entry.before == {"replicas": 2} and entry.after["replicas"] == 4 and entry.after["reason"] == "autoscaler"
    assert "cpu" in entry.after["metrics"] and "(target 50%)" in entry.after["metrics"]
    notes = {str(note.title): str(note.body) for note in Notification.objects.filter(user=dev)}
    assert notes["web scaled from 2 to 4 replicas"].startswith("Autoscaler: cpu")

    job = run(services.remove_autoscaler(web, acting_user=dev))
    assert job.status == "succeeded", job.error
    with ClusterAPI(cluster) as api:
        assert api.get("HorizontalPodAutoscaler", "web", web.namespace) is None
    assert App.objects.get(pk=web.pk).autoscaler == {}


def test_a_scaling_the_console_had_no_count_before_reads_scaled_to_never_from_none(cluster, web, dev):
    App.objects.filter(pk=web.pk).update(
        autoscaler={"min": 2, "max": 4, "cpu": 50, "memory": None}, observed_replicas=None
    )
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "status": {"desiredReplicas": 3},
        "metadata": {"name": "web", "namespace": web.namespace, "uid": "hpa-web", "resourceVersion": "7"},
    }
    mirror.apply_events(cluster.pk, "HorizontalPodAutoscaler", [("ADDED", hpa)])
    assert tasks.observe_autoscalers() == 1
    titles = [str(note.title) for note in Notification.objects.filter(user=dev)]
    assert "web scaled to 3 replicas" in titles and not any("None" in title for title in titles)
