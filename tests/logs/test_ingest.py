"""The ingest endpoint: every collector format, the refusals (each counted on the cluster
page), the push-back of a slow database, and what it never does (record each batch in the
operation log, keep half a batch)."""

import gzip
import json
import threading
import tracemalloc
from datetime import UTC, datetime, timedelta

import msgpack
import psycopg2
import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.urls import reverse

from console.oplog.models import OperationLogEntry
from monitoring.logs import ingest, services
from monitoring.logs.models import IngestCounter, UnknownTokenCounter

from .conftest import lines, loadgen, post_raw, send

pytestmark = pytest.mark.django_db


def counter(cluster, outcome):
    row = IngestCounter.objects.filter(cluster=cluster, outcome=outcome).first()
    return row.count if row else 0


@pytest.mark.parametrize(
    ("fmt", "compress"),
    [(fmt, compress) for fmt in loadgen.FORMATS for compress in (False, True)][1::2] + [("json", False)],
)
def test_every_collector_format_is_stored_with_its_metadata(client, world, fmt, compress):
    records = [
        loadgen.container_record("acme-web", "web-1", "web", "ERROR payment timeout"),
        loadgen.container_record("acme-web", "web-1", "web", "GET / 200"),
        loadgen.container_record("globex-shop", "shop-1", "app", "level=warn slow", app="shop"),
        loadgen.component_record("kube-apiserver", "I0102 15:04:05.000000 1 trace.go:1] done"),
    ]
    response = send(client, world["token"], records, fmt, compress=compress)
    assert response.status_code == 200, response.content
    assert json.loads(response.content) == {"stored": 4}
    stored = lines()
    assert [line["message"] for line in stored] == [
        "ERROR payment timeout",
        "GET / 200",
        "level=warn slow",
        "I0102 15:04:05.000000 1 trace.go:1] done",
    ]
    first, _second, third, component = stored
    assert (first["namespace"], first["pod"], first["container"], first["app"]) == ("acme-web", "web-1", "web", "web")
    assert first["tenant_id"] == world["acme"].pk and third["tenant_id"] == world["globex"].pk
    assert [line["level"] for line in stored] == ["error", "", "warn", "info"]
    assert (component["source"], component["app"], component["namespace"], component["tenant_id"]) == (
        "component",
        "kube-apiserver",
        "",
        None,
    )
    assert counter(world["cluster"], "accepted") == 4


@pytest.mark.parametrize("fmt", ["fluentbit-msgpack", "fluentbit-json", "json"])
def test_event_time_is_kept(client, world, fmt):
    """fluentd: the record's `time`; Fluent Bit json: `date` (epoch seconds); Fluent Bit msgpack:
    no time in the record, an EventTime (msgpack extension type 0) beside it."""
    moment = datetime.now(UTC) - timedelta(hours=3)
    records = [loadgen.container_record("acme-web", "web-1", "web", "then", moment=moment)]
    assert send(client, world["token"], records, fmt).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT ts FROM logs_line")
        (ts,) = cursor.fetchone()
    assert abs(ts - moment) < timedelta(milliseconds=1)


def test_ingest_batches_are_not_person_changes_in_the_operation_log(client, world):
    before = OperationLogEntry.objects.count()
    assert send(client, world["token"], loadgen.sample_records(5)).status_code == 200
    assert send(client, "wrong", loadgen.sample_records(5)).status_code == 401
    assert OperationLogEntry.objects.count() == before


@pytest.mark.parametrize("token", [None, "", "caaslog_not-a-token"])
def test_unknown_or_missing_token_is_401_and_counted(client, world, token):
    response = send(client, token, loadgen.sample_records(3))
    assert response.status_code == 401
    assert "token" in json.loads(response.content)["error"]
    assert UnknownTokenCounter.objects.get(pk=1).count == 1
    assert lines() == []


def test_a_rotated_token_stops_working(client, world):
    new = services.rotate_token(world["cluster"], acting_user=world["operator"])
    assert send(client, world["token"], loadgen.sample_records(1)).status_code == 401
    assert send(client, new, loadgen.sample_records(1)).status_code == 200


BAD_BODIES = [
    (b'[{"log": "a"}, {"log": ', {"Content-Type": "application/json"}, 400, "malformed", "not valid JSON"),
    (b'{"log": "a"}\n{"log": "b"\n', {"Content-Type": "application/x-ndjson"}, 400, "malformed", "Line 2"),
    (b'{"log": "a"}\n[1, 2]\n', {"Content-Type": "application/x-ndjson"}, 400, "malformed", "Line 2"),
    (b'[{"stream": "stdout"}]', {"Content-Type": "application/json"}, 400, "malformed", "no log text"),
    (b"[1, 2]", {"Content-Type": "application/json"}, 400, "malformed", "not an object"),
    (b"\xc1\xc1\xc1", {"Content-Type": "application/x-msgpack"}, 400, "malformed", "MessagePack"),
    (msgpack.packb({"log": "a"})[:-1], {"Content-Type": "application/x-msgpack"}, 400, "malformed", "truncated"),
    # Nested data is not measured (rows() keeps none of it), but what the parser cannot take is refused.
    (b"[" * 100_000 + b"]" * 100_000, {"Content-Type": "application/json"}, 400, "malformed", "nested"),
    (
        b'{"log": "a"}\n' + b"[" * 100_000 + b"]" * 100_000,
        {"Content-Type": "application/x-ndjson"},
        400,
        "malformed",
        "nested",
    ),
    (b"log=a", {"Content-Type": "text/plain"}, 415, "unsupported", "not supported"),
    (b"not gzip", {"Content-Type": "application/json", "Content-Encoding": "gzip"}, 400, "malformed", "gzip"),
    (
        gzip.compress(b'[{"log": "a"}]')[:-6],
        {"Content-Type": "application/json", "Content-Encoding": "gzip"},
        400,
        "malformed",
        "truncated",
    ),
    (b"[]", {"Content-Type": "application/json", "Content-Encoding": "br"}, 415, "unsupported", "br"),
]


def test_bad_batches_get_a_clear_4xx_store_nothing_and_are_counted(client, world):
    expected = {}
    for body, headers, status, outcome, words in BAD_BODIES:
        response = post_raw(client, world["token"], body, headers)
        assert response.status_code == status, (body[:40], response.content)
        assert words in json.loads(response.content)["error"], (body[:40], response.content)
        expected[outcome] = expected.get(outcome, 0) + 1
        assert counter(world["cluster"], outcome) == expected[outcome]
    assert lines() == []
    good = [{"log": "good line", "kubernetes": {"namespace_name": "acme-web", "pod_name": "p"}}]
    assert send(client, world["token"], good).status_code == 200


def test_a_lone_utf16_surrogate_is_stored_as_a_replacement_character(client, world):
    """JSON may escape half of a UTF-16 pair; PostgreSQL stores no such text. The line is kept
    (the COPY used to fail, and the batch was answered 429 on every retry)."""
    body = (
        b'[{"log": "half \\ud83d of a pair", "kubernetes": {"namespace_name": "acme-web"}},'
        b' {"log": "a whole \\ud83d\\ude00 pair", "kubernetes": {"namespace_name": "acme-web"}}]'
    )
    response = post_raw(client, world["token"], body, {"Content-Type": "application/json"})
    assert response.status_code == 200, response.content
    assert [line["message"] for line in lines()] == ["half \ufffd of a pair", "a whole \U0001f600 pair"]


def test_a_batch_with_one_oversized_line_is_refused_whole(client, world):
    records = loadgen.sample_records(3) + [
        loadgen.container_record("acme-web", "p", "c", "x" * (settings.LOGS_MAX_LINE_BYTES + 1))
    ]
    response = send(client, world["token"], records)
    assert response.status_code == 413
    assert "Record 4 is longer than" in json.loads(response.content)["error"]
    assert counter(world["cluster"], "oversized") == 1
    assert lines() == []


@override_settings(LOGS_INGEST_MAX_DECOMPRESSED_BYTES=64 * 1024)
def test_a_gzip_bomb_stops_at_the_decompressed_limit(client, world):
    bomb = gzip.compress(b"[" + b" " * (50 * 1024 * 1024) + b"]")  # 50 MB of spaces: ~50 KB gzipped
    assert len(bomb) < settings.LOGS_INGEST_MAX_BODY_BYTES
    response = post_raw(client, world["token"], bomb, {"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert "inflates to more than" in json.loads(response.content)["error"]
    assert counter(world["cluster"], "too_large") == 1


@override_settings(LOGS_INGEST_MAX_BODY_BYTES=1024)
def test_a_body_over_the_limit_is_413_before_anything_is_decoded(client, world):
    body, headers = loadgen.encode(loadgen.sample_records(50), "json")
    assert len(body) > 1024
    response = post_raw(client, world["token"], body, headers)
    assert response.status_code == 413
    assert counter(world["cluster"], "too_large") == 1


@override_settings(LOGS_INGEST_DB_TIMEOUT_SECONDS=0.3, LOGS_INGEST_RETRY_AFTER_SECONDS=7)
def test_a_slow_database_answers_429_with_retry_after_and_keeps_nothing(client, world):
    """Another session holds the line table (as a long maintenance would): the batch is not
    dropped, the collector is told to come back, and it is stored when it does."""
    params = connection.get_connection_params()
    blocker = psycopg2.connect(**params)
    try:
        with blocker.cursor() as cursor:
            cursor.execute("BEGIN; LOCK TABLE logs_line IN ACCESS EXCLUSIVE MODE")
            response = send(client, world["token"], loadgen.sample_records(10))
        assert response.status_code == 429
        assert response["Retry-After"] == "7"
        assert "retry later" in json.loads(response.content)["error"]
        assert counter(world["cluster"], "busy") == 1
    finally:
        blocker.rollback()
        blocker.close()
    assert lines() == []
    assert send(client, world["token"], loadgen.sample_records(10)).status_code == 200
    assert len(lines()) == 10


def test_a_saturated_process_answers_429(client, world, monkeypatch):
    full = threading.BoundedSemaphore(1)
    full.acquire()
    monkeypatch.setattr(services, "_slots", full)
    monkeypatch.setattr(services, "SLOT_WAIT_SECONDS", 0.05)
    response = send(client, world["token"], loadgen.sample_records(2))
    assert response.status_code == 429
    assert response["Retry-After"] == str(settings.LOGS_INGEST_RETRY_AFTER_SECONDS)
    assert counter(world["cluster"], "busy") == 1


def test_a_malformed_batch_is_refused_even_when_the_process_is_saturated(client, world, monkeypatch):
    """A batch is read and checked before it waits for a write slot: the collector learns at
    once that retrying will not help."""
    full = threading.BoundedSemaphore(1)
    full.acquire()
    monkeypatch.setattr(services, "_slots", full)
    monkeypatch.setattr(services, "SLOT_WAIT_SECONDS", 0.05)
    response = post_raw(client, world["token"], b'[{"stream": "stdout"}]', {"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "no log text" in json.loads(response.content)["error"]
    assert (counter(world["cluster"], "malformed"), counter(world["cluster"], "busy")) == (1, 0)


def test_lines_past_the_retention_are_left_out_and_counted(client, world):
    old = datetime.now(UTC) - timedelta(days=settings.LOGS_RETENTION_DAYS + 2)
    records = [
        loadgen.container_record("acme-web", "p", "c", "ancient", moment=old),
        loadgen.container_record("acme-web", "p", "c", "fresh"),
    ]
    assert send(client, world["token"], records).status_code == 200
    assert [line["message"] for line in lines()] == ["fresh"]
    assert counter(world["cluster"], "expired") == 1


def test_the_cluster_page_shows_the_token_and_the_counters(client, world):
    send(client, world["token"], loadgen.sample_records(3))
    post_raw(client, world["token"], b"{", {"Content-Type": "application/json"})
    send(client, "nope", loadgen.sample_records(1))
    client.force_login(world["operator"])
    page = client.get(reverse("console:cluster", args=[world["cluster"].name])).content.decode()
    assert world["token"][:12] in page and world["token"] not in page
    assert 'data-outcome="accepted"' in page and 'data-outcome="malformed"' in page
    assert "Malformed batches" in page
    assert 'data-testid="unknown-tokens"' in page


def test_get_is_not_allowed(client, world):
    assert client.get(reverse("logs:ingest")).status_code == 405


# --- reading a batch: one record at a time ----------------------------------------------

JSON_LAYOUTS = [
    (b'[{"log": "a"},{"log": "b"}]', "application/json"),
    (b'  [\n  {"log": "a"},\n  {"log": "b"}\n]\n', "application/json"),
    (b'{"log": "a"}\n{"log": "b"}\n', "application/x-ndjson"),
    (b'{"log": "a"}\r\n\r\n{"log": "b"}', "application/x-ndjson"),
    (b'{"log": "a"}\n{"log": "b"}\n', "application/json"),  # Fluent Bit json_lines before 3.0
]


@pytest.mark.parametrize(("body", "kind"), JSON_LAYOUTS)
def test_every_json_layout_a_collector_sends_is_read(body, kind):
    assert [record["log"] for record in ingest.records(body, kind)] == ["a", "b"]


@pytest.mark.parametrize("body", [b"", b"[]", b" [ ] \n", b"\n\n"])
def test_an_empty_json_batch_has_no_records(body):
    assert list(ingest.records(body, "application/json")) == []


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'[\n {"log": "a"},\n {"log": "b"\n]', "Line 4: This is not valid JSON: Expecting ',' delimiter"),
        (b'[{"log": "a"} {"log": "b"}]', "Line 1: This is not valid JSON: Expecting ',' delimiter"),
        (b'[{"log": "a"},]', "Line 1: This is not valid JSON: Expecting value"),
        (b'[{"log": "a"}]\n x', "Line 2: This is not valid JSON: Extra data"),
        # ndjson: the line the record starts on
        (b'{"log": "a"}\n{"log": "b"} {"log": "c"}\n', "Line 2: This is not valid JSON: Extra data"),
        (b'{"log": "a"}\n\n{"log": \n', "Line 3: This is not valid JSON: Expecting value"),
        (b'{"log": "a"}\n"text"\n', "Line 2: This line is not a JSON object."),
        (b'{"log": "a"}\n{"log": "\xff"}\n', "Line 2: The document is not UTF-8 text."),
    ],
)
def test_a_malformed_json_batch_names_the_line(body, words):
    with pytest.raises(ingest.IngestError) as refused:
        list(ingest.records(body, "application/json"))
    assert (refused.value.status, refused.value.outcome) == (400, "malformed")
    assert words in refused.value.message


@pytest.mark.parametrize("fmt", ["json", "ndjson", "msgpack"])
def test_records_are_read_one_at_a_time(fmt):
    """What rows() has not asked for yet is not parsed yet: a broken second record is found
    only when it is reached."""
    body, headers = loadgen.encode([{"log": "first"}, {"log": "second"}], fmt)
    reader = ingest.records(body[:-3], headers["Content-Type"])
    assert next(reader) == {"log": "first"}
    with pytest.raises(ingest.IngestError):
        next(reader)


@pytest.mark.parametrize("fmt", ["json", "ndjson", "msgpack"])
def test_a_batch_is_never_held_as_parsed_records_all_at_once(fmt):
    """rows() makes each row before the next record is parsed, so the batch's thousands of
    dicts are not alive together (in the web process, holding them set off full garbage
    collections of its heap every few batches). Measured by the peak memory of reading."""
    body, headers = loadgen.encode(loadgen.sample_records(2000, seed=1), fmt)
    kind = headers["Content-Type"]

    def peak(work):
        tracemalloc.start()
        try:
            work()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    held = peak(lambda: list(ingest.records(body, kind)))
    streamed = peak(lambda: ingest.rows(ingest.records(body, kind), cluster_id=1, tenants={}))
    assert streamed < 0.6 * held, (streamed, held)


def test_fluent_bit_event_times_are_read():
    moment = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
    seconds = int(moment.timestamp())
    assert ingest.parse_time(msgpack.ExtType(0, seconds.to_bytes(4, "big") + (123456789).to_bytes(4, "big"))) == moment
    assert ingest.parse_time(loadgen.event_time(seconds + 0.5)) == moment.replace(microsecond=500000)
    assert ingest.parse_time(msgpack.ExtType(0, b"\x00" * 7)) is None
    assert ingest.parse_time(msgpack.ExtType(5, b"\x00" * 8)) is None
    assert ingest.parse_time(msgpack.ExtType(0, b"\x00\x00\x00\x01\xff\xff\xff\xff")) is None  # nanoseconds past 1e9
