"""The sandbox's ceph-csi with a real Ceph (scripts/ceph-dev.sh's throwaway single-node one): a
PVC's RBD image appears with the claim's size, grows with it, is snapshotted and cloned as
ceph-csi does it, and goes with the claim. Without Ceph's packages this fails, saying how to
install them: Ceph is real in this project's tests."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from console.sandbox import CephOptions, SandboxCluster

from .conftest import FAST_DELAYS
from .helpers import kubectl, resize_claim, snapshot_manifest, wait_for

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = "apt-get install --no-install-recommends ceph-mon ceph-osd ceph-mgr ceph-common python3-rbd python3-rados"
NS = "default"


@pytest.fixture(scope="module")
def ceph():
    """scripts/ceph-dev.sh's Ceph, shared under a lease: started when none runs, stopped after when no one
    else uses it."""
    missing = [tool for tool in ("ceph-mon", "ceph-osd", "ceph-mgr", "ceph", "rbd", "rados") if not shutil.which(tool)]
    if missing:
        pytest.fail(f"Ceph is needed here but not installed (no {', '.join(missing)}): {PACKAGES}")
    lease = str(os.getpid())
    script = str(ROOT / "scripts" / "ceph-dev.sh")
    started = subprocess.run(
        [script, "start"], capture_output=True, text=True, timeout=300, env=dict(os.environ, CEPH_DEV_LEASE=lease)
    )
    assert started.returncode == 0, f"scripts/ceph-dev.sh start failed:\n{started.stderr}"
    try:
        env = dict(
            line.split("=", 1)
            for line in subprocess.run(
                [script, "env"], capture_output=True, text=True, timeout=60, check=True
            ).stdout.split()
        )
        yield CephOptions(env["CEPH_CONF"], env["CEPH_KEYRING"], env["CEPH_CLIENT"], pool="rbd")
    finally:
        subprocess.run([script, "release", lease], capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def sandbox(ceph, tmp_path_factory):
    cluster = SandboxCluster(
        nodes=1,
        clock_speed=20,
        delays=FAST_DELAYS,
        ceph=ceph,
        kubeconfig_path=tmp_path_factory.mktemp("kube") / "config",
    ).start()
    yield cluster
    cluster.stop()


def rbd(ceph, *args):
    done = subprocess.run(
        ["rbd", "--conf", ceph.conf, "--keyring", ceph.keyring, "--name", ceph.name, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if "--format" in args else done.stdout


def get(sandbox, *args):
    done = kubectl(sandbox, "get", *args, "-o", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def bound(sandbox, name):
    return wait_for(
        lambda: (lambda c: c if c["status"].get("phase") == "Bound" else None)(get(sandbox, "pvc", name, "-n", NS)),
        timeout=30,
    )


def image_of(sandbox, pvc):
    return get(sandbox, "pv", pvc["spec"]["volumeName"])["spec"]["csi"]


def test_rbd_images_follow_claims(sandbox, ceph):
    sc = get(sandbox, "sc", "ceph-rbd")
    fsid = re.search(r"^fsid = (\S+)", Path(ceph.conf).read_text(), re.M).group(1)
    assert sc["parameters"]["clusterID"] == fsid
    created = kubectl(
        sandbox,
        "create",
        "-f",
        "-",
        input="apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: "
        "{name: real}\nspec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n",
    )
    assert created.returncode == 0, created.stderr
    pv_name = bound(sandbox, "real")["spec"]["volumeName"]
    csi = get(sandbox, "pv", pv_name)["spec"]["csi"]
    image = csi["volumeAttributes"]["imageName"]
    pools = {
        p["name"]: p["id"]
        for p in json.loads(
            subprocess.run(
                [
                    "rados",
                    "--conf",
                    ceph.conf,
                    "--keyring",
                    ceph.keyring,
                    "--name",
                    ceph.name,
                    "df",
                    "--format",
                    "json",
                ],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            ).stdout
        )["pools"]
    }
    assert csi["volumeHandle"] == f"0001-0024-{fsid}-{pools['rbd']:016x}-{image.removeprefix('csi-vol-')}"
    info = rbd(ceph, "info", "--format", "json", f"rbd/{image}")
    assert info["size"] == 2**30 and "layering" in info["features"]
    assert rbd(ceph, "image-meta", "list", "--format", "json", f"rbd/{image}")["csi.storage.k8s.io/pvc/name"] == "real"

    patched = resize_claim(sandbox, "real", "2Gi")
    assert patched.returncode == 0, patched.stderr
    assert wait_for(lambda: get(sandbox, "pv", pv_name)["spec"]["capacity"]["storage"] == "2Gi", timeout=30)
    assert rbd(ceph, "info", "--format", "json", f"rbd/{image}")["size"] == 2 * 2**30

    snapshot = kubectl(sandbox, "create", "-f", "-", input=snapshot_manifest("real-snap", "real"))
    assert snapshot.returncode == 0, snapshot.stderr
    snap = wait_for(
        lambda: (lambda s: s if s.get("status", {}).get("readyToUse") else None)(
            get(sandbox, "volumesnapshot", "real-snap", "-n", NS)
        ),
        timeout=30,
    )
    handle = get(sandbox, "volumesnapshotcontent", snap["status"]["boundVolumeSnapshotContentName"])["status"][
        "snapshotHandle"
    ]
    clone = f"csi-snap-{handle[-36:]}"
    assert [s["name"] for s in rbd(ceph, "snap", "ls", "--format", "json", f"rbd/{clone}")] == [clone]
    assert rbd(ceph, "info", "--format", "json", f"rbd/{clone}")["size"] == 2 * 2**30
    restore = kubectl(
        sandbox,
        "create",
        "-f",
        "-",
        input="apiVersion: v1\nkind: PersistentVolumeClaim\n"
        "metadata: {name: restored}\nspec: {accessModes: [ReadWriteOnce], resources: {requests: "
        "{storage: 3Gi}}, dataSource: {apiGroup: snapshot.storage.k8s.io, kind: VolumeSnapshot, "
        "name: real-snap}}\n",
    )
    assert restore.returncode == 0, restore.stderr
    restored = image_of(sandbox, bound(sandbox, "restored"))["volumeAttributes"]["imageName"]
    info = rbd(ceph, "info", "--format", "json", f"rbd/{restored}")
    assert (info["size"], info["parent"]["image"], info["parent"]["snapshot"]) == (3 * 2**30, clone, clone)

    for kind, name in (("pvc", "restored"), ("volumesnapshot", "real-snap"), ("pvc", "real")):
        deleted = kubectl(sandbox, "delete", kind, name)
        assert deleted.returncode == 0, deleted.stderr
    ours = {image, clone, restored}
    assert wait_for(lambda: not ours & set(rbd(ceph, "ls", "--format", "json", "rbd")), timeout=30)
    assert wait_for(
        lambda: not ours & {t["name"] for t in rbd(ceph, "trash", "ls", "--format", "json", "rbd")}, timeout=30
    )
    assert wait_for(lambda: not get(sandbox, "pv")["items"], timeout=30)  # the PVs go after their images
