"""Live alert pages: group alerts-all (operators and auditors: every alert) and
alerts-<tenant id> (the tenant's members). An evaluation that changed something sends a
tick to the groups concerned; the open pages re-read their table (the same partial)."""

import time

from django.db import transaction

from console.accounts import roles
from console.clusters.mirror import tick_id
from console.live import realtime
from tenants import access

ALL = "alerts-all"


def group_for_tenant(tenant_id):
    return f"alerts-{tenant_id}"


def may_follow(user, ident):
    if ident == "all":
        return access.may_see_all(user)
    return ident.isdigit() and int(ident) in {m.tenant_id for m in roles.memberships(user)}


def groups_of(user):
    if access.may_see_all(user):
        return [ALL]
    return [group_for_tenant(m.tenant_id) for m in roles.memberships(user)]


def tick(tenant_ids):
    """After commit: every page following these tenants' alerts (and the operators') re-reads."""
    groups = [ALL, *(group_for_tenant(t) for t in sorted({t for t in tenant_ids if t}))]
    stamp = f"{time.time():.3f}"

    def send():
        for group in groups:
            realtime.send_now(
                group, f'<span id="{tick_id(group)}" class="mirror-tick" hx-swap-oob="true" data-tick="{stamp}"></span>'
            )

    transaction.on_commit(send)
