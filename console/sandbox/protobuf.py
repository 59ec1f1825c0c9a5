"""The Kubernetes protobuf wire format ("application/vnd.kubernetes.protobuf"), both ways, for every
built-in kind with a schema in proto_schema.py: kubectl's typed commands (create, run, autoscale,
expose, rollout...) and client-go send request bodies in it and ask for it first in Accept.

A body is the magic b"k8s\\x00" and a runtime.Unknown {typeMeta{apiVersion, kind}, raw,
contentEncoding, contentType}; raw is the object. Decoding gives the JSON-style dict the rest of
the sandbox works on, as a real API server's Go types would hold it: fields this schema does not
know are dropped (Go's generated Unmarshal skips unknown field numbers, and the API server does not
offer strict decoding for protobuf), zero values of non-pointer fields disappear as Go's JSON
encoder's omitempty would make them. Encoding refuses (Unencodable) anything it cannot represent
exactly, so a response falls back to JSON rather than lose a field."""

import base64
import json
from datetime import UTC, datetime

from .proto_schema import KINDS, MESSAGES, Field

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
UNKNOWN = {
    1: Field("typeMeta", 1, "TypeMeta"),
    2: Field("raw", 2, "y"),
    3: Field("contentEncoding", 3, "s"),
    4: Field("contentType", 4, "s"),
}
TYPE_META = {1: Field("apiVersion", 1, "s"), 2: Field("kind", 2, "s")}  # runtime.TypeMeta (not meta/v1's)
VARINT, FIXED64, BYTES, FIXED32 = 0, 1, 2, 5
WIRE_TYPES = {"s": BYTES, "y": BYTES, "b": VARINT, "i": VARINT}  # everything else is a message


class Undecodable(ValueError):
    pass


class Unencodable(ValueError):
    pass


def message_for(api_version, kind):
    """The schema name for a kind (lists included), or None."""
    name = KINDS.get((api_version, kind))
    if name is None and kind and kind.endswith("List"):
        item = KINDS.get((api_version, kind[:-4]))
        name = item and item + "List"
    if name is None and kind == "DeleteOptions":  # sent under whichever group version the client talks to
        name = "DeleteOptions"
    return name


# --- decoding


def _varint(data, pos):
    value = shift = 0
    while True:
        if pos >= len(data):
            raise Undecodable("unexpected EOF")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise Undecodable("integer overflow")


def _fields(data):
    """(number, wire type, value) triples: ints for varints, bytes for the rest."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise Undecodable("illegal tag 0")
        if wire == VARINT:
            value, pos = _varint(data, pos)
        elif wire == BYTES:
            size, pos = _varint(data, pos)
            if pos + size > len(data):
                raise Undecodable("unexpected EOF")
            value, pos = bytes(data[pos : pos + size]), pos + size
        elif wire in (FIXED64, FIXED32):
            size = 8 if wire == FIXED64 else 4
            if pos + size > len(data):
                raise Undecodable("unexpected EOF")
            value, pos = bytes(data[pos : pos + size]), pos + size
        else:
            raise Undecodable(f"proto: illegal wireType {wire}")
        yield number, wire, value


def _signed(value):
    return value - (1 << 64) if value >= 1 << 63 else value


def _timestamp(data, micro):
    parts = {number: value for number, wire, value in _fields(data) if wire == VARINT}
    try:
        moment = datetime.fromtimestamp(_signed(parts.get(1, 0)), UTC)
    except (OverflowError, OSError, ValueError):
        raise Undecodable("timestamp out of range") from None
    if micro:  # MicroTime keeps microseconds; Time is seconds only, on the wire and in JSON
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{_signed(parts.get(2, 0)) // 1000:06d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _scalar(kind, wire, value, field):
    """One decoded value of a scalar or message type."""
    expected = WIRE_TYPES.get(kind, BYTES)
    if wire != expected:
        raise Undecodable(f"proto: wrong wireType = {wire} for field {field}")
    if kind == "s":
        return value.decode("utf-8", "replace")
    if kind == "b":
        return bool(value)
    if kind == "i":
        return _signed(value)
    if kind == "y":
        return base64.b64encode(value).decode()
    if kind in ("time", "mtime"):
        return _timestamp(value, kind == "mtime") if value else None  # empty: Go's zero Time, null in JSON
    if kind in ("q", "raw", "fields"):
        inner = {number: v for number, w, v in _fields(value) if w == BYTES}.get(1, b"")
        if kind == "q":
            return inner.decode() or "0"
        try:
            return json.loads(inner) if inner else None
        except ValueError:
            raise Undecodable(f"field {field} does not hold JSON") from None
    if kind == "ios":
        parts = {number: v for number, w, v in _fields(value)}
        return parts.get(3, b"").decode() if parts.get(1) == 1 else _signed(parts.get(2, 0))
    return decode_message(value, kind)


def decode_message(data, name):
    """The JSON-style dict for message `name`."""
    schema, out = MESSAGES[name], {}
    for number, wire, value in _fields(data):
        field = schema.get(number)
        if field is None:
            continue  # a field this version does not know: dropped, as Go's generated Unmarshal does
        if field.map:
            if wire != BYTES:
                raise Undecodable(f"proto: wrong wireType = {wire} for field {field.name}")
            entry = {n: (w, v) for n, w, v in _fields(value)}
            key = entry.get(1, (BYTES, b""))[1].decode("utf-8", "replace")
            item = (
                _scalar(field.type, *entry[2], field.name)
                if 2 in entry
                else _scalar(field.type, BYTES, b"", field.name)
            )
            out.setdefault(field.name, {})[key] = item
        elif field.repeated:
            items = out.setdefault(field.name, [])
            if wire == BYTES and field.type in ("i", "b"):  # packed
                pos = 0
                while pos < len(value):
                    item, pos = _varint(value, pos)
                    items.append(_scalar(field.type, VARINT, item, field.name))
            else:
                items.append(_scalar(field.type, wire, value, field.name))
        elif field.inline:
            if wire != BYTES:
                raise Undecodable(f"proto: wrong wireType = {wire} for field {field.name}")
            out.update(decode_message(value, field.type))
        else:
            item = _scalar(field.type, wire, value, field.name)
            if item is None or (item in ("", 0) and not field.keep_zero and field.type in ("s", "b", "i", "y", "ios")):
                out.pop(field.name, None)  # omitempty: Go's JSON would not show it
            else:
                out[field.name] = item
    return out


def decode(body):
    """The object in a protobuf request body as a JSON-style dict, or None for kinds without a
    schema (custom resources: a real API server takes those as JSON, YAML or CBOR only)."""
    if not body.startswith(MAGIC):
        raise Undecodable("provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]")
    envelope = {}
    for number, wire, value in _fields(body[len(MAGIC) :]):
        if number in (1, 2) and wire == BYTES:
            envelope[number] = value
    type_meta = {}
    for number, wire, value in _fields(envelope.get(1, b"")):
        if number in TYPE_META and wire == BYTES:
            type_meta[TYPE_META[number].name] = value.decode("utf-8", "replace")
    api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
    name = message_for(api_version, kind)
    if name is None:
        return None
    return {"apiVersion": api_version, "kind": kind, **decode_message(envelope.get(2, b""), name)}


# --- encoding


def _put_varint(out, value):
    value &= (1 << 64) - 1  # negative numbers go out as ten-byte two's complement, as Go writes them
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _put_bytes(out, number, data):
    _put_varint(out, number << 3 | BYTES)
    _put_varint(out, len(data))
    out += data


def _put_int(out, number, value):
    _put_varint(out, number << 3 | VARINT)
    _put_varint(out, value)


def _seconds(text, field):
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        raise Unencodable(f"{field}: not an RFC 3339 time: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    whole = moment.replace(microsecond=0)
    return int(whole.timestamp()), moment.microsecond


def _value(kind, value, field):
    """(wire type, payload) for one value: an int for varints, bytes otherwise."""
    if kind == "s":
        if not isinstance(value, str):
            raise Unencodable(f"{field}: not a string")
        return BYTES, value.encode()
    if kind == "b":
        if not isinstance(value, bool):
            raise Unencodable(f"{field}: not a boolean")
        return VARINT, int(value)
    if kind == "i":
        if isinstance(value, bool) or not isinstance(value, int):
            raise Unencodable(f"{field}: not an integer")
        return VARINT, value
    if kind == "y":
        try:
            return BYTES, base64.b64decode(value, validate=True)
        except (TypeError, ValueError):
            raise Unencodable(f"{field}: not base64") from None
    out = bytearray()
    if kind in ("time", "mtime"):
        seconds, micros = _seconds(value, field)
        _put_int(out, 1, seconds)
        _put_int(out, 2, micros * 1000 if kind == "mtime" else 0)  # Go's Time writes whole seconds
    elif kind == "q":
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise Unencodable(f"{field}: not a quantity")
        _put_bytes(out, 1, str(value).encode())
    elif kind == "ios":
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise Unencodable(f"{field}: not an int or string")
        _put_int(out, 1, int(isinstance(value, str)))
        _put_int(out, 2, value if isinstance(value, int) else 0)
        _put_bytes(out, 3, value.encode() if isinstance(value, str) else b"")
    elif kind in ("raw", "fields"):
        _put_bytes(out, 1, json.dumps(value, separators=(",", ":")).encode())
    else:
        if not isinstance(value, dict):
            raise Unencodable(f"{field}: not an object")
        out = encode_message(value, kind)
    return BYTES, bytes(out)


def _put(out, number, kind, value, field):
    wire, payload = _value(kind, value, field)
    if wire == VARINT:
        _put_int(out, number, payload)
    else:
        _put_bytes(out, number, payload)


def _json_names(name):
    """The JSON keys a message takes, its inlined members' included."""
    names = set()
    for field in MESSAGES[name].values():
        names |= _json_names(field.type) if field.inline else {field.name}
    return names


def encode_message(obj, name):
    out, taken = bytearray(), set()
    for number, field in sorted(MESSAGES[name].items()):
        if field.inline:
            keys = _json_names(field.type)
            taken |= keys
            _put_bytes(out, number, encode_message({k: v for k, v in obj.items() if k in keys}, field.type))
            continue
        taken.add(field.name)
        value = obj.get(field.name)
        where = f"{name}.{field.name}"
        if value is None:
            continue
        if field.map:
            if not isinstance(value, dict):
                raise Unencodable(f"{where}: not a map")
            for key in sorted(value):
                entry = bytearray()
                _put_bytes(entry, 1, str(key).encode())
                if value[key] is not None:
                    _put(entry, 2, field.type, value[key], where)
                _put_bytes(out, number, bytes(entry))
        elif field.repeated:
            if not isinstance(value, list):
                raise Unencodable(f"{where}: not a list")
            for item in value:
                _put(out, number, field.type, item, where)
        else:
            _put(out, number, field.type, value, where)
    extra = set(obj) - taken - {"apiVersion", "kind"}  # TypeMeta travels in the envelope
    if extra:
        raise Unencodable(f"{name} has no field {sorted(extra)[0]}")
    return bytes(out)


def encode(obj):
    """A protobuf body for a JSON-style object; Unencodable if it has no schema or a field does not fit."""
    api_version, kind = obj.get("apiVersion") or "", obj.get("kind") or ""
    name = message_for(api_version, kind)
    if name is None or kind == "DeleteOptions":
        raise Unencodable(f"no protobuf schema for {api_version}/{kind}")
    type_meta = bytearray()
    _put_bytes(type_meta, 1, api_version.encode())
    _put_bytes(type_meta, 2, kind.encode())
    out = bytearray(MAGIC)
    _put_bytes(out, 1, bytes(type_meta))
    _put_bytes(out, 2, encode_message(obj, name))
    _put_bytes(out, 3, b"")  # contentEncoding and contentType, empty as the API server writes them
    _put_bytes(out, 4, b"")
    return bytes(out)


def wants_protobuf(accept):
    """Whether a client lists protobuf first (kubectl's typed clients and client-go do; a Table
    request stays JSON as on a real server)."""
    first = (accept or "").split(",")[0].split(";")
    return first[0].strip().lower() == CONTENT_TYPE and not any(p.strip().startswith("as=") for p in first[1:])


def negotiate(accept, response):
    """Re-encode a JSON response in protobuf when the client asked for it first and it fits."""
    body = getattr(response, "body", None)
    if response.stream is not None or not isinstance(body, dict) or not wants_protobuf(accept):
        return response
    try:
        response.data = encode(body)
    except Unencodable:
        return response  # no schema, or a field the schema lacks: JSON, which every client reads
    response.content_type = CONTENT_TYPE
    return response
