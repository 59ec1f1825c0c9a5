"""Backup chains on a real Ceph through the gateway: known data in, the same data back, by
rollback and by replaying the chain into fresh images; damaged or out-of-order artefacts
are refused and change nothing. Checksums are compared with a local model of the image's
bytes, not only with what Ceph says about itself."""

import hashlib
import random

import pytest

from console.ceph import artefacts
from console.ceph.errors import (
    BackupCorrupt,
    BackupExists,
    BackupIncomplete,
    ChainBroken,
    ImageChanged,
    ImageNotEmpty,
    ImageNotFound,
    SnapshotExists,
    SnapshotNotFound,
)
from tests import cephdev

pytestmark = pytest.mark.usefixtures("english")  # the tests read the gateway's English messages

MIB = 1 << 20


class Volume:
    """An image and a local copy of what its bytes must be."""

    def __init__(self, ceph, name, size):
        self.ceph, self.name = ceph, name
        self.bytes = bytearray(size)
        ceph.create_image(name, size)

    def write(self, offset, data):
        self.ceph.write(self.name, offset, data)
        self.bytes[offset : offset + len(data)] = data

    def grow(self, size):
        self.ceph.resize_image(self.name, size)
        self.bytes.extend(bytes(size - len(self.bytes)))

    def expected(self):
        return hashlib.sha256(self.bytes).hexdigest()


def random_bytes(rng, n):
    return rng.randbytes(n)


def test_rollback_after_full_and_incremental_backups_gives_the_original_bytes(ceph, name):
    rng = random.Random(1)
    vol = Volume(ceph, name("vol"), 24 * MIB)
    vol.write(0, random_bytes(rng, 3 * MIB))
    vol.write(10 * MIB + 123, random_bytes(rng, 2 * MIB))
    original = vol.expected()
    assert ceph.checksum(vol.name) == original

    ceph.create_snapshot(vol.name, "b1")
    full = ceph.backup(vol.name, "b1")
    assert (full.kind, full.since) == ("full", None)
    assert 5 * MIB <= full.data_bytes <= ceph.used_bytes(vol.name, snapshot="b1")  # allocated data only

    vol.write(MIB, random_bytes(rng, MIB))  # overwrite part of the data, and write where there was none
    vol.write(20 * MIB, random_bytes(rng, 100_000))
    ceph.create_snapshot(vol.name, "b2")
    incremental = ceph.backup(vol.name, "b2", since="b1")
    assert incremental.kind == "incremental" and incremental.since == "b1"
    assert incremental.data_bytes < full.data_bytes  # only what changed
    assert ceph.checksum(vol.name, snapshot="b2") == vol.expected() != original

    vol.write(0, b"\xff" * MIB)  # the head moves on after the last backup
    ceph.rollback(vol.name, "b1")
    assert ceph.checksum(vol.name) == original == ceph.checksum(vol.name, snapshot="b1")
    ceph.verify_backup(full.name)
    ceph.verify_backup(incremental.name)


def test_replaying_the_chain_into_fresh_images_gives_each_node_back(ceph, name):
    rng = random.Random(2)
    vol = Volume(ceph, name("src"), 16 * MIB)
    chain, expected = [], []
    steps = [
        lambda: vol.write(0, random_bytes(rng, 5 * MIB)),
        lambda: vol.write(2 * MIB + 7, random_bytes(rng, 300_000)),
        lambda: (vol.grow(20 * MIB), vol.write(18 * MIB, random_bytes(rng, MIB))),  # the size record
        lambda: vol.write(MIB, bytes(2 * MIB)),  # zeroes written over data
    ]
    for index, step in enumerate(steps, 1):
        step()
        snap = f"n{index}"
        ceph.create_snapshot(vol.name, snap)
        chain.append(ceph.backup(vol.name, snap, since=chain[-1].snapshot if chain else None))
        expected.append(vol.expected())
        assert ceph.checksum(vol.name, snapshot=snap) == expected[-1]

    # Every node restored on its own: the full backup and the incrementals up to it.
    for index in range(1, len(chain) + 1):
        restored = ceph.restore([backup.name for backup in chain[:index]], name(f"r{index}"))
        assert restored.size == chain[index - 1].image_size
        assert ceph.checksum(restored.name) == expected[index - 1]
        assert [snap.name for snap in ceph.snapshots(restored.name)] == [f"n{i}" for i in range(1, index + 1)]

    # One image, one artefact at a time (as a restore that continues later would).
    target = name("step")
    ceph.create_image(target, chain[0].image_size)
    for index, backup in enumerate(chain):
        ceph.apply_backup(backup.name, target)
        assert ceph.checksum(target, snapshot=backup.snapshot) == expected[index]
        assert ceph.checksum(target, snapshot=backup.snapshot) == ceph.checksum(vol.name, snapshot=backup.snapshot)


def test_artefacts_are_byte_for_byte_what_rbd_export_diff_writes_and_rbd_import_diff_reads(ceph, name, ceph_cluster):
    rng = random.Random(3)
    vol = Volume(ceph, name("cli"), 8 * MIB)
    vol.write(MIB, random_bytes(rng, 2 * MIB))
    ceph.create_snapshot(vol.name, "a")
    vol.write(100, random_bytes(rng, 5000))
    ceph.create_snapshot(vol.name, "b")
    full, incremental = ceph.backup(vol.name, "a"), ceph.backup(vol.name, "b", since="a")
    conf = ceph_cluster.conf
    spec = f"{ceph.config.pool}/{vol.name}"
    for backup, args in ((full, [f"{spec}@a"]), (incremental, ["--from-snap", "a", f"{spec}@b"])):
        exported = cephdev.admin("rbd", "export-diff", *args, "-", conf=conf).stdout
        assert hashlib.sha256(exported).hexdigest() == backup.sha256
        assert b"".join(ceph.backup_stream(backup.name)) == exported

    # The stock CLI restores the console's artefacts.
    copy = name("cli-copy")
    cephdev.admin("rbd", "create", "--size", "8M", f"{ceph.config.pool}/{copy}", conf=conf)
    for backup in (full, incremental):
        cephdev.admin(
            "rbd",
            "import-diff",
            "-",
            f"{ceph.config.pool}/{copy}",
            conf=conf,
            input=b"".join(ceph.backup_stream(backup.name)),
        )
    assert ceph.checksum(copy, snapshot="a") == ceph.checksum(vol.name, snapshot="a")
    assert ceph.checksum(copy) == vol.expected()


def test_a_damaged_artefact_is_detected_and_restores_nothing(ceph, name, ceph_cluster):
    rng = random.Random(4)
    vol = Volume(ceph, name("dmg"), 12 * MIB)
    vol.write(0, random_bytes(rng, 9 * MIB))
    ceph.create_snapshot(vol.name, "s1")
    backup = ceph.backup(vol.name, "s1")
    assert backup.chunks == 3 and backup.size > 9 * MIB

    # One byte changed in the middle chunk, behind the console's back.
    chunk = artefacts.chunk_name(backup.name, 1)
    rados = ["rados", "-p", ceph.config.backup_pool, "-N", artefacts.DATA_NAMESPACE]
    original = cephdev.admin(*rados, "get", chunk, "-", conf=ceph_cluster.conf).stdout
    damaged = original[:1000] + bytes([original[1000] ^ 1]) + original[1001:]
    cephdev.admin(*rados, "put", chunk, "-", conf=ceph_cluster.conf, input=damaged)

    with pytest.raises(BackupCorrupt, match="damaged"):
        ceph.verify_backup(backup.name)
    with pytest.raises(BackupCorrupt):
        ceph.restore([backup.name], name("from-damaged"))
    assert name("from-damaged") not in ceph.images()  # removed again, not left half-written
    target = name("target")
    ceph.create_image(target, 12 * MIB)
    with pytest.raises(BackupCorrupt):
        ceph.apply_backup(backup.name, target)
    assert ceph.used_bytes(target) == 0 and ceph.snapshots(target) == []  # verified before anything was written

    # A missing chunk likewise.
    cephdev.admin(*rados, "rm", chunk, conf=ceph_cluster.conf)
    with pytest.raises(BackupCorrupt, match="missing"):
        ceph.verify_backup(backup.name)


def test_chains_are_checked_before_anything_is_written(ceph, name):
    vol = Volume(ceph, name("order"), 4 * MIB)
    backups = []
    for index in range(1, 4):
        vol.write(index * 1000, b"x" * 100)
        ceph.create_snapshot(vol.name, f"s{index}")
        backups.append(ceph.backup(vol.name, f"s{index}", since=f"s{index - 1}" if index > 1 else None))
    full, second, third = (backup.name for backup in backups)

    with pytest.raises(ChainBroken):
        ceph.restore([second], name("no-full"))
    with pytest.raises(ChainBroken, match="continues snapshot s2"):
        ceph.restore([full, third], name("gap"))
    assert not any(image.endswith(("no-full", "gap")) for image in ceph.images())

    target = name("target")
    ceph.create_image(target, 4 * MIB)
    with pytest.raises(ChainBroken):
        ceph.apply_backup(second, target)
    ceph.apply_backup(full, target)
    with pytest.raises(SnapshotExists):
        ceph.apply_backup(full, target)
    other = name("other")
    ceph.create_image(other, 4 * MIB)
    ceph.write(other, 0, b"something")
    with pytest.raises(ImageNotEmpty):
        ceph.apply_backup(full, other)
    ceph.write(target, 0, b"changed")  # the target moved on from s1
    with pytest.raises(ImageChanged):
        ceph.apply_backup(second, target)
    ceph.rollback(target, "s1")
    ceph.apply_backup(second, target)
    assert ceph.checksum(target) == ceph.checksum(vol.name, snapshot="s2")


def test_backup_names_and_unfinished_backups(ceph, name):
    vol = Volume(ceph, name("names"), 4 * MIB)
    vol.write(0, b"data")
    ceph.create_snapshot(vol.name, "s1")
    backup = ceph.backup(vol.name, "s1")
    assert backup.name == f"{ceph.config.pool}/{vol.name}@s1"
    assert [b.name for b in ceph.backups(image=vol.name)] == [backup.name]
    with pytest.raises(BackupExists):
        ceph.backup(vol.name, "s1")
    with pytest.raises(SnapshotNotFound):
        ceph.backup(vol.name, "nope")
    with pytest.raises(SnapshotNotFound):
        ceph.backup(vol.name, "s1", since="nope", name=name("other"))
    with pytest.raises(ImageNotFound):
        ceph.backup(name("missing"), "s1")

    # A writer that stopped half-way leaves a manifest in state "writing" (and some chunks).
    unfinished = artefacts.Manifest(
        name=name("half"), pool="rbd", image=vol.name, snapshot="s1", since=None, image_size=4 * MIB
    )
    manifests = ceph._backup_ioctx(artefacts.MANIFEST_NAMESPACE)
    artefacts.claim(manifests, unfinished)
    ceph._backup_ioctx(artefacts.DATA_NAMESPACE).write_full(artefacts.chunk_name(unfinished.name, 0), b"partial")
    with pytest.raises(BackupIncomplete, match="never finished"):
        ceph.backup(vol.name, "s1", name=unfinished.name)
    with pytest.raises(BackupIncomplete):
        ceph.restore([unfinished.name], name("from-half"))
    ceph.remove_backup(unfinished.name)
    assert ceph.backup(vol.name, "s1", name=unfinished.name).complete
