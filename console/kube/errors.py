"""What can go wrong talking to a cluster, as typed errors the UI can explain.

A failure to reach or use a cluster is a `ClusterError` with a `reason`: malformed, unsafe,
unknown_context, address, unreachable, tls, unauthorized, forbidden, error. A request the API
server refused with a Status (404, 409, 422, 403 exceeded quota, ...) is an `ApiRefused`
in the cluster's own words.
"""

import json
import logging
import ssl
from collections.abc import Callable
from typing import TypeVar

import urllib3
from django.utils.translation import gettext_lazy as _
from kubernetes.client.exceptions import ApiException

log = logging.getLogger(__name__)

REASON_MESSAGES = {
    "malformed": _("The kubeconfig is not valid: %(detail)s"),
    "unsafe": _("The console does not accept this kubeconfig: %(detail)s"),
    "unknown_context": _("The kubeconfig has no context named %(detail)s."),
    "address": _("The console may not connect to this API server: %(detail)s"),
    # One text for refused, timed out, no route and unknown names: the console must not
    # tell which ports of which hosts are open (the details go to the server log).
    "unreachable": _("The API server could not be reached."),
    "tls": _("The TLS connection to the API server failed (certificate or CA mismatch): %(detail)s"),
    "unauthorized": _("The API server did not accept these credentials (401 Unauthorized)."),
    "forbidden": _("These credentials are not allowed to read the cluster (403 Forbidden): %(detail)s"),
    "error": _("The API server answered with an error: %(detail)s"),
}
NOT_ANSWERING = _("The cluster is not answering; the console tries again in a few seconds.")

T = TypeVar("T")


class ClusterError(Exception):
    def __init__(self, reason: str, detail: object = "", message: object = None) -> None:
        self.reason = reason
        self.detail = str(detail)[:500]
        super().__init__(str(message or REASON_MESSAGES[reason] % {"detail": self.detail}))


class WatchExpired(Exception):
    """410 Gone: the resourceVersion is too old; list again."""


class ApiRefused(Exception):
    """The API server answered with a failure Status (404, 409, 422, 403 exceeded quota, ...).
    `message` is Kubernetes' own text, which is what the user should read."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        self.status, self.reason, self.message = status, reason, message
        super().__init__(message)


def refused(status: int, data: bytes) -> Exception:
    """The error for a failure answer: an ApiException for 401 (translate_errors makes it a
    ClusterError, since it is about the console's credentials), else an ApiRefused."""
    if status == 401:
        return ApiException(status=401, reason="Unauthorized")
    try:
        body = json.loads(data)
    except ValueError:
        body = {}
    return ApiRefused(status, body.get("reason", ""), body.get("message") or data.decode(errors="replace")[:500])


def translate_errors(call: Callable[[], T]) -> T:
    """Run a client call; turn transport and HTTP errors into ClusterError."""
    try:
        return call()
    except ApiException as exc:
        if exc.status == 401:
            raise ClusterError("unauthorized") from None
        if exc.status == 403:
            raise ClusterError("forbidden", _status_message(exc)) from None
        if exc.status == 410:
            raise WatchExpired(_status_message(exc)) from None
        if not exc.status:  # the client's own wrapping of a TLS failure
            raise transport_error(exc) from None
        raise ClusterError("error", f"{exc.status} {_status_message(exc)}") from None
    except urllib3.exceptions.MaxRetryError as exc:
        raise transport_error(exc.reason) from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise transport_error(exc) from None


def transport_error(exc: BaseException | None) -> ClusterError:
    """The ClusterError for a connection that failed: a timeout, a certificate, or unreachable."""
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError):
        return ClusterError("unreachable", exc, message=NOT_ANSWERING)
    problem = _certificate_problem(exc)
    if problem:
        return ClusterError("tls", problem)
    log.info("API server unreachable: %s", exc)
    return ClusterError("unreachable", exc)


def _certificate_problem(exc: object) -> str | None:
    """What is wrong with the server's certificate, when that is why the connection failed."""
    seen = set()
    while isinstance(exc, BaseException) and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ssl.SSLCertVerificationError):
            return exc.verify_message or "certificate verify failed"
        if isinstance(exc, ApiException) and "CERTIFICATE_VERIFY_FAILED" in str(exc.reason):
            return "certificate verify failed"
        inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
        exc = inner or exc.__cause__ or exc.__context__
    return None


def _status_message(exc: ApiException) -> str:
    try:
        return json.loads(exc.body).get("message", exc.reason)
    except (TypeError, ValueError, AttributeError):
        return exc.reason or ""
