"""ceph-csi's RBD driver behind the sandbox's storage controllers: the CSI controller calls
(CreateVolume, DeleteVolume, ControllerExpandVolume, CreateSnapshot, DeleteSnapshot) on RBD
images named and identified as ceph-csi names them (csi-vol-<uuid>, csi-snap-<uuid>, ids
0001-<clusterID length>-<clusterID>-<pool id>-<uuid>).

Given a Ceph (conf, keyring, client name: SandboxCluster(ceph=CephOptions(...)) or the
SANDBOX_CEPH_CONF, SANDBOX_CEPH_KEYRING, SANDBOX_CEPH_CLIENT and SANDBOX_CEPH_POOL variables),
each call runs Ceph's own `rbd` CLI (JSON output, a timeout on every command); without one the
images exist only in `images`, with the same names, ids and sizes. The calls run on a worker
thread, as the driver is a process of its own next to the API server: a slow Ceph delays
provisioning, never the other controllers."""

import json
import os
import queue
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from errno import EEXIST, ENOENT

DRIVER = "rbd.csi.ceph.com"
MIB, GIB = 2**20, 2**30
SIMULATED_FSID = str(uuid.uuid5(uuid.NAMESPACE_URL, "sandbox-ceph"))
CLONE = ("--rbd-default-clone-format", "2")  # clone v2: a snapshot with clones can go, as ceph-csi relies on
SNAPSHOT_FEATURES = "layering,deep-flatten"  # what ceph-csi gives a snapshot's backing clone
INSTALL = "apt-get install --no-install-recommends ceph-common"


@dataclass(frozen=True)
class CephOptions:
    """A real Ceph for the sandbox's RBD images: its conf, the client's keyring and name, the default pool."""

    conf: str
    keyring: str
    client: str = "client.admin"
    pool: str = "rbd"
    timeout: float = 60.0

    @classmethod
    def from_env(cls, environ=None) -> "CephOptions | None":
        environ = os.environ if environ is None else environ
        if not environ.get("SANDBOX_CEPH_CONF"):
            return None
        return cls(
            environ["SANDBOX_CEPH_CONF"],
            environ.get("SANDBOX_CEPH_KEYRING", ""),
            environ.get("SANDBOX_CEPH_CLIENT") or "client.admin",
            environ.get("SANDBOX_CEPH_POOL") or "rbd",
        )

    @property
    def name(self) -> str:
        return self.client if self.client.startswith("client.") else f"client.{self.client}"

    def user_key(self) -> str:
        """The client's key from its keyring (for the csi-rbd-secret, as ceph-csi's users store it)."""
        try:
            text = open(self.keyring, encoding="utf-8").read()
        except OSError:
            return ""
        match = re.search(r"^\s*key\s*=\s*(\S+)", text, re.M)
        return match.group(1) if match else ""

    def monitors(self) -> list[str]:
        """The monitors' addresses from the conf's `mon host` line (as ceph-csi's config map lists them)."""
        try:
            text = open(self.conf, encoding="utf-8").read()
        except OSError:
            return []
        line = re.search(r"^\s*mon[ _]host\s*=(.*)$", text, re.M)
        return re.findall(r"\d+\.\d+\.\d+\.\d+:\d+", line.group(1)) if line else []


class CsiError(Exception):
    """A failed CSI call, worded as the sidecars print it: "rpc error: code = Internal desc = ..."."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"rpc error: code = {code} desc = {message}")


class CephCommandError(Exception):
    def __init__(self, errno: int, message: str) -> None:
        super().__init__(message)
        self.errno = errno


def round_size(size: int) -> int:
    """ceph-csi's RoundOffBytes: up to whole MiB below 1 GiB, whole GiB from there."""
    unit = MIB if size < GIB else GIB
    return max(1, -(-int(size) // unit)) * unit


def compose_id(cluster_id: str, pool_id: int, object_uuid: str) -> str:
    return f"0001-{len(cluster_id):04x}-{cluster_id}-{pool_id:016x}-{object_uuid}"


def decompose_id(handle: str) -> tuple[str, int, str]:
    """(clusterID, pool id, uuid) of a volume or snapshot id."""
    try:
        length = int(handle[5:9], 16)
        cluster_id, rest = handle[10 : 10 + length], handle[11 + length :]
        pool_id, object_uuid = int(rest[:16], 16), rest[17:]
    except ValueError:
        raise CsiError("InvalidArgument", f"error decoding volume ID ({handle}): invalid volume ID") from None
    if not (handle.startswith("0001-") and object_uuid):
        raise CsiError("InvalidArgument", f"error decoding volume ID ({handle}): invalid volume ID")
    return cluster_id, pool_id, object_uuid


class RbdDriver:
    """The CSI controller service of ceph-csi's RBD driver. Every call is idempotent by its request
    name, as ceph-csi's journal makes it; calls come from one worker thread at a time."""

    def __init__(self, options: CephOptions | None) -> None:
        self.options = options
        self.images: dict[tuple[str, str], int] = {}  # (pool, image) -> size in bytes, as the driver left them
        self.requests: dict[str, dict] = {}  # request name -> the answer given
        self.reserved: dict[str, str] = {}  # request name -> the uuid of its image (the journal's reservations)
        self.trash: list[tuple[str, str]] = []  # (pool, image id): removed images whose clones still hold them
        self.pools: dict[str, int] = {}
        self.fsid = None if options else SIMULATED_FSID

    # --- the Ceph commands

    def command(self, tool: str, *args: str, timeout: float | None = None) -> str:
        o = self.options
        try:
            done = subprocess.run(
                [tool, "--conf", o.conf, "--keyring", o.keyring, "--name", o.name, *args],
                capture_output=True,
                text=True,
                timeout=timeout or o.timeout,
            )
        except FileNotFoundError:
            raise CsiError("Internal", f"{tool}: command not found ({INSTALL})") from None
        except subprocess.TimeoutExpired:
            raise CsiError(
                "DeadlineExceeded", f"{tool} {' '.join(args)}: no answer in {timeout or o.timeout}s"
            ) from None
        if done.returncode:
            lines = (
                [line for line in done.stderr.splitlines() if line.startswith(f"{tool}:")]
                or done.stderr.strip().splitlines()
                or [f"{tool} exited with {done.returncode}"]
            )
            raise CephCommandError(done.returncode, lines[-1])
        return done.stdout

    def rbd(self, *args: str, tolerate: tuple[int, ...] = ()) -> str:
        """Run `rbd` (nothing without a Ceph); an error whose errno is in `tolerate` counts as done (a retried
        call finds what its first try did: EEXIST, ENOENT)."""
        if self.options is None:
            return ""
        try:
            return self.command("rbd", *args)
        except CephCommandError as exc:
            if exc.errno in tolerate:
                return ""
            raise CsiError("NotFound" if exc.errno == ENOENT else "Internal", str(exc)) from None

    def cluster_id(self) -> str:
        """The clusterID ceph-csi's config names the cluster by: its fsid."""
        if self.fsid is None:
            try:
                self.fsid = json.loads(
                    self.command("ceph", "--connect-timeout", "10", "fsid", "--format", "json", timeout=30)
                )["fsid"]
            except (CephCommandError, CsiError, ValueError, KeyError) as exc:
                raise RuntimeError(f"cannot reach the sandbox's Ceph ({self.options.conf}): {exc}") from None
        return self.fsid

    def pool_id(self, pool: str) -> int:
        if pool not in self.pools:
            self.list_pools()
            if self.options is None:
                self.pools[pool] = max(self.pools.values(), default=0) + 1
        if pool not in self.pools:
            raise CsiError("NotFound", f"pool not found: pool ({pool}) not found in Ceph cluster")
        return self.pools[pool]

    def list_pools(self) -> None:
        if self.options is None:
            return
        try:
            listed = json.loads(self.command("rados", "df", "--format", "json"))["pools"]
        except (CephCommandError, ValueError, KeyError) as exc:
            raise CsiError("Internal", f"failed to list pools: {exc}") from None
        self.pools.update({p["name"]: p["id"] for p in listed})

    def locate(self, handle: str, prefix: str) -> tuple[str, str]:
        """(pool, image) of a volume or snapshot id."""
        _, pool_id, object_uuid = decompose_id(handle)
        if pool_id not in self.pools.values():
            self.list_pools()
        pool = next((name for name, number in self.pools.items() if number == pool_id), None)
        if pool is None:
            raise CsiError("NotFound", f"pool not found: pool ID({pool_id}) not found in Ceph cluster")
        return pool, f"{prefix}{object_uuid}"

    def remove_image(self, pool: str, image: str) -> None:
        """Remove an image; one whose snapshots still have clones goes to the trash until they go."""
        self.images.pop((pool, image), None)
        if self.options is None:
            return
        info = self.rbd("info", "--format", "json", f"{pool}/{image}", tolerate=(ENOENT,))
        if not info:
            return  # removed already: deleting is idempotent
        try:
            self.rbd("rm", "--no-progress", f"{pool}/{image}")
        except CsiError:
            self.rbd("trash", "mv", f"{pool}/{image}")
            self.trash.append((pool, json.loads(info)["id"]))
        self.empty_trash()

    def empty_trash(self) -> None:
        """Remove trashed images whose clones have gone since (what ceph-csi leaves to the mgr's trash tasks)."""
        for pool, image_id in list(self.trash):
            try:
                self.rbd("trash", "rm", "--no-progress", "--pool", pool, image_id, tolerate=(ENOENT,))
            except CsiError:
                continue
            self.trash.remove((pool, image_id))

    def set_metadata(self, pool: str, image: str, metadata: dict[str, str]) -> None:
        for key, value in metadata.items():
            self.rbd("image-meta", "set", f"{pool}/{image}", key, value)

    # --- the CSI controller service

    def create_volume(
        self,
        name: str,
        parameters: dict[str, str],
        size: int,
        snapshot_id: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> dict:
        """A new image csi-vol-<uuid> of at least `size` bytes (a clone of the snapshot's when given):
        {volume_id, capacity, context} as CreateVolume answers."""
        if name in self.requests:
            return self.requests[name]
        pool, features = parameters.get("pool", ""), parameters.get("imageFeatures", "")
        cluster_id = parameters.get("clusterID")
        if not cluster_id:
            raise CsiError("InvalidArgument", "missing or empty cluster ID to provision volume from")
        if cluster_id != self.cluster_id():  # the one cluster ceph-csi's config map knows
            raise CsiError(
                "InvalidArgument",
                f"failed to fetch monitor list using clusterID ({cluster_id}): "
                f'missing configuration for cluster ID "{cluster_id}"',
            )
        if not pool:
            raise CsiError("InvalidArgument", "missing or empty pool name to provision volume from")
        if not features:
            raise CsiError("InvalidArgument", "empty imageFeatures parameter")
        pool_id, object_uuid, capacity = self.pool_id(pool), self.reserve(name), round_size(size)
        image = f"csi-vol-{object_uuid}"
        if snapshot_id:
            source_pool, source = self.locate(snapshot_id, "csi-snap-")
            self.rbd(
                "clone",
                *CLONE,
                "--image-feature",
                features,
                f"{source_pool}/{source}@{source}",
                f"{pool}/{image}",
                tolerate=(EEXIST,),
            )
            if capacity > self.images.get((source_pool, source), 0):
                self.rbd("resize", "--no-progress", "--size", f"{capacity // MIB}M", f"{pool}/{image}")
            capacity = max(capacity, self.images.get((source_pool, source), 0))
        else:
            self.rbd(
                "create",
                "--size",
                f"{capacity // MIB}M",
                "--image-feature",
                features,
                f"{pool}/{image}",
                tolerate=(EEXIST,),
            )
        self.images[pool, image] = capacity
        self.set_metadata(pool, image, metadata or {})
        context = {k: v for k, v in parameters.items() if not k.startswith("csi.storage.k8s.io/")}
        context.update(pool=pool, journalPool=pool, imageName=image)
        answer = {
            "volume_id": compose_id(parameters["clusterID"], pool_id, object_uuid),
            "capacity": capacity,
            "context": context,
        }
        self.requests[name] = answer
        return answer

    def delete_volume(self, volume_id: str) -> None:
        pool, image = self.locate(volume_id, "csi-vol-")
        self.remove_image(pool, image)
        self.forget(volume_id)

    def expand_volume(self, volume_id: str, size: int) -> int:
        """Grow the image to at least `size` bytes; its capacity."""
        pool, image = self.locate(volume_id, "csi-vol-")
        capacity = round_size(size)
        if (pool, image) not in self.images:
            raise CsiError("NotFound", f"volume ID {volume_id} not found")
        if self.images[pool, image] < capacity:
            self.rbd("resize", "--no-progress", "--size", f"{capacity // MIB}M", f"{pool}/{image}")
            self.images[pool, image] = capacity
        return self.images[pool, image]

    def create_snapshot(self, name: str, volume_id: str, metadata: dict[str, str] | None = None) -> dict:
        """As ceph-csi snapshots: a temporary snapshot of the volume, cloned to csi-snap-<uuid>, which
        gets a snapshot of the same name; {snapshot_id, size, creation_time (ns)}."""
        if name in self.requests:
            return self.requests[name]
        pool, volume = self.locate(volume_id, "csi-vol-")
        if (pool, volume) not in self.images:
            raise CsiError("NotFound", f"source Volume ID {volume_id} not found")
        cluster_id, pool_id, _ = decompose_id(volume_id)
        object_uuid = self.reserve(name)
        snap = f"csi-snap-{object_uuid}"
        if not self.rbd("info", "--format", "json", f"{pool}/{snap}", tolerate=(ENOENT,)):
            self.rbd("snap", "create", "--no-progress", f"{pool}/{volume}@{snap}", tolerate=(EEXIST,))
            self.rbd("clone", *CLONE, "--image-feature", SNAPSHOT_FEATURES, f"{pool}/{volume}@{snap}", f"{pool}/{snap}")
        self.rbd("snap", "rm", "--no-progress", f"{pool}/{volume}@{snap}", tolerate=(ENOENT,))
        self.rbd("snap", "create", "--no-progress", f"{pool}/{snap}@{snap}", tolerate=(EEXIST,))
        self.images[pool, snap] = self.images[pool, volume]
        self.set_metadata(pool, snap, metadata or {})
        answer = {
            "snapshot_id": compose_id(cluster_id, pool_id, object_uuid),
            "size": self.images[pool, snap],
            "creation_time": time.time_ns(),
        }
        self.requests[name] = answer
        return answer

    def delete_snapshot(self, snapshot_id: str) -> None:
        pool, snap = self.locate(snapshot_id, "csi-snap-")
        self.rbd("snap", "rm", "--no-progress", f"{pool}/{snap}@{snap}", tolerate=(ENOENT,))
        self.remove_image(pool, snap)
        self.forget(snapshot_id)

    def reserve(self, name: str) -> str:
        """The uuid a request's image is named by, the same on every try (ceph-csi's journal reservation)."""
        return self.reserved.setdefault(name, str(uuid.uuid4()))

    def forget(self, object_id: str) -> None:
        for name, answer in list(self.requests.items()):
            if object_id in (answer.get("volume_id"), answer.get("snapshot_id")):
                del self.requests[name]
                self.reserved.pop(name, None)


@dataclass
class Outcome:
    value: object = None
    error: str | None = None


class Csi:
    """The driver behind a queue: call() hands it a request once and answers None until the outcome
    is there, then the outcome (once); `wake` is told the key to look at again when one is."""

    def __init__(self, options: CephOptions | None, wake: Callable[[tuple], None]) -> None:
        self.driver = RbdDriver(options)
        self.pool = options.pool if options else "rbd"  # the default StorageClass's pool
        self.wake = wake
        self.queue: queue.Queue = queue.Queue()
        self.lock = threading.Lock()
        self.pending: set[tuple] = set()
        self.outcomes: dict[tuple, Outcome] = {}
        self.thread: threading.Thread | None = None

    @property
    def real(self) -> bool:
        return self.driver.options is not None

    def busy(self, tag: tuple) -> bool:
        """Whether a call of this tag is running or its outcome waits to be taken."""
        with self.lock:
            return tag in self.pending or tag in self.outcomes

    def call(self, tag: tuple, key: tuple, method: str, *args) -> Outcome | None:
        with self.lock:
            if tag in self.outcomes:
                return self.outcomes.pop(tag)
            if tag in self.pending:
                return None
            self.pending.add(tag)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self.serve, name="sandbox-ceph-csi", daemon=True)
                self.thread.start()
        self.queue.put((tag, key, method, args))
        return None

    def serve(self) -> None:
        while True:
            tag, key, method, args = self.queue.get()
            if tag is None:
                return
            try:
                outcome = Outcome(getattr(self.driver, method)(*args))
            except CsiError as exc:
                outcome = Outcome(error=str(exc))
            except Exception as exc:  # a driver bug is the call's failure, not the thread's end
                outcome = Outcome(error=f"rpc error: code = Internal desc = {exc!r}")
            with self.lock:
                self.pending.discard(tag)
                self.outcomes[tag] = outcome
            self.wake(key)

    def stop(self) -> None:
        """End the worker once the calls queued so far are done (call() starts another)."""
        with self.lock:
            thread, self.thread = self.thread, None
        if thread is not None:
            self.queue.put((None, None, None, None))
            thread.join(30)
