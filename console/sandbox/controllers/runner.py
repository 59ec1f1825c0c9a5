"""The controller manager: the store's changes mark keys dirty (informer-style), timers
wake keys whose next transition is due in simulated time, a periodic resync re-examines
every workload, and one background thread hands each key to its handler in the
registry's order."""

import heapq
import logging
import threading
import time
import traceback

from ..ceph import CephOptions
from ..errors import ApiError
from ..kinds import STORED
from .context import Context, Handler, Key
from .nodes import node_ip
from .registry import Families, build_registry
from .seed import seed as seed_cluster

log = logging.getLogger(__name__)
R = STORED
RESYNC_REAL_SECONDS = 1.0
RESYNCED = (
    "namespaces",
    "deployments",
    "replicasets",
    "statefulsets",
    "daemonsets",
    "jobs",
    "cronjobs",
    "services",
    "persistentvolumeclaims",
    "persistentvolumes",
    "volumesnapshots",
    "volumesnapshotcontents",
    "horizontalpodautoscalers",
    "resourcequotas",
    "ingresses",
    "poddisruptionbudgets",
)
# A change to a kind also queues these sweeps: (kind, per namespace (else cluster-wide)).
FOLLOWERS: dict[str, tuple[tuple[str, bool], ...]] = {
    "pods": (("@endpoints", True), ("@quota", True), ("@daemonsets", False), ("@pvc-users", True)),
    "services": (("@quota", True),),
    "configmaps": (("@quota", True),),
    "secrets": (("@quota", True),),
    "resourcequotas": (("@quota", True),),
    "persistentvolumeclaims": (("@quota", True), ("@pending-pods", True)),
    "nodes": (("@daemonsets", False),),
    "volumesnapshots": (("@pvcs", True),),
    "clusterroles": (("@clusterrole-aggregation", False),),
}
IGNORED_ERRORS = (404, 409, 403, 422)  # a controller meeting these retries on its next look, as real ones do


def shared(name: str) -> property:
    """An attribute of the shared context, as knobs, logs, metrics and tests reach it."""
    return property(lambda self: getattr(self.ctx, name), lambda self, value: setattr(self.ctx, name, value))


class Controllers:
    """What the cluster starts and stops; knobs, logs, metrics and the eviction API reach the
    shared state through it."""

    clock = shared("clock")
    delays = shared("delays")
    dirty = shared("dirty")
    pods = shared("pods")
    pod_faults = shared("pod_faults")
    node_faults = shared("node_faults")
    node_count = shared("node_count")
    errors = shared("errors")

    def __init__(
        self,
        cluster,
        nodes: int = 3,
        clock_speed: float = 1.0,
        delays: dict[str, float] | None = None,
        seed: bool = True,
        max_events: int = 5000,
        ceph: CephOptions | None = None,
    ) -> None:
        self.ctx = Context(cluster, nodes, clock_speed, delays, seed, max_events, ceph)
        self.families = Families(self.ctx)
        self.registry: dict[str, Handler] = build_registry(self.families)
        self.store = self.ctx.store
        self.tick_seconds = 0.05
        self.seeded = False
        self.stop_event = threading.Event()
        self.thread = None
        self.last_resync = 0.0
        self.store.listeners.append(self.on_event)

    # --- what the rest of the sandbox asks of the controllers

    def add_node(self, i: int) -> None:
        self.families.nodes.add_node(i)

    @staticmethod
    def node_ip(node: str) -> str:
        return node_ip(node)

    def check_disruption(self, namespace: str, pod_name: str) -> None:
        self.families.disruption.check_eviction(namespace, pod_name)

    # --- lifecycle

    def start(self) -> None:
        if not self.seeded:
            seed_cluster(self.ctx, self.families.nodes)
            self.seeded = True
        self.stop_event.clear()
        self.thread = threading.Thread(target=self.loop, name="sandbox-controllers", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread and self.thread is not threading.current_thread():
            self.thread.join(10)
        self.ctx.csi.stop()

    def loop(self) -> None:
        while not self.stop_event.wait(self.tick_seconds):
            try:
                self.step()
            except Exception:  # a controller bug must not stop the cluster
                self.ctx.errors.append(traceback.format_exc())
                log.exception("sandbox controller step failed")

    # --- work queue

    def on_event(self, event) -> None:
        """Called by the store under its lock for every change: mark what needs a look."""
        plural, ns, obj = event.plural, event.namespace, event.obj
        if plural == "events":
            return
        dirty = self.ctx.dirty
        dirty.add((plural, ns, obj["metadata"]["name"]))
        for source in (obj, event.old):
            if source is None:
                continue
            for ref in source["metadata"].get("ownerReferences") or ():
                key = self.store.by_uid.get(ref.get("uid"))
                if key:
                    dirty.add(key)
        for sweep, namespaced in FOLLOWERS.get(plural, ()):
            dirty.add((sweep, ns if namespaced else "", ""))

    def step(self) -> None:
        ctx = self.ctx
        now = ctx.clock.now()
        with self.store.lock:
            dirty, ctx.dirty = ctx.dirty, set()
        with ctx.lock:
            while ctx.timers and ctx.timers[0][0] <= now:
                dirty.add(heapq.heappop(ctx.timers)[1])
        if time.monotonic() - self.last_resync >= RESYNC_REAL_SECONDS:
            self.last_resync = time.monotonic()
            for plural in RESYNCED:
                for obj in self.store.iter_refs(R[plural]):
                    dirty.add((plural, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]))
            dirty.add(("@daemonsets", "", ""))
        if not dirty:
            return
        by_kind: dict[str, list[Key]] = {}
        for key in dirty:
            by_kind.setdefault(key[0], []).append(key)
        for kind, handler in self.registry.items():
            for key in sorted(by_kind.get(kind, ())):
                if self.stop_event.is_set():
                    return
                try:
                    handler(key)
                except ApiError as exc:
                    if exc.code not in IGNORED_ERRORS:
                        ctx.errors.append(f"{key}: {exc.message}")
