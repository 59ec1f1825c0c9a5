"""Notification channels: checking what operators and tenant admins configure, and sending
one message (a group of notifications) by email or to a webhook.

Webhooks and server-side request forgery: a channel's URL is chosen by a tenant admin, and
the console's workers sit next to PostgreSQL, Redis, the Kubernetes API and cloud metadata
services. So a webhook may only reach global (public) addresses; operators may allow more
networks with NOTIFICATION_WEBHOOK_ALLOWED_NETWORKS (an internal chat gateway, or loopback
in tests). The address is checked when the channel is saved (literal addresses and names
that resolve), and again at every send on the addresses the name resolves to then, and the
connection goes to the checked address (no second lookup that a DNS rebinding could
answer differently); redirects are not followed.
"""

import base64
import hashlib
import hmac
import ipaddress
import json
import socket
import time
import urllib.parse
from dataclasses import dataclass

import certifi
import urllib3
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from .models import ChannelKind

MAX_URL_LENGTH = 1000
MAX_ADDRESSES = 20
MAX_WECOM_BYTES = 4096
WEBHOOK_KINDS = (ChannelKind.WEBHOOK, ChannelKind.DINGTALK, ChannelKind.WECOM, ChannelKind.SLACK)


class DeliveryError(Exception):
    """A send that did not go through; the message is shown on the channel's page."""


# --- checking a channel's settings ---------------------------------------------------


def clean_addresses(text: str) -> list[str]:
    addresses = [part.strip() for part in text.replace(";", ",").replace("\n", ",").split(",") if part.strip()]
    if not addresses:
        raise ValidationError({"target": _("Give at least one email address.")})
    if len(addresses) > MAX_ADDRESSES:
        raise ValidationError({"target": _("At most %(count)s addresses per channel.") % {"count": MAX_ADDRESSES}})
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError(
                {"target": _("%(address)s is not an email address.") % {"address": address}}
            ) from None
    return addresses


def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(net, strict=False) for net in settings.NOTIFICATION_WEBHOOK_ALLOWED_NETWORKS]


def address_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if any(ip in net for net in allowed_networks()):
        return True
    return ip.is_global and not ip.is_multicast


def refused_address_message(host: str, address: str) -> str:
    if host.strip("[]") == address:
        return _(
            "%(address)s is an internal address: webhooks go to public addresses only, unless an operator allows "
            "the network (NOTIFICATION_WEBHOOK_ALLOWED_NETWORKS)."
        ) % {"address": address}
    return _(
        "%(host)s is %(address)s, an internal address: webhooks go to public addresses only, unless an operator "
        "allows the network (NOTIFICATION_WEBHOOK_ALLOWED_NETWORKS)."
    ) % {"host": host, "address": address}


def clean_url(url: str, kind: str) -> str:
    url = url.strip()
    if not url:
        raise ValidationError({"target": _("Give the webhook's URL.")})
    if len(url) > MAX_URL_LENGTH:
        raise ValidationError({"target": _("The URL is longer than %(count)s characters.") % {"count": MAX_URL_LENGTH}})
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValidationError({"target": _("This is not a URL.")}) from None
    if parts.scheme not in ("http", "https"):
        raise ValidationError({"target": _("The URL must start with https:// (or http://).")})
    host = parts.hostname
    if not host:
        raise ValidationError({"target": _("The URL names no host.")})
    if any(ch.isspace() for ch in url):
        raise ValidationError({"target": _("A URL has no spaces.")})
    if kind == ChannelKind.DINGTALK and "access_token=" not in (parts.query or ""):
        raise ValidationError(
            {"target": _("A DingTalk robot's URL carries its access_token (…/robot/send?access_token=…).")}
        )
    if kind == ChannelKind.WECOM and "key=" not in (parts.query or ""):
        raise ValidationError({"target": _("A WeCom robot's URL carries its key (…/webhook/send?key=…).")})
    for address in literal_or_resolved(host, port or (443 if parts.scheme == "https" else 80), strict=False):
        if not address_allowed(address):
            raise ValidationError({"target": refused_address_message(host, address)})
    return url


def literal_or_resolved(host: str, port: int, *, strict: bool) -> list[str]:
    """The addresses of host: itself when it is one; else what DNS answers (nothing when the
    name does not resolve and not strict: a name may resolve later, and sending checks again)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return ["127.0.0.1"]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        if strict:
            raise DeliveryError(_("%(host)s does not resolve: %(error)s") % {"host": host, "error": exc}) from None
        return []
    return sorted({info[4][0] for info in infos})


def target_hint(kind: str, target: str) -> str:
    """What pages show of a target: email addresses as they are; of a URL only scheme, host
    and the start of the path (the rest is often the credential)."""
    if kind == ChannelKind.EMAIL:
        return target[:300]
    parts = urllib.parse.urlsplit(target)
    path = parts.path[:12] + ("…" if len(parts.path) > 12 or parts.query else "")
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}{path}"[:300]


# --- one message ----------------------------------------------------------------------


@dataclass
class Item:
    title: str
    body: str
    level: str
    link: str
    resolved: bool
    key: str
    created_at: str


def subject_of(items: list[Item]) -> str:
    if len(items) == 1:
        prefix = _("[Resolved]") if items[0].resolved else f"[{level_label(items[0].level)}]"
        return f"{prefix} {items[0].title}"
    return _("%(count)s notifications: %(first)s, …") % {"count": len(items), "first": items[0].title}


def level_label(level: str) -> str:
    from console.choices import NotificationLevel

    try:
        return str(NotificationLevel(level).label)
    except ValueError:
        return level


def absolute(link: str) -> str:
    base = getattr(settings, "CONSOLE_BASE_URL", "")
    return base.rstrip("/") + link if link.startswith("/") and base else link


def markdown_lines(items: list[Item]) -> list[str]:
    lines = []
    for item in items:
        state = _("Resolved") if item.resolved else level_label(item.level)
        title = (
            f"[{item.title}]({absolute(item.link)})"
            if item.link and absolute(item.link).startswith("http")
            else item.title
        )
        lines.append(f"**{state}**: {title}")
        if item.body:
            lines.append(f"> {item.body}")
        lines.append("")
    return lines


def payload_for(kind: str, items: list[Item]) -> dict:
    """The JSON each kind of webhook expects (DingTalk and WeCom group robots: markdown
    messages; Slack incoming webhooks: text with mrkdwn; ours: every field)."""
    subject = subject_of(items)
    if kind == ChannelKind.DINGTALK:
        return {
            "msgtype": "markdown",
            "markdown": {"title": subject[:100], "text": "\n".join([f"### {subject}", ""] + markdown_lines(items))},
        }
    if kind == ChannelKind.WECOM:
        content = "\n".join([f"### {subject}"] + markdown_lines(items))
        while len(content.encode()) > MAX_WECOM_BYTES:
            content = content[: len(content) - 200] + "…"
        return {"msgtype": "markdown", "markdown": {"content": content}}
    if kind == ChannelKind.SLACK:
        lines = []
        for item in items:
            state = _("Resolved") if item.resolved else level_label(item.level)
            link = absolute(item.link)
            title = f"<{link}|{item.title}>" if link.startswith("http") else item.title
            lines.append(f"*{state}*: {title}" + (f"\n{item.body}" if item.body else ""))
        return {
            "text": subject,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "\n\n".join(lines)[:3000]}}],
        }
    return {
        "title": subject,
        "status": "resolved" if all(item.resolved for item in items) else "firing",
        "count": len(items),
        "notifications": [
            {
                "title": item.title,
                "body": item.body,
                "level": item.level,
                "link": absolute(item.link),
                "status": "resolved" if item.resolved else "firing",
                "key": item.key,
                "created_at": item.created_at,
            }
            for item in items
        ],
    }


def signed_dingtalk_url(url: str, secret: str) -> str:
    """DingTalk's "加签": timestamp (ms) and the base64 HMAC-SHA256 of "timestamp\\nsecret" keyed by the secret."""
    timestamp = str(round(time.time() * 1000))
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest))
    return f"{url}&timestamp={timestamp}&sign={sign}"


# --- sending --------------------------------------------------------------------------


def send(kind: str, target: str, secret: str, items: list[Item]) -> None:
    if kind == ChannelKind.EMAIL:
        send_email(clean_addresses(target), items)
    else:
        url = signed_dingtalk_url(target, secret) if kind == ChannelKind.DINGTALK and secret else target
        send_webhook(kind, url, payload_for(kind, items))


def send_email(addresses: list[str], items: list[Item]) -> None:
    body = "\n\n".join(
        "\n".join(
            part
            for part in (
                ("[" + _("Resolved") + "] " if item.resolved else f"[{level_label(item.level)}] ") + item.title,
                item.body,
                absolute(item.link),
            )
            if part
        )
        for item in items
    )
    connection = get_connection("django.core.mail.backends.smtp.EmailBackend", fail_silently=False)
    try:
        EmailMessage(
            subject_of(items)[:200], body, settings.DEFAULT_FROM_EMAIL, addresses, connection=connection
        ).send()
    except (OSError, Exception) as exc:  # smtplib's errors, refused connections, timeouts
        raise DeliveryError(
            _("SMTP %(host)s:%(port)s: %(error)s")
            % {"host": settings.EMAIL_HOST, "port": settings.EMAIL_PORT, "error": exc or type(exc).__name__}
        ) from None


def send_webhook(kind: str, url: str, payload: dict) -> None:
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = literal_or_resolved(host, port, strict=True)
    for address in addresses:
        if not address_allowed(address):
            raise DeliveryError(refused_address_message(host, address))
    if not addresses:
        raise DeliveryError(_("%(host)s does not resolve.") % {"host": host})
    address = addresses[0]
    timeout = urllib3.Timeout(total=settings.NOTIFICATION_WEBHOOK_TIMEOUT_SECONDS)
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address,
            port,
            timeout=timeout,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            server_hostname=host,
            assert_hostname=host,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {
        "Host": parts.netloc.rsplit("@", 1)[-1],
        "Content-Type": "application/json",
        "User-Agent": "caas-console",
    }
    if parts.username:
        headers.update(
            urllib3.make_headers(
                basic_auth=f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
            )
        )
    try:
        response = pool.urlopen("POST", path, body=json.dumps(payload).encode(), headers=headers, redirect=False)
    except urllib3.exceptions.HTTPError as exc:
        raise DeliveryError(_("%(host)s: %(error)s") % {"host": host, "error": _short(exc)}) from None
    finally:
        pool.close()
    text = response.data[:500].decode("utf-8", "replace")
    if not 200 <= response.status < 300:
        raise DeliveryError(
            _("%(host)s answered %(status)s: %(text)s") % {"host": host, "status": response.status, "text": text}
        )
    if kind in (ChannelKind.DINGTALK, ChannelKind.WECOM):
        # Both answer 200 with {"errcode": 0, "errmsg": "ok"}; anything else is a refusal.
        try:
            answer = json.loads(text)
        except ValueError:
            answer = {}
        if not isinstance(answer, dict) or answer.get("errcode") != 0:
            raise DeliveryError(_("%(host)s refused the message: %(text)s") % {"host": host, "text": text})


def _short(exc: Exception) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason or exc)[:300]
