"""An app's life after deploy: upgrades with their revisions, rollback, scaling with its
notifications, pause and resume, restarting pods, exposing it, deleting it."""

import time

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from console.jobs.models import Job
from console.kube.api import ClusterAPI
from console.notifications.models import Notification
from console.oplog.models import OperationLogEntry
from workloads import quota, selectors, services
from workloads.models import App

from ..factories import mk_member
from .conftest import mirror_namespace, run, spec

pytestmark = pytest.mark.django_db


def live(app, cluster):
    with ClusterAPI(cluster) as api:
        return api.get(app.kind, app.name, app.namespace)


def test_upgrade_rolls_out_a_new_revision_and_rollback_returns_to_any_earlier_one(cluster, web, dev, acme):
    other = mk_member(acme, "acme-ops")
    job = run(
        services.upgrade_app(
            web, acting_user=dev, spec=spec(image="nginx:1.28", env=[{"name": "MODE", "value": "blue"}])
        )
    )
    assert job.status == "succeeded", job.error
    texts = [str(s["text"]) for s in job.steps]
    assert "Rollout complete: 2 of 2 replicas ready." in texts
    assert any("old" in t for t in texts)  # the old pods were seen going away
    deployment = live(web, cluster)
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
    assert deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    upgrade = OperationLogEntry.objects.get(action="app.upgrade")
    assert upgrade.before["spec"]["image"] == "nginx:1.27" and upgrade.after["spec"]["image"] == "nginx:1.28"
    assert set(upgrade.after["changes"]) == {"image", "env"}

    # a change made outside the console (kubectl set image) becomes revision 3
    with ClusterAPI(cluster) as api:
        deployment["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.29"
        api.patch("Deployment", "web", web.namespace, {"spec": {"template": deployment["spec"]["template"]}})
    _wait_rollout(cluster, web, "3")

    mirror_namespace(cluster, web.namespace)
    context = selectors.live_context(web)
    revisions = {r.number: r for r in context["revisions"]}
    assert [r.number for r in context["revisions"]] == [3, 2, 1]
    assert (revisions[1].image, revisions[1].by, revisions[1].via_console) == ("nginx:1.27", "acme-dev", True)
    assert (revisions[2].image, revisions[2].by) == ("nginx:1.28", "acme-dev")
    assert (revisions[3].image, revisions[3].via_console, revisions[3].current) == ("nginx:1.29", False, True)
    assert "-    image: nginx:1.28" in revisions[3].diff and "+    image: nginx:1.29" in revisions[3].diff
    assert revisions[1].diff == ""  # the first revision has nothing before it

    job = run(services.rollback_app(web, acting_user=other, revision=1))
    assert job.status == "succeeded", job.error
    deployment = live(web, cluster)
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert (
        deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "4"
    )  # revision 1 came back as 4
    mirror_namespace(cluster, web.namespace)
    revisions = {r.number: r for r in selectors.live_context(web)["revisions"]}
    assert (revisions[4].image, revisions[4].by, revisions[4].current) == ("nginx:1.27", "acme-ops", True)
    assert 1 not in revisions  # the same ReplicaSet, renumbered, as Kubernetes does
    assert App.objects.get(pk=web.pk).spec["image"] == "nginx:1.27"
    rollback = OperationLogEntry.objects.get(action="app.rollback")
    assert (
        rollback.actor_name == "acme-ops" and rollback.after["revision"] == "1" and rollback.before == {"revision": "3"}
    )
    with pytest.raises(ValidationError, match="Revision 4 is the current one"):
        services.rollback_app(web, acting_user=dev, revision=4)
    with pytest.raises(ValidationError, match="Revision 9 does not exist"):
        services.rollback_app(web, acting_user=dev, revision=9)


def _wait_rollout(cluster, app, revision, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        obj = live(app, cluster)
        status = obj.get("status") or {}
        if (obj["metadata"].get("annotations") or {}).get(
            "deployment.kubernetes.io/revision"
        ) == revision and status.get("updatedReplicas") == status.get("availableReplicas") == status.get(
            "replicas"
        ) == obj["spec"]["replicas"]:
            return obj
        time.sleep(0.1)
    raise AssertionError(f"revision {revision} did not roll out: {obj.get('status')}")


def test_upgrade_conflicts_and_empty_changes_are_explained(cluster, web, dev):
    generation = live(web, cluster)["metadata"]["generation"]
    run(services.upgrade_app(web, acting_user=dev, spec=spec(image="nginx:1.28"), generation=generation))
    with pytest.raises(services.Conflict, match="changed by someone else") as conflict:
        services.upgrade_app(web, acting_user=dev, spec=spec(image="nginx:1.26"), generation=generation)
    assert conflict.value.spec["image"] == "nginx:1.28"
    assert conflict.value.generation == live(web, cluster)["metadata"]["generation"]
    with pytest.raises(ValidationError, match="Nothing to change"):
        services.upgrade_app(web, acting_user=dev, spec=spec(image="nginx:1.28"))
    assert OperationLogEntry.objects.filter(action="app.upgrade", result="failed").count() == 2


def test_an_upgrade_whose_surge_pods_do_not_fit_the_quota_is_refused_first(cluster, web, dev):
    assert run(services.scale_app(web, acting_user=dev, replicas=9)).status == "succeeded"  # quota: 10 pods
    with pytest.raises(ValidationError, match="Not enough quota: 3 more replicas"):  # 25 % of 9, rounded up
        services.upgrade_app(web, acting_user=dev, spec=spec(image="nginx:1.28"))
    assert live(web, cluster)["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert not Job.objects.filter(kind="app.upgrade").exists()


@pytest.mark.parametrize(
    "kind,strategy,replicas,surge",
    [
        ("Deployment", None, 9, 3),
        ("Deployment", {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}, 9, 1),
        ("Deployment", {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "50%"}}, 3, 2),
        ("Deployment", {"type": "Recreate"}, 9, 0),
        ("StatefulSet", None, 9, 0),
    ],
)
def test_surge_pods_follow_the_strategy(kind, strategy, replicas, surge):
    workload = {"spec": {"replicas": replicas, **({"strategy": strategy} if strategy else {})}}
    assert quota.surge_pods(kind, workload) == surge


def test_a_crashing_new_version_fails_the_job_and_keeps_the_old_pods_serving(cluster, sandbox, web, dev):
    from threading import Thread

    job = services.upgrade_app(web, acting_user=dev, spec=spec(image="nginx:broken"))

    def crash_new_pods():  # the sandbox crashes pods by name: crash each pod of the new image as it appears
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for pod in sandbox.store.list(_pods(), web.namespace, "caas.io/app=web")[0]:
                if pod["spec"]["containers"][0]["image"] == "nginx:broken":
                    sandbox.set_pod_fault(web.namespace, pod["metadata"]["name"], "crash")
            time.sleep(0.02)

    crasher = Thread(target=crash_new_pods, daemon=True)
    crasher.start()
    job = run(job)
    assert job.status == "failed"
    assert "The rollout is stuck: pod web-" in str(job.error) and "CrashLoopBackOff" in str(job.error)
    assert App.objects.get(pk=web.pk).status == "failed"
    deployment = live(web, cluster)
    assert deployment["status"]["availableReplicas"] >= 1  # maxUnavailable keeps old pods running
    assert "Upgrade of web failed" in [str(note.title) for note in Notification.objects.filter(user=dev)]
    # rolling back to revision 1 heals it
    assert run(services.rollback_app(web, acting_user=dev, revision=1)).status == "succeeded"
    assert App.objects.get(pk=web.pk).status == "running"


def _pods():
    from console.sandbox.kinds import STORED

    return STORED["pods"]


def test_scaling_notifies_the_tenant_and_logs_from_to_and_why(cluster, web, dev, acme):
    admin = mk_member(acme, "acme-admin", "tenant-admin")
    job = run(services.scale_app(web, acting_user=dev, replicas=4))
    assert job.status == "succeeded", job.error
    assert live(web, cluster)["status"]["readyReplicas"] == 4
    accepted = OperationLogEntry.objects.get(action="app.scale")
    assert (
        accepted.before == {"replicas": 2} and accepted.after["replicas"] == 4 and accepted.after["reason"] == "manual"
    )
    done = OperationLogEntry.objects.get(action="workload.scale", namespace=web.namespace)
    assert done.before == {"replicas": 2} and done.after == {"replicas": 4, "reason": "manual", "by": "acme-dev"}
    for user in (dev, admin):
        notes = {str(note.title): str(note.body) for note in Notification.objects.filter(user=user)}
        assert "Scaled by hand, by acme-dev" in notes["web scaled from 2 to 4 replicas"]
    assert App.objects.get(pk=web.pk).spec["replicas"] == 4
    with pytest.raises(ValidationError, match="has 4 replicas already"):
        services.scale_app(web, acting_user=dev, replicas=4)
    with pytest.raises(ValidationError, match="Not enough quota: 7 more replicas"):
        services.scale_app(web, acting_user=dev, replicas=11)
    with pytest.raises(ValidationError, match="from 0 to 100"):
        services.scale_app(web, acting_user=dev, replicas=101)
    # the system scales too (scheduled scaling): no person, a reason
    assert run(services.scale_app(web, acting_user=None, replicas=1, reason="schedule")).status == "succeeded"
    assert (
        OperationLogEntry.objects.filter(action="workload.scale", namespace=web.namespace).latest("id").after["reason"]
        == "schedule"
    )


def test_pause_and_resume_a_rollout(cluster, web, dev):
    services.pause_app(web, acting_user=dev)
    assert live(web, cluster)["spec"]["paused"] is True
    with pytest.raises(ValidationError, match="paused already"):
        services.pause_app(web, acting_user=dev)
    job = run(services.upgrade_app(web, acting_user=dev, spec=spec(image="nginx:1.28")))
    assert job.status == "succeeded" and str(job.steps[-1]["text"]) == "The rollout is paused; resume it to go on."
    assert live(web, cluster)["status"].get("updatedReplicas", 0) == 0  # nothing rolled while paused
    services.resume_app(web, acting_user=dev)
    _wait_rollout(cluster, web, "2")
    assert [
        e.action
        for e in OperationLogEntry.objects.filter(action__in=["app.pause", "app.resume"], result="succeeded").order_by(
            "id"
        )
    ] == ["app.pause", "app.resume"]


def test_restart_a_pod_and_read_its_log(cluster, web, dev):
    with ClusterAPI(cluster) as api:
        before = {p["metadata"]["name"] for p in api.list("Pod", web.namespace, label_selector="caas.io/app=web")}
    victim = sorted(before)[0]
    text = services.pod_log(web, user=dev, pod_name=victim)
    assert isinstance(text, str)
    services.restart_pod(web, acting_user=dev, pod_name=victim)
    with pytest.raises(ValidationError, match="has no pod named kube-apiserver"):
        services.restart_pod(web, acting_user=dev, pod_name="kube-apiserver")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with ClusterAPI(cluster) as api:
            now = {
                p["metadata"]["name"]
                for p in api.list("Pod", web.namespace, label_selector="caas.io/app=web")
                if not p["metadata"].get("deletionTimestamp")
            }
        if victim not in now and len(now) == 2:
            break
        time.sleep(0.1)
    assert victim not in now and len(now) == 2
    entry = OperationLogEntry.objects.get(action="app.restart_pod", result="succeeded")
    assert entry.target_kind == "Pod" and entry.target_name == victim


def test_expose_with_service_and_ingress_then_take_it_back(cluster, web, dev):
    with ClusterAPI(cluster) as api:
        api.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "kubernetes.io/tls",
                "metadata": {"name": "shop-tls", "namespace": web.namespace},
                "stringData": {"tls.crt": "x", "tls.key": "y"},
            }
        )
    with pytest.raises(ValidationError, match="not a valid host name"):
        services.expose_app(web, acting_user=dev, service_type="ClusterIP", port=80, host="shop_example")
    with pytest.raises(ValidationError, match="30000 to 32767"):
        services.expose_app(web, acting_user=dev, service_type="NodePort", port=80, node_port=80)
    with pytest.raises(ValidationError, match="no Secret named missing"):
        services.expose_app(
            web, acting_user=dev, service_type="ClusterIP", port=80, host="shop.example.com", tls_secret="missing"
        )
    job = run(
        services.expose_app(
            web,
            acting_user=dev,
            service_type="NodePort",
            port=8080,
            node_port=30080,
            host="shop.example.com",
            path="/",
            tls_secret="shop-tls",
        )
    )
    assert job.status == "succeeded", job.error
    with ClusterAPI(cluster) as api:
        svc = api.get("Service", "web", web.namespace)
        ingress = api.get("Ingress", "web", web.namespace)
        endpoints = _wait(lambda: api.get("Endpoints", "web", web.namespace))
    assert svc["spec"]["type"] == "NodePort" and svc["spec"]["ports"][0] == {
        **svc["spec"]["ports"][0],
        "port": 8080,
        "targetPort": 80,
        "nodePort": 30080,
    }
    assert svc["spec"]["selector"] == {"caas.io/app": "web"}
    assert len(endpoints["subsets"][0]["addresses"]) == 2  # both replicas behind it
    rule = ingress["spec"]["rules"][0]
    assert rule["host"] == "shop.example.com" and rule["http"]["paths"][0]["backend"]["service"] == {
        "name": "web",
        "port": {"number": 8080},
    }
    assert ingress["spec"]["tls"] == [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}]
    web.refresh_from_db()
    assert web.ingress == {"host": "shop.example.com", "path": "/", "tls_secret": "shop-tls"}
    assert (
        job.steps
        and OperationLogEntry.objects.get(action="app.expose", result="accepted").after["ingress"]["host"]
        == "shop.example.com"
    )
    job = run(services.expose_app(web, acting_user=dev, service_type="ClusterIP", port=80))
    assert job.status == "succeeded", job.error
    with ClusterAPI(cluster) as api:
        assert api.get("Ingress", "web", web.namespace) is None
        assert api.get("Service", "web", web.namespace)["spec"]["type"] == "ClusterIP"


def test_delete_asks_for_the_name_and_removes_everything(cluster, web, dev):
    run(services.expose_app(web, acting_user=dev, service_type="ClusterIP", port=80))
    with pytest.raises(ValidationError, match="Type the app's name"):
        services.delete_app(web, acting_user=dev, confirm_name="wbe")
    job = services.delete_app(web, acting_user=dev, confirm_name="web")
    assert App.objects.get(pk=web.pk).status == "deleting"
    with pytest.raises(ValidationError, match="being deleted"):
        services.scale_app(App.objects.get(pk=web.pk), acting_user=dev, replicas=3)
    job = run(job)
    assert job.status == "succeeded", job.error
    assert not App.objects.filter(pk=web.pk).exists()
    with ClusterAPI(cluster) as api:
        assert api.get("Deployment", "web", web.namespace) is None
        assert api.get("Service", "web", web.namespace) is None
        assert api.list("Pod", web.namespace, label_selector="caas.io/app=web") == []
    deleted = set(OperationLogEntry.objects.filter(action="app.delete_object").values_list("target_kind", flat=True))
    assert deleted == {"Deployment", "Service"}


def test_stateful_app_delete_keeps_volumes_unless_asked(cluster, project, dev):
    wanted = spec(replicas=1, volumes=[{"name": "data", "mount_path": "/data", "size": "1Gi"}])
    keep, job = services.deploy_app(project, acting_user=dev, name="keep", kind="StatefulSet", spec=wanted)
    run(job)
    drop, job = services.deploy_app(project, acting_user=dev, name="drop", kind="StatefulSet", spec=wanted)
    run(job)
    assert run(services.delete_app(keep, acting_user=dev, confirm_name="keep")).status == "succeeded"
    assert (
        run(services.delete_app(drop, acting_user=dev, confirm_name="drop", delete_volumes=True)).status == "succeeded"
    )
    with ClusterAPI(cluster) as api:
        claims = [
            c["metadata"]["name"]
            for c in api.list("PersistentVolumeClaim", project.name)
            if not c["metadata"].get("deletionTimestamp")
        ]
    assert claims == ["data-keep-0"]


def _wait(read, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = read()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("nothing came")


def test_stateful_app_upgrades_pod_by_pod_and_keeps_its_volumes(cluster, project, dev):
    wanted = spec(replicas=2, volumes=[{"name": "data", "mount_path": "/data", "size": "1Gi"}])
    db, job = services.deploy_app(project, acting_user=dev, name="db", kind="StatefulSet", spec=wanted)
    assert run(job).status == "succeeded"
    db.refresh_from_db()
    with pytest.raises(ValidationError, match="volumes cannot be changed"):
        services.upgrade_app(db, acting_user=dev, spec={**wanted, "image": "postgres:17", "volumes": []})
    job = run(services.upgrade_app(db, acting_user=dev, spec={**wanted, "image": "nginx:1.28"}))
    assert job.status == "succeeded", job.error
    sts = live(db, cluster)
    assert sts["status"]["updateRevision"] == sts["status"]["currentRevision"] and sts["status"]["updatedReplicas"] == 2
    with ClusterAPI(cluster) as api:
        pods = api.list("Pod", project.name, label_selector="caas.io/app=db")
        claims = api.list("PersistentVolumeClaim", project.name, label_selector="caas.io/app=db")
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {"nginx:1.28"}
    assert sorted(c["metadata"]["name"] for c in claims) == ["data-db-0", "data-db-1"]


def test_stateful_app_lists_its_controller_revisions_and_rolls_back_to_any(cluster, project, dev, acme):
    other = mk_member(acme, "acme-ops")
    wanted = spec(replicas=2, volumes=[{"name": "data", "mount_path": "/data", "size": "1Gi"}])
    db, job = services.deploy_app(project, acting_user=dev, name="db", kind="StatefulSet", spec=wanted)
    assert run(job).status == "succeeded", job.error
    db.refresh_from_db()
    for image in ("nginx:1.28", "nginx:1.29"):
        job = run(services.upgrade_app(db, acting_user=dev, spec={**wanted, "image": image}))
        assert job.status == "succeeded", job.error

    mirror_namespace(cluster, db.namespace)
    revisions = selectors.live_context(db, dev)["revisions"]
    assert [(r.number, r.image, r.by, r.via_console) for r in revisions] == [
        (3, "nginx:1.29", "acme-dev", True),
        (2, "nginx:1.28", "acme-dev", True),
        (1, "nginx:1.27", "acme-dev", True),
    ]
    assert [r.current for r in revisions] == [True, False, False]
    assert revisions[0].ready == revisions[0].replicas == 2 and revisions[2].replicas == 0
    assert "-  - image: nginx:1.28" in revisions[0].diff and "+  - image: nginx:1.29" in revisions[0].diff
    assert revisions[2].diff == "" and revisions[0].at is not None

    job = run(services.rollback_app(db, acting_user=other, revision=1))
    assert job.status == "succeeded", job.error
    assert any(str(s["text"]).startswith("Rollout complete") for s in job.steps)
    sts = live(db, cluster)
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert sts["status"]["updateRevision"] == sts["status"]["currentRevision"] and sts["status"]["updatedReplicas"] == 2
    with ClusterAPI(cluster) as api:
        pods = api.list("Pod", project.name, label_selector="caas.io/app=db")
    assert sorted(p["metadata"]["name"] for p in pods) == ["db-0", "db-1"]
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {"nginx:1.27"}
    assert App.objects.get(pk=db.pk).spec["image"] == "nginx:1.27"

    mirror_namespace(cluster, db.namespace)
    revisions = selectors.live_context(db, dev)["revisions"]
    current = [r for r in revisions if r.current]
    assert len(current) == 1 and current[0].image == "nginx:1.27"
    assert (current[0].by, current[0].via_console) == ("acme-ops", True)
    assert "rolled back to revision 1" in current[0].change_cause
    assert {r.image: r.by for r in revisions if not r.current} == {"nginx:1.28": "acme-dev", "nginx:1.29": "acme-dev"}
    rollback = OperationLogEntry.objects.get(action="app.rollback")
    assert (
        rollback.actor_name == "acme-ops" and rollback.after["revision"] == "1" and rollback.before == {"revision": "3"}
    )
    assert rollback.after["controllerrevision"] == current[0].replicaset
    with pytest.raises(ValidationError, match=f"Revision {current[0].number} is the current one"):
        services.rollback_app(db, acting_user=dev, revision=current[0].number)
    with pytest.raises(ValidationError, match="Revision 9 does not exist"):
        services.rollback_app(db, acting_user=dev, revision=9)
    client = Client()
    client.force_login(dev)
    text = client.get(reverse("workloads:app", args=[acme.name, db.namespace, "db"])).content.decode()
    assert (
        'id="revision-table"' in text
        and 'data-testid="rollback"' in text
        and "acme-ops" in text
        and "nginx:1.28" in text
    )
