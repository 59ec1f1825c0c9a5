"""Storage as Kubernetes and ceph-csi's sidecars do it: the PV controller (provisioning asked of
the external provisioner, WaitForFirstConsumer, binding, reclaim), the external-provisioner (a PV
per claim, from a snapshot too, and its removal), the external-resizer and the kubelet's file
system expansion, PVC and PV protection, and the external-snapshotter (VolumeSnapshot →
VolumeSnapshotContent → ready, and their deletion). The storage calls go to ceph-csi's RBD driver
(ceph.py): real RBD images when the sandbox has a Ceph, their names and sizes only when not."""

import uuid
from datetime import UTC, datetime

from .. import quantity
from ..ceph import DRIVER, Outcome
from ..errors import ApiError
from ..kinds import STORED
from ..store import now_iso
from .context import Controller, Key
from .helpers import condition, pod_active, safe_hash, set_condition
from .scheduler import SELECTED_NODE

R = STORED
PV_CONTROLLER = "persistentvolume-controller"
RESIZER = f"external-resizer {DRIVER}"
PVC_PROTECTION = "kubernetes.io/pvc-protection"
PV_PROTECTION = "kubernetes.io/pv-protection"
PROVISIONER_FINALIZER = "external-provisioner.volume.kubernetes.io/finalizer"
STORAGE_PROVISIONER = ("volume.beta.kubernetes.io/storage-provisioner", "volume.kubernetes.io/storage-provisioner")
SNAPSHOT_FINALIZERS = (
    "snapshot.storage.kubernetes.io/volumesnapshot-as-source-protection",
    "snapshot.storage.kubernetes.io/volumesnapshot-bound-protection",
)
CONTENT_FINALIZER = "snapshot.storage.kubernetes.io/volumesnapshotcontent-bound-protection"
SOURCE_FINALIZER = "snapshot.storage.kubernetes.io/pvc-as-source-protection"
DEFAULT_SNAPSHOT_CLASS = "snapshot.storage.kubernetes.io/is-default-class"
CSI_PARAMETER = "csi.storage.k8s.io/"
RESIZE_PENDING = "Waiting for user to (re-)start a pod to finish file system resize of volume on node."


def requested_bytes(pvc: dict) -> int:
    return int(quantity.parse(((pvc.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage", "0")))


def secret_ref(parameters: dict, kind: str) -> dict | None:
    """The secret a StorageClass names for one of the sidecars' calls (provisioner, controller-expand, ...)."""
    name = parameters.get(f"{CSI_PARAMETER}{kind}-secret-name")
    return {"name": name, "namespace": parameters.get(f"{CSI_PARAMETER}{kind}-secret-namespace", "")} if name else None


def iso_of_ns(nanoseconds: int) -> str:
    return datetime.fromtimestamp(nanoseconds / 1e9, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def uses_claim(pod: dict, claim: str) -> bool:
    return any(
        (v.get("persistentVolumeClaim") or {}).get("claimName") == claim
        for v in (pod.get("spec") or {}).get("volumes") or []
    )


class Storage(Controller):
    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        # the sidecars' event source: "<driver>_<provisioner pod>_<identity>", as on a ceph-csi cluster
        self.identity = str(uuid.uuid4())
        self.provisioner = (
            f"{DRIVER}_csi-rbdplugin-provisioner-{safe_hash(self.identity, 10)}-"
            f"{safe_hash(self.identity[::-1], 5)}_{self.identity}"
        )
        self.provisioner_identity = f"{int(ctx.clock.wall0 * 1000)}-{int(self.identity[:4], 16) % 10000}-{DRIVER}"
        self.backoff: dict[tuple, tuple[float, float]] = {}  # a failed call's tag -> (delay, when to try again)

    # --- the calls to the driver, retried with backoff as the sidecars do

    def due(self, tag: tuple, key: Key) -> bool:
        """Whether the step `tag` may be tried (again): not while the backoff after its last failure lasts."""
        due = self.backoff.get(tag, (0.0, 0.0))[1]
        if due > self.ctx.clock.now():
            self.ctx.wake(key, due)
            return False
        return True

    def failed(self, tag: tuple, key: Key) -> None:
        """The step `tag` failed: it is tried again after a delay that doubles each time, up to five minutes."""
        delay = min(300.0, self.backoff.get(tag, (self.ctx.delays["retry"] / 2, 0.0))[0] * 2)
        self.backoff[tag] = (delay, self.ctx.clock.now() + delay)
        self.ctx.wake(key, self.ctx.clock.now() + delay)

    def call(self, tag: tuple, key: Key, method: str, *args, announce=None) -> Outcome | None:
        """The driver's outcome of `method` (None while it runs or a retry is not due yet); `announce()`
        runs when the call is made (again)."""
        if not self.due(tag, key):
            return None
        if announce and not self.ctx.csi.busy(tag):
            announce()
        outcome = self.ctx.csi.call(tag, key, method, *args)
        if outcome is not None and outcome.error:
            self.failed(tag, key)
        elif outcome is not None:
            self.backoff.pop(tag, None)
        return outcome

    # --- claims

    def sync_claim(self, key: Key) -> None:
        pvc = self.ctx.get(key)
        if pvc is None:
            return
        if pvc["metadata"].get("deletionTimestamp"):
            self.pvc_protection(pvc)
        elif PVC_PROTECTION not in (pvc["metadata"].get("finalizers") or []):
            self.store.mutate(
                R["persistentvolumeclaims"],
                key[1],
                key[2],
                lambda o: o["metadata"].setdefault("finalizers", []).append(PVC_PROTECTION),
            )
        elif (pvc.get("status") or {}).get("phase") == "Bound":
            self.resize(key, pvc)
        else:
            self.bind_claim(key, pvc)

    def bind_claim(self, key: Key, pvc: dict) -> None:
        """The PV controller on a pending claim: provisioning asked of its class's provisioner, once
        a consumer is scheduled when the class waits for one."""
        meta, spec = pvc["metadata"], pvc.get("spec") or {}
        if not (pvc.get("status") or {}).get("phase"):
            self.store.update(
                R["persistentvolumeclaims"], key[1], key[2], {"status": {"phase": "Pending"}}, status_only=True
            )
        class_name = spec.get("storageClassName")
        sc = self.store.get_ref(R["storageclasses"], "", class_name) if class_name else None
        if sc is None:
            message = (
                f'storageclass.storage.k8s.io "{class_name}" not found'
                if class_name
                else "no persistent volumes available for this claim and no storage class is set"
            )
            self.ctx.event(
                pvc, "ProvisioningFailed" if class_name else "FailedBinding", message, "Warning", PV_CONTROLLER
            )
            return
        annotations = meta.get("annotations") or {}
        if sc.get("volumeBindingMode") == "WaitForFirstConsumer" and SELECTED_NODE not in annotations:
            self.ctx.event(
                pvc,
                "WaitForFirstConsumer",
                "waiting for first consumer to be created before binding",
                "Normal",
                PV_CONTROLLER,
            )
            return
        provisioner = sc.get("provisioner", "")
        if annotations.get(STORAGE_PROVISIONER[1]) != provisioner:
            self.store.mutate(
                R["persistentvolumeclaims"],
                key[1],
                key[2],
                lambda o: (
                    o["metadata"].setdefault("annotations", {}).update(dict.fromkeys(STORAGE_PROVISIONER, provisioner))
                ),
            )
            self.ctx.event(
                pvc,
                "ExternalProvisioning",
                "Waiting for a volume to be created either by the external "
                f"provisioner '{provisioner}' or manually by the system administrator. If volume creation "
                "is delayed, please verify that the provisioner is running and correctly registered.",
                "Normal",
                PV_CONTROLLER,
            )
            return
        if provisioner == DRIVER and not self.ctx.waiting(key, "pvc", meta["uid"], "pvc_bind"):
            self.provision(key, pvc, sc)  # no other provisioner runs in this cluster: other claims stay Pending

    def snapshot_source(self, pvc: dict) -> str | None:
        """The snapshot handle a claim is restored from (None: an empty volume); ValueError says why not yet."""
        source = (pvc.get("spec") or {}).get("dataSourceRef") or (pvc.get("spec") or {}).get("dataSource") or {}
        if source.get("kind") != "VolumeSnapshot":
            return None
        name, namespace = source.get("name", ""), pvc["metadata"]["namespace"]
        problem = f"error getting handle for DataSource Type VolumeSnapshot by Name {name}: "
        snap = self.store.get_ref(R["volumesnapshots"], namespace, name)
        if snap is None:
            raise ValueError(
                f"{problem}error getting snapshot {name} from api server: "
                f'volumesnapshots.snapshot.storage.k8s.io "{name}" not found'
            )
        status = snap.get("status") or {}
        content = self.store.get_ref(R["volumesnapshotcontents"], "", status.get("boundVolumeSnapshotContentName", ""))
        if not status.get("readyToUse") or content is None:
            raise ValueError(f"{problem}snapshot {name} is not Ready")
        restore = int(quantity.parse(status.get("restoreSize") or "0"))
        if requested_bytes(pvc) < restore:
            raise ValueError(
                f"requested volume size {requested_bytes(pvc)} is less than the size {restore} for the "
                f"source snapshot {name}"
            )
        return (content.get("status") or {}).get("snapshotHandle")

    def provision(self, key: Key, pvc: dict, sc: dict) -> None:
        """The external-provisioner: CreateVolume, then a PV for the claim, which the PV controller binds."""
        meta = pvc["metadata"]
        namespace, name, pv_name = meta["namespace"], meta["name"], f"pvc-{meta['uid']}"
        pv = self.store.get_ref(R["persistentvolumes"], "", pv_name)
        if pv is not None:
            self.bind(pvc, pv)
            return
        parameters, tag = sc.get("parameters") or {}, ("provision", meta["uid"])
        failed = f'failed to provision volume with StorageClass "{sc["metadata"]["name"]}": '
        if not self.due(tag, key):
            return
        secret = secret_ref(parameters, "provisioner")
        try:
            snapshot_id = self.snapshot_source(pvc)
            if secret and not self.store.exists(R["secrets"], secret["namespace"], secret["name"]):
                raise ValueError(
                    f"error getting secret {secret['name']} in namespace {secret['namespace']}: "
                    f'secrets "{secret["name"]}" not found'
                )
        except ValueError as exc:
            self.ctx.event(pvc, "ProvisioningFailed", failed + str(exc), "Warning", self.provisioner)
            self.failed(tag, key)
            return
        metadata = {
            f"{CSI_PARAMETER}pvc/name": name,
            f"{CSI_PARAMETER}pvc/namespace": namespace,
            f"{CSI_PARAMETER}pv/name": pv_name,
        }
        outcome = self.call(
            tag,
            key,
            "create_volume",
            pv_name,
            parameters,
            requested_bytes(pvc),
            snapshot_id,
            metadata,
            announce=lambda: self.ctx.event(
                pvc,
                "Provisioning",
                f'External provisioner is provisioning volume for claim "{namespace}/{name}"',
                "Normal",
                self.provisioner,
            ),
        )
        if outcome is None:
            return
        if outcome.error:
            self.ctx.event(pvc, "ProvisioningFailed", failed + outcome.error, "Warning", self.provisioner)
            return
        pv = self.store.create(R["persistentvolumes"], "", self.volume_object(pvc, sc, pv_name, outcome.value))
        self.ctx.event(
            pvc, "ProvisioningSucceeded", f"Successfully provisioned volume {pv_name}", "Normal", self.provisioner
        )
        self.bind(pvc, pv)

    def volume_object(self, pvc: dict, sc: dict, pv_name: str, volume: dict) -> dict:
        """The PV the external-provisioner writes for ceph-csi's answer."""
        meta, spec = pvc["metadata"], pvc.get("spec") or {}
        parameters = sc.get("parameters") or {}
        csi = {
            "driver": DRIVER,
            "volumeHandle": volume["volume_id"],
            "volumeAttributes": dict(
                volume["context"], **{"storage.kubernetes.io/csiProvisionerIdentity": self.provisioner_identity}
            ),
        }
        if spec.get("volumeMode", "Filesystem") == "Filesystem":
            csi["fsType"] = parameters.get(f"{CSI_PARAMETER}fstype", "ext4")
        for kind, field in (("controller-expand", "controllerExpandSecretRef"), ("node-stage", "nodeStageSecretRef")):
            if secret_ref(parameters, kind):
                csi[field] = secret_ref(parameters, kind)
        annotations = {"pv.kubernetes.io/provisioned-by": DRIVER}
        deletion = secret_ref(parameters, "provisioner")
        if deletion:
            annotations.update(
                {
                    "volume.kubernetes.io/provisioner-deletion-secret-name": deletion["name"],
                    "volume.kubernetes.io/provisioner-deletion-secret-namespace": deletion["namespace"],
                }
            )
        policy = sc.get("reclaimPolicy", "Delete")
        volume_spec = {
            "accessModes": spec.get("accessModes", ["ReadWriteOnce"]),
            "capacity": {"storage": quantity.fmt_bytes(volume["capacity"])},
            "claimRef": {
                "kind": "PersistentVolumeClaim",
                "namespace": meta["namespace"],
                "name": meta["name"],
                "uid": meta["uid"],
                "apiVersion": "v1",
                "resourceVersion": meta["resourceVersion"],
            },
            "csi": csi,
            "persistentVolumeReclaimPolicy": policy,
            "storageClassName": sc["metadata"]["name"],
            "volumeMode": spec.get("volumeMode", "Filesystem"),
        }
        if sc.get("mountOptions"):
            volume_spec["mountOptions"] = list(sc["mountOptions"])
        return {
            "metadata": {
                "name": pv_name,
                "annotations": annotations,
                "finalizers": ([PROVISIONER_FINALIZER] if policy == "Delete" else []) + [PV_PROTECTION],
            },
            "spec": volume_spec,
            "status": {"phase": "Bound", "lastPhaseTransitionTime": now_iso()},
        }

    def bind(self, pvc: dict, pv: dict) -> None:
        """The PV controller binds the claim to the volume provisioned for it."""
        access_modes, capacity = pv["spec"].get("accessModes"), pv["spec"].get("capacity")

        def bind(obj):
            obj["spec"]["volumeName"] = pv["metadata"]["name"]
            obj["metadata"].setdefault("annotations", {}).update(
                {"pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes"}
            )
            obj["status"] = {"phase": "Bound", "accessModes": access_modes, "capacity": dict(capacity)}

        self.store.mutate(
            R["persistentvolumeclaims"], pvc["metadata"]["namespace"], pvc["metadata"]["name"], bind, keep_status=True
        )
        self.ctx.mark(("@pending-pods", pvc["metadata"]["namespace"], ""))

    def sync_unbound(self, key: Key) -> None:
        for pvc in self.store.iter_refs(R["persistentvolumeclaims"], key[1]):
            if (pvc.get("status") or {}).get("phase") != "Bound":
                self.ctx.mark(("persistentvolumeclaims", key[1], pvc["metadata"]["name"]))

    def sync_claim_users(self, key: Key) -> None:
        """A pod changed: claims being deleted may go, claims waiting for a file system resize may get it."""
        for pvc in self.store.iter_refs(R["persistentvolumeclaims"], key[1]):
            status = pvc.get("status") or {}
            if (
                pvc["metadata"].get("deletionTimestamp")
                or (status.get("allocatedResourceStatuses") or {}).get("storage") == "NodeResizePending"
            ):
                self.ctx.mark(("persistentvolumeclaims", key[1], pvc["metadata"]["name"]))

    def pvc_protection(self, pvc: dict) -> None:
        """A deleted claim goes once no pod uses it; the PV controller then releases its volume."""
        namespace, name = pvc["metadata"]["namespace"], pvc["metadata"]["name"]
        if any(
            pod_active(p) or p["metadata"].get("deletionTimestamp")
            for p in self.store.iter_refs(R["pods"], namespace)
            if uses_claim(p, name)
        ):
            return
        self.store.remove_finalizer(R["persistentvolumeclaims"], namespace, name, PVC_PROTECTION)
        if (pvc.get("spec") or {}).get("volumeName"):
            self.ctx.mark(("persistentvolumes", "", pvc["spec"]["volumeName"]))

    # --- expansion

    def put_claim_status(self, pvc: dict, change) -> None:
        def edit(obj):
            obj["status"] = obj.get("status") or {}
            return change(obj["status"])

        self.store.mutate(
            R["persistentvolumeclaims"], pvc["metadata"]["namespace"], pvc["metadata"]["name"], edit, status_only=True
        )

    def resize(self, key: Key, pvc: dict) -> None:
        """The external-resizer grows a bound claim's volume (ControllerExpandVolume, then the PV), the kubelet
        its file system once a running pod mounts it; the claim's status says where it is."""
        status = pvc.get("status") or {}
        state = (status.get("allocatedResourceStatuses") or {}).get("storage")
        pv = self.store.get_ref(R["persistentvolumes"], "", (pvc.get("spec") or {}).get("volumeName", ""))
        if pv is None or ((pv.get("spec") or {}).get("csi") or {}).get("driver") != DRIVER:
            return
        if state == "NodeResizePending":
            self.expand_file_system(pvc, pv)
            return
        capacity = int(quantity.parse((status.get("capacity") or {}).get("storage", "0")))
        wanted = requested_bytes(pvc)
        if wanted <= capacity and state != "ControllerResizeInProgress":
            return
        pv_name = pv["metadata"]["name"]
        if (
            state != "ControllerResizeInProgress"
            or (status.get("allocatedResources") or {}).get("storage")
            != pvc["spec"]["resources"]["requests"]["storage"]
        ):
            self.ctx.event(
                pvc,
                "ExternalExpanding",
                "waiting for an external controller to expand this PVC",
                "Warning",
                "volume_expand",
            )
            self.ctx.event(pvc, "Resizing", f"External resizer is resizing volume {pv_name}", "Normal", RESIZER)
            requested = pvc["spec"]["resources"]["requests"]["storage"]

            def start(s):
                s["allocatedResources"] = dict(s.get("allocatedResources") or {}, storage=requested)
                s["allocatedResourceStatuses"] = dict(
                    s.get("allocatedResourceStatuses") or {}, storage="ControllerResizeInProgress"
                )
                s["conditions"] = set_condition(s.get("conditions"), condition("Resizing", "True", lastProbeTime=None))

            self.put_claim_status(pvc, start)
            return
        outcome = self.call(
            ("expand", pvc["metadata"]["uid"], wanted), key, "expand_volume", pv["spec"]["csi"]["volumeHandle"], wanted
        )
        if outcome is None:
            return
        if outcome.error:
            self.ctx.event(
                pvc,
                "VolumeResizeFailed",
                f'resize volume "{pv_name}" by resizer "{DRIVER}" failed: {outcome.error}',
                "Warning",
                RESIZER,
            )
            return
        size = quantity.fmt_bytes(outcome.value)
        self.store.mutate(R["persistentvolumes"], "", pv_name, lambda o: o["spec"]["capacity"].update(storage=size))
        if pvc["spec"].get("volumeMode", "Filesystem") == "Filesystem":  # ceph-csi: the node grows the file system
            self.ctx.event(
                pvc, "FileSystemResizeRequired", "Require file system resize of volume on node", "Normal", RESIZER
            )

            def node_pending(s):
                s["allocatedResourceStatuses"]["storage"] = "NodeResizePending"
                s["conditions"] = [c for c in s.get("conditions") or [] if c.get("type") != "Resizing"]
                s["conditions"].append(
                    condition("FileSystemResizePending", "True", message=RESIZE_PENDING, lastProbeTime=None)
                )

            self.put_claim_status(pvc, node_pending)
            self.ctx.mark(key)
        else:
            self.ctx.event(pvc, "VolumeResizeSuccessful", "Resize volume succeeded", "Normal", RESIZER)
            self.put_claim_status(pvc, lambda s: self.resized(s, size))

    @staticmethod
    def resized(status: dict, size: str) -> None:
        status["capacity"] = dict(status.get("capacity") or {}, storage=size)
        status["conditions"] = [
            c for c in status.get("conditions") or [] if c.get("type") not in ("Resizing", "FileSystemResizePending")
        ]
        status.get("allocatedResourceStatuses", {}).pop("storage", None)
        for field in ("conditions", "allocatedResourceStatuses"):
            if not status.get(field):
                status.pop(field, None)

    def expand_file_system(self, pvc: dict, pv: dict) -> None:
        """The kubelet of a node running a pod that mounts the claim: NodeExpandVolume, then the claim's capacity."""
        pod = next(
            (
                p
                for p in self.store.iter_refs(R["pods"], pvc["metadata"]["namespace"])
                if uses_claim(p, pvc["metadata"]["name"]) and (p.get("status") or {}).get("phase") == "Running"
            ),
            None,
        )
        if pod is None:
            return  # a claim nobody mounts keeps FileSystemResizePending, as on a real cluster
        node, pv_name = pod["spec"]["nodeName"], pv["metadata"]["name"]
        message = f'MountVolume.NodeExpandVolume succeeded for volume "{pv_name}" {node}'
        self.put_claim_status(pvc, lambda s: self.resized(s, pv["spec"]["capacity"]["storage"]))
        for target in (pod, pvc):
            self.ctx.event(target, "FileSystemResizeSuccessful", message, "Normal", "kubelet", node)

    # --- volumes

    def sync_volume(self, key: Key) -> None:
        """The PV controller (phases, reclaim), the external-provisioner's deleter and PV protection."""
        pv = self.ctx.get(key)
        if pv is None:
            return
        meta, spec, status = pv["metadata"], pv.get("spec") or {}, pv.get("status") or {}
        ref = spec.get("claimRef") or {}
        claim = (
            self.store.get_ref(R["persistentvolumeclaims"], ref.get("namespace", ""), ref.get("name", ""))
            if ref
            else None
        )
        bound = claim is not None and claim["metadata"]["uid"] == ref.get("uid", claim["metadata"]["uid"])
        phase = status.get("phase")
        if ref and not bound and phase in ("Bound", None) or not ref and not phase:
            self.set_phase(pv, "Released" if ref else "Available")
            return
        finalizers = meta.get("finalizers") or []
        if meta.get("deletionTimestamp") and phase != "Bound" and PV_PROTECTION in finalizers:
            self.store.remove_finalizer(R["persistentvolumes"], "", key[2], PV_PROTECTION)
        released = (
            phase in ("Released", "Failed")
            and meta.get("annotations", {}).get("pv.kubernetes.io/provisioned-by") == DRIVER
        )
        if released and spec.get("persistentVolumeReclaimPolicy") == "Delete":
            self.reclaim(key, pv)
        elif released and meta.get("deletionTimestamp") and PROVISIONER_FINALIZER in finalizers:
            self.store.remove_finalizer(R["persistentvolumes"], "", key[2], PROVISIONER_FINALIZER)

    def set_phase(self, pv: dict, phase: str) -> None:
        self.store.update(
            R["persistentvolumes"],
            "",
            pv["metadata"]["name"],
            {"status": {"phase": phase, "lastPhaseTransitionTime": now_iso()}},
            status_only=True,
        )

    def reclaim(self, key: Key, pv: dict) -> None:
        """DeleteVolume, then the PV object goes (its protection finalizer once it is no longer bound)."""
        name = pv["metadata"]["name"]
        outcome = self.call(("delete-volume", name), key, "delete_volume", pv["spec"]["csi"]["volumeHandle"])
        if outcome is None:
            return
        if outcome.error:
            self.ctx.event(pv, "VolumeFailedDelete", outcome.error, "Warning", self.provisioner)
            return
        self.store.remove_finalizer(R["persistentvolumes"], "", name, PROVISIONER_FINALIZER)
        try:
            self.store.delete(R["persistentvolumes"], "", name)
        except ApiError:
            pass

    # --- snapshots

    def sync_snapshot(self, key: Key) -> None:
        snap = self.ctx.get(key)
        if snap is not None and snap["metadata"].get("deletionTimestamp"):
            self.release_snapshot(snap)
        elif snap is not None and not (snap.get("status") or {}).get("readyToUse"):
            self.take_snapshot(key, snap)

    def snapshot_error(self, snap: dict, message: str) -> None:
        status = snap.get("status") or {}
        if (status.get("error") or {}).get("message") != message:
            self.store.update(
                R["volumesnapshots"],
                snap["metadata"]["namespace"],
                snap["metadata"]["name"],
                {"status": dict(status, readyToUse=False, error={"message": message, "time": now_iso()})},
                status_only=True,
            )

    def take_snapshot(self, key: Key, snap: dict) -> None:
        """The snapshot-controller (class, content, finalizers) and the csi-snapshotter (CreateSnapshot)."""
        store = self.store
        meta, spec = snap["metadata"], snap.get("spec") or {}
        namespace, name = key[1], key[2]
        class_name = spec.get("volumeSnapshotClassName")
        if not class_name:
            default = next(
                (
                    c
                    for c in store.iter_refs(R["volumesnapshotclasses"])
                    if (c["metadata"].get("annotations") or {}).get(DEFAULT_SNAPSHOT_CLASS) == "true"
                ),
                None,
            )
            if default is not None:
                store.mutate(
                    R["volumesnapshots"],
                    namespace,
                    name,
                    lambda o: o["spec"].update(volumeSnapshotClassName=default["metadata"]["name"]),
                )
            return
        if (spec.get("source") or {}).get("volumeSnapshotContentName"):
            self.adopt_content(snap, spec["source"]["volumeSnapshotContentName"])
            return
        snap_class = store.get_ref(R["volumesnapshotclasses"], "", class_name)
        source = (spec.get("source") or {}).get("persistentVolumeClaimName")
        pvc = store.get_ref(R["persistentvolumeclaims"], namespace, source) if source else None
        if snap_class is None:
            self.snapshot_error(
                snap,
                f"Failed to get snapshot class with error volumesnapshotclass.snapshot.storage"
                f'.k8s.io "{class_name}" not found',
            )
            return
        if pvc is None or (pvc.get("status") or {}).get("phase") != "Bound":
            problem = (
                f"the snapshot source pvc {source} is not bound"
                if pvc is not None
                else f'persistentvolumeclaim \\"{source}\\" not found'
            )
            self.snapshot_error(snap, f'failed to get input parameters to create snapshot {name}: "{problem}"')
            return
        content_name = f"snapcontent-{meta['uid']}"
        if SNAPSHOT_FINALIZERS[1] not in (meta.get("finalizers") or []):
            store.mutate(
                R["volumesnapshots"],
                namespace,
                name,
                lambda o: o["metadata"].setdefault("finalizers", []).extend(SNAPSHOT_FINALIZERS),
            )
        if SOURCE_FINALIZER not in (pvc["metadata"].get("finalizers") or []):
            store.mutate(
                R["persistentvolumeclaims"],
                namespace,
                source,
                lambda o: o["metadata"].setdefault("finalizers", []).append(SOURCE_FINALIZER),
            )
        content = store.get_ref(R["volumesnapshotcontents"], "", content_name) or self.create_content(
            snap, snap_class, pvc, content_name
        )
        if self.ctx.waiting(key, "snap", meta["uid"], "snapshot_ready"):
            return
        outcome = self.call(
            ("snapshot", meta["uid"]),
            key,
            "create_snapshot",
            f"snapshot-{meta['uid']}",
            content["spec"]["source"]["volumeHandle"],
            {
                f"{CSI_PARAMETER}volumesnapshot/name": name,
                f"{CSI_PARAMETER}volumesnapshot/namespace": namespace,
                f"{CSI_PARAMETER}volumesnapshotcontent/name": content_name,
            },
        )
        if outcome is None:
            return
        if outcome.error:
            message = (
                f"Failed to check and update snapshot content: failed to take snapshot of the volume "
                f'{content["spec"]["source"]["volumeHandle"]}: "{outcome.error}"'
            )
            self.ctx.event(snap, "SnapshotCreationFailed", message, "Warning", "snapshot-controller")
            self.snapshot_error(snap, message)
            return
        taken = outcome.value
        store.update(
            R["volumesnapshotcontents"],
            "",
            content_name,
            {
                "status": {
                    "creationTime": taken["creation_time"],
                    "readyToUse": True,
                    "restoreSize": taken["size"],
                    "snapshotHandle": taken["snapshot_id"],
                }
            },
            status_only=True,
        )
        self.snapshot_ready(namespace, name, content_name, taken["creation_time"], taken["size"])
        store.remove_finalizer(R["persistentvolumeclaims"], namespace, source, SOURCE_FINALIZER)
        self.ctx.event(
            snap,
            "SnapshotCreated",
            f"Snapshot {namespace}/{name} was successfully created by the CSI driver.",
            "Normal",
            "snapshot-controller",
        )
        self.ctx.event(
            snap, "SnapshotReady", f"Snapshot {namespace}/{name} is ready to use.", "Normal", "snapshot-controller"
        )
        self.ctx.mark(("@pvcs", namespace, ""))

    def adopt_content(self, snap: dict, content_name: str) -> None:
        """A snapshot of an existing content (one retained after its first snapshot went): bound once the content
        names it and is ready."""
        meta = snap["metadata"]
        content = self.store.get_ref(R["volumesnapshotcontents"], "", content_name)
        ref = ((content or {}).get("spec") or {}).get("volumeSnapshotRef") or {}
        if content is None or (ref.get("name"), ref.get("namespace")) != (meta["name"], meta["namespace"]):
            self.snapshot_error(
                snap,
                f"VolumeSnapshotContent {content_name} is not bound to the VolumeSnapshot "
                f"{meta['namespace']}/{meta['name']}"
                if content
                else f'volumesnapshotcontents.snapshot.storage.k8s.io "{content_name}" not found',
            )
            return
        status = content.get("status") or {}
        if not status.get("readyToUse"):
            return
        if ref.get("uid") != meta["uid"]:
            self.store.mutate(
                R["volumesnapshotcontents"],
                "",
                content_name,
                lambda o: o["spec"]["volumeSnapshotRef"].update(uid=meta["uid"]),
            )
        if SNAPSHOT_FINALIZERS[1] not in (meta.get("finalizers") or []):
            self.store.mutate(
                R["volumesnapshots"],
                meta["namespace"],
                meta["name"],
                lambda o: o["metadata"].setdefault("finalizers", []).extend(SNAPSHOT_FINALIZERS),
            )
        self.snapshot_ready(
            meta["namespace"], meta["name"], content_name, status["creationTime"], status["restoreSize"]
        )
        self.ctx.mark(("@pvcs", meta["namespace"], ""))

    def snapshot_ready(self, namespace: str, name: str, content_name: str, creation_ns: int, size: int) -> None:
        """A VolumeSnapshot's status once its content is ready: bound to it, its time and size as the API shows them."""
        self.store.update(
            R["volumesnapshots"],
            namespace,
            name,
            {
                "status": {
                    "boundVolumeSnapshotContentName": content_name,
                    "creationTime": iso_of_ns(creation_ns),
                    "readyToUse": True,
                    "restoreSize": quantity.fmt_bytes(size),
                }
            },
            status_only=True,
        )

    def create_content(self, snap: dict, snap_class: dict, pvc: dict, content_name: str) -> dict:
        store, meta = self.store, snap["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        pv = store.get_ref(R["persistentvolumes"], "", pvc["spec"].get("volumeName", "")) or {}
        annotations = {}
        secret = secret_ref(snap_class.get("parameters") or {}, "snapshotter")
        if secret:
            annotations = {
                "snapshot.storage.kubernetes.io/deletion-secret-name": secret["name"],
                "snapshot.storage.kubernetes.io/deletion-secret-namespace": secret["namespace"],
            }
        content = store.create(
            R["volumesnapshotcontents"],
            "",
            {
                "metadata": {"name": content_name, "annotations": annotations, "finalizers": [CONTENT_FINALIZER]},
                "spec": {
                    "deletionPolicy": snap_class.get("deletionPolicy", "Delete"),
                    "driver": snap_class.get("driver", ""),
                    "source": {"volumeHandle": ((pv.get("spec") or {}).get("csi") or {}).get("volumeHandle", "")},
                    "sourceVolumeMode": pvc["spec"].get("volumeMode", "Filesystem"),
                    "volumeSnapshotClassName": snap_class["metadata"]["name"],
                    "volumeSnapshotRef": {
                        "kind": "VolumeSnapshot",
                        "namespace": namespace,
                        "name": name,
                        "uid": meta["uid"],
                        "apiVersion": "snapshot.storage.k8s.io/v1",
                        "resourceVersion": meta["resourceVersion"],
                    },
                },
            },
        )
        store.update(
            R["volumesnapshots"],
            namespace,
            name,
            {"status": {"boundVolumeSnapshotContentName": content_name, "readyToUse": False}},
            status_only=True,
        )
        self.ctx.event(
            snap,
            "CreatingSnapshot",
            f"Waiting for a snapshot {namespace}/{name} to be created by the CSI driver.",
            "Normal",
            "snapshot-controller",
        )
        return content

    def release_snapshot(self, snap: dict) -> None:
        """A deleted snapshot waits for the claims being restored from it, then for its content's deletion
        (when its policy deletes it)."""
        namespace, name = snap["metadata"]["namespace"], snap["metadata"]["name"]

        def restoring(pvc):
            source = (pvc.get("spec") or {}).get("dataSource") or {}
            return (
                source.get("kind") == "VolumeSnapshot"
                and source.get("name") == name
                and (pvc.get("status") or {}).get("phase") != "Bound"
            )

        if any(restoring(p) for p in self.store.iter_refs(R["persistentvolumeclaims"], namespace)):
            return
        content_name = (snap.get("status") or {}).get("boundVolumeSnapshotContentName")
        content = self.store.get_ref(R["volumesnapshotcontents"], "", content_name) if content_name else None
        if content is not None and content["spec"].get("deletionPolicy") == "Delete":
            if not content["metadata"].get("deletionTimestamp"):
                self.store.delete(R["volumesnapshotcontents"], "", content_name)
            return
        for finalizer in SNAPSHOT_FINALIZERS:
            self.store.remove_finalizer(R["volumesnapshots"], namespace, name, finalizer)

    def sync_content(self, key: Key) -> None:
        """The csi-snapshotter on a deleted content: DeleteSnapshot (when its policy says so), then it goes."""
        content = self.ctx.get(key)
        if content is None or not content["metadata"].get("deletionTimestamp"):
            return
        ref = content["spec"].get("volumeSnapshotRef") or {}
        snap = self.store.get_ref(R["volumesnapshots"], ref.get("namespace", ""), ref.get("name", ""))
        if snap is not None and not snap["metadata"].get("deletionTimestamp"):
            return  # still bound to a snapshot that stays: it keeps the content (Terminating)
        handle = (content.get("status") or {}).get("snapshotHandle")
        if handle and content["spec"].get("deletionPolicy") == "Delete":
            outcome = self.call(("delete-snapshot", key[2]), key, "delete_snapshot", handle)
            if outcome is None or outcome.error:
                if outcome is not None:
                    self.ctx.event(
                        content,
                        "SnapshotDeleteError",
                        f"Failed to delete snapshot: {outcome.error}",
                        "Warning",
                        f"csi-snapshotter {DRIVER}",
                    )
                return
        self.store.remove_finalizer(R["volumesnapshotcontents"], "", key[2], CONTENT_FINALIZER)
        self.ctx.mark(("volumesnapshots", ref.get("namespace", ""), ref.get("name", "")))
