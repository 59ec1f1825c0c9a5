"""The Ceph gateway on a real Ceph: health, pools, images and snapshots, and the typed errors
with clear messages for what goes wrong (name clashes, busy or missing images, shrinking,
full pools, a cluster that is down or was never configured)."""

import os
import socket
import time
import uuid

import pytest

from console.ceph import gateway
from console.ceph.config import CephConfig
from console.ceph.errors import (
    CephConfigError,
    CephNotConfigured,
    CephPermissionDenied,
    CephUnavailable,
    CephUnreachable,
    ImageBusy,
    ImageExists,
    ImageHasSnapshots,
    ImageNotFound,
    InvalidName,
    PoolFull,
    PoolNotFound,
    ShrinkRefused,
    SnapshotExists,
    SnapshotInUse,
    SnapshotNotFound,
    SnapshotProtected,
)
from console.ceph.gateway import Ceph
from tests import cephdev

pytestmark = pytest.mark.usefixtures("english")  # the tests read the gateway's English messages

MIB = 1 << 20


def test_health_and_pools(ceph):
    health = ceph.health()
    assert health.status in ("HEALTH_OK", "HEALTH_WARN")
    assert all(check.code and check.summary for check in health.checks)
    deadline = time.monotonic() + 20
    while True:  # a cluster that just started reports its figures a few seconds later
        pools = {pool.name: pool for pool in ceph.pools()}
        if pools["rbd"].available_bytes or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert {"rbd", "caas-backups"} <= set(pools)
    assert pools["rbd"].id != pools["caas-backups"].id
    assert pools["rbd"].available_bytes > 0 and not pools["rbd"].full
    assert ceph.pool("rbd").name == "rbd"
    with pytest.raises(PoolNotFound, match="does not exist"):
        ceph.pool("no-such-pool")
    with pytest.raises(PoolNotFound):
        ceph.images(pool="no-such-pool")


def test_images_and_snapshots(ceph, name):
    vol = name("vol")
    info = ceph.create_image(vol, 8 * MIB)
    assert (info.name, info.size, info.snapshots, info.parent, info.watchers) == (vol, 8 * MIB, 0, None, 0)
    assert vol in ceph.images() and ceph.used_bytes(vol) == 0
    ceph.write(vol, 4 * MIB, b"hello")
    assert ceph.read(vol, 4 * MIB, 5) == b"hello" and ceph.used_bytes(vol) > 0
    assert ceph.resize_image(vol, 16 * MIB).size == 16 * MIB

    snap = ceph.create_snapshot(vol, "s1")
    assert (snap.name, snap.size, snap.protected) == ("s1", 16 * MIB, False) and snap.created
    ceph.write(vol, 4 * MIB, b"world")
    assert ceph.read(vol, 4 * MIB, 5, snapshot="s1") == b"hello"
    ceph.protect_snapshot(vol, "s1")
    ceph.protect_snapshot(vol, "s1")  # again: nothing to do
    assert ceph.snapshot(vol, "s1").protected

    copy = ceph.clone(vol, "s1", name("copy"))  # restore to a new volume: flattened, independent
    assert copy.parent is None and ceph.read(copy.name, 4 * MIB, 5) == b"hello"
    assert ceph.checksum(copy.name) == ceph.checksum(vol, snapshot="s1")
    assert ceph.snapshot(vol, "s1").protected  # it was protected before the clone: it stays so

    ceph.unprotect_snapshot(vol, "s1")
    linked = ceph.clone(vol, "s1", name("linked"), flatten=False)
    assert linked.parent == f"rbd/{vol}@s1"
    assert ceph.snapshot(vol, "s1").protected  # the unflattened clone needs it
    with pytest.raises(SnapshotInUse, match="has clones"):
        ceph.unprotect_snapshot(vol, "s1")
    ceph.remove_image(linked.name)
    ceph.unprotect_snapshot(vol, "s1")
    ceph.remove_snapshot(vol, "s1")
    ceph.remove_image(vol)
    assert vol not in ceph.images()


def test_snapshot_name_clash(ceph, name):
    vol = name("clash")
    ceph.create_image(vol, MIB)
    ceph.create_snapshot(vol, "daily")
    with pytest.raises(SnapshotExists) as caught:
        ceph.create_snapshot(vol, "daily")
    assert str(caught.value) == f"The image {vol} already has a snapshot named daily."
    assert caught.value.reason == "snapshot_exists" and not caught.value.retryable
    with pytest.raises(ImageExists, match="exists already"):
        ceph.create_image(vol, MIB)


def test_removing_an_image_with_snapshots_or_in_use(ceph, ceph_cluster, name):
    vol = name("busy")
    ceph.create_image(vol, MIB)
    ceph.create_snapshot(vol, "a")
    ceph.create_snapshot(vol, "b")
    with pytest.raises(ImageHasSnapshots) as caught:
        ceph.remove_image(vol)
    assert str(caught.value) == f"The image {vol} still has 2 snapshots: remove them first."
    ceph.protect_snapshot(vol, "a")
    with pytest.raises(SnapshotProtected, match="unprotect it first"):
        ceph.remove_snapshot(vol, "a")

    # Another client (a mapped volume, say) has the image open.
    with Ceph(ceph_cluster) as other, other._image("rbd", vol, writes=True):
        assert ceph.image(vol).watchers == 1
        with pytest.raises(ImageBusy, match="in use"):
            ceph.remove_image(vol, with_snapshots=True)
        with pytest.raises(ImageBusy):
            ceph.rollback(vol, "a")
    assert [snap.name for snap in ceph.snapshots(vol)] == ["a", "b"]  # refused before anything was removed
    ceph.remove_image(vol, with_snapshots=True)
    assert vol not in ceph.images()


def test_shrinking_is_refused(ceph, name):
    vol = name("shrink")
    ceph.create_image(vol, 8 * MIB)
    with pytest.raises(ShrinkRefused) as caught:
        ceph.resize_image(vol, 4 * MIB)
    assert str(caught.value) == f"The image {vol} has 8Mi; it cannot shrink to 4Mi (the data beyond would be lost)."
    assert ceph.image(vol).size == 8 * MIB


def test_missing_images_and_snapshots(ceph, name):
    vol = name("here")
    ceph.create_image(vol, MIB)
    with pytest.raises(ImageNotFound, match=f"The image {name('gone')} does not exist in the Ceph pool rbd"):
        ceph.image(name("gone"))
    with pytest.raises(ImageNotFound):
        ceph.remove_image(name("gone"))
    with pytest.raises(SnapshotNotFound, match="has no snapshot named nope"):
        ceph.rollback(vol, "nope")
    with pytest.raises(SnapshotNotFound):
        ceph.read(vol, 0, 10, snapshot="nope")
    with pytest.raises(SnapshotNotFound):
        ceph.protect_snapshot(vol, "nope")
    with pytest.raises(SnapshotNotFound):
        ceph.remove_snapshot(vol, "nope")
    with pytest.raises(InvalidName):
        ceph.create_image("../etc", MIB)
    with pytest.raises(InvalidName):
        ceph.create_snapshot(vol, "a@b")


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_cluster_is_a_typed_error_within_the_timeout(ceph_cluster, tmp_path):
    conf = tmp_path / "ceph.conf"
    conf.write_text(f"[global]\nmon host = v2:127.0.0.1:{closed_port()}\n")
    config = CephConfig(conf=str(conf), keyring=ceph_cluster.keyring, client=ceph_cluster.client, timeout=2)
    started = time.monotonic()
    with pytest.raises(CephUnreachable) as caught:
        Ceph(config).connect()
    assert time.monotonic() - started < 2 + 3
    assert str(caught.value) == "Ceph could not be reached within 2 s: its monitors do not answer."
    assert caught.value.retryable
    status = gateway.status(config)
    assert status.configured and status.health is None and isinstance(status.problem, CephUnreachable)


def test_a_cluster_that_stops_under_a_connected_gateway(tmp_path):
    """A second throwaway instance, stopped while the gateway is connected to it: calls end
    with CephUnavailable (unreachable or timed out) within the timeout, not hang."""
    env = {"CEPH_DEV_DIR": str(tmp_path / f"ceph-{uuid.uuid4().hex[:6]}")}
    assert cephdev.script("start", env=env).returncode == 0
    try:
        config = cephdev.config_of(cephdev.settings_of(env), timeout=3)
        with Ceph(config) as ceph:
            ceph.create_image("doomed", MIB)
            assert cephdev.script("stop", env=env).returncode == 0
            for call in (ceph.health, lambda: ceph.image("doomed"), lambda: ceph.write("doomed", 0, b"x")):
                started = time.monotonic()
                with pytest.raises(CephUnavailable) as caught:
                    call()
                assert time.monotonic() - started < 3 + 5, caught.value
                assert caught.value.retryable
    finally:
        cephdev.script("stop", env=env)
    assert not os.path.exists(env["CEPH_DEV_DIR"])


def test_settings_problems_are_explained(ceph_cluster, tmp_path, settings):
    settings.CEPH_CONF = ""
    settings.CEPH_KEYRING = ""
    status = gateway.status()
    assert not status.configured and isinstance(status.problem, CephNotConfigured)
    assert "Ceph is not configured: set CEPH_CONF, CEPH_KEYRING" in str(status.problem)
    assert "scripts/ceph-dev.sh" in str(status.problem)
    with pytest.raises(CephNotConfigured):
        Ceph()

    settings.CEPH_CONF, settings.CEPH_KEYRING = ceph_cluster.conf, str(tmp_path / "missing.keyring")
    with pytest.raises(CephConfigError, match="CEPH_KEYRING: .*missing.keyring is not a readable file"):
        Ceph().connect()

    wrong = tmp_path / "wrong.keyring"
    wrong.write_text(f"[{ceph_cluster.client}]\n\tkey = AQBvaWBkAAAAABAAN5BlWm6bKkYbTGQzwgU3Ig==\n")
    settings.CEPH_KEYRING = str(wrong)
    with pytest.raises(CephPermissionDenied, match="cephx refused the key"):
        Ceph().connect()

    settings.CEPH_KEYRING = ceph_cluster.keyring
    status = gateway.status()
    assert status.configured and status.problem is None and status.health.status.startswith("HEALTH_")


def test_a_full_pool_is_a_typed_error_and_backups_can_be_removed_from_it(ceph_cluster, name, tmp_path):
    """Its own pool and client (the shared pools serve other tests): a quota fills the backup
    pool; backing up says PoolFull at once; removing a backup still works and frees it."""
    conf = ceph_cluster.conf
    suffix = uuid.uuid4().hex[:8]
    pool, client = f"test-full-{suffix}", f"client.test-full-{suffix}"
    keyring = tmp_path / "client.keyring"
    cephdev.admin("ceph", "osd", "pool", "create", pool, "8", conf=conf)
    cephdev.admin("ceph", "osd", "pool", "application", "enable", pool, "rbd", conf=conf)
    try:
        cephdev.admin(
            "ceph",
            "auth",
            "get-or-create",
            client,
            "mon",
            "profile rbd",
            "osd",
            f"profile rbd pool=rbd, profile rbd pool={pool}",
            "-o",
            str(keyring),
            conf=conf,
        )
        config = CephConfig(conf=conf, keyring=str(keyring), client=client, backup_pool=pool, timeout=3)
        with Ceph(config) as ceph:
            vol = name("full")
            ceph.create_image(vol, 4 * MIB)
            ceph.write(vol, 0, os.urandom(3 * MIB))
            ceph.create_snapshot(vol, "s1")
            first = ceph.backup(vol, "s1")
            cephdev.admin("ceph", "osd", "pool", "set-quota", pool, "max_bytes", str(MIB), conf=conf)
            deadline = time.monotonic() + 30
            while not ceph.pool(pool).full:  # the quota is enforced when the OSD's usage report reaches the mon
                assert time.monotonic() < deadline, "the pool never became full"
                time.sleep(0.5)

            started = time.monotonic()
            with pytest.raises(PoolFull) as caught:
                ceph.backup(vol, "s1", name=name("second"))
            assert time.monotonic() - started < 2
            assert str(caught.value) == f"The Ceph pool {pool} is full: free space or raise its quota, then try again."

            # Written past the up-front check (it filled meanwhile): the timeout is explained the same way.
            data = ceph._backup_ioctx("caas-backup-data")
            with pytest.raises(PoolFull), ceph._translated(pool, writes=True):
                data.write_full("probe", b"x")

            ceph.remove_backup(first.name)  # goes through although the pool is full
            assert ceph.backups() == []
    finally:
        cephdev.admin("ceph", "auth", "del", client, conf=conf, check=False)
        cephdev.admin("ceph", "osd", "pool", "rm", pool, pool, "--yes-i-really-really-mean-it", conf=conf, check=False)
