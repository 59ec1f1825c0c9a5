"""Live pod logs against the sandbox cluster over HTTPS: following a pod pushes its new lines
to the panel's group over the real Redis channel layer, as the user (impersonated), batched
and rate-limited; the follower stops when nobody follows, when the pod goes away and after
its cap; only the user who opened the panel, and while they may see the app, may follow it."""

import asyncio
import re
import time
from itertools import pairwise

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.urls import reverse

from console.kube.api import ClusterAPI
from console.live import realtime
from tenants import services as tenant_services
from workloads import podlogs, services

from ..factories import mk_member, mk_tenant
from .conftest import deploy_web, mirror_namespace

pytestmark = pytest.mark.django_db

BATCH = re.compile(r'<div data-podlog="(?P<token>[^"]+)"(?P<attrs>[^>]*)>(?P<body>.*?)</div></div>\s*$', re.DOTALL)
LINE = re.compile(r'<div class="log-line[^"]*"(?: data-skipped)?>(.*?)</div>', re.DOTALL)


@pytest.fixture
def web(project, dev):
    return deploy_web(project, dev, replicas=1)  # one pod: the `pod` fixture's


@pytest.fixture(autouse=True)
def no_followers_left():
    yield
    podlogs.stop_all()
    assert podlogs.running() == set()


class Listener:
    """A channel in the panel's group, on the real Redis channel layer; pushes parsed."""

    def __init__(self, group):
        self.layer = get_channel_layer()
        self.channel = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(group, self.channel)
        self.batches = []

    def receive(self, timeout=5):
        async def get():
            return await asyncio.wait_for(self.layer.receive(self.channel), timeout)

        html = async_to_sync(get)()["html"]
        match = BATCH.search(html)
        assert match and 'id="podlog-inbox" hx-swap-oob="beforeend"' in html, html[:300]
        state = re.search(r'data-state="([^"]*)" data-message="([^"]*)"', match["attrs"])
        batch = {
            "token": match["token"],
            "reset": "data-reset" in match["attrs"],
            "state": state[1] if state else "",
            "message": state[2] if state else "",
            "lines": LINE.findall(match["body"]),
            "at": time.monotonic(),
        }
        self.batches.append(batch)
        return batch

    def until(self, predicate, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = self.receive(timeout=max(0.1, deadline - time.monotonic()))
            if predicate(batch):
                return batch
        raise AssertionError(f"no such push within {timeout}s: {self.batches[-3:]}")


def open_panel(app, user, pod, container=""):
    token, _containers = services.open_pod_log(app, user=user, pod_name=pod, container=container)
    return token, podlogs.group(token)


def subscribe(user, group):
    """What the websocket consumer does for {"subscribe": group}: authorise, then snapshot."""
    assert realtime.may_subscribe(user, group)
    realtime.snapshot(user, group)


def stamp(line):
    """The container's UTC stamp, which the panel shows in the console's time zone."""
    return re.match(r'<time [^>]*datetime="([^"]+)"', line).group(1)


def test_following_a_pod_pushes_its_new_lines_as_the_user(sandbox, web, pod, dev):
    token, group = open_panel(web, dev, pod)
    listener = Listener(group)
    subscribe(dev, group)
    first = listener.receive()
    assert first["reset"] and first["state"] == "following" and first["token"] == token
    tail = listener.until(lambda b: b["lines"])["lines"]
    assert 0 < len(tail) <= podlogs.TAIL_LINES
    newer = listener.until(lambda b: b["lines"] and stamp(b["lines"][0]) > stamp(tail[-1]))
    assert all(
        re.match(
            r'^<time [^>]*datetime="\d{4}-\d\d-\d\dT[\d:.]+Z"[^>]*>'
            r"\d{4}-\d\d-\d\d [\d:.]+</time> (INFO|DEBUG|WARN|ERROR)",
            line,
        )
        for line in newer["lines"]
    ), newer["lines"][:3]
    assert podlogs.running() == {token}
    # read as the tenant member (impersonated), so the cluster's RBAC and audit apply
    follows = [
        e for e in sandbox.audit_events(impersonatedUser="acme-dev", subresource="log") if "follow=true" in e["uri"]
    ]
    assert follows and follows[-1]["code"] == 200 and follows[-1]["name"] == pod
    # pushes come in batches, at most every FLUSH_SECONDS
    gaps = [b["at"] - a["at"] for a, b in pairwise(listener.batches[2:])]
    assert all(gap > podlogs.FLUSH_SECONDS * 0.5 for gap in gaps), gaps


def test_follower_stops_when_nobody_follows_and_starts_again_when_somebody_does(settings, web, pod, dev):
    settings.CAAS_POD_LOG_IDLE_SECONDS = 1.5
    token, group = open_panel(web, dev, pod)
    listener = Listener(group)
    subscribe(dev, group)
    listener.until(lambda b: b["state"] == "following")
    began = time.monotonic()
    while time.monotonic() - began < 3:  # heartbeats keep it going
        subscribe(dev, group)
        time.sleep(0.3)
    assert podlogs.running() == {token}
    stopped = listener.until(lambda b: b["state"], timeout=5)  # no heartbeat: it stops by itself
    assert stopped["state"] == "idle" and stopped["message"] == "Stopped: nobody was following."
    assert time.monotonic() - began < 3 + 1.5 + 4
    time.sleep(0.2)
    assert podlogs.running() == set()
    subscribe(dev, group)  # the page came back (a reconnected socket): follow again from the tail
    assert listener.until(lambda b: b["state"])["reset"]
    assert podlogs.running() == {token}


def test_follower_stops_when_the_pod_goes_away(cluster, web, pod, dev):
    _token, group = open_panel(web, dev, pod)
    listener = Listener(group)
    subscribe(dev, group)
    listener.until(lambda b: b["lines"])
    with ClusterAPI(cluster) as api:
        api.delete("Pod", pod, web.namespace)
    ended = listener.until(lambda b: b["state"] and b["state"] != "following", timeout=20)
    assert ended["state"] == "ended" and ended["message"] == "The log ended: the pod is gone."
    time.sleep(0.2)
    assert podlogs.running() == set()
    subscribe(dev, group)  # done: a heartbeat does not start it again
    assert podlogs.running() == set()


def test_follower_stops_after_its_cap(settings, web, pod, dev):
    settings.CAAS_POD_LOG_MAX_SECONDS = 1.5
    _token, group = open_panel(web, dev, pod)
    listener = Listener(group)
    subscribe(dev, group)
    began = time.monotonic()
    capped = listener.until(lambda b: b["state"] and b["state"] != "following")
    assert capped["state"] == "capped" and "Follow again" in capped["message"]
    assert 1.4 < time.monotonic() - began < 6


def test_one_follower_per_panel_and_a_few_per_user(web, pod, dev):
    from django.core.cache import cache

    token, group = open_panel(web, dev, pod)
    cache.set(f"podlog:lease:{token}", "another-daphne", timeout=5)  # another process follows this panel
    subscribe(dev, group)
    assert podlogs.running() == set()
    cache.delete(f"podlog:lease:{token}")
    subscribe(dev, group)
    subscribe(dev, group)  # a heartbeat: still one follower
    assert podlogs.running() == {token}
    listener = Listener(group)
    others = [open_panel(web, dev, pod) for _ in range(podlogs.MAX_PER_USER)]
    for _other, other_group in others:
        subscribe(dev, other_group)
    replaced = listener.until(lambda b: b["state"] and b["state"] != "following")
    assert (
        replaced["state"] == "replaced"
        and replaced["message"] == f"Stopped: you follow {podlogs.MAX_PER_USER} other logs."
    )
    time.sleep(0.2)
    assert podlogs.running() == {other for other, _group in others}


def test_a_chatty_pod_is_rate_limited(settings, sandbox, web, pod, dev):
    settings.CAAS_POD_LOG_LINES_PER_SECOND = 100
    interval = sandbox.controllers.delays["log_interval"]
    sandbox.set_delays(log_interval=0.002)  # 10,000 lines a second at the sandbox's clock speed
    try:
        _token, group = open_panel(web, dev, pod)
        listener = Listener(group)
        subscribe(dev, group)
        listener.until(lambda b: b["state"] == "following")
        began = time.monotonic()
        while time.monotonic() - began < 2:
            listener.receive()
        pushed = [b for b in listener.batches if b["lines"]]
        lines = sum(len(b["lines"]) for b in pushed)
        # the tail (up to TAIL_LINES) plus at most 100 lines a second, and a note of what was skipped
        assert lines <= podlogs.TAIL_LINES + 100 * (2 + 2 * podlogs.FLUSH_SECONDS) + len(pushed)
        assert any("lines skipped: the pod logs faster than the page shows" in b["lines"][0] for b in pushed[1:])
        assert len(pushed) <= 2 / podlogs.FLUSH_SECONDS + 3
    finally:
        sandbox.set_delays(log_interval=interval)


def test_only_the_panels_user_may_follow_it(cluster, web, pod, dev, auditor, operator):
    globex = mk_tenant("globex", clusters=[cluster])
    outsider = mk_member(globex, "globex-dev")
    _token, group = open_panel(web, dev, pod)
    assert realtime.may_subscribe(dev, group)
    # a member of another tenant may neither open a panel on the app nor follow someone's
    with pytest.raises(PermissionError):
        services.open_pod_log(web, user=outsider, pod_name=pod)
    assert not realtime.may_subscribe(outsider, group)
    # auditors and operators see every app: they open their own panels, not the member's
    assert not realtime.may_subscribe(auditor, group) and not realtime.may_subscribe(operator, group)
    _token, auditor_group = open_panel(web, auditor, pod)
    assert realtime.may_subscribe(auditor, auditor_group) and not realtime.may_subscribe(dev, auditor_group)
    assert not realtime.may_subscribe(dev, "podlog-not-a-token")
    # a member who leaves the tenant may no longer follow the panel they opened
    membership = dev.tenant_memberships.get()
    tenant_services.remove_member(web.project.tenant, acting_user=operator, membership_id=membership.pk)
    assert not realtime.may_subscribe(dev, group)
    assert podlogs.running() == set()


def test_panel_comes_from_the_log_view_with_clear_errors(client, web, pod, dev, cluster):
    globex = mk_tenant("globex", clusters=[cluster])
    url = reverse("workloads:pod_log", args=["acme", web.namespace, "web", pod])
    mirror_namespace(cluster, web.namespace)  # the page lists pods from the mirror
    client.force_login(dev)
    page = client.get(reverse("workloads:app", args=["acme", web.namespace, "web"])).content.decode()
    assert (
        f'data-pod-log-url="{url}?container=web"' in page
        and 'id="podlog-subscription"' in page
        and "js/podlog.js" in page
    )
    panel = client.get(url, {"container": "web"}, HTTP_HX_REQUEST="true")
    assert panel.status_code == 200
    html = panel.content.decode()
    token = re.search(r'data-token="([^"]+)"', html)[1]
    assert f'<input type="hidden" name="subscribe" value="podlog-{token}">' in html and "ws-send" in html
    assert 'id="podlog-subscription" hx-swap-oob="innerHTML"' in html and "every 10s" in html
    assert podlogs.load(token)["container"] == "web" and podlogs.running() == set()  # it starts on subscription
    wrong = client.get(url, {"container": "sidecar"}, HTTP_HX_REQUEST="true")
    assert wrong.status_code == 400 and "has no container named sidecar" in wrong.content.decode()
    assert "podlog-" not in wrong.content.decode().split('id="podlog-subscription"')[1]  # no follow for it
    missing = client.get(url.replace(pod, "web-nope"), HTTP_HX_REQUEST="true")
    assert missing.status_code == 400 and "App web has no pod named web-nope." in missing.content.decode()
    client.force_login(mk_member(globex, "globex-dev"))
    assert client.get(url, HTTP_HX_REQUEST="true").status_code == 404
