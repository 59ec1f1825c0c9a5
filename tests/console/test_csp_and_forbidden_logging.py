"""Content-Security-Policy on every response (and templates it does not break), and a 403
logged as one line rather than a traceback."""

import logging
import re
from pathlib import Path

import pytest
from django.urls import reverse

from ..factories import mk_user

ROOT = Path(__file__).resolve().parents[2]


def directives(response):
    policy = response["Content-Security-Policy"]
    return {name: rest for name, _, rest in (part.strip().partition(" ") for part in policy.split(";"))}


@pytest.mark.django_db
def test_every_response_has_a_content_security_policy(client):
    pages = [client.get(reverse("console:login")), client.get("/no-such-page/")]
    client.force_login(mk_user("aud", "auditor"))
    pages += [client.get(reverse("console:dashboard")), client.get(reverse("tenants:tenant_add"))]
    assert [page.status_code for page in pages] == [200, 404, 200, 403]
    for page in pages:
        policy = directives(page)
        assert policy["default-src"] == "'self'"
        assert policy["script-src"] == "'self'"  # no inline scripts, no eval
        assert policy["connect-src"] == "'self' ws://testserver"
        assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"


@pytest.mark.django_db
def test_the_websocket_origin_follows_https(client):
    response = client.get(reverse("console:login"), secure=True)
    assert directives(response)["connect-src"] == "'self' wss://testserver"


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"<[^>]*\s(on[a-z]+|hx-on[:\w-]*)\s*=", re.I)


def test_templates_have_no_inline_scripts_or_handlers():
    """The policy does not run them: they would silently stop working."""
    offenders = []
    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        offenders += [
            f"{template.relative_to(ROOT)}: {m.group(0)[:60]}"
            for m in (*INLINE_SCRIPT.finditer(text), *INLINE_HANDLER.finditer(text))
        ]
    assert offenders == []


@pytest.mark.django_db
def test_a_refused_request_logs_one_line_not_a_traceback(client, caplog):
    client.force_login(mk_user("aud", "auditor"))
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client.get(reverse("tenants:tenant_add")).status_code == 403
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    assert record.exc_info is None and "Traceback" not in caplog.text
    assert (
        record.getMessage()
        == f"Forbidden (Permission denied): {reverse('tenants:tenant_add')} (user aud: Only operators manage tenants.)"
    )
