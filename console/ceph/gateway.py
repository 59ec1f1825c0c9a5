"""The console's one gateway to Ceph: health, pools, RBD images, snapshots, clones, content
checksums, and backup chains (full and incremental artefacts in the backup pool).

Why the rados/rbd Python bindings rather than the `rbd` CLI: every call is in-process with
librados' own timeouts (connect, monitor and OSD operations), Ceph's failures arrive as typed
exceptions with an errno instead of stderr text to parse, and streaming a backup needs no
pipes between processes. `rbd export-diff`/`import-diff` are reproduced with `diff_iterate`
plus reads and writes, in Ceph's own "rbd diff v1" format (diffstream.py), so an artefact
can still be restored with the stock CLI; the tests check that `rbd import-diff` accepts it.

    with Ceph() as ceph:                      # settings: CEPH_CONF, CEPH_KEYRING, CEPH_CLIENT
        ceph.create_image("vol-1", 1 << 30)
        ceph.create_snapshot("vol-1", "b1")
        ceph.backup("vol-1", "b1")                        # full
        ceph.create_snapshot("vol-1", "b2")
        ceph.backup("vol-1", "b2", since="b1")            # incremental
        ceph.restore(["rbd/vol-1@b1", "rbd/vol-1@b2"], "vol-1-restored")

A Ceph object is one connection: use it from one thread, and open one per Celery task (a
librados handle must not cross a fork). Errors are console.ceph.errors.CephError subclasses.
Every wait is bounded by CEPH_TIMEOUT (connect, each monitor command, each OSD operation); a
write that timed out costs up to twice that, as the gateway then asks the monitors whether
the pool is full (librados holds writes to a full pool instead of failing them).
"""

import errno
import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from console.ceph import artefacts, diffstream
from console.ceph.artefacts import Manifest
from console.ceph.config import CephConfig, from_settings
from console.ceph.errors import (
    BackupCorrupt,
    BackupExists,
    BackupIncomplete,
    BackupNotFound,
    CephConfigError,
    CephError,
    CephInvalid,
    CephNotConfigured,
    CephPermissionDenied,
    CephTimeout,
    CephUnreachable,
    ChainBroken,
    ImageBusy,
    ImageChanged,
    ImageExists,
    ImageHasSnapshots,
    ImageNotEmpty,
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
from console.quantity import format_bytes

try:
    import rados
    import rbd
except ImportError:  # the console runs without Ceph's bindings; connecting says how to get them
    rados = rbd = None

log = logging.getLogger(__name__)

Backup = Manifest  # what the backup calls return: the artefact's manifest

# Images and snapshots: what ceph-csi and people name them, nothing Ceph would read as syntax
# ("/" separates the pool, "@" the snapshot).
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
NAME_LIMIT = 128
# Backups: "pool/image@snapshot" by default.
BACKUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@/-]{0,254}$")
BACKUP_NAME_LIMIT = 255
PIECE = diffstream.PIECE
ZEROES = bytes(PIECE)
USER_SNAPSHOTS = 0  # rbd.RBD_SNAP_NAMESPACE_TYPE_USER: not trash, group or mirror snapshots

FEATURES = {
    1: "layering",
    2: "striping",
    4: "exclusive-lock",
    8: "object-map",
    16: "fast-diff",
    32: "deep-flatten",
    64: "journaling",
    128: "data-pool",
    256: "operations",
    512: "migrating",
    1024: "non-primary",
}
FAST_DIFF = 16


@dataclass(frozen=True)
class HealthCheck:
    code: str  # e.g. POOL_FULL, OSD_DOWN
    severity: str  # HEALTH_WARN or HEALTH_ERR
    summary: str
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class Health:
    status: str  # HEALTH_OK, HEALTH_WARN, HEALTH_ERR
    checks: tuple[HealthCheck, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "HEALTH_OK"


@dataclass(frozen=True)
class PoolUsage:
    name: str
    id: int
    stored_bytes: int  # data stored (before replication)
    used_bytes: int  # raw bytes used on the OSDs
    available_bytes: int  # what may still be stored (Ceph's MAX AVAIL)
    objects: int
    quota_bytes: int | None
    quota_objects: int | None
    full: bool  # writes to it are stopped (quota reached or OSDs full)


@dataclass(frozen=True)
class ImageInfo:
    pool: str
    name: str
    id: str
    size: int
    object_size: int
    features: tuple[str, ...]
    snapshots: int
    parent: str | None  # "pool/image@snapshot" of a clone that is not flattened
    watchers: int  # clients that have it open or mapped
    created: datetime | None


@dataclass(frozen=True)
class SnapshotInfo:
    id: int
    name: str
    size: int
    protected: bool
    created: datetime | None


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise InvalidName(name=str(name)[:80], limit=NAME_LIMIT)
    return name


def check_backup_name(name: str) -> str:
    if not isinstance(name, str) or not BACKUP_NAME.match(name) or ".." in name:
        raise InvalidName(name=str(name)[:80], limit=BACKUP_NAME_LIMIT)
    return name


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _merged(extents: list[tuple[int, int, bool]]) -> list[tuple[int, int]]:
    """The (start, end) ranges holding data, sorted and merged."""
    ranges: list[tuple[int, int]] = []
    for offset, length, has_data in sorted(extents):
        if not has_data or not length:
            continue
        if ranges and offset <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], offset + length))
        else:
            ranges.append((offset, offset + length))
    return ranges


class Ceph:
    """A connection to the cluster as the console's client (a context manager: connects on
    enter, disconnects on exit). `pool` arguments default to the configured image pool."""

    def __init__(self, config: CephConfig | None = None) -> None:
        self.config = config or from_settings()
        self._cluster: Any = None
        self._ioctxs: dict[tuple[str, str], Any] = {}

    # --- connection ------------------------------------------------------------------------

    def __enter__(self) -> "Ceph":
        self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def connect(self) -> None:
        if self._cluster is not None:
            return
        if rados is None or rbd is None:
            raise CephConfigError(
                detail="the rados and rbd Python modules are missing (apt-get install python3-rados "
                "python3-rbd, then scripts/ceph-dev.sh bindings .venv)"
            )
        config = self.config
        for setting, path in (("CEPH_CONF", config.conf), ("CEPH_KEYRING", config.keyring)):
            if not os.path.isfile(path) or not os.access(path, os.R_OK):
                raise CephConfigError(detail=f"{setting}: {path} is not a readable file")
        try:
            cluster = rados.Rados(conffile=config.conf, name=config.client, conf=config.rados_options())
        except rados.Error as exc:
            raise CephConfigError(detail=f"CEPH_CONF {config.conf}: {exc}") from None
        try:
            cluster.connect(timeout=config.timeout)
        except rados.Error as exc:
            cluster.shutdown()
            raise self._connect_error(exc) from None
        self._cluster = cluster

    def _connect_error(self, exc: Exception) -> CephError:
        log.info("Ceph connect failed (%s as %s): %s", self.config.conf, self.config.client, exc)
        if isinstance(exc, (rados.PermissionError, rados.PermissionDeniedError)):
            return CephPermissionDenied(client=self.config.client, detail="cephx refused the key in CEPH_KEYRING")
        if isinstance(exc, (rados.ObjectNotFound, rados.InvalidArgumentError)):
            return CephConfigError(detail=f"{exc} (check CEPH_KEYRING and CEPH_CLIENT)")
        return CephUnreachable(seconds=self.config.timeout, detail=exc)

    def close(self) -> None:
        for ioctx in self._ioctxs.values():
            ioctx.close()
        self._ioctxs.clear()
        if self._cluster is not None:
            self._cluster.shutdown()
            self._cluster = None

    def _ioctx(self, pool: str, namespace: str = "") -> Any:
        key = (pool, namespace)
        if key not in self._ioctxs:
            self.connect()
            try:
                ioctx = self._cluster.open_ioctx(pool)
            except rados.ObjectNotFound:
                raise PoolNotFound(pool=pool) from None
            except rados.Error as exc:
                raise self._typed(exc, pool) from None
            if namespace:
                ioctx.set_namespace(namespace)
            self._ioctxs[key] = ioctx
        return self._ioctxs[key]

    def _mon(self, prefix: str, **args: Any) -> Any:
        """A monitor command's JSON answer (read-only commands: the client has `profile rbd`)."""
        self.connect()
        command = json.dumps({"prefix": prefix, "format": "json", **args})
        try:
            code, out, status = self._cluster.mon_command(command, b"")
        except rados.Error as exc:
            raise self._typed(exc, "") from None
        if code == -errno.ETIMEDOUT:
            raise CephUnreachable(seconds=self.config.timeout, detail=status)
        if code in (-errno.EACCES, -errno.EPERM):
            raise CephPermissionDenied(client=self.config.client, detail=status or prefix)
        if code < 0:
            raise CephError(detail=status or f"{prefix}: error {code}")
        return json.loads(out) if out else None

    # --- Ceph's errors as typed ones -------------------------------------------------------

    @contextmanager
    def _translated(self, pool: str, *where: str | None, **meaning: Any) -> Iterator[None]:
        """Turn librados/librbd exceptions raised inside into CephErrors: `_typed`'s arguments
        but the exception (the image and snapshot; what EEXIST and EBUSY mean here; `writes`)."""
        try:
            yield
        except CephError:
            raise
        except Exception as exc:
            if not self._is_ceph(exc):
                raise
            raise self._typed(exc, pool, *where, **meaning) from exc

    @staticmethod
    def _is_ceph(exc: BaseException) -> bool:
        return isinstance(exc, (rados.Error, rbd.Error)) if rados is not None else False

    def _typed(
        self,
        exc: Exception,
        pool: str,
        image: str | None = None,
        snapshot: str | None = None,
        *,
        exists: Callable[[], CephError] | None = None,
        busy: Callable[[], CephError] | None = None,
        writes: bool = False,
    ) -> CephError:
        if isinstance(exc, (rados.TimedOut, rbd.Timeout)):
            # A full pool does not refuse writes: librados holds them until space comes back,
            # so a write that timed out asks whether that is why.
            if writes and pool and self._pool_full(pool):
                return PoolFull(pool=pool, detail=exc)
            return CephTimeout(seconds=self.config.timeout, detail=exc)
        if isinstance(exc, (rados.ConnectionShutdown, rbd.ConnectionShutdown)):
            return CephUnreachable(seconds=self.config.timeout, detail=exc)
        if isinstance(exc, (rados.PermissionError, rados.PermissionDeniedError, rbd.PermissionError)):
            return CephPermissionDenied(client=self.config.client, detail=exc)
        if isinstance(exc, (rados.NoSpace, rbd.NoSpace, rbd.DiskQuotaExceeded)):
            return PoolFull(pool=pool, detail=exc)
        if isinstance(exc, (rbd.ImageNotFound, rados.ObjectNotFound)):
            if image and snapshot and self._image_exists(pool, image):
                return SnapshotNotFound(image=image, snapshot=snapshot, detail=exc)
            if image:
                return ImageNotFound(image=image, pool=pool, detail=exc)
            return CephError(detail=exc)
        if isinstance(exc, (rbd.ImageExists, rados.ObjectExists)):
            return exists() if exists else ImageExists(image=image or "?", pool=pool, detail=exc)
        if isinstance(exc, (rbd.ImageBusy, rados.ObjectBusy)):
            return busy() if busy else ImageBusy(image=image or "?", detail=exc)
        if isinstance(exc, rbd.ImageHasSnapshots):
            return ImageHasSnapshots(image=image or "?", count=self._snapshot_count(pool, image), detail=exc)
        if isinstance(exc, (rbd.InvalidArgument, rados.InvalidArgumentError)):
            return CephInvalid(detail=exc)
        return CephError(detail=exc)

    def _image_exists(self, pool: str, image: str) -> bool:
        try:
            rbd.Image(self._ioctx(pool), image, read_only=True).close()
        except Exception:
            return False
        return True

    def _snapshot_count(self, pool: str, image: str | None) -> int:
        try:
            return len(self.snapshots(image or "", pool=pool))
        except CephError:
            return 0

    def _pool_full(self, pool: str) -> bool:
        try:
            pools = self._mon("osd pool ls", detail="detail")
        except CephError:
            return False
        for entry in pools or ():
            if entry.get("pool_name") == pool:
                flags = set(str(entry.get("flags_names", "")).split(","))
                return bool(flags & {"full", "full_quota"})
        return False

    def _refuse_if_full(self, pool: str) -> None:
        """Fail at once rather than after the timeout when a write would wait for space."""
        if self._pool_full(pool):
            raise PoolFull(pool=pool)

    @contextmanager
    def _image(
        self, pool: str, name: str, *, snapshot: str | None = None, read_only: bool = False, **translate: Any
    ) -> Iterator[Any]:
        """An open rbd.Image (read-only ones do not count as watchers)."""
        with self._translated(pool, name, snapshot, **translate):
            image = rbd.Image(self._ioctx(pool), name, snapshot=snapshot, read_only=read_only)
            try:
                yield image
            finally:
                image.close()

    # --- cluster ---------------------------------------------------------------------------

    def health(self) -> Health:
        data = self._mon("health", detail="detail") or {}
        checks = tuple(
            HealthCheck(
                code=code,
                severity=check.get("severity", ""),
                summary=(check.get("summary") or {}).get("message", ""),
                details=tuple(item.get("message", "") for item in check.get("detail") or ()),
            )
            for code, check in sorted((data.get("checks") or {}).items())
        )
        return Health(status=data.get("status", "HEALTH_UNKNOWN"), checks=checks)

    def fsid(self) -> str:
        self.connect()
        return self._cluster.get_fsid()

    def pools(self) -> list[PoolUsage]:
        """Every pool's usage. The pools are the OSD map's (`osd pool ls detail`, by name: ids are
        never assumed); the figures come from `df`, which lags a few seconds behind a new pool
        (zeroes until then)."""
        stats_of = {pool["name"]: pool.get("stats", {}) for pool in (self._mon("df") or {}).get("pools", ())}
        usage = []
        for detail in self._mon("osd pool ls", detail="detail") or ():
            stats = stats_of.get(detail["pool_name"], {})
            flags = set(str(detail.get("flags_names", "")).split(","))
            usage.append(
                PoolUsage(
                    name=detail["pool_name"],
                    id=int(detail["pool_id"]),
                    stored_bytes=int(stats.get("stored", stats.get("bytes_used", 0))),
                    used_bytes=int(stats.get("bytes_used", 0)),
                    available_bytes=int(stats.get("max_avail", 0)),
                    objects=int(stats.get("objects", 0)),
                    quota_bytes=int(detail.get("quota_max_bytes") or 0) or None,
                    quota_objects=int(detail.get("quota_max_objects") or 0) or None,
                    full=bool(flags & {"full", "full_quota"}),
                )
            )
        return usage

    def pool(self, name: str) -> PoolUsage:
        for usage in self.pools():
            if usage.name == name:
                return usage
        raise PoolNotFound(pool=name)

    # --- images ----------------------------------------------------------------------------

    def images(self, *, pool: str | None = None) -> list[str]:
        pool = pool or self.config.pool
        with self._translated(pool):
            return sorted(rbd.RBD().list(self._ioctx(pool)))

    def image(self, name: str, *, pool: str | None = None) -> ImageInfo:
        pool = pool or self.config.pool
        with self._image(pool, name, read_only=True) as image:
            try:
                spec = image.get_parent_image_spec()
                parent = f"{spec['pool_name']}/{spec['image_name']}@{spec['snap_name']}"
            except rbd.ImageNotFound:  # not a clone (or flattened)
                parent = None
            return ImageInfo(
                pool=pool,
                name=name,
                id=image.id(),
                size=image.size(),
                object_size=image.stat()["obj_size"],
                features=tuple(label for bit, label in FEATURES.items() if image.features() & bit),
                snapshots=sum(1 for snap in image.list_snaps() if snap.get("namespace", 0) == USER_SNAPSHOTS),
                parent=parent,
                watchers=len(list(image.watchers_list())),
                created=_utc(image.create_timestamp()),
            )

    def create_image(self, name: str, size: int, *, pool: str | None = None) -> ImageInfo:
        pool = pool or self.config.pool
        check_name(name)
        if size <= 0:
            raise CephInvalid(detail=f"an image of {size} bytes")
        self._refuse_if_full(pool)
        with self._translated(pool, name, exists=lambda: ImageExists(image=name, pool=pool), writes=True):
            rbd.RBD().create(self._ioctx(pool), name, size)
        return self.image(name, pool=pool)

    def resize_image(self, name: str, size: int, *, pool: str | None = None) -> ImageInfo:
        """Grow an image; shrinking is refused (it would cut the data beyond the new end)."""
        pool = pool or self.config.pool
        with self._image(pool, name, writes=True) as image:
            current = image.size()
            if size < current:
                raise ShrinkRefused(image=name, size=format_bytes(current), new_size=format_bytes(size))
            if size > current:
                image.resize(size)
        return self.image(name, pool=pool)

    def remove_image(self, name: str, *, pool: str | None = None, with_snapshots: bool = False) -> None:
        """Remove an image; ImageHasSnapshots unless `with_snapshots` (then its snapshots go
        first, unprotected), ImageBusy while a client has it open."""
        pool = pool or self.config.pool
        if with_snapshots:
            if self.image(name, pool=pool).watchers:  # refuse before the snapshots are gone, not after
                raise ImageBusy(image=name)
            self._remove_snapshots(pool, name)
        with self._translated(pool, name, writes=True):
            rbd.RBD().remove(self._ioctx(pool), name)

    def _remove_snapshots(self, pool: str, name: str) -> None:
        for snap in self.snapshots(name, pool=pool):
            if snap.protected:
                self.unprotect_snapshot(name, snap.name, pool=pool)
            self.remove_snapshot(name, snap.name, pool=pool)

    def used_bytes(self, name: str, *, pool: str | None = None, snapshot: str | None = None) -> int:
        """Bytes the image (at a snapshot) has allocated, like `rbd du` (whole objects when fast-diff
        keeps the count cheap); the parent's data of a clone is not counted."""
        pool = pool or self.config.pool
        total = 0

        def count(offset: int, length: int, has_data: bool) -> None:
            nonlocal total
            total += length if has_data else 0

        with self._image(pool, name, snapshot=snapshot, read_only=True) as image:
            whole_objects = bool(image.features() & FAST_DIFF)
            image.diff_iterate(0, image.size(), None, count, include_parent=False, whole_object=whole_objects)
        return total

    def write(self, name: str, offset: int, data: bytes, *, pool: str | None = None) -> None:
        """Write bytes into an image (tests and tools; volumes are written by their pods)."""
        pool = pool or self.config.pool
        with self._image(pool, name, writes=True) as image:
            for start in range(0, len(data), PIECE):
                image.write(data[start : start + PIECE], offset + start)

    def read(
        self, name: str, offset: int, length: int, *, pool: str | None = None, snapshot: str | None = None
    ) -> bytes:
        pool = pool or self.config.pool
        with self._image(pool, name, snapshot=snapshot, read_only=True) as image:
            return b"".join(
                image.read(start, min(PIECE, offset + length - start))
                for start in range(offset, offset + length, PIECE)
            )

    def checksum(self, name: str, *, pool: str | None = None, snapshot: str | None = None) -> str:
        """SHA-256 of the image's content (at a snapshot): every byte up to its size, the
        unallocated ones as zeroes, which are hashed without being read. Two images hold the
        same bytes exactly when their checksums are equal, however their data is allocated."""
        pool = pool or self.config.pool
        digest = hashlib.sha256()
        with self._image(pool, name, snapshot=snapshot, read_only=True) as image:
            size = image.size()
            position = 0
            for start, end in _merged(self._extents(image, size, None)):
                _hash_zeroes(digest, start - position)
                for offset in range(start, end, PIECE):
                    digest.update(image.read(offset, min(PIECE, end - offset)))
                position = end
            _hash_zeroes(digest, size - position)
        return digest.hexdigest()

    @staticmethod
    def _extents(image: Any, size: int, since: str | None) -> list[tuple[int, int, bool]]:
        extents: list[tuple[int, int, bool]] = []
        image.diff_iterate(0, size, since, lambda offset, length, has_data: extents.append((offset, length, has_data)))
        return extents

    # --- snapshots -------------------------------------------------------------------------

    def snapshots(self, image: str, *, pool: str | None = None) -> list[SnapshotInfo]:
        """The image's own snapshots, oldest first."""
        pool = pool or self.config.pool
        with self._image(pool, image, read_only=True) as img:
            return [
                SnapshotInfo(
                    id=snap["id"],
                    name=snap["name"],
                    size=snap["size"],
                    protected=img.is_protected_snap(snap["name"]),
                    created=_utc(img.get_snap_timestamp(snap["id"])),
                )
                for snap in sorted(img.list_snaps(), key=lambda snap: snap["id"])
                if snap.get("namespace", 0) == USER_SNAPSHOTS
            ]

    def snapshot(self, image: str, name: str, *, pool: str | None = None) -> SnapshotInfo:
        for snap in self.snapshots(image, pool=pool):
            if snap.name == name:
                return snap
        raise SnapshotNotFound(image=image, snapshot=name)

    def create_snapshot(self, image: str, name: str, *, pool: str | None = None) -> SnapshotInfo:
        pool = pool or self.config.pool
        check_name(name)
        clash = lambda: SnapshotExists(image=image, snapshot=name)  # noqa: E731
        with self._image(pool, image, exists=clash, writes=True) as img:
            img.create_snap(name)
        return self.snapshot(image, name, pool=pool)

    def protect_snapshot(self, image: str, name: str, *, pool: str | None = None) -> None:
        """Protect a snapshot (clones need it); protecting a protected one does nothing."""
        pool = pool or self.config.pool
        with self._image(pool, image, snapshot=None, writes=True) as img, self._translated(pool, image, name):
            if not img.is_protected_snap(name):
                img.protect_snap(name)

    def unprotect_snapshot(self, image: str, name: str, *, pool: str | None = None) -> None:
        pool = pool or self.config.pool
        in_use = lambda: SnapshotInUse(image=image, snapshot=name)  # noqa: E731
        with self._image(pool, image, writes=True) as img, self._translated(pool, image, name, busy=in_use):
            if img.is_protected_snap(name):
                img.unprotect_snap(name)

    def remove_snapshot(self, image: str, name: str, *, pool: str | None = None) -> None:
        pool = pool or self.config.pool
        protected = lambda: SnapshotProtected(image=image, snapshot=name)  # noqa: E731
        with self._image(pool, image, writes=True) as img, self._translated(pool, image, name, busy=protected):
            if img.is_protected_snap(name):
                raise protected()
            img.remove_snap(name)

    def rollback(self, image: str, name: str, *, pool: str | None = None) -> None:
        """Put the image's content back to the snapshot. Refused while a client has the image
        open: rolling back under a mounted filesystem would corrupt it."""
        pool = pool or self.config.pool
        self.snapshot(image, name, pool=pool)
        with self._image(pool, image, read_only=True) as img:
            if list(img.watchers_list()):
                raise ImageBusy(image=image)
        with self._image(pool, image, writes=True) as img, self._translated(pool, image, name, writes=True):
            img.rollback_to_snap(name)

    def clone(
        self,
        image: str,
        snapshot: str,
        new_image: str,
        *,
        pool: str | None = None,
        new_pool: str | None = None,
        flatten: bool = True,
    ) -> ImageInfo:
        """A new image with the snapshot's content (restore to a new volume). Flattened by
        default, so that it no longer depends on the snapshot; the snapshot is protected for
        the clone (format 1 clones need it) and unprotected again after flattening."""
        pool = pool or self.config.pool
        new_pool = new_pool or pool
        check_name(new_image)
        was_protected = self.snapshot(image, snapshot, pool=pool).protected
        self._refuse_if_full(new_pool)
        self.protect_snapshot(image, snapshot, pool=pool)
        created = False
        try:
            clash = lambda: ImageExists(image=new_image, pool=new_pool)  # noqa: E731
            with self._translated(new_pool, new_image, exists=clash, writes=True):
                rbd.RBD().clone(self._ioctx(pool), image, snapshot, self._ioctx(new_pool), new_image)
            created = True
            if flatten:
                with self._image(new_pool, new_image, writes=True) as child:
                    child.flatten()
        except BaseException:
            if created:
                self._remove_quietly(new_pool, new_image)
            raise
        finally:
            if not was_protected and (flatten or not created):
                try:
                    self.unprotect_snapshot(image, snapshot, pool=pool)
                except CephError as exc:  # another clone appeared meanwhile: it keeps the protection
                    log.info("snapshot %s@%s stays protected: %s", image, snapshot, exc)
        return self.image(new_image, pool=new_pool)

    def _remove_quietly(self, pool: str, name: str) -> None:
        """Clean up an image this gateway made for an operation that failed."""
        try:
            self.remove_image(name, pool=pool, with_snapshots=True)
        except CephError as exc:
            log.warning("could not remove the unfinished image %s/%s: %s", pool, name, exc)

    # --- backups ---------------------------------------------------------------------------

    def _backup_ioctx(self, namespace: str) -> Any:
        return self._ioctx(self.config.backup_pool, namespace)

    def backup(
        self, image: str, snapshot: str, *, since: str | None = None, name: str | None = None, pool: str | None = None
    ) -> Backup:
        """Store the image's content at `snapshot` in the backup pool: the whole image (full),
        or what changed since the older snapshot `since` (incremental), as an rbd diff v1
        stream in chunks with its SHA-256. The name defaults to "pool/image@snapshot".
        BackupExists if the name is taken; BackupIncomplete if an earlier attempt under that
        name stopped half-way (remove_backup clears it)."""
        pool = pool or self.config.pool
        name = check_backup_name(name or f"{pool}/{image}@{snapshot}")
        backup_pool = self.config.backup_pool
        snaps = {snap.name: snap for snap in self.snapshots(image, pool=pool)}
        for wanted in (snapshot, since):
            if wanted is not None and wanted not in snaps:
                raise SnapshotNotFound(image=image, snapshot=wanted)
        if since is not None and snaps[since].id >= snaps[snapshot].id:
            raise CephInvalid(detail=f"snapshot {since} is not older than {snapshot}")
        self._refuse_if_full(backup_pool)
        data, manifests = self._backup_ioctx(artefacts.DATA_NAMESPACE), self._backup_ioctx(artefacts.MANIFEST_NAMESPACE)
        with self._image(pool, image, snapshot=snapshot, read_only=True) as img:
            manifest = Manifest(
                name=name,
                pool=pool,
                image=image,
                snapshot=snapshot,
                since=since,
                image_size=img.size(),
                created=datetime.now(UTC).isoformat(timespec="seconds"),
            )
            self._claim(manifests, manifest)
            writer = artefacts.Writer(data, name)
            try:
                with self._translated(pool, image, since):
                    extents = self._extents(img, manifest.image_size, since)
                stream = diffstream.encode(
                    extents, img.read, size=manifest.image_size, to_snap=snapshot, from_snap=since
                )
                with self._translated(backup_pool, writes=True):
                    for piece in stream:
                        writer.write(piece)
                    writer.close()
                    manifest = manifest.completed(
                        size=writer.size,
                        chunks=writer.chunks,
                        sha256=writer.sha256,
                        data_bytes=sum(length for _, length, has_data in extents if has_data),
                    )
                    manifests.write_full(name, manifest.to_json())
            except BaseException:
                self._discard(writer, manifests, name)
                raise
        return manifest

    def _claim(self, manifests: Any, manifest: Manifest) -> None:
        try:
            with self._translated(self.config.backup_pool, writes=True):
                artefacts.claim(manifests, manifest)
        except CephError as exc:
            if not isinstance(exc.__cause__, rados.ObjectExists):
                raise
            existing = self.backup_info(manifest.name)
            raise (BackupExists if existing.complete else BackupIncomplete)(backup=manifest.name) from None

    def _discard(self, writer: artefacts.Writer, manifests: Any, name: str) -> None:
        try:
            writer.discard()
            artefacts.remove(manifests, name)
        except Exception as exc:  # the original failure matters more; remove_backup can finish this
            log.warning("could not clean up the failed backup %s: %s", name, exc)

    def backup_info(self, name: str) -> Backup:
        manifests = self._backup_ioctx(artefacts.MANIFEST_NAMESPACE)
        try:
            with self._translated(self.config.backup_pool):
                return artefacts.read_manifest(manifests, name)
        except CephError as exc:
            if isinstance(exc.__cause__, rados.ObjectNotFound):
                raise BackupNotFound(backup=name) from None
            raise
        except ValueError as exc:
            raise BackupCorrupt(backup=name, detail=f"unreadable manifest: {exc}") from None

    def backups(self, *, image: str | None = None, pool: str | None = None) -> list[Backup]:
        """The backups in the backup pool (of one image when given), oldest first; unfinished
        ones too (state "writing")."""
        manifests = self._backup_ioctx(artefacts.MANIFEST_NAMESPACE)
        with self._translated(self.config.backup_pool):
            found = list(artefacts.list_manifests(manifests))
        if image is not None:
            pool = pool or self.config.pool
            found = [backup for backup in found if backup.image == image and backup.pool == pool]
        return sorted(found, key=lambda backup: (backup.created, backup.name))

    def backup_names(self, prefix: str = "") -> list[str]:
        """The names of the backups (finished or not) that start with `prefix`, sorted; lists
        names only, without reading the manifests (cheap enough to run before each job)."""
        manifests = self._backup_ioctx(artefacts.MANIFEST_NAMESPACE)
        with self._translated(self.config.backup_pool):
            return sorted(obj.key for obj in manifests.list_objects() if obj.key.startswith(prefix))

    def remove_backup(self, name: str) -> None:
        """Remove a backup, finished or not (also from a full backup pool: that is how it gets space back)."""
        manifest = self.backup_info(name)
        with self._translated(self.config.backup_pool):
            artefacts.remove_chunks(self._backup_ioctx(artefacts.DATA_NAMESPACE), manifest)
            artefacts.remove(self._backup_ioctx(artefacts.MANIFEST_NAMESPACE), name)

    def backup_stream(self, name: str) -> Iterator[bytes]:
        """The artefact's bytes (an rbd diff v1 stream, for `rbd import-diff`); BackupCorrupt is
        raised after the last chunk when the SHA-256 differs."""
        manifest = self._complete(name)
        data = self._backup_ioctx(artefacts.DATA_NAMESPACE)
        try:
            with self._translated(self.config.backup_pool):
                yield from artefacts.read_chunks(data, manifest)
        except artefacts.CorruptArtefact as exc:
            raise BackupCorrupt(backup=name, detail=exc) from None

    def verify_backup(self, name: str) -> Backup:
        """Read the whole artefact and check its size and SHA-256; BackupCorrupt when they differ."""
        manifest = self._complete(name)
        for _ in self.backup_stream(name):
            pass
        return manifest

    def _complete(self, name: str) -> Backup:
        manifest = self.backup_info(name)
        if not manifest.complete:
            raise BackupIncomplete(backup=name)
        if manifest.format != artefacts.FORMAT:
            raise BackupCorrupt(backup=name, detail=f"unknown format {manifest.format}")
        return manifest

    def apply_backup(self, name: str, image: str, *, pool: str | None = None) -> SnapshotInfo:
        """Apply one backup to an image, like `rbd import` (a full backup, into an empty image)
        or `rbd import-diff` (an incremental one, onto an image whose last snapshot is the one it
        starts from, unchanged since). The artefact is verified first, so a damaged one changes
        nothing; the image ends with the backup's snapshot, ready for the next one. Should Ceph
        fail half-way, the image has no new snapshot: roll it back to its last one and apply again."""
        pool = pool or self.config.pool
        manifest = self.verify_backup(name)
        self._apply(manifest, pool, image)
        return self.snapshot(image, manifest.snapshot, pool=pool)

    def restore(self, chain: Sequence[str], new_image: str, *, pool: str | None = None) -> ImageInfo:
        """A new image from a backup chain: a full backup then incrementals, each continuing the
        one before. The chain is checked before anything is written; each artefact's SHA-256 is
        checked as it is applied, and on any failure the new image is removed."""
        pool = pool or self.config.pool
        check_name(new_image)
        manifests = [self._complete(name) for name in chain]
        if not manifests:
            raise CephInvalid(detail="an empty backup chain")
        previous = None
        for manifest in manifests:
            expected = previous.snapshot if previous else None
            if manifest.since != expected:
                raise ChainBroken(
                    backup=manifest.name, expected=manifest.since or "-", image=new_image, found=expected or "-"
                )
            previous = manifest
        self.create_image(new_image, manifests[0].image_size, pool=pool)
        try:
            for manifest in manifests:
                self._apply(manifest, pool, new_image)
        except BaseException:
            self._remove_quietly(pool, new_image)
            raise
        return self.image(new_image, pool=pool)

    def _apply(self, manifest: Manifest, pool: str, image: str) -> None:
        self._refuse_if_full(pool)
        data = self._backup_ioctx(artefacts.DATA_NAMESPACE)
        with self._image(pool, image, writes=True) as img:
            snaps = [
                snap["name"]
                for snap in sorted(img.list_snaps(), key=lambda snap: snap["id"])
                if snap.get("namespace", 0) == USER_SNAPSHOTS
            ]
            if manifest.snapshot in snaps:
                raise SnapshotExists(image=image, snapshot=manifest.snapshot)
            if manifest.since is None:
                if snaps or any(has_data for _, _, has_data in self._extents(img, img.size(), None)):
                    raise ImageNotEmpty(image=image)
            else:
                last = snaps[-1] if snaps else "-"
                if last != manifest.since:
                    raise ChainBroken(backup=manifest.name, expected=manifest.since, image=image, found=last)
                if self._changed_since(pool, image, img, manifest.since):
                    raise ImageChanged(image=image, snapshot=manifest.since, backup=manifest.name)
            try:
                with self._translated(pool, image, writes=True):
                    self._apply_records(img, manifest, artefacts.read_chunks(data, manifest))
                    img.create_snap(manifest.snapshot)
            except (artefacts.CorruptArtefact, diffstream.DiffFormatError) as exc:
                raise BackupCorrupt(backup=manifest.name, detail=exc) from None

    def _changed_since(self, pool: str, name: str, img: Any, since: str) -> bool:
        """Whether the image's bytes differ from the snapshot's. librbd reports extents rewritten
        since the snapshot even with the same bytes (a rollback rewrites them all), so those
        extents are compared."""
        size = img.size()
        with self._image(pool, name, snapshot=since, read_only=True) as old:
            if old.size() != size:
                return True
            for start, length, _ in self._extents(img, size, since):  # written or zeroed since
                for offset in range(start, start + length, PIECE):
                    n = min(PIECE, start + length - offset)
                    if img.read(offset, n) != old.read(offset, n):
                        return True
        return False

    @staticmethod
    def _apply_records(img: Any, manifest: Manifest, chunks: Iterator[bytes]) -> None:
        for record in diffstream.decode(chunks):
            if isinstance(record, diffstream.Write):
                img.write(record.data, record.offset)
            elif isinstance(record, diffstream.Zero):
                img.write_zeroes(record.offset, record.length)
            elif isinstance(record, diffstream.Size):
                if img.size() != record.size:
                    img.resize(record.size)
            elif isinstance(record, diffstream.FromSnap) and record.name != manifest.since:
                raise diffstream.DiffFormatError(f"the stream starts from {record.name}, not {manifest.since}")
            elif isinstance(record, diffstream.ToSnap) and record.name != manifest.snapshot:
                raise diffstream.DiffFormatError(f"the stream ends at {record.name}, not {manifest.snapshot}")


def _hash_zeroes(digest: Any, count: int) -> None:
    while count > 0:
        n = min(count, len(ZEROES))
        digest.update(memoryview(ZEROES)[:n])
        count -= n


@dataclass(frozen=True)
class CephStatus:
    """What a status page shows: whether Ceph is configured, its health, or why it is not
    usable (the error's text says what to do, e.g. which settings enable it)."""

    configured: bool
    health: Health | None = None
    problem: CephError | None = None


def status(config: CephConfig | None = None) -> CephStatus:
    try:
        config = config or from_settings()
    except CephNotConfigured as exc:
        return CephStatus(configured=False, problem=exc)
    try:
        with Ceph(config) as ceph:
            return CephStatus(configured=True, health=ceph.health())
    except CephError as exc:
        return CephStatus(configured=True, problem=exc)
