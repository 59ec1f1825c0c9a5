"""An app's log timeline: the page shows the archive, then its socket (the consumer, as daphne
runs it) follows new lines: live from the Kubernetes log API of the sandbox cluster over HTTPS
(as the tenant member, impersonated), and as ingestion commits them to the store; each line
once (the API's copy and the collector's are one line), in time order. Only those who may see
the app's namespace may follow it; a follow ends with its socket."""

import html
import json
import re
import threading
import time
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.urls import path, reverse

from monitoring.logs import live, services
from monitoring.logs.consumers import TimelineConsumer
from monitoring.logs.store import EPOCH

from ..factories import mk_member
from ..workloads.conftest import create_acme, mirror_namespace, spec
from .conftest import lines, loadgen, send

# The consumer reads the store on its database thread: it must see the fixtures.
pytestmark = pytest.mark.django_db(transaction=True)
APPLICATION = URLRouter([path(live.SOCKET_ROUTE, TimelineConsumer.as_asgi())])
ROW = re.compile(
    r'<div class="timeline-line" data-ts="(?P<ts>\d+)" data-key="(?P<key>[0-9a-f]+)" data-origin="(?P<origin>\w+)">'
    r'<span[^>]*>[^<]*</span> <span class="text-body-secondary" title="(?P<container>[^"]*)">(?P<pod>[^<]*)</span> '
    r'(?:<span class="text-danger">(?P<error>.*?)</span>|(?P<text>.*?))</div>'
)


@pytest.fixture(autouse=True)
def english_sockets(settings):
    """The sockets here send no language cookie: they speak the default, English for these asserts."""
    settings.LANGUAGE_CODE = "en"


@pytest.fixture(autouse=True)
def no_follows_left():
    yield
    deadline = time.monotonic() + 10
    while live.running() != ([], []) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live.running() == ([], [])
    assert live.store_polls() == {}


class Browser:
    """The timeline's socket as the page's script uses it; rows parsed."""

    def __init__(self, user, url):
        self.socket = WebsocketCommunicator(APPLICATION, url)
        self.socket.scope["user"] = user
        self.rows, self.states, self.notes = [], [], []

    async def open(self):
        connected, self.refused_with = await self.socket.connect(timeout=10)
        return connected

    async def receive(self, timeout=10):
        # (receive_output's own timeout would cancel the application)
        deadline = time.monotonic() + timeout
        while await self.socket.receive_nothing(timeout=0.05, interval=0.01):
            if time.monotonic() >= deadline:
                raise TimeoutError
        message = await self.socket.receive_output(5)
        if message["type"] == "websocket.close":
            return "closed", message.get("code")
        value = json.loads(message["text"])
        if "rows" in value:
            frame = [
                {
                    "ts": int(m["ts"]),
                    "key": m["key"],
                    "origin": m["origin"],
                    "pod": m["pod"],
                    "container": m["container"],
                    "text": html.unescape(m["error"] if m["error"] is not None else m["text"]),
                }
                for m in ROW.finditer(value["rows"])
            ]
            assert len(frame) == value["rows"].count('class="timeline-line"'), value["rows"][:500]
            assert [r["ts"] for r in frame] == sorted(r["ts"] for r in frame)  # oldest first
            self.rows += frame
            return "rows", frame
        if "state" in value:
            self.states.append(value)
            return "state", value
        self.notes.append(value["note"])
        return "note", value["note"]

    async def until(self, predicate, timeout=15):
        deadline = time.monotonic() + timeout
        while not predicate(self):
            assert time.monotonic() < deadline, (self.states, self.notes, [r["text"] for r in self.rows[-5:]])
            try:
                kind, value = await self.receive(max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                raise AssertionError(("nothing more", self.states, self.notes, self.texts()[-5:])) from None
            assert kind != "closed", (value, self.states)

    async def rows_within(self, seconds):
        """The rows that arrive within `seconds` (states and notes kept as usual)."""
        deadline, got = time.monotonic() + seconds, []
        while (left := deadline - time.monotonic()) > 0:
            try:
                kind, value = await self.receive(left)
            except TimeoutError:
                break
            if kind == "rows":
                got += value
        return got

    async def closed(self, timeout=10):
        while True:
            kind, value = await self.receive(timeout)
            if kind == "closed":
                return value

    def texts(self):
        return [row["text"] for row in self.rows]


def run(session, *args):
    """async_to_sync(session)(*args), on a thread of its own: Playwright's sync API (tests/e2e, when it
    ran before in this process) leaves an event loop running in this one."""
    from django.db import connections

    outcome = {}

    def target():
        try:
            outcome["value"] = async_to_sync(session)(*args)
        except BaseException as exc:  # noqa: BLE001 (raised again in the test's thread)
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=target, name="test-session")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def socket_of(page):
    return html.unescape(re.search(r'data-socket="([^"]+)"', page).group(1))


def moment_of(row):
    return EPOCH + timedelta(microseconds=row["ts"])


def test_the_archive_then_what_ingestion_commits_each_once(client, world, empty_store, monkeypatch):
    import psycopg2

    old = [loadgen.container_record("acme-web", "web-1", "web", f"old {n}") for n in range(3)]
    send(client, world["token"], old + [loadgen.container_record("acme-web", "api-1", "api", "other app", app="api")])
    member = world["users"]["acme-dev"]
    client.force_login(member)
    page = client.get(reverse("logs:app_timeline", args=["acme", "acme-web", "web"])).content.decode()
    assert re.findall(r"(?:old|new|late) \d", page) == ["old 0", "old 1", "old 2"] and "other app" not in page
    assert "hx-trigger" not in page.split('id="timeline"')[1]  # no polling
    url = socket_of(page)
    assert url.startswith("/ws/logs/acme/acme-web/apps/web/?") and "since=" in url
    monkeypatch.setattr(live, "REFRESH_SECONDS", 0.5)

    async def session():
        browser = Browser(member, url)
        assert await browser.open()
        await browser.until(lambda b: b.states)
        # no pod of the app runs (this cluster has none): the store alone is followed
        assert browser.states[0] == {
            "state": "following",
            "message": "No container of this app runs now: following the lines collectors deliver.",
        }
        # A batch that began before another and commits after it: followed all the same, once each.
        slow = psycopg2.connect(**connection.get_connection_params())
        try:
            with slow.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO logs_line (ts, cluster_id, namespace, app, pod, container, message) "
                    "VALUES (now(), %s, 'acme-web', 'web', 'web-1', 'web', 'late 1')",
                    [world["cluster"].pk],
                )
                batch = [loadgen.container_record("acme-web", "web-1", "web", "new 1")]
                await sync_to_async(send)(client, world["token"], batch)
                # the earlier batch is still open: nothing yet (two polls at least)
                assert await browser.rows_within(2.5) == []
            slow.commit()
        finally:
            slow.close()
        await browser.until(lambda b: len(b.rows) >= 2)
        assert sorted(browser.texts()) == ["late 1", "new 1"]
        assert {row["origin"] for row in browser.rows} == {"store"}
        # the same line sent again by a collector that retried: one line, shown once
        await sync_to_async(send)(
            client, world["token"], batch + [loadgen.container_record("acme-web", "web-2", "web", "new 2")]
        )
        await browser.until(lambda b: "new 2" in b.texts())
        assert browser.texts().count("new 1") == 1 and len(await sync_to_async(lines)(message="new 1")) == 2
        # access taken away: the socket says so and closes
        await sync_to_async(member.tenant_memberships.all().delete)()
        await browser.until(lambda b: b.states[-1]["state"] == "error")
        assert browser.states[-1]["message"] == "You may no longer follow the logs of this app."
        assert await browser.closed() == 4403

    run(session)


def test_only_who_may_see_the_namespace_follows_it(client, world, empty_store):
    client.force_login(world["users"]["acme-dev"])
    url = socket_of(client.get(reverse("logs:app_timeline", args=["acme", "acme-web", "web"])).content.decode())

    async def refused(user, address=url):
        browser = Browser(user, address)
        if not await browser.open():
            return None, browser.refused_with
        kind, value = await browser.receive()
        return value, await browser.closed()

    for user in (world["users"]["globex-dev"], world["stranger"]):
        state, code = run(refused, user)
        assert state == {"state": "error", "message": "You may not follow the logs of this app."} and code == 4403
    assert run(refused, AnonymousUser()) == (None, 4401)
    # another tenant's namespace asked for by name: the same answer as one that does not exist
    state, code = run(refused, world["users"]["globex-dev"], url.replace("acme/acme-web", "acme/nowhere"))
    assert code == 4403
    for bad in ("from=soon", "from=", "since=-1&from=0", "since=99999999999&from=0"):
        state, code = run(refused, world["users"]["acme-dev"], url.split("?")[0] + "?" + bad)
        assert state["state"] == "error" and "address is incomplete" in state["message"] and code == 4400
    state, code = run(refused, world["users"]["acme-dev"], url + "&pod=Web_1")
    assert state == {"state": "error", "message": "Web_1 is not a pod name."} and code == 4400
    # operators and auditors see every namespace
    for user in (world["operator"], world["auditor"]):

        async def follows(user=user):
            browser = Browser(user, url)
            assert await browser.open()
            await browser.until(lambda b: b.states)
            await browser.socket.disconnect()
            return browser.states[0]["state"]

        assert run(follows) == "following"


def test_a_users_oldest_timeline_ends_when_they_open_one_too_many(client, world, empty_store):
    member = world["users"]["acme-dev"]
    client.force_login(member)
    url = socket_of(client.get(reverse("logs:app_timeline", args=["acme", "acme-web", "web"])).content.decode())

    async def session():
        browsers = [Browser(member, url) for _n in range(live.MAX_PER_USER + 1)]
        for browser in browsers:
            assert await browser.open()
            await browser.until(lambda b: b.states)
        oldest = browsers[0]
        await oldest.until(lambda b: b.states[-1]["state"] == "stopped")
        assert oldest.states[-1]["message"] == f"Stopped: you follow {live.MAX_PER_USER} other timelines."
        assert await oldest.closed() == 1000
        assert len(live.running()[0]) == live.MAX_PER_USER
        for browser in browsers[1:]:
            await browser.socket.disconnect()

    run(session)


# --- live from the cluster -----------------------------------------------------------------


def done(job, task):
    """Run a queued job's task here, as a worker would; a live worker (tests/e2e's, when it ran
    before in this process) may have taken it first: then wait for it."""
    from console.jobs.models import Job

    task.apply(args=[job.pk])
    deadline = time.monotonic() + 60
    while (status := Job.objects.get(pk=job.pk).status) in ("pending", "running"):
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    assert status == "succeeded"


@pytest.fixture
def acme_web(cluster, operator, quick_rollouts):
    """acme's namespace on the sandbox with app web (one pod) running, mirrored as the watcher would."""
    from tenants import services as tenant_services
    from tenants.tasks import run_tenant_job
    from workloads import services as workload_services
    from workloads.tasks import run_app_job

    acme = create_acme(cluster, operator)
    dev = mk_member(acme, "acme-dev")
    project, job = tenant_services.create_project(acme, acting_user=operator, cluster=cluster, short_name="web")
    done(job, run_tenant_job)
    project.refresh_from_db()
    app, job = workload_services.deploy_app(
        project, acting_user=dev, name="web", kind="Deployment", spec=spec(replicas=1)
    )
    done(job, run_app_job)
    mirror_namespace(cluster, project.name, kinds=("Pod",))
    token = services.rotate_token(cluster, acting_user=operator)
    services._tenants_cache.clear()
    return {"cluster": cluster, "acme": acme, "dev": dev, "project": project, "app": app, "token": token}


def test_new_lines_come_live_from_the_cluster_before_ingestion_and_once(client, sandbox, acme_web, empty_store):
    dev, project = acme_web["dev"], acme_web["project"]
    client.force_login(dev)
    page = client.get(reverse("logs:app_timeline", args=["acme", project.name, "web"])).content.decode()
    assert 'class="timeline-line"' not in page  # nothing collected yet
    url = socket_of(page)

    async def session():
        browser = Browser(dev, url)
        assert await browser.open()
        await browser.until(lambda b: b.states)
        assert browser.states[0]["message"] == (
            "Following 1 container live from the cluster, and the lines collectors deliver."
        )
        opened = time.time()
        # the pod's lines since it started, then those it writes while the page is open
        await browser.until(lambda b: any(moment_of(r).timestamp() > opened + 0.5 for r in b.rows))
        assert await sync_to_async(lines)() == []  # none of them was ingested: they came from the cluster
        assert {(r["pod"], r["container"], r["origin"]) for r in browser.rows} == {
            (browser.rows[0]["pod"], "web", "api")
        }
        assert [r["ts"] for r in browser.rows] == sorted(r["ts"] for r in browser.rows)  # in time order
        assert re.match(r"^\d{4}-\d\d-\d\dT[\d:.]+Z (INFO|DEBUG|WARN|ERROR)", browser.rows[-1]["text"])
        # A collector ships copies of three of them (the runtime's timestamp, the same text) and a
        # line of its own: that one is shown, the copies are not.
        copies = browser.rows[-3:]
        batch = [
            loadgen.container_record(project.name, r["pod"], "web", r["text"], app="web", moment=moment_of(r))
            for r in copies
        ] + [loadgen.container_record(project.name, copies[0]["pod"], "web", "collected only", app="web")]
        assert (await sync_to_async(send)(client, acme_web["token"], batch)).status_code == 200
        await browser.until(lambda b: "collected only" in b.texts())
        assert [r["origin"] for r in browser.rows if r["text"] == "collected only"] == ["store"]
        assert len(await sync_to_async(lines)()) == 4
        await browser.until(lambda b: len(b.rows) > len(copies) + 10)  # and it goes on
        seen = [(r["pod"], r["container"], r["ts"], r["text"]) for r in browser.rows]
        assert len(seen) == len(set(seen)) and len({r["key"] for r in browser.rows}) == len(seen)
        assert len(live.running()[1]) == 1  # one stream: the pod's container
        await browser.socket.disconnect()

    run(session)
    # read as the member (impersonated, so the cluster's RBAC and audit apply), from the archive's end
    follows = [
        e for e in sandbox.audit_events(impersonatedUser="acme-dev", subresource="log") if "follow=true" in e["uri"]
    ]
    assert follows and follows[0]["code"] == 200 and "sinceTime=" in follows[0]["uri"]
    # closed with the socket: no follow and no reader thread left (the autouse fixture waits for it)
    deadline = time.monotonic() + 10
    while live.running() != ([], []) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live.running() == ([], []), [t.name for t in threading.enumerate()]


def test_the_sandbox_stamps_a_line_the_same_on_every_read(sandbox, acme_web):
    """The log API's timestamps are the runtime's: the same line read twice has the same one
    (what lets the page drop the archive's last second when the API sends it again)."""
    from console.kube.api import ClusterAPI

    project = acme_web["project"]
    with ClusterAPI(acme_web["cluster"]) as api:
        pod = api.list("Pod", project.name)[0]["metadata"]["name"]

        def read():
            response = api.follow_pod_log(pod, project.name, "web", tail_lines=1000, timestamps=True)
            try:
                return response.read1(65536).decode().split("\n")[:-1]  # whole lines, from the pod's start
            finally:
                live._shut(response)

        deadline = time.monotonic() + 15
        reads = [read()]
        while len(reads[0]) < 10 and time.monotonic() < deadline:  # a pod just started: let it write
            time.sleep(0.2)
            reads = [read()]
        reads.append(read())
    first = {line.split(" ", 1)[1]: line.split(" ", 1)[0] for line in reads[0]}
    second = {line.split(" ", 1)[1]: line.split(" ", 1)[0] for line in reads[1]}
    common = set(first) & set(second)
    assert len(common) >= 10 and all(first[text] == second[text] for text in common)


# --- one poll of the store per app and scope, whatever the number of sockets -----------------


def test_sockets_of_one_app_share_one_poll_of_the_store_and_no_other_scope_does(
    client, world, empty_store, monkeypatch
):
    """Two members' timelines of acme's app ask the store once per STORE_SECONDS between them, and
    both get each line; an operator's (every namespace: another scope) has a poll of its own;
    globex's member, following an app of the same name in globex's namespace, never gets acme's."""
    from monitoring.logs.store import PostgresStore

    from .conftest import quick_user

    member, other = world["users"]["acme-dev"], quick_user("acme-ops")
    world["acme"].memberships.create(user=other, role="tenant-member")
    asked = []  # (scope, since, until) of each store.follow, on the consumers' database thread
    real_follow = PostgresStore.follow

    def counted(store, query, **kwargs):
        asked.append(
            (None if query.scope is None else tuple(map(tuple, query.scope)), kwargs["since"], kwargs["until"])
        )
        return real_follow(store, query, **kwargs)

    monkeypatch.setattr(PostgresStore, "follow", counted)
    client.force_login(member)
    acme_url = socket_of(client.get(reverse("logs:app_timeline", args=["acme", "acme-web", "web"])).content.decode())
    client.force_login(world["users"]["globex-dev"])
    globex_url = socket_of(
        client.get(reverse("logs:app_timeline", args=["globex", "globex-shop", "web"])).content.decode()
    )
    acme_scope = ((world["cluster"].pk, "acme-web"),)

    async def session():
        browsers = [
            Browser(member, acme_url),
            Browser(other, acme_url),
            Browser(world["operator"], acme_url),
            Browser(world["users"]["globex-dev"], globex_url),
        ]
        for browser in browsers:
            assert await browser.open()
            await browser.until(lambda b: b.states)
        polls = live.store_polls()
        assert sorted(polls.values()) == [1, 1, 2] and polls[next(k for k in polls if k[-1] == acme_scope)] == 2
        asked.clear()
        started = time.monotonic()
        batch = [loadgen.container_record("acme-web", "web-1", "web", f"acme {n}") for n in range(3)]
        await sync_to_async(send)(client, world["token"], batch)
        for browser in browsers[:3]:
            await browser.until(lambda b: len(b.rows) >= 3)
        globex_rows = await browsers[3].rows_within(2 * live.STORE_SECONDS + 0.5)
        seconds = time.monotonic() - started
        await sync_to_async(send)(
            client, world["token"], [loadgen.container_record("globex-shop", "shop-1", "web", "globex's own")]
        )
        await browsers[3].until(lambda b: b.rows)
        for browser in browsers:
            await browser.socket.disconnect()
        return [b.texts() for b in browsers], globex_rows, seconds

    texts, globex_rows, seconds = run(session)
    assert texts[:3] == [["acme 0", "acme 1", "acme 2"]] * 3
    assert globex_rows == [] and texts[3] == ["globex's own"]
    # The members' sockets asked the store together: each window of horizons once, one poll per
    # STORE_SECONDS at most (two sockets polling on their own would ask twice as often).
    members = [(since, until) for scope, since, until in asked if scope == acme_scope]
    assert members and len(members) == len(set(members))
    assert all(after == before for (_s, before), (after, _u) in zip(members, members[1:], strict=False))
    assert len(members) <= seconds / live.STORE_SECONDS + 1, (members, seconds)
    assert live.store_polls() == {}  # the polls ended with their sockets


# --- which containers are followed live ------------------------------------------------------


def mirror_pod(cluster, namespace, name, app, *, started, containers=("web",)):
    """A running pod of `app` as the watcher mirrors it, its containers started at `started`."""
    from console.clusters.models import MirroredObject

    stamp = started.strftime("%Y-%m-%dT%H:%M:%SZ")
    return MirroredObject.objects.update_or_create(
        cluster=cluster,
        kind="Pod",
        namespace=namespace,
        name=name,
        defaults={
            "api_version": "v1",
            "uid": f"uid-{name}",
            "resource_version": "1",
            "labels": {"app": app},
            "phase": "Running",
            "created_at": started,
            "object": {
                "metadata": {"name": name, "namespace": namespace, "labels": {"app": app}},
                "status": {
                    "phase": "Running",
                    "containerStatuses": [
                        {"name": container, "state": {"running": {"startedAt": stamp}}} for container in containers
                    ],
                },
            },
        },
    )[0]


def test_the_newest_containers_are_followed_live_and_the_page_is_told_which(client, world, empty_store, monkeypatch):
    """With more running containers than MAX_STREAMS, the most recently started are followed live
    (the pod the reader picked first), a newer one takes the place of the oldest, and the page's
    status names them and says the others come through the archive."""
    from django.utils import timezone

    from console.clusters.models import MirroredObject

    monkeypatch.setattr(live, "MAX_STREAMS", 2)
    monkeypatch.setattr(live, "REFRESH_SECONDS", 0.3)
    cluster, member = world["cluster"], world["users"]["acme-dev"]
    now = timezone.now()
    for n, minutes in enumerate((30, 10, 20)):  # web-1 oldest, web-2 newest
        mirror_pod(cluster, "acme-web", f"web-{n + 1}", "web", started=now - timedelta(minutes=minutes))
    mirror_pod(cluster, "acme-web", "api-1", "api", started=now)  # another app's
    client.force_login(member)
    url = socket_of(client.get(reverse("logs:app_timeline", args=["acme", "acme-web", "web"])).content.decode())

    async def session(address, newer):
        browser = Browser(member, address)
        assert await browser.open()
        await browser.until(lambda b: b.states)
        if newer:
            await sync_to_async(mirror_pod)(cluster, "acme-web", "web-4", "web", started=now)
            await browser.until(lambda b: len(b.states) >= 2)
        await browser.socket.disconnect()
        return [state["message"] for state in browser.states]

    first, then = run(session, url, True)
    assert first == (
        "Following 2 of 3 containers live from the cluster, the most recently started: web-2/web, web-3/web. "
        "The others' lines come through the archive, as collectors deliver them."
    )
    assert then.startswith(
        "Following 2 of 4 containers live from the cluster, the most recently started: web-4/web, web-2/web."
    )
    # the reader's pod first (the page's ?pod= goes to the socket), then the newest
    MirroredObject.objects.filter(name="web-4").delete()
    [picked] = run(session, url + "&pod=web-1", False)
    assert picked == (
        "Following 2 of 3 containers live from the cluster, the pod you picked and then the most recently "
        "started: web-1/web, web-2/web. The others' lines come through the archive, as collectors deliver them."
    )


def test_the_timeline_follows_what_clickhouse_commits(client, world, clickhouse, settings):
    """With LOGS_STORE=clickhouse the socket follows the store as well (ClickHouseStore.horizon and
    follow): each line ingested after the page was read comes once, the archive's lines not again."""
    from monitoring.logs.clickhouse import ClickHouseStore

    settings.LOGS_STORE, settings.LOGS_CLICKHOUSE_URL = "clickhouse", clickhouse
    settings.LOGS_CLICKHOUSE_TABLE = f"logs_timeline_{int(time.time() * 1000)}"
    store = ClickHouseStore()
    store.create()
    try:
        send(client, world["token"], [loadgen.container_record("acme-web", "web-1", "web", "archived")])
        member = world["users"]["acme-dev"]
        client.force_login(member)
        page = client.get(reverse("logs:app_timeline", args=["acme", "acme-web", "web"])).content.decode()
        assert "archived" in page and "since=" in socket_of(page)

        async def session():
            browser = Browser(member, socket_of(page))
            assert await browser.open()
            await browser.until(lambda b: b.states)
            assert browser.states[0]["message"] == (
                "No container of this app runs now: following the lines collectors deliver."
            )
            batch = [loadgen.container_record("acme-web", "web-1", "web", f"new {n}") for n in range(3)]
            await sync_to_async(send)(client, world["token"], batch)
            await sync_to_async(send)(client, world["token"], batch[:1])  # a collector's retry: stored twice
            await browser.until(lambda b: len(b.rows) >= 3)
            await browser.rows_within(2 * live.STORE_SECONDS + 1)
            await browser.socket.disconnect()
            return browser.rows

        rows = run(session)
        # the horizon is a second behind: the archive's last line may come again; the page drops it
        archived = {m["key"] for m in ROW.finditer(page)}
        assert len(archived) == 1 and {r["text"] for r in rows if r["key"] in archived} <= {"archived"}
        shown = [r for r in rows if r["key"] not in archived]
        assert [r["text"] for r in shown] == ["new 0", "new 1", "new 2"] and {r["origin"] for r in rows} == {"store"}
    finally:
        store._post(f"DROP TABLE IF EXISTS {store.table}")
