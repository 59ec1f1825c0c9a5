"""Ceph tests: the shared throwaway cluster (tests/conftest.py: ceph_cluster), a connected
gateway per test, and names private to each test (what they name is removed afterwards).
Volume tests also get a sandbox whose ceph-csi uses that Ceph, a tenant, a namespace and a
volume in it; their modules ask for `english` and `ceph_settings` (pytestmark)."""

import itertools
import time
import uuid

import pytest

from console.ceph.errors import CephError
from console.ceph.gateway import Ceph
from console.sandbox import CephOptions, SandboxCluster
from tests.conftest import english_fixture
from tests.factories import mk_member
from tests.workloads.conftest import create_acme, provisioned_project

_namespaces = itertools.count(1)
english = english_fixture()


@pytest.fixture
def ceph(ceph_cluster):
    with Ceph(ceph_cluster) as gateway:
        yield gateway


@pytest.fixture
def name(ceph):
    """name("vol") → a name no other test (or test worker) uses; images and backups whose
    names start with this test's prefix are removed at the end."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    yield lambda suffix: f"{prefix}-{suffix}"
    for backup in ceph.backups():
        if backup.image.startswith(prefix) or prefix in backup.name:
            try:
                ceph.remove_backup(backup.name)
            except CephError:
                pass
    for _ in range(2):  # clones before their parents: a second pass removes what the first could not
        for image in ceph.images():
            if image.startswith(prefix):
                try:
                    ceph.remove_image(image, with_snapshots=True)
                except CephError:
                    pass


@pytest.fixture(scope="module")
def sandbox(ceph_cluster, tmp_path_factory):
    """The sandbox with ceph-csi on the real Ceph: each claim gets its real RBD image."""
    options = CephOptions(ceph_cluster.conf, ceph_cluster.keyring, ceph_cluster.client, pool="rbd")
    with SandboxCluster(nodes=1, clock_speed=20, ceph=options) as cluster:
        yield cluster


@pytest.fixture
def ceph_settings(settings, ceph_cluster, quick_rollouts):
    settings.CEPH_CONF, settings.CEPH_KEYRING = ceph_cluster.conf, ceph_cluster.keyring
    settings.CEPH_CLIENT, settings.CEPH_POOL = ceph_cluster.client, ceph_cluster.pool
    settings.CEPH_BACKUP_POOL = ceph_cluster.backup_pool


@pytest.fixture
def acme(cluster, operator):
    return create_acme(cluster, operator, storage_quota="1Gi")


@pytest.fixture
def dev(acme):
    return mk_member(acme, "acme-dev")


@pytest.fixture
def project(acme, cluster, operator):
    project = provisioned_project(acme, cluster, operator, f"st{next(_namespaces)}")
    assert project.status == "active"
    return project


def run(job):
    from console.jobs.models import Job
    from workloads.storage.tasks import run_storage_job

    run_storage_job.apply(args=[job.pk])
    return Job.objects.get(pk=job.pk)


def succeeded(job):
    job = run(job)
    assert job.status == "succeeded", (job.error, [str(step["text"]) for step in job.steps])
    return job


@pytest.fixture
def volume(project, dev):
    from workloads.storage import services

    volume, job = services.create_volume(project, acting_user=dev, name="data", size="64Mi")
    succeeded(job)
    volume.refresh_from_db()
    return volume


def backup_now(volume, user):
    from workloads.storage import services

    started = time.monotonic()
    node, job = services.create_backup(volume, acting_user=user)
    succeeded(job)
    node.refresh_from_db()
    print(
        f"backup {node} ({node.kind}): {node.data_bytes} B of data in {node.seconds} s "
        f"(job {time.monotonic() - started:.2f} s)"
    )
    return node
