"""Websocket streams to the API server (pods/exec), dialled like every other connection."""

import json
from collections.abc import Iterable

import urllib3
import websocket  # websocket-client: the kubernetes client's own dependency for streams
from kubernetes import client

from console.kube.connection import INTERACTIVE_TIMEOUT, Query
from console.kube.errors import transport_error


class StreamRefused(Exception):
    """The API server answered a websocket upgrade with an HTTP error (403, 404, 400, ...)."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(status)
        self.status, self.body = status, body


def open_websocket(
    api: client.ApiClient,
    path: str,
    query: Query,
    protocols: Iterable[str],
    headers: Iterable[tuple[str, str]] = (),
    timeout: float = INTERACTIVE_TIMEOUT[1],
) -> websocket.WebSocket:
    """A websocket to the API server, dialled like every other connection of this client: the
    checked address, the kubeconfig's CA, client certificate and token, no proxy. Returns a
    connected websocket-client WebSocket (blocking, no read timeout); raises StreamRefused
    when the upgrade is answered with an error, ClusterError when the server is not reached."""
    _method, url, auth_headers, _body, _post = api.param_serialize(
        "GET", path, query_params=query, auth_settings=["BearerToken"]
    )
    # urllib3's pool for the server holds the TLS settings; its connection class checks the address
    pool = api.rest_client.pool_manager.connection_from_url(url)
    connection = pool._new_conn()
    try:
        connection.connect()  # an address the operator does not allow raises ClusterError here
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        connection.close()
        raise transport_error(exc) from None
    lines = [f"{name}: {value}" for name, value in auth_headers.items() if name.lower() == "authorization"]
    lines += [f"{name}: {value}" for name, value in headers]
    ws = websocket.WebSocket(skip_utf8_validation=True)
    ws_url = "wss" + url[len("https") :] if url.startswith("https") else "ws" + url[len("http") :]
    try:
        ws.connect(
            ws_url,
            socket=connection.sock,
            header=lines,
            subprotocols=list(protocols),
            suppress_origin=True,
            timeout=timeout,
        )
    except websocket.WebSocketBadStatusException as exc:
        connection.close()
        raise StreamRefused(exc.status_code, exc.resp_body or b"") from None
    except (websocket.WebSocketException, OSError) as exc:
        connection.close()
        raise transport_error(exc) from None
    ws.settimeout(None)
    return ws


class ExecStream:
    """A process started by pods/exec. The websocket carries one channel byte and data per
    message: 0 stdin, 1 stdout, 2 stderr, 3 the final Status, 4 the terminal size; v5 adds
    255 <channel> to close a stream. Not thread-safe: one thread reads and writes (select on
    `socket`, then read())."""

    PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
    STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255

    def __init__(self, ws: websocket.WebSocket) -> None:
        self.ws = ws
        self.protocol = ws.getsubprotocol() or ""
        self.status: dict | None = None  # the final Status, once read

    @property
    def socket(self):
        return self.ws.sock

    def buffered(self) -> bool:
        """Decrypted bytes already waiting (select() does not see them)."""
        pending = getattr(self.ws.sock, "pending", None)
        return bool(pending and pending())

    def write(self, data: bytes) -> None:
        self.ws.send_binary(bytes([self.STDIN]) + data)

    def resize(self, cols: int, rows: int) -> None:
        self.ws.send_binary(bytes([self.RESIZE]) + json.dumps({"Width": cols, "Height": rows}).encode())

    def close_stdin(self) -> None:
        if self.protocol.startswith("v5"):
            self.ws.send_binary(bytes([self.CLOSE, self.STDIN]))

    def read(self) -> tuple[str | None, bytes | dict | None]:
        """The next message: ("stdout" | "stderr", bytes), ("status", dict), ("closed", None), or
        (None, None) for one that carries nothing (a ping, an empty message)."""
        try:
            opcode, data = self.ws.recv_data(control_frame=True)
        except (websocket.WebSocketConnectionClosedException, OSError):
            return "closed", None
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return "closed", None
        if opcode not in (websocket.ABNF.OPCODE_BINARY, websocket.ABNF.OPCODE_TEXT) or not data:
            return None, None
        channel, payload = data[0], bytes(data[1:])
        if channel == self.ERROR:
            try:
                self.status = json.loads(payload)
            except ValueError:
                self.status = {"status": "Failure", "message": payload.decode(errors="replace")}
            return "status", self.status
        if channel in (self.STDOUT, self.STDERR):
            return ("stdout" if channel == self.STDOUT else "stderr"), payload
        return None, None

    def exit_code(self) -> int | None:
        """The process's exit code from its Status (None when it did not exit: the exec failed)."""
        status = self.status or {}
        if status.get("status") == "Success":
            return 0
        if status.get("reason") == "NonZeroExitCode":
            for cause in (status.get("details") or {}).get("causes") or []:
                if cause.get("reason") == "ExitCode" and str(cause.get("message", "")).isdigit():
                    return int(cause["message"])
        return None

    def close(self) -> None:
        try:
            self.ws.close(timeout=1)
        except (websocket.WebSocketException, OSError):
            pass
        finally:
            self.ws.shutdown()
