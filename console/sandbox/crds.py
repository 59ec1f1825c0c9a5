"""CustomResourceDefinitions (apiextensions.k8s.io/v1): every served version of a CRD in the store
becomes a resource the API serves (discovery, CRUD, watch), filed under `<plural>.<group>`.
Objects are not pruned or checked against the CRD's schema. Deleting a CRD deletes its objects.

Calico's CRDs (crd.projectcalico.org/v1) are installed by the `calico` knob: the console finds
Calico through discovery, as on a real cluster."""

from .errors import ApiError
from .kinds import STORED, Resource
from .store import now_iso

GROUP = "apiextensions.k8s.io"
CLEANUP = "customresourcecleanup.apiextensions.k8s.io"
CRDS = STORED["customresourcedefinitions"]
CALICO_GROUP = "crd.projectcalico.org"
CALICO_VERSION = "v3.30.0"
# (plural, kind, namespaced) of the Calico CRDs the console may look at
CALICO_KINDS = [
    ("globalnetworkpolicies", "GlobalNetworkPolicy", False),
    ("networkpolicies", "NetworkPolicy", True),
    ("globalnetworksets", "GlobalNetworkSet", False),
    ("networksets", "NetworkSet", True),
    ("hostendpoints", "HostEndpoint", False),
    ("ippools", "IPPool", False),
    ("felixconfigurations", "FelixConfiguration", False),
    ("clusterinformations", "ClusterInformation", False),
]


def resources_of(crd):
    """The served versions of a CRD as Resources (storage version first)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group, plural = spec.get("group"), names.get("plural")
    out = []
    for version in sorted(spec.get("versions") or [], key=lambda v: not v.get("storage")):
        if not version.get("served", True):
            continue
        subresources = ("status",) if "status" in (version.get("subresources") or {}) else ()
        out.append(
            Resource(
                plural,
                names.get("kind"),
                group,
                version.get("name"),
                spec.get("scope") == "Namespaced",
                tuple(names.get("shortNames") or ()),
                subresources,
                categories=tuple(names.get("categories") or ()),
                key=f"{plural}.{group}",
            )
        )
    return out


def default(crd):
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return
    names = spec.get("names")
    if isinstance(names, dict) and names.get("kind"):
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", names["kind"] + "List")
    spec.setdefault("conversion", {"strategy": "None"})
    for version in spec.get("versions") or []:
        if isinstance(version, dict):
            version.setdefault("served", True)
            version.setdefault("storage", False)
    finalizers = crd.setdefault("metadata", {}).setdefault("finalizers", [])
    if isinstance(finalizers, list) and CLEANUP not in finalizers and not crd["metadata"].get("deletionTimestamp"):
        finalizers.append(CLEANUP)


def validate(crd, old, causes):
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        causes.required("spec")
        return
    names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
    if not spec.get("group"):
        causes.required("spec.group")
    if not names.get("plural"):
        causes.required("spec.names.plural")
    if not names.get("kind"):
        causes.required("spec.names.kind")
    if spec.get("scope") not in ("Cluster", "Namespaced"):
        causes.unsupported("spec.scope", spec.get("scope") or "", ["Cluster", "Namespaced"])
    name = (crd.get("metadata") or {}).get("name") or ""
    if spec.get("group") and names.get("plural") and name != f"{names['plural']}.{spec['group']}":
        causes.bad("metadata.name", name, 'must be spec.names.plural+"."+spec.group')
    versions = spec.get("versions") or []
    if not versions:
        causes.bad("spec.versions", versions, "must have exactly one version marked as storage version")
    elif sum(1 for v in versions if isinstance(v, dict) and v.get("storage")) != 1:
        causes.bad("spec.versions", versions, "must have exactly one version marked as storage version")
    for n, version in enumerate(versions):
        if not isinstance(version, dict) or not version.get("name"):
            causes.required(f"spec.versions[{n}].name")
        elif not (version.get("schema") or {}).get("openAPIV3Schema"):
            causes.required(f"spec.versions[{n}].schema.openAPIV3Schema", "schemas are required")
    if old is not None and (old.get("spec") or {}).get("scope") != spec.get("scope"):
        causes.bad("spec.scope", spec.get("scope"), "field is immutable")


class Crds:
    """The custom resources a cluster serves, kept in step with the CRDs in its store."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.store = cluster.store
        self._served = None  # [Resource], rebuilt after any CRD change
        self.store.listeners.append(self.on_event)

    def on_event(self, event):
        if event.plural != CRDS.key:
            return
        self._served = None
        if event.type != "DELETED":  # the store must know the kind to garbage-collect its objects
            for resource in resources_of(event.obj)[:1]:
                if resource.plural and resource.group:
                    self.store.kinds[resource.key] = resource

    def served(self):
        """Resources of the CRDs that exist and are not being deleted, by group."""
        served = self._served
        if served is None:
            with self.store.lock:  # the listener resets the cache under this lock: no stale list survives
                served = []
                for crd in self.store.iter_refs(CRDS):
                    if not crd["metadata"].get("deletionTimestamp"):
                        served += resources_of(crd)
                served.sort(key=lambda r: (r.group, r.plural))
                self._served = served
        return served

    def lookup(self, group, version, plural):
        return next((r for r in self.served() if (r.group, r.version, r.plural) == (group, version, plural)), None)

    def versions(self):
        """{group: [versions]} of the custom groups, storage versions first."""
        groups = {}
        for r in self.served():
            if r.version not in groups.setdefault(r.group, []):
                groups[r.group].append(r.version)
        return groups

    # --- the controller's part: status, and cleanup on deletion

    def sync(self, name):
        """Bring a CRD's status up to date, or finish its deletion. True: look again later."""
        store = self.store
        crd = store.get_ref(CRDS, "", name)
        if crd is None:
            return False
        resources = resources_of(crd)
        if crd["metadata"].get("deletionTimestamp"):
            resource = store.kinds.get(
                f"{(crd.get('spec') or {}).get('names', {}).get('plural')}.{(crd.get('spec') or {}).get('group')}"
            )
            if resource is not None:
                for obj in list(store.iter_refs(resource)):
                    if not obj["metadata"].get("deletionTimestamp"):
                        try:
                            store.delete(resource, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
                        except ApiError:
                            pass
                if store.count(resource):
                    return True  # objects with finalizers of their own
            store.remove_finalizer(CRDS, "", name, CLEANUP)
            return False
        status = crd.get("status") or {}
        conditions = {c.get("type"): c for c in status.get("conditions") or []}
        if all(conditions.get(t, {}).get("status") == "True" for t in ("NamesAccepted", "Established")) and status.get(
            "acceptedNames"
        ) == (crd.get("spec") or {}).get("names"):
            return False
        now = now_iso()
        storage = resources[0].version if resources else None

        def change(obj):
            obj["status"] = {
                "acceptedNames": (obj.get("spec") or {}).get("names") or {},
                "conditions": [
                    {
                        "type": "NamesAccepted",
                        "status": "True",
                        "reason": "NoConflicts",
                        "message": "no conflicts found",
                        "lastTransitionTime": now,
                    },
                    {
                        "type": "Established",
                        "status": "True",
                        "reason": "InitialNamesAccepted",
                        "message": "the initial names have been accepted",
                        "lastTransitionTime": now,
                    },
                ],
                "storedVersions": sorted(set(status.get("storedVersions") or []) | ({storage} if storage else set())),
            }

        store.mutate(CRDS, "", name, change, status_only=True)
        return False

    # --- Calico

    def calico_installed(self):
        return any(r.group == CALICO_GROUP for r in self.served())

    def set_calico(self, enabled):
        """Install Calico's CRDs (with the objects a Calico install starts with), or delete them."""
        store = self.store
        if not enabled:
            for plural, _kind, _namespaced in CALICO_KINDS:
                name = f"{plural}.{CALICO_GROUP}"
                if store.exists(CRDS, "", name):
                    store.delete(CRDS, "", name)
            return
        for crd in calico_crds():
            current = store.get_ref(CRDS, "", crd["metadata"]["name"])
            if current is None:
                store.create(CRDS, "", crd)
            elif current["metadata"].get("deletionTimestamp"):
                raise ApiError(
                    409,
                    "Conflict",
                    f'customresourcedefinitions.{GROUP} "{crd["metadata"]["name"]}" is still being '
                    "deleted; try again once it is gone",
                )
        for plural, name, obj in calico_objects():
            resource = store.kinds[f"{plural}.{CALICO_GROUP}"]
            if not store.exists(resource, "", name):
                store.create(resource, "", obj)


def calico_crds():
    crds = []
    for plural, kind, namespaced in CALICO_KINDS:
        schema = {
            "type": "object",
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object"},
                "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
        }
        crds.append(
            {
                "apiVersion": f"{GROUP}/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": f"{plural}.{CALICO_GROUP}", "labels": {"app.kubernetes.io/part-of": "calico"}},
                "spec": {
                    "group": CALICO_GROUP,
                    "scope": "Namespaced" if namespaced else "Cluster",
                    "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower()},
                    "versions": [
                        {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}
                    ],
                },
            }
        )
    return crds


def calico_objects():
    """(plural, name, object) that a fresh Calico install creates."""
    return [
        (
            "clusterinformations",
            "default",
            {
                "metadata": {"name": "default"},
                "spec": {"calicoVersion": CALICO_VERSION, "clusterType": "k8s,bgp,kubeadm,kdd", "datastoreReady": True},
            },
        ),
        (
            "ippools",
            "default-ipv4-ippool",
            {
                "metadata": {"name": "default-ipv4-ippool"},
                "spec": {
                    "cidr": "10.244.0.0/16",
                    "blockSize": 26,
                    "ipipMode": "Always",
                    "vxlanMode": "Never",
                    "natOutgoing": True,
                    "nodeSelector": "all()",
                    "allowedUses": ["Workload", "Tunnel"],
                },
            },
        ),
        (
            "felixconfigurations",
            "default",
            {
                "metadata": {"name": "default"},
                "spec": {"bpfEnabled": False, "logSeverityScreen": "Info", "reportingInterval": "0s"},
            },
        ),
    ]
