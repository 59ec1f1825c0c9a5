"""Ceph's rbd diff v1 stream, without Ceph: what is encoded decodes to the same records, and
damaged streams are refused with DiffFormatError."""

import struct

import pytest

from console.ceph import diffstream
from console.ceph.diffstream import DiffFormatError, FromSnap, Size, ToSnap, Write, Zero

pytestmark = pytest.mark.usefixtures("english")  # the tests read the gateway's English messages


def stream(**kwargs):
    image = bytes(range(256)) * 64  # 16 KiB
    extents = kwargs.pop("extents", [(0, 100, True), (4096, 10, False), (8000, 300, True)])
    return b"".join(
        diffstream.encode(extents, lambda offset, n: image[offset : offset + n], size=len(image), **kwargs)
    ), image


def test_round_trip():
    raw, image = stream(to_snap="b", from_snap="a")
    assert raw.startswith(b"rbd diff v1\nf\x01\x00\x00\x00at\x01\x00\x00\x00bs") and raw.endswith(b"e")
    records = list(diffstream.decode([raw[i : i + 7] for i in range(0, len(raw), 7)]))  # any cut of the bytes
    assert records == [
        FromSnap("a"),
        ToSnap("b"),
        Size(len(image)),
        Write(0, image[:100]),
        Zero(4096, 10),
        Write(8000, image[8000:8300]),
    ]


def test_a_full_stream_has_no_from_record():
    raw, _ = stream(to_snap="b")
    assert not any(isinstance(record, FromSnap) for record in diffstream.decode([raw]))


def test_long_extents_come_in_bounded_pieces(monkeypatch):
    monkeypatch.setattr(diffstream, "PIECE", 4096)
    raw, image = stream(to_snap="b", extents=[(0, 10000, True)])
    writes = [record for record in diffstream.decode([raw]) if isinstance(record, Write)]
    assert [len(write.data) for write in writes] == [4096, 4096, 1808]
    assert b"".join(write.data for write in writes) == image[:10000]


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda raw: raw[:-1], "ends too early"),
        (lambda raw: raw[:40], "ends too early"),
        (lambda raw: b"rbd diff v2\n" + raw[12:], "not an rbd diff v1 stream"),
        (lambda raw: raw + b"x", "data after the end record"),
        (lambda raw: raw.replace(b"s" + struct.pack("<Q", 16384), b"s" + struct.pack("<Q", 100)), "outside the image"),
        (lambda raw: raw[:12] + b"q" + raw[13:], "unknown record"),
    ],
)
def test_damaged_streams_are_refused(damage, message):
    raw, _ = stream(to_snap="b")
    with pytest.raises(DiffFormatError, match=message):
        list(diffstream.decode([damage(raw)]))
