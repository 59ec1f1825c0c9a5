"""Ceph's "rbd diff v1" stream: what `rbd export-diff` writes and `rbd import-diff` reads.

Backups are written in Ceph's own format so that an operator can restore one with the stock
CLI (`rbd import-diff`) without the console. A full backup is the diff from the beginning of
time (no "from" record), like `rbd export-diff` without --from-snap.

    header   b"rbd diff v1\\n"
    f        from snapshot: u8 'f', le32 length, name   (incremental only)
    t        to snapshot:   u8 't', le32 length, name
    s        image size:    u8 's', le64
    w        data:          u8 'w', le64 offset, le64 length, data
    z        zeroes:        u8 'z', le64 offset, le64 length
    e        end:           u8 'e'

Pure Python, no Ceph: the gateway feeds it extents and reads, and applies the records.
"""

import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

HEADER = b"rbd diff v1\n"
# Data is read, written and held at most this much at a time (one RBD object by default).
PIECE = 4 << 20
MAX_NAME = 4096  # a snapshot name longer than this is not Ceph's


class DiffFormatError(ValueError):
    """The bytes are not a well-formed rbd diff v1 stream (truncated, or not one at all)."""


@dataclass(frozen=True)
class FromSnap:
    name: str


@dataclass(frozen=True)
class ToSnap:
    name: str


@dataclass(frozen=True)
class Size:
    size: int


@dataclass(frozen=True)
class Write:
    offset: int
    data: bytes


@dataclass(frozen=True)
class Zero:
    offset: int
    length: int


Record = FromSnap | ToSnap | Size | Write | Zero


def _name(tag: bytes, name: str) -> bytes:
    raw = name.encode()
    return tag + struct.pack("<I", len(raw)) + raw


def encode(
    extents: Iterable[tuple[int, int, bool]],
    read: Callable[[int, int], bytes],
    *,
    size: int,
    to_snap: str,
    from_snap: str | None = None,
) -> Iterator[bytes]:
    """The stream, in pieces: `extents` are (offset, length, has_data) as librbd's
    diff_iterate reports them; `read(offset, length)` reads the image at `to_snap`."""
    yield HEADER
    if from_snap is not None:
        yield _name(b"f", from_snap)
    yield _name(b"t", to_snap)
    yield b"s" + struct.pack("<Q", size)
    for offset, length, has_data in extents:
        if not has_data:
            yield b"z" + struct.pack("<QQ", offset, length)
            continue
        end = offset + length
        while offset < end:  # long extents as several records: memory stays bounded
            n = min(PIECE, end - offset)
            data = read(offset, n)
            if len(data) != n:
                raise DiffFormatError(f"short read at {offset}: {len(data)} of {n} bytes")
            yield b"w" + struct.pack("<QQ", offset, n) + data
            offset += n
    yield b"e"


class _Bytes:
    """Exact reads over an iterator of byte pieces (the artefact's chunks)."""

    def __init__(self, pieces: Iterable[bytes]) -> None:
        self.pieces = iter(pieces)
        self.buffer = bytearray()

    def read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            piece = next(self.pieces, None)
            if piece is None:
                raise DiffFormatError("the stream ends too early")
            self.buffer += piece
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data

    def at_end(self) -> bool:
        while not self.buffer:
            piece = next(self.pieces, None)
            if piece is None:
                return True
            self.buffer += piece
        return False


def decode(pieces: Iterable[bytes]) -> Iterator[Record]:
    """The records of a stream, checked as they come: data in pieces of at most PIECE bytes,
    offsets within the size announced, nothing after the end record."""
    stream = _Bytes(pieces)
    if stream.read(len(HEADER)) != HEADER:
        raise DiffFormatError("not an rbd diff v1 stream")
    size = None
    while True:
        tag = stream.read(1)
        if tag in (b"f", b"t"):
            (length,) = struct.unpack("<I", stream.read(4))
            if length > MAX_NAME:
                raise DiffFormatError(f"a snapshot name of {length} bytes")
            name = stream.read(length).decode(errors="replace")
            yield FromSnap(name) if tag == b"f" else ToSnap(name)
        elif tag == b"s":
            (size,) = struct.unpack("<Q", stream.read(8))
            yield Size(size)
        elif tag in (b"w", b"z"):
            offset, length = struct.unpack("<QQ", stream.read(16))
            if size is None or offset + length > size:
                raise DiffFormatError(f"an extent {offset}+{length} outside the image ({size} bytes)")
            if tag == b"z":
                yield Zero(offset, length)
                continue
            end = offset + length
            while offset < end:
                n = min(PIECE, end - offset)
                yield Write(offset, stream.read(n))
                offset += n
        elif tag == b"e":
            if not stream.at_end():
                raise DiffFormatError("data after the end record")
            return
        else:
            raise DiffFormatError(f"unknown record {tag!r}")
