"""The server side of RFC 6455 websockets, as much as pods/exec needs: the opening handshake,
masked client frames, text and binary messages (fragmented too), ping/pong and close.

One thread does all the socket I/O (`WebSocket.serve`): an SSL socket must not be read and
written from two threads at once, so other threads hand their messages to an outbox and
wake the I/O thread through a pipe."""

import base64
import hashlib
import os
import select
import ssl
import struct
import threading
import time
from collections import deque

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
NORMAL, PROTOCOL_ERROR, TOO_BIG, GOING_AWAY = 1000, 1002, 1009, 1001
MAX_MESSAGE = 4 * 1024 * 1024  # kubectl sends stdin in 32 KiB pieces; anything near this is abuse
READ_TIMEOUT = 0.2  # a TLS record half arrived must not hold up the outbox for long


class HandshakeError(Exception):
    pass


def is_upgrade(headers):
    return "websocket" in (headers.get("Upgrade") or "").lower()


def accept_key(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def handshake(headers, supported):
    """The 101 response headers for a websocket upgrade request, with the first subprotocol
    of `supported` the client offered; HandshakeError says what is wrong."""
    if "upgrade" not in (headers.get("Connection") or "").lower() or not is_upgrade(headers):
        raise HandshakeError("not a websocket upgrade request")
    if (headers.get("Sec-WebSocket-Version") or "").strip() != "13":
        raise HandshakeError("websocket version 13 is required")
    key = (headers.get("Sec-WebSocket-Key") or "").strip()
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            raise ValueError
    except ValueError:
        raise HandshakeError("invalid Sec-WebSocket-Key") from None
    offered = [
        p.strip() for value in header_values(headers, "Sec-WebSocket-Protocol") for p in value.split(",") if p.strip()
    ]
    protocol = next((p for p in offered if p in supported), None)
    if protocol is None:
        raise HandshakeError(f"none of the offered subprotocols {offered} is supported; use one of {list(supported)}")
    return {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Accept": accept_key(key),
        "Sec-WebSocket-Protocol": protocol,
    }, protocol


def header_values(headers, name):
    get_all = getattr(headers, "get_all", None)
    return [v for v in (get_all(name) if get_all else [headers.get(name)]) or [] if v]


def frame(opcode, payload, fin=True):
    """A server frame (servers never mask)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    size = len(payload)
    if size < 126:
        head += bytes([size])
    elif size < 1 << 16:
        head += bytes([126]) + struct.pack("!H", size)
    else:
        head += bytes([127]) + struct.pack("!Q", size)
    return head + payload


def buffered_bytes(rfile):
    """What the HTTP reader already took off the socket past the request headers, without
    waiting for more (a client may send its first frames right after the handshake)."""
    sock = getattr(getattr(rfile, "raw", None), "_sock", None)
    if sock is None:
        return b""
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        return rfile.read1(65536) or b""
    except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
        return b""
    finally:
        sock.settimeout(timeout)


class ProtocolError(Exception):
    def __init__(self, code, reason):
        super().__init__(reason)
        self.code = code


class WebSocket:
    """An accepted websocket on `sock`. serve(on_message) runs the I/O until the connection
    closes; send() and close() may be called from any thread."""

    def __init__(self, sock, buffered=b"", max_message=MAX_MESSAGE):
        self.sock = sock
        self.buffer = bytearray(buffered)
        self.max_message = max_message
        self.outbox = deque()
        self.lock = threading.Lock()
        self.wake_read, self.wake_write = os.pipe()
        self.closed = threading.Event()  # no more messages either way
        self.close_sent = False
        self.fragments = None  # (opcode, [payloads]) of a message in pieces

    # --- any thread

    def send(self, data, binary=True):
        self._queue(frame(BINARY if binary else TEXT, bytes(data)))

    def close(self, code=NORMAL, reason=""):
        """Send a close frame after what is queued; the connection ends when the client answers
        (or after serve's grace period)."""
        with self.lock:
            if self.close_sent:
                return
            self.close_sent = True
            self.outbox.append(frame(CLOSE, struct.pack("!H", code) + reason.encode()[:120]))
        self._wake()

    def _queue(self, data):
        with self.lock:
            if self.close_sent or self.closed.is_set():
                return
            self.outbox.append(data)
        self._wake()

    def _wake(self):
        try:
            os.write(self.wake_write, b"x")
        except OSError:
            pass

    # --- the I/O thread

    def serve(self, on_message, close_grace=2.0):
        """Read frames and write the outbox until closed. on_message(opcode, payload) gets each
        text or binary message; it must not block."""
        sock = self.sock
        closing_since = None
        try:
            sock.settimeout(READ_TIMEOUT)
            self._parse(on_message)
            while not self.closed.is_set():
                self._flush()
                if self.close_sent:
                    closing_since = closing_since or time.monotonic()
                    if time.monotonic() - closing_since > close_grace:
                        break
                ready = _pending(sock) or sock in select.select([sock, self.wake_read], [], [], 1.0)[0]
                self._drain_wake()
                if not ready:
                    continue
                try:
                    data = sock.recv(65536)
                except (TimeoutError, ssl.SSLWantReadError):
                    continue
                if not data:
                    break
                self.buffer += data
                self._parse(on_message)
        except ProtocolError as exc:
            self.close(exc.code, str(exc))
            try:
                self._flush()
            except OSError:
                pass
        except OSError:
            pass  # the client went away
        finally:
            self.closed.set()
            for fd in (self.wake_read, self.wake_write):
                try:
                    os.close(fd)
                except OSError:
                    pass

    def _flush(self):
        while True:
            with self.lock:
                if not self.outbox:
                    return
                data = self.outbox.popleft()
            self.sock.settimeout(30)  # a whole frame, whatever the client's pace
            try:
                self.sock.sendall(data)
            finally:
                self.sock.settimeout(READ_TIMEOUT)

    def _drain_wake(self):
        while select.select([self.wake_read], [], [], 0)[0]:
            if not os.read(self.wake_read, 4096):
                return

    def _parse(self, on_message):
        while True:
            parsed = self._next_frame()
            if parsed is None:
                return
            fin, opcode, payload = parsed
            if opcode == PING:
                self._queue(frame(PONG, payload))
            elif opcode == PONG:
                pass
            elif opcode == CLOSE:
                if not self.close_sent:  # the client closes: answer with its code
                    self.close(struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else NORMAL)
                    self._flush()
                self.closed.set()
                return
            elif opcode == CONTINUATION:
                if self.fragments is None:
                    raise ProtocolError(PROTOCOL_ERROR, "continuation frame without a message")
                self.fragments[1].append(payload)
                if sum(len(p) for p in self.fragments[1]) > self.max_message:
                    raise ProtocolError(TOO_BIG, "message too big")
                if fin:
                    kind, parts = self.fragments
                    self.fragments = None
                    on_message(kind, b"".join(parts))
            elif opcode in (TEXT, BINARY):
                if self.fragments is not None:
                    raise ProtocolError(PROTOCOL_ERROR, "a new message before the last one ended")
                if fin:
                    on_message(opcode, payload)
                else:
                    self.fragments = (opcode, [payload])
            else:
                raise ProtocolError(PROTOCOL_ERROR, f"unknown opcode {opcode}")

    def _next_frame(self):
        """(fin, opcode, unmasked payload) of the next whole frame in the buffer, or None."""
        buf = self.buffer
        if len(buf) < 2:
            return None
        fin, opcode, masked, size = buf[0] & 0x80, buf[0] & 0x0F, buf[1] & 0x80, buf[1] & 0x7F
        if buf[0] & 0x70:
            raise ProtocolError(PROTOCOL_ERROR, "reserved bits set")
        if not masked:
            raise ProtocolError(PROTOCOL_ERROR, "client frames must be masked")
        at = 2
        if size == 126:
            if len(buf) < 4:
                return None
            size, at = struct.unpack("!H", buf[2:4])[0], 4
        elif size == 127:
            if len(buf) < 10:
                return None
            size, at = struct.unpack("!Q", buf[2:10])[0], 10
        if opcode >= CLOSE and (size > 125 or not fin):
            raise ProtocolError(PROTOCOL_ERROR, "bad control frame")
        if size > self.max_message:
            raise ProtocolError(TOO_BIG, "message too big")
        if len(buf) < at + 4 + size:
            return None
        mask = buf[at : at + 4]
        payload = bytes(buf[at + 4 : at + 4 + size])
        del buf[: at + 4 + size]
        if size:
            # XOR with the repeated mask, a whole message at a time (a byte loop is slow for 32 KiB)
            key = int.from_bytes((mask * (size // 4 + 1))[:size], "big")
            payload = (int.from_bytes(payload, "big") ^ key).to_bytes(size, "big")
        return bool(fin), opcode, payload


def _pending(sock):
    pending = getattr(sock, "pending", None)  # bytes OpenSSL decrypted but we have not read
    return bool(pending and pending())
