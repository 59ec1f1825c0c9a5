"""List pages must not grow queries with their rows (N+1 guard)."""

import pytest
from django.urls import reverse

from console.choices import OperationResult
from console.clusters import mirror
from console.clusters.models import Cluster
from console.notifications import notifications
from console.oplog import oplog

from .test_mirror import pod

pytestmark = pytest.mark.django_db


def queries_for(client, django_assert_max_num_queries, url, limit, **params):
    with django_assert_max_num_queries(limit):
        response = client.get(url, params)
    assert response.status_code == 200


def test_oplog_page_queries_do_not_grow_with_rows(client, auditor, django_assert_max_num_queries):
    for i in range(60):
        oplog.record(auditor, f"bulk.{i}", result=OperationResult.SUCCEEDED, payload={"i": i})
    client.force_login(auditor)
    queries_for(client, django_assert_max_num_queries, reverse("console:oplog"), 8)


def test_notification_list_queries_do_not_grow_with_rows(client, auditor, django_assert_max_num_queries):
    for i in range(40):
        notifications.notify_user(auditor, f"n{i}")
    client.force_login(auditor)
    queries_for(client, django_assert_max_num_queries, reverse("console:notification_list"), 8)


def test_resource_list_queries_do_not_grow_with_rows(client, operator, django_assert_max_num_queries):
    cluster = Cluster.objects.create(name="c1", server="s", context="x", kubeconfig_encrypted="x")
    mirror.replace_kind(cluster.pk, "Pod", [pod(f"p{i}", i, owner="rs") for i in range(60)], "100")
    client.force_login(operator)
    queries_for(client, django_assert_max_num_queries, reverse("console:resource_list", args=["c1", "Pod"]), 8)
