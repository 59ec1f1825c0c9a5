"""pods/exec and pods/attach over websocket: the real kubectl 1.37 (which speaks
v5.channel.k8s.io and falls back to SPDY only when the upgrade fails), a raw v4 client for
the channel protocol itself, and the refusals a real API server gives."""

import fcntl
import json
import os
import pty
import select
import ssl
import struct
import subprocess
import termios
import time
import urllib.error
import urllib.request

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from .helpers import KUBECTL, kubectl, wait_for

NS = "ex"
SETUP = """apiVersion: v1
kind: Namespace
metadata: {name: ex}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config, namespace: ex}
data: {app.conf: "mode=fast\\n", greeting: hello}
---
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: ex}
stringData: {password: s3cret}
---
apiVersion: v1
kind: Pod
metadata: {name: shell, namespace: ex}
spec:
  containers:
  - name: main
    image: nginx:1.27
    env:
    - {name: MODE, value: prod}
    - {name: GREETING, valueFrom: {configMapKeyRef: {name: app-config, key: greeting}}}
    - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: BANNER, value: "$(GREETING) from $(POD_NAME)"}
    volumeMounts:
    - {name: config, mountPath: /etc/app}
    - {name: db, mountPath: /etc/db}
    - {name: scratch, mountPath: /scratch}
  - name: side
    image: busybox:1.36
  volumes:
  - {name: config, configMap: {name: app-config}}
  - {name: db, secret: {secretName: db}}
  - {name: scratch, emptyDir: {}}
---
apiVersion: v1
kind: Pod
metadata: {name: nowhere, namespace: ex}
spec:
  nodeName: ghost-node
  containers: [{name: main, image: nginx:1.27}]
---
apiVersion: v1
kind: Pod
metadata: {name: unschedulable, namespace: ex}
spec:
  containers: [{name: main, image: nginx:1.27, resources: {requests: {cpu: "500"}}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: team-edit, namespace: ex}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: team}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: viewer-view, namespace: ex}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: viewer}]
"""


@pytest.fixture(scope="module")
def pods(sandbox):
    applied = kubectl(sandbox, "apply", "-f", "-", input=SETUP)
    assert applied.returncode == 0, applied.stderr
    ready = kubectl(sandbox, "wait", "-n", NS, "--for=condition=Ready", "pod/shell", "--timeout=30s")
    assert ready.returncode == 0, ready.stderr
    return sandbox


def execute(sandbox, *args, input=None, container="main"):
    return kubectl(
        sandbox,
        "exec",
        "-n",
        NS,
        *(("-i",) if input is not None else ()),
        "shell",
        "-c",
        container,
        "--",
        *args,
        input=input,
    )


def test_exec_runs_a_command_and_reports_its_exit_code(pods):
    pods.clear_audit()
    hi = execute(pods, "echo", "hi")
    assert (hi.returncode, hi.stdout, hi.stderr) == (0, "hi\n", "")
    three = execute(pods, "sh", "-c", "exit 3")
    assert three.returncode == 3 and three.stderr == "command terminated with exit code 3\n"
    missing = execute(pods, "sh", "-c", "frobnicate --now")
    assert (
        missing.returncode == 127
        and missing.stderr == "sh: frobnicate: not found\ncommand terminated with exit code 127\n"
    )
    # without a shell the runtime itself refuses a program the image lacks
    direct = execute(pods, "frobnicate")
    assert direct.returncode == 1
    assert (
        'exec: "frobnicate": executable file not found in $PATH' in direct.stderr
        and "Internal error occurred" in direct.stderr
    )
    chained = execute(pods, "sh", "-c", "false || echo fallback; false && echo never; echo status=$?")
    assert chained.stdout == "fallback\nstatus=1\n"
    # kubectl upgraded to a websocket every time: no SPDY fallback
    events = pods.audit_events(subresource="exec")
    assert len(events) == 5 and {(e["verb"], e["code"]) for e in events} == {("get", 101)}


def test_stdin_reaches_the_process_and_its_end_ends_cat(pods):
    echoed = execute(pods, "cat", input="hello\nworld\n")
    assert (echoed.returncode, echoed.stdout) == (0, "hello\nworld\n")
    script = execute(pods, "sh", input="cd /etc/app\npwd; ls\nexport X=1; echo x=$X | cat\nexit 4\necho never\n")
    assert script.returncode == 4 and script.stdout == "/etc/app\napp.conf\ngreeting\nx=1\n"
    counted = execute(pods, "wc", "-l", input="a\nb\nc\n")
    assert counted.stdout.strip() == "3"


def test_environment_and_files_come_from_the_pod(pods):
    env = dict(line.split("=", 1) for line in execute(pods, "env").stdout.splitlines())
    assert env["MODE"] == "prod" and env["GREETING"] == "hello" and env["POD_NAME"] == "shell"
    assert env["BANNER"] == "hello from shell"  # $(VAR) references resolved as the kubelet does
    assert env["HOSTNAME"] == "shell" and env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1" and "/usr/bin" in env["PATH"]
    assert execute(pods, "cat", "/etc/app/app.conf").stdout == "mode=fast\n"
    assert execute(pods, "cat", "/etc/db/password").stdout == "s3cret"
    assert execute(pods, "cat", "/var/run/secrets/kubernetes.io/serviceaccount/namespace").stdout == NS
    assert execute(pods, "hostname").stdout == "shell\n"
    ps = execute(pods, "ps").stdout.splitlines()
    assert (
        ps[0].split() == ["PID", "USER", "TIME", "COMMAND"]
        and ps[1].split()[0] == "1"
        and "nginx: master process" in ps[1]
    )
    gone = execute(pods, "ls", "/nope")
    assert gone.returncode == 1 and gone.stderr.startswith("ls: /nope: No such file or directory")
    # the container keeps what is written in it; mounted ConfigMaps and Secrets are read-only
    assert execute(pods, "sh", "-c", "echo kept > /tmp/note && echo ok > /scratch/x").returncode == 0
    assert execute(pods, "cat", "/tmp/note").stdout == "kept\n"
    refused = execute(pods, "sh", "-c", "echo x > /etc/app/app.conf")
    assert refused.returncode == 1 and "sh: can't create /etc/app/app.conf: Read-only file system" in refused.stderr
    # another container of the pod has its own files
    assert execute(pods, "cat", "/tmp/note", container="side").returncode == 1


def test_a_terminal_session_through_a_pty(pods):
    """kubectl exec -it from a real terminal: prompt, echo, line editing, ^C, the window size, exit."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    process = subprocess.Popen(
        [
            KUBECTL,
            "--kubeconfig",
            str(pods.kubeconfig_path),
            "exec",
            "-it",
            "-n",
            NS,
            "shell",
            "-c",
            "main",
            "--",
            "sh",
        ],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    seen = bytearray()

    def until(text, timeout=10):
        deadline = time.monotonic() + timeout
        while text.encode() not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    seen.extend(os.read(master, 65536))
                except OSError:
                    break
        assert text.encode() in seen, bytes(seen)
        found = bytes(seen)
        seen.clear()
        return found

    try:
        until("/ # ")
        os.write(master, b"echo hi $TERM\r")
        assert until("/ # ") == b"echo hi $TERM\r\nhi xterm\r\n/ # "
        os.write(master, b"stty size\r")
        assert b"30 100\r\n" in until("/ # ")
        os.write(master, b"ecko\x7f\x7fho fixed\r")  # Backspace erases
        assert b"fixed\r\n" in until("/ # ")
        os.write(master, b"sleep 60\r")
        time.sleep(0.3)
        os.write(master, b"\x03")
        assert b"^C\r\n" in until("/ # ", timeout=5)
        os.write(master, b"exit 3\r")
        assert b"command terminated with exit code 3" in until("exit code 3")
        assert process.wait(timeout=10) == 3
    finally:
        process.kill()
        process.wait()
        os.close(master)


def test_refusals_in_the_api_servers_words(pods):
    missing = kubectl(pods, "exec", "-n", NS, "ghost", "--", "echo")
    assert missing.returncode == 1 and missing.stderr == 'Error from server (NotFound): pods "ghost" not found\n'
    no_host = kubectl(pods, "exec", "-n", NS, "unschedulable", "--", "echo")
    assert "pod unschedulable does not have a host assigned" in no_host.stderr
    # scheduled, but its container never started (the node is gone): the upgrade succeeds, the kubelet refuses
    not_running = kubectl(pods, "exec", "-n", NS, "nowhere", "--", "echo")
    assert not_running.returncode == 1
    assert (
        not_running.stderr
        == 'error: Internal error occurred: unable to upgrade connection: container not found ("main")\n'
    )
    # kubectl checks container names itself; the API server answers 400 to clients that do not
    wrong = raw(pods, f"/api/v1/namespaces/{NS}/pods/shell/exec?command=echo&stdout=true&container=nope")
    assert wrong[0] == 400 and wrong[1]["message"] == "container nope is not valid for pod shell"
    unnamed = raw(pods, f"/api/v1/namespaces/{NS}/pods/shell/exec?command=echo&stdout=true")
    assert (
        unnamed[0] == 400
        and unnamed[1]["message"] == "a container name must be specified for pod shell, choose one of: [main side]"
    )
    plain = raw(pods, f"/api/v1/namespaces/{NS}/pods/shell/exec?command=echo&stdout=true&container=main")
    assert plain[0] == 400 and plain[1]["message"] == "Upgrade request required"


def test_exec_needs_create_on_pods_exec(pods):
    member = kubectl(
        pods, "exec", "-n", NS, "--as=alice", "--as-group=team", "shell", "-c", "main", "--", "echo", "member"
    )
    assert (member.returncode, member.stdout) == (0, "member\n")
    assert pods.audit_events(impersonatedUser="alice", subresource="exec")[-1]["code"] == 101
    viewer = kubectl(pods, "exec", "-n", NS, "--as=viewer", "shell", "-c", "main", "--", "echo")
    # refused at the websocket upgrade (get), then at kubectl's SPDY fallback (create), in kubectl's words
    assert viewer.returncode == 1 and viewer.stderr == (
        'error: unable to upgrade connection: pods "shell" is forbidden: '
        'User "viewer" cannot create resource "pods/exec" in API group "" in the namespace "ex"\n'
    )
    assert [e["code"] for e in pods.audit_events(impersonatedUser="viewer", subresource="exec")] == [403, 403]
    # the read-only token may `get` everything, pods/exec included, but not `create`: refused
    token = pods.read_only_token
    reader = kubectl(pods, "--token", token, "exec", "-n", NS, "shell", "-c", "main", "--", "echo")
    assert reader.returncode == 1 and 'cannot create resource "pods/exec"' in reader.stderr
    can = kubectl(pods, "auth", "can-i", "create", "pods/exec", "-n", NS, "--as=alice", "--as-group=team")
    assert can.stdout.strip() == "yes"
    resources = json.loads(kubectl(pods, "get", "--raw", "/api/v1").stdout)["resources"]
    subresources = {
        r["name"]: (r["kind"], sorted(r["verbs"])) for r in resources if r["name"] in ("pods/exec", "pods/attach")
    }
    assert subresources == {
        "pods/exec": ("PodExecOptions", ["create", "get"]),
        "pods/attach": ("PodAttachOptions", ["create", "get"]),
    }


def test_the_channel_protocol_v4(pods):
    """A v4 client: one channel byte per message, the final Status on channel 3, resizes on 4."""
    query = (
        "command=sh&command=-c&command=echo%20out%3B%20echo%20err%201%3E%262%3B%20exit%205"
        "&stdout=true&stderr=true&container=main"
    )
    messages = ws_session(pods, f"/api/v1/namespaces/{NS}/pods/shell/exec?{query}", "v4.channel.k8s.io")
    assert stream(messages, 1) == b"out\n" and stream(messages, 2) == b"err\n"
    status = json.loads(stream(messages, 3))
    assert status["status"] == "Failure" and status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "5"}]
    # v5: stdin's end is a close signal (255, 0); resizes and bad sizes change nothing for cat
    ok = ws_session(
        pods,
        f"/api/v1/namespaces/{NS}/pods/shell/exec?command=cat&stdin=true&stdout=true&container=main",
        "v5.channel.k8s.io",
        send=[
            bytes([4]) + b'{"Width":120,"Height":40}',
            bytes([4]) + b"not json",
            bytes([0]) + b"piped",
            bytes([255, 0]),
        ],
    )
    assert stream(ok, 1) == b"piped" and json.loads(stream(ok, 3)) == {"metadata": {}, "status": "Success"}
    with pytest.raises(InvalidStatus) as refused:
        ws_session(
            pods,
            f"/api/v1/namespaces/{NS}/pods/shell/exec?command=echo&stdout=true&container=main",
            "base64.channel.k8s.io",
        )
    assert refused.value.response.status_code == 400


def test_attach_streams_the_main_process_output(pods):
    process = subprocess.Popen(
        [KUBECTL, "--kubeconfig", str(pods.kubeconfig_path), "attach", "-n", NS, "shell", "-c", "main"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        lines = wait_for(
            lambda: select.select([process.stdout], [], [], 0.2)[0] and os.read(process.stdout.fileno(), 65536),
            timeout=15,
        )
        assert lines and any(level in lines for level in (b"INFO", b"WARN", b"ERROR", b"DEBUG")), lines
    finally:
        process.kill()
        process.wait()
    assert pods.audit_events(subresource="attach")[-1]["code"] == 101


# --- helpers


def ssl_context(sandbox):
    return ssl.create_default_context(cadata=sandbox.ca_pem.decode())


def raw(sandbox, path):
    request = urllib.request.Request(sandbox.url + path, headers={"Authorization": f"Bearer {sandbox.token}"})
    try:
        with urllib.request.urlopen(request, context=ssl_context(sandbox), timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def ws_session(sandbox, path, protocol, send=()):
    url = sandbox.url.replace("https://", "wss://") + path
    with connect(
        url,
        ssl=ssl_context(sandbox),
        subprotocols=[protocol],
        additional_headers={"Authorization": f"Bearer {sandbox.token}"},
        open_timeout=10,
    ) as socket:
        assert socket.subprotocol == protocol
        for message in send:
            socket.send(message)
        messages = []
        try:
            while True:
                messages.append(socket.recv(timeout=10))
        except Exception as exc:  # noqa: BLE001 (the server closes when the process ends)
            assert type(exc).__name__ == "ConnectionClosedOK", exc
        return messages


def stream(messages, channel):
    return b"".join(m[1:] for m in messages if isinstance(m, bytes) and m[:1] == bytes([channel]))
