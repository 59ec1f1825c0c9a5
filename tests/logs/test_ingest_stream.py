"""A batch sent without Content-Length (chunked) is capped while it arrives: the console's ASGI
stack stops reading one byte past LOGS_INGEST_MAX_BODY_BYTES and the endpoint answers 413 with
its JSON error, counted, nothing stored. Driven through the ASGI handler (counting what was
read) and over a real chunked HTTP request to daphne."""

import asyncio
import http.client
import json

import pytest
from asgiref.sync import async_to_sync
from django.core import signals
from django.core.handlers.asgi import ASGIHandler
from django.db import close_old_connections
from django.test import override_settings
from django.urls import reverse

from console.body_limits import BodyLimit
from monitoring.logs.models import IngestCounter
from tests import live

from .conftest import lines, loadgen

CHUNK = 64 * 1024


def counter(cluster, outcome):
    row = IngestCounter.objects.filter(cluster=cluster, outcome=outcome).first()
    return row.count if row else 0


def asgi_post(token, chunks, content_type="application/x-ndjson"):
    """POST `chunks` (bytes, one ASGI message each, no Content-Length) through BodyLimit and
    Django's ASGI handler. Returns (status, body, how many chunks were read)."""
    read = 0
    sent = []

    async def receive():
        nonlocal read
        if read == len(chunks):
            await asyncio.Event().wait()  # the client stays connected; no disconnect to report
        read += 1
        return {"type": "http.request", "body": chunks[read - 1], "more_body": read < len(chunks)}

    async def send(message):
        sent.append(message)

    path = reverse("logs:ingest")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"accept-language", b"en"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", content_type.encode()),
            (b"transfer-encoding", b"chunked"),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }
    # As Django's test client does: the request must not close the test's database connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        async_to_sync(BodyLimit(ASGIHandler()))(scope, receive, send)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    start = next(message for message in sent if message["type"] == "http.response.start")
    body = b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")
    return start["status"], body, read


@override_settings(LOGS_INGEST_MAX_BODY_BYTES=256 * 1024)
def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_cap(world):
    chunks = [b'{"log": "' + b"x" * (CHUNK - 12) + b'"}\n'] * 200  # 12.8 MB offered, 256 KB allowed
    status, body, read = asgi_post(world["token"], chunks)
    assert status == 413
    assert "larger than" in json.loads(body)["error"]
    # Read up to the chunk that passed the cap (5 x 64 KB > 256 KB), not one more.
    assert read == 5
    assert counter(world["cluster"], "too_large") == 1
    assert lines() == []


@override_settings(LOGS_INGEST_MAX_BODY_BYTES=256 * 1024)
def test_a_chunked_body_under_the_cap_is_stored(world):
    body, _headers = loadgen.encode(loadgen.sample_records(300, namespaces=("acme-web",)), "ndjson")
    assert 2 * CHUNK < len(body) < 256 * 1024
    chunks = [body[n : n + CHUNK] for n in range(0, len(body), CHUNK)]
    status, answer, read = asgi_post(world["token"], chunks)
    assert (status, json.loads(answer)) == (200, {"stored": 300})
    assert read == len(chunks)
    assert len(lines(namespace="acme-web")) == 300


def test_a_body_of_exactly_the_limit_is_taken(world):
    with override_settings(LOGS_INGEST_MAX_BODY_BYTES=1000):
        line = b'{"log": "edge", "kubernetes": {"namespace_name": "acme-web"}}\n'
        body = line * (1000 // len(line))
        body += b" " * (1000 - len(body))  # padding after the last line: exactly 1,000 bytes
        status, answer, _read = asgi_post(world["token"], [body[:500], body[500:]])
    assert status == 200, answer
    assert len(lines(namespace="acme-web")) == 1000 // len(line)


def test_the_console_asgi_application_caps_bodies():
    from console.asgi import application

    assert isinstance(application.application_mapping["http"], BodyLimit)


@pytest.mark.django_db(transaction=True)
def test_a_chunked_request_to_daphne_gets_413_and_nothing_is_stored(world, live_env):
    limit = 200 * 1024
    env = {**live_env, "LOGS_INGEST_MAX_BODY_BYTES": str(limit)}
    with live.daphne_server(env, "logs-chunked") as url:
        host, port = url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        connection.putrequest("POST", reverse("logs:ingest"))
        connection.putheader("Authorization", f"Bearer {world['token']}")
        connection.putheader("Accept-Language", "en")
        connection.putheader("Content-Type", "application/x-ndjson")
        connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        line = json.dumps(loadgen.container_record("acme-web", "web-1", "web", "y" * 1000)).encode() + b"\n"
        for _ in range(3 * limit // len(line)):
            connection.send(f"{len(line):x}\r\n".encode() + line + b"\r\n")
        connection.send(b"0\r\n\r\n")
        response = connection.getresponse()
        status, answer = response.status, response.read()
        connection.close()
        # Under the cap, the same chunked way: stored.
        small = http.client.HTTPConnection(host, int(port), timeout=30)
        small.putrequest("POST", reverse("logs:ingest"))
        small.putheader("Authorization", f"Bearer {world['token']}")
        small.putheader("Content-Type", "application/x-ndjson")
        small.putheader("Transfer-Encoding", "chunked")
        small.endheaders()
        small.send(f"{len(line):x}\r\n".encode() + line + b"\r\n0\r\n\r\n")
        stored = small.getresponse()
        stored_status, stored_answer = stored.status, stored.read()
        small.close()
    assert status == 413, answer
    assert "larger than" in json.loads(answer)["error"]
    assert counter(world["cluster"], "too_large") == 1
    assert (stored_status, json.loads(stored_answer)) == (200, {"stored": 1})
    assert [line["message"] for line in lines()] == ["y" * 1000]
