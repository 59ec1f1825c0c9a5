"""Backup artefacts stored in the backup pool as plain RADOS objects.

An artefact is one byte stream (an rbd diff v1 stream) cut into chunks of CHUNK bytes, each a
RADOS object `<name>.<index>` in the namespace DATA_NAMESPACE, and a manifest: a JSON object
named `<name>` in MANIFEST_NAMESPACE that says what the stream holds, its size, chunk count
and SHA-256. The manifest is created first, empty-stated ("writing"), so two writers cannot
share a name, and completed last, so a complete manifest means every chunk is there.

Why chunks and not one object: RADOS objects should stay small (the OSD's object size limit,
recovery granularity), and a chunk is read, written and held in memory one at a time.
These functions speak librados (an Ioctx) and raise its errors; the gateway translates them.
"""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from typing import Any

CHUNK = 4 << 20
DATA_NAMESPACE = "caas-backup-data"
MANIFEST_NAMESPACE = "caas-backup-manifests"
FORMAT = "rbd-diff-v1"
MAX_MANIFEST = 1 << 16
# librados flags not exported by the Python binding: LIBRADOS_OPERATION_FULL_TRY lets a
# removal through to a full pool, which is how a full backup pool gets space back.
OPERATION_FULL_TRY = 128
CREATE_EXCLUSIVE = 1


class CorruptArtefact(Exception):
    """A chunk is missing or has the wrong size, or the stream's SHA-256 differs from the manifest's."""


@dataclass(frozen=True)
class Manifest:
    """What a backup artefact holds. `since` is None for a full backup (the whole image at
    `snapshot`), else the snapshot the incremental backup starts from."""

    name: str
    pool: str
    image: str
    snapshot: str
    since: str | None
    image_size: int  # bytes of the image at `snapshot`
    size: int = 0  # bytes of the artefact (the diff stream)
    data_bytes: int = 0  # bytes of image data in it (the rest is record headers)
    chunks: int = 0
    chunk_size: int = CHUNK
    sha256: str = ""
    created: str = ""  # ISO 8601, UTC
    state: str = "writing"  # "complete" once every chunk is written
    format: str = FORMAT

    @property
    def kind(self) -> str:
        return "full" if self.since is None else "incremental"

    @property
    def complete(self) -> bool:
        return self.state == "complete"

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> "Manifest":
        data = json.loads(raw)
        fields = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**fields)

    def completed(self, **values: Any) -> "Manifest":
        return replace(self, state="complete", **values)


def chunk_name(name: str, index: int) -> str:
    return f"{name}.{index:08d}"


def claim(manifests: Any, manifest: Manifest) -> None:
    """Create the manifest in state "writing"; rados.ObjectExists when the name is taken."""
    import rados

    with rados.WriteOpCtx() as op:
        op.new(CREATE_EXCLUSIVE)
        op.write_full(manifest.to_json())
        manifests.operate_write_op(op, manifest.name)


def read_manifest(manifests: Any, name: str) -> Manifest:
    """The manifest; rados.ObjectNotFound when there is none."""
    return Manifest.from_json(manifests.read(name, MAX_MANIFEST))


def list_manifests(manifests: Any) -> Iterator[Manifest]:
    import rados

    for obj in manifests.list_objects():
        try:
            yield read_manifest(manifests, obj.key)
        except ValueError:  # not ours: skip it rather than fail the whole list
            continue
        except rados.ObjectNotFound:  # removed since it was listed (another client's clean-up)
            continue


def remove(ioctx: Any, key: str) -> bool:
    """Remove an object even from a full pool; False when it was not there."""
    import rados

    try:
        with rados.WriteOpCtx() as op:
            op.remove()
            ioctx.operate_write_op(op, key, flags=OPERATION_FULL_TRY)
    except rados.ObjectNotFound:
        return False
    return True


class Writer:
    """Cuts a stream into chunks as it comes, hashing it; `discard()` removes what was written."""

    def __init__(self, data: Any, name: str, chunk_size: int = CHUNK) -> None:
        self.data, self.name, self.chunk_size = data, name, chunk_size
        self.buffer = bytearray()
        self.hash = hashlib.sha256()
        self.size = 0
        self.chunks = 0

    def write(self, piece: bytes) -> None:
        self.hash.update(piece)
        self.size += len(piece)
        self.buffer += piece
        while len(self.buffer) >= self.chunk_size:
            self._flush(self.chunk_size)

    def close(self) -> None:
        while self.buffer:
            self._flush(min(len(self.buffer), self.chunk_size))

    def _flush(self, n: int) -> None:
        self.data.write_full(chunk_name(self.name, self.chunks), bytes(self.buffer[:n]))
        del self.buffer[:n]
        self.chunks += 1

    @property
    def sha256(self) -> str:
        return self.hash.hexdigest()

    def discard(self) -> None:
        for index in range(self.chunks + 1):  # + the one being written when it failed
            remove(self.data, chunk_name(self.name, index))


def read_chunks(data: Any, manifest: Manifest) -> Iterator[bytes]:
    """The artefact's stream, chunk by chunk. When the last chunk has been handed out, the
    size and SHA-256 are checked: CorruptArtefact if they differ (or a chunk is missing),
    so whoever applies a stream learns it was damaged before it acts on its end."""
    import rados

    digest = hashlib.sha256()
    size = 0
    for index in range(manifest.chunks):
        expected = min(manifest.chunk_size, manifest.size - index * manifest.chunk_size)
        try:
            chunk = data.read(chunk_name(manifest.name, index), manifest.chunk_size)
        except rados.ObjectNotFound:
            raise CorruptArtefact(f"chunk {index} of {manifest.chunks} is missing") from None
        if len(chunk) != expected:
            raise CorruptArtefact(f"chunk {index} has {len(chunk)} bytes, not {expected}")
        digest.update(chunk)
        size += len(chunk)
        yield chunk
    if size != manifest.size or digest.hexdigest() != manifest.sha256:
        raise CorruptArtefact(f"SHA-256 {digest.hexdigest()[:16]}… instead of {manifest.sha256[:16]}…")


def remove_chunks(data: Any, manifest: Manifest) -> None:
    """Every chunk of the artefact. An unfinished one's manifest does not count its chunks, and
    a clean-up that was cut off (Ceph stopped under it) may have removed only the first ones:
    its chunks are found by listing the namespace."""
    if not manifest.complete:
        prefix = manifest.name + "."
        for obj in data.list_objects():
            index = obj.key[len(prefix) :]
            if obj.key.startswith(prefix) and len(index) >= 8 and index.isdigit():
                remove(data, obj.key)
        return
    index = 0
    while True:
        found = remove(data, chunk_name(manifest.name, index))
        index += 1
        if index >= manifest.chunks and not found:
            return
