"""The search page: filters, words and substrings, highlight, context, keyset pages, the
histogram, saved searches; and that tenants only ever see their own namespaces' lines."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from console.clusters.models import MirroredObject
from monitoring.logs import services
from monitoring.logs.models import SavedSearch
from monitoring.logs.store import PostgresStore, partition_name, utc_day

from .conftest import lines, loadgen, send

pytestmark = pytest.mark.django_db


def seed(client, world):
    records = [
        loadgen.container_record("acme-web", "web-1", "web", "ERROR payment gateway timeout order=17"),
        loadgen.container_record("acme-web", "web-1", "web", "GET /api/orders 200"),
        loadgen.container_record("acme-web", "web-2", "web", "user 4 signed in"),
        loadgen.container_record("globex-shop", "shop-1", "shop", "ERROR globex secret payment failure", app="shop"),
        loadgen.component_record("etcd", "WARN apply request took too long"),
    ]
    assert send(client, world["token"], records).status_code == 200


def page(client, user, **params):
    client.force_login(user)
    return client.get(reverse("logs:search"), params)


def shown(response):
    return re.findall(r'<span class="log-text">(.*?)</span>', response.content.decode())


def histogram_of(client, response):
    """The histogram the search page loads after its lines (its own request, as htmx makes it)."""
    url = re.search(r'hx-get="(/logs/histogram/[^"]*)"', response.content.decode()).group(1).replace("&amp;", "&")
    answer = client.get(url, HTTP_HX_REQUEST="true")
    assert answer.status_code == 200
    return answer.content.decode()


def test_operators_see_every_line_newest_first(client, world):
    seed(client, world)
    response = page(client, world["operator"])
    assert response.status_code == 200
    assert len(shown(response)) == 5
    assert shown(response)[0] == "WARN apply request took too long"
    assert "5 matching lines" in histogram_of(client, response)


def test_a_tenant_member_sees_only_the_tenants_namespaces(client, world):
    seed(client, world)
    member = world["users"]["acme-dev"]
    response = page(client, member)
    texts = shown(response)
    assert len(texts) == 3 and not any("globex" in t or "etcd" in t or "apply request" in t for t in texts)
    assert "3 matching lines" in histogram_of(client, response)
    # Asking for the other tenant's namespace by name, or for components: nothing (not an error).
    for params in ({"namespace": "globex-shop"}, {"source": "component"}, {"q": "globex"}):
        response = page(client, member, **params)
        assert response.status_code == 200 and shown(response) == []
        assert "0 matching lines" in histogram_of(client, response)
    # Filtering by a tenant is for operators and auditors only: the field is not there.
    assert 'id="id_tenant"' not in page(client, member).content.decode()


def test_somebody_in_no_tenant_may_not_search(client, world):
    assert page(client, world["stranger"]).status_code == 403


def test_words_substring_level_and_highlight(client, world):
    seed(client, world)
    operator = world["operator"]
    texts = shown(page(client, operator, q="payment timeout"))
    assert texts == ["ERROR <mark>payment</mark> gateway <mark>timeout</mark> order=17"]
    texts = shown(page(client, operator, substring="rders 2"))
    assert texts == ["GET /api/o<mark>rders 2</mark>00"]
    texts = shown(page(client, operator, level=["error"]))
    assert len(texts) == 2
    texts = shown(page(client, operator, pod="web-2"))
    assert texts == ["user 4 signed in"]
    texts = shown(page(client, operator, tenant="globex"))
    assert texts == ["ERROR globex secret payment failure"]
    # Substrings are literal: % and _ are no wildcards; HTML in lines is shown as text.
    assert shown(page(client, operator, substring="%%%")) == []
    send(client, world["token"], [loadgen.container_record("acme-web", "p", "c", "<script>alert(1)</script>")])
    assert shown(page(client, operator, substring="script")) == [
        "&lt;<mark>script</mark>&gt;alert(1)&lt;/<mark>script</mark>&gt;"
    ]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "2026-01-02T00:00", "end": "2026-01-01T00:00"}, "must be before its end"),
        ({"start": "2020-01-01T00:00", "end": "2026-01-01T00:00"}, "Search at most"),
        ({"substring": "ab"}, "at least 3 characters"),
        ({"range": "forever"}, "Select a valid choice"),
        ({"cluster": "not-a-cluster"}, "Select a valid choice"),
        ({"start": "yesterday"}, "Enter a valid date/time"),
    ],
)
def test_bad_queries_are_400_with_the_reason(client, world, params, message):
    response = page(client, world["operator"], **params)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_keyset_pages_continue_where_the_last_stopped(client, world):
    base = datetime.now(UTC) - timedelta(minutes=30)
    records = [
        loadgen.container_record("acme-web", "web-1", "web", f"line {n}", moment=base + timedelta(seconds=n))
        for n in range(230)
    ]
    assert send(client, world["token"], records).status_code == 200
    member = world["users"]["acme-dev"]
    first = page(client, member)
    assert shown(first)[0] == "line 229" and len(shown(first)) == 100
    seen = list(shown(first))
    url = re.search(r'hx-get="([^"]+cursor=[^"]+)"', first.content.decode()).group(1).replace("&amp;", "&")
    while url:
        response = client.get(url, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        seen += shown(response)
        found = re.search(r'hx-get="([^"]+cursor=[^"]+)"', response.content.decode())
        url = found.group(1).replace("&amp;", "&") if found else ""
    assert seen == [f"line {n}" for n in range(229, -1, -1)]


def test_the_histogram_counts_what_the_reader_may_see(client, world):
    seed(client, world)
    client.force_login(world["users"]["globex-dev"])
    body = histogram_of(client, client.get(reverse("logs:search"), {"range": "15m"}))
    assert "1 matching line" in body
    bars = re.findall(r"<title>[^<]*: (\d+)</title>", body)
    assert len(bars) == 40 and sum(map(int, bars)) == 1
    # Asked directly, for another tenant's namespace: nothing of it either.
    other = client.get(reverse("logs:histogram"), {"range": "15m", "namespace": "acme-web"}).content.decode()
    assert "0 matching lines" in other
    assert client.get(reverse("logs:histogram"), {"substring": "ab"}).status_code == 400
    client.force_login(world["stranger"])
    assert client.get(reverse("logs:histogram")).status_code == 403


def test_context_lines_around_a_hit_and_never_another_tenants(client, world):
    base = datetime.now(UTC) - timedelta(minutes=10)
    records = [
        loadgen.container_record("acme-web", "web-1", "web", f"step {n}", moment=base + timedelta(seconds=n))
        for n in range(20)
    ] + [loadgen.container_record("acme-web", "web-2", "web", "other pod", moment=base + timedelta(seconds=10))]
    send(client, world["token"], records)
    member = world["users"]["acme-dev"]
    response = page(client, member, q="10")
    link = re.search(r'hx-get="(/logs/context/\?line=[^"]+)"', response.content.decode()).group(1)
    context = client.get(link).content.decode()
    steps = re.findall(r"step (\d+)", context)
    assert steps == [str(n) for n in range(5, 16)]
    assert "other pod" not in context
    client.force_login(world["users"]["globex-dev"])
    assert client.get(link).status_code == 404
    assert client.get(reverse("logs:context"), {"line": "garbage"}).status_code == 400


def test_saved_searches_are_each_persons_own(client, world):
    member, other = world["users"]["acme-dev"], world["users"]["globex-dev"]
    client.force_login(member)
    response = client.post(reverse("logs:saved_search_add"), {"name": "errors", "query": "level=error&range=24h"})
    assert response.status_code == 302
    assert response["Location"] == reverse("logs:search") + "?level=error&range=24h"
    saved = SavedSearch.objects.get(user=member)
    assert "errors" in client.get(reverse("logs:search")).content.decode()
    assert client.post(reverse("logs:saved_search_add"), {"name": "", "query": "x"}).status_code == 400
    client.force_login(other)
    assert "errors" not in client.get(reverse("logs:search")).content.decode()
    assert client.get(reverse("logs:saved_search", args=[saved.pk])).status_code == 404
    assert client.post(reverse("logs:saved_search_delete", args=[saved.pk])).status_code == 404
    client.force_login(member)
    assert client.post(reverse("logs:saved_search_delete", args=[saved.pk])).status_code == 302
    assert not SavedSearch.objects.exists()


def test_partitions_are_made_ahead_and_dropped_after_the_retention(world, settings):
    store = PostgresStore()
    today = utc_day(datetime.now(UTC))
    old = today - timedelta(days=settings.LOGS_RETENTION_DAYS + 3)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {partition_name(old)} PARTITION OF logs_line FOR VALUES FROM (%s) TO (%s)",
            [old, old + timedelta(days=1)],
        )
    created, dropped = services.maintain_partitions()
    assert dropped == [old]
    days = store.partitions()
    assert days[0] == today - timedelta(days=settings.LOGS_RETENTION_DAYS - 1)
    assert days[-1] == today + timedelta(days=settings.LOGS_PARTITIONS_AHEAD)


def test_kubernetes_events_from_the_mirror_join_the_store_once(client, world):
    cluster = world["cluster"]
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for n, (namespace, kind) in enumerate((("acme-web", "Warning"), ("globex-shop", "Normal"))):
        MirroredObject.objects.create(
            cluster=cluster,
            kind="Event",
            api_version="v1",
            namespace=namespace,
            name=f"ev{n}",
            uid=f"u{n}",
            resource_version=str(n),
            phase=kind,
            object={
                "type": kind,
                "reason": "BackOff",
                "message": "Back-off restarting failed container",
                "involvedObject": {"kind": "Pod", "name": f"pod-{n}"},
                "lastTimestamp": now,
                "count": 3,
            },
        )
    assert services.import_events(cluster) == 2
    assert services.import_events(cluster) == 0
    stored = lines(source="event")
    assert [(e["namespace"], e["level"], e["pod"]) for e in stored] == [
        ("acme-web", "warn", "pod-0"),
        ("globex-shop", "info", "pod-1"),
    ]
    assert stored[0]["message"] == "BackOff Pod/pod-0: Back-off restarting failed container (x3)"
    response = page(client, world["users"]["acme-dev"], source="event")
    assert shown(response) == ["BackOff Pod/pod-0: Back-off restarting failed container (x3)"]
    # An event links to its namespace's logs around its time.
    around = re.search(r'href="([^"]+)" data-testid="logs-around"', response.content.decode()).group(1)
    assert "namespace=acme-web" in around and "start=" in around and "end=" in around
    assert client.get(around.replace("&amp;", "&")).status_code == 200


def test_operators_rotate_the_token_and_see_it_once(client, world):
    from console.oplog.models import OperationLogEntry
    from monitoring.logs.models import IngestToken

    client.force_login(world["operator"])
    response = client.post(reverse("logs:token_rotate", args=[world["cluster"].name]))
    assert response.status_code == 200
    token = re.search(r'data-testid="ingest-token">([^<]+)<', response.content.decode()).group(1)
    assert token.startswith("caaslog_")
    assert IngestToken.objects.get().token_hash == services.hash_token(token)
    assert token in response.content.decode().split('data-testid="fluentd-manifest"')[1]
    assert not IngestToken.objects.filter(token_hash__contains=token[8:20]).exists()
    assert OperationLogEntry.objects.filter(action="logs.token.rotate").count() == 2
    assert send(client, token, loadgen.sample_records(1)).status_code == 200
    manifest = client.get(reverse("logs:collector_manifest", args=[world["cluster"].name])).content.decode()
    assert "REPLACE-WITH-THE-CLUSTER-INGEST-TOKEN" in manifest and "kubernetes_metadata" in manifest
    assert token not in manifest
    client.force_login(world["auditor"])
    assert client.post(reverse("logs:token_rotate", args=[world["cluster"].name])).status_code == 403


def test_around_url_is_a_search_of_the_minutes_around_a_moment(client, world):
    seed(client, world)
    url = services.around_url(moment=datetime.now(UTC), cluster="c1", namespace="acme-web", pod="web-1")
    client.force_login(world["users"]["acme-dev"])
    response = client.get(url)
    assert response.status_code == 200
    assert len(shown(response)) == 2


def test_the_app_page_links_to_the_apps_logs(client, world):
    from ..factories import mk_app

    app = mk_app(world["project"], "web")
    client.force_login(world["users"]["acme-dev"])
    page = client.get(reverse("workloads:app", args=["acme", "acme-web", "web"])).content.decode()
    timeline = reverse("logs:app_timeline", args=["acme", "acme-web", app.name])
    assert f'href="{timeline}"' in page
    assert client.get(timeline).status_code == 200
