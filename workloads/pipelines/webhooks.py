"""Push webhooks of GitLab, GitHub and Gitea: who sent one, whether it is authentic, and the
push it describes, from each provider's documented headers and payload.

- GitLab: `X-Gitlab-Token` is the secret itself; `X-Gitlab-Event: Push Hook`; the delivery is
  `Idempotency-Key` (GitLab 17.4+) or `X-Gitlab-Event-UUID`.
- GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`; `X-GitHub-Event:
  push` (`ping` when the hook is made); the delivery is `X-GitHub-Delivery`.
- Gitea: `X-Gitea-Signature: <hex HMAC-SHA256 of the raw body>`; `X-Gitea-Event: push`; the
  delivery is `X-Gitea-Delivery`.

Every comparison is constant-time and made over the bytes received, before the body is parsed
(then only through the hardened loader)."""

import hashlib
import hmac
from dataclasses import dataclass

from console import documents

from .choices import Provider

MAX_BODY = 1024 * 1024  # GitHub caps payloads at 25 MB, but a push of one branch is small
ZERO_SHA = "0" * 40


class Refused(Exception):
    """Not from the provider (no or wrong token or signature), or not a request it would send."""

    def __init__(self, status, reason):
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass
class Push:
    delivery_id: str
    event: str  # "push", "ping"
    branch: str = ""
    sha: str = ""
    message: str = ""
    author: str = ""
    pusher: str = ""  # the provider's user name of who pushed
    pusher_email: str = ""
    deleted: bool = False


def sign(secret: str, body: bytes) -> str:
    """The hex HMAC-SHA256 GitHub and Gitea compute over the body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def header(headers, name):
    return (headers.get(name) or "").strip()


def verify(provider: str, secret: str, headers, body: bytes) -> None:
    if len(body) > MAX_BODY:
        raise Refused(413, "body too large")
    if provider == Provider.GITLAB:
        given = header(headers, "X-Gitlab-Token")
        if not given:
            raise Refused(401, "no X-Gitlab-Token")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            raise Refused(403, "wrong X-Gitlab-Token")
    elif provider == Provider.GITHUB:
        given = header(headers, "X-Hub-Signature-256")
        if not given:
            raise Refused(401, "no X-Hub-Signature-256")
        algorithm, _, digest = given.partition("=")
        if algorithm != "sha256" or not hmac.compare_digest(digest.lower().encode(), sign(secret, body).encode()):
            raise Refused(403, "wrong X-Hub-Signature-256")
    elif provider == Provider.GITEA:
        given = header(headers, "X-Gitea-Signature")
        if not given:
            raise Refused(401, "no X-Gitea-Signature")
        if not hmac.compare_digest(given.lower().encode(), sign(secret, body).encode()):
            raise Refused(403, "wrong X-Gitea-Signature")
    else:
        raise Refused(404, "unknown provider")


def _text(value, limit=2000):
    return value[:limit] if isinstance(value, str) else ""


def parse(provider: str, headers, body: bytes) -> Push:
    """The push a verified request describes (Refused 400 for what no provider sends)."""
    if provider == Provider.GITLAB:
        delivery = header(headers, "Idempotency-Key") or header(headers, "X-Gitlab-Event-UUID")
        event = {"Push Hook": "push"}.get(header(headers, "X-Gitlab-Event"), header(headers, "X-Gitlab-Event"))
    elif provider == Provider.GITHUB:
        delivery, event = header(headers, "X-GitHub-Delivery"), header(headers, "X-GitHub-Event")
    else:
        delivery, event = header(headers, "X-Gitea-Delivery"), header(headers, "X-Gitea-Event")
    if not delivery or len(delivery) > 200:
        raise Refused(400, "no delivery id")
    if not event:
        raise Refused(400, "no event header")
    try:
        payload = documents.load_json(body.decode("utf-8"), max_bytes=MAX_BODY)
    except (UnicodeDecodeError, documents.DocumentError) as exc:
        raise Refused(400, f"body is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise Refused(400, "body is not a JSON object")
    push = Push(delivery_id=delivery, event=event)
    if event != "push":
        return push
    ref = payload.get("ref")
    if not isinstance(ref, str) or not ref.startswith("refs/"):
        raise Refused(400, "a push without a ref")
    push.branch = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else ""
    after = _text(payload.get("after"), 64)
    push.deleted = after == ZERO_SHA or payload.get("deleted") is True
    push.sha = _text(payload.get("checkout_sha"), 64) if provider == Provider.GITLAB else after
    push.sha = push.sha or after
    commits = [c for c in payload.get("commits") or [] if isinstance(c, dict)]
    head = payload.get("head_commit") if isinstance(payload.get("head_commit"), dict) else None
    head = head or next((c for c in commits if c.get("id") == push.sha), None) or (commits[-1] if commits else {})
    author = head.get("author") if isinstance(head.get("author"), dict) else {}
    push.message = _text(head.get("message"))
    push.author = " ".join(
        part for part in (_text(author.get("name"), 150), f"<{_text(author.get('email'), 150)}>") if part != "<>"
    )
    if provider == Provider.GITLAB:
        push.pusher = _text(payload.get("user_username"), 150) or _text(payload.get("user_name"), 150)
        push.pusher_email = _text(payload.get("user_email"), 200)
    else:
        pusher = payload.get("pusher") if isinstance(payload.get("pusher"), dict) else {}
        sender = payload.get("sender") if isinstance(payload.get("sender"), dict) else {}
        push.pusher = (
            _text(pusher.get("username"), 150)
            or _text(pusher.get("login"), 150)
            or _text(sender.get("login"), 150)
            or _text(pusher.get("name"), 150)
        )
        push.pusher_email = _text(pusher.get("email"), 200)
    if push.sha and (len(push.sha) < 7 or any(c not in "0123456789abcdef" for c in push.sha.lower())):
        raise Refused(400, "the pushed commit is not a commit id")
    return push
