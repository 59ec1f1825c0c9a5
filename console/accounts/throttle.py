"""Sign-in throttling, counted before the password is checked.

Each attempt first reserves its place with an atomic increment in the shared cache (Redis
in production), so attempts sent in parallel cannot all pass a check made before any of
them was counted. Three limits (thresholds and their reasons: settings.py):

- username + address: LOGIN_MAX_FAILURES attempts, then back-off: one attempt per lock,
  each lock twice as long as the one before (LOGIN_LOCKOUT_SECONDS, at most
  LOGIN_LOCKOUT_MAX_SECONDS). This is the limit a person who mistypes meets, and it locks
  out nobody else, not even other users behind the same proxy.
- address, over all usernames: LOGIN_MAX_ATTEMPTS_PER_ADDRESS per window, against trying
  one password on many usernames.
- username, over all addresses: LOGIN_MAX_FAILURES_PER_USER per window, against guessing
  one account's password from many addresses.
"""

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

# INCRBY, and start the counter's window if it has none: one step, so that a counter never
# misses its expiry (Django's incr checks EXISTS first) and later attempts never extend it.
COUNT_SCRIPT = """
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return count
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int = 0  # seconds, when refused


@dataclass(frozen=True)
class Keys:
    pair: str
    lock: str
    address: str
    user: str


def _keys(username, source_ip):
    user = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    address = source_ip or "unknown"
    return Keys(
        f"login:pair:{user}:{address}", f"login:lock:{user}:{address}", f"login:ip:{address}", f"login:user:{user}"
    )


def _count(key, window, delta=1):
    """Add delta to a counter that lives `window` seconds from its first count; the new value."""
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        full_key = cache.make_and_validate_key(key)
        return int(cache._cache.get_client(full_key, write=True).eval(COUNT_SCRIPT, 1, full_key, delta, window))
    # The embedded mode's memory cache serves one process and locks each call: add + incr do.
    if cache.add(key, delta, timeout=window):
        return delta
    try:
        return cache.incr(key, delta)
    except ValueError:  # expired in between
        cache.add(key, delta, timeout=window)
        return delta


def lock_seconds(attempts):
    """The lock set by the attempt number `attempts` of a username + address, once past the free ones."""
    doublings = min(attempts - settings.LOGIN_MAX_FAILURES, 30)
    return min(settings.LOGIN_LOCKOUT_SECONDS * 2**doublings, settings.LOGIN_LOCKOUT_MAX_SECONDS)


def _until(timestamp):
    return max(math.ceil(timestamp - time.time()), 1)


def reserve(username, source_ip):
    """Count one sign-in attempt before its password is checked. A refused attempt must not
    be checked at all; an allowed one that succeeds calls `succeeded`."""
    cache, keys = caches["default"], _keys(username, source_ip)
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    locked_until = cache.get(keys.lock)
    if locked_until:
        return Decision(False, _until(locked_until))
    attempts = _count(keys.pair, window)
    if attempts >= settings.LOGIN_MAX_FAILURES:
        # The last free attempt, or the one allowed after a lock: it sets the next lock
        # before going ahead, and of attempts racing for it only the one whose add() wins goes.
        duration = lock_seconds(attempts)
        if not cache.add(keys.lock, time.time() + duration, timeout=duration):
            return Decision(False, _until(cache.get(keys.lock) or time.time() + duration))
        # Keep the count past the lock, so that failing again after it waits twice as long.
        cache.touch(keys.pair, duration + window)
    # Only attempts that passed their own username + address limit count towards the wider
    # ones, so one person hammering a locked account does not fill them for everybody.
    if _count(keys.address, window) > settings.LOGIN_MAX_ATTEMPTS_PER_ADDRESS:
        return Decision(False, window)
    if _count(keys.user, window) > settings.LOGIN_MAX_FAILURES_PER_USER:
        return Decision(False, window)
    return Decision(True)


def succeeded(username, source_ip):
    """A right password: this username + address starts afresh, and the attempt is taken
    off the username's count (it was no failure). The address keeps its count: a signed-in
    account must not buy an address more guesses at other usernames."""
    cache, keys = caches["default"], _keys(username, source_ip)
    cache.delete_many([keys.pair, keys.lock])
    _count(keys.user, settings.LOGIN_FAILURE_WINDOW_SECONDS, delta=-1)
