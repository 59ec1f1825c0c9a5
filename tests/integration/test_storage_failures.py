"""Storage jobs when things break, with the real processes: a Celery worker consuming the
`ceph` queue, the sandbox's ceph-csi making REAL RBD images, a real Ceph.

- kill -9 of the worker in the middle of a backup: once a new worker starts and its reaper
  runs, the node is failed (never left running, never silently gone), the half-written
  artefact and the snapshot are removed, and the chain goes on from the last good node;
- Ceph stopped mid-backup (a throwaway instance of its own, frozen, then killed): the job
  fails with a clear sentence, and nothing that was there before is lost;
- a rollback under a real StatefulSet that mounts the volume: the app goes to zero, the
  volume rolls back, the app comes back to its replicas.

Backups are slowed down by an RBD read limit on the volume's image (rbd_qos_read_bps_limit,
honoured by librbd in the worker), so that the worker is killed, or Ceph stopped, while the
artefact is being written."""

import json
import os
import random
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import translation

from console.ceph import artefacts
from console.ceph.errors import BackupNotFound, CephUnavailable
from console.ceph.gateway import Ceph
from console.jobs.models import Job
from console.kube.api import ClusterAPI
from console.oplog.models import OperationLogEntry
from console.sandbox import CephOptions, SandboxCluster
from tenants import services as tenant_services
from tenants.models import Project
from workloads import services as app_services
from workloads import specs
from workloads.storage import services
from workloads.storage.choices import BackupKind, BackupStatus, VolumeStatus
from workloads.storage.models import Backup

from .. import cephdev, live
from ..conftest import KEY_PREFIX, english_fixture
from ..factories import mk_cluster, mk_member, mk_user
from .test_worker_and_websocket import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

MIB = 1 << 20
HEARTBEAT_TIMEOUT = 3
CEPH_TIMEOUT = 3
ENDED = ("succeeded", "failed", "cancelled")
english = english_fixture(autouse=True)  # the services' refusals, read here


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox(ceph_cluster):
    """The sandbox whose ceph-csi makes each claim's real RBD image on the shared test Ceph."""
    options = CephOptions(ceph_cluster.conf, ceph_cluster.keyring, ceph_cluster.client, pool=ceph_cluster.pool)
    with SandboxCluster(nodes=1, clock_speed=20, ceph=options) as cluster:
        yield cluster


@pytest.fixture
def queue():
    """This test's own queue: the session's live console worker (no Ceph settings) must not
    take its jobs."""
    with live.own_queue(f"{KEY_PREFIX}-storage-{uuid.uuid4().hex[:6]}") as name:
        yield name


def ceph_settings(settings, config):
    """The console's Ceph settings, for the services here and for the workers' environment."""
    values = {
        "CEPH_CONF": config.conf,
        "CEPH_KEYRING": config.keyring,
        "CEPH_CLIENT": config.client,
        "CEPH_POOL": config.pool,
        "CEPH_BACKUP_POOL": config.backup_pool,
        "CEPH_TIMEOUT": CEPH_TIMEOUT,
    }
    for name, value in values.items():
        setattr(settings, name, value)
    return {name: str(value) for name, value in values.items()}


def worker_env(live_env, queue, ceph):
    return {
        **live_env,
        **ceph,
        "CONSOLE_KEY_PREFIX": queue,
        "JOB_HEARTBEAT_TIMEOUT_SECONDS": str(HEARTBEAT_TIMEOUT),
        "CAAS_ROLLOUT_TIMEOUT": "60",
    }


@pytest.fixture
def images_removed(ceph_cluster):
    """Images (and their backups) the test names are removed from the shared Ceph at the end."""
    names = []
    yield names
    with Ceph(ceph_cluster) as ceph:
        for image in names:
            for backup in ceph.backups(image=image):
                ceph.remove_backup(backup.name)
            if image in ceph.images():
                ceph.remove_image(image, with_snapshots=True)


# --- helpers -------------------------------------------------------------------------------


def tenant_namespace(cluster, short_name, worker):
    """Tenant acme with room for a few volumes, a member (reading English) and a namespace
    provisioned by the worker."""
    operator = mk_user(f"op-{short_name}", "operator", password=None)
    acme = tenant_services.create_tenant(
        acting_user=operator,
        name="acme",
        display_name="Acme",
        clusters=[cluster],
        limits={"cpu": "8", "memory": "16Gi", "pods": "40", "storage": "20Gi"},
        default_quota={"cpu": "2", "memory": "4Gi", "pods": "10", "storage": "4Gi"},
        default_limit_range={
            "request_cpu": "100m",
            "limit_cpu": "500m",
            "request_memory": "64Mi",
            "limit_memory": "256Mi",
        },
    )
    dev = mk_member(acme, f"dev-{short_name}", "tenant-admin")
    dev.language = "en"
    dev.save(update_fields=["language"])
    project, job = tenant_services.create_project(acme, acting_user=operator, cluster=cluster, short_name=short_name)
    assert wait_until(lambda: Project.objects.get(pk=project.pk).status == "active", timeout=60), live.read_log(worker)
    project.refresh_from_db()
    return project, dev


def ended(job, worker, timeout=60):
    assert wait_until(lambda: Job.objects.get(pk=job.pk).status in ENDED, timeout), live.read_log(worker)
    job.refresh_from_db()
    return job


def succeeded(job, worker, timeout=60):
    job = ended(job, worker, timeout)
    with translation.override("en"):
        assert job.status == "succeeded", (str(job.error), [str(step["text"]) for step in job.steps])
    return job


def in_english(text):
    with translation.override("en"):
        return str(text)


def new_volume(project, dev, name, size, worker, images_removed=None):
    volume, job = services.create_volume(project, acting_user=dev, name=name, size=size)
    succeeded(job, worker)
    volume.refresh_from_db()
    assert volume.status == VolumeStatus.READY and volume.image
    if images_removed is not None:
        images_removed.append(volume.image)
    return volume


def backed_up(volume, dev, worker):
    node, job = services.create_backup(volume, acting_user=dev)
    succeeded(job, worker)
    node.refresh_from_db()
    assert node.status == BackupStatus.SUCCEEDED
    return node


def throttle(config, volume, bytes_per_second):
    """Reads of the image (as librbd in the worker makes them) go no faster than this; None: unlimited."""
    spec = f"{volume.pool}/{volume.image}"
    if bytes_per_second is None:
        cephdev.admin("rbd", "config", "image", "remove", spec, "rbd_qos_read_bps_limit", conf=config.conf)
    else:
        cephdev.admin(
            "rbd", "config", "image", "set", spec, "rbd_qos_read_bps_limit", str(bytes_per_second), conf=config.conf
        )


def artefact_half_written(ceph, node, chunks=2):
    """The node's artefact exists, unfinished ("writing"), with at least `chunks` chunks stored."""
    try:
        manifest = ceph.backup_info(node.artefact)
    except BackupNotFound:
        return False
    if manifest.complete:
        raise AssertionError(f"the backup {node} finished before it could be interrupted")
    data = ceph._backup_ioctx(artefacts.DATA_NAMESPACE)
    try:
        data.stat(artefacts.chunk_name(node.artefact, chunks - 1))
    except Exception:
        return False
    return True


def leftovers(ceph, config, volume, node):
    """What of the node is still in Ceph: its snapshot, its manifest, its chunks (Ceph not
    answering yet, after a thaw: "unknown", to be asked again)."""
    try:
        return _leftovers(ceph, config, volume, node)
    except (CephUnavailable, subprocess.TimeoutExpired) as exc:
        return [f"unknown: {exc}"]


def _leftovers(ceph, config, volume, node):
    found = []
    if node.snapshot in {snap.name for snap in ceph.snapshots(volume.image, pool=volume.pool)}:
        found.append(f"snapshot {node.snapshot}")
    try:
        found.append(f"manifest {ceph.backup_info(node.artefact).name}")
    except BackupNotFound:
        pass
    listed = cephdev.admin(
        "rados", "-p", config.backup_pool, "--namespace", artefacts.DATA_NAMESPACE, "ls", conf=config.conf
    )
    found += [key for key in listed.stdout.decode().split() if key.startswith(node.artefact + ".")]
    return found


def steps_of(job):
    with translation.override("en"):
        return [str(step["text"]) for step in job.steps]


# --- kill -9 mid-backup --------------------------------------------------------------------


def test_a_worker_killed_mid_backup_leaves_a_consistent_chain(
    live_env, sandbox, queue, settings, ceph_cluster, images_removed
):
    env = worker_env(live_env, queue, ceph_settings(settings, ceph_cluster))
    cluster = mk_cluster("sandbox", kubeconfig_text=sandbox.kubeconfig_text())
    rng = random.Random(9)
    with Ceph(ceph_cluster) as ceph:
        with live.celery_worker(env, "doomed") as doomed:
            project, dev = tenant_namespace(cluster, "killed", doomed)
            volume = new_volume(project, dev, "data", "64Mi", doomed, images_removed)
            ceph.write(volume.image, 0, rng.randbytes(4 * MIB), pool=volume.pool)
            first = backed_up(volume, dev, doomed)
            assert first.kind == BackupKind.FULL

            ceph.write(volume.image, 8 * MIB, rng.randbytes(40 * MIB), pool=volume.pool)
            content = ceph.checksum(volume.image, pool=volume.pool)
            throttle(ceph_cluster, volume, 4 * MIB)  # the second backup takes about 10 s
            node, job = services.create_backup(volume, acting_user=dev)
            assert wait_until(lambda: artefact_half_written(ceph, node), timeout=30), live.read_log(doomed)
            doomed.kill()  # SIGKILL in the middle of writing the artefact: no clean-up of any kind
            doomed.wait()
        throttle(ceph_cluster, volume, None)

        # What the killed worker left: a running job, a running node, a half-written artefact.
        job.refresh_from_db()
        node.refresh_from_db()
        assert job.status == "running" and job.owner.startswith("doomed@")
        assert node.status == BackupStatus.RUNNING
        assert ceph.backup_info(node.artefact).state == "writing"
        assert f"snapshot {node.snapshot}" in leftovers(ceph, ceph_cluster, volume, node)
        with pytest.raises(ValidationError, match=f"Backup {node} of data is still Running"):
            services.create_backup(volume, acting_user=dev)  # nothing starts on top of it meanwhile

        time.sleep(HEARTBEAT_TIMEOUT + 0.5)  # the killed worker's heartbeat goes stale
        with live.celery_worker(env, "rescuer") as rescuer:  # its reaper runs as it starts
            job = ended(job, rescuer)
            node.refresh_from_db()
            assert job.status == "failed" and node.status == BackupStatus.FAILED and node.finished_at
            error = in_english(job.error)
            assert "The worker running this job (doomed@" in error and "it can be retried" in error, error
            # ... and nothing of it lingers half-written in Ceph
            assert wait_until(lambda: not leftovers(ceph, ceph_cluster, volume, node), timeout=30), (
                leftovers(ceph, ceph_cluster, volume, node),
                live.read_log(rescuer),
            )
            assert Backup.objects.filter(volume=volume).count() == 2  # failed, not silently gone

            # The last good node is whole, and the chain goes on from it.
            first.refresh_from_db()
            assert first.status == BackupStatus.SUCCEEDED
            assert [snap.name for snap in ceph.snapshots(volume.image, pool=volume.pool)] == [first.snapshot]
            ceph.verify_backup(first.artefact)
            third = backed_up(volume, dev, rescuer)
            assert (third.kind, third.parent_id, third.checksum) == (BackupKind.INCREMENTAL, first.pk, content)
            copy = f"{volume.image}-replayed"
            images_removed.append(copy)
            ceph.restore([first.artefact, third.artefact], copy, pool=volume.pool)
            assert ceph.checksum(copy, pool=volume.pool) == content

    # The chain as its page draws it: the failed node stays, between the two good ones.
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(dev)
    html = client.get(f"/storage/acme/{project.name}/volumes/data/").content.decode()
    assert html.count('data-testid="backup-node"') == 3
    assert f'id="backup-{node.pk}" data-testid="backup-node" data-status="failed"' in html
    assert OperationLogEntry.objects.filter(action="backup.create.finish", result="failed").count() == 1


# --- kill -9 mid-consolidation -------------------------------------------------------------


def test_a_worker_killed_mid_consolidation_leaves_a_stray_the_next_job_removes(
    live_env, sandbox, queue, settings, ceph_cluster, images_removed
):
    """The rewrite of the node that continues the consolidated one is stored under
    `<artefact>.j<job>`; killed while writing it, nothing names that artefact. The reaper fails
    the job, the consolidated node stays good (a node still continues it), and the next job on
    the image removes the stray."""
    env = worker_env(live_env, queue, ceph_settings(settings, ceph_cluster))
    cluster = mk_cluster("sandbox", kubeconfig_text=sandbox.kubeconfig_text())
    rng = random.Random(17)
    with Ceph(ceph_cluster) as ceph:
        with live.celery_worker(env, "doomed") as doomed:
            project, dev = tenant_namespace(cluster, "strays", doomed)
            volume = new_volume(project, dev, "data", "64Mi", doomed, images_removed)
            ceph.write(volume.image, 0, rng.randbytes(2 * MIB), pool=volume.pool)
            first = backed_up(volume, dev, doomed)
            ceph.write(volume.image, 8 * MIB, rng.randbytes(40 * MIB), pool=volume.pool)
            second = backed_up(volume, dev, doomed)
            assert second.parent_id == first.pk
            throttle(ceph_cluster, volume, 4 * MIB)  # the second, stored again as full, takes ~10 s
            job = services.consolidate_backup(first, acting_user=dev)
            stray = f"{second.artefact}.j{job.pk}"
            stray_node = Backup(artefact=stray)
            assert wait_until(lambda: artefact_half_written(ceph, stray_node), timeout=30), live.read_log(doomed)
            doomed.kill()
            doomed.wait()
        throttle(ceph_cluster, volume, None)
        assert stray in {b.name for b in ceph.backups(image=volume.image, pool=volume.pool)}

        time.sleep(HEARTBEAT_TIMEOUT + 0.5)
        with live.celery_worker(env, "rescuer") as rescuer:
            job = ended(job, rescuer)
            first.refresh_from_db()
            second.refresh_from_db()
            assert job.status == "failed"
            assert first.status == BackupStatus.SUCCEEDED  # still continued by the second: still good
            assert (second.parent_id, second.artefact) == (first.pk, f"{volume.pool}/{volume.image}@{second.snapshot}")
            third = backed_up(volume, dev, rescuer)  # the next job on the image
            removed = f"Removed {stray}, left by an interrupted job: no backup uses it."
            assert removed in steps_of(Job.objects.get(pk=third.job_id))
            names = {b.name for b in ceph.backups(image=volume.image, pool=volume.pool)}
            assert names == {first.artefact, second.artefact, third.artefact}
            assert OperationLogEntry.objects.filter(action="backup.collect_stray", result="succeeded").count() == 1


# --- Ceph stopped mid-operation ------------------------------------------------------------


def daemons(env):
    run = Path(env["CEPH_DEV_DIR"]) / "run"
    return [int((run / f"{name}.pid").read_text()) for name in ("mon.a", "mgr.x", "osd.0")]


def all_active(config):
    """Every placement group of the throwaway Ceph is active (it answers I/O again)."""
    out = cephdev.admin("ceph", "pg", "stat", "--format", "json", conf=config.conf, check=False)
    if out.returncode:
        return False
    stat = json.loads(out.stdout)
    states = stat.get("pg_summary", stat).get("num_pg_by_state", [])
    return bool(states) and all("active" in state["name"] for state in states)


def test_ceph_stopped_mid_backup_fails_the_job_clearly_and_loses_nothing(live_env, queue, settings, tmp_path):
    """A throwaway Ceph of its own (the shared one serves other tests): frozen (SIGSTOP, every
    daemon) in the middle of a backup, then thawed; later its daemons are killed for good."""
    ceph_env = {"CEPH_DEV_DIR": str(tmp_path / "ceph"), "CEPH_DEV_OSD_BYTES": str(1 << 30)}
    started = cephdev.script("start", env=ceph_env)
    assert started.returncode == 0, started.stderr
    try:
        config = cephdev.config_of(cephdev.settings_of(ceph_env), timeout=CEPH_TIMEOUT)
        env = worker_env(live_env, queue, ceph_settings(settings, config))
        options = CephOptions(config.conf, config.keyring, config.client, pool=config.pool)
        with (
            SandboxCluster(nodes=1, clock_speed=20, ceph=options) as sandbox,
            live.celery_worker(env, "stopped") as worker,
            Ceph(config) as ceph,
        ):
            cluster = mk_cluster("sandbox-ceph", kubeconfig_text=sandbox.kubeconfig_text())
            project, dev = tenant_namespace(cluster, "stopped", worker)
            volume = new_volume(project, dev, "data", "64Mi", worker)
            rng = random.Random(11)
            ceph.write(volume.image, 0, rng.randbytes(4 * MIB), pool=volume.pool)
            first = backed_up(volume, dev, worker)
            ceph.write(volume.image, 8 * MIB, rng.randbytes(32 * MIB), pool=volume.pool)
            content = ceph.checksum(volume.image, pool=volume.pool)

            throttle(config, volume, 4 * MIB)
            node, job = services.create_backup(volume, acting_user=dev)
            assert wait_until(lambda: artefact_half_written(ceph, node), timeout=30), live.read_log(worker)
            frozen_at = time.monotonic()
            for pid in daemons(ceph_env):
                os.kill(pid, signal.SIGSTOP)
            try:
                job = ended(job, worker, timeout=90)
                took = time.monotonic() - frozen_at
            finally:
                for pid in daemons(ceph_env):
                    os.kill(pid, signal.SIGCONT)
            thawed = time.monotonic()
            assert wait_until(lambda: all_active(config), timeout=120), cephdev.admin(
                "ceph", "-s", conf=config.conf, check=False
            ).stdout.decode()
            print(f"frozen {took:.1f} s; placement groups active {time.monotonic() - thawed:.1f} s after the thaw")
            error = in_english(job.error)
            assert job.status == "failed", steps_of(job)
            assert error in (
                f"Ceph did not finish the operation within {CEPH_TIMEOUT} s: the cluster is slow or partly down.",
                f"Ceph could not be reached within {CEPH_TIMEOUT} s: its monitors do not answer.",
            ), error
            assert took < 60, f"the job took {took:.0f} s to give up"
            node.refresh_from_db()
            first.refresh_from_db()
            volume.refresh_from_db()
            assert node.status == BackupStatus.FAILED and first.status == BackupStatus.SUCCEEDED
            assert volume.status == VolumeStatus.READY

            # Ceph is back: nothing of what was there is lost, nothing of the failed node lingers.
            throttle(config, volume, None)
            assert wait_until(lambda: not leftovers(ceph, config, volume, node), timeout=60), (
                leftovers(ceph, config, volume, node),
                live.read_log(worker),
            )
            assert ceph.checksum(volume.image, pool=volume.pool) == content
            assert [snap.name for snap in ceph.snapshots(volume.image, pool=volume.pool)] == [first.snapshot]
            ceph.verify_backup(first.artefact)
            again = backed_up(volume, dev, worker)
            assert (again.parent_id, again.checksum) == (first.pk, content)

            # Stopped for good (its daemons killed, its ceph.conf still there): a clear sentence
            # again, the chain's rows as they were.
            for pid in daemons(ceph_env):
                os.kill(pid, signal.SIGKILL)
            last, job = services.create_backup(volume, acting_user=dev)
            job = ended(job, worker, timeout=90)
            assert job.status == "failed"
            assert in_english(job.error) in (
                f"Ceph could not be reached within {CEPH_TIMEOUT} s: its monitors do not answer.",
                f"Ceph did not finish the operation within {CEPH_TIMEOUT} s: the cluster is slow or partly down.",
            ), in_english(job.error)
            statuses = dict(Backup.objects.filter(volume=volume).values_list("pk", "status"))
            assert statuses == {
                first.pk: BackupStatus.SUCCEEDED,
                node.pk: BackupStatus.FAILED,
                again.pk: BackupStatus.SUCCEEDED,
                last.pk: BackupStatus.FAILED,
            }
            volume.refresh_from_db()
            assert volume.status == VolumeStatus.READY
            # each failure told whoever asked (the job ends first, then its requester hears of it)
            assert wait_until(lambda: dev.notifications.filter(level="danger").count() == 2, timeout=10)
    finally:
        cephdev.script("stop", env=ceph_env)


def test_an_unfinished_artefact_is_removed_whole_when_its_first_chunks_are_gone(ceph_cluster):
    """What a clean-up cut off by Ceph stopping can leave (seen above: the removal of chunk 0
    reached the OSD, the client had given up): an unfinished artefact whose first chunks are
    gone and later ones are not. Removing it removes every chunk, not only up to the gap."""
    name = f"rbd/t{uuid.uuid4().hex[:10]}-partial@s1"
    with Ceph(ceph_cluster) as ceph:
        manifests = ceph._backup_ioctx(artefacts.MANIFEST_NAMESPACE)
        data = ceph._backup_ioctx(artefacts.DATA_NAMESPACE)
        manifest = artefacts.Manifest(name=name, pool="rbd", image="gone", snapshot="s1", since=None, image_size=MIB)
        artefacts.claim(manifests, manifest)
        for index in range(3):
            data.write_full(artefacts.chunk_name(name, index), b"x" * 100)
        artefacts.remove(data, artefacts.chunk_name(name, 0))
        assert ceph.backup_info(name).state == "writing"
        ceph.remove_backup(name)
        with pytest.raises(BackupNotFound):
            ceph.backup_info(name)
        assert [obj.key for obj in data.list_objects() if obj.key.startswith(name)] == []


# --- rollback under a real app --------------------------------------------------------------


def db_spec():
    spec = specs.empty_spec()
    spec.update(
        image="nginx:1.27",
        replicas=2,
        ports=[{"name": "http", "port": 80}],
        resources={"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}},
        volumes=[{"name": "data", "mount_path": "/var/lib/data", "size": "64Mi"}],
    )
    return spec


def mounting(api, namespace, claim):
    return sorted(
        pod["metadata"]["name"]
        for pod in api.list("Pod", namespace)
        if any(
            (v.get("persistentVolumeClaim") or {}).get("claimName") == claim
            for v in (pod.get("spec") or {}).get("volumes") or ()
        )
    )


def running_pods(api, namespace):
    return sorted(
        pod["metadata"]["name"]
        for pod in api.list("Pod", namespace)
        if (pod.get("status") or {}).get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp")
    )


def test_rollback_scales_the_app_that_mounts_the_volume_to_zero_and_back(
    live_env, sandbox, queue, settings, ceph_cluster, images_removed
):
    env = worker_env(live_env, queue, ceph_settings(settings, ceph_cluster))
    cluster = mk_cluster("sandbox", kubeconfig_text=sandbox.kubeconfig_text())
    rng = random.Random(5)
    with live.celery_worker(env, "scaler") as worker, Ceph(ceph_cluster) as ceph:
        project, dev = tenant_namespace(cluster, "scaled", worker)
        ns = project.name
        # The volume the StatefulSet's first pod claims (its template "data", pod db-0), made first.
        volume = new_volume(project, dev, "data-db-0", "64Mi", worker, images_removed)
        ceph.write(volume.image, 0, rng.randbytes(2 * MIB), pool=volume.pool)
        first = backed_up(volume, dev, worker)
        app, job = app_services.deploy_app(project, acting_user=dev, name="db", kind="StatefulSet", spec=db_spec())
        succeeded(job, worker, timeout=90)
        with ClusterAPI(cluster) as api:
            assert wait_until(lambda: running_pods(api, ns) == ["db-0", "db-1"], timeout=60)
            assert mounting(api, ns, "data-db-0") == ["db-0"]
            other = api.get("PersistentVolumeClaim", "data-db-1", ns)
            images_removed.append(
                api.get("PersistentVolume", other["spec"]["volumeName"])["spec"]["csi"]["volumeAttributes"]["imageName"]
            )
        ceph.write(volume.image, MIB, rng.randbytes(2 * MIB), pool=volume.pool)  # what db-0 wrote since
        assert ceph.checksum(volume.image, pool=volume.pool) != first.checksum

        with pytest.raises(ValidationError, match="is mounted by db-0"):
            services.rollback_backup(first, acting_user=dev)  # not under a mounted file system
        job = services.rollback_backup(first, acting_user=dev, scale_down=True)
        replicas_seen, mounted_seen = set(), set()
        with ClusterAPI(cluster) as api:
            while Job.objects.get(pk=job.pk).status not in ENDED:
                replicas_seen.add(api.get("StatefulSet", "db", ns)["spec"]["replicas"])
                mounted_seen.add(len(mounting(api, ns, "data-db-0")))
                time.sleep(0.05)
            job = succeeded(job, worker)
            assert 0 in replicas_seen and 0 in mounted_seen, (replicas_seen, mounted_seen)
            steps = steps_of(job)
            order = [
                "Scaled StatefulSet db from 2 to 0.",
                "No pod mounts data-db-0 any more.",
                f"Rolled {volume.image} back to snapshot {first.snapshot}.",
                "Verified: the content's checksum is the backup's",
                "Scaled StatefulSet db back to 2.",
            ]
            positions = [next(i for i, text in enumerate(steps) if text.startswith(want)) for want in order]
            assert positions == sorted(positions), steps
            assert ceph.checksum(volume.image, pool=volume.pool) == first.checksum

            # the app is back with its two replicas, db-0 on the rolled-back volume
            assert api.get("StatefulSet", "db", ns)["spec"]["replicas"] == 2
            assert wait_until(lambda: running_pods(api, ns) == ["db-0", "db-1"], timeout=60), running_pods(api, ns)
            assert mounting(api, ns, "data-db-0") == ["db-0"]
        volume.refresh_from_db()
        assert volume.status == VolumeStatus.READY
        scaled = OperationLogEntry.objects.filter(action="workload.scale", target_name="db").order_by("pk")
        assert [(e.before["replicas"], e.after["replicas"]) for e in scaled] == [(2, 0), (0, 2)]
