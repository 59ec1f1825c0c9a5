"""Outage handling pieces: what counts as PostgreSQL or Redis being away, the log filter that
turns every traceback about it into one warning, and the bounded request threads."""

import asyncio
import logging
import threading
import time

import psycopg2
import pytest
import redis
from asgiref.sync import sync_to_async
from django.db import OperationalError, connection
from django.utils import translation

from console import outages
from console.request_threads import RequestThreads

from ..live import free_port, run_async


@pytest.fixture(autouse=True)
def no_outage_state():
    outages._down.clear()
    yield
    outages._down.clear()


def test_unreachable_servers_are_outages_refused_statements_are_not(db):
    with pytest.raises(psycopg2.OperationalError) as refused:
        psycopg2.connect(host="127.0.0.1", port=free_port(), user="postgres", connect_timeout=2)
    assert outages.outage_of(refused.value) == "database"
    wrapped = OperationalError("wrapped")
    wrapped.__cause__ = refused.value  # as Django wraps the driver's errors
    assert outages.outage_of(wrapped) == "database"

    with pytest.raises(OperationalError) as cancelled, connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 1; SELECT pg_sleep(1)")
    assert outages.outage_of(cancelled.value) is None  # a statement timeout: the server is there

    with pytest.raises(redis.exceptions.ConnectionError) as gone:
        redis.Redis(port=free_port(), socket_connect_timeout=2).ping()
    assert outages.outage_of(gone.value) == "redis"
    assert outages.outage_of(ValueError("no")) is None


def test_the_log_filter_says_it_once_and_says_when_it_is_back(caplog, settings):
    real_redis = settings.REDIS_URL
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # away, for the probe
    logger = logging.getLogger("test.outages")
    handler = logging.Handler()
    seen = []
    handler.emit = seen.append
    handler.addFilter(outages.OutageLogFilter())
    logger.addHandler(handler)
    try:
        gone = redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused.")
        with caplog.at_level(logging.WARNING, logger="console.outages"):
            for _ in range(5):
                try:
                    raise gone
                except redis.exceptions.ConnectionError:
                    logger.exception("push failed")
                logger.warning("retrying after %s", gone)
            logger.error("something else")
            assert not outages.wait_until_back("redis", 1)
            settings.REDIS_URL = real_redis  # back
            assert outages.wait_until_back("redis", 15)
            time.sleep(0.1)
    finally:
        logger.removeHandler(handler)
    assert [r.getMessage() for r in seen] == ["something else"]  # the outage's records gave way
    messages = [r.getMessage() for r in caplog.records if r.name == "console.outages"]
    assert len(messages) == 2 and "Redis is unavailable" in messages[0] and "Redis is back after" in messages[1], (
        messages
    )


def test_requests_share_a_fixed_set_of_threads_one_each_for_its_whole_life():
    running, most, threads_of = 0, 0, {}
    lock = threading.Lock()

    def work(n):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        threads_of.setdefault(n, set()).add(threading.current_thread().name)

    async def app(scope, receive, send):
        for _ in range(3):  # like middleware, view and template: thread-sensitive calls
            await sync_to_async(work)(scope["n"])

    async def main():
        pool = RequestThreads(app, 3)
        await asyncio.gather(*(pool({"type": "http", "n": n}, None, None) for n in range(12)))

    run_async(main())
    assert most == 3
    assert all(len(names) == 1 for names in threads_of.values())  # one thread (one connection) per request
    assert len(set().union(*threads_of.values())) == 3


def test_a_connection_that_died_in_an_outage_already_over_is_not_news(caplog):
    with caplog.at_level(logging.WARNING, logger="console.outages"):
        assert outages.noticed("redis", redis.exceptions.ConnectionError("Connection closed by server."))
        assert outages.wait_until_back("redis", 15)  # the machine's Redis answers at once
    assert not [r for r in caplog.records if r.name == "console.outages"]


def test_a_page_meeting_an_outage_is_a_503_that_needs_no_database(db, rf, django_assert_num_queries):
    from console.views import errors

    request = rf.get("/clusters/")
    try:
        raise OperationalError("server closed the connection unexpectedly") from psycopg2.OperationalError("gone")
    except OperationalError:
        with django_assert_num_queries(0), translation.override("en"):
            response = errors.server_error(request)
    assert response.status_code == 503 and response["Retry-After"] == str(errors.OUTAGE_RETRY_AFTER)
    assert b"try again later" in response.content
