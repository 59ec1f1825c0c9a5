import importlib.util
from pathlib import Path

import pytest
from django.urls import reverse

from ..conftest import english_fixture
from ..factories import mk_cluster, mk_project, mk_tenant

english = english_fixture(autouse=True)

_spec = importlib.util.spec_from_file_location(
    "logs_loadgen", Path(__file__).resolve().parents[2] / "bench" / "logs_loadgen.py"
)
loadgen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(loadgen)


def quick_user(username, role=""):
    """A user without a password (hashing one costs a second on this machine): tests sign in with force_login."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(username=username, password=None, platform_role=role)


@pytest.fixture(scope="session")
def clickhouse():
    """A throwaway Debian clickhouse-server (18.16) on loopback: its HTTP URL."""
    from ..clickhouse import throwaway_clickhouse

    with throwaway_clickhouse() as url:
        yield url


@pytest.fixture
def world(db):
    """acme (namespace acme-web; an admin and a member) and globex (globex-shop; a member) on one
    cluster, an operator, an auditor, and the cluster's ingest token."""
    from monitoring.logs import services
    from tenants.models import Membership

    cluster = mk_cluster()
    acme, globex = mk_tenant("acme", clusters=[cluster]), mk_tenant("globex", clusters=[cluster])
    users = {}
    for tenant, username, role in ((acme, "acme-dev", "tenant-member"), (globex, "globex-dev", "tenant-admin")):
        users[username] = quick_user(username)
        Membership.objects.create(tenant=tenant, user=users[username], role=role)
    project = mk_project(acme, cluster, "web")
    mk_project(globex, cluster, "shop")
    operator = quick_user("op", "operator")
    token = services.rotate_token(cluster, acting_user=operator)
    services._tenants_cache.clear()
    return {
        "cluster": cluster,
        "acme": acme,
        "globex": globex,
        "project": project,
        "users": users,
        "operator": operator,
        "auditor": quick_user("aud", "auditor"),
        "stranger": quick_user("nobody"),
        "token": token,
    }


def send(client, token, records, fmt="json", *, compress=False, **extra):
    body, headers = loadgen.encode(records, fmt, compress=compress)
    return post_raw(client, token, body, headers, **extra)


def post_raw(client, token, body, headers, **extra):
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k != "Content-Type"}
    if token is not None:
        meta["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client.post(reverse("logs:ingest"), data=body, content_type=headers.get("Content-Type", ""), **meta, **extra)


def lines(**filters):
    from django.db import connection

    where = " AND ".join(f"{key} = %s" for key in filters) or "true"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT namespace, pod, container, app, tenant_id, source, level, message FROM logs_line WHERE {where} "
            "ORDER BY ts, id",
            list(filters.values()),
        )
        columns = [c[0] for c in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


@pytest.fixture
def empty_store():
    """Transactional tests: the line table is no Django model, so their flush leaves it alone."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE logs_line")
    yield
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE logs_line")
