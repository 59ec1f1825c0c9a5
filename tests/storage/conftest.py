"""Ceph tests: the shared throwaway cluster (tests/conftest.py: ceph_cluster), a connected
gateway per test, and names private to each test (what they name is removed afterwards)."""

import uuid

import pytest

from console.ceph.errors import CephError
from console.ceph.gateway import Ceph


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
