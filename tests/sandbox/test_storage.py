"""ceph-csi on the sandbox without a Ceph: the seeded StorageClass and VolumeSnapshotClass, PVCs
provisioned, bound, grown, reclaimed and snapshotted as the external-provisioner, external-resizer,
kubelet and external-snapshotter do it with ceph-csi, checked with the real kubectl and the
official client. The RBD images are simulated here (test_ceph_real.py makes them in a real Ceph)."""

import json
import re

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .helpers import kubectl, resize_claim, snapshot_manifest, wait_for

NS = "st"
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
PVC = """apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: {name}, namespace: st}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: {size}}}}}
  storageClassName: {sc}
  volumeMode: {mode}
"""


@pytest.fixture(scope="module")
def ns(core):
    core.create_namespace({"metadata": {"name": NS}})
    return NS


@pytest.fixture(scope="module")
def custom(api):
    return client.CustomObjectsApi(api)


def claim(sandbox, name, size="1Gi", sc="ceph-rbd", mode="Filesystem"):
    created = kubectl(sandbox, "create", "-f", "-", input=PVC.format(name=name, size=size, sc=sc, mode=mode))
    assert created.returncode == 0 and created.stdout.strip() == f"persistentvolumeclaim/{name} created", created.stderr


def bound(core, name):
    return wait_for(
        lambda: (lambda c: c if c.status.phase == "Bound" else None)(
            core.read_namespaced_persistent_volume_claim(name, NS)
        ),
        timeout=20,
    )


def events(core, name):
    return [
        (e.reason, e.message)
        for e in core.list_namespaced_event(NS, field_selector=f"involvedObject.name={name}").items
    ]


def mount(core, pod, claim_name):
    core.create_namespaced_pod(
        NS,
        {
            "metadata": {"name": pod},
            "spec": {
                "containers": [
                    {"name": "db", "image": "postgres:17", "volumeMounts": [{"name": "data", "mountPath": "/d"}]}
                ],
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim_name}}],
            },
        },
    )


def storage_class(core, name, **fields):
    """A class of its own for ceph-csi, with the seeded class's parameters (its clusterID, pool, secrets)."""
    storage = client.StorageV1Api(core.api_client)
    storage.create_storage_class(
        {
            "metadata": {"name": name},
            "provisioner": "rbd.csi.ceph.com",
            "parameters": storage.read_storage_class("ceph-rbd").parameters,
            **fields,
        }
    )


def table(sandbox, *args):
    return [line.split() for line in kubectl(sandbox, "get", *args).stdout.strip().split("\n")]


def test_storage_and_snapshot_classes_as_ceph_csi(sandbox, core, ns):
    rows = table(sandbox, "sc")
    assert rows[0] == ["NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE", "ALLOWVOLUMEEXPANSION", "AGE"]
    assert rows[1][:6] == ["ceph-rbd", "(default)", "rbd.csi.ceph.com", "Delete", "Immediate", "true"]
    sc = client.StorageV1Api(core.api_client).read_storage_class("ceph-rbd")
    assert re.fullmatch(UUID, sc.parameters["clusterID"]) and sc.mount_options == ["discard"]
    assert {k: v for k, v in sc.parameters.items() if k != "clusterID"} == {
        "pool": "rbd",
        "imageFeatures": "layering",
        "csi.storage.k8s.io/fstype": "ext4",
        **{
            f"csi.storage.k8s.io/{kind}-secret-{field}": value
            for kind in ("provisioner", "controller-expand", "node-stage")
            for field, value in (("name", "csi-rbd-secret"), ("namespace", "ceph-csi-rbd"))
        },
    }
    assert set(core.read_namespaced_secret("csi-rbd-secret", "ceph-csi-rbd").data) == {"userID", "userKey"}
    config = json.loads(core.read_namespaced_config_map("ceph-csi-config", "ceph-csi-rbd").data["config.json"])
    assert config[0]["clusterID"] == sc.parameters["clusterID"]
    classes = table(sandbox, "volumesnapshotclass")
    assert classes[0] == ["NAME", "DRIVER", "DELETIONPOLICY", "AGE"]
    assert classes[1][:3] == ["ceph-rbd-snapclass", "rbd.csi.ceph.com", "Delete"]


def test_claim_provisioned_and_bound_as_ceph_csi_does(sandbox, core, ns):
    claim(sandbox, "data", size="1G")  # ceph-csi rounds up to whole MiB below 1 GiB
    pvc = bound(core, "data")
    pv = core.read_persistent_volume(pvc.spec.volume_name)
    assert pv.metadata.name == f"pvc-{pvc.metadata.uid}" and pvc.status.capacity["storage"] == "954Mi"
    cluster_id = client.StorageV1Api(core.api_client).read_storage_class("ceph-rbd").parameters["clusterID"]
    handle = re.fullmatch(f"0001-0024-{cluster_id}-([0-9a-f]{{16}})-({UUID})", pv.spec.csi.volume_handle)
    assert handle, pv.spec.csi.volume_handle
    attributes = pv.spec.csi.volume_attributes
    assert attributes.pop("storage.kubernetes.io/csiProvisionerIdentity").endswith("-rbd.csi.ceph.com")
    assert attributes == {
        "clusterID": cluster_id,
        "pool": "rbd",
        "journalPool": "rbd",
        "imageFeatures": "layering",
        "imageName": f"csi-vol-{handle.group(2)}",
    }
    assert (pv.spec.csi.driver, pv.spec.csi.fs_type, pv.spec.csi.node_stage_secret_ref.name) == (
        "rbd.csi.ceph.com",
        "ext4",
        "csi-rbd-secret",
    )
    assert pv.metadata.finalizers == [
        "external-provisioner.volume.kubernetes.io/finalizer",
        "kubernetes.io/pv-protection",
    ]
    assert pv.metadata.annotations["pv.kubernetes.io/provisioned-by"] == "rbd.csi.ceph.com"
    assert pvc.metadata.annotations["volume.kubernetes.io/storage-provisioner"] == "rbd.csi.ceph.com"
    assert sandbox.csi.driver.images[("rbd", f"csi-vol-{handle.group(2)}")] == 954 * 2**20
    assert [reason for reason, _ in events(core, "data")] == [
        "ExternalProvisioning",
        "Provisioning",
        "ProvisioningSucceeded",
    ]
    assert ("ProvisioningSucceeded", f"Successfully provisioned volume {pv.metadata.name}") in events(core, "data")

    rows = table(sandbox, "pvc,pv", "-n", NS, "-o", "wide")
    assert rows[0] == [
        "NAME",
        "STATUS",
        "VOLUME",
        "CAPACITY",
        "ACCESS",
        "MODES",
        "STORAGECLASS",
        "VOLUMEATTRIBUTESCLASS",
        "AGE",
        "VOLUMEMODE",
    ]
    row = next(r for r in rows if r[0] == "persistentvolumeclaim/data")
    assert row[1:7] == ["Bound", pv.metadata.name, "954Mi", "RWO", "ceph-rbd", "<unset>"] and row[-1] == "Filesystem"
    header = rows.index(
        [
            "NAME",
            "CAPACITY",
            "ACCESS",
            "MODES",
            "RECLAIM",
            "POLICY",
            "STATUS",
            "CLAIM",
            "STORAGECLASS",
            "VOLUMEATTRIBUTESCLASS",
            "REASON",
            "AGE",
            "VOLUMEMODE",
        ]
    )
    row = next(r for r in rows[header:] if r[0] == f"persistentvolume/{pv.metadata.name}")
    assert row[1:8] == ["954Mi", "RWO", "Delete", "Bound", "st/data", "ceph-rbd", "<unset>"]


def test_resize_as_the_external_resizer_and_the_kubelet_do(sandbox, core, ns):
    claim(sandbox, "grow")
    pv_name = bound(core, "grow").spec.volume_name
    patched = resize_claim(sandbox, "grow", "2Gi", NS)
    assert patched.returncode == 0 and patched.stdout.strip() == "persistentvolumeclaim/grow patched", patched.stderr
    pending = wait_for(
        lambda: (
            lambda c: c if (c.status.allocated_resource_statuses or {}).get("storage") == "NodeResizePending" else None
        )(core.read_namespaced_persistent_volume_claim("grow", NS))
    )
    assert core.read_persistent_volume(pv_name).spec.capacity["storage"] == "2Gi"
    assert pending.status.capacity["storage"] == "1Gi" and pending.status.allocated_resources["storage"] == "2Gi"
    assert [(c.type, c.status, c.message) for c in pending.status.conditions] == [
        (
            "FileSystemResizePending",
            "True",
            "Waiting for user to (re-)start a pod to finish file system resize of volume on node.",
        )
    ]
    assert [r for r, _ in events(core, "grow")][-3:] == ["ExternalExpanding", "Resizing", "FileSystemResizeRequired"]
    assert (
        sandbox.csi.driver.images[("rbd", core.read_persistent_volume(pv_name).spec.csi.volume_attributes["imageName"])]
        == 2 * 2**30
    )

    mount(core, "grower", "grow")  # the kubelet finishes the file system resize once a pod mounts the volume
    grown = wait_for(
        lambda: (lambda c: c if c.status.capacity["storage"] == "2Gi" else None)(
            core.read_namespaced_persistent_volume_claim("grow", NS)
        ),
        timeout=20,
    )
    assert not grown.status.conditions and not grown.status.allocated_resource_statuses
    node = core.read_namespaced_pod("grower", NS).spec.node_name
    assert (
        "FileSystemResizeSuccessful",
        f'MountVolume.NodeExpandVolume succeeded for volume "{pv_name}" {node}',
    ) in events(core, "grow")
    assert table(sandbox, "pvc", "grow", "-n", NS)[1][3] == "2Gi"

    shrink = resize_claim(sandbox, "grow", "1Gi", NS)
    assert shrink.returncode == 1
    assert (
        'The PersistentVolumeClaim "grow" is invalid: spec.resources.requests.storage: Forbidden: field can not '
        "be less than status.capacity" in shrink.stderr
    )


def test_block_claim_grows_without_the_node(sandbox, core, ns):
    claim(sandbox, "raw", mode="Block")
    bound(core, "raw")
    assert core.read_persistent_volume(bound(core, "raw").spec.volume_name).spec.csi.fs_type is None
    core.patch_namespaced_persistent_volume_claim("raw", NS, {"spec": {"resources": {"requests": {"storage": "3Gi"}}}})
    grown = wait_for(
        lambda: (lambda c: c if c.status.capacity["storage"] == "3Gi" else None)(
            core.read_namespaced_persistent_volume_claim("raw", NS)
        )
    )
    assert not grown.status.conditions and ("VolumeResizeSuccessful", "Resize volume succeeded") in events(core, "raw")


def test_claims_that_may_not_grow_or_change(sandbox, core, ns):
    storage_class(core, "fixed")
    claim(sandbox, "fixed", sc="fixed")
    bound(core, "fixed")
    refused = resize_claim(sandbox, "fixed", "2Gi", NS)
    assert (
        refused.returncode == 1
        and 'persistentvolumeclaims "fixed" is forbidden: only dynamically provisioned '
        "pvc can be resized and the storageclass that provisions the pvc must support resize"
        in refused.stderr
    )
    claim(sandbox, "orphan", sc="missing")  # no such class: it stays Pending, so its spec is fixed
    with pytest.raises(ApiException) as unbound:
        core.patch_namespaced_persistent_volume_claim(
            "orphan", NS, {"spec": {"resources": {"requests": {"storage": "2Gi"}}}}
        )
    assert (
        unbound.value.status == 422
        and "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"
        in json.loads(unbound.value.body)["message"]
    )
    assert wait_for(
        lambda: ("ProvisioningFailed", 'storageclass.storage.k8s.io "missing" not found') in events(core, "orphan")
    )


def test_wait_for_first_consumer(sandbox, core, ns):
    storage_class(core, "ceph-rbd-wffc", volumeBindingMode="WaitForFirstConsumer", allowVolumeExpansion=True)
    claim(sandbox, "late", sc="ceph-rbd-wffc")
    assert wait_for(
        lambda: (
            ("WaitForFirstConsumer", "waiting for first consumer to be created before binding") in events(core, "late")
        )
    )
    assert table(sandbox, "pvc", "late", "-n", NS)[1][1:3] == ["Pending", "ceph-rbd-wffc"]
    mount(core, "consumer", "late")
    pvc = bound(core, "late")
    pod = wait_for(lambda: (lambda p: p if p.spec.node_name else None)(core.read_namespaced_pod("consumer", NS)))
    assert pvc.metadata.annotations["volume.kubernetes.io/selected-node"] == pod.spec.node_name
    assert not [r for r, _ in events(core, "consumer") if r == "FailedScheduling"]


def test_deleted_claims_release_their_volumes_by_reclaim_policy(sandbox, core, ns):
    storage_class(core, "keep", reclaimPolicy="Retain")
    volumes = {}
    for name, sc in (("gone", "ceph-rbd"), ("kept", "keep")):
        claim(sandbox, name, sc=sc)
        volumes[name] = core.read_persistent_volume(bound(core, name).spec.volume_name)
    mount(core, "user", "gone")
    core.delete_namespaced_persistent_volume_claim("gone", NS)
    assert table(sandbox, "pvc", "gone", "-n", NS)[1][1] == "Terminating"  # pvc-protection: a pod still uses it
    core.delete_namespaced_pod("user", NS, grace_period_seconds=0)
    core.delete_namespaced_persistent_volume_claim("kept", NS)
    image = ("rbd", volumes["gone"].spec.csi.volume_attributes["imageName"])
    gone = f"metadata.name={volumes['gone'].metadata.name}"
    assert wait_for(lambda: not core.list_persistent_volume(field_selector=gone).items, timeout=20)
    assert image not in sandbox.csi.driver.images
    kept = wait_for(
        lambda: (lambda v: v if v.status.phase == "Released" else None)(
            core.read_persistent_volume(volumes["kept"].metadata.name)
        )
    )
    assert kept.spec.persistent_volume_reclaim_policy == "Retain"
    assert kept.metadata.finalizers == ["kubernetes.io/pv-protection"]
    assert ("rbd", kept.spec.csi.volume_attributes["imageName"]) in sandbox.csi.driver.images


def test_snapshot_restore_and_delete(sandbox, core, custom, ns):
    claim(sandbox, "src", size="2Gi")
    bound(core, "src")
    created = kubectl(sandbox, "create", "-f", "-", input=snapshot_manifest("snap", "src", NS))
    assert created.returncode == 0, created.stderr

    def read(plural, name, namespace=NS):
        return custom.get_namespaced_custom_object("snapshot.storage.k8s.io", "v1", namespace, plural, name)

    snap = wait_for(
        lambda: (lambda s: s if (s.get("status") or {}).get("readyToUse") else None)(read("volumesnapshots", "snap"))
    )
    assert snap["status"]["restoreSize"] == "2Gi" and snap["metadata"]["finalizers"] == [
        "snapshot.storage.kubernetes.io/volumesnapshot-as-source-protection",
        "snapshot.storage.kubernetes.io/volumesnapshot-bound-protection",
    ]
    content = custom.get_cluster_custom_object(
        "snapshot.storage.k8s.io", "v1", "volumesnapshotcontents", snap["status"]["boundVolumeSnapshotContentName"]
    )
    cluster_id = client.StorageV1Api(core.api_client).read_storage_class("ceph-rbd").parameters["clusterID"]
    handle = re.fullmatch(f"0001-0024-{cluster_id}-[0-9a-f]{{16}}-({UUID})", content["status"]["snapshotHandle"])
    assert handle and content["status"]["restoreSize"] == 2 * 2**30
    assert isinstance(content["status"]["creationTime"], int)
    assert sandbox.csi.driver.images[("rbd", f"csi-snap-{handle.group(1)}")] == 2 * 2**30
    assert (
        "snapshot.storage.kubernetes.io/pvc-as-source-protection"
        not in core.read_namespaced_persistent_volume_claim("src", NS).metadata.finalizers
    )
    rows = table(sandbox, "volumesnapshot", "-n", NS)
    assert rows[0] == [
        "NAME",
        "READYTOUSE",
        "SOURCEPVC",
        "SOURCESNAPSHOTCONTENT",
        "RESTORESIZE",
        "SNAPSHOTCLASS",
        "SNAPSHOTCONTENT",
        "CREATIONTIME",
        "AGE",
    ]
    assert rows[1][:6] == ["snap", "true", "src", "2Gi", "ceph-rbd-snapclass", content["metadata"]["name"]]
    contents = table(sandbox, "volumesnapshotcontent")
    assert contents[0][:8] == [
        "NAME",
        "READYTOUSE",
        "RESTORESIZE",
        "DELETIONPOLICY",
        "DRIVER",
        "VOLUMESNAPSHOTCLASS",
        "VOLUMESNAPSHOT",
        "VOLUMESNAPSHOTNAMESPACE",
    ]
    assert next(r for r in contents if r[0] == content["metadata"]["name"])[1:8] == [
        "true",
        str(2 * 2**30),
        "Delete",
        "rbd.csi.ceph.com",
        "ceph-rbd-snapclass",
        "snap",
        NS,
    ]

    core.create_namespaced_persistent_volume_claim(
        NS,
        {
            "metadata": {"name": "copy"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "2Gi"}},
                "dataSource": {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "snap"},
            },
        },
    )
    restored = bound(core, "copy")
    assert restored.spec.data_source_ref.name == "snap"
    image = core.read_persistent_volume(restored.spec.volume_name).spec.csi.volume_attributes["imageName"]
    assert sandbox.csi.driver.images[("rbd", image)] == 2 * 2**30

    custom.delete_namespaced_custom_object("snapshot.storage.k8s.io", "v1", NS, "volumesnapshots", "snap")
    assert wait_for(
        lambda: (
            not custom.list_namespaced_custom_object("snapshot.storage.k8s.io", "v1", NS, "volumesnapshots")["items"]
        )
    )
    assert not [
        c
        for c in custom.list_cluster_custom_object("snapshot.storage.k8s.io", "v1", "volumesnapshotcontents")["items"]
        if c["metadata"]["name"] == content["metadata"]["name"]
    ]
    assert ("rbd", f"csi-snap-{handle.group(1)}") not in sandbox.csi.driver.images


def test_driver_errors_reach_the_claim_as_the_provisioner_words_them(sandbox, core, ns):
    parameters = client.StorageV1Api(core.api_client).read_storage_class("ceph-rbd").parameters
    storage_class(core, "elsewhere", parameters=dict(parameters, clusterID="other"))
    claim(sandbox, "lost", sc="elsewhere")
    message = (
        'failed to provision volume with StorageClass "elsewhere": rpc error: code = InvalidArgument desc = '
        'failed to fetch monitor list using clusterID (other): missing configuration for cluster ID "other"'
    )
    assert wait_for(lambda: ("ProvisioningFailed", message) in events(core, "lost"))
    assert core.read_namespaced_persistent_volume_claim("lost", NS).status.phase == "Pending"


def test_retained_snapshot_content_is_bound_again(sandbox, core, custom, ns):
    group = ("snapshot.storage.k8s.io", "v1")
    custom.create_cluster_custom_object(
        *group,
        "volumesnapshotclasses",
        {
            "apiVersion": "snapshot.storage.k8s.io/v1",
            "kind": "VolumeSnapshotClass",
            "metadata": {"name": "retained"},
            "driver": "rbd.csi.ceph.com",
            "deletionPolicy": "Retain",
        },
    )
    claim(sandbox, "kept-src")
    bound(core, "kept-src")
    custom.create_namespaced_custom_object(
        *group,
        NS,
        "volumesnapshots",
        {
            "apiVersion": "snapshot.storage.k8s.io/v1",
            "kind": "VolumeSnapshot",
            "metadata": {"name": "first"},
            "spec": {"volumeSnapshotClassName": "retained", "source": {"persistentVolumeClaimName": "kept-src"}},
        },
    )
    first = wait_for(
        lambda: (lambda s: s if (s.get("status") or {}).get("readyToUse") else None)(
            custom.get_namespaced_custom_object(*group, NS, "volumesnapshots", "first")
        )
    )
    content = first["status"]["boundVolumeSnapshotContentName"]
    custom.delete_namespaced_custom_object(*group, NS, "volumesnapshots", "first")
    assert wait_for(lambda: not custom.list_namespaced_custom_object(*group, NS, "volumesnapshots")["items"])
    kept = custom.get_cluster_custom_object(*group, "volumesnapshotcontents", content)
    assert kept["status"]["readyToUse"] and not kept["metadata"].get("deletionTimestamp")

    custom.patch_cluster_custom_object(
        *group,
        "volumesnapshotcontents",
        content,
        {"spec": {"volumeSnapshotRef": {"name": "again", "namespace": NS, "uid": None}}},
    )
    custom.create_namespaced_custom_object(
        *group,
        NS,
        "volumesnapshots",
        {
            "apiVersion": "snapshot.storage.k8s.io/v1",
            "kind": "VolumeSnapshot",
            "metadata": {"name": "again"},
            "spec": {"volumeSnapshotClassName": "retained", "source": {"volumeSnapshotContentName": content}},
        },
    )
    again = wait_for(
        lambda: (lambda s: s if (s.get("status") or {}).get("readyToUse") else None)(
            custom.get_namespaced_custom_object(*group, NS, "volumesnapshots", "again")
        )
    )
    assert again["status"]["restoreSize"] == "1Gi" and again["status"]["boundVolumeSnapshotContentName"] == content
    rows = table(sandbox, "volumesnapshot", "again", "-n", NS)
    assert rows[1][:6] == ["again", "true", content, "1Gi", "retained", content]
