"""Storage as ceph-csi and the external provisioner and snapshotter do it: PVCs provisioned
(from a snapshot too), bound and expanded, PVC protection and PV reclaim, VolumeSnapshots
with their contents becoming ready."""

import time

from .. import quantity
from ..errors import ApiError
from ..kinds import STORED
from ..store import now_iso
from .context import Controller, Key
from .helpers import pod_active

R = STORED
PVC_PROTECTION = "kubernetes.io/pvc-protection"
SNAPSHOT_FINALIZERS = ("snapshot.storage.kubernetes.io/volumesnapshot-as-source-protection",
                       "snapshot.storage.kubernetes.io/volumesnapshot-bound-protection")
DEFAULT_SNAPSHOT_CLASS = "snapshot.storage.kubernetes.io/is-default-class"


def volume_handle(uid: str) -> str:
    return f"0001-0024-sandbox-ceph-0000000000000001-{uid}"


class Storage(Controller):
    # --- claims

    def sync_claim(self, key: Key) -> None:
        pvc = self.ctx.get(key)
        if pvc is None:
            return
        if pvc["metadata"].get("deletionTimestamp"):
            self.pvc_protection(pvc)
        elif PVC_PROTECTION not in (pvc["metadata"].get("finalizers") or []):
            self.store.mutate(R["persistentvolumeclaims"], key[1], key[2],
                              lambda o: o["metadata"].setdefault("finalizers", []).append(PVC_PROTECTION))
        else:
            self.reconcile_claim(key, pvc)

    def reconcile_claim(self, key: Key, pvc: dict) -> None:
        """Pending until provisioned (once its source snapshot is ready), then Bound; a Bound claim may grow."""
        store = self.store
        meta, spec = pvc["metadata"], pvc.get("spec") or {}
        namespace, name = key[1], key[2]
        status = pvc.get("status") or {}
        requested = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
        if status.get("phase") == "Bound":
            self.expand(pvc, requested)
            return
        if not status.get("phase"):
            store.update(R["persistentvolumeclaims"], namespace, name, {"status": {"phase": "Pending"}},
                         status_only=True)
        class_name = spec.get("storageClassName")
        sc = store.get_ref(R["storageclasses"], "", class_name) if class_name else None
        if sc is None:
            message = f'storageclass.storage.k8s.io "{class_name}" not found' if class_name else \
                "no persistent volumes available for this claim and no storage class is set"
            self.ctx.event(pvc, "ProvisioningFailed" if class_name else "FailedBinding", message, "Warning",
                           "persistentvolume-controller")
            return
        source = spec.get("dataSource") or spec.get("dataSourceRef") or {}
        restore_size = None
        if source.get("kind") == "VolumeSnapshot":
            snap = store.get_ref(R["volumesnapshots"], namespace, source.get("name", ""))
            if snap is None or not (snap.get("status") or {}).get("readyToUse"):
                self.ctx.event(pvc, "Provisioning", f'External provisioner is provisioning volume for claim '
                               f'"{namespace}/{name}"', "Normal", f"{sc.get('provisioner')}_csi-provisioner")
                return
            restore_size = (snap.get("status") or {}).get("restoreSize")
        if self.ctx.waiting(key, "pvc", meta["uid"], "pvc_bind"):
            if not status.get("phase"):
                self.ctx.event(pvc, "ExternalProvisioning", f"Waiting for a volume to be created either by the "
                               f"external provisioner '{sc.get('provisioner')}' or manually by the system "
                               "administrator.", "Normal", "persistentvolume-controller")
            return
        size = requested
        if restore_size and quantity.parse(restore_size) > quantity.parse(requested):
            size = restore_size
        self.provision(pvc, sc, size)

    def expand(self, pvc: dict, requested: str) -> None:
        namespace, name = pvc["metadata"]["namespace"], pvc["metadata"]["name"]
        status = pvc.get("status") or {}
        capacity = (status.get("capacity") or {}).get("storage")
        if not capacity or quantity.parse(requested) <= quantity.parse(capacity):
            return
        pv_name = (pvc.get("spec") or {}).get("volumeName")
        if pv_name and self.store.exists(R["persistentvolumes"], "", pv_name):
            self.store.mutate(R["persistentvolumes"], "", pv_name,
                              lambda pv: pv["spec"].setdefault("capacity", {}).update(storage=requested))
        self.store.update(R["persistentvolumeclaims"], namespace, name,
                          {"status": dict(status, capacity={"storage": requested})}, status_only=True)
        self.ctx.event(pvc, "VolumeResizeSuccessful", "MountVolume.NodeExpandVolume succeeded for volume", "Normal",
                       "kubelet")

    def provision(self, pvc: dict, sc: dict, size: str) -> None:
        """A PV for the claim (as ceph-csi names its RBD image), then the claim bound to it."""
        meta, spec = pvc["metadata"], pvc.get("spec") or {}
        namespace, name, uid = meta["namespace"], meta["name"], meta["uid"]
        provisioner = sc.get("provisioner", "")
        pv_name = f"pvc-{uid}"
        access_modes = spec.get("accessModes", ["ReadWriteOnce"])
        if not self.store.exists(R["persistentvolumes"], "", pv_name):
            self.store.create(R["persistentvolumes"], "", {
                "metadata": {"name": pv_name,
                             "annotations": {"pv.kubernetes.io/provisioned-by": provisioner,
                                             "volume.kubernetes.io/provisioner-deletion-secret-name": ""},
                             "finalizers": ["kubernetes.io/pv-protection"]},
                "spec": {"capacity": {"storage": size}, "accessModes": access_modes,
                         "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy", "Delete"),
                         "storageClassName": spec.get("storageClassName"),
                         "volumeMode": spec.get("volumeMode", "Filesystem"),
                         "claimRef": {"kind": "PersistentVolumeClaim", "namespace": namespace, "name": name, "uid": uid,
                                      "apiVersion": "v1", "resourceVersion": meta["resourceVersion"]},
                         "csi": {"driver": provisioner, "fsType": "ext4", "volumeHandle": volume_handle(uid),
                                 "volumeAttributes": {"clusterID": "sandbox-ceph", "pool": "kubernetes",
                                                      "imageName": f"csi-vol-{uid}"}}},
                "status": {"phase": "Bound"}})
        self.ctx.event(pvc, "ProvisioningSucceeded", f"Successfully provisioned volume {pv_name}", "Normal",
                       f"{sc.get('provisioner')}_csi-provisioner")

        def bind(obj):
            obj["spec"]["volumeName"] = pv_name
            annotations = obj["metadata"].setdefault("annotations", {})
            annotations.update({"pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes",
                                "volume.beta.kubernetes.io/storage-provisioner": provisioner,
                                "volume.kubernetes.io/storage-provisioner": provisioner})
            obj["status"] = {"phase": "Bound", "accessModes": access_modes, "capacity": {"storage": size}}
        self.store.mutate(R["persistentvolumeclaims"], namespace, name, bind, keep_status=True)
        self.ctx.mark(("@pending-pods", namespace, ""))

    def sync_unbound(self, key: Key) -> None:
        for pvc in self.store.iter_refs(R["persistentvolumeclaims"], key[1]):
            if (pvc.get("status") or {}).get("phase") != "Bound":
                self.ctx.mark(("persistentvolumeclaims", key[1], pvc["metadata"]["name"]))

    def sync_protection(self, key: Key) -> None:
        for pvc in self.store.iter_refs(R["persistentvolumeclaims"], key[1]):
            if pvc["metadata"].get("deletionTimestamp"):
                self.pvc_protection(pvc)

    def pvc_protection(self, pvc: dict) -> None:
        """A deleted claim goes once no pod uses it; its PV is deleted or released, as its reclaim policy says."""
        namespace, name = pvc["metadata"]["namespace"], pvc["metadata"]["name"]

        def uses(pod):
            return any((v.get("persistentVolumeClaim") or {}).get("claimName") == name
                       for v in (pod.get("spec") or {}).get("volumes") or [])
        if any(pod_active(p) or p["metadata"].get("deletionTimestamp")
               for p in self.store.iter_refs(R["pods"], namespace) if uses(p)):
            return
        volume = (pvc.get("spec") or {}).get("volumeName")
        self.store.remove_finalizer(R["persistentvolumeclaims"], namespace, name, PVC_PROTECTION)
        pv = self.store.get_ref(R["persistentvolumes"], "", volume) if volume else None
        if pv is None:
            return
        if (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy") == "Delete":
            try:
                self.store.delete(R["persistentvolumes"], "", volume)
                self.store.remove_finalizer(R["persistentvolumes"], "", volume, "kubernetes.io/pv-protection")
            except ApiError:
                pass
        else:
            self.store.update(R["persistentvolumes"], "", volume, {"status": {"phase": "Released"}}, status_only=True)

    # --- snapshots

    def sync_snapshot(self, key: Key) -> None:
        snap = self.ctx.get(key)
        if snap is not None and snap["metadata"].get("deletionTimestamp"):
            self.release_snapshot(snap)
        elif snap is not None and not (snap.get("status") or {}).get("readyToUse"):
            self.take_snapshot(key, snap)

    def take_snapshot(self, key: Key, snap: dict) -> None:
        """Its class defaulted, its source claim bound: a content, ready snapshot_ready later."""
        store = self.store
        meta, spec = snap["metadata"], snap.get("spec") or {}
        namespace, name = key[1], key[2]
        status = snap.get("status") or {}
        class_name = spec.get("volumeSnapshotClassName")
        if not class_name:
            default = next((c for c in store.iter_refs(R["volumesnapshotclasses"])
                            if (c["metadata"].get("annotations") or {}).get(DEFAULT_SNAPSHOT_CLASS) == "true"), None)
            if default is not None:
                store.mutate(R["volumesnapshots"], namespace, name,
                             lambda o: o["spec"].update(volumeSnapshotClassName=default["metadata"]["name"]))
            return
        snap_class = store.get_ref(R["volumesnapshotclasses"], "", class_name)
        source = (spec.get("source") or {}).get("persistentVolumeClaimName")
        pvc = store.get_ref(R["persistentvolumeclaims"], namespace, source) if source else None
        if snap_class is None or pvc is None or (pvc.get("status") or {}).get("phase") != "Bound":
            problem = f'the snapshot source pvc {source} is not bound' if pvc is not None else \
                f'persistentvolumeclaim \\"{source}\\" not found'
            message = f'failed to get input parameters to create snapshot {name}: "{problem}"'
            if status.get("error", {}).get("message") != message:
                store.update(R["volumesnapshots"], namespace, name, {"status": {
                    "readyToUse": False, "error": {"message": message, "time": now_iso()}}}, status_only=True)
            return
        content_name = f"snapcontent-{meta['uid']}"
        if SNAPSHOT_FINALIZERS[1] not in (meta.get("finalizers") or []):
            store.mutate(R["volumesnapshots"], namespace, name,
                         lambda o: o["metadata"].setdefault("finalizers", []).extend(SNAPSHOT_FINALIZERS))
        if not store.exists(R["volumesnapshotcontents"], "", content_name):
            self.create_content(snap, snap_class, pvc, content_name)
        if self.ctx.waiting(key, "snap", meta["uid"], "snapshot_ready"):
            return
        size = (pvc.get("status") or {}).get("capacity", {}).get("storage", "1Gi")
        store.update(R["volumesnapshotcontents"], "", content_name, {"status": {
            "creationTime": time.time_ns(), "readyToUse": True, "restoreSize": int(quantity.parse(size)),
            "snapshotHandle": volume_handle(meta["uid"])}}, status_only=True)
        store.update(R["volumesnapshots"], namespace, name, {"status": {
            "boundVolumeSnapshotContentName": content_name, "creationTime": now_iso(), "readyToUse": True,
            "restoreSize": size}}, status_only=True)
        self.ctx.event(snap, "SnapshotCreated", f"Snapshot {namespace}/{name} was successfully created by the CSI "
                       "driver.", "Normal", "snapshot-controller")
        self.ctx.event(snap, "SnapshotReady", f"Snapshot {namespace}/{name} is ready to use.", "Normal",
                       "snapshot-controller")
        self.ctx.mark(("@pvcs", namespace, ""))

    def release_snapshot(self, snap: dict) -> None:
        namespace, name = snap["metadata"]["namespace"], snap["metadata"]["name"]
        content_name = (snap.get("status") or {}).get("boundVolumeSnapshotContentName")
        if content_name and self.store.exists(R["volumesnapshotcontents"], "", content_name):
            try:
                self.store.delete(R["volumesnapshotcontents"], "", content_name)
            except ApiError:
                pass
        for finalizer in SNAPSHOT_FINALIZERS:
            self.store.remove_finalizer(R["volumesnapshots"], namespace, name, finalizer)

    def create_content(self, snap: dict, snap_class: dict, pvc: dict, content_name: str) -> None:
        store, meta = self.store, snap["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        pv = store.get_ref(R["persistentvolumes"], "", pvc["spec"].get("volumeName", "")) or {}
        store.create(R["volumesnapshotcontents"], "", {
            "metadata": {"name": content_name,
                         "finalizers": ["snapshot.storage.kubernetes.io/volumesnapshotcontent-bound-protection"]},
            "spec": {"deletionPolicy": snap_class.get("deletionPolicy", "Delete"),
                     "driver": snap_class.get("driver", ""),
                     "source": {"volumeHandle": (pv.get("spec") or {}).get("csi", {}).get("volumeHandle", "")},
                     "sourceVolumeMode": pvc["spec"].get("volumeMode", "Filesystem"),
                     "volumeSnapshotClassName": snap_class["metadata"]["name"],
                     "volumeSnapshotRef": {"kind": "VolumeSnapshot", "namespace": namespace, "name": name,
                                           "uid": meta["uid"], "apiVersion": "snapshot.storage.k8s.io/v1",
                                           "resourceVersion": meta["resourceVersion"]}}})
        store.update(R["volumesnapshots"], namespace, name, {"status": {"boundVolumeSnapshotContentName": content_name,
                                                                        "readyToUse": False}}, status_only=True)
        self.ctx.event(snap, "CreatingSnapshot", f"Waiting for a snapshot {namespace}/{name} to be created by the CSI "
                       "driver.", "Normal", "snapshot-controller")
