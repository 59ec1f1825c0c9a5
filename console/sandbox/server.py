"""The sandbox's HTTP face and its handle for Python: `SandboxCluster` serves the Kubernetes
REST API on loopback (HTTPS with a throwaway CA by default, or plain HTTP), checks bearer
tokens and impersonation, authorises with RBAC, keeps an audit log, injects faults, and
writes a kubeconfig that points clients at it."""

import base64
import json
import os
import random
import secrets
import shutil
import socket
import ssl
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml

from . import protobuf, tls, websocket
from .api import Api, Request
from .auth import AUTHENTICATED, MASTERS, AuditLog, PlainError, User, impersonate, request_attributes
from .errors import ApiError
from .knobs import Faults, Knobs
from .rbac import VIEWERS
from .responses import Response

PUBLIC_PATHS = ("/healthz", "/livez", "/readyz", "/version")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sandbox-apiserver"
    sys_version = ""

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        self.server.connections.add(self.connection)

    def finish(self):
        self.server.connections.discard(self.connection)
        try:
            super().finish()
        except (OSError, ssl.SSLError):
            pass

    def handle(self):
        try:
            super().handle()
        except (ssl.SSLError, ConnectionError, OSError):
            pass  # a client that hangs up mid-handshake or mid-stream

    # --- plumbing

    def read_raw_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raw = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(raw)
                raw += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send(self, response):
        if response.code == 101:  # pods/exec and attach: the socket is the websocket's from here on
            self.send_response(101)
            for key, value in response.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.close_connection = True
            response.upgrade(self.connection, websocket.buffered_bytes(self.rfile))
            return
        self.send_response(response.code)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Cache-Control", "no-cache, private")
        for key, value in response.headers.items():
            self.send_header(key, value)
        if response.stream is None:
            self.send_header("Content-Length", str(len(response.data)))
            self.end_headers()
            self.wfile.write(response.data)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        cluster = self.server.cluster
        limit = cluster.faults.watch_drop_seconds
        started = time.monotonic()
        try:
            for data in response.stream:
                if data:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()
                if limit and time.monotonic() - started > limit:
                    break
        finally:
            close = getattr(response.stream, "close", None)
            if close:
                close()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        self.close_connection = True

    def handle_any(self):
        cluster = self.server.cluster
        url = urlsplit(self.path)
        path = unquote(url.path)  # clients escape names: system%3Adiscovery
        body_read = []

        def read_body():
            if not body_read:
                body_read.append(self.read_raw_body())
            return body_read[0]

        user = attrs = None
        audit_id = str(uuid.uuid4())
        try:
            if cluster.stopping.is_set():
                raise ApiError(503, "ServiceUnavailable", "the server is shutting down")
            request = Request(self.command, path, url.query, self.headers, read_body)
            if not path.startswith(PUBLIC_PATHS):
                user = cluster.authenticate(self.headers)
                attrs = request_attributes(user, self.command, path, request.query)
                user = impersonate(user, self.headers, cluster.rbac.authorize, self.path)
                attrs.user = request.user = user
                request.attrs = attrs
                if path.startswith(("/api", "/openapi")):
                    cluster.inject_faults()
            response = cluster.api.handle(request)
        except ApiError as exc:
            response = Response(exc.code, exc.status())
        except PlainError as exc:
            response = Response(exc.code, text=exc.text + "\n")
        except Exception as exc:  # an API server answers 500 rather than hang up
            response = Response(500, ApiError(500, "InternalError", f"Internal error occurred: {exc!r}").status())
            cluster.last_error = exc
        response = protobuf.negotiate(self.headers.get("Accept"), response)
        response.headers["Audit-Id"] = audit_id
        if user is not None:
            cluster.audit.record(user, attrs, response.code, self.path, audit_id)
        if not body_read and self.command in ("POST", "PUT", "PATCH", "DELETE"):
            try:
                read_body()  # keep the connection in step
            except OSError:
                pass
        self.send(response)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, cluster):
        self.cluster = cluster
        self.connections = set()
        super().__init__(address, Handler)

    def get_request(self):
        sock, address = self.socket.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.cluster.ssl_context:
            sock = self.cluster.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request, client_address):
        pass


class SandboxCluster:
    """A simulated Kubernetes cluster: `start()`, `stop()`, `url`, `token`, `kubeconfig_path`,
    the `store` of objects, and knobs for tests and benchmarks (see knobs.py)."""

    def __init__(
        self,
        nodes=3,
        port=0,
        clock_speed=1.0,
        bookmark_seconds=5.0,
        event_window=50_000,
        use_tls=True,
        host="127.0.0.1",
        kubeconfig_path=None,
        delays=None,
        token=None,
        watch_timeout=1800.0,
        seed=True,
        max_events=5000,
        calico=False,
        audit_size=10_000,
        ceph=None,
    ):
        """ceph: a CephOptions whose Ceph holds the PVCs' RBD images; None: the SANDBOX_CEPH_* variables
        say (none set: images are simulated); False: simulated whatever they say."""
        from .admission import Admission
        from .ceph import CephOptions
        from .controllers import Controllers
        from .crds import Crds
        from .logs import Logs
        from .metrics import Metrics
        from .rbac import Rbac
        from .store import Store

        self.store = Store(event_window)
        self.host, self.port = host, port
        # bearer tokens: the admin (system:masters), a reader (group sandbox:viewers, bound to read
        # everything) and a service account nobody bound to anything; add_token() makes more
        self.token = token or secrets.token_urlsafe(24)
        self.read_only_token = secrets.token_urlsafe(24)
        self.no_access_token = secrets.token_urlsafe(24)
        self.users = {
            self.token: User("sandbox-admin", (MASTERS, AUTHENTICATED)),
            self.read_only_token: User("sandbox:viewer", (VIEWERS, AUTHENTICATED)),
            self.no_access_token: User(
                "system:serviceaccount:default:nobody",
                ("system:serviceaccounts", "system:serviceaccounts:default", AUTHENTICATED),
            ),
        }
        self.audit = AuditLog(audit_size)
        # kubectl and the client send bearer tokens over plain HTTP too, but a real cluster is HTTPS
        if use_tls:
            self.ca_pem, cert_pem, key_pem = tls.make_certificates()
            self.ssl_context = tls.server_context(cert_pem, key_pem)
        else:
            self.ca_pem, self.ssl_context = None, None
        self.bookmark_seconds = bookmark_seconds
        self.watch_timeout = watch_timeout
        self.stopping = threading.Event()
        self.faults = Faults()
        self.failing = None  # (code, message): every API request fails while set
        self.last_error = None
        self.store.admit = Admission(self)
        self.rbac = Rbac(self.store)
        self.rbac.seed()  # the bootstrap roles exist before anyone can ask, as on a real API server
        self.crds = Crds(self)
        if calico:
            self.crds.set_calico(True)
        self.controllers = Controllers(
            self,
            nodes=nodes,
            clock_speed=clock_speed,
            delays=delays,
            seed=seed,
            max_events=max_events,
            ceph=CephOptions.from_env() if ceph is None else ceph or None,
        )
        self.metrics = Metrics(self)
        self.logs = Logs(self)
        self.knobs = Knobs(self)
        self.api = Api(self)
        self._kubeconfig_dir = None
        self.kubeconfig_path = Path(kubeconfig_path) if kubeconfig_path else None
        self.httpd = None
        self.exporters = None  # start_exporters()
        self.started_at = None

    # --- lifecycle

    @property
    def url(self):
        return f"{'https' if self.ssl_context else 'http'}://{self.host}:{self.port}"

    @property
    def clock(self):
        return self.controllers.clock

    @property
    def csi(self):
        """ceph-csi's RBD driver behind the storage controllers (csi.driver.images: the images it holds)."""
        return self.controllers.ctx.csi

    def start(self):
        """Serve (again, on the same port after stop()); returns self."""
        self.csi.driver.cluster_id()  # a Ceph that cannot be reached fails the start before anything serves
        self.stopping.clear()
        self.httpd = Server((self.host, self.port), self)
        self.port = self.httpd.server_address[1]
        threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"sandbox-http-{self.port}",
            daemon=True,
        ).start()
        self.controllers.start()
        self.started_at = time.time()
        if self.kubeconfig_path is None:
            self._kubeconfig_dir = tempfile.mkdtemp(prefix="sandbox-kube-")
            self.kubeconfig_path = Path(self._kubeconfig_dir) / "config"
        self.write_kubeconfig(self.kubeconfig_path)
        return self

    def start_exporters(self):
        """Serve per-node node-exporter and cAdvisor /metrics on a plain-HTTP loopback port of
        their own (see exporters.py); returns their base URL. stop() ends them."""
        from .exporters import Exporters

        if self.exporters is None:
            self.exporters = Exporters(self)
            self.exporters.start()
        return self.exporters.url

    def stop(self):
        """Stop serving: open watches and connections end; the objects stay, so start() brings it back."""
        if self.exporters is not None:
            self.exporters.stop()
            self.exporters = None
        self.stopping.set()
        self.store.close_watches("the server is shutting down")
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            for connection in list(self.httpd.connections):
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.httpd = None
        self.controllers.stop()
        if self._kubeconfig_dir:  # a kubeconfig of our own choosing goes with the server (start() writes it again)
            shutil.rmtree(self._kubeconfig_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- auth and faults

    def authenticate(self, headers):
        """The user a bearer token belongs to (impersonation is applied after, see auth.impersonate)."""
        header = headers.get("Authorization") or ""
        token = header[7:].strip() if header[:7].lower() == "bearer " else ""
        user = self.users.get(token)
        if user is None:
            raise ApiError(401, "Unauthorized", "Unauthorized")
        return user

    def add_token(self, name, groups=(), read_only=False, admin=False, token=None):
        """A bearer token for user `name` in `groups` (plus system:authenticated). What it may do is
        up to RBAC, except: admin=True adds system:masters, read_only=True the sandbox:viewers group
        (read everything). Returns the token."""
        token = token or secrets.token_urlsafe(24)
        groups = tuple(groups) + ((MASTERS,) if admin else ()) + ((VIEWERS,) if read_only else ())
        self.users[token] = User(name, groups + ((AUTHENTICATED,) if AUTHENTICATED not in groups else ()))
        return token

    def audit_events(self, limit=None, **match):
        """Audit records, oldest first, optionally only those whose fields equal the given values
        (user=..., impersonatedUser=..., verb=..., resource=..., namespace=..., name=..., code=...). Each is
        {auditID (the response's Audit-Id), time, user (who sent it), impersonatedUser (whom it acted as, or None),
        groups (of the acting user), verb, apiGroup, resource, subresource, namespace, name, uri, code}."""
        return self.audit.query(limit, **match)

    def inject_faults(self):
        if self.failing:
            code, message = self.failing
            raise ApiError(code, "InternalError" if code == 500 else "ServiceUnavailable", message)
        faults = self.faults
        if faults.stall_rate and random.random() < faults.stall_rate:
            time.sleep(faults.stall_seconds)
        if faults.error_rate and random.random() < faults.error_rate:
            code = faults.error_code
            reason = {500: "InternalError", 503: "ServiceUnavailable", 429: "TooManyRequests", 504: "Timeout"}.get(
                code, "InternalError"
            )
            message = {
                503: "the server is currently unable to handle the request",
                429: "the server has received too many requests and has asked us to try again later",
                504: "the server was unable to return a response in the time allotted",
            }.get(code, "Internal error occurred: sandbox fault injection")
            raise ApiError(code, reason, message)

    def knobs_http(self, method, action, body):
        return self.knobs.http(method, action, body)

    # --- kubeconfig

    def kubeconfig(self, token=None, context="sandbox", namespace="default"):
        """A kubeconfig dict for a token (the admin's by default)."""
        cluster = {"server": self.url}
        if self.ca_pem:
            cluster["certificate-authority-data"] = base64.b64encode(self.ca_pem).decode()
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "preferences": {},
            "clusters": [{"name": "sandbox", "cluster": cluster}],
            "users": [{"name": "sandbox-admin", "user": {"token": token or self.token}}],
            "contexts": [
                {"name": context, "context": {"cluster": "sandbox", "user": "sandbox-admin", "namespace": namespace}}
            ],
            "current-context": context,
        }

    def kubeconfig_text(self, token=None):
        return yaml.safe_dump(self.kubeconfig(token), sort_keys=False)

    def write_kubeconfig(self, path, token=None):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.kubeconfig_text(token))
        os.chmod(path, 0o600)
        return path

    # --- conveniences that forward to the knobs (documented in knobs.py)

    def __getattr__(self, name):
        knobs = self.__dict__.get("knobs")
        if knobs is not None and not name.startswith("_") and hasattr(knobs, name):
            return getattr(knobs, name)
        raise AttributeError(name)


_ = json
