"""Logging filters, loaded by the logging configuration before the apps: no app imports here."""

import logging

from django.core.exceptions import PermissionDenied


class PermissionDeniedOneLine(logging.Filter):
    """A refused request (PermissionDenied, answered 403) is routine, and the operation log
    has it already: Django's request logger gets one line saying who and why, not a traceback."""

    def filter(self, record):
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, PermissionDenied):
            request = getattr(record, "request", None)
            user = getattr(request, "user", None)
            who = user.get_username() if user is not None and user.is_authenticated else "anonymous"
            record.msg = f"{record.msg} (user %s: %s)"
            record.args = (*(record.args or ()), who, " ".join(str(exc).split()) or "-")
            record.exc_info = record.exc_text = None
        return True
