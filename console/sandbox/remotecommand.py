"""pods/exec and pods/attach over websocket, as kubectl 1.37 and the console speak them.

The request is judged like the API server judges it: RBAC (`get` and, since Kubernetes 1.35,
`create` on pods/exec), then the pod, the container and the node (400s), then the websocket
upgrade with the subprotocol v5.channel.k8s.io (or v4). After the upgrade every message is
one channel byte and data: 0 stdin, 1 stdout, 2 stderr, 3 the final Status, 4 terminal
size ({"Width", "Height"}); v5 adds 255 <channel> to close a stream (stdin's end). Like the
API server's stream translator, problems met after the upgrade (a container that is not
running, a program the image lacks) come as a Status on channel 3.

SPDY, kubectl's fallback, is not served: kubectl only falls back when the websocket upgrade
fails, and the errors that make it fail (403, 404, 400) answer the SPDY request alike.

The process runs a simulated shell (shell.py) in a fake container: the pod's environment,
a filesystem with its ConfigMap and Secret volumes, its main process in `ps`. Files written
in a container stay there until the container restarts."""

import base64
import dataclasses
import json
import re
import threading
import weakref
from collections import OrderedDict
from urllib.parse import parse_qs

from . import kinds, shell, websocket
from .auth import forbidden
from .errors import ApiError, bad_request, method_not_allowed, not_found
from .responses import Response

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
KEPT_FILESYSTEMS = 256  # containers whose written files the sandbox remembers
ENV_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")

_filesystems = weakref.WeakKeyDictionary()  # cluster -> OrderedDict(containerID -> Filesystem)
_lock = threading.Lock()


def respond(cluster, req, namespace, name, sub):
    """The answer to a request for pods/<name>/exec or /attach: a 101 whose `upgrade` runs the
    session on the socket, or the API server's refusal."""
    if req.method not in ("GET", "POST"):
        raise method_not_allowed()
    if req.attrs is not None and req.attrs.verb != "create":
        # A websocket upgrade is a GET, but it starts a process: `create` is checked too
        # (AuthorizePodWebsocketUpgradeCreatePermission, on by default since 1.35).
        attrs = dataclasses.replace(req.attrs, verb="create")
        allowed, reason = cluster.rbac.authorize(attrs)
        if not allowed:
            raise forbidden(attrs, reason)
    options = parse_qs(getattr(req, "query_string", ""), keep_blank_values=True)
    flags = {
        key: (options.get(key) or ["false"])[-1].lower() in ("true", "1")
        for key in ("stdin", "stdout", "stderr", "tty")
    }
    command = options.get("command") or []
    pods = kinds.of("pods")
    pod = cluster.store.get(pods, namespace, name)
    if pod is None:
        raise not_found(pods, name)
    container = container_name(pod, (options.get("container") or [""])[-1])
    if not (flags["stdin"] or flags["stdout"] or flags["stderr"]):
        raise bad_request("you must specify at least 1 of stdin, stdout, stderr")
    if sub == "exec" and not command:
        raise bad_request("you must specify at least one command for the container")
    if not (pod.get("spec") or {}).get("nodeName"):
        raise bad_request(f"pod {name} does not have a host assigned")
    if not websocket.is_upgrade(req.headers):
        if "spdy" in (req.headers.get("Upgrade") or "").lower():
            raise bad_request(
                "the sandbox serves pods/exec and pods/attach over websocket only "
                f"({', '.join(PROTOCOLS)}); SPDY is not supported"
            )
        raise bad_request("Upgrade request required")
    try:
        headers, protocol = websocket.handshake(req.headers, PROTOCOLS)
    except websocket.HandshakeError as exc:
        raise bad_request(f"unable to upgrade connection: {exc}") from None
    session = Session(cluster, pod, container, sub, command, flags, protocol)
    response = Response(101, headers=headers)
    response.upgrade = session.run
    return response


def container_name(pod, wanted):
    """The container a request means, in the API server's words when it names none or a wrong one."""
    spec = pod.get("spec") or {}
    names = [c.get("name") for c in spec.get("containers") or []]
    init = [c.get("name") for c in spec.get("initContainers") or []]
    name = pod["metadata"]["name"]
    if not wanted:
        default = (pod["metadata"].get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
        if len(names) == 1:
            return names[0]
        if default in names:
            return default
        message = f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
        if init:
            message += f" or one of the init containers: [{' '.join(init)}]"
        raise bad_request(message)
    if wanted not in names + init:
        raise bad_request(f"container {wanted} is not valid for pod {name}")
    return wanted


def status_body(code=0, error=None, command=()):
    if error is not None:
        return ApiError(
            500, "InternalError", f"Internal error occurred: {error}", {"causes": [{"message": error}]}
        ).status()
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    # what the API server's stream translator sends for the kubelet's exit code
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: command terminated with exit code {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


class Session:
    """One exec or attach: the websocket's I/O in the HTTP handler's thread, the process in
    one of its own."""

    def __init__(self, cluster, pod, container, sub, command, flags, protocol):
        self.cluster, self.pod, self.container, self.sub = cluster, pod, container, sub
        self.command, self.flags, self.protocol = list(command), flags, protocol
        self.ws = self.term = None

    def run(self, sock, buffered=b""):
        self.ws = websocket.WebSocket(sock, buffered)
        self.term = shell.Terminal(self._writer(STDOUT), self._writer(STDERR), tty=self.flags["tty"])
        if not self.flags["stdin"]:
            self.term.end_input()
        process = threading.Thread(
            target=self._process, name=f"sandbox-{self.sub}-{self.pod['metadata']['name']}", daemon=True
        )
        process.start()
        try:
            self.ws.serve(self._on_message)
        finally:
            self.term.hangup()  # a process still running sees the client gone

    def _writer(self, channel):
        wanted = self.flags["stdout" if channel == STDOUT else "stderr"]
        return (lambda data: self.ws.send(bytes([channel]) + data)) if wanted else (lambda data: None)

    def _on_message(self, opcode, data):
        if not data:
            return
        channel, payload = data[0], data[1:]
        if channel == STDIN and self.flags["stdin"]:
            self.term.feed(payload)
        elif channel == RESIZE:
            try:
                size = json.loads(payload)
                self.term.resize(int(size["Width"]), int(size["Height"]))
            except (ValueError, KeyError, TypeError):
                pass  # a bad size changes nothing, as with a real terminal
        elif channel == CLOSE and self.protocol.startswith("v5") and payload[:1] == bytes([STDIN]):
            self.term.end_input()

    def _process(self):
        try:
            status = self._start()
        except shell.Hangup:
            return
        except Exception as exc:  # the API server answers a broken exec with an internal error, not silence
            status = status_body(error=f"error executing command in container: {exc!r}")
        self.ws.send(bytes([ERROR]) + json.dumps(status, separators=(",", ":")).encode())
        self.ws.close()

    def _start(self):
        pod = (
            self.cluster.store.get(kinds.of("pods"), self.pod["metadata"]["namespace"], self.pod["metadata"]["name"])
            or self.pod
        )
        state = container_state(pod, self.container)
        if "running" not in state:
            return status_body(error=f'unable to upgrade connection: container not found ("{self.container}")')
        box = Container(self.cluster, pod, self.container, state.get("containerID", ""))
        sh = box.shell(self.term, self.flags["tty"])
        if self.sub == "attach":
            return self._attach(pod, box, sh)
        try:
            code = sh.exec_argv(self.command)
        except shell.NotExecutable as exc:
            return status_body(
                error="error executing command in container: failed to exec in container: failed to start exec "
                f'"{box.exec_id()}": OCI runtime exec failed: exec failed: unable to start container process: '
                f"{exc}: unknown"
            )
        except shell.Exit as exc:
            code = exc.code
        return status_body(code)

    def _attach(self, pod, box, sh):
        """Attach to the main process: a shell reading stdin when the container has one
        (stdin: true), else its output from now on (the log's new lines) until it stops."""
        spec = box.spec
        if spec.get("stdin"):
            try:
                return status_body(sh.interactive())
            except shell.Exit as exc:
                return status_body(exc.code)
        follow = self.cluster.logs.respond(pod, {"container": self.container, "follow": "true", "tailLines": "0"})
        stream = follow.stream or iter(())
        try:
            for chunk in stream:
                if self.term.hung_up.is_set():
                    raise shell.Hangup()
                self.term.out(chunk.decode(errors="replace"))
        finally:
            getattr(stream, "close", lambda: None)()
        return status_body(0)


def container_state(pod, container):
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    status = next((s for s in statuses if s.get("name") == container), None)
    return {**((status or {}).get("state") or {}), "containerID": (status or {}).get("containerID", "")}


class Container:
    """What a process inside a sandbox container sees: environment, files, user, processes."""

    def __init__(self, cluster, pod, name, container_id):
        self.cluster, self.pod, self.name, self.container_id = cluster, pod, name, container_id
        spec = pod.get("spec") or {}
        self.spec = next(
            (c for c in (spec.get("containers") or []) + (spec.get("initContainers") or []) if c.get("name") == name),
            {},
        )
        self.namespace = pod["metadata"]["namespace"]
        self.hostname = spec.get("hostname") or pod["metadata"]["name"]

    def exec_id(self):
        return self.container_id.rsplit("/", 1)[-1][:12] + "…"

    def shell(self, term, tty):
        env = self.environment()
        if tty:
            env.setdefault("TERM", "xterm")
        context = {
            **((self.pod.get("spec") or {}).get("securityContext") or {}),
            **(self.spec.get("securityContext") or {}),
        }
        uid, gid = int(context.get("runAsUser") or 0), int(context.get("runAsGroup") or 0)
        user = "root" if uid == 0 else str(uid)
        main = " ".join((self.spec.get("command") or []) + (self.spec.get("args") or [])) or default_command(
            self.spec.get("image", "")
        )
        fs = self.filesystem(read_only_root=bool(context.get("readOnlyRootFilesystem")))
        return shell.Shell(
            term,
            fs,
            env,
            self.hostname,
            uid,
            gid,
            [(1, user, main)],
            pid=7 + 6 * next_exec(self.cluster, self.container_id),
            workdir=self.spec.get("workingDir") or "/",
        )

    # --- environment

    def environment(self):
        """As the kubelet sets it: the image's PATH and HOME, HOSTNAME, the kubernetes Service's
        variables, then the container's env (references $(VAR) to earlier ones resolved)."""
        env = {"PATH": PATH, "HOSTNAME": self.hostname, "HOME": "/root"}
        kubernetes = self._get("services", "default", "kubernetes") or {}
        host = (kubernetes.get("spec") or {}).get("clusterIP") or "10.96.0.1"
        env.update(
            {
                "KUBERNETES_SERVICE_HOST": host,
                "KUBERNETES_SERVICE_PORT": "443",
                "KUBERNETES_SERVICE_PORT_HTTPS": "443",
                "KUBERNETES_PORT": f"tcp://{host}:443",
                "KUBERNETES_PORT_443_TCP": f"tcp://{host}:443",
                "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
                "KUBERNETES_PORT_443_TCP_PORT": "443",
                "KUBERNETES_PORT_443_TCP_ADDR": host,
            }
        )
        for source in self.spec.get("envFrom") or []:
            data = self._source_data(source.get("configMapRef"), source.get("secretRef"))
            env.update({(source.get("prefix") or "") + key: value for key, value in data.items()})
        for item in self.spec.get("env") or []:
            if not isinstance(item, dict) or not item.get("name"):
                continue
            if "valueFrom" in item:
                value = self._value_from(item.get("valueFrom") or {})
                if value is None:
                    continue
            else:
                value = ENV_REFERENCE.sub(lambda m: env.get(m[1], m[0]), str(item.get("value") or ""))
            env[item["name"]] = value
        return env

    def _value_from(self, source):
        meta, status, spec = self.pod["metadata"], self.pod.get("status") or {}, self.pod.get("spec") or {}
        if source.get("fieldRef"):
            path = source["fieldRef"].get("fieldPath", "")
            fields = {
                "metadata.name": meta.get("name"),
                "metadata.namespace": meta.get("namespace"),
                "metadata.uid": meta.get("uid"),
                "spec.nodeName": spec.get("nodeName"),
                "spec.serviceAccountName": spec.get("serviceAccountName"),
                "status.podIP": status.get("podIP"),
                "status.hostIP": status.get("hostIP"),
            }
            label = re.match(r"metadata\.(labels|annotations)\['(.+)'\]$", path)
            if label:
                return (meta.get(label[1]) or {}).get(label[2], "")
            return str(fields.get(path) or "")
        for kind in ("configMapKeyRef", "secretKeyRef"):
            ref = source.get(kind)
            if ref:
                data = self._source_data(
                    ref if kind == "configMapKeyRef" else None, ref if kind == "secretKeyRef" else None
                )
                return data.get(ref.get("key"))
        return ""

    def _source_data(self, config_map, secret):
        """{key: text} of a referenced ConfigMap or Secret ({} when it is missing)."""
        if config_map:
            obj = self._get("configmaps", self.namespace, config_map.get("name", "")) or {}
            return {k: str(v) for k, v in (obj.get("data") or {}).items()}
        if secret:
            obj = self._get("secrets", self.namespace, secret.get("name", "")) or {}
            return {k: decode(v) for k, v in (obj.get("data") or {}).items()}
        return {}

    def _get(self, plural, namespace, name):
        return self.cluster.store.get(kinds.of(plural), namespace, name)

    # --- files

    def filesystem(self, read_only_root=False):
        """The container's files: kept per container (a restart starts afresh), volumes mounted anew
        each time (a ConfigMap's change shows, as the kubelet syncs it)."""
        with _lock:
            kept = _filesystems.setdefault(self.cluster, OrderedDict())
            fs = kept.get(self.container_id)
            if fs is None:
                fs = kept[self.container_id] = self.base_filesystem()
                while len(kept) > KEPT_FILESYSTEMS:
                    kept.popitem(last=False)
            kept.move_to_end(self.container_id)
        fs.root_read_only = read_only_root
        volumes = {v.get("name"): v for v in (self.pod.get("spec") or {}).get("volumes") or [] if isinstance(v, dict)}
        for mount in self.spec.get("volumeMounts") or []:
            volume = volumes.get(mount.get("name"))
            if volume is None or not mount.get("mountPath"):
                continue
            files, read_only = self.volume_files(volume)
            fs.mount(mount["mountPath"], files, read_only=read_only or bool(mount.get("readOnly")))
        if (self.pod.get("spec") or {}).get("automountServiceAccountToken") is not False:
            fs.mount(
                "/var/run/secrets/kubernetes.io/serviceaccount",
                {
                    "ca.crt": (self.cluster.ca_pem or b"").decode(),
                    "namespace": self.namespace,
                    "token": "sandbox-projected-token-not-for-use",
                },
            )
        return fs

    def volume_files(self, volume):
        """({name: content}, read only) of a volume: ConfigMaps and Secrets show their keys as files."""
        for kind, key in (("configMap", "name"), ("secret", "secretName")):
            source = volume.get(kind)
            if source is not None:
                ref = {"name": source.get(key, "")}
                data = self._source_data(ref if kind == "configMap" else None, ref if kind == "secret" else None)
                items = source.get("items")
                if items:
                    data = {
                        item.get("path"): data[item.get("key")]
                        for item in items
                        if item.get("key") in data and item.get("path")
                    }
                return data, True
        return {}, False  # emptyDir, persistentVolumeClaim, ...: an empty directory to write in

    def base_filesystem(self):
        fs = shell.Filesystem()
        fs.read_only.update(("/proc", "/sys"))
        status = self.pod.get("status") or {}
        for path in (
            "/dev",
            "/etc",
            "/home",
            "/proc",
            "/root",
            "/run",
            "/sys",
            "/tmp",
            "/usr/bin",
            "/usr/local/bin",
            "/var/log",
        ):
            fs.add_dir(path)
        for command in shell.COMMANDS:
            fs.add_file(f"/bin/{command}", "")
        fs.add_file("/dev/null", "")
        fs.add_file("/etc/hostname", self.hostname + "\n")
        fs.add_file(
            "/etc/hosts",
            "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
            f"{status.get('podIP', '')}\t{self.hostname}\n",
        )
        fs.add_file(
            "/etc/resolv.conf",
            f"search {self.namespace}.svc.cluster.local svc.cluster.local cluster.local\n"
            "nameserver 10.96.0.10\noptions ndots:5\n",
        )
        fs.add_file(
            "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        )
        image = self.spec.get("image", "")
        if "busybox" in image:
            fs.add_file("/etc/os-release", 'NAME="BusyBox"\nID=busybox\n')
        else:
            fs.add_file(
                "/etc/os-release",
                'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n',
            )
        if "nginx" in image:
            fs.add_file(
                "/usr/share/nginx/html/index.html",
                "<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n</head>\n"
                "<body>\n<h1>Welcome to nginx!</h1>\n</body>\n</html>\n",
            )
        fs.add_dir("/proc/1")
        fs.add_file("/proc/1/cmdline", default_command(image))
        return fs


def default_command(image):
    name = image.rsplit("/", 1)[-1].split("@")[0].split(":")[0]
    return {
        "nginx": "nginx: master process nginx -g daemon off;",
        "busybox": "sh",
        "redis": "redis-server *:6379",
        "postgres": "postgres",
        "mysql": "mysqld",
        "httpd": "httpd -DFOREGROUND",
    }.get(name, name or "sh")


def decode(value):
    try:
        return base64.b64decode(value).decode(errors="replace")
    except (ValueError, TypeError):
        return ""


_exec_counts = weakref.WeakKeyDictionary()  # cluster -> {containerID: execs so far}: each exec gets new pids


def next_exec(cluster, container_id):
    with _lock:
        counts = _exec_counts.setdefault(cluster, {})
        if len(counts) > KEPT_FILESYSTEMS * 4:
            counts.clear()
        counts[container_id] = counts.get(container_id, -1) + 1
        return counts[container_id]
