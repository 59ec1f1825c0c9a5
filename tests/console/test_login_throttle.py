"""Sign-in throttling: attempts are counted before the password is checked (parallel
guesses cannot slip through), locks are per username + address with a growing back-off,
and wider ceilings per address and per username stop spraying and distributed guessing."""

import threading
import time

import pytest
from django.contrib.auth.backends import ModelBackend
from django.db import connection
from django.test import Client
from django.urls import reverse

from ..factories import PASSWORD, mk_user

LOGIN_URL = reverse("console:login")


def client_at(address):
    return Client(HTTP_ACCEPT_LANGUAGE="en", REMOTE_ADDR=address)


@pytest.fixture
def checked_passwords(monkeypatch):
    """How many times a password was really checked (the backend's authenticate ran)."""
    calls, lock = [], threading.Lock()
    original = ModelBackend.authenticate

    def counting(self, request, username=None, password=None, **kwargs):
        with lock:
            calls.append(username)
        return original(self, request, username=username, password=password, **kwargs)

    monkeypatch.setattr(ModelBackend, "authenticate", counting)
    return calls


@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_passwords_are_checked_at_most_max_failures_times(checked_passwords, settings):
    mk_user("op", "operator")
    start = threading.Barrier(50)
    statuses, lock = [], threading.Lock()

    def guess(i):
        client = client_at("203.0.113.5")
        start.wait()
        status = client.post(LOGIN_URL, {"username": "op", "password": f"guess-{i}"}).status_code
        with lock:
            statuses.append(status)
        connection.close()

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(checked_passwords) <= settings.LOGIN_MAX_FAILURES
    assert statuses.count(401) == len(checked_passwords)
    assert statuses.count(429) == 50 - len(checked_passwords)
    # ...and the right password from there is refused too, unchecked, while the lock lasts.
    assert client_at("203.0.113.5").post(LOGIN_URL, {"username": "op", "password": PASSWORD}).status_code == 429
    assert len(checked_passwords) <= settings.LOGIN_MAX_FAILURES


@pytest.mark.django_db
def test_another_user_behind_the_same_address_is_not_locked_out(settings):
    mk_user("op", "operator")
    mk_user("colleague")
    office = client_at("198.51.100.1")
    for _ in range(settings.LOGIN_MAX_FAILURES + 3):
        office.post(LOGIN_URL, {"username": "op", "password": "wrong"})
    assert office.post(LOGIN_URL, {"username": "op", "password": PASSWORD}).status_code == 429
    assert client_at("198.51.100.1").post(LOGIN_URL, {"username": "colleague", "password": PASSWORD}).status_code == 302
    # op's own account is not locked from elsewhere either: the lock is per username + address.
    assert client_at("198.51.100.2").post(LOGIN_URL, {"username": "op", "password": PASSWORD}).status_code == 302


@pytest.mark.django_db
def test_back_off_doubles_after_each_failure_past_the_limit(settings):
    mk_user("op", "operator")
    settings.LOGIN_MAX_FAILURES, settings.LOGIN_LOCKOUT_SECONDS, settings.LOGIN_LOCKOUT_MAX_SECONDS = 2, 1, 2
    client = client_at("192.0.2.9")
    waits = []
    for attempt in range(3):
        # the free attempts first, then one attempt each time the lock has ended
        for _ in range(settings.LOGIN_MAX_FAILURES if attempt == 0 else 1):
            assert client.post(LOGIN_URL, {"username": "op", "password": "wrong"}).status_code == 401
        refused = client.post(LOGIN_URL, {"username": "op", "password": PASSWORD})
        assert refused.status_code == 429
        waits.append(int(refused["Retry-After"]))
        time.sleep(waits[-1] + 0.1)
    assert waits == [1, 2, 2]  # doubling, capped
    # after the lock the right password gets in, and the slate is clean again
    assert client.post(LOGIN_URL, {"username": "op", "password": PASSWORD}).status_code == 302
    for _ in range(settings.LOGIN_MAX_FAILURES - 1):
        assert client.post(LOGIN_URL, {"username": "op", "password": "wrong"}).status_code == 401


@pytest.mark.django_db
def test_success_clears_the_username_and_address_counter(settings):
    mk_user("op", "operator")
    client = client_at("192.0.2.10")
    for _round in range(3):
        for _ in range(settings.LOGIN_MAX_FAILURES - 1):
            assert client.post(LOGIN_URL, {"username": "op", "password": "wrong"}).status_code == 401
        assert client.post(LOGIN_URL, {"username": "op", "password": PASSWORD}).status_code == 302
        client.logout()


@pytest.mark.django_db
def test_one_address_spraying_many_usernames_meets_the_address_ceiling(settings):
    settings.LOGIN_MAX_ATTEMPTS_PER_ADDRESS = 6
    mk_user("op", "operator")
    sprayer = client_at("198.51.100.66")
    for i in range(6):
        assert sprayer.post(LOGIN_URL, {"username": f"user{i}", "password": "Summer2024!"}).status_code == 401
    assert sprayer.post(LOGIN_URL, {"username": "op", "password": PASSWORD}).status_code == 429
    assert client_at("198.51.100.67").post(LOGIN_URL, {"username": "op", "password": PASSWORD}).status_code == 302


@pytest.mark.django_db
def test_guessing_one_account_from_many_addresses_meets_the_username_ceiling(settings):
    settings.LOGIN_MAX_FAILURES_PER_USER = 6
    mk_user("op", "operator")
    for i in range(6):
        assert client_at(f"10.1.0.{i}").post(LOGIN_URL, {"username": "op", "password": f"guess{i}"}).status_code == 401
    response = client_at("10.1.0.99").post(LOGIN_URL, {"username": "op", "password": PASSWORD})
    assert response.status_code == 429
    assert int(response["Retry-After"]) == settings.LOGIN_FAILURE_WINDOW_SECONDS
    mk_user("other")
    assert client_at("10.1.0.99").post(LOGIN_URL, {"username": "other", "password": PASSWORD}).status_code == 302
