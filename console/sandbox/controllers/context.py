"""What the controllers share: the cluster and its store, the simulated clock and delays,
the work queue (dirty keys and timers), injected faults, the kubelet's pod records and the
event recorder. Each controller family gets this one object."""

import heapq
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..ceph import CephOptions, Csi
from ..errors import ApiError
from ..kinds import STORED, Resource
from .events import EventRecorder
from .helpers import controller_uid

if TYPE_CHECKING:
    from .pods import PodRun

R = STORED
Key = tuple[str, str, str]  # (plural, namespace, name); ("@sweep", namespace, "") for a pass over a namespace
Handler = Callable[[Key], None]

DEFAULT_DELAYS = {
    "schedule": 0.0,  # creation → bound to a node
    "pull": 1.0,  # bound → containers running
    "ready": 1.0,  # running → ready
    "terminate": 1.0,  # graceful deletion → gone (at most the grace period)
    "job_run": 5.0,  # a Job's pod runs this long, then Succeeded
    "pvc_bind": 1.0,  # PVC → PV provisioned and Bound
    "snapshot_ready": 3.0,  # VolumeSnapshot → readyToUse
    "retry": 1.0,  # a failed storage call is tried again after this, doubling up to 300 (the sidecars' backoff)
    "hpa_sync": 15.0,  # HPA evaluation period
    "log_interval": 1.0,  # one log line per container per this many seconds
    "crash_after": 3.0,  # a crashing container runs this long before it exits
    "backoff": 10.0,  # first CrashLoopBackOff delay (doubles, capped at 300)
    "lb": 1.0,  # LoadBalancer/Ingress address assigned
    "cron_start": 0.0,
}


class Clock:
    """Simulated seconds since start, running `speed` times faster than real time."""

    def __init__(self, speed=1.0):
        self.speed = float(speed)
        self._real0, self._sim0 = time.monotonic(), 0.0
        self.wall0 = time.time()
        self._epoch0 = self.wall0  # the real wall-clock time at _real0

    def now(self):
        return self._sim0 + (time.monotonic() - self._real0) * self.speed

    def set_speed(self, speed):
        self._sim0, self._real0 = self.now(), time.monotonic()
        self._epoch0 = time.time()
        self.speed = float(speed)

    def wall(self, sim=None):
        """The simulated wall-clock time (UTC datetime) at simulated second `sim` (default: now)."""
        return datetime.fromtimestamp(self.wall0 + (self.now() if sim is None else sim), tz=UTC)

    def iso(self, sim=None):
        return self.wall(sim).strftime("%Y-%m-%dT%H:%M:%SZ")

    def real_time(self, sim):
        """The real wall-clock moment (epoch seconds) of simulated second `sim` at the current speed:
        the same every time it is asked, as a log line's timestamp is on every read of the log."""
        return self._epoch0 + (sim - self._sim0) / self.speed if self.speed else self._epoch0

    def real_seconds(self, sim_seconds):
        return sim_seconds / self.speed if self.speed else float("inf")


class Context:
    """The state every controller family shares, and the small operations they all need."""

    def __init__(
        self,
        cluster,
        nodes: int,
        clock_speed: float,
        delays: dict[str, float] | None,
        seed: bool,
        max_events: int,
        ceph: CephOptions | None = None,
    ) -> None:
        self.cluster = cluster
        self.store = cluster.store
        self.node_count = nodes
        self.clock = Clock(clock_speed)
        self.delays: dict[str, float] = dict(DEFAULT_DELAYS, **(delays or {}))
        self.seed_system = seed
        # The runner swaps in a new set each step (under the store's lock): always reach it through here.
        self.dirty: set[Key] = set()
        self.lock = threading.Lock()  # guards timers
        self.timers: list[tuple[float, Key]] = []  # heap of (sim time, key)
        self.pods: dict[str, PodRun] = {}  # pod uid -> the kubelet's record (pod logs read it too)
        self.pod_faults: dict[tuple[str, str], str] = {}  # (namespace, name) -> "crash" | "unready" | "slow" | "fail"
        self.node_faults: dict[str, str] = {}  # node name -> "NotReady" | "MemoryPressure" | "DiskPressure" | ...
        self.timed: dict[tuple[str, str], float] = {}  # (what, uid) -> sim time it becomes due (pvc, snap, lb)
        self.errors: deque = deque(maxlen=50)
        self.recorder = EventRecorder(self.store, max_events)
        self.event = self.recorder.record
        self.csi = Csi(ceph, lambda key: self.wake(key, self.clock.now()))  # ceph-csi's RBD driver

    # --- the work queue

    def mark(self, key: Key) -> None:
        self.dirty.add(key)

    def wake(self, key: Key, at: float) -> None:
        with self.lock:
            heapq.heappush(self.timers, (at, key))

    def waiting(self, key: Key, what: str, uid: str, delay: str) -> bool:
        """Whether the step `what` of object `uid`, due `delay` after it was first asked about,
        is still ahead; if so, key is woken when it is due."""
        due = self.timed.setdefault((what, uid), self.clock.now() + self.delays[delay])
        if self.clock.now() < due:
            self.wake(key, due)
            return True
        return False

    # --- reads and writes shared by the controllers

    def get(self, key: Key) -> dict | None:
        """The stored object key names (shared with readers: never change it in place)."""
        return self.store.get_ref(R[key[0]], key[1], key[2])

    def live(self, key: Key) -> dict | None:
        """The object key names, None when it is gone or being deleted."""
        obj = self.get(key)
        return None if obj is None or obj["metadata"].get("deletionTimestamp") else obj

    def put_status(self, key: Key, status: dict, old: dict) -> None:
        """Write status when it changed: an equal write would still bump resourceVersion and wake watchers."""
        if status != old:
            self.store.update(R[key[0]], key[1], key[2], {"status": status}, status_only=True)

    def owned(self, resource: Resource, owner: dict) -> list[dict]:
        uid = owner["metadata"]["uid"]
        return [o for o in self.store.dependents_of(uid) if o["kind"] == resource.kind and controller_uid(o) == uid]

    def create_if_missing(self, resource: Resource, namespace: str, obj: dict) -> dict | None:
        if not self.store.exists(resource, namespace, obj["metadata"]["name"]):
            try:
                return self.store.create(resource, namespace, obj)
            except ApiError as exc:
                if exc.code != 409:
                    raise
        return None

    def node_is_ready(self, name: str) -> bool:
        return self.node_faults.get(name) != "NotReady" and self.store.exists(R["nodes"], "", name)


class Controller:
    """One family of controllers; its handlers are listed in registry.py."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.store = ctx.store
