"""A kubeconfig is data, never instructions: the console runs no program, reads no file,
uses no proxy and dials no forbidden address because a pasted document says so; a
stalled cluster costs a page a few seconds, not a minute."""

import base64
import http.server
import socket
import ssl
import threading
import time
import uuid

import pytest
import yaml
from django.test import override_settings
from django.urls import reverse

from console import crypto
from console.clusters.clusters import refresh_cluster
from console.clusters.models import Cluster
from console.clusters.watcher import KindWatcher
from console.kube.api import ClusterAPI
from console.kube.errors import ClusterError
from console.kube.kinds import KINDS
from console.oplog.models import OperationLogEntry

from ..live import free_port
from .test_clusters import self_signed

pytestmark = pytest.mark.django_db


def kubeconfig(server, user=None, **cluster_fields):
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "main",
            "clusters": [{"name": "c", "cluster": {"server": server, **cluster_fields}}],
            "users": [{"name": "u", "user": user if user is not None else {"token": "t0ken"}}],
            "contexts": [{"name": "main", "context": {"cluster": "c", "user": "u"}}],
        }
    )


def _b64(data):
    return base64.b64encode(data).decode()


class Recorder(http.server.BaseHTTPRequestHandler):
    """Answers 401 to everything and keeps what it was sent."""

    def parse_request(self):
        self.server.requests.append(self.raw_requestline)
        return super().parse_request()

    def _answer(self):
        self.server.headers.append(str(self.headers))
        self.send_response(401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_CONNECT = _answer

    def log_message(self, *args):
        pass


def serve(tmp_path, tls):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.requests, server.headers = [], []
    if tls:
        cert, key = self_signed("127.0.0.1")
        (tmp_path / "cert.pem").write_bytes(cert)
        (tmp_path / "key.pem").write_bytes(key)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
        server.socket = context.wrap_socket(server.socket, server_side=True)
        server.ca_pem = cert
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.url = f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"
    return server


@pytest.fixture
def listener(tmp_path):
    """An HTTPS API server look-alike that records every request."""
    server = serve(tmp_path, tls=True)
    yield server
    server.shutdown()


@pytest.fixture
def plain_listener(tmp_path):
    server = serve(tmp_path, tls=False)
    yield server
    server.shutdown()


def add(client, text, name="prod-1"):
    return client.post(
        reverse("console:cluster_add"),
        {"name": name, "region": "", "description": "", "context": "", "kubeconfig": text},
    )


def stored(text, name="stored"):
    """A cluster whose kubeconfig went into the database before the checks existed."""
    return Cluster.objects.create(
        name=name, server="https://127.0.0.1:1", context="main", kubeconfig_encrypted=crypto.encrypt(text)
    )


def program_plugins(marker):
    return {
        "exec": (
            {
                "exec": {
                    "apiVersion": "client.authentication.k8s.io/v1beta1",
                    "command": "sh",
                    "args": ["-c", f"touch {marker}"],
                }
            },
            "users[0].user.exec runs a program on the console server; paste a token",
        ),
        "gcp": (
            {"auth-provider": {"name": "gcp", "config": {"cmd-path": "touch", "cmd-args": str(marker)}}},
            "users[0].user.auth-provider runs a program or calls an identity provider",
        ),
    }


@pytest.mark.parametrize("plugin", ["exec", "gcp"])
def test_credential_plugins_are_refused_and_never_run(client, operator, listener, tmp_path, plugin):
    marker = tmp_path / f"marker-{uuid.uuid4()}"
    user, expected = program_plugins(marker)[plugin]
    text = kubeconfig(listener.url, user=user, **{"certificate-authority-data": _b64(listener.ca_pem)})
    client.force_login(operator)

    response = add(client, text)
    assert response.status_code == 400 and expected in response.content.decode()
    assert not Cluster.objects.exists()
    assert expected in OperationLogEntry.objects.get(action="cluster.register").error

    # A kubeconfig stored earlier is refused wherever a client is made: refresh, actions, watcher.
    cluster = stored(text)
    refresh_cluster(cluster)
    cluster.refresh_from_db()
    assert cluster.status == "unreachable" and expected in cluster.status_message
    with pytest.raises(ClusterError, match="runs a program"):
        ClusterAPI(cluster)
    with pytest.raises(ClusterError, match="runs a program"):
        KindWatcher(cluster, KINDS["Pod"], threading.Event(), writer=None).sync_once()

    assert not marker.exists()
    assert listener.requests == []


@pytest.mark.parametrize(
    "section,field,instead",
    [
        ("user", "tokenFile", "paste the token itself as token instead"),
        ("user", "client-certificate", "paste the certificate as client-certificate-data (base64) instead"),
        ("user", "client-key", "paste the key as client-key-data (base64) instead"),
        ("cluster", "certificate-authority", "paste the CA certificate as certificate-authority-data (base64) instead"),
        ("cluster", "proxy-url", "the console connects to the API server directly"),
        ("user", "as", "impersonation"),
        ("user", "as-groups", "impersonation"),
        ("cluster", "extensions", "a cluster may only have server, certificate-authority-data"),
    ],
)
def test_file_paths_proxies_and_unknown_fields_are_refused(
    client, operator, listener, tmp_path, section, field, instead
):
    secret = f"secret-{uuid.uuid4()}"
    secret_file = tmp_path / "secret"
    secret_file.write_text(secret)
    value = {
        "proxy-url": listener.url,
        "as": "admin",
        "as-groups": ["system:masters"],
        "extensions": [{"name": "x", "extension": {}}],
    }.get(field, str(secret_file))
    user = {"token": "t0ken"} if field != "tokenFile" else {}
    cluster = {"certificate-authority-data": _b64(listener.ca_pem)}
    (user if section == "user" else cluster)[field] = value
    client.force_login(operator)

    response = add(client, kubeconfig(listener.url, user=user, **cluster))
    body = response.content.decode()
    assert response.status_code == 400, body[-2000:]
    assert f"{section}s[0].{section}.{field}" in body and instead in body
    assert listener.requests == [] and secret not in str(listener.headers)
    assert not Cluster.objects.exists()


def test_a_refused_field_in_another_entry_refuses_the_whole_document(client, operator, listener, tmp_path):
    text = yaml.safe_load(kubeconfig(listener.url, **{"certificate-authority-data": _b64(listener.ca_pem)}))
    text["users"].append({"name": "other", "user": {"tokenFile": "/etc/hostname"}})
    client.force_login(operator)
    response = add(client, yaml.safe_dump(text))
    assert response.status_code == 400 and "users[1].user.tokenFile names a file" in response.content.decode()
    assert listener.requests == []


def test_the_console_secret_key_file_is_never_sent(client, operator, listener, settings):
    """The reported attack: tokenFile naming the console's own secret_key."""
    key_file = settings.STATE_DIR / "secret_key"
    user = {"tokenFile": str(key_file)}
    client.force_login(operator)
    response = add(client, kubeconfig(listener.url, user=user, **{"certificate-authority-data": _b64(listener.ca_pem)}))
    assert response.status_code == 400 and "tokenFile" in response.content.decode()
    assert listener.requests == [] and listener.headers == []


def test_plain_http_servers_are_refused(client, operator, plain_listener):
    client.force_login(operator)
    response = add(client, kubeconfig(plain_listener.url))
    assert response.status_code == 400 and "over https:// only" in response.content.decode()
    assert plain_listener.requests == []


@override_settings(CLUSTER_API_ALLOWED_NETWORKS=["10.0.0.0/8", "fd00::/8"])
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_servers_outside_the_allowed_networks_are_refused(client, operator, listener, host):
    client.force_login(operator)
    server = listener.url.replace("127.0.0.1", host)
    response = add(client, kubeconfig(server, **{"certificate-authority-data": _b64(listener.ca_pem)}))
    body = response.content.decode()
    assert (
        response.status_code == 400
        and "outside the networks the operator allows (CLUSTER_API_ALLOWED_NETWORKS)" in body
    )
    assert listener.requests == []


def test_the_allowed_networks_are_checked_at_connection_time_for_stored_clusters(cluster, sandbox):
    refresh_cluster(cluster)
    assert cluster.status == "ready"
    with override_settings(CLUSTER_API_ALLOWED_NETWORKS=["10.0.0.0/8"]):
        refresh_cluster(cluster)
        assert cluster.status == "unreachable" and "CLUSTER_API_ALLOWED_NETWORKS" in cluster.status_message
        with pytest.raises(ClusterError, match="outside the networks"), ClusterAPI(cluster) as api:
            api.list("Namespace")
    with override_settings(CLUSTER_API_ALLOWED_NETWORKS=["127.0.0.0/8"]):
        refresh_cluster(cluster)
        assert cluster.status == "ready"


@override_settings(CLUSTER_API_ALLOWED_NETWORKS=["0.0.0.0/0", "::/0"])
@pytest.mark.parametrize(
    "server", ["https://169.254.169.254", "https://[::ffff:169.254.169.254]:443", "https://[fd00:ec2::254]"]
)
def test_link_local_and_metadata_addresses_are_always_refused(client, operator, server):
    client.force_login(operator)
    started = time.monotonic()
    response = add(client, kubeconfig(server))
    assert response.status_code == 400 and "link-local or cloud metadata address" in response.content.decode()
    assert time.monotonic() - started < 2  # refused before any connection attempt


def test_closed_and_filtered_ports_get_the_same_message(client, operator):
    # A listener with a full accept queue: connections to it time out, like a filtered port.
    filtered = socket.socket()
    filtered.bind(("127.0.0.1", 0))
    filtered.listen(0)
    held = socket.create_connection(filtered.getsockname())
    client.force_login(operator)
    try:
        for name, port in (("closed", free_port()), ("filtered", filtered.getsockname()[1])):
            response = add(client, kubeconfig(f"https://127.0.0.1:{port}"), name=name)
            assert response.status_code == 400 and "The API server could not be reached." in response.content.decode()
    finally:
        held.close()
        filtered.close()
    errors = {entry.error for entry in OperationLogEntry.objects.filter(action="cluster.register")}
    assert errors == {"The API server could not be reached."}


def test_insecure_skip_tls_verify_is_accepted_with_a_visible_warning(client, operator, sandbox):
    text = kubeconfig(sandbox.url, user={"token": sandbox.token}, **{"insecure-skip-tls-verify": True})
    client.force_login(operator)
    response = add(client, text)
    assert response.status_code == 302, response.content.decode()[-2000:]
    page = client.get(response.url).content.decode()
    assert 'data-testid="insecure-tls"' in page and "insecure-skip-tls-verify" in page
    entry = OperationLogEntry.objects.get(action="cluster.register", result="succeeded")
    assert entry.payload["insecure_skip_tls_verify"] is True

    # A verified cluster shows no such warning.
    response = add(client, sandbox.kubeconfig_text(), name="verified")
    assert response.status_code == 302
    assert 'data-testid="insecure-tls"' not in client.get(response.url).content.decode()
    assert (
        "insecure_skip_tls_verify"
        not in OperationLogEntry.objects.filter(action="cluster.register").latest("id").payload
    )


def test_proxies_from_the_environment_are_not_used(client, operator, sandbox, plain_listener, monkeypatch):
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, plain_listener.url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    client.force_login(operator)
    response = add(client, sandbox.kubeconfig_text())
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert plain_listener.requests == []


def test_a_stalled_cluster_answers_the_page_within_seconds(client, operator, cluster, sandbox):
    refresh_cluster(cluster)
    assert cluster.status == "ready"
    sandbox.set_api_faults(stall_rate=1.0, stall_seconds=20)
    client.force_login(operator)
    try:
        started = time.monotonic()
        response = client.post(reverse("console:cluster_refresh", args=[cluster.name]), follow=True)
        took = time.monotonic() - started
        assert took < 7.5, took  # one read timeout (5 s), not several calls times retries
        assert "The cluster is not answering" in response.content.decode()

        # Later calls fail at once while the circuit is open, instead of waiting again.
        started = time.monotonic()
        with pytest.raises(ClusterError, match="not answering"), ClusterAPI(cluster) as api:
            api.list("Pod")
        assert time.monotonic() - started < 1
    finally:
        sandbox.clear_faults()
