"""Real receivers on loopback for the notification channels: an SMTP server (aiosmtpd) and
an HTTP server that records what webhooks post and answers what a test tells it to."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from ..conftest import english_fixture

english = english_fixture(autouse=True)


class Mailbox:
    def __init__(self):
        self.messages = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's handler name)
        from email import message_from_bytes, policy

        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append(
            {"to": envelope.rcpt_tos, "subject": str(message["subject"]), "body": message.get_content(), "raw": message}
        )
        self.arrived.set()
        return "250 OK"


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on a free loopback port; the console's EMAIL_HOST/PORT point at it."""
    from aiosmtpd.controller import Controller

    from ..live import free_port

    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    try:
        yield mailbox
    finally:
        controller.stop()


class Receiver:
    """Records each POST: path, query, headers, JSON body. `answers[path]` = (status, body)."""

    def __init__(self):
        self.requests = []
        self.answers = {}
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                parts = urlsplit(self.path)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw
                receiver.requests.append(
                    {"path": parts.path, "query": parse_qs(parts.query), "headers": dict(self.headers), "json": body}
                )
                status, text = receiver.answers.get(parts.path, (200, "ok"))
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                receiver.arrived.set()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def posts(self, path):
        return [r for r in self.requests if r["path"] == path]


@pytest.fixture
def receiver(settings):
    """A webhook receiver on loopback, which the operator has allowed (the tests' one exception
    to "webhooks go to public addresses only")."""
    settings.NOTIFICATION_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    rx = Receiver()
    rx.thread.start()
    try:
        yield rx
    finally:
        rx.server.shutdown()
        rx.server.server_close()
