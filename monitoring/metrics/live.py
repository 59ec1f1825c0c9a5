"""Live charts: after each scrape a small "tick" fragment goes to the scope's group, and the
open charts of that scope fetch their new points (GET, authorised like the page).

Groups: metrics-<cluster id> (cluster and node charts: operators and auditors) and
metrics-<cluster id>.<namespace> (namespace, app, pod and volume charts: also the members of
the tenant owning the namespace)."""

from django.template.loader import render_to_string

from console.accounts import roles
from console.live import realtime


def cluster_group(cluster_id):
    return f"metrics-{cluster_id}"


def namespace_group(cluster_id, namespace):
    return f"metrics-{cluster_id}.{namespace}"


def parse_ident(ident):
    """(cluster id, namespace or None) from "3" or "3.shop"; None when malformed."""
    head, dot, namespace = ident.partition(".")
    if not head.isdigit() or (dot and not namespace):
        return None
    return int(head), (namespace if dot else None)


def may_follow(user, ident):
    parsed = parse_ident(ident)
    if parsed is None:
        return False
    cluster_id, namespace = parsed
    if namespace is None:
        return roles.is_operator(user) or roles.is_auditor(user)
    return roles.may_see_namespace(user, cluster_id, namespace)


def tick(scrape):
    """Tell the open charts of every scope this scrape touched that points were added."""
    html = render_to_string("metrics/_tick.html", {"ts": scrape.ts})
    realtime.send_now(cluster_group(scrape.cluster_id), html)
    for namespace in sorted(scrape.namespaces):
        realtime.send_now(namespace_group(scrape.cluster_id, namespace), html)
