"""The web terminal against the sandbox cluster over HTTPS: the console's socket (the consumer,
as daphne runs it) relays keystrokes and output to pods/exec, opened as the tenant member
(impersonated); members of other tenants and auditors are refused; every session lands in
the operation log (start and end, never the keystrokes); idle sessions, floods and too many
sessions are cut."""

import json
import threading
import time

import pytest
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.urls import path, reverse

from console.kube.api import ClusterAPI
from console.kube.errors import ClusterError
from console.oplog.models import OperationLogEntry
from workloads import services, terminal
from workloads.consumers import TerminalConsumer

from ..factories import mk_member, mk_tenant
from .conftest import deploy_web, mirror_namespace

# The bridge thread writes the operation log on its own database connection: it must see the fixtures.
pytestmark = pytest.mark.django_db(transaction=True)
APPLICATION = URLRouter([path("ws/terminal/<str:token>/", TerminalConsumer.as_asgi())])
PROMPT = b"/ # "


@pytest.fixture
def web(project, dev):
    return deploy_web(project, dev, replicas=1)  # one pod: the `pod` fixture's


@pytest.fixture(autouse=True)
def english_sockets(settings):
    """The sockets here send no language cookie: they speak the default, English for these asserts."""
    settings.LANGUAGE_CODE = "en"


@pytest.fixture(autouse=True)
def no_bridges_left():
    yield
    deadline = time.monotonic() + 10
    while bridges() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bridges() == []


def bridges():
    return [t.name for t in threading.enumerate() if t.name.startswith(("terminal-", "sandbox-exec-"))]


class Browser:
    """The terminal's socket as the panel's script uses it."""

    def __init__(self, user, token):
        self.socket = WebsocketCommunicator(APPLICATION, f"/ws/terminal/{token}/")
        self.socket.scope["user"] = user
        self.output = bytearray()
        self.states = []

    async def open(self):
        connected, _ = await self.socket.connect(timeout=10)
        assert connected
        return await self.state()

    async def receive(self, timeout=10):
        message = await self.socket.receive_output(timeout)
        if message["type"] == "websocket.close":
            return "closed", message.get("code")
        if message.get("bytes") is not None:
            self.output += message["bytes"]
            return "bytes", message["bytes"]
        value = json.loads(message["text"])
        self.states.append(value)
        return "text", value

    async def state(self):
        while True:
            kind, value = await self.receive()
            if kind != "bytes":
                return value

    async def until(self, text, timeout=10):
        deadline = time.monotonic() + timeout
        while text not in self.output:
            assert time.monotonic() < deadline, bytes(self.output)
            kind, value = await self.receive(max(0.1, deadline - time.monotonic()))
            assert kind == "bytes", (kind, value, bytes(self.output))
        found = bytes(self.output)
        self.output.clear()
        return found

    async def closed(self):
        while True:
            kind, value = await self.receive()
            if kind == "closed":
                return value


def entries(action):
    return list(OperationLogEntry.objects.filter(action=action).order_by("id"))


def test_a_member_runs_a_command_and_the_session_is_recorded(sandbox, web, pod, dev):
    token, containers = services.open_terminal(web, user=dev, pod_name=pod)
    assert containers == ["web"]

    async def session():
        browser = Browser(dev, token)
        assert await browser.open() == {"state": "open", "message": "", "exit_code": None}
        await browser.socket.send_to(text_data=json.dumps({"resize": {"cols": 120, "rows": 30}}))
        await browser.until(PROMPT)
        await browser.socket.send_to(bytes_data=b"echo hi\r")
        assert await browser.until(b"hi\r\n" + PROMPT) == b"echo hi\r\nhi\r\n" + PROMPT
        await browser.socket.send_to(bytes_data=b"stty size\r")
        assert b"30 120\r\n" in await browser.until(PROMPT)
        await browser.socket.send_to(bytes_data=b"exit 3\r")
        assert await browser.state() == {"state": "ended", "message": "The shell exited with code 3.", "exit_code": 3}
        assert await browser.closed() == 1000

    async_to_sync(session)()
    # the cluster saw the member, impersonated: its RBAC and audit apply
    opened = sandbox.audit_events(impersonatedUser="acme-dev", subresource="exec")
    assert [(e["name"], e["code"]) for e in opened] == [(pod, 101)]
    (start,) = entries("app.terminal.start")
    (end,) = entries("app.terminal.end")
    for entry in (start, end):
        assert (entry.actor_name, entry.cluster, entry.namespace, entry.target_kind, entry.target_name) == (
            "acme-dev",
            "sandbox",
            web.namespace,
            "Pod",
            pod,
        )
        assert entry.result == "succeeded" and entry.payload["container"] == "web" and entry.payload["command"] == "sh"
    assert end.payload["ended"] == "exited" and end.payload["exit_code"] == 3 and end.started_at <= end.finished_at
    assert end.payload["session"] == start.payload["session"]
    logged = json.dumps([entry.payload for entry in OperationLogEntry.objects.all()])
    assert "echo hi" not in logged and "stty" not in logged  # never the keystrokes


def test_other_tenants_and_auditors_are_refused(cluster, web, pod, dev, auditor):
    outsider = mk_member(mk_tenant("globex", clusters=[cluster]), "globex-dev")
    for user in (outsider, auditor):
        with pytest.raises(PermissionError):
            services.open_terminal(web, user=user, pod_name=pod)
    refused = entries("app.terminal.start")
    assert [(e.actor_name, e.result) for e in refused] == [("globex-dev", "denied"), ("aud", "denied")]
    # a member's token is theirs alone: someone else's socket is refused and told why
    token, _containers = services.open_terminal(web, user=dev, pod_name=pod)

    async def steal(user):
        browser = Browser(user, token)
        state = await browser.open()
        return state, await browser.closed()

    for user in (outsider, auditor):
        state, code = async_to_sync(steal)(user)
        assert state["state"] == "error" and "expired or is not yours" in state["message"] and code == 4403
    assert [e.result for e in entries("app.terminal.start")[2:]] == ["denied", "denied"]
    assert not entries("app.terminal.end")


def test_refused_by_the_cluster_and_for_bad_containers(sandbox, web, pod, dev):
    with pytest.raises(Exception) as wrong:
        services.open_terminal(web, user=dev, pod_name=pod, container="sidecar")
    assert "has no container named sidecar" in str(wrong.value)
    # RBAC decides on the cluster: members who may only view (no pods/exec) get no session
    with ClusterAPI(web.project.cluster) as api:
        api.delete("RoleBinding", "caas-tenant-members", web.namespace)
        api.apply(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "viewers", "namespace": web.namespace},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                "subjects": [
                    {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": web.project.tenant.group}
                ],
            }
        )
    token, _containers = services.open_terminal(web, user=dev, pod_name=pod)

    async def session():
        browser = Browser(dev, token)
        await browser.open()
        state = await browser.state()
        return state, await browser.closed()

    state, _code = async_to_sync(session)()
    assert state["state"] == "error" and 'cannot get resource "pods/exec"' in state["message"]
    start = entries("app.terminal.start")[-1]
    assert start.result == "denied" and "pods/exec" in start.error and not entries("app.terminal.end")


def test_exec_dials_only_allowed_addresses(settings, cluster, web, pod):
    settings.CLUSTER_API_ALLOWED_NETWORKS = ["10.0.0.0/8"]  # the sandbox is on 127.0.0.1
    with ClusterAPI(cluster) as api, pytest.raises(ClusterError) as refused:
        api.exec(pod, web.namespace, "web", ["sh"])
    assert refused.value.reason == "address"


def test_sessions_are_bounded(settings, web, pod, dev):
    settings.CAAS_TERMINAL_MAX_PER_USER = 1
    settings.CAAS_TERMINAL_IDLE_SECONDS = 1.5
    first, second = (services.open_terminal(web, user=dev, pod_name=pod)[0] for _ in range(2))

    async def sessions():
        browser = Browser(dev, first)
        await browser.open()
        await browser.until(PROMPT)
        # bad input is answered and changes nothing
        await browser.socket.send_to(text_data='{"resize": {"cols": 0, "rows": 99999}}')
        assert "Expected keystrokes" in (await browser.state())["error"]
        other = Browser(dev, second)
        refused = await other.open()
        assert refused["state"] == "error" and "You have 1 terminals open already" in refused["message"]
        assert await other.closed() == 4403
        # nothing typed and nothing shown: the session ends by itself
        began = time.monotonic()
        ended = await browser.state()
        assert (
            ended["state"] == "ended" and "without input or output" in ended["message"] and time.monotonic() - began < 6
        )
        await browser.closed()

    async_to_sync(sessions)()
    assert entries("app.terminal.end")[-1].payload["ended"] == "idle"
    # the slot is free again; a frame bigger than a paste cuts the session, and the cluster's side ends too
    token = services.open_terminal(web, user=dev, pod_name=pod)[0]

    async def flood():
        browser = Browser(dev, token)
        await browser.open()
        await browser.until(PROMPT)
        await browser.socket.send_to(bytes_data=b"x" * (terminal.MAX_INPUT_BYTES + 1))
        return await browser.closed()

    assert async_to_sync(flood)() == 1009
    deadline = time.monotonic() + 10
    while len(entries("app.terminal.end")) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    end = entries("app.terminal.end")[-1]
    assert end.payload["ended"] == "flooded" and end.result == "failed"


def test_closing_the_browser_ends_the_exec(sandbox, web, pod, dev):
    token = services.open_terminal(web, user=dev, pod_name=pod)[0]

    async def session():
        browser = Browser(dev, token)
        await browser.open()
        await browser.until(PROMPT)
        await browser.socket.send_to(bytes_data=b"sleep 600\r")
        await browser.until(b"sleep 600\r\n")
        await browser.socket.disconnect()

    async_to_sync(session)()
    deadline = time.monotonic() + 10
    while not entries("app.terminal.end") and time.monotonic() < deadline:
        time.sleep(0.05)
    (end,) = entries("app.terminal.end")
    assert end.payload["ended"] == "closed" and end.result == "succeeded"
    # no_bridges_left: the console's bridge and the sandbox's exec process are both gone


def test_the_page_offers_the_terminal_to_those_who_may_use_it(client, cluster, web, pod, dev, auditor):
    mirror_namespace(cluster, web.namespace)
    page_url = reverse("workloads:app", args=["acme", web.namespace, "web"])
    url = reverse("workloads:pod_terminal", args=["acme", web.namespace, "web", pod])
    client.force_login(dev)
    page = client.get(page_url)
    html = page.content.decode()
    assert (
        f'data-terminal-url="{url}?container=web"' in html
        and "js/terminal.js" in html
        and "vendor/xterm/xterm-6.0.0.js" in html
    )
    assert "script-src 'self'" in page["Content-Security-Policy"] and "<script>" not in html
    panel = client.get(url, {"container": "web"}, HTTP_HX_REQUEST="true")
    assert panel.status_code == 200
    assert 'data-socket="/ws/terminal/' in panel.content.decode()
    wrong = client.get(url, {"container": "nope"}, HTTP_HX_REQUEST="true")
    assert wrong.status_code == 400 and "has no container named nope" in wrong.content.decode()
    client.force_login(auditor)
    assert "data-terminal-url" not in client.get(page_url).content.decode()  # auditors see the app, not a terminal
    assert client.get(url, HTTP_HX_REQUEST="true").status_code == 403
