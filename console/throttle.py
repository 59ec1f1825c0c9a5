"""Sign-in throttling: too many failures for one username or one address lock it out
for a while. Counters live in the shared cache (Redis in production)."""

import hashlib

from django.conf import settings
from django.core.cache import cache


def _keys(username, source_ip):
    user_digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    return [f"login-fail:user:{user_digest}", f"login-fail:ip:{source_ip or 'unknown'}"]


def is_locked_out(username, source_ip):
    counts = cache.get_many(_keys(username, source_ip))
    return any(count >= settings.LOGIN_MAX_FAILURES for count in counts.values())


def note_failure(username, source_ip):
    for key in _keys(username, source_ip):
        # add() starts the window; incr() never extends it.
        if not cache.add(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS)


def clear_user(username):
    cache.delete(_keys(username, None)[0])
